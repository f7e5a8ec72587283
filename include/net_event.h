/* SPDX-License-Identifier: MIT */
/*
 * Events shared by bpf/tls.bpf.c, bpf/sock.bpf.c, bpf/proc.bpf.c and the agent.
 *
 * Only fixed-width __u* types, the variable-length payload last: the same bytes
 * are read by the BPF programs (compiled against vmlinux.h) and by user space
 * (compiled against linux/types.h).
 */
#ifndef INFERTRACE_NET_EVENT_H
#define INFERTRACE_NET_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define IT_COMM_LEN 16

/* One ring-buffer record carries at most this many payload bytes. A bigger
 * capture is split into several records (chunks) that share call_id. 16 KiB
 * keeps the per-CPU scratch value under the 32 KiB per-CPU allocation limit. */
#define IT_CHUNK_BYTES 16384
#define IT_CAPTURE_MAX 65536
#define IT_CAPTURE_DEFAULT 16384
#define IT_MAX_CHUNKS (IT_CAPTURE_MAX / IT_CHUNK_BYTES)

/* How many iovec entries readv/writev/sendmsg/recvmsg capture walks. */
#define IT_MAX_IOV 8

enum it_event_kind {
	IT_EV_DATA = 1,    /* plaintext bytes of one TLS call or one socket syscall */
	IT_EV_SOCK_CLOSE,  /* a traced TCP socket reached TCP_CLOSE */
	IT_EV_EXEC,        /* a process called execve(): look for libraries to probe */
	IT_EV_EXIT,        /* a thread group ended: flush its last partial interval */
	IT_EV_MMAP_EXEC,   /* a process maps a file executable (dlopen): look again */
};

enum it_source {
	IT_SRC_SOCKET = 0, /* plain TCP: read/write/sendmsg... syscalls */
	IT_SRC_OPENSSL = 1,
	IT_SRC_GNUTLS = 2,
	IT_SRC_MAX,
};

enum it_dir {
	IT_DIR_SEND = 0,  /* bytes this process wrote */
	IT_DIR_RECV = 1,  /* bytes this process read */
};

enum it_role {
	IT_ROLE_UNKNOWN = 0,
	IT_ROLE_CLIENT = 1, /* the socket was opened with connect() */
	IT_ROLE_SERVER = 2, /* the socket came from accept() */
};

/* How the socket of a TLS object was found (see bpf/tls.bpf.c). */
enum it_sock_bind {
	IT_BIND_NONE = 0,
	IT_BIND_INSIDE = 1,    /* a socket syscall ran inside the TLS call */
	IT_BIND_ADJACENT = 2,  /* the same thread used the socket just before/after
				* (memory-BIO users such as node) */
};

/* Per-CPU counters, indexed by enum it_stat. */
enum it_stat {
	IT_STAT_EVENTS = 0,    /* records written to the ring buffer */
	IT_STAT_LOST,          /* records the ring buffer had no room for */
	IT_STAT_READ_FAULT,    /* user memory that could not be read (paged out) */
	IT_STAT_NESTED,        /* TLS calls made inside another TLS call */
	IT_STAT_NEST_OVERFLOW, /* calls nested deeper than the stack: not reported */
	IT_STAT_MAX,
};

/* The socket a payload went through, read from struct sock in the kernel. */
struct it_sock {
	__u64 sk;          /* struct sock pointer: identity of the TCP connection */
	__u16 family;      /* AF_INET or AF_INET6 */
	__u16 lport;       /* host byte order */
	__u16 rport;       /* host byte order */
	__u8 role;         /* enum it_role */
	__u8 bind;         /* enum it_sock_bind (TLS only) */
	__u8 laddr[16];    /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

struct it_data_event {
	__u32 kind;        /* IT_EV_DATA */
	__u32 pid;         /* thread group id */
	__u32 tid;
	__u32 fd;          /* -1 when unknown */
	__u64 ts_ns;       /* CLOCK_MONOTONIC at the end of the call */
	__u64 start_ns;    /* CLOCK_MONOTONIC at the start of the call */
	__u64 cgroup_id;
	__u64 conn_id;     /* SSL* / gnutls_session_t, or struct sock * for plain TCP */
	__u64 total;       /* bytes the call moved (its return value) */
	__u32 chunk_off;   /* offset of this chunk in the captured payload */
	__u32 len;         /* payload bytes in this record */
	__u8 source;       /* enum it_source */
	__u8 dir;          /* enum it_dir */
	__u8 first;        /* 1 on the first record of a call: it carries the
			    * call's total for accounting */
	__u8 pad[5];
	char comm[IT_COMM_LEN];
	struct it_sock sock;
	__u8 data[];       /* len bytes */
};

struct it_close_event {
	__u32 kind;        /* IT_EV_SOCK_CLOSE */
	__u32 pad;
	__u64 ts_ns;
	__u64 sk;
};

struct it_proc_event {
	__u32 kind;        /* IT_EV_EXEC, IT_EV_EXIT or IT_EV_MMAP_EXEC */
	__u32 pid;
	__u32 ppid;
	__u32 pad;
	__u64 ts_ns;
	__u64 cgroup_id;
	char comm[IT_COMM_LEN];
};

#endif

/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Maps and helpers shared by every infertrace BPF object.
 *
 * Each object declares the same maps by including this file; the agent loads
 * tls.bpf.o first and hands its map fds to the other objects before they load
 * (bpf_map__reuse_fd), so all programs write to one ring buffer and share the
 * TLS-object-to-socket state.
 */
#ifndef INFERTRACE_COMMON_BPF_H
#define INFERTRACE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "net_event.h"

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define SOCK_STREAM 1
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7

/* A socket used just before/after a memory-BIO TLS call belongs to it only if
 * the two are this close in time on one thread. */
#define ADJACENT_WINDOW_NS (20ULL * 1000 * 1000)

/* Set by the agent before load. */
const volatile __u32 capture_bytes = IT_CAPTURE_DEFAULT;
/* Wake the reader only once this much is queued (a quarter of the ring);
 * the agent polls every few milliseconds anyway. */
const volatile __u64 wakeup_bytes = 2 << 20;
const volatile bool filter_enabled = false; /* --pid / --comm given */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the agent */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* --pid values (thread group ids) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} filter_pids SEC(".maps");

/* --comm values, NUL-padded to IT_COMM_LEN */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[IT_COMM_LEN]);
	__type(value, __u8);
} filter_comms SEC(".maps");

/* Role of a TCP socket, learnt when it became ESTABLISHED. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock * */
	__type(value, __u8);
} sock_role SEC(".maps");

/* TCP sockets infertrace reported data for: a close event is sent for these.
 * Value: enum it_source (sockets carrying TLS are not captured as plain). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} traced_socks SEC(".maps");

/* A TLS call in progress on a thread (entry seen, return not yet). */
struct tls_call {
	__u64 conn;
	__u64 buf;
	__u64 size_ptr; /* size_t *written / *readbytes of the _ex calls, else 0 */
	__u64 start_ns;
	__u8 source;
	__u8 dir;
	__u8 have_sock;
	__u8 inner_reported; /* a call nested in this one reported the same bytes */
	__u32 pad;
	struct it_sock sock;
};

/*
 * TLS calls nest: node calls SSL_write from a callback inside SSL_read (the
 * handshake completes there and the request goes out). Each thread keeps a
 * small stack; every call is reported at its own return.
 */
#define TLS_STACK_DEPTH 4 /* a power of two */

struct tls_stack {
	__u32 n;
	__u32 pad;
	struct tls_call frames[TLS_STACK_DEPTH];
};

/* LRU: threads that exit without our exit hook seeing them must not fill it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct tls_stack);
} tls_calls SEC(".maps");

/* The innermost TLS call in progress on this thread, or NULL. */
static __always_inline struct tls_call *tls_top(struct tls_stack *st)
{
	__u32 i;

	if (!st || st->n == 0)
		return NULL;
	i = st->n - 1;
	if (i >= TLS_STACK_DEPTH)
		return NULL;
	return &st->frames[i & (TLS_STACK_DEPTH - 1)];
}

/* Processes that made TLS calls: their socket syscalls are watched to find
 * the socket of TLS objects that do no I/O themselves (memory BIOs). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} tls_procs SEC(".maps");

struct tls_conn_key {
	__u64 conn;
	__u32 pid;
	__u32 pad;
};

/* TLS object -> the socket it talks through */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_conn_key);
	__type(value, struct it_sock);
} tls_conn_sock SEC(".maps");

/* Last socket a TLS-using thread read from (outside TLS calls). */
struct thread_sock {
	__u64 ts_ns;
	struct it_sock sock;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct thread_sock);
} thread_last_recv SEC(".maps");

/* A TLS write whose socket is not known yet: the thread's next socket write
 * (memory BIO flushed to the socket) tells it. */
struct thread_pending {
	__u64 ts_ns;
	__u64 conn;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct thread_pending);
} thread_pending_send SEC(".maps");

/* Scratch space for one ring-buffer record (too big for the BPF stack):
 * the header's flexible data[] runs into buf. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
struct data_scratch {
	struct it_data_event ev;
	__u8 buf[IT_CHUNK_BYTES];
};
#pragma clang diagnostic pop

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch);
} scratch SEC(".maps");

/*
 * Wake-up policy for data records. A wake-up per record (libbpf's default
 * when the reader keeps up) costs an IPI, and in a VM an exit to the
 * hypervisor: it was most of the ~30 us a traced TLS call cost. The agent
 * polls on a short timer instead; a filling ring still wakes it at once.
 */
static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									    : BPF_RB_NO_WAKEUP;
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

/* Does --pid/--comm select the current process? */
static __always_inline bool process_selected(__u32 tgid)
{
	char comm[IT_COMM_LEN] = {};

	if (!filter_enabled)
		return true;
	if (bpf_map_lookup_elem(&filter_pids, &tgid))
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	return bpf_map_lookup_elem(&filter_comms, comm) != NULL;
}

/*
 * Resolve a file descriptor of the current task to its TCP socket.
 * Returns 0 and fills *out for an IPv4/IPv6 stream socket, -1 otherwise.
 */
static __always_inline int sock_from_fd(int fd, struct it_sock *out)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;
	struct socket *so;
	struct sock *sk;
	unsigned int max_fds;
	umode_t mode;
	__u16 family, type;
	__u8 *role;
	__u64 skp;

	if (fd < 0)
		return -1;
	fdt = BPF_CORE_READ(task, files, fdt);
	max_fds = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max_fds)
		return -1;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return -1;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return -1;
	so = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return -1;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	type = BPF_CORE_READ(sk, sk_type);
	if ((family != AF_INET && family != AF_INET6) || type != SOCK_STREAM)
		return -1;

	__builtin_memset(out, 0, sizeof(*out));
	skp = (__u64)sk;
	out->sk = skp;
	out->family = family;
	out->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		bpf_core_read(out->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(out->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(out->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(out->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	role = bpf_map_lookup_elem(&sock_role, &skp);
	out->role = role ? *role : IT_ROLE_UNKNOWN;
	return 0;
}

/* Send the record in s with len payload bytes at payload offset off, and
 * count it; the first record that goes out clears s->ev.first. */
static __always_inline void emit_record(struct data_scratch *s, __u32 off, __u32 len)
{
	s->ev.chunk_off = off;
	s->ev.len = len;
	if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev) + len, rb_flags())) {
		stat_add(IT_STAT_LOST, 1);
	} else {
		stat_add(IT_STAT_EVENTS, 1);
		s->ev.first = 0;
	}
}

/*
 * Copy n bytes at ubuf into ring-buffer records of at most IT_CHUNK_BYTES
 * each, continuing at payload offset *off. The caller fills the header in
 * s->ev and sets s->ev.first; it is cleared once a record went out.
 */
static __always_inline void emit_chunks(struct data_scratch *s, __u64 ubuf, __u64 n, __u32 *off)
{
	__u64 done = 0;

	for (int i = 0; i < IT_MAX_CHUNKS; i++) {
		__u32 len;

		if (done >= n)
			break;
		len = n - done > IT_CHUNK_BYTES ? IT_CHUNK_BYTES : n - done;
		barrier_var(len);
		if (len > IT_CHUNK_BYTES)
			break;
		if (bpf_probe_read_user(s->ev.data, len, (void *)(ubuf + done))) {
			stat_add(IT_STAT_READ_FAULT, 1);
			break;
		}
		emit_record(s, *off, len);
		*off += len;
		done += len;
	}
}

/* A call whose payload was not captured (--capture-bytes 0, unreadable
 * memory, lost chunks) still gets one record so its bytes are counted. */
static __always_inline void emit_header_only(struct data_scratch *s)
{
	if (!s->ev.first)
		return;
	emit_record(s, 0, 0);
}

static __always_inline struct data_scratch *scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void fill_header(struct data_scratch *s, __u64 pid_tgid)
{
	s->ev.kind = IT_EV_DATA;
	s->ev.pid = pid_tgid >> 32;
	s->ev.tid = (__u32)pid_tgid;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
}

#endif

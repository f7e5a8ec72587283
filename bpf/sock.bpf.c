// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Socket syscalls, for two purposes:
 *
 * 1. Plain HTTP: the payload of read/write/readv/writev/sendto/recvfrom/
 *    sendmsg/recvmsg on TCP sockets of interesting processes (plain_procs:
 *    bound or connected to an --http-port, found by the agent's scan, or
 *    selected with --pid/--comm), in the same event format as TLS plaintext.
 * 2. TLS: the socket behind a TLS object (see bpf/tls.bpf.c): a syscall made
 *    inside a TLS call binds it; for memory-BIO users the thread's adjacent
 *    socket I/O does.
 *
 * inet_sock_set_state gives each socket its role (connect() vs accept()) and
 * tells the agent when a traced connection closes.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

enum { PLAIN_NONE = 0, PLAIN_PORTS = 1, PLAIN_ALL = 2 };
enum { ARG_BUF = 0, ARG_IOV = 1, ARG_MSG = 2 };

/* --http-port values */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} http_ports SEC(".maps");

/* Processes whose plain TCP payloads are captured: PLAIN_PORTS (only sockets
 * with an --http-port at either end) or PLAIN_ALL. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} plain_procs SEC(".maps");

struct sock_call {
	__u64 arg;      /* buffer, iovec array or msghdr */
	__u64 count;    /* buffer size or iovec count */
	__u64 start_ns;
	__u32 fd;
	__u8 argkind;
	__u8 dir;
	__u8 pad[2];
	struct it_sock sock;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sock_call);
} sock_calls SEC(".maps");

static __always_inline void pending_send_bind(__u64 pid_tgid, struct it_sock *sk, __u64 now)
{
	struct thread_pending *p = bpf_map_lookup_elem(&thread_pending_send, &pid_tgid);
	struct tls_conn_key key = {};
	__u8 tls = IT_SRC_OPENSSL;

	if (!p)
		return;
	if (now - p->ts_ns < ADJACENT_WINDOW_NS) {
		key.conn = p->conn;
		key.pid = pid_tgid >> 32;
		if (!bpf_map_lookup_elem(&tls_conn_sock, &key)) {
			struct it_sock bound = *sk;

			bound.bind = IT_BIND_ADJACENT;
			bpf_map_update_elem(&tls_conn_sock, &key, &bound, BPF_ANY);
			bpf_map_update_elem(&traced_socks, &sk->sk, &tls, BPF_ANY);
		}
	}
	bpf_map_delete_elem(&thread_pending_send, &pid_tgid);
}

static __always_inline int sock_enter(int fd, __u64 arg, __u64 count, __u8 argkind, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct tls_call *tc;
	struct sock_call call = {};
	__u8 *v, mode = PLAIN_NONE, is_tls;
	__u64 now;

	tc = tls_top(bpf_map_lookup_elem(&tls_calls, &pid_tgid));
	if (tc) {
		/* ciphertext of a TLS call in progress: only learn its socket */
		if (!tc->have_sock && sock_from_fd(fd, &tc->sock) == 0)
			tc->have_sock = 1;
		return 0;
	}
	is_tls = bpf_map_lookup_elem(&tls_procs, &tgid) != NULL;
	v = bpf_map_lookup_elem(&plain_procs, &tgid);
	if (v)
		mode = *v;
	if (filter_enabled) {
		if (!process_selected(tgid))
			return 0;
		mode = PLAIN_ALL;
	}
	if (!is_tls && mode == PLAIN_NONE)
		return 0;
	if (sock_from_fd(fd, &call.sock))
		return 0;

	now = bpf_ktime_get_ns();
	if (is_tls) {
		if (dir == IT_DIR_RECV) {
			struct thread_sock last = { .ts_ns = now, .sock = call.sock };

			bpf_map_update_elem(&thread_last_recv, &pid_tgid, &last, BPF_ANY);
		} else {
			pending_send_bind(pid_tgid, &call.sock, now);
		}
	}
	v = bpf_map_lookup_elem(&traced_socks, &call.sock.sk);
	if (v && *v != IT_SRC_SOCKET)
		return 0; /* TLS ciphertext */
	if (mode == PLAIN_NONE)
		return 0;
	if (mode == PLAIN_PORTS && !bpf_map_lookup_elem(&http_ports, &call.sock.lport) &&
	    !bpf_map_lookup_elem(&http_ports, &call.sock.rport))
		return 0;

	call.arg = arg;
	call.count = count;
	call.start_ns = now;
	call.fd = fd;
	call.argkind = argkind;
	call.dir = dir;
	bpf_map_update_elem(&sock_calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

/*
 * Capture from an iovec array: at most one chunk (IT_CHUNK_BYTES) of each of
 * the first IT_MAX_IOV segments, which covers the headers-plus-body writes
 * of HTTP servers. chunk_off stays the offset in the whole payload, so a
 * consumer sees where a segment was cut short. Nested chunk loops here
 * would exceed the verifier's budget.
 */
static __always_inline void emit_iov(struct data_scratch *s, __u64 iov, __u64 iovcnt, __u64 cap)
{
	__u64 off = 0;

	for (int i = 0; i < IT_MAX_IOV; i++) {
		struct iovec v = {};
		__u32 len;
		__u64 n;

		if (i >= iovcnt || off >= cap)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))))
			break;
		n = v.iov_len;
		if (n > cap - off)
			n = cap - off;
		len = n > IT_CHUNK_BYTES ? IT_CHUNK_BYTES : n;
		barrier_var(len);
		if (len > IT_CHUNK_BYTES)
			break;
		if (len && bpf_probe_read_user(s->ev.data, len, v.iov_base) == 0) {
			emit_record(s, off, len);
		}
		off += n;
	}
}

/* TLS records start with a content type 20..23 and version 3.x: ciphertext
 * of a TLS library we do not probe, or handshake bytes before the first TLS
 * call told us the socket is TLS. Not plain HTTP, whose first byte is a
 * letter (request method or "HTTP/"). */
#define TLS_ON_WIRE 0xff

static __always_inline bool looks_like_tls(__u64 ubuf, long ret)
{
	__u8 h[3] = {};

	if (ret < 3 || bpf_probe_read_user(h, sizeof(h), (void *)ubuf))
		return false;
	return h[0] >= 20 && h[0] <= 23 && h[1] == 3 && h[2] <= 4;
}

static __always_inline int sock_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct data_scratch *s;
	struct sock_call *c;
	__u8 plain = IT_SRC_SOCKET;
	__u32 off = 0;
	__u64 cap;

	c = bpf_map_lookup_elem(&sock_calls, &pid_tgid);
	if (!c)
		return 0;
	if (ret <= 0)
		goto out;
	s = scratch_get();
	if (!s)
		goto out;
	fill_header(s, pid_tgid);
	s->ev.fd = c->fd;
	s->ev.start_ns = c->start_ns;
	s->ev.conn_id = c->sock.sk;
	s->ev.total = ret;
	s->ev.source = IT_SRC_SOCKET;
	s->ev.dir = c->dir;
	s->ev.first = 1;
	s->ev.sock = c->sock;
	cap = (__u64)ret < capture_bytes ? (__u64)ret : capture_bytes;

	if (!bpf_map_lookup_elem(&traced_socks, &c->sock.sk)) {
		/* first payload on this socket: is it TLS? */
		__u64 first = c->arg;

		if (c->argkind != ARG_BUF) {
			struct user_msghdr m = {};
			struct iovec v = {};
			__u64 iov = c->arg;

			if (c->argkind == ARG_MSG) {
				bpf_probe_read_user(&m, sizeof(m), (void *)c->arg);
				iov = (__u64)m.msg_iov;
			}
			bpf_probe_read_user(&v, sizeof(v), (void *)iov);
			first = (__u64)v.iov_base;
		}
		if (looks_like_tls(first, ret)) {
			__u8 tls = TLS_ON_WIRE;

			bpf_map_update_elem(&traced_socks, &c->sock.sk, &tls, BPF_ANY);
			goto out;
		}
	}

	if (c->argkind == ARG_BUF) {
		emit_chunks(s, c->arg, cap, &off);
	} else {
		__u64 iov = c->arg, iovcnt = c->count;

		if (c->argkind == ARG_MSG) {
			struct user_msghdr m = {};

			if (bpf_probe_read_user(&m, sizeof(m), (void *)c->arg) == 0) {
				iov = (__u64)m.msg_iov;
				iovcnt = m.msg_iovlen;
			} else {
				iovcnt = 0;
			}
		}
		emit_iov(s, iov, iovcnt, cap);
	}
	emit_header_only(s);
	bpf_map_update_elem(&traced_socks, &c->sock.sk, &plain, BPF_NOEXIST);
out:
	bpf_map_delete_elem(&sock_calls, &pid_tgid);
	return 0;
}

#define SOCK_SYSCALL(name, argkind, dir)                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                   \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                       \
	{                                                                             \
		return sock_enter((int)ctx->args[0], ctx->args[1], ctx->args[2],     \
				  argkind, dir);                                      \
	}                                                                             \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                    \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                         \
	{                                                                             \
		return sock_exit(ctx->ret);                                           \
	}

SOCK_SYSCALL(read, ARG_BUF, IT_DIR_RECV)
SOCK_SYSCALL(write, ARG_BUF, IT_DIR_SEND)
SOCK_SYSCALL(recvfrom, ARG_BUF, IT_DIR_RECV)
SOCK_SYSCALL(sendto, ARG_BUF, IT_DIR_SEND)
SOCK_SYSCALL(readv, ARG_IOV, IT_DIR_RECV)
SOCK_SYSCALL(writev, ARG_IOV, IT_DIR_SEND)
SOCK_SYSCALL(recvmsg, ARG_MSG, IT_DIR_RECV)
SOCK_SYSCALL(sendmsg, ARG_MSG, IT_DIR_SEND)

/* bind() or connect() to an --http-port makes the process interesting. */
static __always_inline int note_http_port(__u64 uaddr)
{
	struct {
		__u16 family;
		__u16 port; /* network order, same place for IPv4 and IPv6 */
	} sa = {};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 mode = PLAIN_PORTS, *cur;
	__u16 port;

	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr))
		return 0;
	if (sa.family != AF_INET && sa.family != AF_INET6)
		return 0;
	port = bpf_ntohs(sa.port);
	if (!bpf_map_lookup_elem(&http_ports, &port))
		return 0;
	cur = bpf_map_lookup_elem(&plain_procs, &tgid);
	if (!cur)
		bpf_map_update_elem(&plain_procs, &tgid, &mode, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	return note_http_port(ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return note_http_port(ctx->args[1]);
}

SEC("tracepoint/sock/inet_sock_set_state")
int sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct it_close_event *e;
	__u8 role;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->newstate == TCP_ESTABLISHED) {
		if (ctx->oldstate == TCP_SYN_SENT)
			role = IT_ROLE_CLIENT;
		else if (ctx->oldstate == TCP_SYN_RECV)
			role = IT_ROLE_SERVER;
		else
			return 0;
		bpf_map_update_elem(&sock_role, &sk, &role, BPF_ANY);
		return 0;
	}
	if (ctx->newstate != TCP_CLOSE)
		return 0;
	bpf_map_delete_elem(&sock_role, &sk);
	if (!bpf_map_lookup_elem(&traced_socks, &sk))
		return 0;
	bpf_map_delete_elem(&traced_socks, &sk);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_add(IT_STAT_LOST, 1);
		return 0;
	}
	e->kind = IT_EV_SOCK_CLOSE;
	e->pad = 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->sk = sk;
	bpf_ringbuf_submit(e, rb_flags());
	stat_add(IT_STAT_EVENTS, 1);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Plaintext of TLS libraries, from uprobes on their record-layer calls.
 *
 * Three programs serve every library: the attach cookie says which library
 * and direction a probe site is (IT_COOKIE), so OpenSSL's SSL_write and
 * GnuTLS's gnutls_record_send share tls_enter. Entry saves the arguments per
 * thread (a small stack: calls nest); return reads the byte count and
 * copies the plaintext.
 *
 *   int SSL_write(SSL *, const void *, int)             -> bytes or <= 0
 *   int SSL_read(SSL *, void *, int)                    -> bytes or <= 0
 *   int SSL_write_ex(SSL *, const void *, size_t, size_t *written)   -> 1/0
 *   int SSL_read_ex(SSL *, void *, size_t, size_t *readbytes)        -> 1/0
 *   ssize_t gnutls_record_send(gnutls_session_t, const void *, size_t)
 *   ssize_t gnutls_record_recv(gnutls_session_t, void *, size_t)
 *
 * The socket of a TLS object is found in bpf/sock.bpf.c: a socket syscall
 * made inside the call (socket BIO: curl, Python, gnutls) binds it exactly;
 * for memory BIOs (node) the same thread's socket read just before a read
 * call, or socket write just after a write call, binds it.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define IT_COOKIE_SOURCE(c) ((__u8)((c) & 0xff))
#define IT_COOKIE_DIR(c) ((__u8)(((c) >> 8) & 0xff))

static __always_inline int tls_enter_common(struct pt_regs *ctx, __u64 size_ptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct tls_stack *st, empty = {};
	struct tls_call *c;
	__u8 one = 1;
	__u32 i;

	st = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (!st) {
		if (!process_selected(tgid))
			return 0;
		bpf_map_update_elem(&tls_calls, &pid_tgid, &empty, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
		if (!st)
			return 0;
	}
	i = st->n;
	if (i >= TLS_STACK_DEPTH) {
		stat_add(IT_STAT_NEST_OVERFLOW, 1);
		st->n++; /* keep returns balanced */
		return 0;
	}
	if (i > 0)
		stat_add(IT_STAT_NESTED, 1);
	c = &st->frames[i & (TLS_STACK_DEPTH - 1)];
	__builtin_memset(c, 0, sizeof(*c));
	c->conn = PT_REGS_PARM1(ctx);
	c->buf = PT_REGS_PARM2(ctx);
	c->size_ptr = size_ptr;
	c->start_ns = bpf_ktime_get_ns();
	c->source = IT_COOKIE_SOURCE(cookie);
	c->dir = IT_COOKIE_DIR(cookie);
	st->n = i + 1;
	bpf_map_update_elem(&tls_procs, &tgid, &one, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(tls_enter)
{
	return tls_enter_common(ctx, 0);
}

SEC("uprobe")
int BPF_KPROBE(tls_enter_ex)
{
	return tls_enter_common(ctx, PT_REGS_PARM4(ctx));
}

/* Find the socket for call c, learning bindings as we go. */
static __always_inline void tls_resolve_sock(struct tls_call *c, __u64 pid_tgid,
					     struct it_sock *out)
{
	struct tls_conn_key key = { .conn = c->conn, .pid = pid_tgid >> 32 };
	struct it_sock *known;
	struct thread_sock *last;
	__u8 src = c->source;

	if (c->have_sock) {
		*out = c->sock;
		out->bind = IT_BIND_INSIDE;
		bpf_map_update_elem(&tls_conn_sock, &key, out, BPF_ANY);
		bpf_map_update_elem(&traced_socks, &out->sk, &src, BPF_ANY);
		return;
	}
	known = bpf_map_lookup_elem(&tls_conn_sock, &key);
	if (known) {
		*out = *known;
		return;
	}
	if (c->dir == IT_DIR_RECV) {
		last = bpf_map_lookup_elem(&thread_last_recv, &pid_tgid);
		if (last && c->start_ns - last->ts_ns < ADJACENT_WINDOW_NS) {
			*out = last->sock;
			out->bind = IT_BIND_ADJACENT;
			bpf_map_update_elem(&tls_conn_sock, &key, out, BPF_ANY);
			bpf_map_update_elem(&traced_socks, &out->sk, &src, BPF_ANY);
			return;
		}
	} else {
		struct thread_pending p = { .ts_ns = bpf_ktime_get_ns(), .conn = c->conn };

		bpf_map_update_elem(&thread_pending_send, &pid_tgid, &p, BPF_ANY);
	}
	__builtin_memset(out, 0, sizeof(*out));
}

SEC("uretprobe")
int BPF_KRETPROBE(tls_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct data_scratch *s;
	struct tls_stack *st;
	struct tls_call *c, *outer;
	__u64 total = 0;
	__u32 off = 0, i;
	long rc = PT_REGS_RC(ctx);

	st = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (!st || st->n == 0)
		return 0;
	i = --st->n;
	if (i >= TLS_STACK_DEPTH)
		return 0; /* an overflowed call: not recorded */
	/* masks (TLS_STACK_DEPTH is a power of two) keep the verifier sure of
	 * the bounds */
	c = &st->frames[i & (TLS_STACK_DEPTH - 1)];

	if (c->size_ptr) {
		/* _ex: returns 1 on success, the count is in *size_ptr */
		if ((int)rc == 1)
			bpf_probe_read_user(&total, sizeof(total), (void *)c->size_ptr);
	} else if (c->source == IT_SRC_GNUTLS) {
		if (rc > 0)
			total = rc;
	} else if ((int)rc > 0) {
		total = (int)rc;
	}
	if (total == 0 || c->inner_reported)
		return 0;
	if (i > 0) {
		outer = &st->frames[(i - 1) & (TLS_STACK_DEPTH - 1)];
		/* a wrapper around the same call (SSL_write over SSL_write_ex in
		 * some builds) returns the same bytes again: the outer one stays
		 * silent */
		if (outer->conn == c->conn && outer->dir == c->dir)
			outer->inner_reported = 1;
		/* the socket found inside an inner call serves the outer one */
		if (c->have_sock && !outer->have_sock && outer->conn == c->conn) {
			outer->sock = c->sock;
			outer->have_sock = 1;
		}
	}

	s = scratch_get();
	if (!s)
		return 0;
	fill_header(s, pid_tgid);
	s->ev.fd = -1;
	s->ev.start_ns = c->start_ns;
	s->ev.conn_id = c->conn;
	s->ev.total = total;
	s->ev.source = c->source;
	s->ev.dir = c->dir;
	s->ev.first = 1;
	tls_resolve_sock(c, pid_tgid, &s->ev.sock);
	emit_chunks(s, c->buf, total < capture_bytes ? total : capture_bytes, &off);
	emit_header_only(s);
	return 0;
}

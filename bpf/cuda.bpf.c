// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Accelerator time from the CUDA driver API (libcuda.so): uprobes on its
 * exported entry points, which the CUDA runtime also reaches through
 * cuGetProcAddress (it returns the exported addresses).
 *
 * A stream is busy from its first launch after it was last known idle to
 * the return of the synchronisation that proves its work complete. Launches
 * only touch per-stream and per-process map entries (the hot path: no ring
 * buffer); a span goes to the ring buffer when a synchronisation closes it.
 * The attach cookie says which entry point a probe is (enum gpu_fn_kind).
 */
#include "common.bpf.h"
#include "gpu_event.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define CUDA_SUCCESS 0
/* A synchronisation that returns faster than this did not wait: the work
 * was already done. */
#define NO_WAIT_NS 20000

struct stream_key {
	__u32 pid;
	__u32 pad;
	__u64 stream;
};

struct stream_state {
	__u64 first_ns;      /* first launch of the pending span */
	__u64 last_ns;       /* latest launch */
	__u32 launches;      /* launches in the pending span */
	__u32 pending;
};

struct event_state {
	__u64 stream;        /* normalised stream the event was recorded on */
	__u64 record_ns;
	__u32 launches_at_record;
	__u32 pad;
};

struct gpu_call {
	__u64 cookie;
	__u64 arg;           /* stream, event or CUdeviceptr * */
	__u64 bytes;
	__u64 entry_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct gpu_counters);
} gpu_counters SEC(".maps");

/* Hits per probed entry point: shows which ones a program really calls
 * (and which a driver calls from inside another). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GPU_MAX_FUNCS);
	__type(key, __u32);
	__type(value, __u64);
} gpu_fn_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct stream_key);
	__type(value, struct stream_state);
} gpu_streams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct stream_key); /* stream = the CUevent */
	__type(value, struct event_state);
} gpu_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct gpu_call);
} gpu_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct stream_key); /* stream = the device pointer */
	__type(value, __u64);          /* bytes */
} gpu_allocs SEC(".maps");

/* The legacy default stream is 0 (or CU_STREAM_LEGACY, 1); the per-thread
 * default stream (CU_STREAM_PER_THREAD, 2, or 0 in a _ptsz call) is one
 * stream per thread. */
static __always_inline __u64 stream_norm(__u64 s, bool ptsz, __u32 tid)
{
	if (s == 0)
		return ptsz ? 2 | (__u64)tid << 32 : 0;
	if (s == 1)
		return 0;
	if (s == 2)
		return 2 | (__u64)tid << 32;
	return s;
}

static __always_inline struct gpu_counters *counters(__u32 pid)
{
	struct gpu_counters *c = bpf_map_lookup_elem(&gpu_counters, &pid), zero = {};

	if (c)
		return c;
	bpf_map_update_elem(&gpu_counters, &pid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&gpu_counters, &pid);
}

/* subprograms (not inlined): keeps the verifier's path count small */
#define SPAN_HOW(launches, closed_by) ((__u64)(launches) << 8 | ((closed_by) & 0xff))

/* how: launches << 8 | closed_by (a BPF function takes at most 5 args) */
static __noinline void emit_span(__u32 pid, __u64 stream, __u64 start, __u64 end, __u64 how)
{
	struct gpu_span_event *e;

	if (end < start)
		end = start;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_add(IT_STAT_LOST, 1);
		return;
	}
	e->kind = IT_EV_GPU_SPAN;
	e->pid = pid;
	e->stream = stream;
	e->start_ns = start;
	e->end_ns = end;
	e->launches = how >> 8;
	e->closed_by = how & 0xff;
	bpf_ringbuf_submit(e, rb_flags());
	stat_add(IT_STAT_EVENTS, 1);
}

/* Work was queued on a stream: open its span if it was idle. */
static __noinline void stream_busy(__u32 pid, __u64 stream, __u64 now)
{
	struct stream_key k = { .pid = pid, .stream = stream };
	struct stream_state *st = bpf_map_lookup_elem(&gpu_streams, &k);

	if (!st) {
		struct stream_state fresh = { .first_ns = now, .last_ns = now, .launches = 1, .pending = 1 };

		bpf_map_update_elem(&gpu_streams, &k, &fresh, BPF_ANY);
		return;
	}
	if (!st->pending) {
		st->pending = 1;
		st->first_ns = now;
		st->launches = 0;
	}
	st->last_ns = now;
	st->launches++;
}

/* A synchronisation returned: the stream's pending work is done. Returns
 * true when a span was pending. */
static __noinline bool stream_done(__u32 pid, __u64 stream, __u64 end, __u32 closed_by)
{
	struct stream_key k = { .pid = pid, .stream = stream };
	struct stream_state *st = bpf_map_lookup_elem(&gpu_streams, &k);

	if (!st || !st->pending)
		return false;
	emit_span(pid, stream, st->first_ns, end, SPAN_HOW(st->launches, closed_by));
	st->pending = 0;
	st->launches = 0;
	return true;
}

struct ctx_sync_arg {
	__u32 pid;
	__u32 closed_by;
	__u64 end;
	__u32 closed;
};

static long ctx_sync_cb(void *map, struct stream_key *k, struct stream_state *st,
			struct ctx_sync_arg *a)
{
	if (k->pid != a->pid || !st->pending)
		return 0;
	emit_span(a->pid, k->stream, st->first_ns, a->end, SPAN_HOW(st->launches, a->closed_by));
	st->pending = 0;
	st->launches = 0;
	a->closed = 1; /* a flag, not a count: the verifier prunes repeated callback states */
	return 0;
}

/* ---- entry probes ---- */

SEC("uprobe")
int BPF_KPROBE(cuda_enter)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 kind = cookie & 0xff;
	bool ptsz = cookie & GPU_COOKIE_PTSZ;
	__u64 now = bpf_ktime_get_ns(), stream = 0;
	struct gpu_counters *cnt;
	struct gpu_call call = {};

	if (!process_selected(pid))
		return 0;
	{
		__u32 fn = (cookie >> GPU_COOKIE_FN_SHIFT) & (GPU_MAX_FUNCS - 1);
		__u64 *hits = bpf_map_lookup_elem(&gpu_fn_hits, &fn);

		if (hits)
			*hits += 1;
	}
	cnt = counters(pid);
	if (!cnt)
		return 0;

	switch (kind) {
	case GPU_FN_LAUNCH: {
		/* 9th argument: on the stack, above the return address (the
		 * probe site is chosen so that %rsp is still the entry's) */
		__u64 sp = PT_REGS_SP(ctx);

		bpf_probe_read_user(&stream, sizeof(stream), (void *)(sp + 3 * 8));
		__sync_fetch_and_add(&cnt->launches, 1);
		stream_busy(pid, stream_norm(stream, ptsz, tid), now);
		return 0;
	}
	case GPU_FN_LAUNCH_EX: {
		/* CUlaunchConfig: 7 unsigned ints, then CUstream hStream at 32 */
		__u64 cfg = PT_REGS_PARM1(ctx);

		bpf_probe_read_user(&stream, sizeof(stream), (void *)(cfg + 32));
		__sync_fetch_and_add(&cnt->launches, 1);
		stream_busy(pid, stream_norm(stream, ptsz, tid), now);
		return 0;
	}
	case GPU_FN_GRAPH:
		__sync_fetch_and_add(&cnt->graph_launches, 1);
		stream_busy(pid, stream_norm(PT_REGS_PARM2(ctx), ptsz, tid), now);
		return 0;
	case GPU_FN_MEMCPY_ASYNC: {
		__u32 dir = (cookie >> GPU_COOKIE_DIR_SHIFT) & 3;

		__sync_fetch_and_add(&cnt->memcpy_bytes[dir & 3], PT_REGS_PARM3(ctx));
		__sync_fetch_and_add(&cnt->memcpy_calls, 1);
		stream_busy(pid, stream_norm(PT_REGS_PARM4(ctx), ptsz, tid), now);
		return 0;
	}
	case GPU_FN_FREE: {
		struct stream_key k = { .pid = pid, .stream = PT_REGS_PARM1(ctx) };
		__u64 *bytes = bpf_map_lookup_elem(&gpu_allocs, &k);

		if (bytes) {
			__sync_fetch_and_add(&cnt->mem_bytes, -*bytes);
			__sync_fetch_and_add(&cnt->frees, 1);
			bpf_map_delete_elem(&gpu_allocs, &k);
		}
		return 0;
	}
	case GPU_FN_EVENT_RECORD: {
		struct stream_key ek = { .pid = pid, .stream = PT_REGS_PARM1(ctx) };
		struct stream_key sk = { .pid = pid };
		struct stream_state *st;
		struct event_state ev = { .record_ns = now };

		sk.stream = stream_norm(PT_REGS_PARM2(ctx), ptsz, tid);
		ev.stream = sk.stream;
		st = bpf_map_lookup_elem(&gpu_streams, &sk);
		if (st && st->pending)
			ev.launches_at_record = st->launches;
		bpf_map_update_elem(&gpu_events, &ek, &ev, BPF_ANY);
		return 0;
	}
	case GPU_FN_MEMCPY:
		call.bytes = PT_REGS_PARM3(ctx);
		break;
	case GPU_FN_ALLOC:
		call.arg = PT_REGS_PARM1(ctx);
		call.bytes = PT_REGS_PARM2(ctx);
		break;
	case GPU_FN_STREAM_SYNC:
	case GPU_FN_STREAM_QUERY:
		call.arg = stream_norm(PT_REGS_PARM1(ctx), ptsz, tid);
		break;
	case GPU_FN_EVENT_SYNC:
	case GPU_FN_EVENT_QUERY:
		call.arg = PT_REGS_PARM1(ctx);
		break;
	case GPU_FN_CTX_SYNC:
		break;
	default:
		return 0;
	}
	/* calls with a return probe: keep the arguments for it */
	call.cookie = cookie;
	call.entry_ns = now;
	bpf_map_update_elem(&gpu_calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

/* ---- return probes ---- */

/* Return-side handlers: separate subprograms keep each one's path count
 * within what the verifier follows. */
static __noinline void exit_memcpy(__u32 pid, struct gpu_call *c, struct gpu_counters *cnt, int rc,
				   __u64 now)
{
	__u32 dir = (c->cookie >> GPU_COOKIE_DIR_SHIFT) & 3;

	if (rc != CUDA_SUCCESS)
		return;
	__sync_fetch_and_add(&cnt->memcpy_bytes[dir & 3], c->bytes);
	__sync_fetch_and_add(&cnt->memcpy_calls, 1);
	/* a synchronous copy runs on the legacy stream after its work */
	if (!stream_done(pid, 0, now, GPU_FN_MEMCPY))
		emit_span(pid, 0, c->entry_ns, now, SPAN_HOW(0, GPU_FN_MEMCPY));
}

static __noinline void exit_alloc(__u32 pid, struct gpu_call *c, struct gpu_counters *cnt, int rc)
{
	struct stream_key k = { .pid = pid };
	__u64 bytes = c->bytes, held;

	if (rc != CUDA_SUCCESS)
		return;
	if (bpf_probe_read_user(&k.stream, sizeof(k.stream), (void *)c->arg))
		return;
	bpf_map_update_elem(&gpu_allocs, &k, &bytes, BPF_ANY);
	held = __sync_fetch_and_add(&cnt->mem_bytes, bytes) + bytes;
	__sync_fetch_and_add(&cnt->allocs, 1);
	if (held > cnt->mem_peak)
		cnt->mem_peak = held;
}

static __noinline void exit_stream(__u32 pid, struct gpu_call *c, struct gpu_counters *cnt, int rc,
				   __u64 now)
{
	__u32 kind = c->cookie & 0xff;
	__u64 wait = now - c->entry_ns;

	if (kind == GPU_FN_STREAM_SYNC) {
		__sync_fetch_and_add(&cnt->sync_wait_ns, wait);
		__sync_fetch_and_add(&cnt->syncs, 1);
	}
	if (rc != CUDA_SUCCESS)
		return;
	/* returned at once: the work ended before the call began */
	if (!stream_done(pid, c->arg, wait < NO_WAIT_NS ? c->entry_ns : now, kind) && wait >= NO_WAIT_NS)
		emit_span(pid, c->arg, c->entry_ns, now, SPAN_HOW(0, kind)); /* work we did not see start */
}

static __noinline void exit_event(__u32 pid, struct gpu_call *c, struct gpu_counters *cnt, int rc,
				  __u64 now)
{
	struct stream_key ek = { .pid = pid, .stream = c->arg };
	struct stream_key sk = { .pid = pid };
	__u32 kind = c->cookie & 0xff;
	__u64 wait = now - c->entry_ns;
	__u64 end = wait < NO_WAIT_NS ? c->entry_ns : now;
	struct event_state *ev;
	struct stream_state *st;

	if (kind == GPU_FN_EVENT_SYNC) {
		__sync_fetch_and_add(&cnt->sync_wait_ns, wait);
		__sync_fetch_and_add(&cnt->syncs, 1);
	}
	if (rc != CUDA_SUCCESS)
		return;
	ev = bpf_map_lookup_elem(&gpu_events, &ek);
	if (!ev)
		return;
	sk.stream = ev->stream;
	st = bpf_map_lookup_elem(&gpu_streams, &sk);
	if (!st || !st->pending)
		return;
	if (st->launches <= ev->launches_at_record) {
		stream_done(pid, sk.stream, end, kind);
	} else {
		/* work queued after the event is still running: close what the
		 * event covers, keep the rest pending */
		emit_span(pid, sk.stream, st->first_ns, end, SPAN_HOW(ev->launches_at_record, kind));
		st->first_ns = end;
		st->launches -= ev->launches_at_record;
	}
	ev->launches_at_record = 0;
}

static __noinline void exit_ctx(__u32 pid, struct gpu_call *c, struct gpu_counters *cnt, int rc,
				__u64 now)
{
	struct ctx_sync_arg a = { .pid = pid, .closed_by = GPU_FN_CTX_SYNC };
	__u64 wait = now - c->entry_ns;

	__sync_fetch_and_add(&cnt->sync_wait_ns, wait);
	__sync_fetch_and_add(&cnt->syncs, 1);
	if (rc != CUDA_SUCCESS)
		return;
	a.end = wait < NO_WAIT_NS ? c->entry_ns : now;
	bpf_for_each_map_elem(&gpu_streams, ctx_sync_cb, &a, 0);
	if (!a.closed && wait >= NO_WAIT_NS)
		emit_span(pid, 0, c->entry_ns, now, SPAN_HOW(0, GPU_FN_CTX_SYNC));
}

SEC("uretprobe")
int BPF_KRETPROBE(cuda_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	int rc = (int)PT_REGS_RC(ctx);
	__u64 now = bpf_ktime_get_ns();
	struct gpu_counters *cnt;
	struct gpu_call *c;

	c = bpf_map_lookup_elem(&gpu_calls, &pid_tgid);
	if (!c)
		return 0;
	cnt = counters(pid);
	if (cnt) {
		switch (c->cookie & 0xff) {
		case GPU_FN_MEMCPY:
			exit_memcpy(pid, c, cnt, rc, now);
			break;
		case GPU_FN_ALLOC:
			exit_alloc(pid, c, cnt, rc);
			break;
		case GPU_FN_STREAM_SYNC:
		case GPU_FN_STREAM_QUERY:
			exit_stream(pid, c, cnt, rc, now);
			break;
		case GPU_FN_EVENT_SYNC:
		case GPU_FN_EVENT_QUERY:
			exit_event(pid, c, cnt, rc, now);
			break;
		case GPU_FN_CTX_SYNC:
			exit_ctx(pid, c, cnt, rc, now);
			break;
		}
	}
	bpf_map_delete_elem(&gpu_calls, &pid_tgid);
	return 0;
}

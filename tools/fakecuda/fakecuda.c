// SPDX-License-Identifier: MIT
/*
 * fakecuda: a libcuda.so.1 with a virtual device, so that infertrace's CUDA
 * probes can be tested on machines without a GPU. It exports NVIDIA's
 * driver entry points under their real names and C ABI (fakecuda.h), and
 * models time instead of computing anything:
 *
 * - every operation (kernel, graph, copy, memset) carries a duration and is
 *   placed on its stream's virtual timeline: it starts when the stream's
 *   previous work ends (or now, if the stream is idle, or later if the
 *   legacy default stream says so) and ends `duration` later;
 * - a worker thread per stream "runs" the queue in order: it sleeps
 *   (clock_nanosleep, CLOCK_MONOTONIC) until each operation's end and then
 *   writes it to the ground-truth file;
 * - synchronisations sleep until the virtual completion time, queries
 *   compare it with the clock: both are exact, whatever the worker's
 *   wake-up latency;
 * - copies really copy: device memory is host memory (mmap), a CUdeviceptr
 *   is its address.
 *
 * Conventions (durations, truth format, environment) are in README.md.
 */
#include "fakecuda.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Shape of the exported entry points: 535 (NVIDIA 535's 24-byte stub),
 * 580 (NVIDIA 580's push-rbp prologue), 0 (plain compiled C functions). */
#ifndef FK_STUB
#define FK_STUB 535
#endif

#define FK_HIDDEN __attribute__((visibility("hidden")))
#define FK_EXPORT __attribute__((visibility("default")))
#define FK_API(sym) FK_HIDDEN CUresult fk_impl_##sym

#define FK_MAX_DEV 16
#define NSEC 1000000000ULL

/* ------------------------------------------------------------------------
 * Symbols: indices for the per-symbol call counters.
 */
enum fk_sym_idx {
#define FK_SYM(s, b, v, p) FK_IDX_##s,
#include "fakecuda_syms.h"
#undef FK_SYM
	FK_NSYMS
};

static const char *const fk_sym_names[FK_NSYMS] = {
#define FK_SYM(s, b, v, p) #s,
#include "fakecuda_syms.h"
#undef FK_SYM
};

static _Atomic uint64_t g_calls[FK_NSYMS];
#define COUNT(sym) atomic_fetch_add_explicit(&g_calls[FK_IDX_##sym], 1, memory_order_relaxed)

/* Read by the 535/580 stubs' `cmp`. In NVIDIA's driver the magic there
 * means "deinitialised" (the 535 stub then returns 4); here it never
 * matches, so the stubs always take their `jmp` to the implementation. */
FK_HIDDEN __attribute__((used)) volatile int fk_gate;

/* ------------------------------------------------------------------------
 * Configuration (environment, read once at load).
 */
static struct {
	const char *truth_path;
	const char *share_path;
	uint64_t kernel_ns;     /* a launch without a duration parameter */
	uint64_t max_kernel_ns; /* larger "durations" are not durations */
	double copy_bytes_per_ns;
	uint64_t spin_ns;
	uint64_t launch_cpu_ns;
	bool legacy_sync;
	int ndev;
	char name[256];
	unsigned char uuid[16];
	uint64_t mem_bytes;
	int driver_version;
} cfg;

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "fakecuda: ignoring %s=%s (not a number)\n", name, v);
		return def;
	}
	return x;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (NVML's form) or 32 hex digits. */
static bool parse_uuid(const char *s, unsigned char out[16])
{
	int n = 0, hi = -1;

	if (strncmp(s, "GPU-", 4) == 0)
		s += 4;
	for (; *s; s++) {
		int h;

		if (*s == '-')
			continue;
		h = hexval(*s);
		if (h < 0 || n >= 16)
			return false;
		if (hi < 0) {
			hi = h;
		} else {
			out[n++] = (unsigned char)(hi << 4 | h);
			hi = -1;
		}
	}
	return n == 16 && hi < 0;
}

static void config_read(void)
{
	static const unsigned char def_uuid[16] = { 0xfa, 0x4e, 0xca, 0xda, 0x00, 0x00, 0x40, 0x00,
						    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	const char *v;
	double gbps;

	cfg.truth_path = getenv("FAKECUDA_TRUTH");
	if (cfg.truth_path && !*cfg.truth_path)
		cfg.truth_path = NULL;
	cfg.share_path = getenv("FAKECUDA_SHARE");
	if (cfg.share_path && !*cfg.share_path)
		cfg.share_path = NULL;
	cfg.kernel_ns = env_u64("FAKECUDA_KERNEL_NS", 5000);
	cfg.max_kernel_ns = env_u64("FAKECUDA_MAX_KERNEL_NS", 600 * NSEC);
	v = getenv("FAKECUDA_COPY_GBPS");
	gbps = v && *v ? strtod(v, NULL) : 10.0;
	if (!(gbps > 0))
		gbps = 10.0;
	cfg.copy_bytes_per_ns = gbps; /* 1 GB/s = 1 byte/ns */
	cfg.spin_ns = env_u64("FAKECUDA_SPIN_NS", 20000);
	cfg.launch_cpu_ns = env_u64("FAKECUDA_LAUNCH_CPU_NS", 0);
	cfg.legacy_sync = env_u64("FAKECUDA_LEGACY_SYNC", 1) != 0;
	cfg.ndev = (int)env_u64("FAKECUDA_DEVICES", 1);
	if (cfg.ndev > FK_MAX_DEV)
		cfg.ndev = FK_MAX_DEV;
	v = getenv("FAKECUDA_DEVICE_NAME");
	snprintf(cfg.name, sizeof(cfg.name), "%s", v && *v ? v : "NVIDIA H100 80GB HBM3");
	memcpy(cfg.uuid, def_uuid, 16);
	v = getenv("FAKECUDA_DEVICE_UUID");
	if (v && *v && !parse_uuid(v, cfg.uuid)) {
		fprintf(stderr, "fakecuda: ignoring FAKECUDA_DEVICE_UUID=%s\n", v);
		memcpy(cfg.uuid, def_uuid, 16);
	}
	cfg.mem_bytes = env_u64("FAKECUDA_MEM_BYTES", 81559ULL << 20); /* H100 80GB: 81559 MiB */
	cfg.driver_version = (int)env_u64("FAKECUDA_DRIVER_VERSION", 13000);
}

/* ------------------------------------------------------------------------
 * Time.
 */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / NSEC), .tv_nsec = (long)(t % NSEC) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

/* Block until CLOCK_MONOTONIC reaches t: sleep, then spin the last
 * cfg.spin_ns so that a synchronisation returns at the virtual completion,
 * not a scheduler tick later. The thread's timer slack is lowered once
 * (PR_SET_TIMERSLACK) for the same reason. */
static void wait_until(uint64_t t)
{
	static __thread bool slack_set;
	uint64_t now = now_ns();

	if (now >= t)
		return;
	if (!slack_set) {
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
		slack_set = true;
	}
	if (t - now > cfg.spin_ns)
		sleep_until(t - cfg.spin_ns);
	while (now_ns() < t)
		cpu_relax();
}

static void burn_cpu(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		cpu_relax();
}

static __thread pid_t tl_tid;

static inline pid_t my_tid(void)
{
	if (!tl_tid)
		tl_tid = (pid_t)syscall(SYS_gettid);
	return tl_tid;
}

/* ------------------------------------------------------------------------
 * Objects. Handles are pointers to these; each starts with a magic so that
 * a wrong handle gets CUDA_ERROR_INVALID_HANDLE. Nothing a worker thread may
 * still touch is ever freed (a fake can afford to leak a few structs).
 */
enum {
	MAGIC_CTX = 0x43545846,    /* "FXTC" */
	MAGIC_STREAM = 0x53545846, /* "FXTS" */
	MAGIC_EVENT = 0x45545846,
	MAGIC_MODULE = 0x4d545846,
	MAGIC_FUNC = 0x46545846,
	MAGIC_GRAPH = 0x47545846,
	MAGIC_GNODE = 0x4e545846,
	MAGIC_GEXEC = 0x58545846,
};

enum op_kind { OP_KERNEL, OP_GRAPH, OP_MEMCPY, OP_MEMSET };
static const char *const op_kind_names[] = { "kernel", "graph", "memcpy", "memset" };

enum copy_dir { DIR_HTOD, DIR_DTOH, DIR_DTOD, DIR_HTOH, DIR_N };
static const char *const dir_names[] = { "htod", "dtoh", "dtod", "htoh" };

enum stream_kind { SK_CREATED, SK_LEGACY, SK_PER_THREAD };
static const char *const stream_kind_names[] = { "created", "legacy", "per_thread" };

struct fk_op {
	uint64_t start, end, bytes, seq;
	pid_t tid;
	uint16_t api;
	uint8_t kind, dir;
};

struct fk_graph;

struct fk_stream {
	uint32_t magic, id;
	struct fk_ctx *ctx;
	enum stream_kind kind;
	bool blocking;  /* synchronises with the legacy default stream */
	uintptr_t handle; /* the "stream" value written to the truth file */
	pid_t owner_tid;
	_Atomic uint64_t tail; /* virtual completion of all work enqueued */
	_Atomic(struct fk_graph *) capture;
	_Atomic bool destroyed;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fk_op *q; /* ring of pending operations, in stream order */
	uint32_t qcap, qhead, qlen;
	uint64_t seq;
	bool worker_waiting, dead, flushed;

	struct fk_stream *ctx_next, *all_next;
};

struct fk_ctx {
	uint32_t magic, id;
	int dev;
	bool primary;
	_Atomic bool destroyed;
	struct fk_stream *legacy;
	_Atomic(struct fk_stream *) streams; /* every stream of the context */
	_Atomic uint64_t mem_cur, mem_peak, allocs, frees;
	struct fk_ctx *all_next;
};

struct fk_event {
	uint32_t magic;
	unsigned int flags;
	_Atomic uint64_t time; /* virtual completion of the recorded work */
	_Atomic bool recorded, destroyed;
};

struct fk_func {
	uint32_t magic;
	struct fk_func *next;
	char name[];
};

struct fk_module {
	uint32_t magic;
	pthread_mutex_t mu;
	struct fk_func *funcs;
	bool unloaded;
};

struct fk_graph {
	uint32_t magic;
	_Atomic uint64_t ns;
	_Atomic uint32_t nodes;
	bool destroyed;
};

struct fk_gnode {
	uint32_t magic;
	uint64_t ns;
};

struct fk_gexec {
	uint32_t magic;
	_Atomic uint64_t ns;
	uint32_t nodes;
	bool destroyed;
};

/* ------------------------------------------------------------------------
 * Global state.
 */
static pid_t g_pid;
static _Atomic bool g_inited, g_exiting;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* init, primary contexts */
static _Atomic uint32_t g_ids;
static _Atomic(struct fk_ctx *) g_ctxs;
static _Atomic(struct fk_stream *) g_streams;
static struct fk_ctx *g_primary[FK_MAX_DEV];
static _Atomic uint64_t g_dev_used[FK_MAX_DEV];
static uint64_t g_init_ns;

static int g_truth_fd = -1;
static pthread_mutex_t g_truth_mu = PTHREAD_MUTEX_INITIALIZER;

/* The cross-process serial engine (FAKECUDA_SHARE): one virtual tail per
 * device in a shared file, so that processes sharing "the device" take
 * turns instead of overlapping. */
struct fk_shared {
	_Atomic uint64_t tail[FK_MAX_DEV];
};
static struct fk_shared *g_share;

static struct {
	_Atomic uint64_t launches, launches_captured, graph_launches;
	_Atomic uint64_t kernel_ns, graph_ns;
	_Atomic uint64_t copy_calls[DIR_N], copy_bytes[DIR_N], copy_ns;
	_Atomic uint64_t memset_calls, memset_bytes;
	_Atomic uint64_t allocs, frees, alloc_bytes, free_bytes, mem_cur, mem_peak;
	_Atomic uint64_t ops, busy_ns, truncated, dropped, syncs, sync_wait_ns;
} st;

static void peak_update(_Atomic uint64_t *peak, uint64_t v)
{
	uint64_t old = atomic_load(peak);

	while (v > old && !atomic_compare_exchange_weak(peak, &old, v))
		;
}

/* ------------------------------------------------------------------------
 * Ground truth file.
 */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

#define LINE_MAX_LEN 512

static int fmt_op(char *b, size_t n, const struct fk_stream *s, const struct fk_op *o,
		  uint64_t end, bool truncated)
{
	char dir[24] = "";

	if (o->kind == OP_MEMCPY)
		snprintf(dir, sizeof(dir), ",\"dir\":\"%s\"", dir_names[o->dir]);
	return snprintf(b, n,
			"{\"type\":\"busy\",\"pid\":%d,\"tid\":%d,\"device\":%d,\"ctx\":%u,"
			"\"stream\":%" PRIuPTR ",\"stream_id\":%u,\"stream_kind\":\"%s\","
			"\"seq\":%" PRIu64 ",\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64
			",\"kind\":\"%s\",\"bytes\":%" PRIu64 "%s,\"api\":\"%s\"%s}\n",
			g_pid, o->tid, s->ctx->dev, s->ctx->id, s->handle, s->id,
			stream_kind_names[s->kind], o->seq, o->start, end, op_kind_names[o->kind],
			o->bytes, dir, fk_sym_names[o->api], truncated ? ",\"truncated\":true" : "");
}

static size_t json_escape(char *out, size_t n, const char *s)
{
	size_t j = 0;

	for (; *s && j + 7 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[j++] = '\\';
			out[j++] = (char)c;
		} else if (c < 0x20) {
			j += (size_t)snprintf(out + j, n - j, "\\u%04x", c);
		} else {
			out[j++] = (char)c;
		}
	}
	out[j] = 0;
	return j;
}

static void uuid_string(const unsigned char u[16], char out[48])
{
	snprintf(out, 48,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

static void dev_uuid(int dev, unsigned char out[16])
{
	memcpy(out, cfg.uuid, 16);
	out[15] = (unsigned char)(out[15] + dev);
}

/* ------------------------------------------------------------------------
 * Streams and their workers.
 */
static void *worker_main(void *arg)
{
	struct fk_stream *s = arg;
	enum { BUFSZ = 64 * 1024 };
	char name[16], *buf = malloc(BUFSZ);

	snprintf(name, sizeof(name), "fakecuda-s%u", s->id);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		uint64_t now, head_end;
		size_t len = 0;

		if (s->flushed)
			break;
		if (s->qlen == 0) {
			if (s->dead)
				break;
			s->worker_waiting = true;
			pthread_cond_wait(&s->cv, &s->mu);
			s->worker_waiting = false;
			continue;
		}
		/* Ends are non-decreasing along a stream: an operation queued
		 * while we sleep ends no earlier than the head, so sleeping to
		 * the head's end never misses one. */
		head_end = s->q[s->qhead].end;
		now = now_ns();
		if (now < head_end) {
			pthread_mutex_unlock(&s->mu);
			sleep_until(head_end);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		while (s->qlen && s->q[s->qhead].end <= now &&
		       (!buf || len + LINE_MAX_LEN < BUFSZ)) {
			const struct fk_op *o = &s->q[s->qhead];

			if (g_truth_fd >= 0 && buf)
				len += (size_t)fmt_op(buf + len, BUFSZ - len, s, o, o->end, false);
			s->qhead = (s->qhead + 1) % s->qcap;
			s->qlen--;
		}
		if (len) {
			/* Lock order: stream, then truth; the exit flush takes
			 * them in the same order, so it sees these lines written. */
			pthread_mutex_lock(&g_truth_mu);
			pthread_mutex_unlock(&s->mu);
			write_all(g_truth_fd, buf, len);
			pthread_mutex_unlock(&g_truth_mu);
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	free(buf);
	return NULL;
}

static struct fk_stream *stream_new(struct fk_ctx *ctx, enum stream_kind kind, bool blocking)
{
	struct fk_stream *s = calloc(1, sizeof(*s));
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	struct fk_stream *head;

	if (!s)
		return NULL;
	s->magic = MAGIC_STREAM;
	s->id = atomic_fetch_add(&g_ids, 1) + 1;
	s->ctx = ctx;
	s->kind = kind;
	s->blocking = blocking;
	s->owner_tid = my_tid();
	s->handle = kind == SK_CREATED ? (uintptr_t)s : kind == SK_LEGACY ? 0 : 2;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);

	/* The worker must not take the application's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&th, &attr, worker_main, s) != 0) {
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		free(s);
		return NULL;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	head = atomic_load(&ctx->streams);
	do
		s->ctx_next = head;
	while (!atomic_compare_exchange_weak(&ctx->streams, &head, s));
	head = atomic_load(&g_streams);
	do
		s->all_next = head;
	while (!atomic_compare_exchange_weak(&g_streams, &head, s));
	return s;
}

/* The legacy default stream waits for all blocking streams of its context,
 * and blocking streams wait for it (CUDA's implicit synchronisation;
 * FAKECUDA_LEGACY_SYNC=0 turns it off). */
static uint64_t implicit_dep(const struct fk_stream *s)
{
	uint64_t dep = 0;

	if (!cfg.legacy_sync)
		return 0;
	if (s->kind == SK_LEGACY) {
		for (struct fk_stream *o = atomic_load(&s->ctx->streams); o; o = o->ctx_next) {
			uint64_t t;

			if (o == s || !o->blocking)
				continue;
			t = atomic_load(&o->tail);
			if (t > dep)
				dep = t;
		}
	} else if (s->blocking) {
		dep = atomic_load(&s->ctx->legacy->tail);
	}
	return dep;
}

/* The virtual time at which everything enqueued so far on `s` is done. */
static uint64_t stream_target(const struct fk_stream *s)
{
	uint64_t t = atomic_load(&s->tail);

	if (s->kind == SK_LEGACY) {
		uint64_t d = implicit_dep(s);

		if (d > t)
			t = d;
	}
	return t;
}

static uint64_t ctx_target(const struct fk_ctx *c)
{
	uint64_t t = 0;

	for (struct fk_stream *s = atomic_load(&c->streams); s; s = s->ctx_next) {
		uint64_t x = atomic_load(&s->tail);

		if (x > t)
			t = x;
	}
	return t;
}

static uint64_t share_reserve(int dev, uint64_t start, uint64_t dur)
{
	uint64_t old = atomic_load(&g_share->tail[dev]);

	for (;;) {
		uint64_t s0 = start > old ? start : old;

		if (atomic_compare_exchange_weak(&g_share->tail[dev], &old, s0 + dur))
			return s0;
	}
}

static bool queue_grow(struct fk_stream *s)
{
	uint32_t ncap = s->qcap ? s->qcap * 2 : 64;
	struct fk_op *nq = malloc(sizeof(*nq) * ncap);

	if (!nq)
		return false;
	for (uint32_t i = 0; i < s->qlen; i++)
		nq[i] = s->q[(s->qhead + i) % s->qcap];
	free(s->q);
	s->q = nq;
	s->qcap = ncap;
	s->qhead = 0;
	return true;
}

/* Place an operation on the stream's timeline, starting no earlier than
 * `now` (the time of the call); returns its virtual end. */
static uint64_t enqueue_at(struct fk_stream *s, uint64_t now, enum op_kind kind, int api,
			   uint64_t dur, uint64_t bytes, enum copy_dir dir)
{
	uint64_t dep = implicit_dep(s), start, end, tail;

	pthread_mutex_lock(&s->mu);
	tail = atomic_load(&s->tail);
	start = now > tail ? now : tail;
	if (dep > start)
		start = dep;
	if (g_share)
		start = share_reserve(s->ctx->dev, start, dur);
	end = start + dur;
	atomic_store(&s->tail, end);
	if (!s->flushed && (s->qlen < s->qcap || queue_grow(s))) {
		struct fk_op *o = &s->q[(s->qhead + s->qlen) % s->qcap];

		o->start = start;
		o->end = end;
		o->bytes = bytes;
		o->seq = ++s->seq;
		o->tid = my_tid();
		o->api = (uint16_t)api;
		o->kind = (uint8_t)kind;
		o->dir = (uint8_t)dir;
		s->qlen++;
		if (s->worker_waiting)
			pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_add_explicit(&st.ops, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.busy_ns, dur, memory_order_relaxed);
	return end;
}

static inline uint64_t enqueue(struct fk_stream *s, enum op_kind kind, int api, uint64_t dur,
			       uint64_t bytes, enum copy_dir dir)
{
	return enqueue_at(s, now_ns(), kind, api, dur, bytes, dir);
}

static void sync_wait(uint64_t target)
{
	uint64_t t0 = now_ns();

	atomic_fetch_add_explicit(&st.syncs, 1, memory_order_relaxed);
	if (target > t0) {
		wait_until(target);
		atomic_fetch_add_explicit(&st.sync_wait_ns, now_ns() - t0, memory_order_relaxed);
	}
}

/* ------------------------------------------------------------------------
 * Contexts and the calling thread's context stack.
 */
#define FK_STACK 16
static __thread struct fk_ctx *tl_stack[FK_STACK];
static __thread int tl_depth;

struct fk_pts {
	struct fk_ctx *ctx;
	struct fk_stream *s;
	struct fk_pts *next;
};
static __thread struct fk_pts *tl_pts;

static inline struct fk_ctx *cur_ctx(void)
{
	return tl_depth ? tl_stack[tl_depth - 1] : NULL;
}

static struct fk_ctx *ctx_new(int dev, bool primary)
{
	struct fk_ctx *c = calloc(1, sizeof(*c)), *head;

	if (!c)
		return NULL;
	c->magic = MAGIC_CTX;
	c->id = atomic_fetch_add(&g_ids, 1) + 1;
	c->dev = dev;
	c->primary = primary;
	c->legacy = stream_new(c, SK_LEGACY, false);
	if (!c->legacy) {
		free(c);
		return NULL;
	}
	head = atomic_load(&g_ctxs);
	do
		c->all_next = head;
	while (!atomic_compare_exchange_weak(&g_ctxs, &head, c));
	return c;
}

static inline bool ctx_ok(const struct fk_ctx *c)
{
	return c && c->magic == MAGIC_CTX && !atomic_load(&c->destroyed);
}

static struct fk_stream *per_thread_stream(struct fk_ctx *c)
{
	struct fk_pts *p;

	for (p = tl_pts; p; p = p->next)
		if (p->ctx == c)
			return p->s;
	p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	p->ctx = c;
	p->s = stream_new(c, SK_PER_THREAD, true);
	if (!p->s) {
		free(p);
		return NULL;
	}
	p->next = tl_pts;
	tl_pts = p;
	return p->s;
}

/* NULL means the legacy default stream, or the per-thread one for the
 * _ptsz/_ptds entry points; CU_STREAM_LEGACY/CU_STREAM_PER_THREAD name
 * them explicitly. */
static struct fk_stream *resolve_stream(CUstream h, bool pt, CUresult *rc)
{
	struct fk_stream *s;

	if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
		struct fk_ctx *c = cur_ctx();

		if (!ctx_ok(c)) {
			*rc = CUDA_ERROR_INVALID_CONTEXT;
			return NULL;
		}
		if (h == CU_STREAM_LEGACY || (h == NULL && !pt))
			return c->legacy;
		s = per_thread_stream(c);
		if (!s)
			*rc = CUDA_ERROR_OUT_OF_MEMORY;
		return s;
	}
	s = (struct fk_stream *)h;
	if (s->magic != MAGIC_STREAM || atomic_load(&s->destroyed)) {
		*rc = CUDA_ERROR_INVALID_HANDLE;
		return NULL;
	}
	return s;
}

#define NEED_INIT()                                  \
	do {                                         \
		if (!atomic_load(&g_inited))         \
			return CUDA_ERROR_NOT_INITIALIZED; \
	} while (0)

/* ------------------------------------------------------------------------
 * Device memory: host memory from mmap, in a table sorted by address so
 * that copies can check their device ranges and cuMemcpy can tell device
 * pointers from host ones.
 */
struct fk_alloc {
	uintptr_t base;
	size_t size, mapped;
	struct fk_ctx *ctx;
};

static struct fk_alloc *g_allocs;
static size_t g_nallocs, g_allocs_cap;
static pthread_mutex_t g_alloc_mu = PTHREAD_MUTEX_INITIALIZER;

/* Index of the last allocation starting at or below p, or -1. */
static long alloc_find_locked(uintptr_t p)
{
	long lo = 0, hi = (long)g_nallocs - 1, best = -1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (g_allocs[mid].base <= p) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

/* Is [p, p+n) inside one device allocation? */
static bool dev_range(uintptr_t p, size_t n)
{
	bool ok = false;
	long i;

	pthread_mutex_lock(&g_alloc_mu);
	i = alloc_find_locked(p);
	if (i >= 0) {
		const struct fk_alloc *a = &g_allocs[i];

		ok = p - a->base <= a->size && n <= a->size - (p - a->base);
	}
	pthread_mutex_unlock(&g_alloc_mu);
	return ok;
}

static CUresult mem_alloc(CUdeviceptr *dptr, size_t bytes)
{
	struct fk_ctx *c = cur_ctx();
	size_t page = (size_t)sysconf(_SC_PAGESIZE), mapped;
	uint64_t used, cur;
	void *p;
	long i;

	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!dptr || bytes == 0)
		return CUDA_ERROR_INVALID_VALUE;
	used = atomic_fetch_add(&g_dev_used[c->dev], bytes);
	if (used + bytes > cfg.mem_bytes || used + bytes < used) {
		atomic_fetch_sub(&g_dev_used[c->dev], bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	mapped = (bytes + page - 1) / page * page;
	p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		atomic_fetch_sub(&g_dev_used[c->dev], bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_lock(&g_alloc_mu);
	if (g_nallocs == g_allocs_cap) {
		size_t ncap = g_allocs_cap ? g_allocs_cap * 2 : 256;
		struct fk_alloc *na = realloc(g_allocs, ncap * sizeof(*na));

		if (!na) {
			pthread_mutex_unlock(&g_alloc_mu);
			munmap(p, mapped);
			atomic_fetch_sub(&g_dev_used[c->dev], bytes);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		g_allocs = na;
		g_allocs_cap = ncap;
	}
	i = alloc_find_locked((uintptr_t)p) + 1;
	memmove(&g_allocs[i + 1], &g_allocs[i], (g_nallocs - (size_t)i) * sizeof(*g_allocs));
	g_allocs[i] = (struct fk_alloc){ (uintptr_t)p, bytes, mapped, c };
	g_nallocs++;
	pthread_mutex_unlock(&g_alloc_mu);

	atomic_fetch_add(&c->allocs, 1);
	cur = atomic_fetch_add(&c->mem_cur, bytes) + bytes;
	peak_update(&c->mem_peak, cur);
	atomic_fetch_add(&st.allocs, 1);
	atomic_fetch_add(&st.alloc_bytes, bytes);
	cur = atomic_fetch_add(&st.mem_cur, bytes) + bytes;
	peak_update(&st.mem_peak, cur);
	*dptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

static CUresult mem_free(CUdeviceptr dptr)
{
	struct fk_alloc a;
	long i;

	if (dptr == 0)
		return CUDA_SUCCESS;
	pthread_mutex_lock(&g_alloc_mu);
	i = alloc_find_locked((uintptr_t)dptr);
	if (i < 0 || g_allocs[i].base != (uintptr_t)dptr) {
		pthread_mutex_unlock(&g_alloc_mu);
		return CUDA_ERROR_INVALID_VALUE;
	}
	a = g_allocs[i];
	memmove(&g_allocs[i], &g_allocs[i + 1], (g_nallocs - (size_t)i - 1) * sizeof(*g_allocs));
	g_nallocs--;
	pthread_mutex_unlock(&g_alloc_mu);

	munmap((void *)a.base, a.mapped);
	atomic_fetch_sub(&g_dev_used[a.ctx->dev], a.size);
	atomic_fetch_add(&a.ctx->frees, 1);
	atomic_fetch_sub(&a.ctx->mem_cur, a.size);
	atomic_fetch_add(&st.frees, 1);
	atomic_fetch_add(&st.free_bytes, a.size);
	atomic_fetch_sub(&st.mem_cur, a.size);
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Durations.
 */
static uint64_t copy_ns(size_t bytes)
{
	return (uint64_t)((double)bytes / cfg.copy_bytes_per_ns + 0.5);
}

/* kernelParams[0] points to the duration (uint64_t, ns); without
 * kernelParams, the first 8 bytes of the CU_LAUNCH_PARAM_BUFFER_POINTER
 * buffer in `extra`; otherwise FAKECUDA_KERNEL_NS. A value above
 * FAKECUDA_MAX_KERNEL_NS is taken for something else than a duration. */
static uint64_t launch_ns(void **params, void **extra)
{
	uint64_t ns = cfg.kernel_ns;

	if (params && params[0]) {
		memcpy(&ns, params[0], sizeof(ns));
	} else if (extra) {
		for (int i = 0; i < 32 && extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
			if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER && extra[i + 1]) {
				memcpy(&ns, extra[i + 1], sizeof(ns));
				break;
			}
		}
	}
	if (ns > cfg.max_kernel_ns)
		ns = cfg.kernel_ns;
	return ns;
}

/* ------------------------------------------------------------------------
 * Initialisation, version, errors.
 */
static void truth_open(void)
{
	char line[1024], name[512], comm[64] = "", ucomm[128], uuid[48];
	unsigned char u[16];
	int fd, n;

	if (!cfg.truth_path)
		return;
	fd = open(cfg.truth_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "fakecuda: cannot open FAKECUDA_TRUTH=%s: %s\n", cfg.truth_path,
			strerror(errno));
		return;
	}
	g_truth_fd = fd;
	prctl(PR_GET_NAME, comm, 0, 0, 0);
	json_escape(ucomm, sizeof(ucomm), comm);
	json_escape(name, sizeof(name), cfg.name);
	dev_uuid(0, u);
	uuid_string(u, uuid);
	n = snprintf(line, sizeof(line),
		     "{\"type\":\"init\",\"pid\":%d,\"comm\":\"%s\",\"time_ns\":%" PRIu64
		     ",\"stub\":%d,\"devices\":%d,\"device_name\":\"%s\",\"uuid\":\"%s\","
		     "\"copy_gbps\":%.3f,\"legacy_sync\":%s,\"shared\":%s}\n",
		     g_pid, ucomm, g_init_ns, FK_STUB, cfg.ndev, name, uuid, cfg.copy_bytes_per_ns,
		     cfg.legacy_sync ? "true" : "false", g_share ? "true" : "false");
	write_all(fd, line, (size_t)n);
}

static void share_open(void)
{
	int fd;
	struct stat sb;
	void *p;

	if (!cfg.share_path)
		return;
	fd = open(cfg.share_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || fstat(fd, &sb) < 0 ||
	    (sb.st_size < (off_t)sizeof(struct fk_shared) &&
	     ftruncate(fd, sizeof(struct fk_shared)) < 0)) {
		fprintf(stderr, "fakecuda: cannot use FAKECUDA_SHARE=%s: %s\n", cfg.share_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	p = mmap(NULL, sizeof(struct fk_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		g_share = p;
}

FK_API(cuInit)(unsigned int flags)
{
	COUNT(cuInit);
	if (flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (cfg.ndev <= 0)
		return CUDA_ERROR_NO_DEVICE;
	pthread_mutex_lock(&g_mu);
	if (!atomic_load(&g_inited)) {
		g_init_ns = now_ns();
		share_open();
		truth_open();
		atomic_store(&g_inited, true);
	}
	pthread_mutex_unlock(&g_mu);
	return CUDA_SUCCESS;
}

FK_API(cuDriverGetVersion)(int *v)
{
	COUNT(cuDriverGetVersion);
	if (!v)
		return CUDA_ERROR_INVALID_VALUE;
	*v = cfg.driver_version;
	return CUDA_SUCCESS;
}

static const struct {
	CUresult rc;
	const char *name, *str;
} fk_errors[] = {
	{ CUDA_SUCCESS, "CUDA_SUCCESS", "no error" },
	{ CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument" },
	{ CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory" },
	{ CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error" },
	{ CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down" },
	{ CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected" },
	{ CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal" },
	{ CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid" },
	{ CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context" },
	{ CUDA_ERROR_FILE_NOT_FOUND, "CUDA_ERROR_FILE_NOT_FOUND", "file not found" },
	{ CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle" },
	{ CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE",
	  "the operation cannot be performed in the present state" },
	{ CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found" },
	{ CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready" },
	{ CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS",
	  "an illegal memory access was encountered" },
	{ CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure" },
	{ CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported" },
	{ CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
	  "operation not permitted when stream is capturing" },
	{ CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
	  "operation failed due to a previous error during capture" },
	{ CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED",
	  "capture was not ended in the same stream as it began" },
	{ CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error" },
};

static CUresult error_lookup(CUresult e, const char **p, bool name)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof(fk_errors) / sizeof(fk_errors[0]); i++) {
		if (fk_errors[i].rc == e) {
			*p = name ? fk_errors[i].name : fk_errors[i].str;
			return CUDA_SUCCESS;
		}
	}
	*p = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

FK_API(cuGetErrorString)(CUresult e, const char **p)
{
	COUNT(cuGetErrorString);
	return error_lookup(e, p, false);
}

FK_API(cuGetErrorName)(CUresult e, const char **p)
{
	COUNT(cuGetErrorName);
	return error_lookup(e, p, true);
}

/* cuGetProcAddress's table: built from fakecuda_syms.h, pointing at the
 * exported symbols themselves (so the addresses equal dlsym's). */
struct fk_proc {
	const char *name;
	int version;
	bool pt;
	void *fn;
};

static const struct fk_proc fk_procs[] = {
#define FK_SYM(s, b, v, p) { #b, v, p, (void *)&s },
#include "fakecuda_syms.h"
#undef FK_SYM
};

/*
 * As NVIDIA's driver answers (checked against 535.309.01): the symbol that
 * `sym` meant at `version`; with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
 * (which wins over LEGACY_STREAM) its _ptsz/_ptds variant if it has one, and
 * then only from version 7000 on. Not found: cuGetProcAddress returns CUDA_ERROR_NOT_FOUND,
 * cuGetProcAddress_v2 returns CUDA_SUCCESS with the reason in *status (and
 * CUDA_ERROR_NOT_FOUND if status is NULL); *pfn is NULL either way.
 */
static CUresult get_proc(const char *sym, void **pfn, int version, cuuint64_t flags,
			 CUdriverProcAddressQueryResult *status, bool v2)
{
	const struct fk_proc *best = NULL;
	bool known = false, pt = flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;

	if (!sym || !pfn ||
	    (flags & ~(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
		       CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)))
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	for (size_t i = 0; i < sizeof(fk_procs) / sizeof(fk_procs[0]); i++) {
		const struct fk_proc *e = &fk_procs[i];

		if (e->pt || strcmp(e->name, sym) != 0)
			continue;
		known = true;
		if (e->version <= version && (!best || e->version > best->version))
			best = e;
	}
	if (best && pt) {
		const struct fk_proc *ptv = NULL;

		for (size_t i = 0; i < sizeof(fk_procs) / sizeof(fk_procs[0]); i++) {
			const struct fk_proc *e = &fk_procs[i];

			if (e->pt && e->version == best->version && strcmp(e->name, sym) == 0) {
				ptv = e;
				break;
			}
		}
		/* per-thread default streams came with CUDA 7.0 */
		best = !ptv ? best : version >= 7000 ? ptv : NULL;
	}
	if (!best) {
		if (status)
			*status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
					: CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		return v2 && status ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
	}
	*pfn = best->fn;
	if (status)
		*status = CU_GET_PROC_ADDRESS_SUCCESS;
	return CUDA_SUCCESS;
}

FK_API(cuGetProcAddress)(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	COUNT(cuGetProcAddress);
	return get_proc(symbol, pfn, cudaVersion, flags, NULL, false);
}

FK_API(cuGetProcAddress_v2)(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
			    CUdriverProcAddressQueryResult *symbolStatus)
{
	COUNT(cuGetProcAddress_v2);
	return get_proc(symbol, pfn, cudaVersion, flags, symbolStatus, true);
}

/* ------------------------------------------------------------------------
 * Devices.
 */
#define CHECK_DEV(d)                                    \
	do {                                            \
		if ((d) < 0 || (d) >= cfg.ndev)         \
			return CUDA_ERROR_INVALID_DEVICE; \
	} while (0)

FK_API(cuDeviceGet)(CUdevice *device, int ordinal)
{
	COUNT(cuDeviceGet);
	NEED_INIT();
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(ordinal);
	*device = ordinal;
	return CUDA_SUCCESS;
}

FK_API(cuDeviceGetCount)(int *count)
{
	COUNT(cuDeviceGetCount);
	NEED_INIT();
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = cfg.ndev;
	return CUDA_SUCCESS;
}

FK_API(cuDeviceGetName)(char *name, int len, CUdevice dev)
{
	COUNT(cuDeviceGetName);
	NEED_INIT();
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	snprintf(name, (size_t)len, "%s", cfg.name);
	return CUDA_SUCCESS;
}

static CUresult device_uuid(CUuuid *uuid, CUdevice dev)
{
	NEED_INIT();
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	dev_uuid(dev, (unsigned char *)uuid->bytes);
	return CUDA_SUCCESS;
}

FK_API(cuDeviceGetUuid)(CUuuid *uuid, CUdevice dev)
{
	COUNT(cuDeviceGetUuid);
	return device_uuid(uuid, dev);
}

FK_API(cuDeviceGetUuid_v2)(CUuuid *uuid, CUdevice dev)
{
	COUNT(cuDeviceGetUuid_v2);
	return device_uuid(uuid, dev);
}

FK_API(cuDeviceTotalMem_v2)(size_t *bytes, CUdevice dev)
{
	COUNT(cuDeviceTotalMem_v2);
	NEED_INIT();
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	*bytes = cfg.mem_bytes;
	return CUDA_SUCCESS;
}

FK_API(cuDeviceGetAttribute)(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	COUNT(cuDeviceGetAttribute);
	NEED_INIT();
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	switch (attrib) { /* an H100 SXM's values */
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *pi = 1024; break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *pi = 1024; break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *pi = 64; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *pi = 2147483647; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *pi = 65535; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *pi = 65535; break;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *pi = 49152; break;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = 32; break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 132; break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
	default: *pi = 0; break;
	}
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Contexts.
 */
static struct fk_ctx *primary_ctx(int dev)
{
	struct fk_ctx *c;

	pthread_mutex_lock(&g_mu);
	if (!g_primary[dev])
		g_primary[dev] = ctx_new(dev, true);
	c = g_primary[dev];
	pthread_mutex_unlock(&g_mu);
	return c;
}

FK_API(cuDevicePrimaryCtxRetain)(CUcontext *pctx, CUdevice dev)
{
	struct fk_ctx *c;

	COUNT(cuDevicePrimaryCtxRetain);
	NEED_INIT();
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	c = primary_ctx(dev);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

FK_API(cuDevicePrimaryCtxRelease)(CUdevice dev)
{
	COUNT(cuDevicePrimaryCtxRelease);
	NEED_INIT();
	CHECK_DEV(dev);
	return CUDA_SUCCESS; /* the primary context lives until exit */
}

FK_API(cuDevicePrimaryCtxRelease_v2)(CUdevice dev)
{
	COUNT(cuDevicePrimaryCtxRelease_v2);
	NEED_INIT();
	CHECK_DEV(dev);
	return CUDA_SUCCESS;
}

static CUresult ctx_create(CUcontext *pctx, CUdevice dev)
{
	struct fk_ctx *c;

	NEED_INIT();
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	if (tl_depth >= FK_STACK)
		return CUDA_ERROR_OUT_OF_MEMORY;
	c = ctx_new(dev, false);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	tl_stack[tl_depth++] = c;
	*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

FK_API(cuCtxCreate_v2)(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	(void)flags;
	COUNT(cuCtxCreate_v2);
	return ctx_create(pctx, dev);
}

FK_API(cuCtxCreate_v3)(CUcontext *pctx, CUexecAffinityParam *params, int nparams,
		       unsigned int flags, CUdevice dev)
{
	(void)params;
	(void)nparams;
	(void)flags;
	COUNT(cuCtxCreate_v3);
	return ctx_create(pctx, dev);
}

FK_API(cuCtxDestroy_v2)(CUcontext ctx)
{
	struct fk_ctx *c = (struct fk_ctx *)ctx;
	int j = 0;

	COUNT(cuCtxDestroy_v2);
	NEED_INIT();
	if (!ctx_ok(c) || c->primary)
		return CUDA_ERROR_INVALID_CONTEXT;
	wait_until(ctx_target(c)); /* pending work completes first */
	atomic_store(&c->destroyed, true);
	for (struct fk_stream *s = atomic_load(&c->streams); s; s = s->ctx_next) {
		pthread_mutex_lock(&s->mu);
		s->dead = true;
		if (s->worker_waiting)
			pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	for (int i = 0; i < tl_depth; i++)
		if (tl_stack[i] != c)
			tl_stack[j++] = tl_stack[i];
	tl_depth = j;
	return CUDA_SUCCESS;
}

FK_API(cuCtxGetCurrent)(CUcontext *pctx)
{
	COUNT(cuCtxGetCurrent);
	NEED_INIT();
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = (CUcontext)cur_ctx();
	return CUDA_SUCCESS;
}

FK_API(cuCtxSetCurrent)(CUcontext ctx)
{
	struct fk_ctx *c = (struct fk_ctx *)ctx;

	COUNT(cuCtxSetCurrent);
	NEED_INIT();
	if (!c) { /* unbind */
		if (tl_depth)
			tl_depth--;
		return CUDA_SUCCESS;
	}
	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (tl_depth)
		tl_stack[tl_depth - 1] = c;
	else
		tl_stack[tl_depth++] = c;
	return CUDA_SUCCESS;
}

FK_API(cuCtxPushCurrent_v2)(CUcontext ctx)
{
	struct fk_ctx *c = (struct fk_ctx *)ctx;

	COUNT(cuCtxPushCurrent_v2);
	NEED_INIT();
	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (tl_depth >= FK_STACK)
		return CUDA_ERROR_OUT_OF_MEMORY;
	tl_stack[tl_depth++] = c;
	return CUDA_SUCCESS;
}

FK_API(cuCtxPopCurrent_v2)(CUcontext *pctx)
{
	COUNT(cuCtxPopCurrent_v2);
	NEED_INIT();
	if (!tl_depth)
		return CUDA_ERROR_INVALID_CONTEXT;
	tl_depth--;
	if (pctx)
		*pctx = (CUcontext)tl_stack[tl_depth];
	return CUDA_SUCCESS;
}

FK_API(cuCtxGetDevice)(CUdevice *device)
{
	struct fk_ctx *c = cur_ctx();

	COUNT(cuCtxGetDevice);
	NEED_INIT();
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	*device = c->dev;
	return CUDA_SUCCESS;
}

static CUresult ctx_sync(struct fk_ctx *c)
{
	NEED_INIT();
	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	sync_wait(ctx_target(c));
	return CUDA_SUCCESS;
}

FK_API(cuCtxSynchronize)(void)
{
	COUNT(cuCtxSynchronize);
	return ctx_sync(cur_ctx());
}

FK_API(cuCtxSynchronize_v2)(CUcontext ctx)
{
	COUNT(cuCtxSynchronize_v2);
	return ctx_sync(ctx ? (struct fk_ctx *)ctx : cur_ctx());
}

/* ------------------------------------------------------------------------
 * Modules and functions: handles only, no code.
 */
static CUresult module_new(CUmodule *module)
{
	struct fk_module *m;

	NEED_INIT();
	if (!module)
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx_ok(cur_ctx()))
		return CUDA_ERROR_INVALID_CONTEXT;
	m = calloc(1, sizeof(*m));
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	m->magic = MAGIC_MODULE;
	pthread_mutex_init(&m->mu, NULL);
	*module = (CUmodule)m;
	return CUDA_SUCCESS;
}

FK_API(cuModuleLoad)(CUmodule *module, const char *fname)
{
	COUNT(cuModuleLoad);
	if (!fname)
		return CUDA_ERROR_INVALID_VALUE;
	if (access(fname, R_OK) != 0)
		return CUDA_ERROR_FILE_NOT_FOUND;
	return module_new(module);
}

FK_API(cuModuleLoadData)(CUmodule *module, const void *image)
{
	COUNT(cuModuleLoadData);
	if (!image)
		return CUDA_ERROR_INVALID_VALUE;
	return module_new(module);
}

FK_API(cuModuleGetFunction)(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	struct fk_module *m = (struct fk_module *)hmod;
	struct fk_func *f;
	size_t len;

	COUNT(cuModuleGetFunction);
	NEED_INIT();
	if (!hfunc || !name)
		return CUDA_ERROR_INVALID_VALUE;
	if (!m || m->magic != MAGIC_MODULE || m->unloaded)
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&m->mu);
	for (f = m->funcs; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (!f) {
		len = strlen(name);
		f = calloc(1, sizeof(*f) + len + 1);
		if (f) {
			f->magic = MAGIC_FUNC;
			memcpy(f->name, name, len + 1);
			f->next = m->funcs;
			m->funcs = f;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*hfunc = (CUfunction)f;
	return CUDA_SUCCESS;
}

FK_API(cuModuleUnload)(CUmodule hmod)
{
	struct fk_module *m = (struct fk_module *)hmod;

	COUNT(cuModuleUnload);
	NEED_INIT();
	if (!m || m->magic != MAGIC_MODULE || m->unloaded)
		return CUDA_ERROR_INVALID_HANDLE;
	m->unloaded = true; /* function handles stay valid: they may be in flight */
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Streams.
 */
static CUresult stream_create(CUstream *ph, unsigned int flags)
{
	struct fk_ctx *c = cur_ctx();
	struct fk_stream *s;

	NEED_INIT();
	if (!ph || (flags & ~CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	s = stream_new(c, SK_CREATED, !(flags & CU_STREAM_NON_BLOCKING));
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*ph = (CUstream)s;
	return CUDA_SUCCESS;
}

FK_API(cuStreamCreate)(CUstream *phStream, unsigned int flags)
{
	COUNT(cuStreamCreate);
	return stream_create(phStream, flags);
}

FK_API(cuStreamCreateWithPriority)(CUstream *phStream, unsigned int flags, int priority)
{
	(void)priority;
	COUNT(cuStreamCreateWithPriority);
	return stream_create(phStream, flags);
}

FK_API(cuStreamDestroy_v2)(CUstream h)
{
	struct fk_stream *s = (struct fk_stream *)h;

	COUNT(cuStreamDestroy_v2);
	NEED_INIT();
	if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD ||
	    s->magic != MAGIC_STREAM || atomic_load(&s->destroyed))
		return CUDA_ERROR_INVALID_HANDLE;
	/* Returns at once; queued work still completes (and is reported). */
	atomic_store(&s->destroyed, true);
	pthread_mutex_lock(&s->mu);
	s->dead = true;
	if (s->worker_waiting)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return CUDA_SUCCESS;
}

static CUresult stream_sync(CUstream h, bool pt)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;

	NEED_INIT();
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	if (atomic_load(&s->capture))
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	sync_wait(stream_target(s));
	return CUDA_SUCCESS;
}

FK_API(cuStreamSynchronize)(CUstream h)
{
	COUNT(cuStreamSynchronize);
	return stream_sync(h, false);
}

FK_API(cuStreamSynchronize_ptsz)(CUstream h)
{
	COUNT(cuStreamSynchronize_ptsz);
	return stream_sync(h, true);
}

static CUresult stream_query(CUstream h, bool pt)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;

	NEED_INIT();
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	if (atomic_load(&s->capture))
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	return now_ns() >= stream_target(s) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

FK_API(cuStreamQuery)(CUstream h)
{
	COUNT(cuStreamQuery);
	return stream_query(h, false);
}

FK_API(cuStreamQuery_ptsz)(CUstream h)
{
	COUNT(cuStreamQuery_ptsz);
	return stream_query(h, true);
}

static CUresult stream_wait_event(CUstream h, CUevent hev, bool pt)
{
	struct fk_event *e = (struct fk_event *)hev;
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	uint64_t t, tail;

	NEED_INIT();
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	if (!e || e->magic != MAGIC_EVENT || atomic_load(&e->destroyed))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!atomic_load(&e->recorded))
		return CUDA_SUCCESS;
	t = atomic_load(&e->time);
	pthread_mutex_lock(&s->mu);
	tail = atomic_load(&s->tail);
	if (t > tail)
		atomic_store(&s->tail, t);
	pthread_mutex_unlock(&s->mu);
	return CUDA_SUCCESS;
}

FK_API(cuStreamWaitEvent)(CUstream h, CUevent e, unsigned int flags)
{
	(void)flags;
	COUNT(cuStreamWaitEvent);
	return stream_wait_event(h, e, false);
}

FK_API(cuStreamWaitEvent_ptsz)(CUstream h, CUevent e, unsigned int flags)
{
	(void)flags;
	COUNT(cuStreamWaitEvent_ptsz);
	return stream_wait_event(h, e, true);
}

static struct fk_graph *graph_new(void)
{
	struct fk_graph *g = calloc(1, sizeof(*g));

	if (g)
		g->magic = MAGIC_GRAPH;
	return g;
}

/* Capture: launches on the stream become nodes of a graph instead of
 * running (copies and memsets are refused). */
static CUresult begin_capture(CUstream h, bool pt)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	struct fk_graph *g, *none = NULL;

	NEED_INIT();
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	if (s->kind == SK_LEGACY)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	g = graph_new();
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!atomic_compare_exchange_strong(&s->capture, &none, g)) {
		free(g);
		return CUDA_ERROR_ILLEGAL_STATE;
	}
	return CUDA_SUCCESS;
}

FK_API(cuStreamBeginCapture)(CUstream h)
{
	COUNT(cuStreamBeginCapture);
	return begin_capture(h, false);
}

FK_API(cuStreamBeginCapture_ptsz)(CUstream h)
{
	COUNT(cuStreamBeginCapture_ptsz);
	return begin_capture(h, true);
}

FK_API(cuStreamBeginCapture_v2)(CUstream h, CUstreamCaptureMode mode)
{
	(void)mode;
	COUNT(cuStreamBeginCapture_v2);
	return begin_capture(h, false);
}

FK_API(cuStreamBeginCapture_v2_ptsz)(CUstream h, CUstreamCaptureMode mode)
{
	(void)mode;
	COUNT(cuStreamBeginCapture_v2_ptsz);
	return begin_capture(h, true);
}

static CUresult end_capture(CUstream h, CUgraph *ph, bool pt)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	struct fk_graph *g;

	NEED_INIT();
	if (!ph)
		return CUDA_ERROR_INVALID_VALUE;
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	g = atomic_exchange(&s->capture, NULL);
	if (!g)
		return CUDA_ERROR_ILLEGAL_STATE;
	*ph = (CUgraph)g;
	return CUDA_SUCCESS;
}

FK_API(cuStreamEndCapture)(CUstream h, CUgraph *ph)
{
	COUNT(cuStreamEndCapture);
	return end_capture(h, ph, false);
}

FK_API(cuStreamEndCapture_ptsz)(CUstream h, CUgraph *ph)
{
	COUNT(cuStreamEndCapture_ptsz);
	return end_capture(h, ph, true);
}

static CUresult is_capturing(CUstream h, CUstreamCaptureStatus *status, bool pt)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;

	NEED_INIT();
	if (!status)
		return CUDA_ERROR_INVALID_VALUE;
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	*status = atomic_load(&s->capture) ? CU_STREAM_CAPTURE_STATUS_ACTIVE
					   : CU_STREAM_CAPTURE_STATUS_NONE;
	return CUDA_SUCCESS;
}

FK_API(cuStreamIsCapturing)(CUstream h, CUstreamCaptureStatus *status)
{
	COUNT(cuStreamIsCapturing);
	return is_capturing(h, status, false);
}

FK_API(cuStreamIsCapturing_ptsz)(CUstream h, CUstreamCaptureStatus *status)
{
	COUNT(cuStreamIsCapturing_ptsz);
	return is_capturing(h, status, true);
}

/* ------------------------------------------------------------------------
 * Events: an event's time is the virtual completion of the work before it
 * on its stream.
 */
static inline bool event_ok(const struct fk_event *e)
{
	return e && e->magic == MAGIC_EVENT && !atomic_load(&e->destroyed);
}

FK_API(cuEventCreate)(CUevent *ph, unsigned int flags)
{
	struct fk_event *e;

	COUNT(cuEventCreate);
	NEED_INIT();
	if (!ph || (flags & ~0xfu))
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx_ok(cur_ctx()))
		return CUDA_ERROR_INVALID_CONTEXT;
	e = calloc(1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->magic = MAGIC_EVENT;
	e->flags = flags;
	*ph = (CUevent)e;
	return CUDA_SUCCESS;
}

FK_API(cuEventDestroy_v2)(CUevent h)
{
	struct fk_event *e = (struct fk_event *)h;

	COUNT(cuEventDestroy_v2);
	NEED_INIT();
	if (!event_ok(e))
		return CUDA_ERROR_INVALID_HANDLE;
	atomic_store(&e->destroyed, true);
	return CUDA_SUCCESS;
}

static CUresult event_record(CUevent h, CUstream hs, bool pt)
{
	struct fk_event *e = (struct fk_event *)h;
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	uint64_t now, t;

	NEED_INIT();
	if (!event_ok(e))
		return CUDA_ERROR_INVALID_HANDLE;
	s = resolve_stream(hs, pt, &rc);
	if (!s)
		return rc;
	if (atomic_load(&s->capture))
		return CUDA_SUCCESS; /* an event node; no time of its own */
	now = now_ns();
	t = stream_target(s);
	if (s->blocking) {
		uint64_t d = implicit_dep(s);

		if (d > t)
			t = d;
	}
	atomic_store(&e->time, t > now ? t : now);
	atomic_store(&e->recorded, true);
	return CUDA_SUCCESS;
}

FK_API(cuEventRecord)(CUevent e, CUstream s)
{
	COUNT(cuEventRecord);
	return event_record(e, s, false);
}

FK_API(cuEventRecord_ptsz)(CUevent e, CUstream s)
{
	COUNT(cuEventRecord_ptsz);
	return event_record(e, s, true);
}

FK_API(cuEventRecordWithFlags)(CUevent e, CUstream s, unsigned int flags)
{
	(void)flags;
	COUNT(cuEventRecordWithFlags);
	return event_record(e, s, false);
}

FK_API(cuEventRecordWithFlags_ptsz)(CUevent e, CUstream s, unsigned int flags)
{
	(void)flags;
	COUNT(cuEventRecordWithFlags_ptsz);
	return event_record(e, s, true);
}

FK_API(cuEventSynchronize)(CUevent h)
{
	struct fk_event *e = (struct fk_event *)h;

	COUNT(cuEventSynchronize);
	NEED_INIT();
	if (!event_ok(e))
		return CUDA_ERROR_INVALID_HANDLE;
	if (atomic_load(&e->recorded))
		sync_wait(atomic_load(&e->time));
	return CUDA_SUCCESS;
}

FK_API(cuEventQuery)(CUevent h)
{
	struct fk_event *e = (struct fk_event *)h;

	COUNT(cuEventQuery);
	NEED_INIT();
	if (!event_ok(e))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!atomic_load(&e->recorded))
		return CUDA_SUCCESS;
	return now_ns() >= atomic_load(&e->time) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

FK_API(cuEventElapsedTime)(float *ms, CUevent hs, CUevent he)
{
	struct fk_event *a = (struct fk_event *)hs, *b = (struct fk_event *)he;
	uint64_t now = now_ns(), ta, tb;

	COUNT(cuEventElapsedTime);
	NEED_INIT();
	if (!ms)
		return CUDA_ERROR_INVALID_VALUE;
	if (!event_ok(a) || !event_ok(b) || !atomic_load(&a->recorded) ||
	    !atomic_load(&b->recorded) || (a->flags & CU_EVENT_DISABLE_TIMING) ||
	    (b->flags & CU_EVENT_DISABLE_TIMING))
		return CUDA_ERROR_INVALID_HANDLE;
	ta = atomic_load(&a->time);
	tb = atomic_load(&b->time);
	if (now < ta || now < tb)
		return CUDA_ERROR_NOT_READY;
	*ms = (float)(((double)tb - (double)ta) / 1e6);
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Launches.
 */
static bool capture_add(struct fk_stream *s, uint64_t ns)
{
	struct fk_graph *g = atomic_load(&s->capture);

	if (!g)
		return false;
	atomic_fetch_add(&g->ns, ns);
	atomic_fetch_add(&g->nodes, 1);
	atomic_fetch_add(&st.launches_captured, 1);
	return true;
}

static CUresult launch(int api, CUfunction hf, unsigned int gx, unsigned int gy, unsigned int gz,
		       unsigned int bx, unsigned int by, unsigned int bz, CUstream h, bool pt,
		       void **params, void **extra)
{
	struct fk_func *f = (struct fk_func *)hf;
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	uint64_t ns;

	NEED_INIT();
	if (!f || f->magic != MAGIC_FUNC)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!gx || !gy || !gz || !bx || !by || !bz)
		return CUDA_ERROR_INVALID_VALUE;
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	ns = launch_ns(params, extra);
	if (cfg.launch_cpu_ns)
		burn_cpu(cfg.launch_cpu_ns);
	if (capture_add(s, ns))
		return CUDA_SUCCESS;
	enqueue(s, OP_KERNEL, api, ns, 0, 0);
	atomic_fetch_add_explicit(&st.launches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.kernel_ns, ns, memory_order_relaxed);
	return CUDA_SUCCESS;
}

FK_API(cuLaunchKernel)(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
		       unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
		       CUstream h, void **params, void **extra)
{
	(void)shmem;
	COUNT(cuLaunchKernel);
	return launch(FK_IDX_cuLaunchKernel, f, gx, gy, gz, bx, by, bz, h, false, params, extra);
}

FK_API(cuLaunchKernel_ptsz)(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
			    unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
			    CUstream h, void **params, void **extra)
{
	(void)shmem;
	COUNT(cuLaunchKernel_ptsz);
	return launch(FK_IDX_cuLaunchKernel_ptsz, f, gx, gy, gz, bx, by, bz, h, true, params,
		      extra);
}

FK_API(cuLaunchKernelEx)(const CUlaunchConfig *c, CUfunction f, void **params, void **extra)
{
	COUNT(cuLaunchKernelEx);
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	return launch(FK_IDX_cuLaunchKernelEx, f, c->gridDimX, c->gridDimY, c->gridDimZ,
		      c->blockDimX, c->blockDimY, c->blockDimZ, c->hStream, false, params, extra);
}

FK_API(cuLaunchKernelEx_ptsz)(const CUlaunchConfig *c, CUfunction f, void **params,
			      void **extra)
{
	COUNT(cuLaunchKernelEx_ptsz);
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	return launch(FK_IDX_cuLaunchKernelEx_ptsz, f, c->gridDimX, c->gridDimY, c->gridDimZ,
		      c->blockDimX, c->blockDimY, c->blockDimZ, c->hStream, true, params, extra);
}

FK_API(cuLaunchCooperativeKernel)(CUfunction f, unsigned int gx, unsigned int gy,
				  unsigned int gz, unsigned int bx, unsigned int by,
				  unsigned int bz, unsigned int shmem, CUstream h, void **params)
{
	(void)shmem;
	COUNT(cuLaunchCooperativeKernel);
	return launch(FK_IDX_cuLaunchCooperativeKernel, f, gx, gy, gz, bx, by, bz, h, false,
		      params, NULL);
}

FK_API(cuLaunchCooperativeKernel_ptsz)(CUfunction f, unsigned int gx, unsigned int gy,
				       unsigned int gz, unsigned int bx, unsigned int by,
				       unsigned int bz, unsigned int shmem, CUstream h,
				       void **params)
{
	(void)shmem;
	COUNT(cuLaunchCooperativeKernel_ptsz);
	return launch(FK_IDX_cuLaunchCooperativeKernel_ptsz, f, gx, gy, gz, bx, by, bz, h, true,
		      params, NULL);
}

/* ------------------------------------------------------------------------
 * Graphs: a graph's launch takes the sum of its kernel nodes' durations
 * (nodes run one after the other, whatever their dependencies), or what
 * fakecuda_graph(_exec)_set_duration said.
 */
static inline bool graph_ok(const struct fk_graph *g)
{
	return g && g->magic == MAGIC_GRAPH && !g->destroyed;
}

FK_API(cuGraphCreate)(CUgraph *ph, unsigned int flags)
{
	struct fk_graph *g;

	COUNT(cuGraphCreate);
	NEED_INIT();
	if (!ph || flags)
		return CUDA_ERROR_INVALID_VALUE;
	g = graph_new();
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*ph = (CUgraph)g;
	return CUDA_SUCCESS;
}

FK_API(cuGraphDestroy)(CUgraph h)
{
	struct fk_graph *g = (struct fk_graph *)h;

	COUNT(cuGraphDestroy);
	NEED_INIT();
	if (!graph_ok(g))
		return CUDA_ERROR_INVALID_VALUE;
	g->destroyed = true;
	return CUDA_SUCCESS;
}

static CUresult add_kernel_node(CUgraphNode *ph, CUgraph h, CUfunction hf, void **params,
				void **extra)
{
	struct fk_graph *g = (struct fk_graph *)h;
	struct fk_func *f = (struct fk_func *)hf;
	struct fk_gnode *n;

	NEED_INIT();
	if (!ph || !graph_ok(g))
		return CUDA_ERROR_INVALID_VALUE;
	if (!f || f->magic != MAGIC_FUNC)
		return CUDA_ERROR_INVALID_HANDLE;
	n = calloc(1, sizeof(*n));
	if (!n)
		return CUDA_ERROR_OUT_OF_MEMORY;
	n->magic = MAGIC_GNODE;
	n->ns = launch_ns(params, extra);
	atomic_fetch_add(&g->ns, n->ns);
	atomic_fetch_add(&g->nodes, 1);
	*ph = (CUgraphNode)n;
	return CUDA_SUCCESS;
}

FK_API(cuGraphAddKernelNode)(CUgraphNode *ph, CUgraph g, const CUgraphNode *deps, size_t ndeps,
			     const CUDA_KERNEL_NODE_PARAMS *p)
{
	(void)deps;
	(void)ndeps;
	COUNT(cuGraphAddKernelNode);
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	return add_kernel_node(ph, g, p->func, p->kernelParams, p->extra);
}

FK_API(cuGraphAddKernelNode_v2)(CUgraphNode *ph, CUgraph g, const CUgraphNode *deps,
				size_t ndeps, const CUDA_KERNEL_NODE_PARAMS_v2 *p)
{
	(void)deps;
	(void)ndeps;
	COUNT(cuGraphAddKernelNode_v2);
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	return add_kernel_node(ph, g, p->func, p->kernelParams, p->extra);
}

static CUresult instantiate(CUgraphExec *ph, CUgraph h)
{
	struct fk_graph *g = (struct fk_graph *)h;
	struct fk_gexec *x;

	NEED_INIT();
	if (!ph || !graph_ok(g))
		return CUDA_ERROR_INVALID_VALUE;
	x = calloc(1, sizeof(*x));
	if (!x)
		return CUDA_ERROR_OUT_OF_MEMORY;
	x->magic = MAGIC_GEXEC;
	x->ns = atomic_load(&g->ns);
	x->nodes = atomic_load(&g->nodes);
	*ph = (CUgraphExec)x;
	return CUDA_SUCCESS;
}

FK_API(cuGraphInstantiate)(CUgraphExec *ph, CUgraph g, CUgraphNode *err, char *log, size_t n)
{
	(void)err;
	COUNT(cuGraphInstantiate);
	if (log && n)
		log[0] = 0;
	return instantiate(ph, g);
}

FK_API(cuGraphInstantiate_v2)(CUgraphExec *ph, CUgraph g, CUgraphNode *err, char *log,
			      size_t n)
{
	(void)err;
	COUNT(cuGraphInstantiate_v2);
	if (log && n)
		log[0] = 0;
	return instantiate(ph, g);
}

FK_API(cuGraphInstantiateWithFlags)(CUgraphExec *ph, CUgraph g, unsigned long long flags)
{
	(void)flags;
	COUNT(cuGraphInstantiateWithFlags);
	return instantiate(ph, g);
}

FK_API(cuGraphExecDestroy)(CUgraphExec h)
{
	struct fk_gexec *x = (struct fk_gexec *)h;

	COUNT(cuGraphExecDestroy);
	NEED_INIT();
	if (!x || x->magic != MAGIC_GEXEC || x->destroyed)
		return CUDA_ERROR_INVALID_VALUE;
	x->destroyed = true;
	return CUDA_SUCCESS;
}

static CUresult graph_launch(int api, CUgraphExec h, CUstream hs, bool pt)
{
	struct fk_gexec *x = (struct fk_gexec *)h;
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	uint64_t ns;

	NEED_INIT();
	if (!x || x->magic != MAGIC_GEXEC || x->destroyed)
		return CUDA_ERROR_INVALID_VALUE;
	s = resolve_stream(hs, pt, &rc);
	if (!s)
		return rc;
	ns = atomic_load(&x->ns);
	if (capture_add(s, ns))
		return CUDA_SUCCESS;
	enqueue(s, OP_GRAPH, api, ns, 0, 0);
	atomic_fetch_add_explicit(&st.graph_launches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.graph_ns, ns, memory_order_relaxed);
	return CUDA_SUCCESS;
}

FK_API(cuGraphLaunch)(CUgraphExec x, CUstream s)
{
	COUNT(cuGraphLaunch);
	return graph_launch(FK_IDX_cuGraphLaunch, x, s, false);
}

FK_API(cuGraphLaunch_ptsz)(CUgraphExec x, CUstream s)
{
	COUNT(cuGraphLaunch_ptsz);
	return graph_launch(FK_IDX_cuGraphLaunch_ptsz, x, s, true);
}

FK_EXPORT CUresult fakecuda_graph_set_duration(CUgraph h, unsigned long long ns)
{
	struct fk_graph *g = (struct fk_graph *)h;

	if (!graph_ok(g))
		return CUDA_ERROR_INVALID_VALUE;
	atomic_store(&g->ns, ns);
	return CUDA_SUCCESS;
}

FK_EXPORT CUresult fakecuda_graph_exec_set_duration(CUgraphExec h, unsigned long long ns)
{
	struct fk_gexec *x = (struct fk_gexec *)h;

	if (!x || x->magic != MAGIC_GEXEC || x->destroyed)
		return CUDA_ERROR_INVALID_VALUE;
	atomic_store(&x->ns, ns);
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Memory.
 */
FK_API(cuMemAlloc_v2)(CUdeviceptr *dptr, size_t bytes)
{
	COUNT(cuMemAlloc_v2);
	NEED_INIT();
	return mem_alloc(dptr, bytes);
}

FK_API(cuMemAllocManaged)(CUdeviceptr *dptr, size_t bytes, unsigned int flags)
{
	COUNT(cuMemAllocManaged);
	NEED_INIT();
	if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST)
		return CUDA_ERROR_INVALID_VALUE;
	return mem_alloc(dptr, bytes);
}

/* Stream-ordered allocation: the memory is usable at once here, which is
 * what a program that respects stream order can observe. */
static CUresult alloc_async(CUdeviceptr *dptr, size_t bytes, CUstream h, bool pt)
{
	CUresult rc = CUDA_SUCCESS;

	NEED_INIT();
	if (!resolve_stream(h, pt, &rc))
		return rc;
	return mem_alloc(dptr, bytes);
}

FK_API(cuMemAllocAsync)(CUdeviceptr *dptr, size_t bytes, CUstream h)
{
	COUNT(cuMemAllocAsync);
	return alloc_async(dptr, bytes, h, false);
}

FK_API(cuMemAllocAsync_ptsz)(CUdeviceptr *dptr, size_t bytes, CUstream h)
{
	COUNT(cuMemAllocAsync_ptsz);
	return alloc_async(dptr, bytes, h, true);
}

FK_API(cuMemFree_v2)(CUdeviceptr dptr)
{
	COUNT(cuMemFree_v2);
	NEED_INIT();
	return mem_free(dptr);
}

static CUresult free_async(CUdeviceptr dptr, CUstream h, bool pt)
{
	CUresult rc = CUDA_SUCCESS;

	NEED_INIT();
	if (!resolve_stream(h, pt, &rc))
		return rc;
	return mem_free(dptr);
}

FK_API(cuMemFreeAsync)(CUdeviceptr dptr, CUstream h)
{
	COUNT(cuMemFreeAsync);
	return free_async(dptr, h, false);
}

FK_API(cuMemFreeAsync_ptsz)(CUdeviceptr dptr, CUstream h)
{
	COUNT(cuMemFreeAsync_ptsz);
	return free_async(dptr, h, true);
}

FK_API(cuMemGetInfo_v2)(size_t *freeb, size_t *total)
{
	struct fk_ctx *c = cur_ctx();
	uint64_t used;

	COUNT(cuMemGetInfo_v2);
	NEED_INIT();
	if (!freeb || !total)
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx_ok(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	used = atomic_load(&g_dev_used[c->dev]);
	*total = cfg.mem_bytes;
	*freeb = used < cfg.mem_bytes ? cfg.mem_bytes - used : 0;
	return CUDA_SUCCESS;
}

/* A copy: the bytes move now, in the calling thread (device memory is
 * host memory); the copy takes bytes / FAKECUDA_COPY_GBPS on the stream's
 * timeline from the call on, or as long as the host memmove really took if
 * that was longer, so that the truth never ends before the call could
 * return. Synchronous copies return at the virtual end. */
static CUresult copy(int api, enum copy_dir dir, void *dst, const void *src, size_t n,
		     CUstream h, bool pt, bool sync)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	uint64_t t0 = now_ns(), ns, end, moved;

	NEED_INIT();
	if (n && (!dst || !src))
		return CUDA_ERROR_INVALID_VALUE;
	if ((dir == DIR_HTOD || dir == DIR_DTOD) && n && !dev_range((uintptr_t)dst, n))
		return CUDA_ERROR_INVALID_VALUE;
	if ((dir == DIR_DTOH || dir == DIR_DTOD) && n && !dev_range((uintptr_t)src, n))
		return CUDA_ERROR_INVALID_VALUE;
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	if (atomic_load(&s->capture))
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	if (n)
		memmove(dst, src, n);
	ns = copy_ns(n);
	moved = now_ns() - t0;
	if (moved > ns)
		ns = moved;
	end = enqueue_at(s, t0, OP_MEMCPY, api, ns, n, dir);
	atomic_fetch_add_explicit(&st.copy_calls[dir], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.copy_bytes[dir], n, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.copy_ns, ns, memory_order_relaxed);
	if (sync)
		sync_wait(end);
	return CUDA_SUCCESS;
}

/* cuMemcpy/cuMemcpyAsync: unified addressing decides the direction. */
static enum copy_dir unified_dir(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	bool d = dev_range((uintptr_t)dst, n), s = dev_range((uintptr_t)src, n);

	return d ? (s ? DIR_DTOD : DIR_HTOD) : (s ? DIR_DTOH : DIR_HTOH);
}

#define PTR(x) ((void *)(uintptr_t)(x))

FK_API(cuMemcpy)(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	COUNT(cuMemcpy);
	return copy(FK_IDX_cuMemcpy, unified_dir(dst, src, n), PTR(dst), PTR(src), n, NULL, false,
		    true);
}

FK_API(cuMemcpy_ptds)(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	COUNT(cuMemcpy_ptds);
	return copy(FK_IDX_cuMemcpy_ptds, unified_dir(dst, src, n), PTR(dst), PTR(src), n, NULL,
		    true, true);
}

FK_API(cuMemcpyAsync)(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{
	COUNT(cuMemcpyAsync);
	return copy(FK_IDX_cuMemcpyAsync, unified_dir(dst, src, n), PTR(dst), PTR(src), n, h,
		    false, false);
}

FK_API(cuMemcpyAsync_ptsz)(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{
	COUNT(cuMemcpyAsync_ptsz);
	return copy(FK_IDX_cuMemcpyAsync_ptsz, unified_dir(dst, src, n), PTR(dst), PTR(src), n, h,
		    true, false);
}

FK_API(cuMemcpyHtoD_v2)(CUdeviceptr dst, const void *src, size_t n)
{
	COUNT(cuMemcpyHtoD_v2);
	return copy(FK_IDX_cuMemcpyHtoD_v2, DIR_HTOD, PTR(dst), src, n, NULL, false, true);
}

FK_API(cuMemcpyHtoD_v2_ptds)(CUdeviceptr dst, const void *src, size_t n)
{
	COUNT(cuMemcpyHtoD_v2_ptds);
	return copy(FK_IDX_cuMemcpyHtoD_v2_ptds, DIR_HTOD, PTR(dst), src, n, NULL, true, true);
}

FK_API(cuMemcpyDtoH_v2)(void *dst, CUdeviceptr src, size_t n)
{
	COUNT(cuMemcpyDtoH_v2);
	return copy(FK_IDX_cuMemcpyDtoH_v2, DIR_DTOH, dst, PTR(src), n, NULL, false, true);
}

FK_API(cuMemcpyDtoH_v2_ptds)(void *dst, CUdeviceptr src, size_t n)
{
	COUNT(cuMemcpyDtoH_v2_ptds);
	return copy(FK_IDX_cuMemcpyDtoH_v2_ptds, DIR_DTOH, dst, PTR(src), n, NULL, true, true);
}

FK_API(cuMemcpyDtoD_v2)(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	COUNT(cuMemcpyDtoD_v2);
	return copy(FK_IDX_cuMemcpyDtoD_v2, DIR_DTOD, PTR(dst), PTR(src), n, NULL, false, true);
}

FK_API(cuMemcpyDtoD_v2_ptds)(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	COUNT(cuMemcpyDtoD_v2_ptds);
	return copy(FK_IDX_cuMemcpyDtoD_v2_ptds, DIR_DTOD, PTR(dst), PTR(src), n, NULL, true, true);
}

FK_API(cuMemcpyHtoDAsync_v2)(CUdeviceptr dst, const void *src, size_t n, CUstream h)
{
	COUNT(cuMemcpyHtoDAsync_v2);
	return copy(FK_IDX_cuMemcpyHtoDAsync_v2, DIR_HTOD, PTR(dst), src, n, h, false, false);
}

FK_API(cuMemcpyHtoDAsync_v2_ptsz)(CUdeviceptr dst, const void *src, size_t n, CUstream h)
{
	COUNT(cuMemcpyHtoDAsync_v2_ptsz);
	return copy(FK_IDX_cuMemcpyHtoDAsync_v2_ptsz, DIR_HTOD, PTR(dst), src, n, h, true, false);
}

FK_API(cuMemcpyDtoHAsync_v2)(void *dst, CUdeviceptr src, size_t n, CUstream h)
{
	COUNT(cuMemcpyDtoHAsync_v2);
	return copy(FK_IDX_cuMemcpyDtoHAsync_v2, DIR_DTOH, dst, PTR(src), n, h, false, false);
}

FK_API(cuMemcpyDtoHAsync_v2_ptsz)(void *dst, CUdeviceptr src, size_t n, CUstream h)
{
	COUNT(cuMemcpyDtoHAsync_v2_ptsz);
	return copy(FK_IDX_cuMemcpyDtoHAsync_v2_ptsz, DIR_DTOH, dst, PTR(src), n, h, true, false);
}

FK_API(cuMemcpyDtoDAsync_v2)(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{
	COUNT(cuMemcpyDtoDAsync_v2);
	return copy(FK_IDX_cuMemcpyDtoDAsync_v2, DIR_DTOD, PTR(dst), PTR(src), n, h, false, false);
}

FK_API(cuMemcpyDtoDAsync_v2_ptsz)(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{
	COUNT(cuMemcpyDtoDAsync_v2_ptsz);
	return copy(FK_IDX_cuMemcpyDtoDAsync_v2_ptsz, DIR_DTOD, PTR(dst), PTR(src), n, h, true,
		    false);
}

/* Memsets take bytes / FAKECUDA_COPY_GBPS too (or the real memset time). */
static CUresult memset_op(int api, CUdeviceptr dst, unsigned int val, size_t n, size_t width,
			  CUstream h, bool pt, bool sync)
{
	CUresult rc = CUDA_SUCCESS;
	struct fk_stream *s;
	size_t bytes = n * width;
	uint64_t t0 = now_ns(), ns, end, moved;

	NEED_INIT();
	if (n && (n > SIZE_MAX / width || !dev_range((uintptr_t)dst, bytes)))
		return CUDA_ERROR_INVALID_VALUE;
	s = resolve_stream(h, pt, &rc);
	if (!s)
		return rc;
	if (atomic_load(&s->capture))
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	if (width == 1) {
		memset(PTR(dst), (int)(val & 0xff), n);
	} else {
		uint32_t *p = PTR(dst);

		for (size_t i = 0; i < n; i++)
			p[i] = val;
	}
	ns = copy_ns(bytes);
	moved = now_ns() - t0;
	if (moved > ns)
		ns = moved;
	end = enqueue_at(s, t0, OP_MEMSET, api, ns, bytes, 0);
	atomic_fetch_add_explicit(&st.memset_calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.memset_bytes, bytes, memory_order_relaxed);
	if (sync)
		sync_wait(end);
	return CUDA_SUCCESS;
}

FK_API(cuMemsetD8_v2)(CUdeviceptr dst, unsigned char uc, size_t n)
{
	COUNT(cuMemsetD8_v2);
	return memset_op(FK_IDX_cuMemsetD8_v2, dst, uc, n, 1, NULL, false, true);
}

FK_API(cuMemsetD8_v2_ptds)(CUdeviceptr dst, unsigned char uc, size_t n)
{
	COUNT(cuMemsetD8_v2_ptds);
	return memset_op(FK_IDX_cuMemsetD8_v2_ptds, dst, uc, n, 1, NULL, true, true);
}

FK_API(cuMemsetD32_v2)(CUdeviceptr dst, unsigned int ui, size_t n)
{
	COUNT(cuMemsetD32_v2);
	return memset_op(FK_IDX_cuMemsetD32_v2, dst, ui, n, 4, NULL, false, true);
}

FK_API(cuMemsetD32_v2_ptds)(CUdeviceptr dst, unsigned int ui, size_t n)
{
	COUNT(cuMemsetD32_v2_ptds);
	return memset_op(FK_IDX_cuMemsetD32_v2_ptds, dst, ui, n, 4, NULL, true, true);
}

FK_API(cuMemsetD8Async)(CUdeviceptr dst, unsigned char uc, size_t n, CUstream h)
{
	COUNT(cuMemsetD8Async);
	return memset_op(FK_IDX_cuMemsetD8Async, dst, uc, n, 1, h, false, false);
}

FK_API(cuMemsetD8Async_ptsz)(CUdeviceptr dst, unsigned char uc, size_t n, CUstream h)
{
	COUNT(cuMemsetD8Async_ptsz);
	return memset_op(FK_IDX_cuMemsetD8Async_ptsz, dst, uc, n, 1, h, true, false);
}

/* ------------------------------------------------------------------------
 * Exit: write what completed, cut what was running at exit time (marked
 * "truncated"), count what had not started, then the summary line.
 */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap : 4096);
		while (ncap <= b->len + (size_t)n)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (!np)
			return;
		b->p = np;
		b->cap = ncap;
	}
}

static void flush_stream_at_exit(struct fk_stream *s, uint64_t now, struct sbuf *b)
{
	pthread_mutex_lock(&s->mu);
	pthread_mutex_lock(&g_truth_mu);
	b->len = 0;
	for (uint32_t i = 0; i < s->qlen; i++) {
		const struct fk_op *o = &s->q[(s->qhead + i) % s->qcap];
		char line[LINE_MAX_LEN];
		int n;

		if (o->end <= now) {
			n = fmt_op(line, sizeof(line), s, o, o->end, false);
		} else if (o->start < now) {
			n = fmt_op(line, sizeof(line), s, o, now, true);
			atomic_fetch_add(&st.truncated, 1);
		} else {
			atomic_fetch_add(&st.dropped, 1);
			continue;
		}
		sb_printf(b, "%.*s", n, line);
		if (b->len > 60000) {
			write_all(g_truth_fd, b->p, b->len);
			b->len = 0;
		}
	}
	if (b->len)
		write_all(g_truth_fd, b->p, b->len);
	s->qlen = 0;
	s->flushed = true;
	if (s->worker_waiting)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&g_truth_mu);
	pthread_mutex_unlock(&s->mu);
}

static void fk_atexit(void)
{
	struct sbuf b = { 0 };
	uint64_t now;
	bool first;

	if (!atomic_load(&g_inited) || atomic_exchange(&g_exiting, true) || g_truth_fd < 0)
		return;
	now = now_ns();
	for (struct fk_stream *s = atomic_load(&g_streams); s; s = s->all_next)
		flush_stream_at_exit(s, now, &b);

	b.len = 0;
	sb_printf(&b,
		  "{\"type\":\"summary\",\"pid\":%d,\"time_ns\":%" PRIu64 ",\"launches\":%" PRIu64
		  ",\"launches_captured\":%" PRIu64 ",\"graph_launches\":%" PRIu64
		  ",\"kernel_ns\":%" PRIu64 ",\"graph_ns\":%" PRIu64 ",\"memcpy\":{",
		  g_pid, now, atomic_load(&st.launches), atomic_load(&st.launches_captured),
		  atomic_load(&st.graph_launches), atomic_load(&st.kernel_ns),
		  atomic_load(&st.graph_ns));
	for (int d = 0; d < DIR_N; d++)
		sb_printf(&b, "%s\"%s\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
			  d ? "," : "", dir_names[d], atomic_load(&st.copy_calls[d]),
			  atomic_load(&st.copy_bytes[d]));
	sb_printf(&b,
		  "},\"memcpy_ns\":%" PRIu64 ",\"memset\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64
		  "},\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"alloc_bytes\":%" PRIu64
		  ",\"free_bytes\":%" PRIu64 ",\"mem_bytes\":%" PRIu64 ",\"mem_peak_bytes\":%" PRIu64
		  ",\"ops\":%" PRIu64 ",\"busy_ns\":%" PRIu64 ",\"truncated\":%" PRIu64
		  ",\"dropped\":%" PRIu64 ",\"syncs\":%" PRIu64 ",\"sync_wait_ns\":%" PRIu64
		  ",\"contexts\":[",
		  atomic_load(&st.copy_ns), atomic_load(&st.memset_calls),
		  atomic_load(&st.memset_bytes), atomic_load(&st.allocs), atomic_load(&st.frees),
		  atomic_load(&st.alloc_bytes), atomic_load(&st.free_bytes),
		  atomic_load(&st.mem_cur), atomic_load(&st.mem_peak), atomic_load(&st.ops),
		  atomic_load(&st.busy_ns), atomic_load(&st.truncated), atomic_load(&st.dropped),
		  atomic_load(&st.syncs), atomic_load(&st.sync_wait_ns));
	first = true;
	for (struct fk_ctx *c = atomic_load(&g_ctxs); c; c = c->all_next) {
		sb_printf(&b,
			  "%s{\"ctx\":%u,\"device\":%d,\"primary\":%s,\"allocs\":%" PRIu64
			  ",\"frees\":%" PRIu64 ",\"mem_bytes\":%" PRIu64
			  ",\"mem_peak_bytes\":%" PRIu64 "}",
			  first ? "" : ",", c->id, c->dev, c->primary ? "true" : "false",
			  atomic_load(&c->allocs), atomic_load(&c->frees),
			  atomic_load(&c->mem_cur), atomic_load(&c->mem_peak));
		first = false;
	}
	sb_printf(&b, "],\"calls\":{");
	first = true;
	for (int i = 0; i < FK_NSYMS; i++) {
		uint64_t n = atomic_load(&g_calls[i]);

		if (!n)
			continue;
		sb_printf(&b, "%s\"%s\":%" PRIu64, first ? "" : ",", fk_sym_names[i], n);
		first = false;
	}
	sb_printf(&b, "}}\n");
	pthread_mutex_lock(&g_truth_mu);
	if (b.p)
		write_all(g_truth_fd, b.p, b.len);
	pthread_mutex_unlock(&g_truth_mu);
	free(b.p);
}

__attribute__((constructor)) static void fk_ctor(void)
{
	g_pid = getpid();
	config_read();
	atexit(fk_atexit);
}

/* ------------------------------------------------------------------------
 * The exported entry points.
 *
 * Every symbol in fakecuda_syms.h is exported under its NVIDIA name and
 * leads to fk_impl_<name>. Its first bytes copy the shape of a real
 * driver's entry point, so that probe-site selection (which instruction a
 * uprobe goes on) is exercised here as on the real thing:
 *
 * FK_STUB=535: NVIDIA 535's stub, byte for byte but for the displacements
 * (checked against libcuda.so.535.309.01: 30-byte symbols):
 *      +0x00  cmp DWORD PTR [rip+X], 0x321cba00   (10 bytes)
 *      +0x0a  je +0xc                              (2 bytes)
 *      +0x0c  jmp QWORD PTR [rip+Y]                (6 bytes)
 *      +0x12  6-byte nop
 *      +0x18  mov eax, 4; ret                      (CUDA_ERROR_DEINITIALIZED)
 * FK_STUB=580: NVIDIA 580's prologue: push rbp; mov rbp,rsp; push r12;
 *      sub rsp,8; cmp DWORD PTR [rip+X],0x321cba00; je ...; then (here)
 *      the epilogue and a jmp through the table
 * FK_STUB=0: the compiled C function itself (an alias of fk_impl_<name>)
 */
#define FK_CHECK_SIG(s)                                                                    \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&fk_impl_##s), __typeof__(&s)), \
		       #s ": implementation and cuda.h signatures differ");

#define FK_SYM(s, b, v, p) FK_CHECK_SIG(s)
#include "fakecuda_syms.h"
#undef FK_SYM

#define FK_PTR(s)                                        \
	"\t.pushsection .data.rel.ro,\"aw\",@progbits\n" \
	"\t.p2align 3\n"                                 \
	"fk_ptr_" #s ":\n"                               \
	"\t.quad fk_impl_" #s "\n"                       \
	"\t.popsection\n"

#if FK_STUB == 535
#define FK_SYM(s, b, v, p)                                      \
	__asm__("\t.text\n"                                     \
		"\t.globl " #s "\n"                             \
		"\t.type " #s ", @function\n"                   \
		"\t.p2align 4\n" #s ":\n"                       \
		"\tcmpl $0x321cba00, fk_gate(%rip)\n"           \
		"\tje 1f\n"                                     \
		"\tjmp *fk_ptr_" #s "(%rip)\n"                  \
		"\t.byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00\n" \
		"1:\tmov $4, %eax\n"                            \
		"\tret\n"                                       \
		"\t.size " #s ", . - " #s "\n" FK_PTR(s));
#include "fakecuda_syms.h"
#undef FK_SYM
#elif FK_STUB == 580
#define FK_SYM(s, b, v, p)                                \
	__asm__("\t.text\n"                               \
		"\t.globl " #s "\n"                       \
		"\t.type " #s ", @function\n"             \
		"\t.p2align 4\n" #s ":\n"                 \
		"\tpush %rbp\n"                           \
		"\tmov %rsp, %rbp\n"                      \
		"\tpush %r12\n"                           \
		"\tsub $8, %rsp\n"                        \
		"\tcmpl $0x321cba00, fk_gate(%rip)\n"     \
		"\tje 1f\n"                               \
		"\tadd $8, %rsp\n"                        \
		"\tpop %r12\n"                            \
		"\tpop %rbp\n"                            \
		"\tjmp *fk_ptr_" #s "(%rip)\n"            \
		"1:\tadd $8, %rsp\n"                      \
		"\tpop %r12\n"                            \
		"\tpop %rbp\n"                            \
		"\tjmp *fk_ptr_" #s "(%rip)\n"            \
		"\t.size " #s ", . - " #s "\n" FK_PTR(s));
#include "fakecuda_syms.h"
#undef FK_SYM
#elif FK_STUB == 0
#define FK_SYM(s, b, v, p) \
	extern __typeof__(fk_impl_##s) s __attribute__((alias("fk_impl_" #s), visibility("default")));
#include "fakecuda_syms.h"
#undef FK_SYM
#else
#error "FK_STUB must be 535, 580 or 0"
#endif

// SPDX-License-Identifier: MIT
/*
 * workload: drives the CUDA driver API the way the tests of infertrace's
 * GPU probes need, and prints as one JSON line what it did (every driver
 * call by exported symbol, launches, bytes copied by direction,
 * allocations, timings), so that a test can compare it with what the agent
 * reported and with the fake driver's ground truth.
 *
 * Each kernel launch passes its duration in nanoseconds as kernelParams[0]
 * (a pointer to a uint64_t): fakecuda runs it for that long. Against a real
 * driver (--no-init --ignore-errors) the calls still reach the entry points
 * the probes watch, and fail.
 *
 * Run `workload --help` for the options.
 */
#include "fakecuda.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSEC 1000000000ULL

/* The symbols this program may call: indices for counters and, with
 * --calls=procaddr, for the pointers cuGetProcAddress_v2 returned. */
enum sym {
#define FK_SYM(s, b, v, p) S_##s,
#include "fakecuda_syms.h"
#undef FK_SYM
	S_N
};

static const struct {
	const char *name, *base;
	int version;
	bool pt;
} syms[S_N] = {
#define FK_SYM(s, b, v, p) { #s, #b, v, p },
#include "fakecuda_syms.h"
#undef FK_SYM
};

static void *fp[S_N];
static _Atomic uint64_t ncalls[S_N];

enum sync_mode { SYNC_STREAM, SYNC_CTX, SYNC_EVENT, SYNC_QUERY };
enum graph_build { GB_NODES, GB_CAPTURE, GB_SETTER };
enum dir { D_HTOD, D_DTOH, D_DTOD, D_ALL };
enum alloc_api { A_SYNC, A_ASYNC, A_MANAGED, A_MIX };
enum launch_api { L_KERNEL, L_EX, L_COOP, L_MIX };

static struct {
	bool procaddr, ptsz, final_sync, copy_async, copy_check, alloc_keep, wait_stdin;
	bool no_init, ignore_errors, ctx_create, quiet;
	enum launch_api api;
	enum sync_mode sync;
	enum graph_build graph_build;
	enum dir copy_dir;
	enum alloc_api alloc_api;
	int threads, streams, graph_nodes;
	long launches, sync_every, graphs, copies, allocs;
	uint64_t duration_ns, gap_ns, graph_node_ns, hold_ns, exit_after_ns;
	size_t copy_bytes, alloc_bytes;
	const char *exit_mid_span;
	unsigned int grid[3], block[3];
} o = {
	.final_sync = true,
	.threads = 1,
	.streams = 1,
	.launches = 100,
	.duration_ns = 1000000,
	.graph_nodes = 4,
	.graph_node_ns = 250000,
	.copy_bytes = 1 << 20,
	.copy_dir = D_ALL,
	.alloc_bytes = 1 << 20,
	.grid = { 1, 1, 1 },
	.block = { 128, 1, 1 },
};

static CUcontext g_ctx;
static CUfunction g_fn;

static struct {
	_Atomic uint64_t launches, launches_captured, kernel_ns, graph_launches, graph_ns;
	_Atomic uint64_t copy_calls[3], copy_bytes[3], memset_calls, memset_bytes;
	_Atomic uint64_t allocs, frees, alloc_bytes, mem_cur, mem_peak;
	_Atomic uint64_t syncs, not_ready, errors, check_failures;
} w;

static pthread_mutex_t g_lat_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *g_lat;
static size_t g_nlat, g_lat_cap;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC), .tv_nsec = (long)(ns % NSEC) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Call an entry point by its exported name: directly (through the PLT), or
 * through the pointer cuGetProcAddress_v2 returned for it. */
#define CALL(sym, ...)                                                               \
	(atomic_fetch_add_explicit(&ncalls[S_##sym], 1, memory_order_relaxed),       \
	 !o.procaddr ? sym(__VA_ARGS__)                                              \
	 : fp[S_##sym] ? ((__typeof__(&sym))fp[S_##sym])(__VA_ARGS__)                \
		       : CUDA_ERROR_NOT_FOUND)

/* The legacy or the per-thread-default-stream variant, as --ptsz says. */
#define CALLPT(sym, ...) (o.ptsz ? CALL(sym##_ptsz, __VA_ARGS__) : CALL(sym, __VA_ARGS__))
#define CALLPD(sym, ...) (o.ptsz ? CALL(sym##_ptds, __VA_ARGS__) : CALL(sym, __VA_ARGS__))

static bool check(CUresult rc, const char *what)
{
	if (rc == CUDA_SUCCESS)
		return true;
	atomic_fetch_add(&w.errors, 1);
	if (!o.quiet || !o.ignore_errors)
		fprintf(stderr, "workload: %s: CUresult %d\n", what, (int)rc);
	if (!o.ignore_errors)
		exit(2);
	return false;
}

static void mem_account(int64_t delta)
{
	uint64_t cur = atomic_fetch_add(&w.mem_cur, (uint64_t)delta) + (uint64_t)delta;
	uint64_t old = atomic_load(&w.mem_peak);

	while (cur > old && !atomic_compare_exchange_weak(&w.mem_peak, &old, cur))
		;
}

static CUdeviceptr dev_alloc(size_t bytes, CUstream s, int which)
{
	CUdeviceptr p = 0;
	CUresult rc;

	if (which == A_ASYNC)
		rc = CALLPT(cuMemAllocAsync, &p, bytes, s);
	else if (which == A_MANAGED)
		rc = CALL(cuMemAllocManaged, &p, bytes, CU_MEM_ATTACH_GLOBAL);
	else
		rc = CALL(cuMemAlloc_v2, &p, bytes);
	if (check(rc, "allocation")) {
		atomic_fetch_add(&w.allocs, 1);
		atomic_fetch_add(&w.alloc_bytes, bytes);
		mem_account((int64_t)bytes);
	}
	return p;
}

static void dev_free(CUdeviceptr p, size_t bytes, CUstream s, int which)
{
	CUresult rc;

	if (which == A_ASYNC)
		rc = CALLPT(cuMemFreeAsync, p, s);
	else
		rc = CALL(cuMemFree_v2, p);
	if (check(rc, "free") && p) {
		atomic_fetch_add(&w.frees, 1);
		mem_account(-(int64_t)bytes);
	}
}

static void launch_one(long i, CUstream s, uint64_t ns, bool captured)
{
	uint64_t dur = ns;
	void *params[] = { &dur };
	enum launch_api api = o.api == L_MIX ? (enum launch_api)(i % 3) : o.api;
	uint64_t t0 = now_ns(), t1;
	CUresult rc;

	if (api == L_EX) {
		CUlaunchConfig cfg = {
			.gridDimX = o.grid[0], .gridDimY = o.grid[1], .gridDimZ = o.grid[2],
			.blockDimX = o.block[0], .blockDimY = o.block[1], .blockDimZ = o.block[2],
			.hStream = s,
		};
		rc = CALLPT(cuLaunchKernelEx, &cfg, g_fn, params, NULL);
	} else if (api == L_COOP) {
		rc = CALLPT(cuLaunchCooperativeKernel, g_fn, o.grid[0], o.grid[1], o.grid[2],
			    o.block[0], o.block[1], o.block[2], 0, s, params);
	} else {
		rc = CALLPT(cuLaunchKernel, g_fn, o.grid[0], o.grid[1], o.grid[2], o.block[0],
			    o.block[1], o.block[2], 0, s, params, NULL);
	}
	t1 = now_ns();
	if (!check(rc, "launch"))
		return;
	if (captured) {
		atomic_fetch_add(&w.launches_captured, 1);
		return;
	}
	atomic_fetch_add(&w.launches, 1);
	atomic_fetch_add(&w.kernel_ns, ns);
	pthread_mutex_lock(&g_lat_mu);
	if (g_nlat < g_lat_cap)
		g_lat[g_nlat++] = t1 - t0;
	pthread_mutex_unlock(&g_lat_mu);
}

static void sync_streams(CUstream *st, CUevent *ev, int n)
{
	atomic_fetch_add(&w.syncs, 1);
	switch (o.sync) {
	case SYNC_CTX:
		check(CALL(cuCtxSynchronize), "cuCtxSynchronize");
		break;
	case SYNC_EVENT:
		for (int j = 0; j < n; j++) {
			check(CALLPT(cuEventRecord, ev[j], st[j]), "cuEventRecord");
			check(CALL(cuEventSynchronize, ev[j]), "cuEventSynchronize");
		}
		break;
	case SYNC_QUERY:
		for (int j = 0; j < n; j++) {
			CUresult rc;

			while ((rc = CALLPT(cuStreamQuery, st[j])) == CUDA_ERROR_NOT_READY) {
				atomic_fetch_add(&w.not_ready, 1);
				sleep_ns(100000);
			}
			check(rc, "cuStreamQuery");
		}
		break;
	default:
		for (int j = 0; j < n; j++)
			check(CALLPT(cuStreamSynchronize, st[j]), "cuStreamSynchronize");
	}
}

static CUgraphExec build_graph(CUstream s)
{
	CUgraph g = NULL;
	CUgraphExec x = NULL;

	if (o.graph_build == GB_CAPTURE) {
		check(CALLPT(cuStreamBeginCapture_v2, s, CU_STREAM_CAPTURE_MODE_GLOBAL),
		      "cuStreamBeginCapture_v2");
		for (int k = 0; k < o.graph_nodes; k++)
			launch_one(0, s, o.graph_node_ns, true);
		check(CALLPT(cuStreamEndCapture, s, &g), "cuStreamEndCapture");
	} else {
		check(CALL(cuGraphCreate, &g, 0), "cuGraphCreate");
		for (int k = 0; o.graph_build == GB_NODES && k < o.graph_nodes; k++) {
			uint64_t dur = o.graph_node_ns;
			void *params[] = { &dur };
			CUgraphNode node;
			CUDA_KERNEL_NODE_PARAMS_v2 p = {
				.func = g_fn,
				.gridDimX = o.grid[0], .gridDimY = o.grid[1], .gridDimZ = o.grid[2],
				.blockDimX = o.block[0], .blockDimY = o.block[1],
				.blockDimZ = o.block[2], .kernelParams = params,
			};
			check(CALL(cuGraphAddKernelNode_v2, &node, g, NULL, 0, &p),
			      "cuGraphAddKernelNode_v2");
		}
	}
	check(CALL(cuGraphInstantiateWithFlags, &x, g, 0), "cuGraphInstantiateWithFlags");
	if (o.graph_build == GB_SETTER) {
		CUresult (*set)(CUgraphExec, unsigned long long) =
			(CUresult(*)(CUgraphExec, unsigned long long))dlsym(
				RTLD_DEFAULT, "fakecuda_graph_exec_set_duration");

		if (!set || set(x, (uint64_t)o.graph_nodes * o.graph_node_ns) != CUDA_SUCCESS)
			check(CUDA_ERROR_NOT_FOUND, "fakecuda_graph_exec_set_duration");
	}
	return x;
}

static void copy_one(long i, int j, CUstream s, CUdeviceptr d, CUdeviceptr d2, void *h)
{
	enum dir dir = o.copy_dir == D_ALL ? (enum dir)((i + j) % 3) : o.copy_dir;
	size_t n = o.copy_bytes;
	CUresult rc;

	if (o.copy_async) {
		if (dir == D_HTOD)
			rc = CALLPT(cuMemcpyHtoDAsync_v2, d, h, n, s);
		else if (dir == D_DTOH)
			rc = CALLPT(cuMemcpyDtoHAsync_v2, h, d, n, s);
		else
			rc = CALLPT(cuMemcpyDtoDAsync_v2, d2, d, n, s);
	} else {
		if (dir == D_HTOD)
			rc = CALLPD(cuMemcpyHtoD_v2, d, h, n);
		else if (dir == D_DTOH)
			rc = CALLPD(cuMemcpyDtoH_v2, h, d, n);
		else
			rc = CALLPD(cuMemcpyDtoD_v2, d2, d, n);
	}
	if (check(rc, "copy")) {
		atomic_fetch_add(&w.copy_calls[dir], 1);
		atomic_fetch_add(&w.copy_bytes[dir], n);
	}
}

/* Host -> device -> device -> host with a pattern, then compare. */
static void copy_roundtrip(int tid, int j, CUstream s, CUdeviceptr d, CUdeviceptr d2)
{
	size_t n = o.copy_bytes;
	unsigned char *a = malloc(n), *b = malloc(n);
	bool async = o.copy_async;

	if (!a || !b) {
		free(a);
		free(b);
		return;
	}
	for (size_t k = 0; k < n; k++)
		a[k] = (unsigned char)(k * 31 + (size_t)tid * 7 + (size_t)j * 13 + 1);
	memset(b, 0, n);
	if (async) {
		check(CALLPT(cuMemcpyHtoDAsync_v2, d, a, n, s), "roundtrip htod");
		check(CALLPT(cuMemcpyDtoDAsync_v2, d2, d, n, s), "roundtrip dtod");
		check(CALLPT(cuMemcpyDtoHAsync_v2, b, d2, n, s), "roundtrip dtoh");
		check(CALLPT(cuStreamSynchronize, s), "roundtrip sync");
		atomic_fetch_add(&w.syncs, 1);
	} else {
		check(CALLPD(cuMemcpyHtoD_v2, d, a, n), "roundtrip htod");
		check(CALLPD(cuMemcpyDtoD_v2, d2, d, n), "roundtrip dtod");
		check(CALLPD(cuMemcpyDtoH_v2, b, d2, n), "roundtrip dtoh");
	}
	for (int k = 0; k < 3; k++) {
		atomic_fetch_add(&w.copy_calls[k], 1);
		atomic_fetch_add(&w.copy_bytes[k], n);
	}
	if (memcmp(a, b, n) != 0) {
		atomic_fetch_add(&w.check_failures, 1);
		fprintf(stderr, "workload: copy round trip: data differs (thread %d stream %d)\n",
			tid, j);
	}
	free(a);
	free(b);
}

static void *thread_main(void *arg)
{
	int tid = (int)(intptr_t)arg, n = o.streams > 0 ? o.streams : 1;
	CUstream *st = calloc((size_t)n, sizeof(*st));
	CUevent *ev = calloc((size_t)n, sizeof(*ev));

	if (!st || !ev)
		exit(3);
	if (!o.no_init)
		check(CALL(cuCtxSetCurrent, g_ctx), "cuCtxSetCurrent");
	for (int j = 0; j < o.streams; j++)
		check(CALL(cuStreamCreate, &st[j], CU_STREAM_DEFAULT), "cuStreamCreate");
	if (o.sync == SYNC_EVENT)
		for (int j = 0; j < n; j++)
			check(CALL(cuEventCreate, &ev[j], CU_EVENT_DEFAULT), "cuEventCreate");

	/* allocations: all held, then all freed */
	if (o.allocs > 0) {
		CUdeviceptr *p = calloc((size_t)o.allocs, sizeof(*p));
		int *how = calloc((size_t)o.allocs, sizeof(*how));

		for (long i = 0; p && how && i < o.allocs; i++) {
			how[i] = o.alloc_api == A_MIX ? (int)(i % 3) : (int)o.alloc_api;
			p[i] = dev_alloc(o.alloc_bytes, st[0], how[i]);
		}
		for (long i = 0; p && how && !o.alloc_keep && i < o.allocs; i++)
			dev_free(p[i], o.alloc_bytes, st[0], how[i]);
		free(p);
		free(how);
	}

	/* copies */
	if (o.copies > 0 || o.copy_check) {
		for (int j = 0; j < n; j++) {
			CUdeviceptr d = dev_alloc(o.copy_bytes, st[j], A_SYNC);
			CUdeviceptr d2 = dev_alloc(o.copy_bytes, st[j], A_SYNC);
			void *h = calloc(1, o.copy_bytes);

			for (long i = 0; h && i < o.copies; i++)
				copy_one(i, j, st[j], d, d2, h);
			if (o.copy_check)
				copy_roundtrip(tid, j, st[j], d, d2);
			if (o.copy_async) {
				check(CALLPT(cuStreamSynchronize, st[j]), "cuStreamSynchronize");
				atomic_fetch_add(&w.syncs, 1);
			}
			dev_free(d, o.copy_bytes, st[j], A_SYNC);
			dev_free(d2, o.copy_bytes, st[j], A_SYNC);
			free(h);
		}
	}

	/* kernel launches, round robin over the streams */
	for (long i = 0; i < o.launches; i++) {
		for (int j = 0; j < n; j++)
			launch_one(i, st[j], o.duration_ns, false);
		if (o.gap_ns)
			sleep_ns(o.gap_ns);
		if (o.sync_every > 0 && (i + 1) % o.sync_every == 0)
			sync_streams(st, ev, n);
	}

	/* graph launches */
	if (o.graphs > 0) {
		CUgraphExec x;
		CUstream cs = st[0];
		bool tmp = false;

		if (o.graph_build == GB_CAPTURE && !cs) { /* the legacy stream cannot capture */
			check(CALL(cuStreamCreate, &cs, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
			tmp = true;
		}
		x = build_graph(cs);
		if (tmp)
			check(CALL(cuStreamDestroy_v2, cs), "cuStreamDestroy_v2");
		for (long i = 0; i < o.graphs; i++) {
			for (int j = 0; j < n; j++) {
				if (check(CALLPT(cuGraphLaunch, x, st[j]), "cuGraphLaunch")) {
					atomic_fetch_add(&w.graph_launches, 1);
					atomic_fetch_add(&w.graph_ns,
							 (uint64_t)o.graph_nodes * o.graph_node_ns);
				}
			}
			if (o.sync_every > 0 && (i + 1) % o.sync_every == 0)
				sync_streams(st, ev, n);
		}
		check(CALL(cuGraphExecDestroy, x), "cuGraphExecDestroy");
	}

	if (o.final_sync)
		sync_streams(st, ev, n);
	for (int j = 0; j < n && o.sync == SYNC_EVENT; j++)
		check(CALL(cuEventDestroy_v2, ev[j]), "cuEventDestroy_v2");
	for (int j = 0; j < o.streams; j++)
		check(CALL(cuStreamDestroy_v2, st[j]), "cuStreamDestroy_v2");
	free(st);
	free(ev);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_summary(uint64_t t0, uint64_t t1, const char *extra)
{
	static const char *const dn[] = { "htod", "dtoh", "dtod" };
	uint64_t p50 = 0, sum = 0;
	bool first = true;

	pthread_mutex_lock(&g_lat_mu);
	for (size_t i = 0; i < g_nlat; i++)
		sum += g_lat[i];
	if (g_nlat) {
		qsort(g_lat, g_nlat, sizeof(*g_lat), cmp_u64);
		p50 = g_lat[g_nlat / 2];
	}
	printf("{\"pid\":%d,\"calls_via\":\"%s\",\"ptsz\":%s,\"threads\":%d,\"streams\":%d,"
	       "\"grid\":[%u,%u,%u],\"block\":[%u,%u,%u],\"duration_ns\":%" PRIu64 ","
	       "\"launches\":%" PRIu64 ",\"launches_captured\":%" PRIu64 ",\"kernel_ns\":%" PRIu64
	       ",\"graph_launches\":%" PRIu64 ",\"graph_ns\":%" PRIu64 ",\"memcpy\":{",
	       getpid(), o.procaddr ? "procaddr" : "direct", o.ptsz ? "true" : "false", o.threads,
	       o.streams, o.grid[0], o.grid[1], o.grid[2], o.block[0], o.block[1], o.block[2],
	       o.duration_ns, atomic_load(&w.launches), atomic_load(&w.launches_captured),
	       atomic_load(&w.kernel_ns), atomic_load(&w.graph_launches), atomic_load(&w.graph_ns));
	for (int d = 0; d < 3; d++)
		printf("%s\"%s\":{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", d ? "," : "", dn[d],
		       atomic_load(&w.copy_calls[d]), atomic_load(&w.copy_bytes[d]));
	printf("},\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"alloc_bytes\":%" PRIu64
	       ",\"mem_bytes\":%" PRIu64 ",\"mem_peak_bytes\":%" PRIu64 ",\"syncs\":%" PRIu64
	       ",\"not_ready\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"check_failures\":%" PRIu64
	       ",\"launch_call_ns_p50\":%" PRIu64 ",\"launch_call_ns_avg\":%" PRIu64
	       ",\"t0_ns\":%" PRIu64 ",\"t1_ns\":%" PRIu64 ",\"wall_ns\":%" PRIu64 "%s,\"calls\":{",
	       atomic_load(&w.allocs), atomic_load(&w.frees), atomic_load(&w.alloc_bytes),
	       atomic_load(&w.mem_cur), atomic_load(&w.mem_peak), atomic_load(&w.syncs),
	       atomic_load(&w.not_ready), atomic_load(&w.errors), atomic_load(&w.check_failures),
	       p50, g_nlat ? sum / g_nlat : 0, t0, t1, t1 - t0, extra ? extra : "");
	pthread_mutex_unlock(&g_lat_mu);
	for (int i = 0; i < S_N; i++) {
		uint64_t n = atomic_load(&ncalls[i]);

		if (!n)
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",", syms[i].name, n);
		first = false;
	}
	printf("}}\n");
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: workload [options]   (durations in ns, sizes in bytes)\n"
		"  --calls=direct|procaddr  call exported symbols directly, or through the pointers\n"
		"                           cuGetProcAddress_v2 returns (default direct)\n"
		"  --api=kernel|ex|coop|mix launch entry point (mix: rotate; default kernel)\n"
		"  --ptsz                   per-thread default stream variants (_ptsz/_ptds)\n"
		"  --threads=N              threads (default 1)\n"
		"  --streams=M              streams per thread (default 1; 0: the default stream)\n"
		"  --launches=L             kernel launches per stream (default 100)\n"
		"  --duration=NS            duration of each launch (default 1000000)\n"
		"  --gap=NS                 host sleep between rounds of launches (default 0)\n"
		"  --sync-every=K           synchronise after every K rounds (0: only at the end)\n"
		"  --sync=stream|ctx|event|query   how to synchronise (default stream)\n"
		"  --no-final-sync          leave the last work unsynchronised\n"
		"  --graphs=G               graph launches per stream (after the kernels)\n"
		"  --graph-nodes=N --graph-node-ns=NS   graph shape (default 4 x 250000)\n"
		"  --graph-build=nodes|capture|setter  how the graph is made (default nodes)\n"
		"  --copies=C --copy-bytes=B --copy-dir=htod|dtoh|dtod|all --copy-async\n"
		"  --copy-check             one verified host->dev->dev->host round trip per stream\n"
		"  --allocs=A --alloc-bytes=B --alloc-api=sync|async|managed|mix --alloc-keep\n"
		"  --grid=X,Y,Z --block=X,Y,Z   launch dimensions (default 1,1,1 and 128,1,1)\n"
		"  --ctx=primary|create     context to use (default primary)\n"
		"  --exit-mid-span=exit|_exit|kill   launch, then leave halfway through the work\n"
		"  --exit-after=NS          when to leave (default: half the launched work)\n"
		"  --hold=NS                sleep before exiting\n"
		"  --wait-stdin             read a line from stdin before starting\n"
		"  --no-init --ignore-errors   for a real driver without a GPU: skip cuInit and\n"
		"                           keep calling whatever fails\n"
		"  --quiet\n");
}

static bool pick(const char *v, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

static bool dims(const char *v, unsigned int d[3])
{
	return sscanf(v, "%u,%u,%u", &d[0], &d[1], &d[2]) == 3;
}

static void parse(int argc, char **argv)
{
	static const char *const calls_n[] = { "direct", "procaddr" };
	static const char *const api_n[] = { "kernel", "ex", "coop", "mix" };
	static const char *const sync_n[] = { "stream", "ctx", "event", "query" };
	static const char *const gb_n[] = { "nodes", "capture", "setter" };
	static const char *const dir_n[] = { "htod", "dtoh", "dtod", "all" };
	static const char *const alloc_n[] = { "sync", "async", "managed", "mix" };
	static const char *const ctx_n[] = { "primary", "create" };
	static const char *const exit_n[] = { "exit", "_exit", "kill" };
	static const struct option opts[] = {
		{ "calls", 1, 0, 'c' },        { "api", 1, 0, 'a' },
		{ "ptsz", 0, 0, 'P' },         { "threads", 1, 0, 't' },
		{ "streams", 1, 0, 's' },      { "launches", 1, 0, 'l' },
		{ "duration", 1, 0, 'd' },     { "gap", 1, 0, 'g' },
		{ "sync-every", 1, 0, 'k' },   { "sync", 1, 0, 'S' },
		{ "no-final-sync", 0, 0, 'F' }, { "graphs", 1, 0, 'G' },
		{ "graph-nodes", 1, 0, 'N' },  { "graph-node-ns", 1, 0, 'n' },
		{ "graph-build", 1, 0, 'B' },  { "copies", 1, 0, 'C' },
		{ "copy-bytes", 1, 0, 'b' },   { "copy-dir", 1, 0, 'D' },
		{ "copy-async", 0, 0, 'A' },   { "copy-check", 0, 0, 'V' },
		{ "allocs", 1, 0, 'M' },       { "alloc-bytes", 1, 0, 'm' },
		{ "alloc-api", 1, 0, 'x' },    { "alloc-keep", 0, 0, 'K' },
		{ "grid", 1, 0, 'r' },         { "block", 1, 0, 'o' },
		{ "ctx", 1, 0, 'X' },          { "exit-mid-span", 1, 0, 'E' },
		{ "exit-after", 1, 0, 'e' },   { "hold", 1, 0, 'H' },
		{ "wait-stdin", 0, 0, 'W' },   { "no-init", 0, 0, 'I' },
		{ "ignore-errors", 0, 0, 'i' }, { "quiet", 0, 0, 'q' },
		{ "help", 0, 0, 'h' },         { 0, 0, 0, 0 },
	};
	int c, k;

#define NUM(dst) (dst) = (__typeof__(dst))strtoull(optarg, NULL, 0)
#define PICK(names, dst)                                                           \
	do {                                                                       \
		if (!pick(optarg, names, (int)(sizeof(names) / sizeof(names[0])), &k)) \
			goto bad;                                                  \
		dst = k;                                                           \
	} while (0)
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': PICK(calls_n, o.procaddr); break;
		case 'a': PICK(api_n, o.api); break;
		case 'P': o.ptsz = true; break;
		case 't': NUM(o.threads); break;
		case 's': NUM(o.streams); break;
		case 'l': NUM(o.launches); break;
		case 'd': NUM(o.duration_ns); break;
		case 'g': NUM(o.gap_ns); break;
		case 'k': NUM(o.sync_every); break;
		case 'S': PICK(sync_n, o.sync); break;
		case 'F': o.final_sync = false; break;
		case 'G': NUM(o.graphs); break;
		case 'N': NUM(o.graph_nodes); break;
		case 'n': NUM(o.graph_node_ns); break;
		case 'B': PICK(gb_n, o.graph_build); break;
		case 'C': NUM(o.copies); break;
		case 'b': NUM(o.copy_bytes); break;
		case 'D': PICK(dir_n, o.copy_dir); break;
		case 'A': o.copy_async = true; break;
		case 'V': o.copy_check = true; break;
		case 'M': NUM(o.allocs); break;
		case 'm': NUM(o.alloc_bytes); break;
		case 'x': PICK(alloc_n, o.alloc_api); break;
		case 'K': o.alloc_keep = true; break;
		case 'r': if (!dims(optarg, o.grid)) goto bad; break;
		case 'o': if (!dims(optarg, o.block)) goto bad; break;
		case 'X': PICK(ctx_n, o.ctx_create); break;
		case 'E':
			PICK(exit_n, k);
			o.exit_mid_span = exit_n[k];
			break;
		case 'e': NUM(o.exit_after_ns); break;
		case 'H': NUM(o.hold_ns); break;
		case 'W': o.wait_stdin = true; break;
		case 'I': o.no_init = true; break;
		case 'i': o.ignore_errors = true; break;
		case 'q': o.quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(1);
		}
	}
	if (optind < argc || o.threads < 1 || o.streams < 0 || o.copy_bytes == 0 ||
	    o.alloc_bytes == 0)
		goto bad_args;
	return;
bad:
	fprintf(stderr, "workload: bad value '%s'\n", optarg);
bad_args:
	usage(stderr);
	exit(1);
}

static void resolve_procaddr(void)
{
	for (int i = 0; i < S_N; i++) {
		CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		cuuint64_t flags = syms[i].pt ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM : 0;
		/* The version that maps the name to exactly this symbol (per-thread
		 * variants need 7000); apicheck covers the version selection. */
		int version = syms[i].pt && syms[i].version < 7000 ? 7000 : syms[i].version;

		if (i == S_cuGetProcAddress_v2)
			continue;
		atomic_fetch_add(&ncalls[S_cuGetProcAddress_v2], 1);
		if (cuGetProcAddress_v2(syms[i].base, &fp[i], version, flags, &status) !=
			    CUDA_SUCCESS ||
		    status != CU_GET_PROC_ADDRESS_SUCCESS) {
			fp[i] = NULL;
			if (!o.quiet)
				fprintf(stderr, "workload: cuGetProcAddress_v2(%s): not found\n",
					syms[i].base);
		}
	}
	fp[S_cuGetProcAddress_v2] = (void *)&cuGetProcAddress_v2;
}

int main(int argc, char **argv)
{
	pthread_t *th;
	uint64_t t0, t1;
	CUdevice dev = 0;
	CUmodule mod = NULL;
	static const char image[] = "fakecuda kernel image";

	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	g_lat_cap = 1 << 20;
	g_lat = malloc(g_lat_cap * sizeof(*g_lat));
	if (!g_lat)
		g_lat_cap = 0;
	if (o.wait_stdin) {
		char line[64];

		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	t0 = now_ns();
	if (o.procaddr)
		resolve_procaddr();
	if (!o.no_init) {
		check(CALL(cuInit, 0), "cuInit");
		check(CALL(cuDeviceGet, &dev, 0), "cuDeviceGet");
		if (o.ctx_create) {
			check(CALL(cuCtxCreate_v2, &g_ctx, 0, dev), "cuCtxCreate_v2");
		} else {
			check(CALL(cuDevicePrimaryCtxRetain, &g_ctx, dev), "cuDevicePrimaryCtxRetain");
			check(CALL(cuCtxSetCurrent, g_ctx), "cuCtxSetCurrent");
		}
		check(CALL(cuModuleLoadData, &mod, image), "cuModuleLoadData");
		check(CALL(cuModuleGetFunction, &g_fn, mod, "fake_kernel"), "cuModuleGetFunction");
	}

	if (o.exit_mid_span) {
		CUstream s = NULL;
		uint64_t total, after, texit;
		char extra[96];

		if (o.streams > 0)
			check(CALL(cuStreamCreate, &s, CU_STREAM_DEFAULT), "cuStreamCreate");
		for (long i = 0; i < (o.launches > 0 ? o.launches : 1); i++)
			launch_one(i, s, o.duration_ns, false);
		total = (uint64_t)(o.launches > 0 ? o.launches : 1) * o.duration_ns;
		after = o.exit_after_ns ? o.exit_after_ns : total / 2;
		sleep_ns(after);
		texit = now_ns();
		snprintf(extra, sizeof(extra), ",\"exit\":\"%s\",\"exit_ns\":%" PRIu64,
			 o.exit_mid_span, texit);
		print_summary(t0, texit, extra);
		if (strcmp(o.exit_mid_span, "kill") == 0)
			raise(SIGKILL);
		if (strcmp(o.exit_mid_span, "_exit") == 0)
			_exit(0);
		exit(0);
	}

	th = calloc((size_t)o.threads, sizeof(*th));
	if (!th)
		return 3;
	for (int i = 0; i < o.threads; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			return 3;
	for (int i = 0; i < o.threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_ns();
	if (mod)
		check(CALL(cuModuleUnload, mod), "cuModuleUnload");
	if (o.ctx_create && g_ctx)
		check(CALL(cuCtxDestroy_v2, g_ctx), "cuCtxDestroy_v2");
	print_summary(t0, t1, NULL);
	if (o.hold_ns)
		sleep_ns(o.hold_ns);
	free(th);
	return atomic_load(&w.check_failures) || (atomic_load(&w.errors) && !o.ignore_errors);
}

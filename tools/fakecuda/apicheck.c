// SPDX-License-Identifier: MIT
/*
 * apicheck: checks the fake libcuda.so.1 against the driver semantics the
 * agent relies on: cuGetProcAddress returns the exported symbols' own
 * addresses (as dlsym does), queries answer CUDA_ERROR_NOT_READY until the
 * virtual completion, synchronisations return at it, events time it,
 * copies move the bytes, the legacy and per-thread default streams order
 * work as CUDA's do, capture and graphs take the durations they were given.
 *
 * Prints "ok - ..." or "not ok - ...: expected ..., got ..." per check and
 * "apicheck: N passed, M failed" last; exits non-zero on a failure.
 * Timing checks allow TOL_NS of lateness (a loaded machine: the scheduler may
 * keep a woken thread waiting a few ms), never earliness.
 * selftest.sh runs it with FAKECUDA_COPY_GBPS=1.
 */
#include "fakecuda.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000ULL
#define TOL_NS (10 * MS)

static int passed, failed;
static CUcontext g_ctx;
static CUfunction g_fn;

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (cond)
		passed++;
	else
		failed++;
}

#define EXPECT_RC(call, want)                                                               \
	do {                                                                                \
		CUresult rc_ = (call);                                                      \
		ok(rc_ == (want), "%s: expected %d, got %d", #call, (int)(want), (int)rc_); \
	} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
			       .tv_nsec = (long)(ns % 1000000000ULL) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Was `got` (ns) at least `want` and at most TOL_NS more? */
static void ok_time(uint64_t got, uint64_t want, const char *what)
{
	ok(got >= want && got <= want + TOL_NS, "%s: expected %.3f ms (+%.0f), got %.3f ms", what,
	   want / 1e6, TOL_NS / 1e6, got / 1e6);
}

static CUresult launch(CUstream s, uint64_t ns)
{
	uint64_t d = ns;
	void *params[] = { &d };

	return cuLaunchKernel(g_fn, 1, 1, 1, 32, 1, 1, 0, s, params, NULL);
}

static CUresult launch_pt(CUstream s, uint64_t ns)
{
	uint64_t d = ns;
	void *params[] = { &d };

	return cuLaunchKernel_ptsz(g_fn, 1, 1, 1, 32, 1, 1, 0, s, params, NULL);
}

/* --- cuGetProcAddress ----------------------------------------------------- */

#define PT CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM

static void check_procaddr(void *lib)
{
	static const struct {
		const char *name;
		int version;
		cuuint64_t flags;
		const char *expect;
	} cases[] = {
		{ "cuInit", 12000, 0, "cuInit" },
		{ "cuInit", 12000, PT, "cuInit" },
		{ "cuDriverGetVersion", 12000, 0, "cuDriverGetVersion" },
		{ "cuMemAlloc", 12000, 0, "cuMemAlloc_v2" },
		{ "cuMemAlloc", 3020, 0, "cuMemAlloc_v2" },
		{ "cuMemFree", 12000, 0, "cuMemFree_v2" },
		{ "cuMemAllocManaged", 12000, 0, "cuMemAllocManaged" },
		{ "cuMemAllocAsync", 12000, 0, "cuMemAllocAsync" },
		{ "cuMemAllocAsync", 12000, PT, "cuMemAllocAsync_ptsz" },
		{ "cuMemFreeAsync", 12000, 0, "cuMemFreeAsync" },
		{ "cuMemFreeAsync", 12000, PT, "cuMemFreeAsync_ptsz" },
		{ "cuLaunchKernel", 12000, 0, "cuLaunchKernel" },
		{ "cuLaunchKernel", 12000, PT, "cuLaunchKernel_ptsz" },
		{ "cuLaunchKernelEx", 12000, 0, "cuLaunchKernelEx" },
		{ "cuLaunchKernelEx", 12000, PT, "cuLaunchKernelEx_ptsz" },
		{ "cuLaunchCooperativeKernel", 12000, 0, "cuLaunchCooperativeKernel" },
		{ "cuLaunchCooperativeKernel", 12000, PT, "cuLaunchCooperativeKernel_ptsz" },
		{ "cuGraphLaunch", 12000, 0, "cuGraphLaunch" },
		{ "cuGraphLaunch", 12000, PT, "cuGraphLaunch_ptsz" },
		{ "cuGraphInstantiate", 12000, 0, "cuGraphInstantiate_v2" },
		{ "cuGraphInstantiateWithFlags", 12000, 0, "cuGraphInstantiateWithFlags" },
		{ "cuLaunchKernel", 7000, PT, "cuLaunchKernel_ptsz" },
		{ "cuLaunchKernel", 12000, PT | CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuLaunchKernel_ptsz" },
		{ "cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuLaunchKernel" },
		{ "cuGraphInstantiate", 11000, 0, "cuGraphInstantiate_v2" },
		{ "cuGraphAddKernelNode", 12000, 0, "cuGraphAddKernelNode_v2" },
		{ "cuGraphAddKernelNode", 11000, 0, "cuGraphAddKernelNode" },
		{ "cuStreamSynchronize", 12000, 0, "cuStreamSynchronize" },
		{ "cuStreamSynchronize", 12000, PT, "cuStreamSynchronize_ptsz" },
		{ "cuStreamQuery", 12000, 0, "cuStreamQuery" },
		{ "cuStreamQuery", 12000, PT, "cuStreamQuery_ptsz" },
		{ "cuStreamCreate", 12000, 0, "cuStreamCreate" },
		{ "cuStreamDestroy", 12000, 0, "cuStreamDestroy_v2" },
		{ "cuStreamBeginCapture", 12000, 0, "cuStreamBeginCapture_v2" },
		{ "cuStreamBeginCapture", 12000, PT, "cuStreamBeginCapture_v2_ptsz" },
		{ "cuStreamBeginCapture", 10000, 0, "cuStreamBeginCapture" },
		{ "cuCtxSynchronize", 12000, 0, "cuCtxSynchronize" },
		{ "cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2" },
		{ "cuCtxCreate", 12000, 0, "cuCtxCreate_v3" },
		{ "cuCtxCreate", 11000, 0, "cuCtxCreate_v2" },
		{ "cuDevicePrimaryCtxRelease", 7000, 0, "cuDevicePrimaryCtxRelease" },
		{ "cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2" },
		{ "cuStreamBeginCapture", 10000, PT, "cuStreamBeginCapture_ptsz" },
		{ "cuCtxDestroy", 12000, 0, "cuCtxDestroy_v2" },
		{ "cuCtxGetDevice", 12000, 0, "cuCtxGetDevice" },
		{ "cuCtxSetCurrent", 12000, 0, "cuCtxSetCurrent" },
		{ "cuDevicePrimaryCtxRetain", 12000, 0, "cuDevicePrimaryCtxRetain" },
		{ "cuDeviceGetUuid", 12000, 0, "cuDeviceGetUuid_v2" },
		{ "cuDeviceGetUuid", 10000, 0, "cuDeviceGetUuid" },
		{ "cuDeviceTotalMem", 12000, 0, "cuDeviceTotalMem_v2" },
		{ "cuEventCreate", 12000, 0, "cuEventCreate" },
		{ "cuEventDestroy", 12000, 0, "cuEventDestroy_v2" },
		{ "cuEventRecord", 12000, 0, "cuEventRecord" },
		{ "cuEventRecord", 12000, PT, "cuEventRecord_ptsz" },
		{ "cuEventSynchronize", 12000, 0, "cuEventSynchronize" },
		{ "cuEventSynchronize", 12000, PT, "cuEventSynchronize" },
		{ "cuEventQuery", 12000, 0, "cuEventQuery" },
		{ "cuEventElapsedTime", 12000, 0, "cuEventElapsedTime" },
		{ "cuMemcpy", 12000, 0, "cuMemcpy" },
		{ "cuMemcpy", 12000, PT, "cuMemcpy_ptds" },
		{ "cuMemcpyAsync", 12000, 0, "cuMemcpyAsync" },
		{ "cuMemcpyAsync", 12000, PT, "cuMemcpyAsync_ptsz" },
		{ "cuMemcpyHtoD", 12000, 0, "cuMemcpyHtoD_v2" },
		{ "cuMemcpyHtoD", 12000, PT, "cuMemcpyHtoD_v2_ptds" },
		{ "cuMemcpyDtoH", 12000, 0, "cuMemcpyDtoH_v2" },
		{ "cuMemcpyDtoH", 12000, PT, "cuMemcpyDtoH_v2_ptds" },
		{ "cuMemcpyDtoD", 12000, 0, "cuMemcpyDtoD_v2" },
		{ "cuMemcpyDtoD", 12000, PT, "cuMemcpyDtoD_v2_ptds" },
		{ "cuMemcpyHtoDAsync", 12000, 0, "cuMemcpyHtoDAsync_v2" },
		{ "cuMemcpyHtoDAsync", 12000, PT, "cuMemcpyHtoDAsync_v2_ptsz" },
		{ "cuMemcpyDtoHAsync", 12000, 0, "cuMemcpyDtoHAsync_v2" },
		{ "cuMemcpyDtoHAsync", 12000, PT, "cuMemcpyDtoHAsync_v2_ptsz" },
		{ "cuMemcpyDtoDAsync", 12000, 0, "cuMemcpyDtoDAsync_v2" },
		{ "cuMemcpyDtoDAsync", 12000, PT, "cuMemcpyDtoDAsync_v2_ptsz" },
		{ "cuMemsetD8", 12000, 0, "cuMemsetD8_v2" },
		{ "cuMemsetD8", 12000, PT, "cuMemsetD8_v2_ptds" },
		{ "cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2" },
		{ "cuGetProcAddress", 11030, 0, "cuGetProcAddress" },
	};
	int mism = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *p1 = NULL, *p2 = NULL, *want;

		if (!cases[i].expect)
			continue;
		want = dlsym(lib, cases[i].expect);
		CUdriverProcAddressQueryResult st = 99;
		CUresult r1 = cuGetProcAddress_v2(cases[i].name, &p1, cases[i].version,
						  cases[i].flags, &st);
		CUresult r2 = cuGetProcAddress(cases[i].name, &p2, cases[i].version,
					       cases[i].flags);
		bool good = want && r1 == CUDA_SUCCESS && r2 == CUDA_SUCCESS &&
			    st == CU_GET_PROC_ADDRESS_SUCCESS && p1 == want && p2 == want;

		if (!good)
			mism++;
		ok(good, "cuGetProcAddress(\"%s\", %d%s) == dlsym(\"%s\"): %p / %p vs %p",
		   cases[i].name, cases[i].version, cases[i].flags ? ", PER_THREAD" : "",
		   cases[i].expect, p1, p2, want);
	}
	printf("# cuGetProcAddress: %zu names checked against dlsym, %d mismatched\n",
	       sizeof(cases) / sizeof(cases[0]), mism);

	/* The address a program linked with -lcuda calls is the same. */
	{
		void *p = NULL;

		cuGetProcAddress_v2("cuLaunchKernel", &p, 12000, 0, NULL);
		ok(p == (void *)&cuLaunchKernel, "cuGetProcAddress(cuLaunchKernel) == &cuLaunchKernel");
	}
	/* Failures, with NVIDIA 535's return conventions: _v2 says CUDA_SUCCESS
	 * and puts the reason in the status, v1 says CUDA_ERROR_NOT_FOUND. */
	{
		static const struct {
			const char *name;
			int version;
			cuuint64_t flags;
			CUdriverProcAddressQueryResult st;
		} bad[] = {
			{ "cuNoSuchThing", 12000, 0, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND },
			{ "cuMemAlloc_v2", 12000, 0, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND },
			{ "cuMemAllocAsync", 11000, 0, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT },
			{ "cuLaunchKernel", 6050, PT, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			void *p1 = (void *)1, *p2 = (void *)1;
			CUdriverProcAddressQueryResult st = 99;
			CUresult r1 = cuGetProcAddress_v2(bad[i].name, &p1, bad[i].version,
							  bad[i].flags, &st);
			CUresult r2 = cuGetProcAddress(bad[i].name, &p2, bad[i].version,
						       bad[i].flags);

			ok(r1 == CUDA_SUCCESS && st == bad[i].st && !p1 &&
				   r2 == CUDA_ERROR_NOT_FOUND && !p2,
			   "cuGetProcAddress(\"%s\", %d%s): _v2 0/status %d, v1 500 (got %d/%d, %d)",
			   bad[i].name, bad[i].version, bad[i].flags ? ", PER_THREAD" : "",
			   (int)bad[i].st, (int)r1, (int)st, (int)r2);
		}
	}
	{
		void *p = NULL;

		EXPECT_RC(cuGetProcAddress_v2("cuLaunchKernel", &p, 12000, 4, NULL),
			  CUDA_ERROR_INVALID_VALUE);
	}
}

/* --- timing and queries --------------------------------------------------- */

static void check_queries(void)
{
	CUstream s;
	CUevent e;

	cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
	cuEventCreate(&e, CU_EVENT_DEFAULT);
	EXPECT_RC(cuStreamQuery(s), CUDA_SUCCESS);
	EXPECT_RC(cuEventQuery(e), CUDA_SUCCESS); /* never recorded */
	EXPECT_RC(launch(s, 50 * MS), CUDA_SUCCESS);
	EXPECT_RC(cuEventRecord(e, s), CUDA_SUCCESS);
	EXPECT_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
	EXPECT_RC(cuEventQuery(e), CUDA_ERROR_NOT_READY);
	sleep_ns(25 * MS);
	EXPECT_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
	sleep_ns(30 * MS);
	EXPECT_RC(cuStreamQuery(s), CUDA_SUCCESS);
	EXPECT_RC(cuEventQuery(e), CUDA_SUCCESS);
	cuEventDestroy_v2(e);
	cuStreamDestroy_v2(s);
}

static void check_sync_times(void)
{
	CUstream s, s2;
	CUevent a, b;
	uint64_t t0;
	float ms = -1;

	cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
	cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING);

	t0 = now_ns();
	launch(s, 20 * MS);
	EXPECT_RC(cuStreamSynchronize(s), CUDA_SUCCESS);
	ok_time(now_ns() - t0, 20 * MS, "cuStreamSynchronize after a 20 ms launch");

	t0 = now_ns();
	for (int i = 0; i < 5; i++)
		launch(s, 4 * MS);
	cuStreamSynchronize(s);
	ok_time(now_ns() - t0, 20 * MS, "5 queued 4 ms launches on one stream");

	t0 = now_ns();
	launch(s, 10 * MS);
	launch(s2, 20 * MS);
	EXPECT_RC(cuCtxSynchronize(), CUDA_SUCCESS);
	ok_time(now_ns() - t0, 20 * MS, "cuCtxSynchronize waits for the longest stream (20 ms)");

	cuEventCreate(&a, 0);
	cuEventCreate(&b, 0);
	cuEventRecord(a, s);
	launch(s, 10 * MS);
	cuEventRecord(b, s);
	EXPECT_RC(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_NOT_READY);
	t0 = now_ns();
	EXPECT_RC(cuEventSynchronize(b), CUDA_SUCCESS);
	ok_time(now_ns() - t0 + 1, 9 * MS, "cuEventSynchronize waits for the 10 ms launch");
	EXPECT_RC(cuEventElapsedTime(&ms, a, b), CUDA_SUCCESS);
	/* The stream was idle: `a` completed when recorded, the launch began
	 * when called, a moment later. */
	ok(ms > 9.9999f && ms < 10.0f + TOL_NS / 1e6f, "cuEventElapsedTime = 10 ms (got %.4f)", ms);

	/* Stream waits for an event recorded on another stream. */
	t0 = now_ns();
	launch(s, 20 * MS);
	cuEventRecord(a, s);
	EXPECT_RC(cuStreamWaitEvent(s2, a, 0), CUDA_SUCCESS);
	launch(s2, 1 * MS);
	cuStreamSynchronize(s2);
	ok_time(now_ns() - t0, 21 * MS, "cuStreamWaitEvent: 20 ms on A, then 1 ms on B");

	/* Duration through `extra` (CU_LAUNCH_PARAM_BUFFER_POINTER). */
	{
		uint64_t buf[2] = { 6 * MS, 0 };
		size_t sz = sizeof(buf);
		void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE,
				  &sz, CU_LAUNCH_PARAM_END };

		t0 = now_ns();
		EXPECT_RC(cuLaunchKernel(g_fn, 1, 1, 1, 1, 1, 1, 0, s, NULL, extra), CUDA_SUCCESS);
		cuStreamSynchronize(s);
		ok_time(now_ns() - t0, 6 * MS, "duration from the extra buffer (6 ms)");
	}
	/* cuLaunchKernelEx and cuLaunchCooperativeKernel carry it the same way. */
	{
		uint64_t d = 7 * MS;
		void *params[] = { &d };
		CUlaunchConfig c = { 2, 1, 1, 64, 1, 1, 0, s, NULL, 0 };

		t0 = now_ns();
		EXPECT_RC(cuLaunchKernelEx(&c, g_fn, params, NULL), CUDA_SUCCESS);
		EXPECT_RC(cuLaunchCooperativeKernel(g_fn, 1, 1, 1, 1, 1, 1, 0, s, params),
			  CUDA_SUCCESS);
		cuStreamSynchronize(s);
		ok_time(now_ns() - t0, 14 * MS, "cuLaunchKernelEx + cuLaunchCooperativeKernel, 7 ms each");
	}
	cuEventDestroy_v2(a);
	cuEventDestroy_v2(b);
	cuStreamDestroy_v2(s);
	cuStreamDestroy_v2(s2);
}

/* --- the default streams -------------------------------------------------- */

static void check_legacy(void)
{
	CUstream blk, nb;
	uint64_t t0;

	cuStreamCreate(&blk, CU_STREAM_DEFAULT);
	cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING);

	t0 = now_ns();
	launch(blk, 20 * MS);
	launch(NULL, 1 * MS);
	cuStreamSynchronize(NULL);
	ok_time(now_ns() - t0, 21 * MS, "legacy stream waits for a blocking stream (20+1 ms)");

	t0 = now_ns();
	launch(NULL, 10 * MS);
	launch(blk, 1 * MS);
	cuStreamSynchronize(blk);
	ok_time(now_ns() - t0, 11 * MS, "blocking stream waits for the legacy stream (10+1 ms)");

	t0 = now_ns();
	launch(nb, 20 * MS);
	launch(NULL, 1 * MS);
	cuStreamSynchronize(NULL);
	ok_time(now_ns() - t0, 1 * MS, "non-blocking stream does not hold the legacy one (1 ms)");
	cuStreamSynchronize(nb);

	cuStreamDestroy_v2(blk);
	cuStreamDestroy_v2(nb);
}

struct thr {
	bool pt;
	pthread_barrier_t *go;
	uint64_t t0, t1; /* first launch, return of the synchronisation */
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;

	cuCtxSetCurrent(g_ctx);
	pthread_barrier_wait(t->go);
	t->t0 = now_ns();
	for (int i = 0; i < 10; i++)
		t->pt ? launch_pt(NULL, 5 * MS) : launch(NULL, 5 * MS);
	t->pt ? cuStreamSynchronize_ptsz(NULL) : cuStreamSynchronize(NULL);
	t->t1 = now_ns();
	return NULL;
}

/* Two threads launch 10 x 5 ms each on "the" default stream: side by side
 * on their per-thread default streams (_ptsz), one after the other on the
 * legacy default stream. */
static void check_per_thread(void)
{
	for (int pt = 1; pt >= 0; pt--) {
		pthread_barrier_t go;
		struct thr a = { pt, &go, 0, 0 }, b = { pt, &go, 0, 0 };
		pthread_t ta, tb;
		uint64_t first, last;

		pthread_barrier_init(&go, NULL, 2);
		pthread_create(&ta, NULL, thr_main, &a);
		pthread_create(&tb, NULL, thr_main, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_barrier_destroy(&go);
		first = a.t0 < b.t0 ? a.t0 : b.t0;
		last = a.t1 > b.t1 ? a.t1 : b.t1;
		if (pt) {
			ok_time(a.t1 - a.t0, 50 * MS, "per-thread default stream, thread 1: its 10 x 5 ms");
			ok_time(b.t1 - b.t0, 50 * MS, "per-thread default stream, thread 2: its 10 x 5 ms");
			ok(last - first < 75 * MS,
			   "per-thread default streams run side by side: both done in %.3f ms",
			   (last - first) / 1e6);
		} else {
			ok_time(last - first, 100 * MS,
				"legacy default stream from 2 threads: 20 x 5 ms one after the other");
		}
	}
}

/* --- capture and graphs --------------------------------------------------- */

static void check_graphs(void)
{
	CUstream s;
	CUgraph g = NULL;
	CUgraphExec x = NULL;
	CUstreamCaptureStatus cs = 9;
	uint64_t t0;

	cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
	EXPECT_RC(cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
	EXPECT_RC(cuStreamIsCapturing(s, &cs), CUDA_SUCCESS);
	ok(cs == CU_STREAM_CAPTURE_STATUS_ACTIVE, "stream is capturing");
	t0 = now_ns();
	for (int i = 0; i < 3; i++)
		launch(s, 5 * MS);
	ok(now_ns() - t0 < 2 * MS, "captured launches do not run");
	EXPECT_RC(cuStreamSynchronize(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	EXPECT_RC(cuStreamEndCapture(s, &g), CUDA_SUCCESS);
	EXPECT_RC(cuGraphInstantiateWithFlags(&x, g, 0), CUDA_SUCCESS);
	t0 = now_ns();
	EXPECT_RC(cuGraphLaunch(x, s), CUDA_SUCCESS);
	cuStreamSynchronize(s);
	ok_time(now_ns() - t0, 15 * MS, "captured graph (3 x 5 ms) runs 15 ms");
	cuGraphExecDestroy(x);
	cuGraphDestroy(g);

	{
		uint64_t d1 = 7 * MS, d2 = 3 * MS;
		void *p1[] = { &d1 }, *p2[] = { &d2 };
		CUDA_KERNEL_NODE_PARAMS_v2 n1 = { .func = g_fn, .gridDimX = 1, .gridDimY = 1,
						  .gridDimZ = 1, .blockDimX = 1, .blockDimY = 1,
						  .blockDimZ = 1, .kernelParams = p1 };
		CUDA_KERNEL_NODE_PARAMS n2 = { .func = g_fn, .gridDimX = 1, .gridDimY = 1,
					       .gridDimZ = 1, .blockDimX = 1, .blockDimY = 1,
					       .blockDimZ = 1, .kernelParams = p2 };
		CUgraphNode a, b;

		cuGraphCreate(&g, 0);
		EXPECT_RC(cuGraphAddKernelNode_v2(&a, g, NULL, 0, &n1), CUDA_SUCCESS);
		EXPECT_RC(cuGraphAddKernelNode(&b, g, &a, 1, &n2), CUDA_SUCCESS);
		EXPECT_RC(cuGraphInstantiate_v2(&x, g, NULL, NULL, 0), CUDA_SUCCESS);
		t0 = now_ns();
		cuGraphLaunch_ptsz(x, s);
		cuStreamSynchronize(s);
		ok_time(now_ns() - t0, 10 * MS, "graph of kernel nodes (7 + 3 ms) runs 10 ms");
		EXPECT_RC(fakecuda_graph_exec_set_duration(x, 4 * MS), CUDA_SUCCESS);
		t0 = now_ns();
		cuGraphLaunch(x, s);
		cuStreamSynchronize(s);
		ok_time(now_ns() - t0, 4 * MS, "fakecuda_graph_exec_set_duration(4 ms)");
		cuGraphExecDestroy(x);
		cuGraphDestroy(g);
	}
	cuStreamDestroy_v2(s);
}

/* --- memory --------------------------------------------------------------- */

static void check_memory(void)
{
	const size_t n = 1 << 20;
	unsigned char *a = malloc(n), *b = malloc(n);
	CUdeviceptr d1 = 0, d2 = 0, m = 0, big = 0;
	size_t fr0 = 0, fr1 = 0, tot = 0;
	CUstream s;
	uint64_t t0;
	bool same;

	cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
	for (size_t i = 0; i < n; i++)
		a[i] = (unsigned char)(i * 7 + 3);
	EXPECT_RC(cuMemGetInfo_v2(&fr0, &tot), CUDA_SUCCESS);
	EXPECT_RC(cuMemAlloc_v2(&d1, n), CUDA_SUCCESS);
	EXPECT_RC(cuMemAllocAsync(&d2, n, s), CUDA_SUCCESS);
	EXPECT_RC(cuMemAllocManaged(&m, 4096, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
	cuMemGetInfo_v2(&fr1, &tot);
	ok(fr0 - fr1 == 2 * n + 4096, "cuMemGetInfo: free drops by the bytes allocated (%zu)",
	   fr0 - fr1);

	EXPECT_RC(cuMemcpyHtoD_v2(d1, a, n), CUDA_SUCCESS);
	EXPECT_RC(cuMemcpyDtoD_v2(d2, d1, n), CUDA_SUCCESS);
	memset(b, 0, n);
	EXPECT_RC(cuMemcpyDtoH_v2(b, d2, n), CUDA_SUCCESS);
	ok(memcmp(a, b, n) == 0, "HtoD, DtoD, DtoH: the bytes arrive");

	memset(b, 0, n);
	EXPECT_RC(cuMemcpyHtoDAsync_v2(d1, a + 1, n - 1, s), CUDA_SUCCESS);
	EXPECT_RC(cuMemcpyDtoDAsync_v2(d2, d1, n - 1, s), CUDA_SUCCESS);
	EXPECT_RC(cuMemcpyDtoHAsync_v2(b, d2, n - 1, s), CUDA_SUCCESS);
	cuStreamSynchronize(s);
	ok(memcmp(a + 1, b, n - 1) == 0, "async HtoD, DtoD, DtoH: the bytes arrive");

	memset(b, 0, n);
	EXPECT_RC(cuMemcpy(d1, (CUdeviceptr)(uintptr_t)a, n), CUDA_SUCCESS);
	EXPECT_RC(cuMemcpyAsync((CUdeviceptr)(uintptr_t)b, d1, n, s), CUDA_SUCCESS);
	cuStreamSynchronize(s);
	ok(memcmp(a, b, n) == 0, "cuMemcpy/cuMemcpyAsync (unified addressing)");

	EXPECT_RC(cuMemsetD8_v2(d1, 0xab, n), CUDA_SUCCESS);
	cuMemcpyDtoH_v2(b, d1, n);
	same = true;
	for (size_t i = 0; i < n; i++)
		same &= b[i] == 0xab;
	ok(same, "cuMemsetD8 sets every byte");
	EXPECT_RC(cuMemsetD32_v2(d1, 0x01020304, n / 4), CUDA_SUCCESS);
	cuMemcpyDtoH_v2(b, d1, 8);
	ok(((uint32_t *)b)[0] == 0x01020304 && ((uint32_t *)b)[1] == 0x01020304,
	   "cuMemsetD32 sets every word");

	/* Copy time: bytes / FAKECUDA_COPY_GBPS (selftest: 1 GB/s -> 8 MB = 8 ms). */
	{
		const char *g = getenv("FAKECUDA_COPY_GBPS");
		double gbps = g ? atof(g) : 10.0;
		size_t big_n = 8 << 20;
		unsigned char *h = calloc(1, big_n);

		cuMemAlloc_v2(&big, big_n);
		cuMemsetD8_v2(big, 0, big_n); /* touch the pages */
		t0 = now_ns();
		EXPECT_RC(cuMemcpyHtoD_v2(big, h, big_n), CUDA_SUCCESS);
		ok_time(now_ns() - t0, (uint64_t)(big_n / gbps), "synchronous 8 MiB HtoD takes bytes/GBPS");
		free(h);
		cuMemFree_v2(big);
	}

	EXPECT_RC(cuMemcpyHtoD_v2(d1 + n - 8, a, 16), CUDA_ERROR_INVALID_VALUE);
	EXPECT_RC(cuMemcpyDtoH_v2(b, (CUdeviceptr)(uintptr_t)a, 16), CUDA_ERROR_INVALID_VALUE);
	EXPECT_RC(cuMemFree_v2(d1 + 8), CUDA_ERROR_INVALID_VALUE);
	EXPECT_RC(cuMemFree_v2(0), CUDA_SUCCESS);
	EXPECT_RC(cuMemAlloc_v2(&big, tot + 1), CUDA_ERROR_OUT_OF_MEMORY);
	EXPECT_RC(cuMemFree_v2(d1), CUDA_SUCCESS);
	EXPECT_RC(cuMemFreeAsync(d2, s), CUDA_SUCCESS);
	EXPECT_RC(cuMemFree_v2(m), CUDA_SUCCESS);
	EXPECT_RC(cuMemFree_v2(d1), CUDA_ERROR_INVALID_VALUE);
	cuMemGetInfo_v2(&fr1, &tot);
	ok(fr1 == fr0, "all freed: free memory back to %zu (got %zu)", fr0, fr1);

	/* A 20 GiB allocation costs nothing until touched. */
	EXPECT_RC(cuMemAlloc_v2(&big, 20ULL << 30), CUDA_SUCCESS);
	EXPECT_RC(cuMemFree_v2(big), CUDA_SUCCESS);

	cuStreamDestroy_v2(s);
	free(a);
	free(b);
}

static void check_errors(void)
{
	const char *str = NULL;
	CUstream s;
	uint64_t d = 1000;
	void *params[] = { &d };

	EXPECT_RC(cuLaunchKernel(NULL, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL),
		  CUDA_ERROR_INVALID_HANDLE);
	EXPECT_RC(cuLaunchKernel(g_fn, 0, 1, 1, 1, 1, 1, 0, NULL, params, NULL),
		  CUDA_ERROR_INVALID_VALUE);
	cuStreamCreate(&s, 0);
	cuStreamDestroy_v2(s);
	EXPECT_RC(cuLaunchKernel(g_fn, 1, 1, 1, 1, 1, 1, 0, s, params, NULL),
		  CUDA_ERROR_INVALID_HANDLE);
	EXPECT_RC(cuStreamDestroy_v2(NULL), CUDA_ERROR_INVALID_HANDLE);
	EXPECT_RC(cuGetErrorName(CUDA_ERROR_NOT_READY, &str), CUDA_SUCCESS);
	ok(str && strcmp(str, "CUDA_ERROR_NOT_READY") == 0, "cuGetErrorName(600)");
	EXPECT_RC(cuGetErrorString((CUresult)12345, &str), CUDA_ERROR_INVALID_VALUE);
}

static void check_contexts(void)
{
	CUcontext c = NULL, cur = NULL, popped = NULL;
	CUdevice dev = -1;
	CUstream s;

	EXPECT_RC(cuCtxCreate_v2(&c, 0, 0), CUDA_SUCCESS);
	cuCtxGetCurrent(&cur);
	ok(cur == c, "cuCtxCreate makes the new context current");
	EXPECT_RC(cuCtxGetDevice(&dev), CUDA_SUCCESS);
	ok(dev == 0, "cuCtxGetDevice = 0");
	cuStreamCreate(&s, 0);
	launch(s, 5 * MS);
	EXPECT_RC(cuCtxPopCurrent_v2(&popped), CUDA_SUCCESS);
	ok(popped == c, "cuCtxPopCurrent returns it");
	cuCtxGetCurrent(&cur);
	ok(cur == g_ctx, "the primary context is current again");
	EXPECT_RC(cuCtxPushCurrent_v2(c), CUDA_SUCCESS);
	EXPECT_RC(cuCtxDestroy_v2(c), CUDA_SUCCESS);
	cuCtxGetCurrent(&cur);
	ok(cur == g_ctx, "after cuCtxDestroy the primary context is current");
	EXPECT_RC(cuCtxSetCurrent(c), CUDA_ERROR_INVALID_CONTEXT);
}

int main(void)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
	CUdevice dev = -1;
	CUmodule mod;
	CUuuid uuid;
	char name[128] = "";
	int count = -1, v = 0;
	size_t mem = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ok(lib != NULL, "libcuda.so.1 is loaded");
	if (!lib)
		return 1;
	EXPECT_RC(cuDriverGetVersion(&v), CUDA_SUCCESS);
	EXPECT_RC(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
	EXPECT_RC(cuInit(0), CUDA_SUCCESS);
	EXPECT_RC(cuDeviceGetCount(&count), CUDA_SUCCESS);
	ok(count == 1, "one device (got %d)", count);
	EXPECT_RC(cuDeviceGet(&dev, 0), CUDA_SUCCESS);
	EXPECT_RC(cuDeviceGet(&dev, 1), CUDA_ERROR_INVALID_DEVICE);
	cuDeviceGet(&dev, 0);
	EXPECT_RC(cuDeviceGetName(name, sizeof(name), dev), CUDA_SUCCESS);
	ok(strcmp(name, getenv("FAKECUDA_DEVICE_NAME") ? getenv("FAKECUDA_DEVICE_NAME")
						       : "NVIDIA H100 80GB HBM3") == 0,
	   "device name '%s'", name);
	EXPECT_RC(cuDeviceGetUuid_v2(&uuid, dev), CUDA_SUCCESS);
	EXPECT_RC(cuDeviceTotalMem_v2(&mem, dev), CUDA_SUCCESS);
	ok(mem == 81559ULL << 20 || getenv("FAKECUDA_MEM_BYTES"), "total memory %zu", mem);
	EXPECT_RC(cuDevicePrimaryCtxRetain(&g_ctx, dev), CUDA_SUCCESS);
	EXPECT_RC(cuStreamSynchronize(NULL), CUDA_ERROR_INVALID_CONTEXT);
	EXPECT_RC(cuCtxSetCurrent(g_ctx), CUDA_SUCCESS);
	EXPECT_RC(cuModuleLoadData(&mod, "image"), CUDA_SUCCESS);
	EXPECT_RC(cuModuleGetFunction(&g_fn, mod, "k"), CUDA_SUCCESS);

	check_procaddr(lib);
	check_queries();
	check_sync_times();
	check_legacy();
	check_per_thread();
	check_graphs();
	check_memory();
	check_errors();
	check_contexts();

	printf("apicheck: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}

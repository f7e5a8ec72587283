// SPDX-License-Identifier: MIT
/*
 * Calls the CUDA driver API of a given libcuda.so directly (dlopen/dlsym),
 * without a GPU: NVIDIA's real library returns an error at once when cuInit
 * was not called, but uprobes on its entry points fire all the same. Used
 * by tests/integration/test_cuda_real.py and tools/bench/cuda-site.sh.
 *
 *   cuda_calls LIBCUDA [launches N] [ptsz N] [graphs N] [htod N BYTES]
 *              [syncs N] [allocs N] [wait-ms MS] [loop N]
 *
 * wait-ms: pause after dlopen so the agent can attach to a library it
 * only learns about from this process's mmap. loop N: N cuLaunchKernel calls
 * timed; prints ns per call. Prints one JSON line of what it called.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*launch_fn)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
			 unsigned, void *, void **, void **);
typedef int (*graph_fn)(void *, void *);
typedef int (*copy_async_fn)(unsigned long long, const void *, size_t, void *);
typedef int (*sync_fn)(void *);
typedef int (*alloc_fn)(unsigned long long *, size_t);

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (!p) {
		fprintf(stderr, "cuda_calls: %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long launches = 0, ptsz = 0, graphs = 0, copies = 0, bytes = 0, syncs = 0, wait_ms = 0, loop = 0;
	long allocs = 0;
	static char buf[1 << 20];
	void *h;

	if (argc < 2) {
		fprintf(stderr, "usage: cuda_calls LIBCUDA [launches N] [ptsz N] [graphs N] "
				"[htod N BYTES] [syncs N] [wait-ms MS] [loop N]\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		long v = atol(argv[i + 1]);

		if (!strcmp(argv[i], "launches"))
			launches = v;
		else if (!strcmp(argv[i], "ptsz"))
			ptsz = v;
		else if (!strcmp(argv[i], "graphs"))
			graphs = v;
		else if (!strcmp(argv[i], "htod") && i + 2 < argc) {
			copies = v;
			bytes = atol(argv[i + 2]);
			if (bytes > (long)sizeof(buf))
				bytes = sizeof(buf);
			i++;
		} else if (!strcmp(argv[i], "syncs"))
			syncs = v;
		else if (!strcmp(argv[i], "allocs"))
			allocs = v;
		else if (!strcmp(argv[i], "wait-ms"))
			wait_ms = v;
		else if (!strcmp(argv[i], "loop"))
			loop = v;
	}
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "cuda_calls: %s\n", dlerror());
		return 1;
	}
	if (wait_ms)
		usleep((useconds_t)wait_ms * 1000);
	launch_fn launch = sym(h, "cuLaunchKernel"), launch_ptsz = sym(h, "cuLaunchKernel_ptsz");
	graph_fn graph = sym(h, "cuGraphLaunch");
	copy_async_fn htod = sym(h, "cuMemcpyHtoDAsync_v2");
	sync_fn ssync = sym(h, "cuStreamSynchronize");
	alloc_fn alloc = sym(h, "cuMemAlloc_v2");
	unsigned long long dptr = 0;
	void *stream = (void *)0x5000;

	for (long i = 0; i < launches; i++)
		launch((void *)0x1234, 7, 1, 1, 128, 1, 1, 0, stream, NULL, NULL);
	for (long i = 0; i < ptsz; i++)
		launch_ptsz((void *)0x1234, 7, 1, 1, 128, 1, 1, 0, NULL, NULL, NULL);
	for (long i = 0; i < graphs; i++)
		graph((void *)0x6000, stream);
	for (long i = 0; i < copies; i++)
		htod(0x100000, buf, (size_t)bytes, stream);
	for (long i = 0; i < syncs; i++)
		ssync(stream);
	for (long i = 0; i < allocs; i++)
		alloc(&dptr, 1 << 20);
	if (loop) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < loop; i++)
			launch((void *)0x1234, 7, 1, 1, 128, 1, 1, 0, stream, NULL, NULL);
		printf("{\"loop\":%ld,\"ns_per_call\":%.1f}\n", loop, (double)(now_ns() - t0) / (double)loop);
	}
	printf("{\"pid\":%d,\"launches\":%ld,\"ptsz\":%ld,\"graphs\":%ld,\"htod\":%ld,\"bytes\":%ld,"
	       "\"syncs\":%ld,\"allocs\":%ld}\n",
	       (int)getpid(), launches, ptsz, graphs, copies, bytes, syncs, allocs);
	return 0;
}

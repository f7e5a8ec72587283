/* SPDX-License-Identifier: MIT */
/*
 * CUDA driver probes (bpf/cuda.bpf.c) and the agent's GPU accounting
 * (src/gpu/). Launch counts and bytes stay in a per-process map the agent
 * reads each interval; the ring buffer only carries busy spans, written
 * when a synchronisation proves a stream's work complete.
 */
#ifndef INFERTRACE_GPU_EVENT_H
#define INFERTRACE_GPU_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* What a probe site is: the attach cookie's low byte. */
enum gpu_fn_kind {
	GPU_FN_LAUNCH = 1,      /* cuLaunchKernel, cuLaunchCooperativeKernel: stream = 9th arg */
	GPU_FN_LAUNCH_EX,       /* cuLaunchKernelEx: stream in the CUlaunchConfig */
	GPU_FN_GRAPH,           /* cuGraphLaunch(exec, stream) */
	GPU_FN_MEMCPY,          /* synchronous copy (dst, src, bytes) */
	GPU_FN_MEMCPY_ASYNC,    /* (dst, src, bytes, stream) */
	GPU_FN_ALLOC,           /* (CUdeviceptr *dptr, bytes, ...) */
	GPU_FN_FREE,            /* (dptr, ...) */
	GPU_FN_STREAM_SYNC,     /* cuStreamSynchronize(stream) */
	GPU_FN_CTX_SYNC,        /* cuCtxSynchronize() */
	GPU_FN_EVENT_SYNC,      /* cuEventSynchronize(event) */
	GPU_FN_EVENT_QUERY,     /* cuEventQuery(event) */
	GPU_FN_STREAM_QUERY,    /* cuStreamQuery(stream) */
	GPU_FN_EVENT_RECORD,    /* cuEventRecord(event, stream) */
};

/* Cookie bits above the kind. */
#define GPU_COOKIE_PTSZ (1u << 8)     /* per-thread default stream variant */
#define GPU_COOKIE_DIR_SHIFT 9        /* memcpy direction, enum gpu_copy_dir */
#define GPU_COOKIE_FN_SHIFT 16        /* index in the agent's function table */
#define GPU_MAX_FUNCS 64

enum gpu_copy_dir {
	GPU_COPY_HTOD = 0,
	GPU_COPY_DTOH,
	GPU_COPY_DTOD,
	GPU_COPY_OTHER,         /* cuMemcpy/cuMemcpyAsync: unified addressing decides */
	GPU_COPY_NDIR,
};

/* Per-process counters, updated in place by the probes (totals since the
 * process was first seen; the agent reports differences per interval). */
struct gpu_counters {
	__u64 launches;
	__u64 graph_launches;
	__u64 memcpy_bytes[GPU_COPY_NDIR];
	__u64 memcpy_calls;
	__u64 mem_bytes;        /* device memory held now (allocations seen) */
	__u64 mem_peak;
	__u64 allocs, frees;
	__u64 sync_wait_ns;     /* time spent inside synchronisation calls */
	__u64 syncs;
};

#define IT_EV_GPU_SPAN 16

/* A stream was busy from start_ns to end_ns (CLOCK_MONOTONIC). */
struct gpu_span_event {
	__u32 kind;             /* IT_EV_GPU_SPAN */
	__u32 pid;
	__u64 stream;
	__u64 start_ns;
	__u64 end_ns;
	__u32 launches;         /* launches the span covers */
	__u32 closed_by;        /* enum gpu_fn_kind of the synchronisation */
};

#endif

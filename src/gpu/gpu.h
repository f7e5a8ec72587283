/* SPDX-License-Identifier: MIT */
/*
 * Accelerator time per process: busy spans from the CUDA probes, merged per
 * (process, device) and shared among processes busy on a device at the same
 * time; launch, copy and memory counters from the probes' per-process map;
 * NVML's per-process utilisation in place of the spans where the driver
 * offers it.
 */
#ifndef INFERTRACE_GPU_H
#define INFERTRACE_GPU_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "gpu_event.h"

struct gpu;

/* A busy span [start, end), CLOCK_MONOTONIC ns. */
struct gpu_span {
	uint64_t start, end;
};

/* Reads the probes' per-process counters: returns 0 and fills *c, or -1. */
typedef int (*gpu_counters_fn)(void *ctx, uint32_t pid, struct gpu_counters *c);

/* Lists the pids the probes keep counters for: fills up to max, returns
 * how many. */
typedef size_t (*gpu_pids_fn)(void *ctx, uint32_t *pids, size_t max);

/* A stream with work pending since first_ns (a span not closed yet). */
struct gpu_pending {
	uint32_t pid;
	uint64_t stream;
	uint64_t first_ns;
};
typedef size_t (*gpu_pending_fn)(void *ctx, struct gpu_pending *out, size_t max);

struct gpu_opts {
	gpu_counters_fn read_counters;
	gpu_pids_fn list_pids;
	gpu_pending_fn list_pending;
	void *ctx;
	const char *nvml_lib;   /* dlopen() name; NULL: "libnvidia-ml.so.1"; "" : no NVML */
	const char *proc_root;  /* "/proc" (tests may point elsewhere) */
};

struct gpu *gpu_new(const struct gpu_opts *o);
void gpu_free(struct gpu *g);

/* A busy span from the ring buffer. */
void gpu_span(struct gpu *g, const struct gpu_span_event *e);

/* Processes with GPU activity this interval (new spans or counter changes),
 * for the caller to make sure each gets a usage record. Returns the count;
 * *pids is valid until the next call. */
size_t gpu_active_pids(struct gpu *g, uint32_t **pids);

/* The interval [start_ns, end_ns) is over: compute busy time per process. */
void gpu_interval(struct gpu *g, uint64_t start_ns, uint64_t end_ns);
/*
 * Add the GPU fields of pid's usage record for the interval just computed
 * (or, with final, up to end_ns for a process that exited). Returns true
 * when the process had GPU activity.
 */
bool gpu_usage_fields(struct gpu *g, uint32_t pid, cJSON *rec);
/* The process ended at exit_ns: its counters are read now, its share of
 * the device at the interval's end (gpu_interval), before the caller asks
 * for its last usage fields. */
void gpu_proc_exit(struct gpu *g, uint32_t pid, uint64_t exit_ns);

/* Drop what is kept about pid (after its last usage record). */
void gpu_forget(struct gpu *g, uint32_t pid);

/* A process's part of the interval just computed (gpu_interval), for the
 * cost ledger: read after gpu_active_pids, before gpu_usage_fields. */
struct gpu_proc_usage {
	uint32_t pid;
	int device;
	double busy_s;           /* as reported: NVML's where it has samples */
	uint64_t mem_bytes;      /* device memory held at the interval's end */
	bool exited;
	/* its busy spans (merged, sorted; may reach before the interval), valid
	 * until gpu_usage_fields: when in the interval the time was spent */
	const struct gpu_span *spans;
	size_t nspans;
};
/* Processes with GPU activity or memory held; returns the count. */
size_t gpu_interval_procs(struct gpu *g, struct gpu_proc_usage *out, size_t max);

/* Devices known: all of NVML's, else every one a process was seen on.
 * Fills idx with device indices; returns the count. */
size_t gpu_devices(const struct gpu *g, int *idx, size_t max);
/* NVML's name ("NVIDIA H100 80GB HBM3") and UUID, or "cuda:N" and "". */
void gpu_device_identity(const struct gpu *g, int dev, char *name, size_t nlen, char *uuid,
			 size_t ulen);

struct gpu_stats {
	uint64_t spans;
	uint64_t nvml_ok;         /* 1 when NVML answered */
	uint64_t devices;
};
void gpu_get_stats(const struct gpu *g, struct gpu_stats *st);

/* Exposed for tests: the union length of n spans [start, end) clipped to
 * [lo, hi); spans are sorted in place. */
uint64_t gpu_union_ns(struct gpu_span *s, size_t n, uint64_t lo, uint64_t hi);

#endif

/* SPDX-License-Identifier: MIT */
/* The CUDA driver entry points infertrace probes, and how. */
#ifndef INFERTRACE_CUDAFUNCS_H
#define INFERTRACE_CUDAFUNCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gpu_probe_mode {
	GPU_PROBES_OFF = 0,
	GPU_PROBES_SYNC,   /* synchronisations only: busy time = time waited */
	GPU_PROBES_FULL,   /* launches, copies, memory, synchronisations */
};

struct cuda_func {
	const char *name;
	uint64_t cookie;   /* enum gpu_fn_kind | GPU_COOKIE_* (include/gpu_event.h) */
	bool ret;          /* needs a return probe (at the entry, where %rsp
			    * still points at the return address) */
	bool sync_mode;    /* attached with --gpu-probes=sync too */
};

extern const struct cuda_func cuda_funcs[];
extern const size_t cuda_nfuncs;

bool cuda_library_name(const char *path); /* libcuda.so* */

#endif

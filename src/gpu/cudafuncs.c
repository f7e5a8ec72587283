// SPDX-License-Identifier: MIT
#include "gpu/cudafuncs.h"

#include <string.h>

#include "gpu_event.h"

#define PTSZ GPU_COOKIE_PTSZ
#define DIR(d) ((uint64_t)(d) << GPU_COOKIE_DIR_SHIFT)

/* Names as exported by libcuda.so (checked against 535 and 580, see
 * docs/facts/); a name a driver lacks is reported absent, not an error. */
const struct cuda_func cuda_funcs[] = {
	{ "cuLaunchKernel", GPU_FN_LAUNCH, false, false },
	{ "cuLaunchKernel_ptsz", GPU_FN_LAUNCH | PTSZ, false, false },
	{ "cuLaunchCooperativeKernel", GPU_FN_LAUNCH, false, false },
	{ "cuLaunchCooperativeKernel_ptsz", GPU_FN_LAUNCH | PTSZ, false, false },
	{ "cuLaunchKernelEx", GPU_FN_LAUNCH_EX, false, false },
	{ "cuLaunchKernelEx_ptsz", GPU_FN_LAUNCH_EX | PTSZ, false, false },
	{ "cuGraphLaunch", GPU_FN_GRAPH, false, false },
	{ "cuGraphLaunch_ptsz", GPU_FN_GRAPH | PTSZ, false, false },
	{ "cuMemcpyHtoD_v2", GPU_FN_MEMCPY | DIR(GPU_COPY_HTOD), true, false },
	{ "cuMemcpyHtoD_v2_ptds", GPU_FN_MEMCPY | DIR(GPU_COPY_HTOD) | PTSZ, true, false },
	{ "cuMemcpyDtoH_v2", GPU_FN_MEMCPY | DIR(GPU_COPY_DTOH), true, false },
	{ "cuMemcpyDtoH_v2_ptds", GPU_FN_MEMCPY | DIR(GPU_COPY_DTOH) | PTSZ, true, false },
	{ "cuMemcpyDtoD_v2", GPU_FN_MEMCPY | DIR(GPU_COPY_DTOD), true, false },
	{ "cuMemcpyDtoD_v2_ptds", GPU_FN_MEMCPY | DIR(GPU_COPY_DTOD) | PTSZ, true, false },
	{ "cuMemcpy", GPU_FN_MEMCPY | DIR(GPU_COPY_OTHER), true, false },
	{ "cuMemcpy_ptds", GPU_FN_MEMCPY | DIR(GPU_COPY_OTHER) | PTSZ, true, false },
	{ "cuMemcpyHtoDAsync_v2", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_HTOD), false, false },
	{ "cuMemcpyHtoDAsync_v2_ptsz", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_HTOD) | PTSZ, false, false },
	{ "cuMemcpyDtoHAsync_v2", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_DTOH), false, false },
	{ "cuMemcpyDtoHAsync_v2_ptsz", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_DTOH) | PTSZ, false, false },
	{ "cuMemcpyDtoDAsync_v2", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_DTOD), false, false },
	{ "cuMemcpyDtoDAsync_v2_ptsz", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_DTOD) | PTSZ, false, false },
	{ "cuMemcpyAsync", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_OTHER), false, false },
	{ "cuMemcpyAsync_ptsz", GPU_FN_MEMCPY_ASYNC | DIR(GPU_COPY_OTHER) | PTSZ, false, false },
	{ "cuMemAlloc_v2", GPU_FN_ALLOC, true, false },
	{ "cuMemAllocManaged", GPU_FN_ALLOC, true, false },
	{ "cuMemAllocAsync", GPU_FN_ALLOC, true, false },
	{ "cuMemAllocAsync_ptsz", GPU_FN_ALLOC | PTSZ, true, false },
	{ "cuMemFree_v2", GPU_FN_FREE, false, false },
	{ "cuMemFreeAsync", GPU_FN_FREE, false, false },
	{ "cuMemFreeAsync_ptsz", GPU_FN_FREE | PTSZ, false, false },
	{ "cuStreamSynchronize", GPU_FN_STREAM_SYNC, true, true },
	{ "cuStreamSynchronize_ptsz", GPU_FN_STREAM_SYNC | PTSZ, true, true },
	{ "cuCtxSynchronize", GPU_FN_CTX_SYNC, true, true },
	{ "cuCtxSynchronize_v2", GPU_FN_CTX_SYNC, true, true },
	{ "cuEventSynchronize", GPU_FN_EVENT_SYNC, true, true },
	{ "cuEventQuery", GPU_FN_EVENT_QUERY, true, false },
	{ "cuStreamQuery", GPU_FN_STREAM_QUERY, true, false },
	{ "cuStreamQuery_ptsz", GPU_FN_STREAM_QUERY | PTSZ, true, false },
	{ "cuEventRecord", GPU_FN_EVENT_RECORD, false, false },
	{ "cuEventRecord_ptsz", GPU_FN_EVENT_RECORD | PTSZ, false, false },
	{ "cuEventRecordWithFlags", GPU_FN_EVENT_RECORD, false, false },
	{ "cuEventRecordWithFlags_ptsz", GPU_FN_EVENT_RECORD | PTSZ, false, false },
};
const size_t cuda_nfuncs = sizeof(cuda_funcs) / sizeof(cuda_funcs[0]);

bool cuda_library_name(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "libcuda.so", 10) == 0;
}

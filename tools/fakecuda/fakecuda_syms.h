/* SPDX-License-Identifier: MIT */
/*
 * Every exported CUDA entry point of the fake libcuda.so.1, once:
 *
 *   FK_SYM(symbol, name, version, pt)
 *
 * symbol   the exported ELF symbol (as in NVIDIA's libcuda.so)
 * name     the unversioned name cuGetProcAddress is asked for
 * version  the lowest CUDA version (cuda.h's 1000*major + 10*minor) whose
 *          cuda.h maps `name` to `symbol`; cuGetProcAddress picks the entry
 *          with the highest version not above the caller's
 * pt       1 for the per-thread-default-stream variant (_ptsz/_ptds) of the
 *          entry with the same name and version: returned instead when the
 *          caller passes CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
 *
 * fakecuda.c expands this list three times: the exported entry stubs, the
 * cuGetProcAddress table, and the per-symbol call counters of the truth
 * summary. No include guard: it is meant to be included repeatedly.
 */
FK_SYM(cuInit, cuInit, 2000, 0)
FK_SYM(cuDriverGetVersion, cuDriverGetVersion, 2020, 0)
FK_SYM(cuGetErrorString, cuGetErrorString, 6000, 0)
FK_SYM(cuGetErrorName, cuGetErrorName, 6000, 0)
FK_SYM(cuGetProcAddress, cuGetProcAddress, 11030, 0)
FK_SYM(cuGetProcAddress_v2, cuGetProcAddress, 12000, 0)

FK_SYM(cuDeviceGet, cuDeviceGet, 2000, 0)
FK_SYM(cuDeviceGetCount, cuDeviceGetCount, 2000, 0)
FK_SYM(cuDeviceGetName, cuDeviceGetName, 2000, 0)
FK_SYM(cuDeviceGetUuid, cuDeviceGetUuid, 9020, 0)
FK_SYM(cuDeviceGetUuid_v2, cuDeviceGetUuid, 11040, 0)
FK_SYM(cuDeviceTotalMem_v2, cuDeviceTotalMem, 3020, 0)
FK_SYM(cuDeviceGetAttribute, cuDeviceGetAttribute, 2000, 0)

FK_SYM(cuCtxCreate_v2, cuCtxCreate, 3020, 0)
FK_SYM(cuCtxCreate_v3, cuCtxCreate, 11040, 0)
FK_SYM(cuCtxDestroy_v2, cuCtxDestroy, 4000, 0)
FK_SYM(cuCtxGetCurrent, cuCtxGetCurrent, 4000, 0)
FK_SYM(cuCtxSetCurrent, cuCtxSetCurrent, 4000, 0)
FK_SYM(cuCtxPushCurrent_v2, cuCtxPushCurrent, 4000, 0)
FK_SYM(cuCtxPopCurrent_v2, cuCtxPopCurrent, 4000, 0)
FK_SYM(cuCtxGetDevice, cuCtxGetDevice, 2000, 0)
FK_SYM(cuCtxSynchronize, cuCtxSynchronize, 2000, 0)
FK_SYM(cuCtxSynchronize_v2, cuCtxSynchronize, 13000, 0)
FK_SYM(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, 7000, 0)
FK_SYM(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease, 7000, 0)
FK_SYM(cuDevicePrimaryCtxRelease_v2, cuDevicePrimaryCtxRelease, 11000, 0)

FK_SYM(cuModuleLoad, cuModuleLoad, 2000, 0)
FK_SYM(cuModuleLoadData, cuModuleLoadData, 2000, 0)
FK_SYM(cuModuleGetFunction, cuModuleGetFunction, 2000, 0)
FK_SYM(cuModuleUnload, cuModuleUnload, 2000, 0)

FK_SYM(cuStreamCreate, cuStreamCreate, 2000, 0)
FK_SYM(cuStreamCreateWithPriority, cuStreamCreateWithPriority, 5050, 0)
FK_SYM(cuStreamDestroy_v2, cuStreamDestroy, 4000, 0)
FK_SYM(cuStreamSynchronize, cuStreamSynchronize, 2000, 0)
FK_SYM(cuStreamSynchronize_ptsz, cuStreamSynchronize, 2000, 1)
FK_SYM(cuStreamQuery, cuStreamQuery, 2000, 0)
FK_SYM(cuStreamQuery_ptsz, cuStreamQuery, 2000, 1)
FK_SYM(cuStreamWaitEvent, cuStreamWaitEvent, 3020, 0)
FK_SYM(cuStreamWaitEvent_ptsz, cuStreamWaitEvent, 3020, 1)
FK_SYM(cuStreamBeginCapture, cuStreamBeginCapture, 10000, 0)
FK_SYM(cuStreamBeginCapture_ptsz, cuStreamBeginCapture, 10000, 1)
FK_SYM(cuStreamBeginCapture_v2, cuStreamBeginCapture, 10010, 0)
FK_SYM(cuStreamBeginCapture_v2_ptsz, cuStreamBeginCapture, 10010, 1)
FK_SYM(cuStreamEndCapture, cuStreamEndCapture, 10000, 0)
FK_SYM(cuStreamEndCapture_ptsz, cuStreamEndCapture, 10000, 1)
FK_SYM(cuStreamIsCapturing, cuStreamIsCapturing, 10000, 0)
FK_SYM(cuStreamIsCapturing_ptsz, cuStreamIsCapturing, 10000, 1)

FK_SYM(cuEventCreate, cuEventCreate, 2000, 0)
FK_SYM(cuEventDestroy_v2, cuEventDestroy, 4000, 0)
FK_SYM(cuEventRecord, cuEventRecord, 2000, 0)
FK_SYM(cuEventRecord_ptsz, cuEventRecord, 2000, 1)
FK_SYM(cuEventRecordWithFlags, cuEventRecordWithFlags, 11010, 0)
FK_SYM(cuEventRecordWithFlags_ptsz, cuEventRecordWithFlags, 11010, 1)
FK_SYM(cuEventSynchronize, cuEventSynchronize, 2000, 0)
FK_SYM(cuEventQuery, cuEventQuery, 2000, 0)
FK_SYM(cuEventElapsedTime, cuEventElapsedTime, 2000, 0)

FK_SYM(cuLaunchKernel, cuLaunchKernel, 4000, 0)
FK_SYM(cuLaunchKernel_ptsz, cuLaunchKernel, 4000, 1)
FK_SYM(cuLaunchKernelEx, cuLaunchKernelEx, 11060, 0)
FK_SYM(cuLaunchKernelEx_ptsz, cuLaunchKernelEx, 11060, 1)
FK_SYM(cuLaunchCooperativeKernel, cuLaunchCooperativeKernel, 9000, 0)
FK_SYM(cuLaunchCooperativeKernel_ptsz, cuLaunchCooperativeKernel, 9000, 1)

FK_SYM(cuGraphCreate, cuGraphCreate, 10000, 0)
FK_SYM(cuGraphDestroy, cuGraphDestroy, 10000, 0)
FK_SYM(cuGraphAddKernelNode, cuGraphAddKernelNode, 10000, 0)
FK_SYM(cuGraphAddKernelNode_v2, cuGraphAddKernelNode, 12000, 0)
FK_SYM(cuGraphInstantiate, cuGraphInstantiate, 10000, 0)
FK_SYM(cuGraphInstantiate_v2, cuGraphInstantiate, 11000, 0)
FK_SYM(cuGraphInstantiateWithFlags, cuGraphInstantiateWithFlags, 11040, 0)
FK_SYM(cuGraphExecDestroy, cuGraphExecDestroy, 10000, 0)
FK_SYM(cuGraphLaunch, cuGraphLaunch, 10000, 0)
FK_SYM(cuGraphLaunch_ptsz, cuGraphLaunch, 10000, 1)

FK_SYM(cuMemAlloc_v2, cuMemAlloc, 3020, 0)
FK_SYM(cuMemAllocManaged, cuMemAllocManaged, 6000, 0)
FK_SYM(cuMemAllocAsync, cuMemAllocAsync, 11020, 0)
FK_SYM(cuMemAllocAsync_ptsz, cuMemAllocAsync, 11020, 1)
FK_SYM(cuMemFree_v2, cuMemFree, 3020, 0)
FK_SYM(cuMemFreeAsync, cuMemFreeAsync, 11020, 0)
FK_SYM(cuMemFreeAsync_ptsz, cuMemFreeAsync, 11020, 1)
FK_SYM(cuMemGetInfo_v2, cuMemGetInfo, 3020, 0)

FK_SYM(cuMemcpy, cuMemcpy, 4000, 0)
FK_SYM(cuMemcpy_ptds, cuMemcpy, 4000, 1)
FK_SYM(cuMemcpyAsync, cuMemcpyAsync, 4000, 0)
FK_SYM(cuMemcpyAsync_ptsz, cuMemcpyAsync, 4000, 1)
FK_SYM(cuMemcpyHtoD_v2, cuMemcpyHtoD, 3020, 0)
FK_SYM(cuMemcpyHtoD_v2_ptds, cuMemcpyHtoD, 3020, 1)
FK_SYM(cuMemcpyDtoH_v2, cuMemcpyDtoH, 3020, 0)
FK_SYM(cuMemcpyDtoH_v2_ptds, cuMemcpyDtoH, 3020, 1)
FK_SYM(cuMemcpyDtoD_v2, cuMemcpyDtoD, 3020, 0)
FK_SYM(cuMemcpyDtoD_v2_ptds, cuMemcpyDtoD, 3020, 1)
FK_SYM(cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync, 3020, 0)
FK_SYM(cuMemcpyHtoDAsync_v2_ptsz, cuMemcpyHtoDAsync, 3020, 1)
FK_SYM(cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync, 3020, 0)
FK_SYM(cuMemcpyDtoHAsync_v2_ptsz, cuMemcpyDtoHAsync, 3020, 1)
FK_SYM(cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync, 3020, 0)
FK_SYM(cuMemcpyDtoDAsync_v2_ptsz, cuMemcpyDtoDAsync, 3020, 1)
FK_SYM(cuMemsetD8_v2, cuMemsetD8, 3020, 0)
FK_SYM(cuMemsetD8_v2_ptds, cuMemsetD8, 3020, 1)
FK_SYM(cuMemsetD32_v2, cuMemsetD32, 3020, 0)
FK_SYM(cuMemsetD32_v2_ptds, cuMemsetD32, 3020, 1)
FK_SYM(cuMemsetD8Async, cuMemsetD8Async, 3020, 0)
FK_SYM(cuMemsetD8Async_ptsz, cuMemsetD8Async, 3020, 1)

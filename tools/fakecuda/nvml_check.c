// SPDX-License-Identifier: MIT
/*
 * nvml_check: loads libnvidia-ml.so.1 the way the agent does (dlopen by
 * soname, dlsym of each entry point) and checks that the fake answers what
 * a script says: devices, processes and their memory, and per-process
 * utilisation samples as time passes. It writes its own scripts in a
 * temporary directory.
 *
 * Prints "ok - ..." / "not ok - ..." per check and
 * "nvml_check: N passed, M failed" last.
 */
#include "fakenvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t (v2/v3) is 24 bytes");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t is 16 bytes");
_Static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "sample is 32 bytes");
_Static_assert(offsetof(nvmlProcessUtilizationSample_t, timeStamp) == 8, "timeStamp at 8");
_Static_assert(offsetof(nvmlProcessUtilizationSample_t, smUtil) == 16, "smUtil at 16");
_Static_assert(offsetof(nvmlProcessInfo_t, gpuInstanceId) == 16, "gpuInstanceId at 16");

static int passed, failed;

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

static unsigned long long realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Replace the script atomically (new inode), as a test would. */
static void write_script(const char *dir, const char *text)
{
	char tmp[512], path[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/script.tmp", dir);
	snprintf(path, sizeof(path), "%s/script", dir);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		perror("nvml_check: writing the script");
		exit(2);
	}
}

#define SYM(name) __typeof__(&name) p_##name = (__typeof__(&name))dlsym(lib, #name)
#define RC(call, want)                                                                       \
	do {                                                                                 \
		nvmlReturn_t rc_ = (call);                                                   \
		ok(rc_ == (want), "%s: expected %d, got %d", #call, (int)(want), (int)rc_); \
	} while (0)

int main(void)
{
	char dir[] = "/tmp/nvml_check.XXXXXX", path[600], buf[128];
	void *lib;
	unsigned int count = 99;
	nvmlDevice_t d0 = NULL, d1 = NULL, dx = NULL;
	nvmlMemory_t mem;
	nvmlProcessInfo_t procs[3];
	nvmlProcessUtilizationSample_t smp[256];
	unsigned long long t_load, last;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/script", dir);
	setenv("FAKENVML_SCRIPT", path, 1);
	write_script(dir,
		     "# two devices, two processes on device 0\n"
		     "device 0 name=\"NVIDIA A100-SXM4-80GB\" uuid=GPU-11111111-2222-3333-4444-555555555555 memory=85899345920\n"
		     "device 1 memory=1000\n"
		     "process 0 pid=4242 mem=1073741824\n"
		     "process 0 pid=4343 mem=536870912\n"
		     "sample 0 pid=4242 t=-300ms sm=30 mem=3\n"
		     "sample 0 pid=4242 t=-200ms sm=40 mem=4 enc=1 dec=2\n"
		     "sample 0 pid=4343 t=-100ms sm=50 mem=5\n"
		     "sample 0 pid=4343 t=400ms sm=60 mem=6\n"
		     "steady 1 pid=5151 sm=77 every=100ms from=-1s until=0\n");

	lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	ok(lib != NULL, "dlopen(\"libnvidia-ml.so.1\"): %s", lib ? "loaded" : dlerror());
	if (!lib)
		return 1;
	SYM(nvmlInit_v2);
	SYM(nvmlShutdown);
	SYM(nvmlErrorString);
	SYM(nvmlDeviceGetCount_v2);
	SYM(nvmlDeviceGetHandleByIndex_v2);
	SYM(nvmlDeviceGetName);
	SYM(nvmlDeviceGetUUID);
	SYM(nvmlDeviceGetMemoryInfo);
	SYM(nvmlDeviceGetComputeRunningProcesses_v3);
	SYM(nvmlDeviceGetProcessUtilization);
	ok(p_nvmlInit_v2 && p_nvmlShutdown && p_nvmlErrorString && p_nvmlDeviceGetCount_v2 &&
		   p_nvmlDeviceGetHandleByIndex_v2 && p_nvmlDeviceGetName && p_nvmlDeviceGetUUID &&
		   p_nvmlDeviceGetMemoryInfo && p_nvmlDeviceGetComputeRunningProcesses_v3 &&
		   p_nvmlDeviceGetProcessUtilization,
	   "every entry point resolves");

	RC(p_nvmlDeviceGetCount_v2(&count), NVML_ERROR_UNINITIALIZED);
	setenv("FAKENVML_INIT_ERROR", "9", 1);
	RC(p_nvmlInit_v2(), NVML_ERROR_DRIVER_NOT_LOADED);
	unsetenv("FAKENVML_INIT_ERROR");
	RC(p_nvmlInit_v2(), NVML_SUCCESS);
	t_load = realtime_us();
	RC(p_nvmlDeviceGetCount_v2(&count), NVML_SUCCESS);
	ok(count == 2, "2 devices (got %u)", count);
	RC(p_nvmlDeviceGetHandleByIndex_v2(0, &d0), NVML_SUCCESS);
	RC(p_nvmlDeviceGetHandleByIndex_v2(1, &d1), NVML_SUCCESS);
	RC(p_nvmlDeviceGetHandleByIndex_v2(2, &dx), NVML_ERROR_INVALID_ARGUMENT);

	RC(p_nvmlDeviceGetName(d0, buf, sizeof(buf)), NVML_SUCCESS);
	ok(strcmp(buf, "NVIDIA A100-SXM4-80GB") == 0, "name '%s'", buf);
	RC(p_nvmlDeviceGetName(d0, buf, 5), NVML_ERROR_INSUFFICIENT_SIZE);
	RC(p_nvmlDeviceGetUUID(d0, buf, sizeof(buf)), NVML_SUCCESS);
	ok(strcmp(buf, "GPU-11111111-2222-3333-4444-555555555555") == 0, "uuid '%s'", buf);
	RC(p_nvmlDeviceGetName(d1, buf, sizeof(buf)), NVML_SUCCESS);
	ok(strcmp(buf, "NVIDIA H100 80GB HBM3") == 0 || getenv("FAKECUDA_DEVICE_NAME"),
	   "device 1 keeps the default name '%s'", buf);
	RC(p_nvmlDeviceGetUUID(d1, buf, sizeof(buf)), NVML_SUCCESS);
	ok(strcmp(buf, "GPU-fa4ecada-0000-4000-8000-000000000001") == 0,
	   "device 1 default uuid '%s' (fakecuda's device 1)", buf);

	RC(p_nvmlDeviceGetMemoryInfo(d0, &mem), NVML_SUCCESS);
	ok(mem.total == 85899345920ULL && mem.used == 1610612736ULL &&
		   mem.free == mem.total - mem.used,
	   "memory total/used/free %llu/%llu/%llu", mem.total, mem.used, mem.free);

	/* Running processes: size query, then a fill that must not overrun. */
	count = 0;
	RC(p_nvmlDeviceGetComputeRunningProcesses_v3(d0, &count, NULL),
	   NVML_ERROR_INSUFFICIENT_SIZE);
	ok(count == 2, "2 running processes (got %u)", count);
	memset(procs, 0xee, sizeof(procs));
	count = 2;
	RC(p_nvmlDeviceGetComputeRunningProcesses_v3(d0, &count, procs), NVML_SUCCESS);
	ok(count == 2 && procs[0].pid == 4242 && procs[0].usedGpuMemory == 1073741824ULL &&
		   procs[1].pid == 4343 && procs[1].usedGpuMemory == 536870912ULL &&
		   procs[0].gpuInstanceId == 0xFFFFFFFFu && procs[1].computeInstanceId == 0xFFFFFFFFu,
	   "processes: pid 4242 1 GiB, pid 4343 512 MiB, no MIG ids");
	ok(procs[2].pid == 0xeeeeeeeeu, "the 24-byte v3 struct: nothing written past 2 entries");
	count = 5;
	RC(p_nvmlDeviceGetComputeRunningProcesses_v3(d1, &count, procs), NVML_SUCCESS);
	ok(count == 0, "no processes on device 1");

	/* Utilisation samples: three are due now, one 400 ms from now. */
	count = 0;
	RC(p_nvmlDeviceGetProcessUtilization(d0, NULL, &count, 0), NVML_ERROR_INSUFFICIENT_SIZE);
	ok(count == 3, "3 samples due (got %u)", count);
	count = 2;
	RC(p_nvmlDeviceGetProcessUtilization(d0, smp, &count, 0), NVML_ERROR_INSUFFICIENT_SIZE);
	count = 256;
	RC(p_nvmlDeviceGetProcessUtilization(d0, smp, &count, 0), NVML_SUCCESS);
	ok(count == 3 && smp[0].pid == 4242 && smp[0].smUtil == 30 && smp[0].memUtil == 3 &&
		   smp[1].pid == 4242 && smp[1].smUtil == 40 && smp[1].encUtil == 1 &&
		   smp[1].decUtil == 2 && smp[2].pid == 4343 && smp[2].smUtil == 50,
	   "samples in time order with their values");
	{
		long long d0us = (long long)t_load - (long long)smp[0].timeStamp;
		long long gap = (long long)smp[1].timeStamp - (long long)smp[0].timeStamp;

		ok(d0us >= 300000 && d0us < 400000 && gap == 100000,
		   "timestamps: CLOCK_REALTIME us, 300 ms before loading (%lld us), 100 ms apart "
		   "(%lld us)",
		   d0us, gap);
	}
	last = smp[1].timeStamp;
	count = 256;
	RC(p_nvmlDeviceGetProcessUtilization(d0, smp, &count, last), NVML_SUCCESS);
	ok(count == 1 && smp[0].pid == 4343, "lastSeenTimeStamp filters older samples");
	last = smp[0].timeStamp;
	count = 256;
	RC(p_nvmlDeviceGetProcessUtilization(d0, smp, &count, last), NVML_ERROR_NOT_FOUND);
	ok(count == 0, "nothing newer: NOT_FOUND, count 0");
	sleep_ms(450);
	count = 256;
	RC(p_nvmlDeviceGetProcessUtilization(d0, smp, &count, last), NVML_SUCCESS);
	ok(count == 1 && smp[0].pid == 4343 && smp[0].smUtil == 60,
	   "the sample scripted 400 ms ahead appears once its time has come");

	/* steady: every 100 ms from -1 s to 0 -> 11 samples. */
	count = 256;
	RC(p_nvmlDeviceGetProcessUtilization(d1, smp, &count, 0), NVML_SUCCESS);
	ok(count == 11 && smp[0].pid == 5151 && smp[10].smUtil == 77 &&
		   smp[10].timeStamp - smp[0].timeStamp == 1000000ULL,
	   "steady generator: 11 samples over 1 s (got %u)", count);

	/* The script is read again when it changes. */
	write_script(dir, "device 0 name=\"NVIDIA L4\" memory=24000000000\n"
			  "steady 0 pid=6161 sm=25 every=50ms from=-500ms\n");
	RC(p_nvmlDeviceGetName(d0, buf, sizeof(buf)), NVML_SUCCESS);
	ok(strcmp(buf, "NVIDIA L4") == 0, "reloaded script: name '%s'", buf);
	RC(p_nvmlDeviceGetCount_v2(&count), NVML_SUCCESS);
	ok(count == 1, "reloaded script: 1 device");
	count = 256;
	RC(p_nvmlDeviceGetProcessUtilization(d0, smp, &count, 0), NVML_SUCCESS);
	ok(count >= 10 && count <= 12 && smp[0].pid == 6161 && smp[0].smUtil == 25,
	   "reloaded script: steady samples every 50 ms for the last 500 ms (got %u)", count);

	ok(strcmp(p_nvmlErrorString(NVML_ERROR_NOT_FOUND), "Not Found") == 0,
	   "nvmlErrorString(NOT_FOUND)");
	RC(p_nvmlShutdown(), NVML_SUCCESS);
	RC(p_nvmlDeviceGetCount_v2(&count), NVML_ERROR_UNINITIALIZED);

	snprintf(path, sizeof(path), "%s/script", dir);
	unlink(path);
	rmdir(dir);
	printf("nvml_check: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}

// SPDX-License-Identifier: MIT
/*
 * fakenvml: a libnvidia-ml.so.1 that answers from a script instead of a
 * GPU, so that infertrace's NVML path (dlopen("libnvidia-ml.so.1"), per-
 * process SM utilisation samples, per-process memory, device identity) can
 * be tested without NVIDIA hardware.
 *
 * FAKENVML_SCRIPT names a text file, one directive per line ('#' starts a
 * comment; times are relative to the moment the fake read the file):
 *
 *   device  IDX [name="..."] [uuid=GPU-...] [memory=BYTES] [used=BYTES]
 *               [gpu_util=PCT] [mem_util=PCT]
 *   process IDX pid=PID [mem=BYTES]
 *   sample  IDX pid=PID t=TIME [sm=PCT] [mem=PCT] [enc=PCT] [dec=PCT]
 *   steady  IDX pid=PID every=TIME [sm=..] [mem=..] [enc=..] [dec=..]
 *               [from=TIME] [until=TIME]
 *
 * TIME is a signed number with a unit (ns, us, ms, s; ms if none). The file
 * is read again whenever it changes (inode, size or mtime), and its times
 * then count from the new reading. FAKENVML_INIT_ERROR=N makes nvmlInit
 * fail with N (e.g. 9, NVML_ERROR_DRIVER_NOT_LOADED). See README.md.
 */
#include "fakenvml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NV_EXPORT __attribute__((visibility("default")))

#define MAX_DEV 16
#define MAX_PROCS 256
#define MAX_SAMPLES 8192
#define MAX_STEADY 256
#define STEADY_KEEP 100 /* a generator's samples kept, like NVML's bounded buffer */

struct nvmlDevice_st {
	unsigned int index;
};

struct nv_dev {
	char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	unsigned long long mem_total, mem_used;
	bool used_set;
	unsigned int gpu_util, mem_util;
};

struct nv_proc {
	unsigned int dev, pid;
	unsigned long long mem;
};

struct nv_sample {
	unsigned int dev, pid;
	long long t_us; /* relative to the load time */
	unsigned int sm, mem, enc, dec;
};

struct nv_steady {
	unsigned int dev, pid;
	long long every_us, from_us, until_us;
	bool has_until;
	unsigned int sm, mem, enc, dec;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_refs;
static struct nvmlDevice_st g_handles[MAX_DEV];
static struct nv_dev g_devs[MAX_DEV];
static unsigned int g_ndev;
static struct nv_proc g_procs[MAX_PROCS];
static unsigned int g_nprocs;
static struct nv_sample g_samples[MAX_SAMPLES];
static unsigned int g_nsamples;
static struct nv_steady g_steady[MAX_STEADY];
static unsigned int g_nsteady;
static unsigned long long g_base_us; /* CLOCK_REALTIME at load */
static struct stat g_script_st;
static bool g_script_seen;

static unsigned long long realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
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

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" or 32 hex digits; `out` is left
 * alone unless the whole string parses. */
static void parse_uuid(const char *s, unsigned char out[16])
{
	unsigned char u[16];
	int n = 0, hi = -1;

	if (strncmp(s, "GPU-", 4) == 0)
		s += 4;
	for (; *s; s++) {
		int h = hexval(*s);

		if (*s == '-')
			continue;
		if (h < 0 || n >= 16)
			return;
		if (hi < 0) {
			hi = h;
		} else {
			u[n++] = (unsigned char)(hi << 4 | h);
			hi = -1;
		}
	}
	if (n == 16 && hi < 0)
		memcpy(out, u, 16);
}

static void dev_defaults(unsigned int i, struct nv_dev *d)
{
	const char *name = getenv("FAKECUDA_DEVICE_NAME");
	const char *uuid = getenv("FAKECUDA_DEVICE_UUID");

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name && *name ? name : "NVIDIA H100 80GB HBM3");
	/* Same identity as fakecuda: FAKECUDA_DEVICE_UUID (or fakecuda's default)
	 * with the device index added to the last byte. */
	unsigned char u[16] = { 0xfa, 0x4e, 0xca, 0xda, 0x00, 0x00, 0x40, 0x00,
				0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	if (uuid && *uuid)
		parse_uuid(uuid, u);
	u[15] = (unsigned char)(u[15] + i);
	snprintf(d->uuid, sizeof(d->uuid),
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	d->mem_total = 81559ULL << 20;
}

/* "12", "-500ms", "1.5s", "250us", "100ns" -> microseconds. */
static bool parse_time_us(const char *s, long long *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return false;
	if (!*end || strcmp(end, "ms") == 0)
		v *= 1000.0;
	else if (strcmp(end, "s") == 0)
		v *= 1e6;
	else if (strcmp(end, "us") == 0)
		;
	else if (strcmp(end, "ns") == 0)
		v /= 1000.0;
	else
		return false;
	*out = (long long)(v < 0 ? v - 0.5 : v + 0.5);
	return true;
}

static bool parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

/* Split a line into words; key="a b" stays one word with the quotes removed. */
static int split(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	while (*p && n < max) {
		char *o;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		w[n++] = o = p;
		while (*p && !isspace((unsigned char)*p)) {
			if (*p == '"') {
				p++;
				while (*p && *p != '"')
					*o++ = *p++;
				if (*p == '"')
					p++;
			} else {
				*o++ = *p++;
			}
		}
		if (*p)
			p++;
		*o = 0;
	}
	return n;
}

static void script_error(const char *path, int lineno, const char *what)
{
	fprintf(stderr, "fakenvml: %s:%d: %s\n", path, lineno, what);
}

static void load_script_locked(void)
{
	const char *path = getenv("FAKENVML_SCRIPT");
	char line[1024];
	int lineno = 0;
	FILE *f;

	g_ndev = 1;
	for (unsigned int i = 0; i < MAX_DEV; i++) {
		g_handles[i].index = i;
		dev_defaults(i, &g_devs[i]);
	}
	g_nprocs = g_nsamples = g_nsteady = 0;
	g_base_us = realtime_us();
	if (!path || !*path)
		return;
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "fakenvml: cannot read FAKENVML_SCRIPT=%s: %s\n", path,
			strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *w[32];
		int n = split(line, w, 32);
		unsigned long long idx;
		unsigned int pid = 0;
		bool have_pid = false, have_t = false, have_every = false, bad = false;
		struct nv_dev *d;
		struct nv_sample smp = { 0 };
		struct nv_steady sty = { 0 };
		unsigned long long pmem = 0;

		lineno++;
		if (n == 0)
			continue;
		if (n < 2 || !parse_u64(w[1], &idx) || idx >= MAX_DEV) {
			script_error(path, lineno, "expected: KEYWORD DEVICE-INDEX key=value...");
			continue;
		}
		d = &g_devs[idx];
		for (int i = 2; i < n; i++) {
			char *eq = strchr(w[i], '=');
			const char *k = w[i], *v;
			unsigned long long u = 0;
			long long t = 0;

			if (!eq) {
				bad = true;
				break;
			}
			*eq = 0;
			v = eq + 1;
			if (strcmp(k, "name") == 0) {
				snprintf(d->name, sizeof(d->name), "%s", v);
			} else if (strcmp(k, "uuid") == 0) {
				snprintf(d->uuid, sizeof(d->uuid), "%s", v);
			} else if (strcmp(k, "t") == 0 || strcmp(k, "every") == 0 ||
				   strcmp(k, "from") == 0 || strcmp(k, "until") == 0) {
				if (!parse_time_us(v, &t)) {
					bad = true;
					break;
				}
				if (k[0] == 't') {
					smp.t_us = t;
					have_t = true;
				} else if (k[0] == 'e') {
					sty.every_us = t;
					have_every = t > 0;
				} else if (k[0] == 'f') {
					sty.from_us = t;
				} else {
					sty.until_us = t;
					sty.has_until = true;
				}
			} else {
				if (!parse_u64(v, &u)) {
					bad = true;
					break;
				}
				if (strcmp(k, "pid") == 0) {
					pid = (unsigned int)u;
					have_pid = true;
				} else if (strcmp(k, "memory") == 0) {
					d->mem_total = u;
				} else if (strcmp(k, "used") == 0) {
					d->mem_used = u;
					d->used_set = true;
				} else if (strcmp(k, "gpu_util") == 0) {
					d->gpu_util = (unsigned int)u;
				} else if (strcmp(k, "mem_util") == 0) {
					d->mem_util = (unsigned int)u;
				} else if (strcmp(k, "sm") == 0) {
					smp.sm = sty.sm = (unsigned int)u;
				} else if (strcmp(k, "mem") == 0) {
					smp.mem = sty.mem = (unsigned int)u;
					pmem = u;
				} else if (strcmp(k, "enc") == 0) {
					smp.enc = sty.enc = (unsigned int)u;
				} else if (strcmp(k, "dec") == 0) {
					smp.dec = sty.dec = (unsigned int)u;
				} else {
					bad = true;
					break;
				}
			}
		}
		if (bad) {
			script_error(path, lineno, "bad key=value");
			continue;
		}
		if (idx + 1 > g_ndev)
			g_ndev = (unsigned int)idx + 1;
		if (strcmp(w[0], "device") == 0)
			continue;
		if (!have_pid) {
			script_error(path, lineno, "pid= missing");
			continue;
		}
		if (strcmp(w[0], "process") == 0) {
			if (g_nprocs < MAX_PROCS)
				g_procs[g_nprocs++] = (struct nv_proc){ (unsigned int)idx, pid, pmem };
		} else if (strcmp(w[0], "sample") == 0) {
			if (!have_t) {
				script_error(path, lineno, "t= missing");
				continue;
			}
			smp.dev = (unsigned int)idx;
			smp.pid = pid;
			if (g_nsamples < MAX_SAMPLES)
				g_samples[g_nsamples++] = smp;
		} else if (strcmp(w[0], "steady") == 0) {
			if (!have_every) {
				script_error(path, lineno, "every= missing or not positive");
				continue;
			}
			sty.dev = (unsigned int)idx;
			sty.pid = pid;
			if (g_nsteady < MAX_STEADY)
				g_steady[g_nsteady++] = sty;
		} else {
			script_error(path, lineno, "unknown keyword");
		}
	}
	fclose(f);
}

/* Read the script again if it changed since the last reading. */
static void refresh_locked(void)
{
	const char *path = getenv("FAKENVML_SCRIPT");
	struct stat sb;

	if (!path || !*path || stat(path, &sb) != 0)
		return;
	if (g_script_seen && sb.st_ino == g_script_st.st_ino && sb.st_size == g_script_st.st_size &&
	    sb.st_mtim.tv_sec == g_script_st.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == g_script_st.st_mtim.tv_nsec)
		return;
	g_script_st = sb;
	g_script_seen = true;
	load_script_locked();
}

/* Lock, check initialisation and the handle; on success the lock is held. */
static nvmlReturn_t enter(nvmlDevice_t device, struct nv_dev **d)
{
	pthread_mutex_lock(&g_mu);
	if (!g_refs) {
		pthread_mutex_unlock(&g_mu);
		return NVML_ERROR_UNINITIALIZED;
	}
	refresh_locked();
	if (d) {
		if (!device || device < &g_handles[0] || device >= &g_handles[g_ndev]) {
			pthread_mutex_unlock(&g_mu);
			return NVML_ERROR_INVALID_ARGUMENT;
		}
		*d = &g_devs[device->index];
	}
	return NVML_SUCCESS;
}

static nvmlReturn_t leave(nvmlReturn_t rc)
{
	pthread_mutex_unlock(&g_mu);
	return rc;
}

NV_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	unsigned long long fail;
	const char *e = getenv("FAKENVML_INIT_ERROR");

	if (e && *e && parse_u64(e, &fail) && fail)
		return (nvmlReturn_t)fail;
	pthread_mutex_lock(&g_mu);
	if (g_refs++ == 0) {
		g_script_seen = false;
		load_script_locked();
		refresh_locked();
	}
	pthread_mutex_unlock(&g_mu);
	return NVML_SUCCESS;
}

NV_EXPORT nvmlReturn_t nvmlInit(void)
{
	return nvmlInit_v2();
}

NV_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	(void)flags;
	return nvmlInit_v2();
}

NV_EXPORT nvmlReturn_t nvmlShutdown(void)
{
	pthread_mutex_lock(&g_mu);
	if (!g_refs) {
		pthread_mutex_unlock(&g_mu);
		return NVML_ERROR_UNINITIALIZED;
	}
	g_refs--;
	pthread_mutex_unlock(&g_mu);
	return NVML_SUCCESS;
}

NV_EXPORT const char *nvmlErrorString(nvmlReturn_t r)
{
	switch (r) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
	case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
	case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
	case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
	case NVML_ERROR_TIMEOUT: return "Timeout";
	case NVML_ERROR_IRQ_ISSUE: return "Interrupt request issue";
	case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
	case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
	case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
	case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
	case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
	case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
	case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
	case NVML_ERROR_IN_USE: return "In use by another client";
	case NVML_ERROR_MEMORY: return "Insufficient Memory";
	case NVML_ERROR_NO_DATA: return "No data";
	case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
	case NVML_ERROR_NOT_READY: return "Not Ready";
	default: return "Unknown Error";
	}
}

NV_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	static const char v[] = "580.159.04";
	nvmlReturn_t rc = enter(NULL, NULL);

	if (rc)
		return rc;
	if (!version)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	if (length < sizeof(v))
		return leave(NVML_ERROR_INSUFFICIENT_SIZE);
	memcpy(version, v, sizeof(v));
	return leave(NVML_SUCCESS);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
	nvmlReturn_t rc = enter(NULL, NULL);

	if (rc)
		return rc;
	if (!count)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	*count = g_ndev;
	return leave(NVML_SUCCESS);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
	return nvmlDeviceGetCount_v2(count);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
	nvmlReturn_t rc = enter(NULL, NULL);

	if (rc)
		return rc;
	if (!device || index >= g_ndev)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	*device = &g_handles[index];
	return leave(NVML_SUCCESS);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
	return nvmlDeviceGetHandleByIndex_v2(index, device);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
	nvmlReturn_t rc = enter(NULL, NULL);

	if (rc)
		return rc;
	if (!uuid || !device)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	for (unsigned int i = 0; i < g_ndev; i++) {
		if (strcmp(g_devs[i].uuid, uuid) == 0) {
			*device = &g_handles[i];
			return leave(NVML_SUCCESS);
		}
	}
	return leave(NVML_ERROR_NOT_FOUND);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);

	if (rc)
		return rc;
	if (!index)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	*index = device->index;
	return leave(NVML_SUCCESS);
}

static nvmlReturn_t copy_string(char *dst, unsigned int length, const char *src)
{
	size_t n = strlen(src) + 1;

	if (!dst)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (length < n)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(dst, src, n);
	return NVML_SUCCESS;
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);

	if (rc)
		return rc;
	return leave(copy_string(name, length, d->name));
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);

	if (rc)
		return rc;
	return leave(copy_string(uuid, length, d->uuid));
}

static unsigned long long used_locked(unsigned int idx, const struct nv_dev *d)
{
	unsigned long long used = 0;

	if (d->used_set)
		return d->mem_used;
	for (unsigned int i = 0; i < g_nprocs; i++)
		if (g_procs[i].dev == idx)
			used += g_procs[i].mem;
	return used;
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);
	unsigned long long used;

	if (rc)
		return rc;
	if (!memory)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	used = used_locked(device->index, d);
	memory->total = d->mem_total;
	memory->used = used;
	memory->free = used < d->mem_total ? d->mem_total - used : 0;
	return leave(NVML_SUCCESS);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);
	unsigned long long used;

	if (rc)
		return rc;
	if (!memory)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	if (memory->version != nvmlMemory_v2)
		return leave(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
	used = used_locked(device->index, d);
	memory->total = d->mem_total;
	memory->reserved = 0;
	memory->used = used;
	memory->free = used < d->mem_total ? d->mem_total - used : 0;
	return leave(NVML_SUCCESS);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *u)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);

	if (rc)
		return rc;
	if (!u)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	u->gpu = d->gpu_util;
	u->memory = d->mem_util;
	return leave(NVML_SUCCESS);
}

/* The three generations of the call differ only in the struct written. */
static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int *count, void *infos,
				      int version)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);
	unsigned int n = 0, k = 0;

	if (rc)
		return rc;
	if (!count)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	for (unsigned int i = 0; i < g_nprocs; i++)
		n += g_procs[i].dev == device->index;
	if (*count < n || (n && !infos)) {
		*count = n;
		return leave(NVML_ERROR_INSUFFICIENT_SIZE);
	}
	for (unsigned int i = 0; i < g_nprocs; i++) {
		const struct nv_proc *p = &g_procs[i];

		if (p->dev != device->index)
			continue;
		if (version == 1) {
			nvmlProcessInfo_v1_t *o = (nvmlProcessInfo_v1_t *)infos + k;

			o->pid = p->pid;
			o->usedGpuMemory = p->mem;
		} else {
			nvmlProcessInfo_t *o = (nvmlProcessInfo_t *)infos + k;

			o->pid = p->pid;
			o->usedGpuMemory = p->mem;
			o->gpuInstanceId = 0xFFFFFFFFu; /* no MIG */
			o->computeInstanceId = 0xFFFFFFFFu;
		}
		k++;
	}
	*count = n;
	return leave(NVML_SUCCESS);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device,
							     unsigned int *count,
							     nvmlProcessInfo_v1_t *infos)
{
	return running_processes(device, count, infos, 1);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device,
								unsigned int *count,
								nvmlProcessInfo_v2_t *infos)
{
	return running_processes(device, count, infos, 2);
}

NV_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
								unsigned int *count,
								nvmlProcessInfo_t *infos)
{
	return running_processes(device, count, infos, 3);
}

static int sample_cmp(const void *a, const void *b)
{
	const nvmlProcessUtilizationSample_t *x = a, *y = b;

	if (x->timeStamp != y->timeStamp)
		return x->timeStamp < y->timeStamp ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * Samples whose time has come (t <= now) and that are newer than
 * lastSeenTimeStamp, oldest first. As NVML: NVML_ERROR_NOT_FOUND when there
 * are none; NVML_ERROR_INSUFFICIENT_SIZE, with the count needed, when
 * `utilization` is NULL or the count given is too small.
 */
NV_EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
						       nvmlProcessUtilizationSample_t *utilization,
						       unsigned int *processSamplesCount,
						       unsigned long long lastSeenTimeStamp)
{
	struct nv_dev *d;
	nvmlReturn_t rc = enter(device, &d);
	nvmlProcessUtilizationSample_t *tmp;
	unsigned long long now = realtime_us();
	size_t n = 0, cap = g_nsamples + (size_t)g_nsteady * STEADY_KEEP;

	if (rc)
		return rc;
	if (!processSamplesCount)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	tmp = malloc((cap ? cap : 1) * sizeof(*tmp));
	if (!tmp)
		return leave(NVML_ERROR_MEMORY);
	for (unsigned int i = 0; i < g_nsamples; i++) {
		const struct nv_sample *s = &g_samples[i];
		long long ts = (long long)g_base_us + s->t_us;

		if (s->dev != device->index || ts <= 0 || (unsigned long long)ts > now ||
		    (unsigned long long)ts <= lastSeenTimeStamp)
			continue;
		tmp[n++] = (nvmlProcessUtilizationSample_t){ s->pid, (unsigned long long)ts, s->sm,
							     s->mem, s->enc, s->dec };
	}
	for (unsigned int i = 0; i < g_nsteady; i++) {
		const struct nv_steady *s = &g_steady[i];
		long long first = (long long)g_base_us + s->from_us;
		long long last = (long long)now;
		long long k0, k1;

		if (s->dev != device->index)
			continue;
		if (s->has_until && (long long)g_base_us + s->until_us < last)
			last = (long long)g_base_us + s->until_us;
		if (last < first)
			continue;
		k1 = (last - first) / s->every_us;
		k0 = k1 - (STEADY_KEEP - 1);
		if (k0 < 0)
			k0 = 0;
		if ((long long)lastSeenTimeStamp >= first) {
			long long kl = ((long long)lastSeenTimeStamp - first) / s->every_us + 1;

			if (kl > k0)
				k0 = kl;
		}
		for (long long k = k0; k <= k1; k++) {
			long long ts = first + k * s->every_us;

			if (ts <= 0)
				continue;
			tmp[n++] = (nvmlProcessUtilizationSample_t){ s->pid, (unsigned long long)ts,
								     s->sm, s->mem, s->enc,
								     s->dec };
		}
	}
	if (n == 0) {
		free(tmp);
		*processSamplesCount = 0;
		return leave(NVML_ERROR_NOT_FOUND);
	}
	if (!utilization || *processSamplesCount < n) {
		free(tmp);
		*processSamplesCount = (unsigned int)n;
		return leave(NVML_ERROR_INSUFFICIENT_SIZE);
	}
	qsort(tmp, n, sizeof(*tmp), sample_cmp);
	memcpy(utilization, tmp, n * sizeof(*tmp));
	free(tmp);
	*processSamplesCount = (unsigned int)n;
	return leave(NVML_SUCCESS);
}

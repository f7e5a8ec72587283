// SPDX-License-Identifier: MIT
#include "gpu/gpu.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "out/jsonl.h"
#include "util/array.h"
#include "util/htab.h"

#define MAX_DEVICES 64

/* A stream's span that was still open at an interval's end: the part up to
 * `settled` was counted in that interval, so the span, when it closes, only
 * brings the rest. */
struct gpu_clip {
	uint64_t stream, first_ns, settled_ns;
};

struct gpu_proc {
	uint32_t pid;
	int device;                   /* index; from /dev/nvidiaN held open */
	struct gpu_span *spans;       /* closed this interval */
	size_t n, cap;
	struct gpu_clip *clips;       /* open spans partly counted already */
	size_t nclips, capclips;
	struct gpu_counters prev, cur;
	bool have_prev;
	double busy_s;                /* computed at the interval's end */
	double nvml_busy_s;
	bool nvml;                    /* NVML had samples for it */
	bool active;
	bool exited;                  /* gone: reported with the interval's end,
					 * so that every span the others closed
					 * up to its exit is shared with it */
	bool computed_after_exit;
	uint64_t exit_ns;
	uint64_t interval_ns;
};

/* ---- NVML, through dlopen: present only where the driver is ---- */

typedef int nvml_ret;
typedef void *nvml_dev;
struct nvml_sample {                  /* nvmlProcessUtilizationSample_t */
	unsigned int pid;
	unsigned long long ts_us;
	unsigned int sm_util, mem_util, enc_util, dec_util;
};

struct nvml {
	void *lib;
	nvml_ret (*init)(void);
	nvml_ret (*count)(unsigned int *);
	nvml_ret (*handle)(unsigned int, nvml_dev *);
	nvml_ret (*name)(nvml_dev, char *, unsigned int);
	nvml_ret (*uuid)(nvml_dev, char *, unsigned int);
	nvml_ret (*proc_util)(nvml_dev, struct nvml_sample *, unsigned int *, unsigned long long);
	unsigned int ndev;
	nvml_dev dev[MAX_DEVICES];
	char dev_name[MAX_DEVICES][96];
	char dev_uuid[MAX_DEVICES][96];
	unsigned long long last_ts_us[MAX_DEVICES];
};

struct gpu {
	struct gpu_opts o;
	struct htab *procs;
	struct nvml nvml;
	bool nvml_ok;
	uint32_t *active;
	size_t n_active, cap_active;
	bool dev_seen[MAX_DEVICES];
	struct gpu_stats st;
};

static bool nvml_open(struct nvml *n, const char *name)
{
	if (name && !*name)
		return false;
	n->lib = dlopen(name ? name : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!n->lib)
		return false;
	n->init = dlsym(n->lib, "nvmlInit_v2");
	n->count = dlsym(n->lib, "nvmlDeviceGetCount_v2");
	n->handle = dlsym(n->lib, "nvmlDeviceGetHandleByIndex_v2");
	n->name = dlsym(n->lib, "nvmlDeviceGetName");
	n->uuid = dlsym(n->lib, "nvmlDeviceGetUUID");
	n->proc_util = dlsym(n->lib, "nvmlDeviceGetProcessUtilization");
	if (!n->init || !n->count || !n->handle || n->init() != 0 || n->count(&n->ndev) != 0) {
		dlclose(n->lib);
		n->lib = NULL;
		return false;
	}
	if (n->ndev > MAX_DEVICES)
		n->ndev = MAX_DEVICES;
	for (unsigned int i = 0; i < n->ndev; i++) {
		if (n->handle(i, &n->dev[i]) != 0)
			continue;
		if (n->name)
			n->name(n->dev[i], n->dev_name[i], sizeof(n->dev_name[i]));
		if (n->uuid)
			n->uuid(n->dev[i], n->dev_uuid[i], sizeof(n->dev_uuid[i]));
	}
	return true;
}

/* Per-process SM utilisation samples newer than the last read: busy
 * seconds = mean utilisation x the process's part of the interval. */
static void nvml_read(struct gpu *g)
{
	struct nvml *n = &g->nvml;

	if (!g->nvml_ok || !n->proc_util)
		return;
	for (unsigned int d = 0; d < n->ndev; d++) {
		struct nvml_sample *s;
		unsigned int cnt = 0;
		struct {
			uint32_t pid;
			uint64_t sum, k;
		} acc[256];
		size_t na = 0;

		n->proc_util(n->dev[d], NULL, &cnt, n->last_ts_us[d]);
		if (!cnt)
			continue;
		s = calloc(cnt, sizeof(*s));
		if (!s)
			continue;
		if (n->proc_util(n->dev[d], s, &cnt, n->last_ts_us[d]) != 0) {
			free(s);
			continue;
		}
		for (unsigned int i = 0; i < cnt; i++) {
			size_t j;

			if (s[i].ts_us > n->last_ts_us[d])
				n->last_ts_us[d] = s[i].ts_us;
			for (j = 0; j < na && acc[j].pid != s[i].pid; j++)
				;
			if (j == na) {
				if (na == 256)
					continue;
				acc[na].pid = s[i].pid;
				acc[na].sum = acc[na].k = 0;
				na++;
			}
			acc[j].sum += s[i].sm_util;
			acc[j].k++;
		}
		free(s);
		for (size_t j = 0; j < na; j++) {
			struct gpu_proc *p = htab_get(g->procs, acc[j].pid);

			if (!p)
				continue;
			p->nvml = true;
			p->device = (int)d;
			p->nvml_busy_s = (double)acc[j].sum / (double)acc[j].k / 100.0 * (double)p->interval_ns / 1e9;
		}
	}
}

/* ---- processes ---- */

/* The device a process uses: the /dev/nvidiaN it holds open (0 if none,
 * e.g. the fake driver). */
static int proc_device(const struct gpu *g, uint32_t pid)
{
	char dir[64], link[PATH_MAX], target[64];
	struct dirent *de;
	int dev = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%u/fd", g->o.proc_root, pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		ssize_t len;
		int idx;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "/dev/nvidia%d", &idx) == 1 && strspn(target + 11, "0123456789") ==
									strlen(target + 11)) {
			dev = dev < 0 ? idx : dev; /* first device a multi-GPU process holds */
		}
	}
	closedir(d);
	return dev < 0 ? 0 : dev;
}

static struct gpu_proc *proc_get(struct gpu *g, uint32_t pid)
{
	struct gpu_proc *p = htab_get(g->procs, pid);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->device = proc_device(g, pid);
	if (p->device >= 0 && p->device < MAX_DEVICES)
		g->dev_seen[p->device] = true;
	if (htab_put(g->procs, pid, p)) {
		free(p);
		return NULL;
	}
	return p;
}

static void proc_free(struct gpu_proc *p)
{
	free(p->clips);
	free(p->spans);
	free(p);
}

struct gpu *gpu_new(const struct gpu_opts *o)
{
	struct gpu *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->o = *o;
	if (!g->o.proc_root)
		g->o.proc_root = "/proc";
	g->procs = htab_new();
	if (!g->procs) {
		free(g);
		return NULL;
	}
	g->nvml_ok = nvml_open(&g->nvml, o->nvml_lib);
	g->st.nvml_ok = g->nvml_ok;
	g->st.devices = g->nvml_ok ? g->nvml.ndev : 0;
	return g;
}

void gpu_free(struct gpu *g)
{
	size_t it = 0;
	void *v;

	if (!g)
		return;
	while (htab_next(g->procs, &it, NULL, &v))
		proc_free(v);
	htab_free(g->procs);
	if (g->nvml.lib)
		dlclose(g->nvml.lib);
	free(g->active);
	free(g);
}

static struct gpu_proc *proc_for_usage(struct gpu *g, uint32_t pid);

static struct gpu_clip *clip_find(struct gpu_proc *p, uint64_t stream)
{
	for (size_t i = 0; i < p->nclips; i++)
		if (p->clips[i].stream == stream)
			return &p->clips[i];
	return NULL;
}

/* Where an open span's uncounted part starts: after what an earlier
 * interval's end counted of it (c: its stream's clip, may be NULL). */
static uint64_t clip_start(const struct gpu_clip *c, uint64_t first_ns)
{
	return c && c->first_ns == first_ns && c->settled_ns > first_ns ? c->settled_ns : first_ns;
}

static void span_add(struct gpu_proc *p, uint64_t start, uint64_t end)
{
	if (ARRAY_RESERVE(p->spans, p->n, p->cap, 16))
		return;
	p->spans[p->n].start = start;
	p->spans[p->n].end = end;
	p->n++;
	p->active = true;
}

void gpu_span(struct gpu *g, const struct gpu_span_event *e)
{
	struct gpu_proc *p = proc_get(g, e->pid);
	struct gpu_clip *c;
	uint64_t start = e->start_ns;

	g->st.spans++;
	if (!p)
		return;
	c = clip_find(p, e->stream);
	if (c) {
		/* the same span, open at an earlier interval's end: that interval
		 * counted it up to then; the stream's clip is done with */
		start = clip_start(c, start);
		*c = p->clips[--p->nclips];
	}
	if (e->end_ns > start)
		span_add(p, start, e->end_ns);
	else
		p->active = true;
}

/*
 * The interval ends at end_ns with these streams' work still pending: count
 * each open span up to end_ns in this interval, as if it closed there, and
 * remember so that it brings only the rest when it does close. Without this,
 * a span across an interval boundary was compared with the others' spans
 * only in the interval it closed in, and the time it overlapped their
 * earlier spans was counted twice on the device.
 */
static void settle_pending(struct gpu *g, uint64_t end_ns)
{
	struct gpu_pending pend[1024];
	size_t np = g->o.list_pending ? g->o.list_pending(g->o.ctx, pend, 1024) : 0;

	for (size_t i = 0; i < np; i++) {
		struct gpu_proc *p = htab_get(g->procs, pend[i].pid);
		struct gpu_clip *c;
		uint64_t start = pend[i].first_ns;

		if (!p)
			p = proc_for_usage(g, pend[i].pid);
		if (!p || p->exited || start >= end_ns)
			continue;
		c = clip_find(p, pend[i].stream);
		start = clip_start(c, start);
		if (!c) {
			if (ARRAY_RESERVE(p->clips, p->nclips, p->capclips, 4))
				continue;
			c = &p->clips[p->nclips++];
		}
		*c = (struct gpu_clip){ pend[i].stream, pend[i].first_ns, end_ns };
		if (end_ns > start)
			span_add(p, start, end_ns);
	}
}

/* ---- busy time ---- */

static int span_cmp(const void *a, const void *b)
{
	const struct gpu_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Merge overlapping spans in place (sorted first); returns the new count. */
static size_t spans_merge(struct gpu_span *s, size_t n)
{
	size_t k = 0;

	if (!n)
		return 0;
	qsort(s, n, sizeof(*s), span_cmp);
	for (size_t i = 1; i < n; i++) {
		if (s[i].start <= s[k].end) {
			if (s[i].end > s[k].end)
				s[k].end = s[i].end;
		} else {
			s[++k] = s[i];
		}
	}
	return k + 1;
}

uint64_t gpu_union_ns(struct gpu_span *s, size_t n, uint64_t lo, uint64_t hi)
{
	uint64_t sum = 0;

	n = spans_merge(s, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t a = s[i].start < lo ? lo : s[i].start, b = s[i].end > hi ? hi : s[i].end;

		if (b > a)
			sum += b - a;
	}
	return sum;
}

struct boundary {
	uint64_t t;
	int delta;       /* +1 start, -1 end */
	size_t proc;     /* index in the device's process list */
};

static int boundary_cmp(const void *a, const void *b)
{
	const struct boundary *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->delta - y->delta; /* ends before starts at the same time */
}

/*
 * Busy seconds of the processes on one device: each process's spans are
 * merged (its streams overlap), then time when k processes were busy at
 * once is split k ways, so the processes of a device never hold more busy
 * time together than the wall time their spans cover.
 */
static void device_share(struct gpu_proc **procs, size_t np)
{
	struct boundary *b;
	size_t nb = 0, total = 0, active = 0;
	bool *on;
	uint64_t prev = 0;

	for (size_t i = 0; i < np; i++) {
		procs[i]->n = spans_merge(procs[i]->spans, procs[i]->n);
		total += procs[i]->n * 2;
		procs[i]->busy_s = 0;
	}
	if (!total)
		return;
	b = calloc(total, sizeof(*b));
	on = calloc(np, sizeof(*on));
	if (!b || !on) {
		free(b);
		free(on);
		return;
	}
	for (size_t i = 0; i < np; i++) {
		for (size_t j = 0; j < procs[i]->n; j++) {
			b[nb++] = (struct boundary){ procs[i]->spans[j].start, +1, i };
			b[nb++] = (struct boundary){ procs[i]->spans[j].end, -1, i };
		}
	}
	qsort(b, nb, sizeof(*b), boundary_cmp);
	for (size_t i = 0; i < nb; i++) {
		if (active && b[i].t > prev) {
			double share = (double)(b[i].t - prev) / 1e9 / (double)active;

			for (size_t k = 0; k < np; k++)
				if (on[k])
					procs[k]->busy_s += share;
		}
		prev = b[i].t;
		if (b[i].delta > 0 && !on[b[i].proc]) {
			on[b[i].proc] = true;
			active++;
		} else if (b[i].delta < 0 && on[b[i].proc]) {
			on[b[i].proc] = false;
			active--;
		}
	}
	free(b);
	free(on);
}

static void counters_refresh(struct gpu *g, struct gpu_proc *p)
{
	struct gpu_counters c;

	if (!g->o.read_counters || g->o.read_counters(g->o.ctx, p->pid, &c))
		return;
	if (!p->have_prev) {
		memset(&p->prev, 0, sizeof(p->prev));
		p->have_prev = true;
	}
	p->cur = c;
	if (c.launches != p->prev.launches || c.graph_launches != p->prev.graph_launches ||
	    c.memcpy_calls != p->prev.memcpy_calls || c.syncs != p->prev.syncs || c.mem_bytes)
		p->active = true;
}

static void compute(struct gpu *g, uint64_t start_ns, uint64_t end_ns)
{
	struct gpu_proc *list[1024];
	size_t np = 0, it = 0;
	void *v;

	while (np < 1024 && htab_next(g->procs, &it, NULL, &v))
		list[np++] = v;
	for (size_t i = 0; i < np; i++) {
		uint64_t end = list[i]->exited && list[i]->exit_ns < end_ns ? list[i]->exit_ns : end_ns;

		if (!list[i]->exited)
			counters_refresh(g, list[i]);
		list[i]->nvml = false;
		list[i]->interval_ns = end > start_ns ? end - start_ns : 0;
	}
	settle_pending(g, end_ns);
	/* per device */
	for (int dev = 0; dev < MAX_DEVICES; dev++) {
		struct gpu_proc *on_dev[1024];
		size_t k = 0;

		for (size_t i = 0; i < np; i++)
			if (list[i]->device == dev)
				on_dev[k++] = list[i];
		if (k)
			device_share(on_dev, k);
	}
	nvml_read(g);
}

size_t gpu_active_pids(struct gpu *g, uint32_t **pids)
{
	uint32_t seen[4096];
	size_t it = 0, n;
	void *v;

	/* processes the probes saw launch, copy or allocate without a span */
	n = g->o.list_pids ? g->o.list_pids(g->o.ctx, seen, 4096) : 0;
	for (size_t i = 0; i < n; i++)
		proc_get(g, seen[i]);
	g->n_active = 0;
	while (htab_next(g->procs, &it, NULL, &v)) {
		struct gpu_proc *p = v;

		if (p->exited)
			continue; /* its last record comes with its exit */
		counters_refresh(g, p);
		if (!p->active)
			continue;
		if (ARRAY_RESERVE(g->active, g->n_active, g->cap_active, 64))
			break;
		g->active[g->n_active++] = p->pid;
	}
	*pids = g->active;
	return g->n_active;
}

/* Processes that exited before the last interval's end were reported with
 * it: forget them. */
static int reported_exit(void *ctx, uint64_t pid, void *v)
{
	(void)ctx;
	(void)pid;
	return ((struct gpu_proc *)v)->computed_after_exit;
}

static void proc_release(void *v)
{
	proc_free(v);
}

static void drop_reported_exits(struct gpu *g)
{
	htab_remove_if(g->procs, reported_exit, NULL, proc_release);
}

void gpu_interval(struct gpu *g, uint64_t start_ns, uint64_t end_ns)
{
	size_t it = 0;
	void *v;

	drop_reported_exits(g);
	compute(g, start_ns, end_ns);
	while (htab_next(g->procs, &it, NULL, &v))
		if (((struct gpu_proc *)v)->exited)
			((struct gpu_proc *)v)->computed_after_exit = true;
}

void gpu_proc_exit(struct gpu *g, uint32_t pid, uint64_t exit_ns)
{
	struct gpu_proc *p = proc_for_usage(g, pid);

	if (!p)
		return;
	/* its counters before the probes forget it; its share of the device
	 * is computed at the interval's end, when the spans the others closed
	 * up to its exit have all been read */
	counters_refresh(g, p);
	p->exited = true;
	p->exit_ns = exit_ns;
}

/* Learn about processes the probes saw but no span named yet (launches
 * without a synchronisation, memory held). */
static struct gpu_proc *proc_for_usage(struct gpu *g, uint32_t pid)
{
	struct gpu_counters c;

	if (htab_get(g->procs, pid))
		return htab_get(g->procs, pid);
	if (!g->o.read_counters || g->o.read_counters(g->o.ctx, pid, &c))
		return NULL;
	return proc_get(g, pid);
}

bool gpu_usage_fields(struct gpu *g, uint32_t pid, cJSON *r)
{
	struct gpu_proc *p = proc_for_usage(g, pid);
	static const char *const dirs[GPU_COPY_NDIR] = { "htod", "dtoh", "dtod", "other" };
	char key[48], name[96], uuid[96];
	bool active;

	if (!p)
		return false;
	if (!p->have_prev)
		counters_refresh(g, p);
	active = p->active;
	if (active) {
		const struct gpu_counters *c = &p->cur, *o = &p->prev;
		bool nv = p->nvml;

		gpu_device_identity(g, p->device, name, sizeof(name), uuid, sizeof(uuid));
		cJSON_AddStringToObject(r, "accelerator", name);
		if (uuid[0])
			cJSON_AddStringToObject(r, "accelerator.uuid", uuid);
		else
			cJSON_AddNullToObject(r, "accelerator.uuid");
		cJSON_AddNumberToObject(r, "gpu.device", p->device);
		cJSON_AddNumberToObject(r, "gpu.busy_seconds", nv ? p->nvml_busy_s : p->busy_s);
		cJSON_AddNumberToObject(r, "gpu.busy_seconds_ebpf", p->busy_s);
		json_add_u64(r, "gpu.launches", c->launches - o->launches);
		json_add_u64(r, "gpu.graph_launches", c->graph_launches - o->graph_launches);
		for (int d = 0; d < GPU_COPY_NDIR; d++) {
			snprintf(key, sizeof(key), "gpu.memcpy_bytes.%s", dirs[d]);
			json_add_u64(r, key, c->memcpy_bytes[d] - o->memcpy_bytes[d]);
		}
		json_add_u64(r, "gpu.mem_bytes", c->mem_bytes);
		json_add_u64(r, "gpu.mem_peak_bytes", c->mem_peak);
		cJSON_AddNumberToObject(r, "gpu.sync_wait_seconds",
					(double)(c->sync_wait_ns - o->sync_wait_ns) / 1e9);
		cJSON_AddStringToObject(r, "gpu_time_source", nv ? "nvml" : "ebpf-spans");
	}
	/* the interval is reported: start the next one (an exited process's
	 * spans stay for the others' share until the interval ends) */
	p->prev = p->cur;
	p->n = 0;
	p->busy_s = p->nvml_busy_s = 0;
	p->active = false;
	return active;
}

void gpu_device_identity(const struct gpu *g, int dev, char *name, size_t nlen, char *uuid,
			 size_t ulen)
{
	if (g->nvml_ok && dev >= 0 && (unsigned)dev < g->nvml.ndev && g->nvml.dev_name[dev][0]) {
		snprintf(name, nlen, "%s", g->nvml.dev_name[dev]);
		snprintf(uuid, ulen, "%s", g->nvml.dev_uuid[dev]);
	} else {
		snprintf(name, nlen, "cuda:%d", dev);
		if (ulen)
			uuid[0] = '\0';
	}
}

size_t gpu_devices(const struct gpu *g, int *idx, size_t max)
{
	size_t n = 0;

	for (int d = 0; d < MAX_DEVICES && n < max; d++)
		if (g->dev_seen[d] || (g->nvml_ok && (unsigned)d < g->nvml.ndev))
			idx[n++] = d;
	return n;
}

size_t gpu_interval_procs(struct gpu *g, struct gpu_proc_usage *out, size_t max)
{
	size_t it = 0, n = 0;
	void *v;

	while (n < max && htab_next(g->procs, &it, NULL, &v)) {
		struct gpu_proc *p = v;

		if (!p->active && !p->cur.mem_bytes)
			continue;
		out[n++] = (struct gpu_proc_usage){
			.pid = p->pid,
			.device = p->device,
			.busy_s = p->nvml ? p->nvml_busy_s : p->busy_s,
			.mem_bytes = p->cur.mem_bytes,
			.exited = p->exited,
			.spans = p->spans,
			.nspans = p->n,
		};
	}
	return n;
}

void gpu_forget(struct gpu *g, uint32_t pid)
{
	struct gpu_proc *p = htab_get(g->procs, pid);

	if (p) {
		if (!p->exited)
			p->exit_ns = UINT64_MAX;
		p->exited = true; /* freed after the next interval's end */
		p->active = false;
	}
}

void gpu_get_stats(const struct gpu *g, struct gpu_stats *st)
{
	*st = g->st;
}

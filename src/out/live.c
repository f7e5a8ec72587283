// SPDX-License-Identifier: MIT
#include "out/live.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "out/jsonl.h"
#include "util/array.h"
#include "util/htab.h"

#define MAX_LABELS 5
#define MAX_MODELS 4
#define EXITED_KEEP_NS (60ull * 1000000000ull)

/* ---- metric families: counters by label values, bounded ---- */

struct series {
	char *values[MAX_LABELS];
	double value;
};

struct family {
	const char *name, *help;
	bool counter;
	size_t nlabels;
	const char *labels[MAX_LABELS];
	struct series *v;
	size_t n, cap;
	struct htab *index;        /* hash of the values -> index + 1 */
	uint64_t overflow;         /* label sets folded into _other */
};

enum {
	F_REQUESTS,
	F_TOKENS,
	F_COST,
	F_UNPRICED,
	F_GPU_BUSY,
	F_BYTES,
	F_NFAMILIES,
};

static const struct family family_defs[F_NFAMILIES] = {
	[F_REQUESTS] = { "infertrace_requests_total", "Inference requests seen, by the side that "
		         "made (client) or served (server) them.", true, 4,
		         { "workload", "provider", "model", "role" } },
	[F_TOKENS] = { "infertrace_tokens_total", "Tokens of inference requests as providers "
		       "reported them (estimates excluded).", true, 5,
		       { "workload", "provider", "model", "role", "type" } },
	[F_COST] = { "infertrace_cost_usd_total", "List cost in USD, from the cost records "
		     "(tokens of API calls, accelerator busy and idle hours).", true, 3,
		     { "workload", "service", "sku" } },
	[F_UNPRICED] = { "infertrace_unpriced_requests_total", "Inference requests whose model "
			 "has no price (their cost is unknown, not zero).", true, 1,
			 { "workload" } },
	[F_GPU_BUSY] = { "infertrace_gpu_busy_seconds_total", "Accelerator busy seconds.", true, 2,
			 { "workload", "device" } },
	[F_BYTES] = { "infertrace_bytes_total", "Plaintext bytes of TLS and plain-HTTP traffic.",
		      true, 2, { "workload", "direction" } },
};

/* ---- processes, for the snapshot ---- */

struct lproc {
	uint32_t pid;
	char comm[32];
	char workload[192];
	char models[MAX_MODELS][96];
	char providers[MAX_MODELS][48];
	char device[96];           /* the UUID (NVML), else the name */
	char device_name[96];
	/* the last complete interval, as rates */
	double interval_s;
	double req_s, in_s, out_s, bytes_s, gpu_pct, cost_h;
	uint64_t gpu_mem;
	/* totals */
	uint64_t requests;
	double cost;
	uint64_t last_seen;        /* CLOCK_REALTIME ns of its last record */
	bool exited;
};

struct device {
	char name[96], uuid[96];   /* name: the key (UUID, else the device name) */
	char label[96];            /* the device name (NVML's, or cuda:N) */
	/* the latest interval's sums: its usage records come together at its
	 * end, so what is summed so far is that interval's */
	uint64_t cur_end;          /* its end, real ns */
	double cur_busy, cur_len, cur_cost;
	uint64_t cur_mem;
};

struct live {
	pthread_mutex_t mu;
	struct family f[F_NFAMILIES];
	struct htab *procs;
	struct device *dev;
	size_t ndev, capdev;
	/* agent */
	uint64_t agent_pid;
	char version[32];
	char started[40];
	double interval_s;
	double events, lost, rss;
	/* totals since start */
	uint64_t requests, in_tokens, out_tokens;
	double cost_total;
	double idle_cost_h;        /* the idle workload's rate, last interval */
	uint64_t idle_end;
	double idle_cur;
};

static uint64_t fnv(const char *const *v, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		for (const char *p = v[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull; /* separator */
	}
	return h ? h : 1;
}

static bool same(const struct series *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], v[i]))
			return false;
	return true;
}

static struct series *series_get(struct family *f, const char *const *v)
{
	static const char *const other[MAX_LABELS] = { "_other", "_other", "_other", "_other",
						       "_other" };
	uint64_t h = fnv(v, f->nlabels);
	uintptr_t idx = (uintptr_t)htab_get(f->index, h);

	if (idx && same(&f->v[idx - 1], v, f->nlabels))
		return &f->v[idx - 1];
	for (size_t i = 0; idx && i < f->n; i++) /* a hash collision: rare */
		if (same(&f->v[i], v, f->nlabels))
			return &f->v[i];
	if (f->n >= LIVE_MAX_SERIES && v != other) {
		f->overflow++;
		return series_get(f, other);
	}
	/* (the _other series itself is created even past the bound) */
	if (ARRAY_RESERVE(f->v, f->n, f->cap, 32))
		return NULL;
	memset(&f->v[f->n], 0, sizeof(f->v[f->n]));
	for (size_t i = 0; i < f->nlabels; i++) {
		f->v[f->n].values[i] = strdup(v[i]);
		if (!f->v[f->n].values[i]) {
			for (size_t j = 0; j < i; j++)
				free(f->v[f->n].values[j]);
			return NULL;
		}
	}
	if (!idx)
		htab_put(f->index, h, (void *)(uintptr_t)(f->n + 1));
	return &f->v[f->n++];
}

static void add(struct live *l, int fam, const char *const *v, double x)
{
	struct series *s;

	if (x == 0)
		return;
	s = series_get(&l->f[fam], v);
	if (s)
		s->value += x;
}

struct live *live_new(void)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	for (int i = 0; i < F_NFAMILIES; i++) {
		l->f[i] = family_defs[i];
		l->f[i].index = htab_new();
		if (!l->f[i].index) {
			live_free(l);
			return NULL;
		}
	}
	l->procs = htab_new();
	if (!l->procs) {
		live_free(l);
		return NULL;
	}
	return l;
}

void live_free(struct live *l)
{
	size_t it = 0;
	void *v;

	if (!l)
		return;
	for (int i = 0; i < F_NFAMILIES; i++) {
		for (size_t j = 0; j < l->f[i].n; j++)
			for (size_t k = 0; k < l->f[i].nlabels; k++)
				free(l->f[i].v[j].values[k]);
		free(l->f[i].v);
		htab_free(l->f[i].index);
	}
	if (l->procs) {
		while (htab_next(l->procs, &it, NULL, &v))
			free(v);
		htab_free(l->procs);
	}
	free(l->dev);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* ---- reading records ---- */

static const char *str(const cJSON *r, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : dflt;
}

static double num(const cJSON *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "2026-11-27T05:14:28.941869430Z" -> ns since the epoch; 0 if malformed. */
static uint64_t rfc3339_ns(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	uint64_t ns = 0, scale = 100000000;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += (uint64_t)(*p - '0') * scale;
	return (uint64_t)timegm(&tm) * 1000000000ull + ns;
}

static struct lproc *proc_get(struct live *l, const cJSON *r)
{
	uint32_t pid = (uint32_t)num(r, "pid");
	struct lproc *p = htab_get(l->procs, pid);

	if (!pid)
		return NULL;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || htab_put(l->procs, pid, p)) {
			free(p);
			return NULL;
		}
		p->pid = pid;
	}
	snprintf(p->comm, sizeof(p->comm), "%s", str(r, "comm", "?"));
	snprintf(p->workload, sizeof(p->workload), "%s", str(r, "workload", "unknown"));
	p->last_seen = rfc3339_ns(str(r, "time", NULL));
	/* a process's last usage record is partial (its exit, or the agent's
	 * stop); any other record says it runs */
	p->exited = !strcmp(str(r, "type", ""), "usage") &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "partial"));
	return p;
}

static void note_model(struct lproc *p, const char *model, const char *provider)
{
	for (int i = 0; i < MAX_MODELS; i++) {
		if (!strcmp(p->models[i], model))
			return;
		if (!p->models[i][0]) {
			snprintf(p->models[i], sizeof(p->models[i]), "%s", model);
			snprintf(p->providers[i], sizeof(p->providers[i]), "%s", provider);
			return;
		}
	}
}

static void on_request(struct live *l, const cJSON *r)
{
	const char *wl = str(r, "workload", "unknown");
	const char *prov = str(r, "gen_ai.provider.name", "unknown");
	const char *model = str(r, "gen_ai.response.model", str(r, "gen_ai.request.model", "unknown"));
	const char *role = str(r, "role", "unknown");
	const char *src = str(r, "usage_source", "missing");
	static const char *const types[][2] = {
		{ "gen_ai.usage.input_tokens", "input" },
		{ "gen_ai.usage.output_tokens", "output" },
		{ "gen_ai.usage.cache_read.input_tokens", "cache_read" },
		{ "gen_ai.usage.cache_creation.input_tokens", "cache_write" },
		{ "gen_ai.usage.reasoning.output_tokens", "reasoning" },
	};
	const char *v[5] = { wl, prov, model, role, NULL };
	struct lproc *p = proc_get(l, r);

	if (!cJSON_GetObjectItemCaseSensitive(r, "gen_ai.provider.name"))
		return; /* --all-requests: not an inference request */
	add(l, F_REQUESTS, v, 1);
	if (!strcmp(src, "provider"))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			v[4] = types[i][1];
			add(l, F_TOKENS, v, num(r, types[i][0]));
		}
	if (!strcmp(str(r, "price_source", ""), "missing")) {
		const char *u[1] = { wl };

		add(l, F_UNPRICED, u, 1);
	}
	if (p) {
		note_model(p, model, prov);
		p->requests++;
	}
	l->requests++;
	if (!strcmp(src, "provider") && strcmp(role, "server")) {
		l->in_tokens += (uint64_t)num(r, "gen_ai.usage.input_tokens");
		l->out_tokens += (uint64_t)num(r, "gen_ai.usage.output_tokens");
	}
}

static struct device *device_get(struct live *l, const char *name)
{
	for (size_t i = 0; i < l->ndev; i++)
		if (!strcmp(l->dev[i].name, name))
			return &l->dev[i];
	if (ARRAY_RESERVE(l->dev, l->ndev, l->capdev, 4))
		return NULL;
	memset(&l->dev[l->ndev], 0, sizeof(l->dev[0]));
	snprintf(l->dev[l->ndev].name, sizeof(l->dev[0].name), "%s", name);
	return &l->dev[l->ndev++];
}

static void on_usage(struct live *l, const cJSON *r)
{
	const char *wl = str(r, "workload", "unknown");
	uint64_t start = rfc3339_ns(str(r, "interval_start", NULL));
	uint64_t end = rfc3339_ns(str(r, "interval_end", NULL));
	double len = end > start ? (double)(end - start) / 1e9 : 0;
	/* identical GPUs share a name: the UUID tells them apart (NVML) */
	const char *dev = str(r, "accelerator.uuid", str(r, "accelerator", NULL));
	const char *dev_name = str(r, "accelerator", "");
	const char *sent[2] = { wl, "sent" }, *recv[2] = { wl, "received" };
	double cost = num(r, "ListCost"), busy = num(r, "gpu.busy_seconds");
	struct lproc *p = proc_get(l, r);

	add(l, F_BYTES, sent, num(r, "bytes_sent"));
	add(l, F_BYTES, recv, num(r, "bytes_received"));
	l->cost_total += cost;
	if (dev) {
		const char *g[2] = { wl, dev };

		add(l, F_GPU_BUSY, g, busy);
	}
	if (!p)
		return;
	p->cost += cost;
	/* a short last piece says little about a rate already known; for a
	 * short-lived process it is all there is */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "partial")) &&
	    len < 0.5 * l->interval_s && p->interval_s > 0)
		return;
	if (len > 0) {
		p->interval_s = len;
		p->req_s = num(r, "requests") / len;
		p->in_s = num(r, "gen_ai.usage.input_tokens") / len;
		p->out_s = num(r, "gen_ai.usage.output_tokens") / len;
		p->bytes_s = (num(r, "bytes_sent") + num(r, "bytes_received")) / len;
		p->gpu_pct = busy / len * 100;
		p->cost_h = cost / len * 3600;
	}
	p->gpu_mem = (uint64_t)num(r, "gpu.mem_bytes");
	if (dev) {
		struct device *d = device_get(l, dev);

		snprintf(p->device, sizeof(p->device), "%s", dev);
		snprintf(p->device_name, sizeof(p->device_name), "%s", dev_name[0] ? dev_name : dev);
		if (d) {
			if (end != d->cur_end) {
				d->cur_end = end;
				d->cur_busy = d->cur_cost = 0;
				d->cur_mem = 0;
			}
			d->cur_len = len;
			d->cur_busy += busy;
			d->cur_cost += num(r, "x_gpu_cost") + num(r, "x_gpu_idle_cost");
			d->cur_mem += p->gpu_mem;
			snprintf(d->uuid, sizeof(d->uuid), "%s", str(r, "accelerator.uuid", ""));
			snprintf(d->label, sizeof(d->label), "%s", dev_name);
		}
	}
}

static void on_cost(struct live *l, const cJSON *r)
{
	const char *wl = str(r, "x_workload", "unknown");
	const char *v[3] = { wl, str(r, "ServiceName", "unknown"), str(r, "SkuMeter", "unknown") };
	double c = num(r, "ListCost");

	add(l, F_COST, v, c);
	if (!strcmp(wl, "idle")) {
		/* the idle bucket is in no usage record: count it here */
		uint64_t s = rfc3339_ns(str(r, "ChargePeriodStart", NULL));
		uint64_t e = rfc3339_ns(str(r, "ChargePeriodEnd", NULL));

		l->cost_total += c;
		if (e != l->idle_end) {
			l->idle_end = e;
			l->idle_cur = 0;
		}
		l->idle_cur += c;
		if (e > s)
			l->idle_cost_h = l->idle_cur / ((double)(e - s) / 1e9) * 3600;
	}
}

static uint64_t now_real(void);

static bool proc_stale(const struct lproc *p, uint64_t now)
{
	return p->last_seen + EXITED_KEEP_NS < now &&
	       (p->exited || p->last_seen + EXITED_KEEP_NS * 10 < now);
}

/* Forget processes gone (or silent) for a while: the table would otherwise
 * grow with every short-lived process of a host running for months. */
static int proc_gone(void *ctx, uint64_t pid, void *v)
{
	(void)pid;
	return proc_stale(v, *(const uint64_t *)ctx);
}

static void procs_prune(struct live *l)
{
	uint64_t now = now_real();

	htab_remove_if(l->procs, proc_gone, &now, free);
}

static void on_agent(struct live *l, const cJSON *r)
{
	const char *ev = str(r, "event", "");

	procs_prune(l); /* once an interval */

	l->agent_pid = (uint64_t)num(r, "pid");
	snprintf(l->version, sizeof(l->version), "%s", str(r, "version", ""));
	if (!strcmp(ev, "start"))
		snprintf(l->started, sizeof(l->started), "%s", str(r, "time", ""));
	if (cJSON_GetObjectItemCaseSensitive(r, "interval_s"))
		l->interval_s = num(r, "interval_s");
	l->events = num(r, "events");
	l->lost = num(r, "lost");
	l->rss = num(r, "rss_bytes");
}

void live_observe(struct live *l, const cJSON *rec)
{
	const char *type = str(rec, "type", "");

	pthread_mutex_lock(&l->mu);
	if (!strcmp(type, "request"))
		on_request(l, rec);
	else if (!strcmp(type, "usage"))
		on_usage(l, rec);
	else if (!strcmp(type, "cost"))
		on_cost(l, rec);
	else if (!strcmp(type, "agent"))
		on_agent(l, rec);
	else if (!strcmp(type, "connection")) {
		struct lproc *p = htab_get(l->procs, (uint32_t)num(rec, "pid"));

		if (p && !strcmp(str(rec, "close_reason", ""), "exit"))
			p->exited = true;
	}
	pthread_mutex_unlock(&l->mu);
}

/* ---- readers ---- */

static uint64_t now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

cJSON *live_snapshot(struct live *l)
{
	cJSON *s = record_new("snapshot", now_real()), *a, *t, *devs, *procs;
	double req_s = 0, in_s = 0, out_s = 0, cost_h = 0;
	uint64_t now = now_real();
	size_t it = 0;
	void *v;

	if (!s)
		return NULL;
	pthread_mutex_lock(&l->mu);
	a = cJSON_AddObjectToObject(s, "agent");
	json_add_u64(a, "pid", l->agent_pid);
	cJSON_AddStringToObject(a, "version", l->version);
	cJSON_AddStringToObject(a, "started", l->started);
	cJSON_AddNumberToObject(a, "interval_s", l->interval_s);
	cJSON_AddNumberToObject(a, "events", l->events);
	cJSON_AddNumberToObject(a, "lost", l->lost);
	cJSON_AddNumberToObject(a, "rss_bytes", l->rss);
	procs = cJSON_CreateArray();
	while (htab_next(l->procs, &it, NULL, &v)) {
		struct lproc *p = v;
		cJSON *o, *m, *pr;

		if (proc_stale(p, now))
			continue; /* pruned at the next interval */
		o = cJSON_CreateObject();
		json_add_u64(o, "pid", p->pid);
		cJSON_AddStringToObject(o, "comm", p->comm);
		cJSON_AddStringToObject(o, "workload", p->workload);
		m = cJSON_AddArrayToObject(o, "models");
		pr = cJSON_AddArrayToObject(o, "providers");
		for (int i = 0; i < MAX_MODELS && p->models[i][0]; i++) {
			cJSON_AddItemToArray(m, cJSON_CreateString(p->models[i]));
			cJSON_AddItemToArray(pr, cJSON_CreateString(p->providers[i]));
		}
		cJSON_AddStringToObject(o, "device", p->device);
		cJSON_AddStringToObject(o, "device_name", p->device_name);
		cJSON_AddNumberToObject(o, "requests_per_s", p->req_s);
		cJSON_AddNumberToObject(o, "input_tokens_per_s", p->in_s);
		cJSON_AddNumberToObject(o, "output_tokens_per_s", p->out_s);
		cJSON_AddNumberToObject(o, "bytes_per_s", p->bytes_s);
		cJSON_AddNumberToObject(o, "gpu_busy_pct", p->gpu_pct);
		json_add_u64(o, "gpu_mem_bytes", p->gpu_mem);
		cJSON_AddNumberToObject(o, "cost_per_hour", p->cost_h);
		cJSON_AddNumberToObject(o, "cost_total", p->cost);
		json_add_u64(o, "requests_total", p->requests);
		json_add_time(o, "last_seen", p->last_seen);
		cJSON_AddBoolToObject(o, "exited", p->exited);
		cJSON_AddItemToArray(procs, o);
		/* rates of processes that still run */
		if (!p->exited && p->last_seen + (uint64_t)(3 * p->interval_s * 1e9) >= now) {
			req_s += p->req_s;
			in_s += p->in_s;
			out_s += p->out_s;
			cost_h += p->cost_h;
		}
	}
	t = cJSON_AddObjectToObject(s, "totals");
	cJSON_AddNumberToObject(t, "requests_per_s", req_s);
	cJSON_AddNumberToObject(t, "input_tokens_per_s", in_s);
	cJSON_AddNumberToObject(t, "output_tokens_per_s", out_s);
	cJSON_AddNumberToObject(t, "cost_per_hour", cost_h + l->idle_cost_h);
	cJSON_AddNumberToObject(t, "cost_total", l->cost_total);
	json_add_u64(t, "requests_total", l->requests);
	json_add_u64(t, "input_tokens_total", l->in_tokens);
	json_add_u64(t, "output_tokens_total", l->out_tokens);
	devs = cJSON_AddArrayToObject(s, "devices");
	for (size_t i = 0; i < l->ndev; i++) {
		const struct device *d = &l->dev[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "device", d->name);
		cJSON_AddStringToObject(o, "name", d->label[0] ? d->label : d->name);
		cJSON_AddStringToObject(o, "uuid", d->uuid);
		cJSON_AddNumberToObject(o, "busy_pct",
					d->cur_len > 0 ? d->cur_busy / d->cur_len * 100 : 0);
		json_add_u64(o, "mem_bytes", d->cur_mem);
		cJSON_AddNumberToObject(o, "cost_per_hour",
					d->cur_len > 0 ? d->cur_cost / d->cur_len * 3600 : 0);
		cJSON_AddItemToArray(devs, o);
	}
	cJSON_AddItemToObject(s, "processes", procs);
	pthread_mutex_unlock(&l->mu);
	return s;
}

void live_each_family(struct live *l, live_family_fn fn, void *ctx)
{
	struct live_sample *smp = NULL;
	static const char *const ofam[1] = { "family" };
	static const char *const gmem[2] = { "workload", "device" };
	const char *fams[F_NFAMILIES];
	double ovf[F_NFAMILIES];
	size_t cap = 0;

	pthread_mutex_lock(&l->mu);
	for (int i = 0; i < F_NFAMILIES; i++) {
		struct family *f = &l->f[i];

		if (f->n > cap) {
			struct live_sample *nv = realloc(smp, f->n * sizeof(*nv));

			if (!nv) {
				/* out of memory: the family still says what it is */
				fn(ctx, f->name, f->help, f->counter, NULL, 0);
				continue;
			}
			smp = nv;
			cap = f->n;
		}
		for (size_t j = 0; j < f->n; j++)
			smp[j] = (struct live_sample){ f->labels, (const char *const *)f->v[j].values,
						       f->nlabels, f->v[j].value };
		fn(ctx, f->name, f->help, f->counter, smp, f->n);
	}
	{
		/* device memory held now: the processes' last usage records */
		struct {
			char wl[192], dev[96];
			double mem;
		} *agg = NULL;
		size_t n = 0, it = 0, capa = 0;
		void *v;
		const char **vals = NULL;

		while (htab_next(l->procs, &it, NULL, &v)) {
			struct lproc *p = v;
			size_t k;

			if (p->exited || !p->device[0])
				continue;
			for (k = 0; k < n; k++)
				if (!strcmp(agg[k].wl, p->workload) && !strcmp(agg[k].dev, p->device))
					break;
			if (k == n) {
				if (n == capa) {
					size_t c = capa ? capa * 2 : 8;
					void *nv = realloc(agg, c * sizeof(*agg));

					if (!nv)
						break;
					agg = nv;
					capa = c;
				}
				snprintf(agg[n].wl, sizeof(agg[n].wl), "%s", p->workload);
				snprintf(agg[n].dev, sizeof(agg[n].dev), "%s", p->device);
				agg[n].mem = 0;
				n++;
			}
			agg[k].mem += (double)p->gpu_mem;
		}
		vals = calloc(2 * (n ? n : 1), sizeof(*vals));
		if (n > cap) {
			struct live_sample *nv = realloc(smp, n * sizeof(*nv));

			if (nv) {
				smp = nv;
				cap = n;
			}
		}
		if (vals && n <= cap) {
			for (size_t k = 0; k < n; k++) {
				vals[2 * k] = agg[k].wl;
				vals[2 * k + 1] = agg[k].dev;
				smp[k] = (struct live_sample){ gmem, &vals[2 * k], 2, agg[k].mem };
			}
			fn(ctx, "infertrace_gpu_memory_bytes",
			   "Accelerator memory held now (allocations the probes saw).", false, smp, n);
		}
		free(vals);
		free(agg);
	}
	{
		struct live_sample one = { NULL, NULL, 0, l->lost };

		fn(ctx, "infertrace_lost_events_total",
		   "Ring-buffer records the kernel could not queue (data missing).", true, &one, 1);
		one.value = l->events;
		fn(ctx, "infertrace_ringbuf_events_total", "Ring-buffer records read.", true, &one, 1);
		one.value = l->rss;
		fn(ctx, "infertrace_agent_rss_bytes", "The agent's resident memory.", false, &one, 1);
	}
	{
		struct live_sample o[F_NFAMILIES];
		size_t n = 0;

		for (int i = 0; i < F_NFAMILIES; i++) {
			fams[i] = l->f[i].name;
			ovf[i] = (double)l->f[i].overflow;
			o[n++] = (struct live_sample){ ofam, &fams[i], 1, ovf[i] };
		}
		fn(ctx, "infertrace_series_overflow_total",
		   "Label sets folded into the _other series of a family (over the bound).", true, o,
		   n);
	}
	pthread_mutex_unlock(&l->mu);
	free(smp);
}

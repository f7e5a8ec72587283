// SPDX-License-Identifier: MIT
#include "cost/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/llm.h"
#include "util/array.h"
#include "util/htab.h"
#include "util/list.h"

#define MAX_SERVED 65536       /* served requests waiting for their GPU share */
#define MAX_TARGETS 8          /* serving processes one GPU process's cost goes to */
#define PARENT_LEVELS 4        /* how far up to look for the serving process */
#define DEFAULT_HOLD_NS (600ull * 1000000000ull)

/* Per process, this interval: what its usage record's cost fields say. */
struct pcost {
	double api_cost;           /* requests with provider-reported tokens */
	double api_cost_est;       /* requests with estimated tokens: kept apart */
	uint64_t unpriced;         /* inference requests whose model has no price */
	double gpu_cost, idle_cost, gpu_s;
	bool gpu_priced;
	bool gpu;                  /* it had a device this interval */
	uint64_t seq;              /* the interval it was last added to */
};

/* An inference request a traced process served. */
struct served {
	uint64_t id;               /* the exchange, while in flight */
	uint32_t pid;
	uint64_t start_ns, end_ns; /* end 0: in flight */
	double tokens;             /* input + output, < 0 unknown */
	double cost, gpu_s;        /* shares received so far */
	bool had_gpu;              /* some interval's GPU cost was shared with it */
	cJSON *rec;                /* its record, once complete */
	struct list_node node;     /* in start order */
};

/* One GPU process's cost for one interval, to be shared among requests. */
struct bucket {
	uint64_t start_ns, end_ns;
	double busy_cost, idle_cost, busy_s;
	struct gpu_span *spans;    /* when it was busy, clipped to the interval */
	size_t nspans;
	uint32_t targets[MAX_TARGETS];
	size_t ntargets;
};

/* A FOCUS cost row being summed over the interval. */
struct sku_row {
	char workload[192];
	/* a copy: the workload cache may recycle its entries before the row
	 * is written */
	struct workload wl;
	bool has_wl;
	char service[48];          /* provider, or "accelerator" */
	char meter[32];            /* "input tokens", ..., "GPU hours", "GPU idle hours" */
	char resource[160];        /* model, or device UUID / name */
	bool tokens;               /* priced per token (else per hour) */
	bool estimated;
	double unit_price;         /* USD per token or per hour */
	double qty, cost;
	char ref_key[96], ref_version[32];
};

struct ledger {
	struct ledger_opts o;
	struct price_table *prices;
	struct workloads *wl;
	struct jsonl *out;
	struct htab *pcosts;       /* pid -> struct pcost */
	struct htab *parents;      /* pid -> ppid + 1 */
	struct htab *inflight;     /* exchange id -> struct served */
	struct list_node served;   /* all struct served, oldest first */
	size_t nserved;
	struct bucket *buckets;
	size_t nbuckets, capbuckets;
	struct sku_row *rows;
	size_t nrows, caprows;
	uint64_t last_end_ns;      /* the last interval's end: shares exist up to here */
	uint64_t seq;              /* intervals seen */
	struct ledger_stats st;
};

static double max0(int64_t v)
{
	return v > 0 ? (double)v : 0.0;
}

static uint64_t real_ns(const struct ledger *l, uint64_t mono)
{
	return (uint64_t)((int64_t)mono + l->o.mono_to_real_ns);
}

static void write_rec(struct ledger *l, cJSON *r)
{
	if (!r || jsonl_write(l->out, r))
		l->st.write_errors++;
}

struct ledger *ledger_new(const struct ledger_opts *o, struct price_table *prices,
			  struct workloads *wl, struct jsonl *out)
{
	struct ledger *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->o = *o;
	if (!l->o.max_hold_ns)
		l->o.max_hold_ns = DEFAULT_HOLD_NS;
	if (!l->o.proc_root)
		l->o.proc_root = "/proc";
	if (!l->o.hostname)
		l->o.hostname = "";
	l->prices = prices;
	l->wl = wl;
	l->out = out;
	list_init(&l->served);
	l->pcosts = htab_new();
	l->parents = htab_new();
	l->inflight = htab_new();
	if (!l->pcosts || !l->parents || !l->inflight) {
		l->prices = NULL; /* owned only on success */
		ledger_free(l);
		return NULL;
	}
	return l;
}

static void served_drop(struct ledger *l, struct served *s)
{
	/* the id (an exchange's address) may name a newer request by now */
	if (!s->end_ns && htab_get(l->inflight, s->id) == s)
		htab_del(l->inflight, s->id);
	list_del(&s->node);
	cJSON_Delete(s->rec);
	free(s);
	l->nserved--;
}

static void served_write(struct ledger *l, struct served *s)
{
	cJSON *r = s->rec;

	s->rec = NULL;
	if (s->had_gpu) {
		cJSON_AddNumberToObject(r, "x_gpu_seconds", s->gpu_s);
		cJSON_AddNumberToObject(r, "x_accelerator_cost", s->cost);
	} else {
		cJSON_AddNullToObject(r, "x_gpu_seconds");
		cJSON_AddNullToObject(r, "x_accelerator_cost");
	}
	write_rec(l, r);
	served_drop(l, s);
}

static void bucket_settle(struct ledger *l, const struct bucket *b);

void ledger_flush(struct ledger *l)
{
	struct list_node *it, *next;

	/* every interval is shared with what it has; every complete request
	 * goes out with the shares it got */
	for (size_t i = 0; i < l->nbuckets; i++) {
		bucket_settle(l, &l->buckets[i]);
		free(l->buckets[i].spans);
	}
	l->nbuckets = 0;
	for (it = l->served.next; it != &l->served; it = next) {
		struct served *s = list_entry(it, struct served, node);

		next = it->next;
		if (s->rec)
			served_write(l, s);
	}
}

void ledger_free(struct ledger *l)
{
	size_t it = 0;
	void *v;

	if (!l)
		return;
	ledger_flush(l);
	while (!list_empty(&l->served))
		served_drop(l, list_entry(l->served.next, struct served, node));
	if (l->pcosts)
		while (htab_next(l->pcosts, &it, NULL, &v))
			free(v);
	htab_free(l->pcosts);
	htab_free(l->parents);
	htab_free(l->inflight);
	free(l->buckets);
	free(l->rows);
	prices_free(l->prices);
	free(l);
}

void ledger_set_prices(struct ledger *l, struct price_table *t)
{
	prices_free(l->prices);
	l->prices = t;
}

void ledger_get_stats(const struct ledger *l, struct ledger_stats *st)
{
	*st = l->st;
	st->served_held = l->nserved;
}

/* ---- parents ---- */

void ledger_note_parent(struct ledger *l, uint32_t pid, uint32_t ppid)
{
	if (htab_count(l->parents) >= 65536) {
		/* a cache: start again rather than grow without bound */
		struct htab *h = htab_new();

		if (h) {
			htab_free(l->parents);
			l->parents = h;
		}
	}
	if (pid && ppid)
		htab_put(l->parents, pid, (void *)(uintptr_t)((uint64_t)ppid + 1));
}

static uint32_t parent_of(struct ledger *l, uint32_t pid)
{
	void *v = htab_get(l->parents, pid);
	char path[64], buf[512], *p;
	unsigned int ppid = 0;
	FILE *f;

	if (v)
		return (uint32_t)((uintptr_t)v - 1);
	snprintf(path, sizeof(path), "%s/%u/stat", l->o.proc_root, pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %*c %u", &ppid) == 1)
		ledger_note_parent(l, pid, ppid);
	fclose(f);
	return ppid;
}

/* ---- workloads and SKU rows ---- */

static const struct workload *workload_of(struct ledger *l, uint32_t pid, uint64_t cgroup_id)
{
	return l->wl ? workloads_get(l->wl, cgroup_id, pid) : NULL;
}

void ledger_proc_fields(struct ledger *l, uint32_t pid, uint64_t cgroup_id, cJSON *rec)
{
	const struct workload *w = workload_of(l, pid, cgroup_id);

	if (w)
		workload_to_json(w, rec);
}

static void sku_add(struct ledger *l, const struct workload *w, const char *service,
		    const char *meter, const char *resource, bool tokens, bool estimated,
		    double unit_price, double qty, double cost, const struct price_ref *ref)
{
	const char *wname = w ? w->name : "unknown";
	struct sku_row *r = NULL;

	if (qty <= 0 && cost <= 0)
		return;
	for (size_t i = 0; i < l->nrows; i++) {
		struct sku_row *x = &l->rows[i];

		if (x->unit_price == unit_price && x->estimated == estimated &&
		    !strcmp(x->workload, wname) && !strcmp(x->meter, meter) &&
		    !strcmp(x->service, service) && !strcmp(x->resource, resource)) {
			r = x;
			break;
		}
	}
	if (!r) {
		if (ARRAY_RESERVE(l->rows, l->nrows, l->caprows, 32))
			return;
		r = &l->rows[l->nrows++];
		memset(r, 0, sizeof(*r));
		snprintf(r->workload, sizeof(r->workload), "%s", wname);
		if (w) {
			r->wl = *w;
			r->has_wl = true;
		}
		snprintf(r->service, sizeof(r->service), "%s", service);
		snprintf(r->meter, sizeof(r->meter), "%s", meter);
		snprintf(r->resource, sizeof(r->resource), "%s", resource);
		r->tokens = tokens;
		r->estimated = estimated;
		r->unit_price = unit_price;
		if (ref) {
			snprintf(r->ref_key, sizeof(r->ref_key), "%s", ref->key ? ref->key : "");
			snprintf(r->ref_version, sizeof(r->ref_version), "%s",
				 ref->version ? ref->version : "");
		}
	}
	r->qty += qty;
	r->cost += cost;
}

/* FOCUS column names; custom columns are x_. One row per interval x
 * workload x SKU x resource x unit price. */
static void sku_write(struct ledger *l, const struct sku_row *r, uint64_t start_ns, uint64_t end_ns)
{
	cJSON *rec = record_new("cost", real_ns(l, end_ns)), *tags;

	if (!rec) {
		l->st.write_errors++;
		return;
	}
	json_add_time(rec, "ChargePeriodStart", real_ns(l, start_ns));
	json_add_time(rec, "ChargePeriodEnd", real_ns(l, end_ns));
	cJSON_AddStringToObject(rec, "ChargeCategory", "Usage");
	cJSON_AddStringToObject(rec, "BillingCurrency", "USD");
	cJSON_AddStringToObject(rec, "ServiceCategory", "AI and Machine Learning");
	cJSON_AddStringToObject(rec, "ServiceName", r->service);
	cJSON_AddStringToObject(rec, "SkuMeter", r->meter);
	cJSON_AddStringToObject(rec, "ResourceId", r->resource);
	cJSON_AddNumberToObject(rec, "ConsumedQuantity", r->tokens ? r->qty : r->qty);
	cJSON_AddStringToObject(rec, "ConsumedUnit", r->tokens ? "Tokens" : "Hours");
	cJSON_AddNumberToObject(rec, "PricingQuantity", r->tokens ? r->qty / 1e6 : r->qty);
	cJSON_AddStringToObject(rec, "PricingUnit", r->tokens ? "1M Tokens" : "Hours");
	cJSON_AddNumberToObject(rec, "ListUnitPrice", r->tokens ? r->unit_price * 1e6 : r->unit_price);
	cJSON_AddNumberToObject(rec, "ListCost", r->cost);
	cJSON_AddNumberToObject(rec, "EffectiveCost", r->cost);
	cJSON_AddStringToObject(rec, "x_workload", r->workload);
	cJSON_AddBoolToObject(rec, "x_estimated", r->estimated);
	if (r->ref_key[0]) {
		cJSON_AddStringToObject(rec, "x_price_key", r->ref_key);
		cJSON_AddStringToObject(rec, "x_price_version", r->ref_version);
	}
	if (l->o.hostname[0])
		cJSON_AddStringToObject(rec, "host.name", l->o.hostname);
	tags = cJSON_AddObjectToObject(rec, "Tags");
	if (tags && r->has_wl) {
		const struct workload *w = &r->wl;

		cJSON_AddStringToObject(tags, "workload", w->name);
		if (w->kind[0])
			cJSON_AddStringToObject(tags, "workload.kind", w->kind);
		if (w->container_id[0])
			cJSON_AddStringToObject(tags, "container.id", w->container_id);
		if (w->pod_uid[0])
			cJSON_AddStringToObject(tags, "k8s.pod.uid", w->pod_uid);
		if (w->systemd_unit[0])
			cJSON_AddStringToObject(tags, "systemd.unit", w->systemd_unit);
		for (size_t i = 0; i < w->nlabels; i++)
			cJSON_AddStringToObject(tags, w->labels[i].key, w->labels[i].value);
	}
	write_rec(l, rec);
}

/* ---- per-process interval costs ---- */

static struct pcost *pcost_get(struct ledger *l, uint32_t pid)
{
	struct pcost *c = htab_get(l->pcosts, pid);

	if (c) {
		c->seq = l->seq;
		return c;
	}
	c = calloc(1, sizeof(*c));
	if (c && htab_put(l->pcosts, pid, c)) {
		free(c);
		c = NULL;
	}
	if (c)
		c->seq = l->seq;
	return c;
}

void ledger_usage_fields(struct ledger *l, uint32_t pid, cJSON *rec)
{
	struct pcost *c = htab_del(l->pcosts, pid), zero = { 0 };

	if (!c)
		c = &zero;
	cJSON_AddNumberToObject(rec, "x_api_cost", c->api_cost);
	cJSON_AddNumberToObject(rec, "x_api_cost_estimated", c->api_cost_est);
	json_add_u64(rec, "x_unpriced_requests", c->unpriced);
	if (c->gpu) {
		cJSON_AddNumberToObject(rec, "x_gpu_cost", c->gpu_cost);
		cJSON_AddNumberToObject(rec, "x_gpu_idle_cost", c->idle_cost);
		cJSON_AddStringToObject(rec, "x_gpu_price_source", c->gpu_priced ? "table" : "missing");
	}
	/* billed figures only: estimates stay in x_api_cost_estimated */
	cJSON_AddNumberToObject(rec, "ListCost", c->api_cost + c->gpu_cost + c->idle_cost);
	cJSON_AddNumberToObject(rec, "EffectiveCost", c->api_cost + c->gpu_cost + c->idle_cost);
	cJSON_AddStringToObject(rec, "BillingCurrency", "USD");
	if (c != &zero)
		free(c);
}

/* ---- API requests ---- */

double ledger_token_cost(const struct token_price *p, const struct llm_usage *u, double parts[5])
{
	double in = max0(u->input_tokens), cr = max0(u->cache_read_tokens);
	double cw = max0(u->cache_creation_tokens), cw1h = max0(u->cache_creation_1h_tokens);
	double out = max0(u->output_tokens), rs = max0(u->reasoning_tokens);
	double fresh, v[5], sum = 0;

	/* input and output include their cached and reasoning parts (llm.h) */
	if (cw1h > cw)
		cw1h = cw;
	if (rs > out)
		rs = out;
	fresh = in - cr - cw;
	if (fresh < 0)
		fresh = 0;
	v[0] = fresh * p->input;
	v[1] = cr * p->cache_read;
	v[2] = (cw - cw1h) * p->cache_write_5m + cw1h * p->cache_write_1h;
	v[3] = (out - rs) * p->output;
	v[4] = rs * p->reasoning;
	for (int i = 0; i < 5; i++) {
		sum += v[i];
		if (parts)
			parts[i] = v[i];
	}
	return sum;
}

static void add_price_ref(cJSON *rec, const struct token_price *p)
{
	cJSON *ref = cJSON_AddObjectToObject(rec, "x_price_ref");

	if (!ref)
		return;
	cJSON_AddStringToObject(ref, "table", p->ref.table ? p->ref.table : "");
	cJSON_AddStringToObject(ref, "key", p->ref.key ? p->ref.key : "");
	cJSON_AddStringToObject(ref, "version", p->ref.version ? p->ref.version : "");
	cJSON_AddStringToObject(ref, "tier", p->tier ? p->tier : "base");
	cJSON_AddStringToObject(ref, "service_tier", p->service_tier ? p->service_tier : "standard");
}

/* Token SKU rows of one priced request. */
static void request_skus(struct ledger *l, const struct workload *w, const struct llm_call *c,
			 const char *model, const struct token_price *p, const double parts[5],
			 bool est)
{
	const struct llm_usage *u = &c->usage;
	double cr = max0(u->cache_read_tokens), cw = max0(u->cache_creation_tokens);
	double cw1h = max0(u->cache_creation_1h_tokens), rs = max0(u->reasoning_tokens);
	double in = max0(u->input_tokens), out = max0(u->output_tokens);

	if (cw1h > cw)
		cw1h = cw;
	if (rs > out)
		rs = out;
	sku_add(l, w, c->provider, "input tokens", model, true, est, p->input,
		in - cr - cw > 0 ? in - cr - cw : 0, parts[0], &p->ref);
	sku_add(l, w, c->provider, "cached input tokens", model, true, est, p->cache_read, cr,
		parts[1], &p->ref);
	sku_add(l, w, c->provider, "cache write tokens", model, true, est, p->cache_write_5m,
		cw - cw1h, (cw - cw1h) * p->cache_write_5m, &p->ref);
	sku_add(l, w, c->provider, "cache write 1h tokens", model, true, est, p->cache_write_1h,
		cw1h, cw1h * p->cache_write_1h, &p->ref);
	sku_add(l, w, c->provider, "output tokens", model, true, est, p->output, out - rs, parts[3],
		&p->ref);
	sku_add(l, w, c->provider, "reasoning tokens", model, true, est, p->reasoning, rs, parts[4],
		&p->ref);
}

/* An API call this process made: its price. */
static void request_price(struct ledger *l, const struct tracker_request *req, cJSON *rec)
{
	const struct llm_call *c = req->llm;
	const char *model = c->response_model[0] ? c->response_model : c->request_model;
	struct token_price p;
	struct pcost *pc = pcost_get(l, req->pid);
	bool est = c->usage_source == USAGE_ESTIMATED;
	double parts[5], cost;
	int rc = -ENOENT;
	cJSON *b;

	if (l->prices && model[0])
		rc = prices_token(l->prices, c->provider ? c->provider : "", model,
				  c->usage.input_tokens, c->service_tier, &p);
	cJSON_AddStringToObject(rec, "BillingCurrency", "USD");
	if (rc) {
		/* never a silent $0 */
		cJSON_AddStringToObject(rec, "price_source", "missing");
		cJSON_AddNullToObject(rec, "ListCost");
		cJSON_AddNullToObject(rec, "EffectiveCost");
		cJSON_AddNullToObject(rec, "x_price_ref");
		l->st.requests_unpriced++;
		if (pc)
			pc->unpriced++;
		return;
	}
	cJSON_AddStringToObject(rec, "price_source", "table");
	add_price_ref(rec, &p);
	if (c->usage_source == USAGE_MISSING) {
		/* priced model, but no tokens to price */
		cJSON_AddNullToObject(rec, "ListCost");
		cJSON_AddNullToObject(rec, "EffectiveCost");
		return;
	}
	cost = ledger_token_cost(&p, &c->usage, parts);
	cJSON_AddNumberToObject(rec, "ListCost", cost);
	cJSON_AddNumberToObject(rec, "EffectiveCost", cost);
	cJSON_AddBoolToObject(rec, "x_cost_estimated", est);
	b = cJSON_AddObjectToObject(rec, "x_cost_breakdown");
	if (b) {
		static const char *const names[5] = { "input", "cache_read", "cache_write", "output",
						      "reasoning" };

		for (int i = 0; i < 5; i++)
			cJSON_AddNumberToObject(b, names[i], parts[i]);
	}
	l->st.requests_priced++;
	if (!est)
		l->st.list_cost_usd += cost;
	if (pc) {
		if (est)
			pc->api_cost_est += cost;
		else
			pc->api_cost += cost;
	}
	request_skus(l, workload_of(l, req->pid, req->cgroup_id), c, model, &p, parts, est);
}

/* ---- served requests ---- */

static struct served *served_new(struct ledger *l, uint32_t pid, uint64_t id, uint64_t start_ns)
{
	struct served *s;

	if (l->nserved >= MAX_SERVED) {
		/* the oldest goes out now with the shares it has */
		struct served *old = list_entry(l->served.next, struct served, node);

		l->st.served_evicted++;
		if (old->rec)
			served_write(l, old);
		else
			served_drop(l, old);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	s->pid = pid;
	s->start_ns = start_ns;
	s->tokens = -1;
	list_init(&s->node);
	list_add_tail(&l->served, &s->node);
	l->nserved++;
	return s;
}

void ledger_request_started(struct ledger *l, uint32_t pid, uint64_t id, uint64_t start_ns)
{
	struct served *s, *old = htab_get(l->inflight, id);

	/* an exchange that never finished as served (its connection's role
	 * changed) was freed and its address reused: forget the old one */
	if (old)
		served_drop(l, old);
	s = served_new(l, pid, id, start_ns);

	if (s && htab_put(l->inflight, id, s))
		served_drop(l, s);
}

bool ledger_request(struct ledger *l, const struct tracker_request *req, cJSON *rec)
{
	const struct llm_call *c = req->llm;
	struct served *s;

	if (!req->is_llm || !c)
		return false;
	if (!req->served) {
		request_price(l, req, rec);
		return false;
	}
	/* self-hosted: its cost is the accelerator's, shared out at the
	 * interval's end; it pays no API price */
	cJSON_AddStringToObject(rec, "price_source", "accelerator");
	s = htab_del(l->inflight, req->id);
	if (!s) {
		s = served_new(l, req->pid, req->id, req->start_ns);
		if (!s)
			return false;
	}
	s->end_ns = req->end_ns > s->start_ns ? req->end_ns : s->start_ns + 1;
	if (c->usage.input_tokens >= 0 || c->usage.output_tokens >= 0)
		s->tokens = max0(c->usage.input_tokens) + max0(c->usage.output_tokens);
	s->rec = rec;
	return true;
}

static bool targets_has(const struct bucket *b, uint32_t pid)
{
	for (size_t i = 0; i < b->ntargets; i++)
		if (b->targets[i] == pid)
			return true;
	return false;
}

static bool overlaps(const struct served *s, uint64_t lo, uint64_t hi)
{
	return s->start_ns < hi && (!s->end_ns || s->end_ns > lo);
}

/*
 * Which serving processes a GPU process's cost goes to: itself when it
 * served requests in [lo, hi); else, going up its parents, the first
 * ancestor that served, or the ancestor's children that served (vLLM's API
 * server is the engine core's parent; TGI's router is its shards' sibling).
 */
static size_t serving_targets(struct ledger *l, uint32_t gpu_pid, uint64_t lo, uint64_t hi,
			      uint32_t *out)
{
	uint32_t servers[256];
	size_t ns = 0, n = 0;
	struct list_node *it;
	uint32_t a = gpu_pid;

	list_for_each(it, &l->served) {
		struct served *s = list_entry(it, struct served, node);
		size_t j;

		if (!overlaps(s, lo, hi))
			continue;
		for (j = 0; j < ns && servers[j] != s->pid; j++)
			;
		if (j == ns && ns < 256)
			servers[ns++] = s->pid;
	}
	for (size_t j = 0; j < ns; j++)
		if (servers[j] == gpu_pid) {
			out[0] = gpu_pid;
			return 1;
		}
	for (int level = 0; level < PARENT_LEVELS && ns; level++) {
		a = parent_of(l, a);
		if (a <= 1)
			break;
		for (size_t j = 0; j < ns && n < MAX_TARGETS; j++)
			if (servers[j] == a || parent_of(l, servers[j]) == a)
				out[n++] = servers[j];
		if (n)
			return n;
	}
	return 0;
}

/* A request's part of a bucket's interval, while it is being shared. */
struct share {
	struct served *s;
	uint64_t lo, hi;           /* its time inside the interval */
	double rate;               /* tokens per ns over its whole duration; 0 unknown */
	double span_ns;            /* busy time attributed to it */
};

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Busy time while requests were in flight goes to those requests: each
 * moment of a busy span is split among the requests active at that moment,
 * by their token rate when every request has a count, else evenly. Returns
 * the busy time no request was active for.
 */
static double spans_to_requests(const struct bucket *b, struct share *sh, size_t n, bool by_tokens)
{
	uint64_t *cut = malloc(2 * n * sizeof(*cut));
	double unowned = 0;
	size_t nc = 0;

	if (!cut)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cut[nc++] = sh[i].lo;
		cut[nc++] = sh[i].hi;
	}
	qsort(cut, nc, sizeof(*cut), u64_cmp);
	for (size_t j = 0; j < b->nspans; j++) {
		uint64_t a = b->spans[j].start, end = b->spans[j].end;
		size_t c = 0;

		while (c < nc && cut[c] <= a)
			c++;
		while (a < end) {
			uint64_t z = c < nc && cut[c] < end ? cut[c] : end;
			double wsum = 0;

			for (size_t i = 0; i < n; i++)
				if (sh[i].lo <= a && sh[i].hi >= z)
					wsum += by_tokens ? sh[i].rate : 1.0;
			if (wsum > 0) {
				for (size_t i = 0; i < n; i++)
					if (sh[i].lo <= a && sh[i].hi >= z)
						sh[i].span_ns += (double)(z - a) *
								 (by_tokens ? sh[i].rate : 1.0) / wsum;
			} else {
				unowned += (double)(z - a);
			}
			a = z;
			while (c < nc && cut[c] <= a)
				c++;
		}
	}
	free(cut);
	return unowned;
}

/*
 * Share a bucket among the requests its targets served in its interval:
 * busy time by when it happened (spans_to_requests); busy time outside every
 * request, and the idle time of the memory held, by each request's part of
 * the interval (tokens processed in it when all have counts, else time).
 */
static void bucket_settle(struct ledger *l, const struct bucket *b)
{
	struct share *sh = NULL;
	size_t n = 0, cap = 0;
	struct list_node *it;
	double span_total = 0, unowned, wsum = 0;
	bool by_tokens = true;

	list_for_each(it, &l->served) {
		struct served *s = list_entry(it, struct served, node);
		uint64_t end = s->end_ns ? s->end_ns : b->end_ns;
		uint64_t lo = s->start_ns > b->start_ns ? s->start_ns : b->start_ns;
		uint64_t hi = end < b->end_ns ? end : b->end_ns;

		if (!targets_has(b, s->pid) || hi <= lo)
			continue;
		if (ARRAY_RESERVE(sh, n, cap, 16))
			break;
		sh[n] = (struct share){ s, lo, hi, 0, 0 };
		if (s->tokens > 0 && s->end_ns && end > s->start_ns)
			sh[n].rate = s->tokens / (double)(end - s->start_ns);
		else
			by_tokens = false;
		n++;
	}
	if (!n) {
		free(sh);
		return; /* nobody to share with: it stays the process's */
	}
	for (size_t j = 0; j < b->nspans; j++)
		span_total += (double)(b->spans[j].end - b->spans[j].start);
	unowned = span_total > 0 ? spans_to_requests(b, sh, n, by_tokens) : 0;
	if (unowned < 0) {
		unowned = span_total; /* out of memory: by the interval rule */
		for (size_t i = 0; i < n; i++)
			sh[i].span_ns = 0;
	}
	for (size_t i = 0; i < n; i++)
		wsum += (by_tokens ? sh[i].rate : 1.0) * (double)(sh[i].hi - sh[i].lo);
	for (size_t i = 0; i < n; i++) {
		double g = (by_tokens ? sh[i].rate : 1.0) * (double)(sh[i].hi - sh[i].lo) / wsum;
		/* its fraction of the busy time: attributed, plus its part of the
		 * unowned rest (all of it by the interval rule without spans) */
		double f = span_total > 0 ? (sh[i].span_ns + unowned * g) / span_total : g;

		sh[i].s->cost += b->busy_cost * f + b->idle_cost * g;
		sh[i].s->gpu_s += b->busy_s * f;
		sh[i].s->had_gpu = true;
	}
	free(sh);
}

static bool bucket_ready(struct ledger *l, const struct bucket *b, uint64_t now)
{
	struct list_node *it;

	if (now >= b->end_ns + l->o.max_hold_ns)
		return true;
	list_for_each(it, &l->served) {
		struct served *s = list_entry(it, struct served, node);

		if (!s->end_ns && s->start_ns < b->end_ns && targets_has(b, s->pid))
			return false;
	}
	return true;
}

/* The process's busy spans inside the bucket's interval (a copy). */
static void bucket_spans(struct bucket *b, const struct gpu_span *sp, size_t n)
{
	b->spans = n ? malloc(n * sizeof(*b->spans)) : NULL;
	b->nspans = 0;
	if (!b->spans)
		return; /* shared by the interval rule alone */
	for (size_t i = 0; i < n; i++) {
		uint64_t a = sp[i].start > b->start_ns ? sp[i].start : b->start_ns;
		uint64_t z = sp[i].end < b->end_ns ? sp[i].end : b->end_ns;

		if (z > a)
			b->spans[b->nspans++] = (struct gpu_span){ a, z };
	}
}

static void bucket_push(struct ledger *l, const struct bucket *b)
{
	if (ARRAY_RESERVE(l->buckets, l->nbuckets, l->capbuckets, 16)) {
		free(b->spans);
		return;
	}
	l->buckets[l->nbuckets++] = *b;
}

/* Settle what can be, then write each complete served request whose
 * every interval has been shared out. */
static void served_flush(struct ledger *l, uint64_t now)
{
	struct list_node *it, *next;
	size_t k = 0;

	for (size_t i = 0; i < l->nbuckets; i++) {
		if (bucket_ready(l, &l->buckets[i], now)) {
			bucket_settle(l, &l->buckets[i]);
			free(l->buckets[i].spans);
		} else {
			l->buckets[k++] = l->buckets[i];
		}
	}
	l->nbuckets = k;
	for (it = l->served.next; it != &l->served; it = next) {
		struct served *s = list_entry(it, struct served, node);
		bool wait = false;

		next = it->next;
		if (!s->end_ns) {
			if (now >= s->start_ns + l->o.max_hold_ns)
				served_drop(l, s); /* never finished: forgotten */
			continue;
		}
		if (s->end_ns > l->last_end_ns)
			continue; /* its last interval is not over */
		for (size_t i = 0; i < l->nbuckets && !wait; i++)
			wait = l->buckets[i].start_ns < s->end_ns && targets_has(&l->buckets[i], s->pid);
		if (!wait)
			served_write(l, s);
	}
}

/* ---- accelerator time ---- */

double ledger_split_device(double usd_per_s, double interval_s, const double *busy,
			   const uint64_t *mem, size_t n, double *busy_cost, double *idle_cost)
{
	double total = usd_per_s * interval_s, sum = 0, scale = 1, idle;
	double mem_sum = 0;

	for (size_t i = 0; i < n; i++) {
		sum += busy[i] > 0 ? busy[i] : 0;
		mem_sum += (double)mem[i];
	}
	/* NVML's samples or clock skew may claim more than the interval */
	if (sum > interval_s && sum > 0)
		scale = interval_s / sum;
	idle = total;
	for (size_t i = 0; i < n; i++) {
		busy_cost[i] = (busy[i] > 0 ? busy[i] : 0) * scale * usd_per_s;
		idle -= busy_cost[i];
	}
	if (idle < 0)
		idle = 0;
	for (size_t i = 0; i < n; i++)
		idle_cost[i] = mem_sum > 0 ? idle * (double)mem[i] / mem_sum : 0;
	return mem_sum > 0 ? 0 : idle;
}

static void device_interval(struct ledger *l, uint64_t start_ns, uint64_t end_ns,
			    const struct ledger_device *d, const struct ledger_gpu_proc *procs,
			    size_t np)
{
	double interval_s = (double)(end_ns - start_ns) / 1e9;
	/* zeroed: the compiler cannot see that only the first n are read */
	double busy[1024] = { 0 }, busy_h[1024], idle_h[1024], idle_left_h, price = 0;
	uint64_t mem[1024] = { 0 };
	size_t idx[1024], n = 0;
	struct accel_price ap;
	bool priced;
	const char *resource = d->uuid[0] ? d->uuid : d->name;

	for (size_t i = 0; i < np && n < 1024; i++) {
		if (procs[i].device != d->index)
			continue;
		idx[n] = i;
		busy[n] = procs[i].busy_s;
		mem[n] = procs[i].mem_bytes;
		n++;
	}
	priced = l->prices && prices_accel(l->prices, d->name, l->o.hostname, &ap) == 0;
	if (priced)
		price = ap.usd_per_hour;
	else
		l->st.devices_unpriced++;
	/* the device's hours split among its processes; their cost is hours x
	 * the hourly price (so a device priced at $0 still shows its hours) */
	idle_left_h = ledger_split_device(1.0 / 3600, interval_s, busy, mem, n, busy_h, idle_h);
	for (size_t k = 0; k < n; k++) {
		const struct ledger_gpu_proc *p = &procs[idx[k]];
		const struct workload *w = workload_of(l, p->pid, p->cgroup_id);
		struct pcost *pc = pcost_get(l, p->pid);
		double busy_cost = busy_h[k] * price, idle_cost = idle_h[k] * price;
		uint32_t targets[MAX_TARGETS];
		size_t nt;

		if (pc) {
			pc->gpu = true;
			pc->gpu_priced = priced;
			pc->gpu_cost += busy_cost;
			pc->idle_cost += idle_cost;
			pc->gpu_s += busy[k];
		}
		if (priced) {
			sku_add(l, w, "accelerator", "GPU hours", resource, false, false, price,
				busy_h[k], busy_cost, &ap.ref);
			sku_add(l, w, "accelerator", "GPU idle hours", resource, false, false, price,
				idle_h[k], idle_cost, &ap.ref);
			l->st.list_cost_usd += busy_cost + idle_cost;
		}
		/* an inference server's time goes to the requests it served */
		nt = serving_targets(l, p->pid, start_ns, end_ns, targets);
		if (nt && (busy_cost + idle_cost > 0 || busy[k] > 0)) {
			struct bucket b = { .start_ns = start_ns, .end_ns = end_ns,
					    .busy_cost = busy_cost, .idle_cost = idle_cost,
					    .busy_s = busy[k], .ntargets = nt };

			memcpy(b.targets, targets, nt * sizeof(targets[0]));
			bucket_spans(&b, p->spans, p->nspans);
			bucket_push(l, &b);
		}
	}
	if (priced && idle_left_h > 0) {
		static const struct workload idle = { .name = "idle", .kind = "idle" };

		sku_add(l, &idle, "accelerator", "GPU idle hours", resource, false, false, price,
			idle_left_h, idle_left_h * price, &ap.ref);
		l->st.list_cost_usd += idle_left_h * price;
	}
}

/* Costs no usage record took for a few intervals (the process was evicted
 * from the tracker's table, or never got a record): forget them, so that
 * the table cannot grow without bound. */
static int pcost_stale(void *ctx, uint64_t pid, void *v)
{
	(void)pid;
	return ((struct pcost *)v)->seq + 3 < ((struct ledger *)ctx)->seq;
}

static void pcosts_prune(struct ledger *l)
{
	htab_remove_if(l->pcosts, pcost_stale, l, free);
}

void ledger_interval(struct ledger *l, uint64_t start_ns, uint64_t end_ns,
		     const struct ledger_device *devs, size_t ndev, const struct ledger_gpu_proc *procs,
		     size_t np)
{
	if (end_ns > start_ns)
		for (size_t i = 0; i < ndev; i++)
			device_interval(l, start_ns, end_ns, &devs[i], procs, np);
	for (size_t i = 0; i < l->nrows; i++)
		sku_write(l, &l->rows[i], start_ns, end_ns);
	l->nrows = 0;
	pcosts_prune(l);
	l->seq++;
	l->last_end_ns = end_ns;
	served_flush(l, end_ns);
}

/* SPDX-License-Identifier: MIT */
/*
 * The cost ledger: joins what the agent measured with the price tables.
 *
 *  - API requests a process made: cost from their tokens and the model's
 *    price (cache, reasoning, long-context tier, batch/priority rules in
 *    prices.c), on the request record and summed on the usage record.
 *  - Accelerator time: per interval and device, USD per GPU-second times
 *    each process's busy seconds; the rest of the interval is idle cost,
 *    given to the processes holding device memory (by bytes held), or to an
 *    "idle" bucket when none does. attributed + idle = the device's price
 *    for the interval, always.
 *  - Requests an inference server served: the server's accelerator cost for
 *    an interval (busy and idle share) is split among the requests it was
 *    serving then, by tokens processed in the interval when every request
 *    has a token count, else by overlap time. A served request's record
 *    waits until every interval it overlapped has been shared out.
 *  - FOCUS-shaped `cost` records per interval x workload x SKU.
 */
#ifndef INFERTRACE_LEDGER_H
#define INFERTRACE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "agent/tracker.h"
#include "cost/prices.h"
#include "cost/workload.h"
#include "gpu/gpu.h"
#include "out/jsonl.h"

struct ledger_opts {
	const char *hostname;      /* for per-host accelerator prices and records */
	int64_t mono_to_real_ns;   /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t max_hold_ns;      /* longest a served request or an interval's
				    * GPU cost waits for requests still in
				    * flight (0: 10 minutes) */
	const char *proc_root;     /* "/proc" (parents of processes) */
};

/* A process busy on (or holding memory of) a device in the interval. */
struct ledger_gpu_proc {
	uint32_t pid;
	uint64_t cgroup_id;
	int device;
	double busy_s;
	uint64_t mem_bytes;
	const struct gpu_span *spans;  /* when it was busy (sorted, merged) */
	size_t nspans;
};

struct ledger_device {
	int index;
	char name[96];             /* "NVIDIA H100 80GB HBM3", "cuda:0" */
	char uuid[96];             /* "" when unknown */
};

struct ledger_stats {
	uint64_t requests_priced;
	uint64_t requests_unpriced;   /* inference requests whose model has no price */
	uint64_t devices_unpriced;    /* device-intervals with no accelerator price */
	uint64_t served_held;         /* served requests waiting for their GPU share now */
	uint64_t served_evicted;      /* written early: too many waiting */
	uint64_t write_errors;
	double list_cost_usd;         /* everything priced since the start */
};

struct ledger;

/* prices: owned from now on (may be NULL: everything is unpriced);
 * workloads: borrowed. */
struct ledger *ledger_new(const struct ledger_opts *o, struct price_table *prices,
			  struct workloads *wl, struct jsonl *out);
/* Writes every held request record first. */
void ledger_free(struct ledger *l);

/* Replace the price table (SIGHUP); counters are kept. */
void ledger_set_prices(struct ledger *l, struct price_table *t);

/* Process parentage, for requests served by one process of a server and
 * computed on the GPU by another (vLLM's engine core, TGI's shards). */
void ledger_note_parent(struct ledger *l, uint32_t pid, uint32_t ppid);

/* tracker hooks (see tracker.h) */
void ledger_request_started(struct ledger *l, uint32_t pid, uint64_t id, uint64_t start_ns);
bool ledger_request(struct ledger *l, const struct tracker_request *req, cJSON *rec);
void ledger_proc_fields(struct ledger *l, uint32_t pid, uint64_t cgroup_id, cJSON *rec);
/* The cost fields of pid's usage record for the interval (after
 * ledger_interval); zeroes them for the next one. */
void ledger_usage_fields(struct ledger *l, uint32_t pid, cJSON *rec);

/*
 * The interval [start_ns, end_ns) is over: price each device's time, split
 * it among its processes and the idle bucket, share servers' costs among
 * the requests they served, write `cost` records and the served requests'
 * records that are complete.
 */
void ledger_interval(struct ledger *l, uint64_t start_ns, uint64_t end_ns,
		     const struct ledger_device *devs, size_t ndev, const struct ledger_gpu_proc *procs,
		     size_t np);

/* The agent stops: share every pending interval with what it has and write
 * every complete served request now. */
void ledger_flush(struct ledger *l);

void ledger_get_stats(const struct ledger *l, struct ledger_stats *st);

/* ---- exposed for tests ---- */

/* The cost of one request at the given rates, USD. Fills the parts
 * (input, cache_read, cache_write, output, reasoning) when parts != NULL. */
struct llm_usage;
double ledger_token_cost(const struct token_price *p, const struct llm_usage *u, double parts[5]);

/*
 * Split one device's interval: busy[i] seconds and mem[i] bytes of n
 * processes, interval_s long, at usd_per_s. Fills busy_cost[i] and
 * idle_cost[i]; returns the idle cost no process holds memory for. The
 * parts add up to usd_per_s * interval_s (busy seconds beyond the interval
 * are scaled down to fit).
 */
double ledger_split_device(double usd_per_s, double interval_s, const double *busy,
			   const uint64_t *mem, size_t n, double *busy_cost, double *idle_cost);

#endif

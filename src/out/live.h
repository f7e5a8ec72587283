/* SPDX-License-Identifier: MIT */
/*
 * The agent's live totals, built from the very records it writes (so what
 * `infertrace top` and /metrics show is what the JSON lines say): the agent
 * calls live_observe() for every record; readers on other threads (the
 * Prometheus endpoint, the query socket) take consistent views under the
 * lock inside.
 */
#ifndef INFERTRACE_LIVE_H
#define INFERTRACE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* Label values of one metric family are bounded: beyond this many series a
 * family's new label sets go to one series whose labels are all "_other". */
#define LIVE_MAX_SERIES 2000

struct live;

struct live *live_new(void);
void live_free(struct live *l);

/* One record the agent wrote (request, connection, usage, cost, agent). */
void live_observe(struct live *l, const cJSON *rec);

/*
 * The snapshot the query socket serves (`infertrace top` reads it), as a new
 * JSON object (the caller deletes it):
 *   {"type": "snapshot", "schema_version": 1, "time": RFC 3339,
 *    "agent": {"pid", "version", "started", "interval_s", "events", "lost",
 *              "rss_bytes"},
 *    "totals": {"requests_per_s", "input_tokens_per_s", "output_tokens_per_s",
 *               "cost_per_hour", "cost_total", "requests_total",
 *               "input_tokens_total", "output_tokens_total"},
 *    "devices": [{"device": UUID (NVML) | "cuda:N", "name": NVML's name |
 *                 "cuda:N", "uuid", "busy_pct", "mem_bytes", "cost_per_hour"}],
 *    "processes": [{"pid", "comm", "workload", "models": [..], "providers": [..],
 *                   "device" (as in devices), "device_name",
 *                   "requests_per_s", "input_tokens_per_s",
 *                   "output_tokens_per_s", "bytes_per_s", "gpu_busy_pct",
 *                   "gpu_mem_bytes", "cost_per_hour", "cost_total",
 *                   "requests_total", "last_seen", "exited"}]}
 * Rates are over the last complete interval of each process; totals since
 * the agent started. Processes that exited stay listed (exited: true) for
 * 60 s after their last record.
 */
cJSON *live_snapshot(struct live *l);

/* A sample of a metric family, for the Prometheus exposition. */
struct live_sample {
	const char *const *label_names;
	const char *const *label_values;
	size_t nlabels;
	double value;
};

/*
 * Every metric family, under the lock: fn is called once per family with
 * all its samples. name is the full Prometheus name (infertrace_...); counter
 * is false for gauges. Families (labels):
 *   infertrace_requests_total (workload, provider, model, role=client|server)
 *   infertrace_tokens_total (workload, provider, model, role, type=input|
 *                            output|cache_read|cache_write|reasoning)
 *   infertrace_cost_usd_total (workload, service, sku)   from cost records
 *   infertrace_unpriced_requests_total (workload)
 *   infertrace_gpu_busy_seconds_total (workload, device)   device: the UUID
 *   infertrace_gpu_memory_bytes (workload, device)              gauge
 *                                         (NVML), else the name (cuda:N)
 *   infertrace_bytes_total (workload, direction=sent|received)   TLS and plain HTTP
 *   infertrace_lost_events_total ()
 *   infertrace_ringbuf_events_total ()
 *   infertrace_agent_rss_bytes ()                               gauge
 *   infertrace_series_overflow_total (family)   label sets folded into _other
 */
typedef void (*live_family_fn)(void *ctx, const char *name, const char *help, bool counter,
			       const struct live_sample *samples, size_t n);
void live_each_family(struct live *l, live_family_fn fn, void *ctx);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Per-process and per-connection accounting of captured traffic.
 *
 * The tracker turns data, close and process events into `connection` and
 * `usage` records. It knows nothing of BPF: the agent feeds it events (as do
 * the unit tests and, later, replay benchmarks) and it calls back through
 * tracker_hooks when BPF-side state must be forgotten.
 */
#ifndef INFERTRACE_TRACKER_H
#define INFERTRACE_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "net_event.h"
#include "out/jsonl.h"

struct tracker_opts {
	uint64_t conn_idle_ns;     /* report and forget connections idle this long */
	uint32_t capture_bytes;    /* calls bigger than this are "truncated" */
	int64_t mono_to_real_ns;   /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint32_t max_conns;        /* oldest evicted beyond this */
	uint32_t max_procs;
	uint64_t start_ns;         /* CLOCK_MONOTONIC start of the first interval */
	bool parse_http;           /* turn payloads into requests (src/proto) */
	bool all_requests;         /* a request record for every HTTP exchange, not
				    * only inference APIs */
};

struct llm_call;

/* A finished exchange, as request_extra sees it. */
struct tracker_request {
	uint32_t pid;
	uint64_t cgroup_id;
	uint64_t id;               /* as given to request_started */
	bool served;               /* this process served it (role server) */
	bool is_llm;
	const struct llm_call *llm;
	uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC */
};

struct tracker_hooks {
	void *ctx;
	/* A TLS connection ended: its TLS object may be reused for another. */
	void (*conn_forget)(void *ctx, uint32_t pid, uint64_t conn_id, uint8_t source);
	/* Is there a listening TCP socket on this local port? Decides the role
	 * of connections opened before the agent started. May be NULL. */
	bool (*port_listening)(void *ctx, uint16_t port);
	/* More fields for a usage record (GPU time); returns true when the
	 * process had such activity in the interval. Called once per record.
	 * May be NULL. */
	bool (*usage_extra)(void *ctx, uint32_t pid, cJSON *rec);
	/* An inference request this process serves (role server) started. May
	 * be NULL. id identifies the exchange until request_extra is called
	 * with the same id. */
	void (*request_started)(void *ctx, uint32_t pid, uint64_t id, uint64_t start_ns);
	/* More fields for a request record (cost, workload). Returns true when
	 * it keeps rec and writes it itself later (a served request waiting
	 * for its share of the accelerator time). May be NULL. */
	bool (*request_extra)(void *ctx, const struct tracker_request *req, cJSON *rec);
	/* More fields for any record of a process (its workload). May be NULL. */
	void (*proc_fields)(void *ctx, uint32_t pid, uint64_t cgroup_id, cJSON *rec);
};

struct tracker_stats {
	uint64_t data_events;      /* data records received */
	uint64_t calls;            /* TLS calls and socket syscalls counted */
	uint64_t truncated;        /* calls bigger than --capture-bytes */
	uint64_t conns_evicted;
	uint64_t procs_evicted;
	uint64_t conns_open;
	uint64_t procs;
	uint64_t write_errors;     /* records the output refused */
	uint64_t requests;         /* request records written */
};

struct tracker;

struct tracker *tracker_new(const struct tracker_opts *opts, const struct tracker_hooks *hooks,
			    struct jsonl *out);
void tracker_free(struct tracker *t);

void tracker_data(struct tracker *t, const struct it_data_event *ev);
void tracker_sock_close(struct tracker *t, uint64_t sk, uint64_t ts_ns);
void tracker_proc_exec(struct tracker *t, const struct it_proc_event *ev);
/* Make sure pid gets a usage record this interval (activity seen elsewhere,
 * e.g. on the GPU). */
void tracker_note_proc(struct tracker *t, uint32_t pid, const char *comm, uint64_t cgroup_id,
		       uint64_t ts_ns);
void tracker_proc_exit(struct tracker *t, const struct it_proc_event *ev);

/*
 * Close the interval [start_ns, end_ns) (CLOCK_MONOTONIC): a usage record
 * for every process with activity, connection records for idle ones.
 * final: the agent is stopping; every open connection is reported.
 */
void tracker_interval(struct tracker *t, uint64_t start_ns, uint64_t end_ns, bool final);

void tracker_get_stats(const struct tracker *t, struct tracker_stats *st);
/* The cgroup id last seen for pid, 0 if unknown. */
uint64_t tracker_proc_cgroup(const struct tracker *t, uint32_t pid);

/* "127.0.0.1", "::1"; IPv4-mapped IPv6 shown as IPv4. buf >= 46 bytes. */
void addr_format(uint16_t family, const uint8_t addr[16], char *buf, size_t len);
const char *source_name(uint8_t source); /* "openssl", "gnutls", NULL (plain) */

#endif

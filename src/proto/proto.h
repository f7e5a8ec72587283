/* SPDX-License-Identifier: MIT */
/*
 * Protocol layer entry: the bytes of one connection, both directions, in
 * capture order, turned into HTTP exchanges (http1.c, http2.c).
 *
 * Captures are cut at --capture-bytes per call and ring-buffer records can
 * be lost: every call says how many bytes it moved, so the layer knows
 * exactly where bytes are missing ("gaps"). Body bytes in a gap are counted
 * and the exchange marked truncated; a gap in headers or framing loses the
 * message, and parsing starts again at the next message start.
 */
#ifndef INFERTRACE_PROTO_H
#define INFERTRACE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_event.h"
#include "proto/exchange.h"

/* Called for every finished exchange; x is freed after the call returns. */
typedef void (*proto_exchange_fn)(void *ctx, struct exchange *x);
/* Called when a request's headers are complete (method, path, host and the
 * API known, is_llm set); the same x is later passed to proto_exchange_fn,
 * so its address identifies the exchange in flight. */
typedef void (*proto_start_fn)(void *ctx, const struct exchange *x);

struct proto_stats {
	uint64_t exchanges;       /* exchanges reported */
	uint64_t gaps;            /* stretches of bytes not captured */
	uint64_t gap_bytes;
	uint64_t resyncs;         /* parsing lost and found again */
	uint64_t not_http;        /* connections given up as not HTTP */
	uint64_t orphan_responses;/* responses with no request seen */
	uint64_t body_budget_drops; /* bodies not kept: all bodies held BODY_BYTES_BUDGET */
	uint64_t pending_evicted; /* HTTP/1 requests or HTTP/2 streams over the per-connection bound */
};

/* Requests waiting for a response on one HTTP/1 connection, and open
 * streams on one HTTP/2 connection: beyond these the oldest is reported
 * incomplete (HTTP/1) or new streams are not followed (HTTP/2). */
#define PROTO_MAX_PENDING 64
#define PROTO_MAX_STREAMS 256

/* Global counters, for the agent record. */
extern struct proto_stats proto_stats;

struct proto_conn;

/* role: enum it_role of the traced process on this connection (which
 * direction carries requests); IT_ROLE_UNKNOWN: found from the bytes. */
struct proto_conn *proto_conn_new(uint8_t role, proto_exchange_fn fn, void *ctx);
void proto_conn_free(struct proto_conn *pc);
/* Also report requests as they start (before any data is fed). */
void proto_conn_on_start(struct proto_conn *pc, proto_start_fn fn);

/*
 * One ring-buffer record of a call: dir (enum it_dir), the call's time,
 * its payload chunk at chunk_off, and for the first record of a call
 * (first) the bytes it moved (total) and the capture limit in force.
 */
void proto_conn_data(struct proto_conn *pc, uint8_t dir, uint64_t ts_ns, const uint8_t *data,
		     uint32_t len, uint32_t chunk_off, bool first, uint64_t total,
		     uint32_t capture_bytes);
/* "1.1", "2", or NULL while (or when) the connection is not seen as HTTP. */
const char *proto_conn_version(const struct proto_conn *pc);
/* The agent joined after the connection began: its first captured bytes
 * started no HTTP message. */
bool proto_conn_missed_start(const struct proto_conn *pc);

/* The connection ended: finish what can be finished, report the rest as
 * incomplete. */
void proto_conn_close(struct proto_conn *pc, uint64_t ts_ns);

/* ---- framing layers, used by proto.c ---- */

struct proto_sink {
	proto_exchange_fn fn;
	proto_start_fn start;
	void *ctx;
};

/* Report x (finished or not) and free it. */
void proto_emit(const struct proto_sink *s, struct exchange *x);
/* x's request headers are complete. */
void proto_started(const struct proto_sink *s, const struct exchange *x);

struct h1_conn;
struct h1_conn *h1_new(const struct proto_sink *sink);
void h1_free(struct h1_conn *h);
/* call_start: data begins a new call (a place where a message may start). */
void h1_feed(struct h1_conn *h, bool request, const uint8_t *data, size_t n, uint64_t ts_ns,
	     bool call_start);
void h1_gap(struct h1_conn *h, bool request, uint64_t n);
void h1_close(struct h1_conn *h, uint64_t ts_ns);
/* Does data start like an HTTP/1 request / response? */
bool h1_looks_like_request(const uint8_t *data, size_t n);
bool h1_looks_like_response(const uint8_t *data, size_t n);

struct h2_conn;
struct h2_conn *h2_new(const struct proto_sink *sink);
void h2_free(struct h2_conn *h);
void h2_feed(struct h2_conn *h, bool client, const uint8_t *data, size_t n, uint64_t ts_ns);
void h2_gap(struct h2_conn *h, bool client, uint64_t n);
void h2_close(struct h2_conn *h, uint64_t ts_ns);
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

#endif

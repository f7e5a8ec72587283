/* SPDX-License-Identifier: MIT */
/*
 * One HTTP request/response exchange, whatever the HTTP version: the
 * framing layers (http1.c, http2.c) report headers and body bytes here; the
 * exchange decodes bodies, feeds streamed events and JSON to llm.c, and
 * keeps the sizes and times of a `request` record.
 *
 * Only the headers a record needs are kept (Host, Content-Type,
 * Content-Encoding, provider token-count headers): Authorization, API keys
 * and cookies are never copied anywhere.
 */
#ifndef INFERTRACE_EXCHANGE_H
#define INFERTRACE_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "proto/decode.h"
#include "proto/llm.h"

/* Body bytes kept for JSON parsing; the rest is counted only. */
#define EXCHANGE_BODY_CAP (1u << 20)

enum exchange_outcome {
	OUTCOME_OK = 0,
	OUTCOME_HTTP_ERROR,   /* status >= 400 */
	OUTCOME_INCOMPLETE,   /* connection closed, stream reset or parse lost before the end */
};

struct body {
	enum content_encoding enc;
	struct decoder *dec;
	bool dec_broken;       /* a gap or corrupt input: stop decoding */
	uint64_t wire;         /* bytes as sent (after content coding, without chunk framing) */
	uint64_t decoded;
	char *buf;             /* decoded bytes kept, up to EXCHANGE_BODY_CAP */
	size_t len, alloc;
	bool capped;
};

struct sse_parser;
struct ndjson_parser;
struct awsev_parser;

struct exchange {
	/* request */
	char method[16];
	char path[1024];       /* without the query string */
	char host[256];        /* Host / :authority, without the port */
	int version;           /* 11 or 20 */
	uint64_t req_start_ns, req_end_ns;
	struct body req;
	bool req_done;
	/* response */
	int status;
	int64_t resp_content_length; /* -1: none given */
	uint64_t resp_start_ns, resp_end_ns;
	struct body resp;
	bool resp_headers_done;
	bool resp_done;
	int stream_kind;       /* enum in exchange.c */
	struct sse_parser *sse;
	struct ndjson_parser *ndjson;
	struct awsev_parser *aws;
	uint64_t cur_ts;       /* time of the bytes being fed (for streamed events) */
	uint64_t last_ns;      /* latest byte of the exchange seen: the end of an
				* exchange that did not finish */
	/* what we learnt */
	bool is_llm;
	struct llm_call llm;
	bool truncated;        /* payload bytes were not captured (counted only) */
	bool incomplete;
	bool missed_start;     /* the agent joined the connection after it began */
	uint32_t stream_id;    /* HTTP/2 */
	struct exchange *next; /* HTTP/1 pipeline queue */
};

struct exchange *exchange_new(uint64_t ts_ns, int version);
void exchange_free(struct exchange *x);

/* Request side. Header names compare case-insensitively. */
void exchange_req_header(struct exchange *x, const char *name, size_t nlen, const char *value,
			 size_t vlen);
/* method and path as on the wire (path may carry a query). */
void exchange_req_headers_done(struct exchange *x, const char *method, const char *path,
			       size_t path_len);
void exchange_req_body(struct exchange *x, const uint8_t *data, size_t n);
void exchange_req_end(struct exchange *x, uint64_t ts_ns);

/* Response side. */
void exchange_resp_header(struct exchange *x, const char *name, size_t nlen, const char *value,
			  size_t vlen);
void exchange_resp_headers_done(struct exchange *x, int status, uint64_t ts_ns);
void exchange_resp_body(struct exchange *x, const uint8_t *data, size_t n, uint64_t ts_ns);
void exchange_resp_end(struct exchange *x, uint64_t ts_ns);

/* n body bytes were moved but not captured: count them, stop decoding. */
void exchange_body_gap(struct exchange *x, bool response, uint64_t n);

/* Settle llm.c's view (estimates) before the record is written. */
void exchange_finish(struct exchange *x);
enum exchange_outcome exchange_outcome(const struct exchange *x);
/* Add the request-specific fields of a `request` record (docs/schema.md). */
void exchange_to_json(const struct exchange *x, cJSON *r, int64_t mono_to_real_ns);

#endif

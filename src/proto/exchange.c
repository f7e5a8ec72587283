// SPDX-License-Identifier: MIT
#include "proto/exchange.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "out/jsonl.h"
#include "proto/awsev.h"
#include "proto/proto.h"
#include "proto/sse.h"

/* A streamed event bigger than this is dropped (counted by the parser). */
#define STREAM_EVENT_MAX (256u << 10)

enum stream_kind {
	STREAM_NONE = 0,   /* whole body, parsed as JSON at the end */
	STREAM_SSE,
	STREAM_NDJSON,
	STREAM_AWS,
};

/* Body bytes kept by all exchanges together: past this, bodies are counted
 * but not kept (their usage is then estimated). */
#define BODY_BYTES_BUDGET (256u << 20)
static size_t body_bytes_held;

struct exchange *exchange_new(uint64_t ts_ns, int version)
{
	struct exchange *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->req_start_ns = ts_ns;
	x->last_ns = ts_ns;
	x->cur_ts = ts_ns;
	x->version = version;
	x->resp_content_length = -1;
	llm_call_init(&x->llm);
	return x;
}

static void seen_at(struct exchange *x, uint64_t ts_ns)
{
	if (ts_ns > x->last_ns)
		x->last_ns = ts_ns;
}

static void body_free(struct body *b)
{
	decoder_free(b->dec);
	free(b->buf);
	body_bytes_held -= b->alloc;
}

void exchange_free(struct exchange *x)
{
	if (!x)
		return;
	body_free(&x->req);
	body_free(&x->resp);
	sse_free(x->sse);
	ndjson_free(x->ndjson);
	awsev_free(x->aws);
	free(x);
}

static bool name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

/* Copy a header value, trimmed, NUL-terminated, bounded. */
static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* ---- bodies ---- */

static void body_keep(struct body *b, const uint8_t *data, size_t n)
{
	size_t want, cap;
	char *nb;

	if (b->capped)
		return;
	if (n > EXCHANGE_BODY_CAP - b->len) {
		n = EXCHANGE_BODY_CAP - b->len;
		b->capped = true;
	}
	want = b->len + n + 1;
	if (want > b->alloc) {
		/* grow by doubling from 4 KiB: most bodies are small */
		for (cap = b->alloc ? b->alloc : 4096; cap < want; cap *= 2)
			;
		if (cap > EXCHANGE_BODY_CAP + 1)
			cap = EXCHANGE_BODY_CAP + 1;
		if (body_bytes_held + (cap - b->alloc) > BODY_BYTES_BUDGET) {
			proto_stats.body_budget_drops++;
			b->capped = true;
			return;
		}
		nb = realloc(b->buf, cap);
		if (!nb) {
			b->capped = true;
			return;
		}
		body_bytes_held += cap - b->alloc;
		b->buf = nb;
		b->alloc = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void on_sse_event(void *ctx, const char *event, const char *data, size_t n)
{
	struct exchange *x = ctx;

	llm_on_stream_event(&x->llm, event, data, n, x->cur_ts);
}

static void on_ndjson_line(void *ctx, const char *line, size_t n)
{
	struct exchange *x = ctx;

	llm_on_stream_event(&x->llm, NULL, line, n, x->cur_ts);
}

static void on_aws_message(void *ctx, const struct awsev_msg *m)
{
	struct exchange *x = ctx;

	if (m->message_type && strcmp(m->message_type, "event") != 0)
		return;
	llm_on_stream_event(&x->llm, m->event_type ? m->event_type : "", m->payload,
			    m->payload_len, x->cur_ts);
}

/* Decoded response bytes: to the stream parser, or kept for the end. */
static void resp_decoded(void *ctx, const uint8_t *data, size_t n)
{
	struct exchange *x = ctx;

	x->resp.decoded += n;
	if (!x->is_llm)
		return;
	switch (x->stream_kind) {
	case STREAM_SSE:
		sse_feed(x->sse, data, n);
		break;
	case STREAM_NDJSON:
		ndjson_feed(x->ndjson, data, n);
		break;
	case STREAM_AWS:
		awsev_feed(x->aws, data, n);
		break;
	default:
		body_keep(&x->resp, data, n);
	}
}

static void req_decoded(void *ctx, const uint8_t *data, size_t n)
{
	struct exchange *x = ctx;

	x->req.decoded += n;
	if (x->is_llm)
		body_keep(&x->req, data, n);
}

static void body_feed(struct body *b, const uint8_t *data, size_t n, decode_sink_fn sink, void *ctx)
{
	b->wire += n;
	if (b->dec_broken)
		return;
	if (b->enc == ENC_IDENTITY) {
		sink(ctx, data, n);
		return;
	}
	if (!b->dec) {
		b->dec = decoder_new(b->enc, EXCHANGE_BODY_CAP * 8, sink, ctx);
		if (!b->dec) {
			b->dec_broken = true;
			return;
		}
	}
	if (decoder_feed(b->dec, data, n))
		b->dec_broken = true;
}

static void body_end(struct body *b)
{
	if (b->dec && !b->dec_broken && decoder_finish(b->dec))
		b->dec_broken = true;
}

/* ---- request ---- */

void exchange_req_header(struct exchange *x, const char *name, size_t nlen, const char *value,
			 size_t vlen)
{
	if (name_is(name, nlen, "host") || name_is(name, nlen, ":authority")) {
		char *colon, *end;

		copy_value(x->host, sizeof(x->host), value, vlen);
		/* drop the port; keep an IPv6 literal's brackets intact */
		end = x->host[0] == '[' ? strchr(x->host, ']') : x->host;
		colon = end ? strrchr(end, ':') : NULL;
		if (colon)
			*colon = '\0';
		for (char *p = x->host; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	} else if (name_is(name, nlen, "content-encoding")) {
		x->req.enc = content_encoding_parse(value, vlen);
	}
}

void exchange_req_headers_done(struct exchange *x, const char *method, const char *path,
			       size_t path_len)
{
	char full[2048];
	const char *q;

	copy_value(x->method, sizeof(x->method), method, strlen(method));
	copy_value(full, sizeof(full), path, path_len);
	/* url.path: the query may hold API keys (Gemini's ?key=): never kept */
	q = memchr(full, '?', strlen(full));
	copy_value(x->path, sizeof(x->path), full, q ? (size_t)(q - full) : strlen(full));
	x->is_llm = llm_classify(&x->llm, x->method, x->host, full);
}

void exchange_req_body(struct exchange *x, const uint8_t *data, size_t n)
{
	body_feed(&x->req, data, n, req_decoded, x);
}

void exchange_req_end(struct exchange *x, uint64_t ts_ns)
{
	if (x->req_done)
		return;
	x->req_done = true;
	x->req_end_ns = ts_ns;
	seen_at(x, ts_ns);
	body_end(&x->req);
	if (x->is_llm && x->req.len && !x->req.dec_broken)
		llm_on_request_body(&x->llm, x->req.buf, x->req.len);
}

/* ---- response ---- */

void exchange_resp_header(struct exchange *x, const char *name, size_t nlen, const char *value,
			  size_t vlen)
{
	char v[256], n[64];

	if (name_is(name, nlen, "content-encoding")) {
		x->resp.enc = content_encoding_parse(value, vlen);
		return;
	}
	if (name_is(name, nlen, "content-length")) {
		copy_value(v, sizeof(v), value, vlen);
		x->resp_content_length = v[0] >= '0' && v[0] <= '9' ? strtoll(v, NULL, 10) : -1;
		return;
	}
	if (name_is(name, nlen, "content-type")) {
		copy_value(v, sizeof(v), value, vlen);
		if (strncasecmp(v, "text/event-stream", 17) == 0)
			x->stream_kind = STREAM_SSE;
		else if (strncasecmp(v, "application/x-ndjson", 20) == 0 ||
			 strncasecmp(v, "application/jsonl", 17) == 0)
			x->stream_kind = STREAM_NDJSON;
		else if (strncasecmp(v, "application/vnd.amazon.eventstream", 34) == 0)
			x->stream_kind = STREAM_AWS;
		return;
	}
	/* token counts some providers send as headers (Bedrock); no secret
	 * travels in a response header name starting with x-amzn-bedrock- */
	if (x->is_llm && nlen < sizeof(n) && nlen > 15 && strncasecmp(name, "x-amzn-bedrock-", 15) == 0) {
		copy_value(n, sizeof(n), name, nlen);
		copy_value(v, sizeof(v), value, vlen);
		llm_on_response_header(&x->llm, n, v);
	}
}

void exchange_resp_headers_done(struct exchange *x, int status, uint64_t ts_ns)
{
	x->status = status;
	x->resp_headers_done = true;
	x->resp_start_ns = ts_ns;
	seen_at(x, ts_ns);
	x->cur_ts = ts_ns;
	if (!x->is_llm)
		return;
	switch (x->stream_kind) {
	case STREAM_SSE:
		x->sse = sse_new(STREAM_EVENT_MAX, on_sse_event, x);
		break;
	case STREAM_NDJSON:
		x->ndjson = ndjson_new(STREAM_EVENT_MAX, on_ndjson_line, x);
		break;
	case STREAM_AWS:
		x->aws = awsev_new(STREAM_EVENT_MAX, on_aws_message, x);
		break;
	}
	if ((x->stream_kind == STREAM_SSE && !x->sse) || (x->stream_kind == STREAM_NDJSON && !x->ndjson) ||
	    (x->stream_kind == STREAM_AWS && !x->aws))
		x->stream_kind = STREAM_NONE;
}

void exchange_resp_body(struct exchange *x, const uint8_t *data, size_t n, uint64_t ts_ns)
{
	x->cur_ts = ts_ns;
	seen_at(x, ts_ns);
	body_feed(&x->resp, data, n, resp_decoded, x);
}

void exchange_resp_end(struct exchange *x, uint64_t ts_ns)
{
	if (x->resp_done)
		return;
	x->resp_done = true;
	x->resp_end_ns = ts_ns;
	x->cur_ts = ts_ns;
	body_end(&x->resp);
	if (!x->is_llm)
		return;
	if (x->sse)
		sse_finish(x->sse);
	if (x->ndjson)
		ndjson_finish(x->ndjson);
	if (x->aws)
		awsev_finish(x->aws);
	if (x->stream_kind == STREAM_NONE && !x->resp.dec_broken)
		llm_on_response_body(&x->llm, x->status, x->resp.buf ? x->resp.buf : "", x->resp.len);
}

void exchange_body_gap(struct exchange *x, bool response, uint64_t n)
{
	struct body *b = response ? &x->resp : &x->req;

	b->wire += n;
	b->dec_broken = true;
	x->truncated = true;
}

void exchange_finish(struct exchange *x)
{
	if (x->is_llm)
		llm_finish(&x->llm, x->req.wire, x->resp.wire);
}

enum exchange_outcome exchange_outcome(const struct exchange *x)
{
	if (!x->resp_done || x->incomplete)
		return OUTCOME_INCOMPLETE;
	if (x->status >= 400)
		return OUTCOME_HTTP_ERROR;
	return OUTCOME_OK;
}

static void add_tokens(cJSON *r, const char *key, int64_t v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(r, key, (double)v);
	else
		cJSON_AddNullToObject(r, key);
}

static void add_str_or_null(cJSON *r, const char *key, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(r, key, v);
	else
		cJSON_AddNullToObject(r, key);
}

void exchange_to_json(const struct exchange *x, cJSON *r, int64_t off)
{
	static const char *const outcomes[] = { "ok", "http_error", "incomplete" };
	const struct llm_call *l = &x->llm;
	enum exchange_outcome oc = exchange_outcome(x);
	uint64_t end = x->resp_end_ns ? x->resp_end_ns : x->last_ns;
	char version[8];

	if (!end || end < x->req_start_ns)
		end = x->req_start_ns;
	snprintf(version, sizeof(version), "%s", x->version == 20 ? "2" : "1.1");
	cJSON_AddStringToObject(r, "network.protocol.name", "http");
	cJSON_AddStringToObject(r, "network.protocol.version", version);
	add_str_or_null(r, "http.request.method", x->method);
	add_str_or_null(r, "url.path", x->path);
	if (x->status)
		cJSON_AddNumberToObject(r, "http.response.status_code", x->status);
	else
		cJSON_AddNullToObject(r, "http.response.status_code");
	add_str_or_null(r, "gen_ai.provider.name", l->provider);
	add_str_or_null(r, "gen_ai.operation.name", l->operation);
	add_str_or_null(r, "gen_ai.request.model", l->request_model);
	add_str_or_null(r, "gen_ai.response.model", l->response_model);
	if (l->stream >= 0)
		cJSON_AddBoolToObject(r, "gen_ai.request.stream", l->stream);
	else
		cJSON_AddNullToObject(r, "gen_ai.request.stream");
	add_tokens(r, "gen_ai.usage.input_tokens", l->usage.input_tokens);
	add_tokens(r, "gen_ai.usage.output_tokens", l->usage.output_tokens);
	add_tokens(r, "gen_ai.usage.cache_read.input_tokens", l->usage.cache_read_tokens);
	add_tokens(r, "gen_ai.usage.cache_creation.input_tokens", l->usage.cache_creation_tokens);
	add_tokens(r, "x_cache_creation_1h_input_tokens", l->usage.cache_creation_1h_tokens);
	add_tokens(r, "gen_ai.usage.reasoning.output_tokens", l->usage.reasoning_tokens);
	add_tokens(r, "x_provider_input_tokens", l->usage.raw_input_tokens);
	add_tokens(r, "x_provider_output_tokens", l->usage.raw_output_tokens);
	cJSON_AddStringToObject(r, "x_service_tier", l->service_tier[0] ? l->service_tier : "standard");
	cJSON_AddStringToObject(r, "usage_source", usage_source_name(l->usage_source));
	json_add_time(r, "start_time", (uint64_t)((int64_t)x->req_start_ns + off));
	json_add_time(r, "end_time", (uint64_t)((int64_t)end + off));
	cJSON_AddNumberToObject(r, "duration_s", (double)(end - x->req_start_ns) / 1e9);
	if (l->first_token_ns && l->first_token_ns >= x->req_start_ns)
		cJSON_AddNumberToObject(r, "time_to_first_token_s",
					(double)(l->first_token_ns - x->req_start_ns) / 1e9);
	else
		cJSON_AddNullToObject(r, "time_to_first_token_s");
	json_add_u64(r, "stream_events", l->stream_events);
	json_add_u64(r, "http.request.body.size", x->req.wire);
	json_add_u64(r, "http.response.body.size", x->resp.wire);
	json_add_u64(r, "request_body_decoded_bytes", x->req.decoded);
	json_add_u64(r, "response_body_decoded_bytes", x->resp.decoded);
	if (x->resp.enc != ENC_IDENTITY)
		cJSON_AddStringToObject(r, "http.response.content_encoding",
					content_encoding_name(x->resp.enc));
	else
		cJSON_AddNullToObject(r, "http.response.content_encoding");
	cJSON_AddStringToObject(r, "outcome", outcomes[oc]);
	if (l->error_type[0])
		cJSON_AddStringToObject(r, "error.type", l->error_type);
	else if (oc == OUTCOME_HTTP_ERROR) {
		char code[8];

		snprintf(code, sizeof(code), "%d", x->status);
		cJSON_AddStringToObject(r, "error.type", code);
	}
	cJSON_AddBoolToObject(r, "truncated", x->truncated || x->resp.capped || x->req.capped);
	if (x->missed_start)
		cJSON_AddBoolToObject(r, "missed_start", true);
}

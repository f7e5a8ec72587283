// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: inference API recognition and usage extraction
 * (src/proto/llm.c), called in the order the HTTP layer calls it.
 *
 * Input framing (see tests/fuzz/README.md):
 *
 *   byte 0   bits 0-1  method: POST, "post", GET, NULL
 *            bits 2-3  status: 200, 400, 429, 500
 *            bit  4    streamed: the events go to llm_on_stream_event and
 *                      the response body is not given whole
 *            bit  5    host NULL
 *            bit  6    the response body is also given when streamed
 *            bit  7    body sizes for llm_finish scaled by 4096
 *   byte 1   time step between events, in ms
 *   then fields separated by FUZZ_SEP ("\xff\xfe\xfd\xfc"):
 *     host, path, request body, response headers ("name: value" lines),
 *     response body, then one field per streamed event: "type\ndata" (type
 *     up to 64 bytes; an empty type is NULL, as for an NDJSON line), or
 *     just data for the SSE default type "message".
 *
 * Bodies and event data are exact-size heap copies with a NUL after them, as
 * exchange.c hands them over; define FUZZ_LLM_UNTERMINATED to pass the
 * bodies without the NUL (the interface takes a length). The llm_call is
 * checked after llm_finish against what llm.h promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto/llm.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void check_call(const struct llm_call *c)
{
	const int64_t *f = &c->usage.input_tokens;

	for (int i = 0; i < 7; i++)
		FUZZ_CHECK(f[i] >= -1 && f[i] < (int64_t)1e16, "usage field %d = %lld", i,
			   (long long)f[i]);
	FUZZ_CHECK(c->usage_source <= USAGE_ESTIMATED, "usage_source %d", (int)c->usage_source);
	FUZZ_CHECK(TERMINATED(c->request_model), "request_model");
	FUZZ_CHECK(TERMINATED(c->response_model), "response_model");
	FUZZ_CHECK(TERMINATED(c->error_type), "error_type");
	FUZZ_CHECK(c->stream >= -1 && c->stream <= 1, "stream %d", c->stream);
	if (c->usage_source == USAGE_PROVIDER)
		FUZZ_CHECK(c->usage.raw_input_tokens >= 0, "provider usage without raw input");
	for (const char *p = c->response_model; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "control char in response_model");
	for (const char *p = c->request_model; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "control char in request_model");
	if (c->api) {
		FUZZ_CHECK(c->provider && c->provider[0], "api without provider");
		FUZZ_CHECK(c->operation && c->operation[0], "api without operation");
	} else {
		FUZZ_CHECK(c->usage_source == USAGE_MISSING, "no api but usage %d",
			   (int)c->usage_source);
	}
	FUZZ_CHECK(usage_source_name(c->usage_source) != NULL, "usage_source_name");
}

/* A body as the caller hands it: terminated (exchange.c) or not. */
static char *body_copy(const uint8_t *p, size_t n)
{
#ifdef FUZZ_LLM_UNTERMINATED
	return (char *)fuzz_memdup(p, n);
#else
	return fuzz_strndup(p, n);
#endif
}

/* "name: value" lines, each to llm_on_response_header (as exchange.c trims). */
static void headers(struct llm_call *c, const uint8_t *p, size_t n)
{
	while (n) {
		const uint8_t *eol = memchr(p, '\n', n);
		size_t ll = eol ? (size_t)(eol - p) : n;
		const uint8_t *colon = memchr(p, ':', ll);

		if (colon) {
			const uint8_t *v = colon + 1;
			size_t vl = ll - (size_t)(v - p);
			char *name, *value;

			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			name = fuzz_strndup(p, (size_t)(colon - p));
			value = fuzz_strndup(v, vl);
			llm_on_response_header(c, name, value);
			free(name);
			free(value);
		}
		if (!eol)
			break;
		n -= ll + 1;
		p = eol + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "POST", "post", "GET", NULL };
	static const int statuses[] = { 200, 400, 429, 500 };
	struct fuzz_reader rd;
	struct llm_call c;
	const uint8_t *f[5] = { 0 };
	size_t fl[5] = { 0 };
	uint8_t flags, step;
	char *host, *path, *body;
	const uint8_t *ev;
	size_t evl;
	uint64_t ts = 5000000000ull, req_bytes, resp_bytes;
	bool streamed;
	int status;

	if (size < 2)
		return 0;
	flags = data[0];
	step = data[1];
	status = statuses[(flags >> 2) & 3];
	streamed = flags & 0x10;
	fuzz_reader_init(&rd, data + 2, size - 2);
	for (int i = 0; i < 5; i++)
		if (!fuzz_next(&rd, &f[i], &fl[i]))
			break;

	host = fuzz_strndup(f[0], fl[0]);
	path = fuzz_strndup(f[1], fl[1]);
	llm_call_init(&c);
	llm_classify(&c, methods[flags & 3], flags & 0x20 ? NULL : host, path);
	free(host);
	free(path);

	if (f[2]) {
		body = body_copy(f[2], fl[2]);
		llm_on_request_body(&c, body, fl[2]);
		free(body);
	}
	if (f[3])
		headers(&c, f[3], fl[3]);
	if (streamed) {
		while (fuzz_next(&rd, &ev, &evl)) {
			const uint8_t *nl = memchr(ev, '\n', evl < 65 ? evl : 65);
			char *type = NULL, *d;
			const char *event = "message";

			if (nl) {
				type = fuzz_strndup(ev, (size_t)(nl - ev));
				event = type[0] ? type : NULL;
				evl -= (size_t)(nl - ev) + 1;
				ev = nl + 1;
			}
			d = fuzz_strndup(ev, evl);
			ts += (uint64_t)step * 1000000;
			llm_on_stream_event(&c, event, d, evl, ts);
			free(d);
			free(type);
		}
	}
	if (f[4] && (!streamed || flags & 0x40)) {
		body = body_copy(f[4], fl[4]);
		llm_on_response_body(&c, status, body, fl[4]);
		free(body);
	}
	req_bytes = fl[2];
	resp_bytes = fl[4];
	if (flags & 0x80) {
		req_bytes *= 4096;
		resp_bytes *= 4096;
	}
	llm_finish(&c, req_bytes, resp_bytes);
	check_call(&c);
	return 0;
}

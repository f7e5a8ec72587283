// SPDX-License-Identifier: MIT
/*
 * The protocol layer (src/proto/proto.c, http1.c, http2.c, exchange.c) fed
 * crafted byte streams the way the agent delivers them: one
 * proto_conn_data per ring-buffer record, i.e. per TLS call or socket
 * syscall, cut at the capture limit and split in records of at most
 * IT_CHUNK_BYTES. Every exchange the layer reports is copied and checked.
 *
 * Tests named test_BUG_* show behaviour of src/ that looks wrong; each has a
 * comment saying what is expected and why. They stay in the suite (they fail,
 * or make valgrind fail, until src/ is fixed); TEST_HTTP_SKIP_BUGS=1 in the
 * environment skips them. Tests whose comment starts "Regression" were BUG
 * tests once and pass since the fix they name. TEST_HTTP_VERBOSE=1 prints
 * some connections' exchanges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "net_event.h"
#include "proto/proto.h"

#define MS 1000000ULL
#define T(n) (1000 * MS + (uint64_t)(n) * MS) /* call times */

/* Put in every secret-bearing header: must never reach struct exchange. */
#define SECRET "zqSECRETq7Xv9"

/* ------------------------------------------------------------------------ */
/* what the callback saw                                                     */

struct seen {
	char method[16], path[1024], host[256];
	int version, status;
	uint64_t req_start, req_end, resp_start, resp_end;
	uint64_t last_ns; /* latest byte seen (the end of an unfinished exchange) */
	uint64_t req_wire, req_dec, resp_wire, resp_dec;
	int resp_enc;
	int64_t resp_content_length;
	bool truncated, incomplete, req_done, resp_done;
	enum exchange_outcome outcome;
	bool is_llm;
	char provider[64], operation[32], req_model[128], resp_model[128];
	int stream;
	struct llm_usage usage;
	enum usage_source usage_source;
	uint64_t first_token_ns, stream_events;
	uint32_t stream_id;
	char error_type[64];
	bool secret_found;
};

#define SEEN_MAX 320

struct coll {
	struct seen x[SEEN_MAX];
	int n;
	int overflow;
};

static bool has_secret(const void *p, size_t n)
{
	return p && n && memmem(p, n, SECRET, strlen(SECRET)) != NULL;
}

static void on_exchange(void *ctx, struct exchange *x)
{
	struct coll *c = ctx;
	struct seen *s;

	if (c->n >= SEEN_MAX) {
		c->overflow++;
		return;
	}
	s = &c->x[c->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->method, sizeof(s->method), "%s", x->method);
	snprintf(s->path, sizeof(s->path), "%s", x->path);
	snprintf(s->host, sizeof(s->host), "%s", x->host);
	s->version = x->version;
	s->status = x->status;
	s->req_start = x->req_start_ns;
	s->req_end = x->req_end_ns;
	s->resp_start = x->resp_start_ns;
	s->resp_end = x->resp_end_ns;
	s->last_ns = x->last_ns;
	s->req_wire = x->req.wire;
	s->req_dec = x->req.decoded;
	s->resp_wire = x->resp.wire;
	s->resp_dec = x->resp.decoded;
	s->resp_enc = x->resp.enc;
	s->resp_content_length = x->resp_content_length;
	s->truncated = x->truncated;
	s->incomplete = x->incomplete;
	s->req_done = x->req_done;
	s->resp_done = x->resp_done;
	s->outcome = exchange_outcome(x);
	s->is_llm = x->is_llm;
	snprintf(s->provider, sizeof(s->provider), "%s", x->llm.provider ? x->llm.provider : "");
	snprintf(s->operation, sizeof(s->operation), "%s", x->llm.operation ? x->llm.operation : "");
	snprintf(s->req_model, sizeof(s->req_model), "%s", x->llm.request_model);
	snprintf(s->resp_model, sizeof(s->resp_model), "%s", x->llm.response_model);
	s->stream = x->llm.stream;
	s->usage = x->llm.usage;
	s->usage_source = x->llm.usage_source;
	s->first_token_ns = x->llm.first_token_ns;
	s->stream_events = x->llm.stream_events;
	s->stream_id = x->stream_id;
	snprintf(s->error_type, sizeof(s->error_type), "%s", x->llm.error_type);
	/* the struct itself and the body bytes it keeps */
	s->secret_found = has_secret(x, sizeof(*x)) || has_secret(x->req.buf, x->req.len) ||
			  has_secret(x->resp.buf, x->resp.len);
}

/* ------------------------------------------------------------------------ */
/* the agent's delivery of calls                                             */

struct drv {
	struct proto_conn *pc;
	struct coll col;
	uint32_t capture;
};

static struct drv *drv_new(uint8_t role)
{
	struct drv *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->capture = IT_CAPTURE_DEFAULT;
	d->pc = proto_conn_new(role, on_exchange, &d->col);
	assert_non_null(d->pc);
	return d;
}

/* TEST_HTTP_VERBOSE=1: print what a connection reported. */
static void dump(const struct drv *d, const char *what)
{
	const char *e = getenv("TEST_HTTP_VERBOSE");

	if (!e || !*e)
		return;
	print_message("  %s: %d exchange(s)\n", what, d->col.n);
	for (int i = 0; i < d->col.n; i++) {
		const struct seen *s = &d->col.x[i];

		print_message("   [%d] %s %s host=%s status=%d outcome=%d incomplete=%d truncated=%d "
			      "req %llu/%llu resp %llu/%llu stream_id=%u provider=%s in=%lld out=%lld\n",
			      i, s->method, s->path, s->host, s->status, s->outcome, s->incomplete,
			      s->truncated, (unsigned long long)s->req_wire,
			      (unsigned long long)s->req_dec, (unsigned long long)s->resp_wire,
			      (unsigned long long)s->resp_dec, s->stream_id, s->provider,
			      (long long)s->usage.input_tokens, (long long)s->usage.output_tokens);
	}
}

static void drv_close(struct drv *d, uint64_t ts)
{
	if (d->pc) {
		proto_conn_close(d->pc, ts);
		proto_conn_free(d->pc);
		d->pc = NULL;
	}
}

static void drv_free(struct drv *d)
{
	if (d->pc)
		proto_conn_free(d->pc);
	free(d);
}

/*
 * One call that moved `total` bytes, of which data[0..len) are the first
 * (the payload the probe could read): captured up to the capture limit, in
 * records of at most IT_CHUNK_BYTES. lost_mask: bit i set = record i lost
 * (the first record is never lost here: a call whose first record is lost
 * is not seen at all).
 */
static void call_ex(struct drv *d, uint8_t dir, uint64_t ts, const void *data, size_t len,
		    uint64_t total, unsigned lost_mask)
{
	size_t cap = total < d->capture ? (size_t)total : d->capture;
	size_t off = 0;
	unsigned i = 0;

	if (cap > len)
		cap = len;
	do {
		size_t n = cap - off > IT_CHUNK_BYTES ? IT_CHUNK_BYTES : cap - off;

		if (!(lost_mask & (1u << i)) || i == 0)
			proto_conn_data(d->pc, dir, ts, (const uint8_t *)data + off, (uint32_t)n,
					(uint32_t)off, i == 0, total, d->capture);
		off += n;
		i++;
	} while (off < cap);
}

static void call(struct drv *d, uint8_t dir, uint64_t ts, const void *data, size_t len)
{
	call_ex(d, dir, ts, data, len, len, 0);
}

static void calls(struct drv *d, uint8_t dir, uint64_t ts, const char *s)
{
	call(d, dir, ts, s, strlen(s));
}

#define SEND(d, ts, s) calls((d), IT_DIR_SEND, (ts), (s))
#define RECV(d, ts, s) calls((d), IT_DIR_RECV, (ts), (s))

static bool skip_bugs(void)
{
	const char *e = getenv("TEST_HTTP_SKIP_BUGS");

	return e && *e && strcmp(e, "0") != 0;
}

#define BUG_TEST()                                                   \
	do {                                                         \
		if (skip_bugs()) {                                   \
			print_message("  (known src bug: skipped)\n"); \
			skip();                                      \
		}                                                    \
	} while (0)

/* A growing byte buffer. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[65536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	buf_add(b, tmp, (size_t)n);
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A chunk of a chunked body. */
static void buf_chunk(struct buf *b, const char *data)
{
	buf_printf(b, "%zx\r\n%s\r\n", strlen(data), data);
}

static void assert_times(const struct seen *s, uint64_t req_start, uint64_t req_end,
			 uint64_t resp_start, uint64_t resp_end)
{
	if (s->req_start != req_start || s->req_end != req_end || s->resp_start != resp_start ||
	    s->resp_end != resp_end)
		fail_msg("times: expected req %llu..%llu resp %llu..%llu, got req %llu..%llu resp "
			 "%llu..%llu (ms since T(0): req %lld..%lld resp %lld..%lld)",
			 (unsigned long long)req_start, (unsigned long long)req_end,
			 (unsigned long long)resp_start, (unsigned long long)resp_end,
			 (unsigned long long)s->req_start, (unsigned long long)s->req_end,
			 (unsigned long long)s->resp_start, (unsigned long long)s->resp_end,
			 (long long)(s->req_start - T(0)) / (long long)MS,
			 (long long)(s->req_end - T(0)) / (long long)MS,
			 (long long)(s->resp_start - T(0)) / (long long)MS,
			 (long long)(s->resp_end - T(0)) / (long long)MS);
}

static void assert_sizes(const struct seen *s, uint64_t req_wire, uint64_t req_dec,
			 uint64_t resp_wire, uint64_t resp_dec)
{
	if (s->req_wire != req_wire || s->req_dec != req_dec || s->resp_wire != resp_wire ||
	    s->resp_dec != resp_dec)
		fail_msg("body sizes: expected req %llu/%llu resp %llu/%llu (wire/decoded), got req "
			 "%llu/%llu resp %llu/%llu",
			 (unsigned long long)req_wire, (unsigned long long)req_dec,
			 (unsigned long long)resp_wire, (unsigned long long)resp_dec,
			 (unsigned long long)s->req_wire, (unsigned long long)s->req_dec,
			 (unsigned long long)s->resp_wire, (unsigned long long)s->resp_dec);
}

static void assert_tokens(const struct seen *s, int64_t in, int64_t out, enum usage_source src)
{
	if (s->usage.input_tokens != in || s->usage.output_tokens != out || s->usage_source != src)
		fail_msg("tokens: expected in %lld out %lld source %s, got in %lld out %lld source %s",
			 (long long)in, (long long)out, usage_source_name(src),
			 (long long)s->usage.input_tokens, (long long)s->usage.output_tokens,
			 usage_source_name(s->usage_source));
}

static void assert_exchange(const struct seen *s, const char *method, const char *path,
			    const char *host, int status, enum exchange_outcome oc)
{
	assert_string_equal(s->method, method);
	assert_string_equal(s->path, path);
	assert_string_equal(s->host, host);
	assert_int_equal(s->status, status);
	if (s->outcome != oc)
		fail_msg("outcome: expected %d got %d (incomplete %d, resp_done %d, status %d)", oc,
			 s->outcome, s->incomplete, s->resp_done, s->status);
	assert_false(s->secret_found);
}

/* ------------------------------------------------------------------------ */
/* OpenAI-shaped bodies                                                      */

static const char OAI_REQ[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
	"{\"role\":\"user\",\"content\":\"Say hello.\"}],\"temperature\":0}";
static const char OAI_REQ_STREAM[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}],"
	"\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
static const char OAI_RESP[] =
	"{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion\",\"created\":1700000000,"
	"\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	"\"assistant\",\"content\":\"Hello.\",\"refusal\":null},\"logprobs\":null,"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":3,"
	"\"total_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
	"\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
	"\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
	"\"service_tier\":\"default\",\"system_fingerprint\":\"fp_0ba0d124f1\"}";

#define CHUNK_HEAD                                                                            \
	"{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
	"\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\","
static const char *const OAI_EVENTS[] = {
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
		   "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,"
		   "\"finish_reason\":null}],\"usage\":null}",
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo.\"},\"logprobs\":null,"
		   "\"finish_reason\":null}],\"usage\":null}",
	CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
		   "\"stop\"}],\"usage\":null}",
	CHUNK_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":13,\"completion_tokens\":2,"
		   "\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":0},"
		   "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
	"[DONE]",
};
#define N_OAI_EVENTS (sizeof(OAI_EVENTS) / sizeof(OAI_EVENTS[0]))

/* ------------------------------------------------------------------------ */
/* HTTP/1.1                                                                  */

static void test_h1_content_length(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	const struct seen *s;

	(void)state;
	/* headers and body in separate calls, both ways */
	SEND(d, T(1), "POST /upload/file?token=abc&x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\n"
		      "User-Agent: t/1\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n");
	SEND(d, T(2), "hello world");
	assert_int_equal(d->col.n, 0);
	RECV(d, T(3), "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n");
	assert_int_equal(d->col.n, 0);
	RECV(d, T(4), "hello");
	/* reported as soon as the response ends, not at close */
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(9));
	assert_int_equal(d->col.n, 1);

	s = &d->col.x[0];
	assert_exchange(s, "POST", "/upload/file", "example.com", 201, OUTCOME_OK);
	assert_int_equal(s->version, 11);
	assert_sizes(s, 11, 11, 5, 5);
	assert_times(s, T(1), T(2), T(3), T(4));
	assert_false(s->truncated);
	assert_false(s->incomplete);
	assert_false(s->is_llm);
	drv_free(d);
}

static void test_h1_chunked_ext_trailers(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	const struct seen *s;

	(void)state;
	/* a chunked request with a chunk extension and an empty trailer section */
	SEND(d, T(1), "PUT /obj HTTP/1.1\r\nHost: store.local\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "3;name=val\r\nabc\r\n");
	SEND(d, T(2), "4\r\ndefg\r\n0\r\n\r\n");
	/* chunk size lines with extensions, data split from its size line, trailers */
	RECV(d, T(3), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
		      "5;ext=1;q=\"quoted\"\r\n");
	RECV(d, T(4), "hello\r\n7;x\r\n, w");
	RECV(d, T(5), "orld\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\n");
	assert_int_equal(d->col.n, 0);
	RECV(d, T(6), "X-Checksum: 1234\r\nX-Other: yes\r\n\r\n");
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(9));

	s = &d->col.x[0];
	assert_exchange(s, "PUT", "/obj", "store.local", 200, OUTCOME_OK);
	assert_sizes(s, 7, 7, 5 + 7 + 26, 5 + 7 + 26);
	assert_times(s, T(1), T(2), T(3), T(6));
	assert_false(s->truncated);
	drv_free(d);
}

static void test_h1_keepalive_three(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);

	(void)state;
	SEND(d, T(1), "GET /a HTTP/1.1\r\nHost: h.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
	assert_int_equal(d->col.n, 1);
	SEND(d, T(3), "GET /b?q=1 HTTP/1.1\r\nHost: h.example\r\n\r\n");
	RECV(d, T(4), "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
	assert_int_equal(d->col.n, 2);
	SEND(d, T(5), "DELETE /c HTTP/1.1\r\nHost: h.example\r\nContent-Length: 0\r\n\r\n");
	RECV(d, T(6), "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(d->col.n, 3);
	drv_close(d, T(7));
	assert_int_equal(d->col.n, 3);

	assert_exchange(&d->col.x[0], "GET", "/a", "h.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 0, 0, 1, 1);
	assert_times(&d->col.x[0], T(1), T(1), T(2), T(2));
	assert_exchange(&d->col.x[1], "GET", "/b", "h.example", 404, OUTCOME_HTTP_ERROR);
	assert_sizes(&d->col.x[1], 0, 0, 9, 9);
	assert_times(&d->col.x[1], T(3), T(3), T(4), T(4));
	assert_exchange(&d->col.x[2], "DELETE", "/c", "h.example", 500, OUTCOME_HTTP_ERROR);
	assert_sizes(&d->col.x[2], 0, 0, 0, 0);
	assert_times(&d->col.x[2], T(5), T(5), T(6), T(6));
	drv_free(d);
}

static void test_h1_pipelining(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);

	(void)state;
	SEND(d, T(1), "GET /one HTTP/1.1\r\nHost: p.example\r\n\r\n"
		      "POST /two HTTP/1.1\r\nHost: p.example\r\nContent-Length: 3\r\n\r\nxyz");
	assert_int_equal(d->col.n, 0);
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
		      "HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\ntwo!!");
	assert_int_equal(d->col.n, 2);
	drv_close(d, T(3));
	assert_int_equal(d->col.n, 2);

	/* in order, each response with its request */
	assert_exchange(&d->col.x[0], "GET", "/one", "p.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 0, 0, 3, 3);
	assert_times(&d->col.x[0], T(1), T(1), T(2), T(2));
	assert_exchange(&d->col.x[1], "POST", "/two", "p.example", 202, OUTCOME_OK);
	assert_sizes(&d->col.x[1], 3, 3, 5, 5);
	assert_times(&d->col.x[1], T(1), T(1), T(2), T(2));
	drv_free(d);
}

/* Request and response one byte per call, call i at T(100 + i). */
static void byte_by_byte(struct drv *d, uint64_t *req_first, uint64_t *req_last,
			 uint64_t *resp_hdr_end, uint64_t *resp_last)
{
	static const char req[] = "POST /bytes HTTP/1.1\r\nHost: b.example\r\nContent-Length: 4\r\n\r\n"
				  "abcd";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	size_t i;
	uint64_t ts = T(100);

	*req_first = ts;
	for (i = 0; i < sizeof(req) - 1; i++)
		call(d, IT_DIR_SEND, ts++, req + i, 1);
	*req_last = ts - 1;
	for (i = 0; i < sizeof(resp) - 1; i++) {
		if (i == sizeof(resp) - 1 - 2)
			*resp_hdr_end = ts - 1; /* the call with the last '\n' of the headers */
		call(d, IT_DIR_RECV, ts++, resp + i, 1);
	}
	*resp_last = ts - 1;
}

static void test_h1_byte_by_byte(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	uint64_t a, b, c, e;

	(void)state;
	/* the connection is known to be HTTP/1 from a first exchange */
	SEND(d, T(1), "GET /first HTTP/1.1\r\nHost: b.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(d->col.n, 1);
	byte_by_byte(d, &a, &b, &c, &e);
	assert_int_equal(d->col.n, 2);
	drv_close(d, T(1000));
	assert_int_equal(d->col.n, 2);

	assert_exchange(&d->col.x[0], "GET", "/first", "b.example", 204, OUTCOME_OK);
	assert_exchange(&d->col.x[1], "POST", "/bytes", "b.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[1], 4, 4, 2, 2);
	assert_times(&d->col.x[1], a, b, c, e);
	drv_free(d);
}

/*
 * Regression (fixed in f685d58, src/proto/proto.c feed_unknown): the
 * protocol was only recognised when one call started with a whole method
 * token plus space ("POST ") or "HTTP/1.": a first request written in small
 * pieces (here one byte per call) was never recognised, and after 16 calls
 * the connection was given up as not HTTP.
 */
static void test_h1_byte_by_byte_first_request(void **state)
{
	struct drv *d;
	uint64_t a, b, c, e;

	(void)state;
	d = drv_new(IT_ROLE_CLIENT);
	byte_by_byte(d, &a, &b, &c, &e);
	SEND(d, T(500), "GET /after HTTP/1.1\r\nHost: b.example\r\n\r\n");
	RECV(d, T(501), "HTTP/1.1 204 No Content\r\n\r\n");
	drv_close(d, T(1000));
	if (d->col.n != 2) {
		int n = d->col.n;

		drv_free(d);
		fail_msg("byte-by-byte first request: expected 2 exchanges (/bytes, /after), got %d",
			 n);
	}
	assert_exchange(&d->col.x[0], "POST", "/bytes", "b.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 4, 4, 2, 2);
	assert_times(&d->col.x[0], a, b, c, e);
	drv_free(d);
}

static void test_h1_head(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);

	(void)state;
	SEND(d, T(1), "HEAD /big.iso HTTP/1.1\r\nHost: dl.example\r\n\r\n");
	/* Content-Length of the entity, no body follows */
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 123456\r\nContent-Type: application/x-iso9660-image\r\n\r\n");
	assert_int_equal(d->col.n, 1);
	SEND(d, T(3), "GET /small HTTP/1.1\r\nHost: dl.example\r\n\r\n");
	RECV(d, T(4), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(d->col.n, 2);
	drv_close(d, T(5));
	assert_int_equal(d->col.n, 2);

	assert_exchange(&d->col.x[0], "HEAD", "/big.iso", "dl.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 0, 0, 0, 0);
	assert_times(&d->col.x[0], T(1), T(1), T(2), T(2));
	assert_false(d->col.x[0].truncated);
	assert_exchange(&d->col.x[1], "GET", "/small", "dl.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[1], 0, 0, 2, 2);
	drv_free(d);

	/* HEAD and GET pipelined, both responses in one read */
	d = drv_new(IT_ROLE_CLIENT);
	SEND(d, T(1), "HEAD /h HTTP/1.1\r\nHost: dl.example\r\n\r\nGET /g HTTP/1.1\r\nHost: dl.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
		      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(d->col.n, 2);
	drv_close(d, T(3));
	assert_exchange(&d->col.x[0], "HEAD", "/h", "dl.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 0, 0, 0, 0);
	assert_exchange(&d->col.x[1], "GET", "/g", "dl.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[1], 0, 0, 3, 3);
	drv_free(d);
}

static void test_h1_100_continue(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);

	(void)state;
	SEND(d, T(1), "POST /up HTTP/1.1\r\nHost: c.example\r\nContent-Length: 6\r\n"
		      "Expect: 100-continue\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(d->col.n, 0);
	SEND(d, T(3), "123456");
	RECV(d, T(4), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
	assert_int_equal(d->col.n, 1);
	/* again, with the interim and the final response in one call (and 103) */
	SEND(d, T(5), "POST /up2 HTTP/1.1\r\nHost: c.example\r\nContent-Length: 2\r\n\r\nab");
	RECV(d, T(6), "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
		      "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew");
	assert_int_equal(d->col.n, 2);
	drv_close(d, T(9));
	assert_int_equal(d->col.n, 2);

	assert_exchange(&d->col.x[0], "POST", "/up", "c.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 6, 6, 4, 4);
	assert_times(&d->col.x[0], T(1), T(3), T(4), T(4));
	assert_exchange(&d->col.x[1], "POST", "/up2", "c.example", 201, OUTCOME_OK);
	assert_sizes(&d->col.x[1], 2, 2, 3, 3);
	assert_times(&d->col.x[1], T(5), T(5), T(6), T(6));
	drv_free(d);
}

static void test_h1_close_delimited(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	const struct seen *s;

	(void)state;
	SEND(d, T(1), "GET /legacy HTTP/1.1\r\nHost: old.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nabc");
	RECV(d, T(3), "defgh");
	assert_int_equal(d->col.n, 0);
	drv_close(d, T(4));
	assert_int_equal(d->col.n, 1);

	s = &d->col.x[0];
	/* the end of the connection is the end of this body: complete */
	assert_exchange(s, "GET", "/legacy", "old.example", 200, OUTCOME_OK);
	assert_sizes(s, 0, 0, 8, 8);
	assert_times(s, T(1), T(1), T(2), T(4));
	assert_false(s->incomplete);
	assert_false(s->truncated);
	drv_free(d);
}

static void test_h1_close_mid_body(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	const struct seen *s;

	(void)state;
	SEND(d, T(1), "GET /cut HTTP/1.1\r\nHost: x.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd");
	drv_close(d, T(3));
	assert_int_equal(d->col.n, 1);
	s = &d->col.x[0];
	assert_exchange(s, "GET", "/cut", "x.example", 200, OUTCOME_INCOMPLETE);
	assert_true(s->incomplete);
	assert_false(s->truncated); /* nothing was missed: the connection ended */
	/* not finished: it ends at its last byte seen, not at the close */
	assert_int_equal(s->resp_end, 0);
	assert_int_equal(s->last_ns, T(2));
	assert_sizes(s, 0, 0, 4, 4);
	drv_free(d);
}

/* An OpenAI chat call, non-streamed, Content-Length response. */
static void openai_chat(const char *host_hdr, const char *host, const char *provider)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	const struct seen *s;

	buf_printf(&b, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\n"
		       "Authorization: Bearer sk-proj-" SECRET "\r\nContent-Type: application/json\r\n"
		       "Accept: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		   host_hdr, strlen(OAI_REQ), OAI_REQ);
	call(d, IT_DIR_SEND, T(1), b.p, b.len);
	buf_reset(&b);
	buf_printf(&b, "HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		       "openai-processing-ms: 312\r\nx-request-id: req_1\r\n\r\n",
		   strlen(OAI_RESP));
	call(d, IT_DIR_RECV, T(5), b.p, b.len);
	call(d, IT_DIR_RECV, T(6), OAI_RESP, strlen(OAI_RESP));
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(9));
	assert_int_equal(d->col.n, 1);

	s = &d->col.x[0];
	assert_exchange(s, "POST", "/v1/chat/completions", host, 200, OUTCOME_OK);
	assert_true(s->is_llm);
	assert_string_equal(s->provider, provider);
	assert_string_equal(s->operation, "chat");
	assert_string_equal(s->req_model, "gpt-4o-mini");
	assert_string_equal(s->resp_model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(s->stream, 0);
	assert_tokens(s, 19, 3, USAGE_PROVIDER);
	assert_int_equal(s->usage.raw_input_tokens, 19);
	assert_int_equal(s->usage.raw_output_tokens, 3);
	assert_int_equal(s->first_token_ns, 0);
	assert_int_equal(s->stream_events, 0);
	assert_sizes(s, strlen(OAI_REQ), strlen(OAI_REQ), strlen(OAI_RESP), strlen(OAI_RESP));
	assert_times(s, T(1), T(1), T(5), T(6));
	assert_false(s->truncated);
	buf_free(&b);
	drv_free(d);
}

static void test_h1_openai_chat(void **state)
{
	(void)state;
	openai_chat("api.openai.com", "api.openai.com", "openai");
	openai_chat("api.openai.com:443", "api.openai.com", "openai");
	openai_chat("127.0.0.1:8000", "127.0.0.1", "openai_compatible");
}

/* A streamed OpenAI chat call: every SSE event in its own read, chunked. */
static void openai_sse(const char *host_hdr, const char *host, const char *provider)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 }, ev = { 0 };
	const struct seen *s;
	uint64_t resp_wire = 0;

	buf_printf(&b, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\n"
		       "Authorization: Bearer " SECRET "\r\nContent-Type: application/json\r\n"
		       "Accept: text/event-stream\r\nContent-Length: %zu\r\n\r\n",
		   host_hdr, strlen(OAI_REQ_STREAM));
	call(d, IT_DIR_SEND, T(1), b.p, b.len);
	call(d, IT_DIR_SEND, T(2), OAI_REQ_STREAM, strlen(OAI_REQ_STREAM));
	RECV(d, T(10), "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
		       "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n");
	for (size_t i = 0; i < N_OAI_EVENTS; i++) {
		buf_reset(&ev);
		buf_printf(&ev, "data: %s\n\n", OAI_EVENTS[i]);
		resp_wire += ev.len;
		buf_reset(&b);
		buf_chunk(&b, (const char *)ev.p);
		call(d, IT_DIR_RECV, T(11 + i), b.p, b.len);
	}
	assert_int_equal(d->col.n, 0);
	RECV(d, T(30), "0\r\n\r\n");
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(40));
	assert_int_equal(d->col.n, 1);

	s = &d->col.x[0];
	assert_exchange(s, "POST", "/v1/chat/completions", host, 200, OUTCOME_OK);
	assert_string_equal(s->provider, provider);
	assert_string_equal(s->operation, "chat");
	assert_string_equal(s->req_model, "gpt-4o-mini");
	assert_string_equal(s->resp_model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(s->stream, 1);
	assert_tokens(s, 13, 2, USAGE_PROVIDER);
	/* the role chunk has empty content: the first token is the second event */
	assert_int_equal(s->first_token_ns, T(12));
	assert_int_equal(s->stream_events, N_OAI_EVENTS);
	assert_sizes(s, strlen(OAI_REQ_STREAM), strlen(OAI_REQ_STREAM), resp_wire, resp_wire);
	assert_times(s, T(1), T(2), T(10), T(30));
	assert_false(s->truncated);
	buf_free(&b);
	buf_free(&ev);
	drv_free(d);
}

static void test_h1_openai_sse(void **state)
{
	(void)state;
	openai_sse("api.openai.com", "api.openai.com", "openai");
	openai_sse("127.0.0.1:8000", "127.0.0.1", "openai_compatible");
}

/* gzip (zlib, windowBits 31) of n bytes. */
static size_t gzip(const void *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };

	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static void test_h1_gzip(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	uint8_t gz[4096];
	size_t gzlen = gzip(OAI_RESP, strlen(OAI_RESP), gz, sizeof(gz));
	size_t cut1 = gzlen / 3, cut2 = 2 * gzlen / 3;
	const struct seen *s;
	char hex[32];

	(void)state;
	buf_printf(&b, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		       "Accept-Encoding: gzip, deflate, br, zstd\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		   strlen(OAI_REQ), OAI_REQ);
	call(d, IT_DIR_SEND, T(1), b.p, b.len);
	/* 1: Content-Length, gzip body split over two reads */
	buf_reset(&b);
	buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
		       "Content-Length: %zu\r\n\r\n",
		   gzlen);
	buf_add(&b, gz, cut1);
	call(d, IT_DIR_RECV, T(2), b.p, b.len);
	call(d, IT_DIR_RECV, T(3), gz + cut1, gzlen - cut1);
	assert_int_equal(d->col.n, 1);
	/* 2: the same, chunked, chunks cut anywhere in the gzip stream */
	buf_reset(&b);
	buf_printf(&b, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		   strlen(OAI_REQ), OAI_REQ);
	call(d, IT_DIR_SEND, T(4), b.p, b.len);
	buf_reset(&b);
	buf_str(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-encoding: GZIP\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
	snprintf(hex, sizeof(hex), "%zx\r\n", cut1);
	buf_str(&b, hex);
	buf_add(&b, gz, cut1);
	buf_str(&b, "\r\n");
	call(d, IT_DIR_RECV, T(5), b.p, b.len);
	buf_reset(&b);
	snprintf(hex, sizeof(hex), "%zx\r\n", cut2 - cut1);
	buf_str(&b, hex);
	buf_add(&b, gz + cut1, cut2 - cut1);
	buf_str(&b, "\r\n");
	snprintf(hex, sizeof(hex), "%zx\r\n", gzlen - cut2);
	buf_str(&b, hex);
	buf_add(&b, gz + cut2, gzlen - cut2);
	buf_str(&b, "\r\n0\r\n\r\n");
	call(d, IT_DIR_RECV, T(6), b.p, b.len);
	assert_int_equal(d->col.n, 2);
	drv_close(d, T(9));

	for (int i = 0; i < 2; i++) {
		s = &d->col.x[i];
		assert_exchange(s, "POST", "/v1/chat/completions", "api.openai.com", 200, OUTCOME_OK);
		assert_string_equal(s->provider, "openai");
		assert_int_equal(s->resp_enc, ENC_GZIP);
		assert_sizes(s, strlen(OAI_REQ), strlen(OAI_REQ), gzlen, strlen(OAI_RESP));
		assert_string_equal(s->resp_model, "gpt-4o-mini-2024-07-18");
		assert_tokens(s, 19, 3, USAGE_PROVIDER);
		assert_false(s->truncated);
	}
	assert_times(&d->col.x[0], T(1), T(1), T(2), T(3));
	assert_times(&d->col.x[1], T(4), T(4), T(5), T(6));
	buf_free(&b);
	drv_free(d);
}

static void test_h1_role_server(void **state)
{
	struct drv *d = drv_new(IT_ROLE_SERVER);
	const struct seen *s;

	(void)state;
	/* the traced process accepted: it reads requests, writes responses */
	calls(d, IT_DIR_RECV, T(1), "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8000\r\n"
				    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
	calls(d, IT_DIR_SEND, T(2), "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
				    "Content-Length: 70\r\n\r\n"
				    "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\","
				    "\"code\":null}}");
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(3));
	s = &d->col.x[0];
	assert_exchange(s, "POST", "/v1/chat/completions", "localhost", 400, OUTCOME_HTTP_ERROR);
	assert_string_equal(s->provider, "openai_compatible");
	assert_string_equal(s->error_type, "invalid_request_error");
	assert_sizes(s, 2, 2, 70, 70);
	assert_times(s, T(1), T(1), T(2), T(2));
	drv_free(d);
}

static void test_h1_role_unknown(void **state)
{
	struct drv *d;

	(void)state;
	/* client side found from the bytes: SEND starts with a request */
	d = drv_new(IT_ROLE_UNKNOWN);
	SEND(d, T(1), "GET /x HTTP/1.1\r\nHost: u.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	drv_close(d, T(3));
	assert_int_equal(d->col.n, 1);
	assert_exchange(&d->col.x[0], "GET", "/x", "u.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 0, 0, 2, 2);
	drv_free(d);

	/* server side: RECV starts with a request */
	d = drv_new(IT_ROLE_UNKNOWN);
	RECV(d, T(1), "OPTIONS * HTTP/1.1\r\nHost: s.example\r\n\r\n");
	SEND(d, T(2), "HTTP/1.1 204 No Content\r\nAllow: GET\r\n\r\n");
	drv_close(d, T(3));
	assert_int_equal(d->col.n, 1);
	assert_exchange(&d->col.x[0], "OPTIONS", "*", "s.example", 204, OUTCOME_OK);
	drv_free(d);

	/* the first bytes seen are a response read (joined late): requests go the other way */
	d = drv_new(IT_ROLE_UNKNOWN);
	RECV(d, T(1), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold");
	SEND(d, T(2), "GET /new HTTP/1.1\r\nHost: u.example\r\n\r\n");
	RECV(d, T(3), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew");
	drv_close(d, T(4));
	assert_int_equal(d->col.n, 1);
	assert_exchange(&d->col.x[0], "GET", "/new", "u.example", 200, OUTCOME_OK);
	assert_times(&d->col.x[0], T(2), T(2), T(3), T(3));
	drv_free(d);
}

static void test_h1_join_mid_connection(void **state)
{
	struct drv *d;
	uint64_t orphans;

	(void)state;
	/* first bytes: the middle of a request body, then of a response body */
	d = drv_new(IT_ROLE_CLIENT);
	SEND(d, T(1), "ntent\":\"tail of a JSON request body\"}]}");
	RECV(d, T(2), "lo world\",\"more\":1}");
	RECV(d, T(3), "and the rest of that response body");
	assert_int_equal(d->col.n, 0);
	SEND(d, T(4), "POST /next HTTP/1.1\r\nHost: m.example\r\nContent-Length: 2\r\n\r\nok");
	RECV(d, T(5), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(6));
	assert_int_equal(d->col.n, 1);
	assert_exchange(&d->col.x[0], "POST", "/next", "m.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[0], 2, 2, 4, 4);
	assert_times(&d->col.x[0], T(4), T(4), T(5), T(5));
	drv_free(d);

	/* first bytes: the response to a request sent before the agent came */
	orphans = proto_stats.orphan_responses;
	d = drv_new(IT_ROLE_CLIENT);
	RECV(d, T(1), "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\norphan");
	assert_int_equal(d->col.n, 0);
	assert_int_equal(proto_stats.orphan_responses, orphans + 1);
	SEND(d, T(2), "GET /after HTTP/1.1\r\nHost: m.example\r\n\r\n");
	RECV(d, T(3), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	drv_close(d, T(4));
	assert_int_equal(d->col.n, 1);
	assert_exchange(&d->col.x[0], "GET", "/after", "m.example", 200, OUTCOME_OK);
	assert_times(&d->col.x[0], T(2), T(2), T(3), T(3));
	drv_free(d);
}

/*
 * Regression (fixed in f685d58, DETECT_CALLS_MAX 16 -> 4096): an agent that
 * joins while a long response is streaming (an SSE body read one event per
 * call) saw more than 16 calls that did not start like HTTP; the connection
 * was given up as not HTTP for good, and the requests that followed on the
 * same keep-alive connection were never reported.
 */
static void test_h1_join_mid_long_stream(void **state)
{
	struct drv *d;
	char ev[128];

	(void)state;
	d = drv_new(IT_ROLE_CLIENT);
	for (int i = 0; i < 40; i++) {
		snprintf(ev, sizeof(ev), "2c\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"%03d\"}}]}\n\n\r\n",
			 i);
		RECV(d, T(1 + i), ev);
	}
	RECV(d, T(50), "0\r\n\r\n");
	SEND(d, T(51), "GET /next HTTP/1.1\r\nHost: m.example\r\n\r\n");
	RECV(d, T(52), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	drv_close(d, T(53));
	if (d->col.n != 1) {
		int n = d->col.n;

		drv_free(d);
		fail_msg("joined mid-stream (40 body reads): expected the next request (/next) to be "
			 "reported, got %d exchanges",
			 n);
	}
	assert_exchange(&d->col.x[0], "GET", "/next", "m.example", 200, OUTCOME_OK);
	drv_free(d);
}

/*
 * BUG (since f685d58: src/proto/proto.c feed_unknown): while the protocol
 * is not known yet, a call shorter than a message start that could begin
 * one ("P", "GE", "HTTP") is held to be joined with the next call. When the
 * next call does not continue it, the held bytes are dropped -- and so is
 * that call, even when it is itself a message start: feed_unknown clears
 * the hold (*pl = 0) without trying the call on its own. An agent joining
 * while a request body is being written whose last write is "P" then loses
 * the next request. Expected: /next reported.
 */
static void test_BUG_detect_held_prefix_drops_next_start(void **state)
{
	struct drv *d;
	int n;

	(void)state;
	BUG_TEST();
	d = drv_new(IT_ROLE_CLIENT);
	SEND(d, T(1), "tail of a request body the agent joined in the middle of, ending with ");
	SEND(d, T(2), "P");
	SEND(d, T(3), "POST /next HTTP/1.1\r\nHost: m.example\r\nContent-Length: 2\r\n\r\nok");
	RECV(d, T(4), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
	drv_close(d, T(5));
	n = d->col.n;
	if (n != 1) {
		drv_free(d);
		fail_msg("a held \"P\" then a call with a whole request: expected /next reported, got "
			 "%d exchanges",
			 n);
	}
	assert_exchange(&d->col.x[0], "POST", "/next", "m.example", 200, OUTCOME_OK);
	assert_times(&d->col.x[0], T(3), T(3), T(4), T(4));
	drv_free(d);
}

static void test_h1_gap_in_body(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	uint8_t *body = malloc(100000);
	uint64_t gaps = proto_stats.gaps;
	size_t hdr;

	(void)state;
	assert_non_null(body);
	memset(body, 'b', 100000);

	/* 1: a response call bigger than the capture limit (16384): 50000 body
	 * bytes, the rest of the call counted but not captured */
	SEND(d, T(1), "GET /big HTTP/1.1\r\nHost: g.example\r\n\r\n");
	buf_str(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		    "Content-Length: 50000\r\n\r\n");
	hdr = b.len;
	buf_add(&b, body, 50000);
	call(d, IT_DIR_RECV, T(2), b.p, b.len);
	assert_int_equal(d->col.n, 1);
	assert_int_equal(proto_stats.gaps, gaps + 1);

	/* 2: a request body bigger than the capture limit, and a response
	 * whose second of four records (capture 65536) was lost */
	d->capture = IT_CAPTURE_MAX;
	buf_reset(&b);
	buf_str(&b, "POST /big-up HTTP/1.1\r\nHost: g.example\r\nContent-Length: 100000\r\n\r\n");
	hdr = b.len;
	buf_add(&b, body, 100000);
	call(d, IT_DIR_SEND, T(3), b.p, b.len); /* 65536 captured, the rest a gap */
	buf_reset(&b);
	buf_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 60000\r\n\r\n");
	hdr = b.len;
	buf_add(&b, body, 60000);
	call_ex(d, IT_DIR_RECV, T(4), b.p, b.len, b.len, 1u << 1);
	assert_int_equal(d->col.n, 2);

	/* 3: framing kept: the next exchange on the connection is whole */
	SEND(d, T(5), "GET /small HTTP/1.1\r\nHost: g.example\r\n\r\n");
	RECV(d, T(6), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(d->col.n, 3);
	drv_close(d, T(7));
	assert_int_equal(d->col.n, 3);
	(void)hdr;

	assert_exchange(&d->col.x[0], "GET", "/big", "g.example", 200, OUTCOME_OK);
	assert_int_equal(d->col.x[0].resp_wire, 50000);
	assert_true(d->col.x[0].truncated);
	assert_times(&d->col.x[0], T(1), T(1), T(2), T(2));

	assert_exchange(&d->col.x[1], "POST", "/big-up", "g.example", 200, OUTCOME_OK);
	assert_int_equal(d->col.x[1].req_wire, 100000);
	assert_int_equal(d->col.x[1].resp_wire, 60000);
	assert_true(d->col.x[1].truncated);
	assert_times(&d->col.x[1], T(3), T(3), T(4), T(4));

	assert_exchange(&d->col.x[2], "GET", "/small", "g.example", 200, OUTCOME_OK);
	assert_sizes(&d->col.x[2], 0, 0, 2, 2);
	assert_false(d->col.x[2].truncated);
	free(body);
	buf_free(&b);
	drv_free(d);
}

static void test_h1_gap_in_chunked_body(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	char *data = malloc(30001);

	(void)state;
	assert_non_null(data);
	memset(data, 'c', 30000);
	data[30000] = 0;
	SEND(d, T(1), "GET /chunks HTTP/1.1\r\nHost: g.example\r\n\r\n");
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* one 30000-byte chunk in one read: its tail is beyond the capture */
	buf_chunk(&b, data);
	call(d, IT_DIR_RECV, T(3), b.p, b.len - 2);
	RECV(d, T(4), "\r\n0\r\n\r\n");
	assert_int_equal(d->col.n, 1);
	drv_close(d, T(5));
	assert_exchange(&d->col.x[0], "GET", "/chunks", "g.example", 200, OUTCOME_OK);
	assert_int_equal(d->col.x[0].resp_wire, 30000);
	assert_true(d->col.x[0].truncated);
	assert_times(&d->col.x[0], T(1), T(1), T(2), T(4));
	free(data);
	buf_free(&b);
	drv_free(d);
}

static void test_h1_gap_in_headers(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	char *big = malloc(20001);
	uint64_t resyncs = proto_stats.resyncs;

	(void)state;
	assert_non_null(big);
	memset(big, 'h', 20000);
	big[20000] = 0;
	/* 1: response headers longer than the capture: the message is lost */
	SEND(d, T(1), "GET /one HTTP/1.1\r\nHost: g.example\r\n\r\n");
	buf_printf(&b, "HTTP/1.1 200 OK\r\nX-Big: %s\r\nContent-Length: 3\r\n\r\nabc", big);
	call(d, IT_DIR_RECV, T(2), b.p, b.len);
	assert_int_equal(proto_stats.resyncs, resyncs + 1);
	/* parsing starts again at the next response */
	SEND(d, T(3), "GET /two HTTP/1.1\r\nHost: g.example\r\n\r\n");
	RECV(d, T(4), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
	/* 2: request headers longer than the capture */
	buf_reset(&b);
	buf_printf(&b, "GET /three HTTP/1.1\r\nHost: g.example\r\nCookie: s=%s\r\n\r\n", big);
	call(d, IT_DIR_SEND, T(5), b.p, b.len);
	RECV(d, T(6), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree");
	SEND(d, T(7), "GET /four HTTP/1.1\r\nHost: g.example\r\n\r\n");
	RECV(d, T(8), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour");
	drv_close(d, T(9));
	dump(d, "gap in headers");

	/* lost messages are reported incomplete (or not at all); the ones
	 * after them whole */
	{
		int two = -1, four = -1;

		for (int i = 0; i < d->col.n; i++) {
			const struct seen *s = &d->col.x[i];

			assert_false(s->secret_found);
			if (!strcmp(s->path, "/two"))
				two = i;
			else if (!strcmp(s->path, "/four"))
				four = i;
			else if (s->outcome != OUTCOME_INCOMPLETE)
				fail_msg("exchange %s after a gap in headers: outcome %d, expected "
					 "incomplete",
					 s->path, s->outcome);
		}
		assert_true(two >= 0 && four >= 0);
		assert_exchange(&d->col.x[two], "GET", "/two", "g.example", 200, OUTCOME_OK);
		assert_sizes(&d->col.x[two], 0, 0, 3, 3);
		assert_times(&d->col.x[two], T(3), T(3), T(4), T(4));
		assert_false(d->col.x[two].truncated);
		assert_exchange(&d->col.x[four], "GET", "/four", "g.example", 200, OUTCOME_OK);
		assert_sizes(&d->col.x[four], 0, 0, 4, 4);
		assert_times(&d->col.x[four], T(7), T(7), T(8), T(8));
	}
	/* as the code stands: both lost ones are reported, incomplete and truncated */
	assert_int_equal(d->col.n, 4);
	assert_string_equal(d->col.x[0].path, "/one");
	assert_true(d->col.x[0].truncated);
	/* the request's headers never completed: no method or path known */
	assert_string_equal(d->col.x[2].method, "");
	assert_string_equal(d->col.x[2].path, "");
	assert_string_equal(d->col.x[2].host, "g.example");
	assert_true(d->col.x[2].truncated);
	assert_int_equal(d->col.x[2].status, 200);
	free(big);
	buf_free(&b);
	drv_free(d);
}

/*
 * Regression (fixed in f685d58, src/proto/http1.c queue_flush): when an
 * exchange was emitted from the response side while the request parser was
 * still inside that request, the exchange was freed but h->req.cur still
 * pointed to it. Two ways in:
 *  (a) resp_message_complete: a response that ends before its request did
 *      (an early 413/401 while the client is still uploading) set req_done
 *      and queue_flush emitted it;
 *  (b) dir_lose(resp) with no response in progress (resp.cur NULL): the
 *      bytes read do not parse as a response from their first byte, or a
 *      gap hits the response side between responses, while the request is
 *      incomplete: every queued exchange was marked done and flushed.
 * The rest of the request body then went to freed memory (req_body ->
 * exchange_req_body), req_message_complete called exchange_req_end on it,
 * dir_lose(req) wrote to it and h1_close read it (valgrind: invalid reads
 * and writes in req_body, body_feed, req_message_complete, dir_lose). When
 * another connection's exchange reused the freed block (glibc does, here),
 * the first connection's body bytes and request end were booked on the
 * other connection's exchange: the assertions on connection B catch that
 * without valgrind.
 */
static void early_end_then_body(bool lose_response)
{
	struct drv *a = drv_new(IT_ROLE_CLIENT), *b = drv_new(IT_ROLE_CLIENT);
	char body[4096];
	int na, nb;
	struct seen sa = { 0 }, sb = { 0 };

	memset(body, 'u', sizeof(body));
	SEND(a, T(1), "POST /upload HTTP/1.1\r\nHost: e.example\r\nContent-Length: 12288\r\n\r\n");
	call(a, IT_DIR_SEND, T(2), body, sizeof(body));
	if (lose_response)
		RECV(a, T(3), "<html>no status line (HTTP/0.9 style)</html>\r\n");
	else
		RECV(a, T(3), "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n");
	/* another connection starts a request meanwhile */
	SEND(b, T(4), "POST /b HTTP/1.1\r\nHost: other.example\r\nContent-Length: 2\r\n\r\n");
	/* the first client goes on writing its body */
	call(a, IT_DIR_SEND, T(5), body, sizeof(body));
	call(a, IT_DIR_SEND, T(6), body, sizeof(body));
	SEND(a, T(7), "GET /next HTTP/1.1\r\nHost: e.example\r\n\r\n");
	RECV(a, T(8), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	SEND(b, T(9), "hi");
	RECV(b, T(10), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes");
	drv_close(a, T(11));
	drv_close(b, T(12));
	dump(a, "connection A");
	dump(b, "connection B");
	na = a->col.n;
	nb = b->col.n;
	if (na)
		sa = a->col.x[0];
	if (nb)
		sb = b->col.x[0];
	drv_free(a);
	drv_free(b);
	if (na != 2 || nb != 1)
		fail_msg("expected 2 exchanges on A and 1 on B, got %d and %d", na, nb);
	if (sb.req_wire != 2 || sb.req_end != T(9))
		fail_msg("connection B's request: expected body 2 bytes ending at T(9), got %llu bytes "
			 "ending at T(%lld): connection A's body was booked on it (use after free)",
			 (unsigned long long)sb.req_wire, (long long)(sb.req_end - T(0)) / (long long)MS);
	assert_string_equal(sa.path, "/upload");
	assert_int_equal(sa.req_wire, 12288);
	if (lose_response) {
		assert_int_equal(sa.outcome, OUTCOME_INCOMPLETE);
	} else {
		/* the whole body was sent in the end: a plain 413 */
		assert_int_equal(sa.status, 413);
		assert_int_equal(sa.outcome, OUTCOME_HTTP_ERROR);
		assert_times(&sa, T(1), T(6), T(3), T(3));
	}
}

static void test_h1_early_response_body_continues(void **state)
{
	(void)state;
	early_end_then_body(false);
}

static void test_h1_lost_response_body_continues(void **state)
{
	(void)state;
	early_end_then_body(true);
}

/*
 * BUG (since f685d58: src/proto/http1.c h1_close + resp_message_complete):
 * an early response (the server refuses an upload with 413 and
 * "Connection: close") no longer marks the request done, so the exchange
 * waits for the request's end; the client stops uploading and the
 * connection closes: h1_close finds h->req.cur unfinished and sets
 * incomplete, so a complete 413 answer is reported with outcome
 * "incomplete" (no error.type 413) instead of "http_error" as before.
 * Expected: status 413, outcome http_error, the response's times.
 */
static void test_BUG_h1_early_response_then_close(void **state)
{
	struct drv *d;
	struct seen s;
	int n;

	(void)state;
	BUG_TEST();
	d = drv_new(IT_ROLE_CLIENT);
	SEND(d, T(1), "POST /up HTTP/1.1\r\nHost: e.example\r\nContent-Length: 100000\r\n\r\nabcd");
	RECV(d, T(2), "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	drv_close(d, T(3));
	dump(d, "early 413, then close");
	n = d->col.n;
	s = d->col.x[0];
	drv_free(d);
	assert_int_equal(n, 1);
	assert_string_equal(s.path, "/up");
	assert_int_equal(s.status, 413);
	assert_int_equal(s.req_wire, 4);
	if (s.outcome != OUTCOME_HTTP_ERROR)
		fail_msg("early 413 then close: expected outcome http_error (%d), got %d (incomplete=%d)",
			 OUTCOME_HTTP_ERROR, s.outcome, s.incomplete);
	assert_int_equal(s.resp_end, T(2));
}

/* A client that never gets answers: at most PROTO_MAX_PENDING requests
 * wait per connection, the oldest are reported incomplete beyond that. */
static void test_h1_pending_bound(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	uint64_t evicted = proto_stats.pending_evicted;
	int extra = 6;

	(void)state;
	for (int i = 0; i < PROTO_MAX_PENDING + extra; i++)
		buf_printf(&b, "GET /r%d HTTP/1.1\r\nHost: q.example\r\n\r\n", i);
	call(d, IT_DIR_SEND, T(1), b.p, b.len);
	assert_int_equal(d->col.n, extra);
	assert_int_equal(proto_stats.pending_evicted, evicted + (uint64_t)extra);
	for (int i = 0; i < extra; i++) {
		char path[16];

		snprintf(path, sizeof(path), "/r%d", i);
		assert_exchange(&d->col.x[i], "GET", path, "q.example", 0, OUTCOME_INCOMPLETE);
	}
	/* the next response goes to the oldest request still waiting */
	RECV(d, T(2), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(d->col.n, extra + 1);
	assert_exchange(&d->col.x[extra], "GET", "/r6", "q.example", 200, OUTCOME_OK);
	drv_close(d, T(3));
	assert_int_equal(d->col.n, PROTO_MAX_PENDING + extra);
	for (int i = extra + 1; i < d->col.n; i++)
		assert_int_equal(d->col.x[i].outcome, OUTCOME_INCOMPLETE);
	assert_string_equal(d->col.x[d->col.n - 1].path, "/r69");
	buf_free(&b);
	drv_free(d);
}

static void test_h1_secrets_not_copied(void **state)
{
	struct drv *d = drv_new(IT_ROLE_CLIENT);
	struct buf b = { 0 };
	static const char gem_req[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}";
	static const char gem_resp[] =
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello\"}],\"role\":\"model\"},"
		"\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":2,"
		"\"candidatesTokenCount\":1,\"totalTokenCount\":3},\"modelVersion\":\"gemini-2.0-flash\"}";

	(void)state;
	buf_printf(&b, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		       "Authorization: Bearer sk-" SECRET "\r\nx-api-key: " SECRET "\r\n"
		       "Cookie: session=" SECRET "; other=1\r\nProxy-Authorization: Basic " SECRET "\r\n"
		       "api-key: " SECRET "\r\nx-goog-api-key: " SECRET "\r\n"
		       "OpenAI-Organization: org-" SECRET "\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		   strlen(OAI_REQ), OAI_REQ);
	call(d, IT_DIR_SEND, T(1), b.p, b.len);
	buf_reset(&b);
	buf_printf(&b, "HTTP/1.1 200 OK\r\nSet-Cookie: __cf_bm=" SECRET "; path=/\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		   strlen(OAI_RESP), OAI_RESP);
	call(d, IT_DIR_RECV, T(2), b.p, b.len);
	/* an API key in the query string (Gemini's ?key=) */
	buf_reset(&b);
	buf_printf(&b, "POST /v1beta/models/gemini-2.0-flash:generateContent?key=" SECRET
		       " HTTP/1.1\r\nHost: generativelanguage.googleapis.com\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		   strlen(gem_req), gem_req);
	call(d, IT_DIR_SEND, T(3), b.p, b.len);
	buf_reset(&b);
	buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		   strlen(gem_resp), gem_resp);
	call(d, IT_DIR_RECV, T(4), b.p, b.len);
	drv_close(d, T(5));

	assert_int_equal(d->col.n, 2);
	assert_exchange(&d->col.x[0], "POST", "/v1/chat/completions", "api.openai.com", 200,
			OUTCOME_OK);
	assert_tokens(&d->col.x[0], 19, 3, USAGE_PROVIDER);
	assert_exchange(&d->col.x[1], "POST", "/v1beta/models/gemini-2.0-flash:generateContent",
			"generativelanguage.googleapis.com", 200, OUTCOME_OK);
	assert_string_equal(d->col.x[1].provider, "gcp.gemini");
	assert_string_equal(d->col.x[1].req_model, "gemini-2.0-flash");
	assert_tokens(&d->col.x[1], 2, 1, USAGE_PROVIDER);
	buf_free(&b);
	drv_free(d);
}

/* xorshift: reproducible garbage */
static uint64_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)rnd_state;
}

/* Feed prefix (to one direction, first) and then random calls both ways. */
static void garbage_run(uint8_t role, const char *prefix, size_t prefix_len, uint8_t prefix_dir,
			uint64_t seed, int *reported)
{
	struct drv *d = drv_new(role);
	uint8_t data[3000];
	uint64_t ts = T(1);

	rnd_state = seed;
	if (prefix)
		call(d, prefix_dir, ts++, prefix, prefix_len);
	for (int i = 0; i < 60; i++) {
		size_t n = 1 + rnd() % sizeof(data);
		uint8_t dir = rnd() & 1;
		uint64_t total = n;

		for (size_t k = 0; k < n; k++)
			data[k] = (uint8_t)rnd();
		/* sometimes a call bigger than what is captured */
		if (rnd() % 8 == 0) {
			d->capture = 1 + rnd() % 2048;
			total = n + rnd() % 5000;
		}
		call_ex(d, dir, ts++, data, n, total, rnd() & 0xe);
		d->capture = IT_CAPTURE_DEFAULT;
	}
	drv_close(d, ts);
	for (int i = 0; i < d->col.n; i++) {
		if (d->col.x[i].outcome != OUTCOME_INCOMPLETE)
			fail_msg("garbage (seed %llu, prefix %.16s): exchange %d reported with outcome "
				 "%d, status %d",
				 (unsigned long long)seed, prefix ? prefix : "-", i,
				 d->col.x[i].outcome, d->col.x[i].status);
		assert_false(d->col.x[i].secret_found);
	}
	*reported += d->col.n;
	drv_free(d);
}

static void test_garbage(void **state)
{
	static const uint8_t roles[] = { IT_ROLE_CLIENT, IT_ROLE_SERVER, IT_ROLE_UNKNOWN };
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n";
	int reported = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		uint8_t role = roles[seed % 3];

		/* only random bytes: never HTTP */
		garbage_run(role, NULL, 0, 0, seed * 7919, &reported);
		/* a response start on the receive side (an orphan), then random bytes */
		garbage_run(IT_ROLE_CLIENT, resp, strlen(resp), IT_DIR_RECV, seed * 1299709,
			    &reported);
		/* an HTTP/2 preface, then random frames */
		garbage_run(role == IT_ROLE_SERVER ? IT_ROLE_CLIENT : role, H2_PREFACE,
			    H2_PREFACE_LEN, IT_DIR_SEND, seed * 15485863, &reported);
	}
	print_message("  garbage: %d exchanges reported, all incomplete\n", reported);
}

/*
 * Regression (fixed in f685d58): the use after free of
 * test_h1_lost_response_body_continues, found by random bytes after a
 * request start (random bytes read: response side lost, the exchange
 * emitted and freed; then random bytes written: dir_lose wrote to the freed
 * h->req.cur). It passed its assertions; only valgrind saw it.
 */
static void test_garbage_after_request(void **state)
{
	static const char req[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n";
	int reported = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 40; seed++)
		garbage_run(IT_ROLE_CLIENT, req, strlen(req), IT_DIR_SEND, seed * 104729, &reported);
	print_message("  garbage after a request: %d exchanges reported, all incomplete\n",
		      reported);
}

/* ------------------------------------------------------------------------ */
/* HTTP/2                                                                    */

enum {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PRIORITY = 2,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8,
	F_CONTINUATION = 9,
};
#define END_STREAM 0x1
#define ACK 0x1
#define END_HEADERS 0x4
#define PADDED 0x8
#define PRIORITY 0x20

#define NV(n, v)                                                                          \
	{                                                                                 \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE \
	}
#define NVS(n, v)                                                                          \
	{                                                                                  \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

struct h2 {
	struct drv *d;
	nghttp2_hd_deflater *cli, *srv; /* one HPACK encoder per direction, as peers have */
	struct buf out;                 /* bytes of the call being built */
};

static struct h2 *h2_open(uint8_t role)
{
	struct h2 *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h->d = drv_new(role);
	assert_int_equal(nghttp2_hd_deflate_new(&h->cli, 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&h->srv, 4096), 0);
	return h;
}

static void h2_done(struct h2 *h)
{
	nghttp2_hd_deflate_del(h->cli);
	nghttp2_hd_deflate_del(h->srv);
	buf_free(&h->out);
	drv_free(h->d);
	free(h);
}

static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t stream, const void *p,
		  size_t n)
{
	uint8_t hdr[9] = {
		(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
		(uint8_t)(stream >> 24 & 0x7f), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8),
		(uint8_t)stream,
	};

	buf_add(b, hdr, 9);
	if (n)
		buf_add(b, p, n);
}

/* HPACK block for nv with the encoder of one side. */
static size_t hpack(nghttp2_hd_deflater *def, const nghttp2_nv *nv, size_t n, uint8_t *out,
		    size_t cap)
{
	ssize_t r = nghttp2_hd_deflate_hd(def, out, cap, (nghttp2_nv *)nv, n);

	assert_true(r > 0);
	return (size_t)r;
}

static void headers(struct buf *b, nghttp2_hd_deflater *def, uint32_t stream, uint8_t flags,
		    const nghttp2_nv *nv, size_t n)
{
	uint8_t blk[8192];
	size_t len = hpack(def, nv, n, blk, sizeof(blk));

	frame(b, F_HEADERS, flags | END_HEADERS, stream, blk, len);
}

static void data_frame(struct buf *b, uint32_t stream, uint8_t flags, const char *s)
{
	frame(b, F_DATA, flags, stream, s, strlen(s));
}

/* Send what was built as one call and start a new one. */
static void h2_call(struct h2 *h, uint8_t dir, uint64_t ts)
{
	call(h->d, dir, ts, h->out.p, h->out.len);
	buf_reset(&h->out);
}

static void client_start(struct h2 *h)
{
	static const uint8_t settings[] = { 0, 3, 0, 0, 0, 100, 0, 4, 0, 0x60, 0, 0 };
	static const uint8_t wu[] = { 0, 0xef, 0, 1 };

	buf_add(&h->out, H2_PREFACE, H2_PREFACE_LEN);
	frame(&h->out, F_SETTINGS, 0, 0, settings, sizeof(settings));
	frame(&h->out, F_WINDOW_UPDATE, 0, 0, wu, sizeof(wu));
}

static void server_start(struct h2 *h)
{
	static const uint8_t settings[] = { 0, 3, 0, 0, 0, 128 };

	frame(&h->out, F_SETTINGS, 0, 0, settings, sizeof(settings));
	frame(&h->out, F_SETTINGS, ACK, 0, NULL, 0);
}

static void test_h2_basic(void **state)
{
	struct h2 *h;
	const nghttp2_nv req[] = {
		NV(":method", "GET"), NV(":scheme", "https"), NV(":authority", "API.Example.com:8443"),
		NV(":path", "/v1/models?limit=5"), NV("accept", "*/*"),
		NV("authorization", "Bearer " SECRET), NV("user-agent", "t/1"),
	};
	const nghttp2_nv resp[] = {
		NV(":status", "200"), NV("content-type", "application/json"),
		NV("content-length", "17"), NV("set-cookie", "id=" SECRET),
	};
	const nghttp2_nv req2[] = {
		/* the same again: now from HPACK's dynamic table */
		NV(":method", "GET"), NV(":scheme", "https"), NV(":authority", "API.Example.com:8443"),
		NV(":path", "/v1/models/x"), NV("accept", "*/*"),
		NV("authorization", "Bearer " SECRET), NV("user-agent", "t/1"),
	};
	const nghttp2_nv resp2[] = { NV(":status", "404"), NV("content-type", "application/json") };
	static const uint8_t ping[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	for (int role = IT_ROLE_UNKNOWN; role <= IT_ROLE_CLIENT; role++) {
		h = h2_open((uint8_t)role);
		client_start(h);
		headers(&h->out, h->cli, 1, END_STREAM, req, 7);
		h2_call(h, IT_DIR_SEND, T(1));
		server_start(h);
		h2_call(h, IT_DIR_RECV, T(2));
		frame(&h->out, F_SETTINGS, ACK, 0, NULL, 0);
		frame(&h->out, F_PING, 0, 0, ping, 8);
		h2_call(h, IT_DIR_SEND, T(3));
		headers(&h->out, h->srv, 1, 0, resp, 4);
		h2_call(h, IT_DIR_RECV, T(4));
		assert_int_equal(h->d->col.n, 0);
		data_frame(&h->out, 1, END_STREAM, "{\"data\":[],\"x\":1}");
		h2_call(h, IT_DIR_RECV, T(5));
		assert_int_equal(h->d->col.n, 1);
		/* a second stream on the connection */
		headers(&h->out, h->cli, 3, END_STREAM, req2, 7);
		h2_call(h, IT_DIR_SEND, T(6));
		headers(&h->out, h->srv, 3, 0, resp2, 2);
		data_frame(&h->out, 3, 0, "{}");
		data_frame(&h->out, 3, END_STREAM, "");
		h2_call(h, IT_DIR_RECV, T(7));
		assert_int_equal(h->d->col.n, 2);
		drv_close(h->d, T(8));
		assert_int_equal(h->d->col.n, 2);

		assert_exchange(&h->d->col.x[0], "GET", "/v1/models", "api.example.com", 200, OUTCOME_OK);
		assert_int_equal(h->d->col.x[0].version, 20);
		assert_int_equal(h->d->col.x[0].stream_id, 1);
		assert_sizes(&h->d->col.x[0], 0, 0, 17, 17);
		assert_times(&h->d->col.x[0], T(1), T(1), T(4), T(5));
		assert_int_equal(h->d->col.x[0].resp_content_length, 17);
		assert_false(h->d->col.x[0].truncated);
		assert_exchange(&h->d->col.x[1], "GET", "/v1/models/x", "api.example.com", 404,
				OUTCOME_HTTP_ERROR);
		assert_int_equal(h->d->col.x[1].stream_id, 3);
		assert_sizes(&h->d->col.x[1], 0, 0, 2, 2);
		assert_times(&h->d->col.x[1], T(6), T(6), T(7), T(7));
		h2_done(h);
	}
}

static void test_h2_role_server(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_SERVER);
	const nghttp2_nv req[] = {
		NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "10.0.0.5:8000"),
		NV(":path", "/v1/chat/completions"), NV("content-type", "application/json"),
	};
	const nghttp2_nv resp[] = { NV(":status", "200"), NV("content-type", "application/json") };

	(void)state;
	/* the traced process is the server: requests are read */
	client_start(h);
	headers(&h->out, h->cli, 1, 0, req, 5);
	data_frame(&h->out, 1, END_STREAM, OAI_REQ);
	h2_call(h, IT_DIR_RECV, T(1));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 2);
	data_frame(&h->out, 1, END_STREAM, OAI_RESP);
	h2_call(h, IT_DIR_SEND, T(2));
	drv_close(h->d, T(3));
	assert_int_equal(h->d->col.n, 1);
	assert_exchange(&h->d->col.x[0], "POST", "/v1/chat/completions", "10.0.0.5", 200, OUTCOME_OK);
	assert_string_equal(h->d->col.x[0].provider, "openai_compatible");
	assert_tokens(&h->d->col.x[0], 19, 3, USAGE_PROVIDER);
	assert_sizes(&h->d->col.x[0], strlen(OAI_REQ), strlen(OAI_REQ), strlen(OAI_RESP),
		     strlen(OAI_RESP));
	h2_done(h);
}

/* A request header block cut into HEADERS + 2 CONTINUATION, frames cut
 * across calls anywhere. */
static void test_h2_continuation(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.openai.com"),
		NV(":path", "/v1/chat/completions"), NV("content-type", "application/json"),
		NV("authorization", "Bearer sk-" SECRET), NV("x-api-key", SECRET),
		NV("cookie", "a=" SECRET), NV("x-stainless-lang", "python"),
		NV("x-stainless-package-version", "1.51.0"),
	};
	const nghttp2_nv resp[] = { NV(":status", "200"), NV("content-type", "application/json"),
				    NV("openai-processing-ms", "100") };
	uint8_t blk[4096];
	size_t len = hpack(h->cli, req, 10, blk, sizeof(blk));
	size_t a = len / 3, b = 2 * len / 3;
	struct buf all = { 0 };
	size_t cuts[] = { 5, 30, 31, 33, 60, 100 };
	size_t prev = 0;
	uint64_t ts = T(1);

	(void)state;
	client_start(h);
	h2_call(h, IT_DIR_SEND, ts++);
	frame(&all, F_HEADERS, 0, 1, blk, a);
	frame(&all, F_CONTINUATION, 0, 1, blk + a, b - a);
	frame(&all, F_CONTINUATION, END_HEADERS, 1, blk + b, len - b);
	data_frame(&all, 1, END_STREAM, OAI_REQ);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]) && cuts[i] < all.len; i++) {
		call(h->d, IT_DIR_SEND, ts++, all.p + prev, cuts[i] - prev);
		prev = cuts[i];
	}
	call(h->d, IT_DIR_SEND, ts, all.p + prev, all.len - prev);
	server_start(h);
	h2_call(h, IT_DIR_RECV, T(20));
	headers(&h->out, h->srv, 1, 0, resp, 3);
	data_frame(&h->out, 1, 0, "");
	frame(&h->out, F_DATA, END_STREAM, 1, OAI_RESP, strlen(OAI_RESP));
	h2_call(h, IT_DIR_RECV, T(21));
	drv_close(h->d, T(30));

	assert_int_equal(h->d->col.n, 1);
	assert_exchange(&h->d->col.x[0], "POST", "/v1/chat/completions", "api.openai.com", 200,
			OUTCOME_OK);
	assert_string_equal(h->d->col.x[0].provider, "openai");
	assert_string_equal(h->d->col.x[0].req_model, "gpt-4o-mini");
	assert_int_equal(h->d->col.x[0].stream, 0);
	assert_tokens(&h->d->col.x[0], 19, 3, USAGE_PROVIDER);
	assert_sizes(&h->d->col.x[0], strlen(OAI_REQ), strlen(OAI_REQ), strlen(OAI_RESP),
		     strlen(OAI_RESP));
	/* the request started with the call that ended its header block */
	assert_int_equal(h->d->col.x[0].req_end, ts);
	assert_times(&h->d->col.x[0], h->d->col.x[0].req_start, ts, T(21), T(21));
	assert_true(h->d->col.x[0].req_start > T(1) && h->d->col.x[0].req_start <= ts);
	buf_free(&all);
	h2_done(h);
}

/* HEADERS with PADDED|PRIORITY, DATA with padding, both directions. */
static void test_h2_padded(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "pad.example"),
		NV(":path", "/echo"),
	};
	const nghttp2_nv resp[] = { NV(":status", "201"), NV("content-length", "6") };
	uint8_t blk[1024], p[2048];
	size_t len, n;

	(void)state;
	client_start(h);
	/* pad length 10, stream dependency + weight, block, 10 zero bytes */
	len = hpack(h->cli, req, 4, blk, sizeof(blk));
	n = 0;
	p[n++] = 10;
	memcpy(p + n, "\x00\x00\x00\x00\x0f", 5);
	n += 5;
	memcpy(p + n, blk, len);
	n += len;
	memset(p + n, 0, 10);
	n += 10;
	frame(&h->out, F_HEADERS, PADDED | PRIORITY | END_HEADERS, 1, p, n);
	/* DATA: pad 7, "abcd" */
	n = 0;
	p[n++] = 7;
	memcpy(p + n, "abcd", 4);
	n += 4;
	memset(p + n, 0, 7);
	n += 7;
	frame(&h->out, F_DATA, PADDED | END_STREAM, 1, p, n);
	h2_call(h, IT_DIR_SEND, T(1));
	server_start(h);
	/* response HEADERS padded (no priority), DATA padded with pad 0, then 3 */
	len = hpack(h->srv, resp, 2, blk, sizeof(blk));
	n = 0;
	p[n++] = 3;
	memcpy(p + n, blk, len);
	n += len;
	memset(p + n, 0, 3);
	n += 3;
	frame(&h->out, F_HEADERS, PADDED | END_HEADERS, 1, p, n);
	frame(&h->out, F_DATA, PADDED, 1, "\x00xy", 3);
	h2_call(h, IT_DIR_RECV, T(2));
	/* the padded frame cut across two calls */
	n = 0;
	p[n++] = 3;
	memcpy(p + n, "zzzz", 4);
	n += 4;
	memset(p + n, 0, 3);
	n += 3;
	frame(&h->out, F_DATA, PADDED | END_STREAM, 1, p, n);
	call(h->d, IT_DIR_RECV, T(3), h->out.p, 11);
	assert_int_equal(h->d->col.n, 0);
	call(h->d, IT_DIR_RECV, T(4), h->out.p + 11, h->out.len - 11);
	buf_reset(&h->out);
	drv_close(h->d, T(5));

	assert_int_equal(h->d->col.n, 1);
	assert_exchange(&h->d->col.x[0], "POST", "/echo", "pad.example", 201, OUTCOME_OK);
	assert_sizes(&h->d->col.x[0], 4, 4, 6, 6);
	assert_times(&h->d->col.x[0], T(1), T(1), T(2), T(4));
	h2_done(h);
}

/* Two streams at once: an SSE stream (1) and a JSON call (3), interleaved. */
static void test_h2_interleaved(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req1[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.openai.com"),
		NV(":path", "/v1/chat/completions"), NV("content-type", "application/json"),
		NV("authorization", "Bearer " SECRET),
	};
	const nghttp2_nv req3[] = {
		NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "api.openai.com"),
		NV(":path", "/v1/chat/completions?x=1"), NV("content-type", "application/json"),
		NV("authorization", "Bearer " SECRET),
	};
	const nghttp2_nv resp1[] = { NV(":status", "200"),
				     NV("content-type", "text/event-stream; charset=utf-8") };
	const nghttp2_nv resp3[] = { NV(":status", "200"), NV("content-type", "application/json") };
	struct buf ev = { 0 };
	size_t half = strlen(OAI_RESP) / 2;
	uint64_t sse_wire = 0;

	(void)state;
	client_start(h);
	headers(&h->out, h->cli, 1, 0, req1, 6);
	h2_call(h, IT_DIR_SEND, T(1));
	headers(&h->out, h->cli, 3, 0, req3, 6);
	data_frame(&h->out, 1, END_STREAM, OAI_REQ_STREAM);
	h2_call(h, IT_DIR_SEND, T(2));
	data_frame(&h->out, 3, END_STREAM, OAI_REQ);
	h2_call(h, IT_DIR_SEND, T(3));
	server_start(h);
	headers(&h->out, h->srv, 3, 0, resp3, 2);
	h2_call(h, IT_DIR_RECV, T(4));
	headers(&h->out, h->srv, 1, 0, resp1, 2);
	h2_call(h, IT_DIR_RECV, T(5));
	for (size_t i = 0; i < N_OAI_EVENTS; i++) {
		buf_reset(&ev);
		buf_printf(&ev, "data: %s\n\n", OAI_EVENTS[i]);
		sse_wire += ev.len;
		data_frame(&h->out, 1, 0, (const char *)ev.p);
		if (i == 1)
			frame(&h->out, F_DATA, 0, 3, OAI_RESP, half);
		if (i == 3) {
			frame(&h->out, F_DATA, END_STREAM, 3, OAI_RESP + half, strlen(OAI_RESP) - half);
		}
		h2_call(h, IT_DIR_RECV, T(10 + i));
		if (i == 3)
			assert_int_equal(h->d->col.n, 1);
	}
	data_frame(&h->out, 1, END_STREAM, "");
	h2_call(h, IT_DIR_RECV, T(30));
	assert_int_equal(h->d->col.n, 2);
	drv_close(h->d, T(31));
	assert_int_equal(h->d->col.n, 2);

	/* stream 3 finished first */
	assert_int_equal(h->d->col.x[0].stream_id, 3);
	assert_exchange(&h->d->col.x[0], "POST", "/v1/chat/completions", "api.openai.com", 200,
			OUTCOME_OK);
	assert_int_equal(h->d->col.x[0].stream, 0);
	assert_tokens(&h->d->col.x[0], 19, 3, USAGE_PROVIDER);
	assert_sizes(&h->d->col.x[0], strlen(OAI_REQ), strlen(OAI_REQ), strlen(OAI_RESP),
		     strlen(OAI_RESP));
	assert_times(&h->d->col.x[0], T(2), T(3), T(4), T(13));
	assert_int_equal(h->d->col.x[0].first_token_ns, 0);

	assert_int_equal(h->d->col.x[1].stream_id, 1);
	assert_exchange(&h->d->col.x[1], "POST", "/v1/chat/completions", "api.openai.com", 200,
			OUTCOME_OK);
	assert_int_equal(h->d->col.x[1].stream, 1);
	assert_string_equal(h->d->col.x[1].resp_model, "gpt-4o-mini-2024-07-18");
	assert_tokens(&h->d->col.x[1], 13, 2, USAGE_PROVIDER);
	assert_int_equal(h->d->col.x[1].first_token_ns, T(11));
	assert_int_equal(h->d->col.x[1].stream_events, N_OAI_EVENTS);
	assert_sizes(&h->d->col.x[1], strlen(OAI_REQ_STREAM), strlen(OAI_REQ_STREAM), sse_wire,
		     sse_wire);
	assert_times(&h->d->col.x[1], T(1), T(2), T(5), T(30));
	buf_free(&ev);
	h2_done(h);
}

static void test_h2_rst_stream(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req1[] = { NV(":method", "GET"), NV(":scheme", "https"),
				    NV(":authority", "r.example"), NV(":path", "/slow") };
	const nghttp2_nv req3[] = { NV(":method", "GET"), NV(":scheme", "https"),
				    NV(":authority", "r.example"), NV(":path", "/fast") };
	const nghttp2_nv req5[] = { NV(":method", "GET"), NV(":scheme", "https"),
				    NV(":authority", "r.example"), NV(":path", "/refused") };
	const nghttp2_nv resp[] = { NV(":status", "200") };
	static const uint8_t cancel[4] = { 0, 0, 0, 8 }, refused[4] = { 0, 0, 0, 7 };

	(void)state;
	client_start(h);
	headers(&h->out, h->cli, 1, END_STREAM, req1, 4);
	headers(&h->out, h->cli, 3, END_STREAM, req3, 4);
	headers(&h->out, h->cli, 5, END_STREAM, req5, 4);
	h2_call(h, IT_DIR_SEND, T(1));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 1);
	data_frame(&h->out, 1, 0, "partial");
	frame(&h->out, F_RST_STREAM, 0, 5, refused, 4); /* server refuses stream 5 */
	h2_call(h, IT_DIR_RECV, T(2));
	assert_int_equal(h->d->col.n, 1);
	frame(&h->out, F_RST_STREAM, 0, 1, cancel, 4); /* client cancels stream 1 */
	h2_call(h, IT_DIR_SEND, T(3));
	assert_int_equal(h->d->col.n, 2);
	headers(&h->out, h->srv, 3, 0, resp, 1);
	data_frame(&h->out, 3, END_STREAM, "ok");
	h2_call(h, IT_DIR_RECV, T(4));
	assert_int_equal(h->d->col.n, 3);
	drv_close(h->d, T(5));
	assert_int_equal(h->d->col.n, 3);

	assert_exchange(&h->d->col.x[0], "GET", "/refused", "r.example", 0, OUTCOME_INCOMPLETE);
	assert_true(h->d->col.x[0].incomplete);
	assert_exchange(&h->d->col.x[1], "GET", "/slow", "r.example", 200, OUTCOME_INCOMPLETE);
	assert_true(h->d->col.x[1].incomplete);
	assert_sizes(&h->d->col.x[1], 0, 0, 7, 7);
	assert_exchange(&h->d->col.x[2], "GET", "/fast", "r.example", 200, OUTCOME_OK);
	assert_sizes(&h->d->col.x[2], 0, 0, 2, 2);
	h2_done(h);
}

static void test_h2_end_stream_empty_data(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req[] = { NV(":method", "POST"), NV(":scheme", "https"),
				   NV(":authority", "e.example"), NV(":path", "/e") };
	const nghttp2_nv resp[] = { NV(":status", "200") };

	(void)state;
	client_start(h);
	headers(&h->out, h->cli, 1, 0, req, 4);
	data_frame(&h->out, 1, 0, "body");
	h2_call(h, IT_DIR_SEND, T(1));
	data_frame(&h->out, 1, END_STREAM, "");
	h2_call(h, IT_DIR_SEND, T(2));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 1);
	data_frame(&h->out, 1, 0, "hello");
	h2_call(h, IT_DIR_RECV, T(3));
	assert_int_equal(h->d->col.n, 0);
	data_frame(&h->out, 1, END_STREAM, "");
	h2_call(h, IT_DIR_RECV, T(4));
	assert_int_equal(h->d->col.n, 1);
	drv_close(h->d, T(5));
	assert_exchange(&h->d->col.x[0], "POST", "/e", "e.example", 200, OUTCOME_OK);
	assert_sizes(&h->d->col.x[0], 4, 4, 5, 5);
	assert_times(&h->d->col.x[0], T(1), T(2), T(3), T(4));
	h2_done(h);
}

static void test_h2_content_length_no_end_stream(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req[] = { NV(":method", "GET"), NV(":scheme", "https"),
				   NV(":authority", "cl.example"), NV(":path", "/cl") };
	const nghttp2_nv resp[] = { NV(":status", "200"), NV("content-length", "10") };

	(void)state;
	client_start(h);
	headers(&h->out, h->cli, 1, END_STREAM, req, 4);
	h2_call(h, IT_DIR_SEND, T(1));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 2);
	data_frame(&h->out, 1, 0, "01234");
	h2_call(h, IT_DIR_RECV, T(2));
	assert_int_equal(h->d->col.n, 0);
	data_frame(&h->out, 1, 0, "56789");
	h2_call(h, IT_DIR_RECV, T(3));
	/* complete by its length: reported without waiting for END_STREAM */
	assert_int_equal(h->d->col.n, 1);
	data_frame(&h->out, 1, END_STREAM, "");
	h2_call(h, IT_DIR_RECV, T(4));
	drv_close(h->d, T(5));
	assert_int_equal(h->d->col.n, 1);
	assert_exchange(&h->d->col.x[0], "GET", "/cl", "cl.example", 200, OUTCOME_OK);
	assert_sizes(&h->d->col.x[0], 0, 0, 10, 10);
	assert_times(&h->d->col.x[0], T(1), T(1), T(2), T(3));
	assert_false(h->d->col.x[0].incomplete);

	/* the client closes right after the body, END_STREAM never seen */
	h = (h2_done(h), h2_open(IT_ROLE_CLIENT));
	client_start(h);
	headers(&h->out, h->cli, 1, END_STREAM, req, 4);
	h2_call(h, IT_DIR_SEND, T(1));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 2);
	data_frame(&h->out, 1, 0, "0123456789");
	h2_call(h, IT_DIR_RECV, T(2));
	drv_close(h->d, T(3));
	assert_int_equal(h->d->col.n, 1);
	assert_exchange(&h->d->col.x[0], "GET", "/cl", "cl.example", 200, OUTCOME_OK);
	assert_times(&h->d->col.x[0], T(1), T(1), T(2), T(2));
	h2_done(h);
}

static void test_h2_trailers(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req[] = { NV(":method", "POST"), NV(":scheme", "https"),
				   NV(":authority", "grpc.example:443"), NV(":path", "/pkg.Svc/Call"),
				   NV("content-type", "application/grpc"), NV("te", "trailers") };
	const nghttp2_nv req_tr[] = { NV("x-req-trailer", "1") };
	const nghttp2_nv resp[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	const nghttp2_nv resp_tr[] = { NV("grpc-status", "0"), NV("grpc-message", "") };
	static const char msg[] = "\x00\x00\x00\x00\x03" "abc";

	(void)state;
	client_start(h);
	headers(&h->out, h->cli, 1, 0, req, 6);
	frame(&h->out, F_DATA, 0, 1, msg, 8);
	h2_call(h, IT_DIR_SEND, T(1));
	/* request trailers end the request */
	headers(&h->out, h->cli, 1, END_STREAM, req_tr, 1);
	h2_call(h, IT_DIR_SEND, T(2));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 2);
	frame(&h->out, F_DATA, 0, 1, msg, 8);
	h2_call(h, IT_DIR_RECV, T(3));
	assert_int_equal(h->d->col.n, 0);
	headers(&h->out, h->srv, 1, END_STREAM, resp_tr, 2);
	h2_call(h, IT_DIR_RECV, T(4));
	assert_int_equal(h->d->col.n, 1);
	drv_close(h->d, T(5));
	assert_int_equal(h->d->col.n, 1);
	/* trailers change neither method, path nor status */
	assert_exchange(&h->d->col.x[0], "POST", "/pkg.Svc/Call", "grpc.example", 200, OUTCOME_OK);
	assert_sizes(&h->d->col.x[0], 8, 8, 8, 8);
	assert_times(&h->d->col.x[0], T(1), T(2), T(3), T(4));
	h2_done(h);
}

static void test_h2_gap_in_data_and_close(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv req[] = { NV(":method", "GET"), NV(":scheme", "https"),
				   NV(":authority", "big.example"), NV(":path", "/blob") };
	const nghttp2_nv resp[] = { NV(":status", "200") };
	char *blob = malloc(30001);

	(void)state;
	assert_non_null(blob);
	memset(blob, 'z', 30000);
	blob[30000] = 0;
	client_start(h);
	headers(&h->out, h->cli, 1, END_STREAM, req, 4);
	headers(&h->out, h->cli, 3, END_STREAM, req, 4);
	h2_call(h, IT_DIR_SEND, T(1));
	server_start(h);
	headers(&h->out, h->srv, 1, 0, resp, 1);
	h2_call(h, IT_DIR_RECV, T(2));
	/* a 30000-byte DATA frame in one read: the capture (16384) ends inside it */
	data_frame(&h->out, 1, 0, blob);
	h2_call(h, IT_DIR_RECV, T(3));
	/* framing kept: the next frames are read */
	data_frame(&h->out, 1, END_STREAM, "tail");
	headers(&h->out, h->srv, 3, 0, resp, 1);
	data_frame(&h->out, 3, 0, "open");
	h2_call(h, IT_DIR_RECV, T(4));
	assert_int_equal(h->d->col.n, 1);
	/* stream 3 is still open when the connection ends */
	drv_close(h->d, T(5));
	assert_int_equal(h->d->col.n, 2);
	assert_exchange(&h->d->col.x[0], "GET", "/blob", "big.example", 200, OUTCOME_OK);
	assert_int_equal(h->d->col.x[0].resp_wire, 30004);
	assert_true(h->d->col.x[0].truncated);
	assert_times(&h->d->col.x[0], T(1), T(1), T(2), T(4));
	assert_exchange(&h->d->col.x[1], "GET", "/blob", "big.example", 200, OUTCOME_INCOMPLETE);
	assert_int_equal(h->d->col.x[1].stream_id, 3);
	assert_int_equal(h->d->col.x[1].resp_wire, 4);
	free(blob);
	h2_done(h);
}

/* At most PROTO_MAX_STREAMS streams followed per connection: later ones
 * are not (their responses are ignored), the followed ones work as usual. */
static void test_h2_stream_bound(void **state)
{
	struct h2 *h = h2_open(IT_ROLE_CLIENT);
	const nghttp2_nv resp[] = { NV(":status", "200") };
	uint64_t evicted = proto_stats.pending_evicted;
	int total = PROTO_MAX_STREAMS + 4;
	char path[32];

	(void)state;
	client_start(h);
	for (int i = 0; i < total; i++) {
		snprintf(path, sizeof(path), "/s%d", i);
		nghttp2_nv req[] = { NV(":method", "GET"), NV(":scheme", "https"),
				     NV(":authority", "s.example"), NVS(":path", path) };

		headers(&h->out, h->cli, 1 + 2 * (uint32_t)i, END_STREAM, req, 4);
	}
	h2_call(h, IT_DIR_SEND, T(1));
	assert_int_equal(proto_stats.pending_evicted, evicted + 4);
	server_start(h);
	/* answers to the first stream and to one not followed */
	headers(&h->out, h->srv, 1, END_STREAM, resp, 1);
	headers(&h->out, h->srv, 1 + 2 * (uint32_t)(total - 1), END_STREAM, resp, 1);
	h2_call(h, IT_DIR_RECV, T(2));
	assert_int_equal(h->d->col.n, 1);
	assert_exchange(&h->d->col.x[0], "GET", "/s0", "s.example", 200, OUTCOME_OK);
	/* a slot is free again: a new stream is followed */
	{
		nghttp2_nv req[] = { NV(":method", "GET"), NV(":scheme", "https"),
				     NV(":authority", "s.example"), NV(":path", "/late") };

		headers(&h->out, h->cli, 1 + 2 * (uint32_t)total, END_STREAM, req, 4);
	}
	h2_call(h, IT_DIR_SEND, T(3));
	headers(&h->out, h->srv, 1 + 2 * (uint32_t)total, END_STREAM, resp, 1);
	h2_call(h, IT_DIR_RECV, T(4));
	assert_int_equal(h->d->col.n, 2);
	assert_exchange(&h->d->col.x[1], "GET", "/late", "s.example", 200, OUTCOME_OK);
	drv_close(h->d, T(5));
	/* the other followed streams end incomplete with the connection */
	assert_int_equal(h->d->col.n, 2 + PROTO_MAX_STREAMS - 1);
	for (int i = 2; i < h->d->col.n; i++)
		assert_int_equal(h->d->col.x[i].outcome, OUTCOME_INCOMPLETE);
	h2_done(h);
}

/*
 * Regression (fixed in f685d58, src/proto/http2.c h2_close): closing an
 * HTTP/2 connection called conn_lose(), the path for lost framing: every
 * HTTP/2 connection that ended counted a resync (the agent record's
 * "http_resyncs") and the streams open at the close were reported
 * truncated although no byte of them was missed.
 */
static void test_h2_clean_close(void **state)
{
	struct h2 *h;
	const nghttp2_nv req[] = { NV(":method", "GET"), NV(":scheme", "https"),
				   NV(":authority", "c.example"), NV(":path", "/") };
	const nghttp2_nv resp[] = { NV(":status", "200") };
	uint64_t resyncs = proto_stats.resyncs;
	struct seen open_at_close;
	int n;

	(void)state;
	h = h2_open(IT_ROLE_CLIENT);
	client_start(h);
	headers(&h->out, h->cli, 1, END_STREAM, req, 4);
	headers(&h->out, h->cli, 3, END_STREAM, req, 4);
	h2_call(h, IT_DIR_SEND, T(1));
	server_start(h);
	headers(&h->out, h->srv, 1, END_STREAM, resp, 1);
	headers(&h->out, h->srv, 3, 0, resp, 1);
	data_frame(&h->out, 3, 0, "part");
	h2_call(h, IT_DIR_RECV, T(2));
	drv_close(h->d, T(3));
	n = h->d->col.n;
	open_at_close = h->d->col.x[1];
	assert_int_equal(n, 2);
	assert_exchange(&h->d->col.x[0], "GET", "/", "c.example", 200, OUTCOME_OK);
	assert_exchange(&open_at_close, "GET", "/", "c.example", 200, OUTCOME_INCOMPLETE);
	assert_int_equal(open_at_close.resp_end, 0);
	assert_int_equal(open_at_close.last_ns, T(2));
	h2_done(h);
	if (proto_stats.resyncs != resyncs || open_at_close.truncated)
		fail_msg("a clean HTTP/2 connection close counted %llu resync(s) (expected 0) and "
			 "reported the stream open at the close truncated=%d (expected 0)",
			 (unsigned long long)(proto_stats.resyncs - resyncs), open_at_close.truncated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h1_content_length),
		cmocka_unit_test(test_h1_chunked_ext_trailers),
		cmocka_unit_test(test_h1_keepalive_three),
		cmocka_unit_test(test_h1_pipelining),
		cmocka_unit_test(test_h1_byte_by_byte),
		cmocka_unit_test(test_h1_byte_by_byte_first_request),
		cmocka_unit_test(test_h1_head),
		cmocka_unit_test(test_h1_100_continue),
		cmocka_unit_test(test_h1_close_delimited),
		cmocka_unit_test(test_h1_close_mid_body),
		cmocka_unit_test(test_h1_openai_chat),
		cmocka_unit_test(test_h1_openai_sse),
		cmocka_unit_test(test_h1_gzip),
		cmocka_unit_test(test_h1_role_server),
		cmocka_unit_test(test_h1_role_unknown),
		cmocka_unit_test(test_h1_join_mid_connection),
		cmocka_unit_test(test_h1_join_mid_long_stream),
		cmocka_unit_test(test_BUG_detect_held_prefix_drops_next_start),
		cmocka_unit_test(test_h1_gap_in_body),
		cmocka_unit_test(test_h1_gap_in_chunked_body),
		cmocka_unit_test(test_h1_gap_in_headers),
		cmocka_unit_test(test_h1_early_response_body_continues),
		cmocka_unit_test(test_h1_lost_response_body_continues),
		cmocka_unit_test(test_BUG_h1_early_response_then_close),
		cmocka_unit_test(test_h1_pending_bound),
		cmocka_unit_test(test_h1_secrets_not_copied),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_garbage_after_request),
		cmocka_unit_test(test_h2_basic),
		cmocka_unit_test(test_h2_role_server),
		cmocka_unit_test(test_h2_continuation),
		cmocka_unit_test(test_h2_padded),
		cmocka_unit_test(test_h2_interleaved),
		cmocka_unit_test(test_h2_rst_stream),
		cmocka_unit_test(test_h2_end_stream_empty_data),
		cmocka_unit_test(test_h2_content_length_no_end_stream),
		cmocka_unit_test(test_h2_trailers),
		cmocka_unit_test(test_h2_gap_in_data_and_close),
		cmocka_unit_test(test_h2_stream_bound),
		cmocka_unit_test(test_h2_clean_close),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * HTTP/1.x framing with Node's former parser (libhttp-parser): request and
 * response directions each have a parser; requests queue up and responses
 * match them in order (keep-alive, pipelining).
 *
 * A stretch of missing bytes inside a body whose length the parser knows
 * (Content-Length, or the current chunk) is counted and skipped; anywhere
 * else it loses the message, and the direction waits for the next call that
 * starts like a message.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <http_parser.h>

#include "proto/proto.h"

/* A header name longer than this is not one we want. */
#define NAME_MAX_LEN 64
#define VALUE_MAX_LEN 1024

struct h1_dir {
	http_parser p;
	bool request;
	bool lost;             /* waiting for a message start */
	bool in_body;
	bool skipping;         /* feeding placeholder bytes for a gap */
	bool interim;          /* a 1xx response: not the final one */
	uint64_t ts;           /* time of the bytes being parsed */
	/* header being assembled */
	char name[NAME_MAX_LEN + 1];
	size_t name_len;
	bool name_too_long;
	bool in_value;
	bool want_value;
	char value[VALUE_MAX_LEN + 1];
	size_t value_len;
	/* request line */
	char url[2048];
	size_t url_len;
	struct exchange *cur;  /* the exchange this direction is parsing */
	struct h1_conn *h;
};

struct h1_conn {
	struct proto_sink sink;
	struct h1_dir req, resp;
	struct exchange *head, *tail; /* requests waiting for their response */
};

static const uint8_t zeros[16384];

static const char *const methods[] = {
	"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
};

bool h1_looks_like_request(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t l = strlen(methods[i]);

		if (n >= l && memcmp(d, methods[i], l) == 0)
			return true;
	}
	return false;
}

bool h1_looks_like_response(const uint8_t *d, size_t n)
{
	return n >= 7 && memcmp(d, "HTTP/1.", 7) == 0;
}

/* ---- queue ---- */

static void queue_push(struct h1_conn *h, struct exchange *x)
{
	size_t n = 0;

	for (struct exchange *q = h->head; q; q = q->next)
		n++;
	if (n >= PROTO_MAX_PENDING && h->head && h->head != h->req.cur && h->head != h->resp.cur) {
		/* a client that never gets answers: report the oldest as is */
		struct exchange *old = h->head;

		h->head = old->next;
		if (!h->head)
			h->tail = NULL;
		old->incomplete = true;
		proto_stats.pending_evicted++;
		proto_emit(&h->sink, old);
	}
	x->next = NULL;
	if (h->tail)
		h->tail->next = x;
	else
		h->head = x;
	h->tail = x;
}

static struct exchange *queue_pop(struct h1_conn *h)
{
	struct exchange *x = h->head;

	if (x) {
		h->head = x->next;
		if (!h->head)
			h->tail = NULL;
		x->next = NULL;
	}
	return x;
}

/* The exchange the next response belongs to: the oldest without one. */
static struct exchange *queue_waiting(struct h1_conn *h)
{
	for (struct exchange *x = h->head; x; x = x->next)
		if (!x->resp_headers_done && !x->resp_done)
			return x;
	return NULL;
}

/* Report finished exchanges from the head, in order. One the request
 * parser still writes into (a response that came before the request's end)
 * waits for it. */
static void queue_flush(struct h1_conn *h)
{
	while (h->head && h->head->resp_done && h->head->req_done && h->head != h->req.cur &&
	       h->head != h->resp.cur)
		proto_emit(&h->sink, queue_pop(h));
}

/* ---- header assembly ---- */

static void header_done(struct h1_dir *d)
{
	if (d->in_value && d->want_value && d->cur) {
		if (d->request)
			exchange_req_header(d->cur, d->name, d->name_len, d->value, d->value_len);
		else
			exchange_resp_header(d->cur, d->name, d->name_len, d->value, d->value_len);
	}
	d->name_len = 0;
	d->name_too_long = false;
	d->in_value = false;
	d->want_value = false;
	d->value_len = 0;
}

/* Only these values are ever copied: no Authorization, key or cookie. */
static bool header_wanted(const struct h1_dir *d)
{
	static const char *const req[] = { "host", "content-encoding", "content-type" };
	static const char *const resp[] = { "content-encoding", "content-type" };
	const char *const *list = d->request ? req : resp;
	size_t n = d->request ? 3 : 2;

	if (d->name_too_long)
		return false;
	if (!d->request && d->name_len > 15 && strncasecmp(d->name, "x-amzn-bedrock-", 15) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == d->name_len && strncasecmp(d->name, list[i], d->name_len) == 0)
			return true;
	return false;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct h1_dir *d = p->data;

	if (d->in_value)
		header_done(d);
	if (d->name_len + len > NAME_MAX_LEN) {
		d->name_too_long = true;
		return 0;
	}
	memcpy(d->name + d->name_len, at, len);
	d->name_len += len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct h1_dir *d = p->data;
	size_t room;

	if (!d->in_value) {
		d->in_value = true;
		d->want_value = header_wanted(d);
	}
	if (!d->want_value)
		return 0;
	room = VALUE_MAX_LEN - d->value_len;
	if (len > room)
		len = room;
	memcpy(d->value + d->value_len, at, len);
	d->value_len += len;
	return 0;
}

/* ---- requests ---- */

static int req_message_begin(http_parser *p)
{
	struct h1_dir *d = p->data;

	d->cur = exchange_new(d->ts, 11);
	d->url_len = 0;
	d->name_len = 0;
	d->in_value = false;
	if (!d->cur)
		return -1;
	queue_push(d->h, d->cur);
	return 0;
}

static int req_url(http_parser *p, const char *at, size_t len)
{
	struct h1_dir *d = p->data;
	size_t room = sizeof(d->url) - 1 - d->url_len;

	if (len > room)
		len = room;
	memcpy(d->url + d->url_len, at, len);
	d->url_len += len;
	return 0;
}

static int req_headers_complete(http_parser *p)
{
	struct h1_dir *d = p->data;

	header_done(d);
	if (!d->cur)
		return 0;
	d->cur->version = p->http_major == 1 && p->http_minor == 0 ? 10 : 11;
	exchange_req_headers_done(d->cur, http_method_str(p->method), d->url, d->url_len);
	proto_started(&d->h->sink, d->cur);
	d->in_body = true;
	return 0;
}

static int req_body(http_parser *p, const char *at, size_t len)
{
	struct h1_dir *d = p->data;

	if (!d->cur)
		return 0;
	if (d->skipping)
		exchange_body_gap(d->cur, false, len);
	else
		exchange_req_body(d->cur, (const uint8_t *)at, len);
	return 0;
}

static int req_message_complete(http_parser *p)
{
	struct h1_dir *d = p->data;

	d->in_body = false;
	if (d->cur)
		exchange_req_end(d->cur, d->ts);
	d->cur = NULL;
	queue_flush(d->h);
	return 0;
}

/* ---- responses ---- */

static int resp_message_begin(http_parser *p)
{
	struct h1_dir *d = p->data;

	d->cur = queue_waiting(d->h);
	d->name_len = 0;
	d->in_value = false;
	d->interim = false;
	if (!d->cur) {
		/* a response to a request we did not see (agent started late) */
		proto_stats.orphan_responses++;
	}
	return 0;
}

static int resp_headers_complete(http_parser *p)
{
	struct h1_dir *d = p->data;

	header_done(d);
	if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
		d->interim = true; /* 100 Continue, 103 Early Hints: the real one follows */
		return 0;
	}
	d->in_body = true;
	if (!d->cur)
		return 0;
	exchange_resp_headers_done(d->cur, p->status_code, d->ts);
	/* a response to HEAD has headers only */
	return strcmp(d->cur->method, "HEAD") == 0 ? 1 : 0;
}

static int resp_body(http_parser *p, const char *at, size_t len)
{
	struct h1_dir *d = p->data;

	if (!d->cur)
		return 0;
	if (d->skipping)
		exchange_body_gap(d->cur, true, len);
	else
		exchange_resp_body(d->cur, (const uint8_t *)at, len, d->ts);
	return 0;
}

static int resp_message_complete(http_parser *p)
{
	struct h1_dir *d = p->data;

	d->in_body = false;
	if (d->interim)
		return 0;
	/* a response may end before its request did (an early 413): the
	 * exchange is reported once the request ends too, or at close */
	if (d->cur)
		exchange_resp_end(d->cur, d->ts);
	d->cur = NULL;
	queue_flush(d->h);
	return 0;
}

static const http_parser_settings req_settings = {
	.on_message_begin = req_message_begin,
	.on_url = req_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = req_headers_complete,
	.on_body = req_body,
	.on_message_complete = req_message_complete,
};

static const http_parser_settings resp_settings = {
	.on_message_begin = resp_message_begin,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = resp_headers_complete,
	.on_body = resp_body,
	.on_message_complete = resp_message_complete,
};

/* ---- connection ---- */

static void dir_init(struct h1_conn *h, struct h1_dir *d, bool request)
{
	http_parser_init(&d->p, request ? HTTP_REQUEST : HTTP_RESPONSE);
	d->p.data = d;
	d->request = request;
	d->h = h;
	d->in_body = false;
	d->skipping = false;
	d->cur = NULL;
	d->name_len = 0;
	d->in_value = false;
}

struct h1_conn *h1_new(const struct proto_sink *sink)
{
	struct h1_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->sink = *sink;
	dir_init(h, &h->req, true);
	dir_init(h, &h->resp, false);
	return h;
}

/* The message in progress in d cannot be followed any more. */
static void dir_lose(struct h1_conn *h, struct h1_dir *d)
{
	proto_stats.resyncs++;
	if (d->cur) {
		d->cur->truncated = true;
		d->cur->incomplete = true;
		if (d->request)
			d->cur->req_done = true;
		else
			d->cur->resp_done = true;
	}
	dir_init(h, d, d->request);
	d->lost = true;
	/* requests whose responses can no longer be matched in order */
	if (!d->request) {
		for (struct exchange *x = h->head; x; x = x->next) {
			if (!x->resp_done) {
				x->incomplete = true;
				x->resp_done = true;
			}
		}
	}
	queue_flush(h);
}

static void dir_feed(struct h1_conn *h, struct h1_dir *d, const uint8_t *data, size_t n)
{
	const http_parser_settings *s = d->request ? &req_settings : &resp_settings;
	size_t done;

	done = http_parser_execute(&d->p, s, (const char *)data, n);
	if (HTTP_PARSER_ERRNO(&d->p) != HPE_OK || (done != n && !d->p.upgrade))
		dir_lose(h, d);
	else if (d->p.upgrade)
		d->lost = true; /* CONNECT or Upgrade: not HTTP/1 from here on */
}

void h1_feed(struct h1_conn *h, bool request, const uint8_t *data, size_t n, uint64_t ts_ns,
	     bool call_start)
{
	struct h1_dir *d = request ? &h->req : &h->resp;

	if (!n)
		return;
	d->ts = ts_ns;
	if (d->lost) {
		if (!call_start || !(request ? h1_looks_like_request(data, n)
					     : h1_looks_like_response(data, n)))
			return;
		dir_init(h, d, request);
		d->lost = false;
	}
	dir_feed(h, d, data, n);
}

void h1_gap(struct h1_conn *h, bool request, uint64_t n)
{
	struct h1_dir *d = request ? &h->req : &h->resp;

	if (d->lost || !n)
		return;
	/* inside a body of known length: count the bytes, keep the framing */
	if (d->in_body && d->p.content_length != 0 && d->p.content_length != ULLONG_MAX &&
	    n <= d->p.content_length) {
		d->skipping = true;
		while (n && !d->lost) {
			size_t step = n > sizeof(zeros) ? sizeof(zeros) : n;

			dir_feed(h, d, zeros, step);
			n -= step;
		}
		d->skipping = false;
		return;
	}
	/* a body that runs to the end of the connection: count and go on */
	if (d->in_body && d->p.content_length == ULLONG_MAX && d->cur) {
		exchange_body_gap(d->cur, !request, n);
		return;
	}
	dir_lose(h, d);
}

void h1_close(struct h1_conn *h, uint64_t ts_ns)
{
	struct exchange *x;

	/* a response delimited by the end of the connection ends now */
	h->resp.ts = ts_ns;
	if (!h->resp.lost)
		http_parser_execute(&h->resp.p, &resp_settings, NULL, 0);
	if (h->req.cur && !h->req.cur->req_done) {
		/* an upload cut short; after a complete (early) response the
		 * exchange itself did finish */
		if (!h->req.cur->resp_done)
			h->req.cur->incomplete = true;
		exchange_req_end(h->req.cur, ts_ns);
	}
	while ((x = queue_pop(h))) {
		if (!x->resp_done)
			x->incomplete = true;
		proto_emit(&h->sink, x);
	}
	h->req.cur = h->resp.cur = NULL;
}

void h1_free(struct h1_conn *h)
{
	struct exchange *x;

	if (!h)
		return;
	while ((x = queue_pop(h)))
		exchange_free(x);
	free(h);
}

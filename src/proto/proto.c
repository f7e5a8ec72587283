// SPDX-License-Identifier: MIT
/*
 * Per-connection dispatch: which direction carries requests, which HTTP
 * version the connection speaks, and where captured bytes are missing.
 */
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>

/* A connection whose calls never start like HTTP is given up after this
 * many (a joined stream may run long before its next request). */
#define DETECT_CALLS_MAX 4096
/* Bytes needed to tell a message start: the HTTP/2 preface is the longest. */
#define DETECT_BYTES H2_PREFACE_LEN

struct proto_stats proto_stats;

enum proto_kind {
	PROTO_UNKNOWN = 0,
	PROTO_H1,
	PROTO_H2,
	PROTO_NOT_HTTP,
};

/* Where this direction is in the current call's bytes. */
struct cursor {
	bool in_call;
	uint64_t total;   /* bytes the call moved */
	uint64_t expect;  /* bytes captured of it: min(total, capture limit) */
	uint64_t pos;     /* bytes of the call accounted so far */
};

struct proto_conn {
	struct proto_sink sink;
	uint8_t role;
	int8_t request_dir;  /* enum it_dir carrying requests, -1 unknown */
	enum proto_kind kind;
	unsigned detect_calls;
	bool saw_data;           /* any payload yet */
	bool missed_start;       /* the first payload was not a message start */
	/* the start of a possible message split across calls (a client that
	 * writes a byte at a time) */
	uint8_t pend[2][DETECT_BYTES];
	size_t pend_len[2];
	uint64_t pend_ts[2];     /* when the first held byte came */
	struct cursor cur[2];
	struct h1_conn *h1;
	struct h2_conn *h2;
};

void proto_emit(const struct proto_sink *s, struct exchange *x)
{
	proto_stats.exchanges++;
	exchange_finish(x);
	if (s->fn)
		s->fn(s->ctx, x);
	exchange_free(x);
}

void proto_started(const struct proto_sink *s, const struct exchange *x)
{
	if (s->start)
		s->start(s->ctx, x);
}

void proto_conn_on_start(struct proto_conn *pc, proto_start_fn fn)
{
	if (pc)
		pc->sink.start = fn;
}

struct proto_conn *proto_conn_new(uint8_t role, proto_exchange_fn fn, void *ctx)
{
	struct proto_conn *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->sink.fn = fn;
	pc->sink.ctx = ctx;
	pc->role = role;
	pc->request_dir = role == IT_ROLE_CLIENT ? IT_DIR_SEND
			  : role == IT_ROLE_SERVER ? IT_DIR_RECV
						   : -1;
	return pc;
}

void proto_conn_free(struct proto_conn *pc)
{
	if (!pc)
		return;
	h1_free(pc->h1);
	h2_free(pc->h2);
	free(pc);
}

/* Could buf be the beginning of an HTTP message start, with more bytes? */
static bool could_start(const uint8_t *buf, size_t n)
{
	static const char *const starts[] = {
		H2_PREFACE, "GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ",
		"CONNECT ", "TRACE ", "HTTP/1.",
	};

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		size_t l = strlen(starts[i]);

		if (n < l && memcmp(buf, starts[i], n) == 0)
			return true;
	}
	return false;
}

/* Decide the protocol (and, if needed, the request direction) from the
 * first bytes of a message. Returns true once decided. */
static bool detect(struct proto_conn *pc, uint8_t dir, const uint8_t *data, size_t n)
{
	bool is_req_dir;

	if (n >= H2_PREFACE_LEN && memcmp(data, H2_PREFACE, H2_PREFACE_LEN) == 0) {
		pc->request_dir = dir;
		pc->kind = PROTO_H2;
		pc->h2 = h2_new(&pc->sink);
		return true;
	}
	is_req_dir = h1_looks_like_request(data, n);
	if (!is_req_dir && !h1_looks_like_response(data, n))
		return false;
	if (pc->request_dir < 0)
		pc->request_dir = is_req_dir ? dir : !dir;
	else if ((pc->request_dir == dir) != is_req_dir)
		return false; /* e.g. a response seen first on a late-joined connection */
	pc->kind = PROTO_H1;
	pc->h1 = h1_new(&pc->sink);
	return true;
}

static void feed_known(struct proto_conn *pc, uint8_t dir, const uint8_t *data, size_t n,
		       uint64_t ts, bool call_start)
{
	if (pc->kind == PROTO_H1 && pc->h1)
		h1_feed(pc->h1, dir == pc->request_dir, data, n, ts, call_start);
	else if (pc->kind == PROTO_H2 && pc->h2)
		h2_feed(pc->h2, dir == pc->request_dir, data, n, ts);
}

/* Not known yet: look for a message start at a call's beginning, gathering
 * a few bytes across calls when a call is shorter than the start. */
static void feed_unknown(struct proto_conn *pc, uint8_t dir, const uint8_t *data, size_t n,
			 uint64_t ts, bool call_start)
{
	uint8_t buf[DETECT_BYTES];
	size_t *pl = &pc->pend_len[dir & 1], k;

	if (!n)
		return;
	if (!*pl && !call_start)
		return;
	if (!*pl && ++pc->detect_calls > DETECT_CALLS_MAX) {
		pc->kind = PROTO_NOT_HTTP;
		proto_stats.not_http++;
		return;
	}
	memcpy(buf, pc->pend[dir & 1], *pl);
	k = n < DETECT_BYTES - *pl ? n : DETECT_BYTES - *pl;
	memcpy(buf + *pl, data, k);
	if (detect(pc, dir, buf, *pl + k)) {
		size_t held = *pl;

		*pl = 0;
		if (held)
			feed_known(pc, dir, pc->pend[dir & 1], held, pc->pend_ts[dir & 1], true);
		feed_known(pc, dir, data, n, ts, !held);
		return;
	}
	if (*pl + n < DETECT_BYTES && could_start(buf, *pl + k)) {
		if (!*pl)
			pc->pend_ts[dir & 1] = ts;
		memcpy(pc->pend[dir & 1] + *pl, data, n);
		*pl += n;
		return;
	}
	if (*pl && call_start) {
		/* the held bytes led nowhere: this call may start a message itself */
		*pl = 0;
		feed_unknown(pc, dir, data, n, ts, call_start);
		return;
	}
	*pl = 0;
}

static void feed(struct proto_conn *pc, uint8_t dir, const uint8_t *data, size_t n, uint64_t ts,
		 bool call_start)
{
	bool first = !pc->saw_data && n;

	if (n)
		pc->saw_data = true;
	if (pc->kind == PROTO_UNKNOWN)
		feed_unknown(pc, dir, data, n, ts, call_start);
	else
		feed_known(pc, dir, data, n, ts, call_start);
	/* joined mid-connection: its first bytes started no message (an
	 * HTTP/2 connection seen without its preface is never parsed) */
	if (first && pc->kind == PROTO_UNKNOWN && !pc->pend_len[dir & 1])
		pc->missed_start = true;
}

const char *proto_conn_version(const struct proto_conn *pc)
{
	return pc->kind == PROTO_H1 ? "1.1" : pc->kind == PROTO_H2 ? "2" : NULL;
}

bool proto_conn_missed_start(const struct proto_conn *pc)
{
	return pc->missed_start;
}

static void gap(struct proto_conn *pc, uint8_t dir, uint64_t n)
{
	if (!n)
		return;
	proto_stats.gaps++;
	proto_stats.gap_bytes += n;
	if (pc->kind == PROTO_H1 && pc->h1)
		h1_gap(pc->h1, dir == pc->request_dir, n);
	else if (pc->kind == PROTO_H2 && pc->h2)
		h2_gap(pc->h2, dir == pc->request_dir, n);
}

void proto_conn_data(struct proto_conn *pc, uint8_t dir, uint64_t ts_ns, const uint8_t *data,
		     uint32_t len, uint32_t chunk_off, bool first, uint64_t total,
		     uint32_t capture_bytes)
{
	struct cursor *c = &pc->cur[dir & 1];

	if (pc->kind == PROTO_NOT_HTTP)
		return;
	if (first) {
		/* what the previous call did not deliver (lost records) */
		if (c->in_call && c->pos < c->total)
			gap(pc, dir, c->total - c->pos);
		c->in_call = true;
		c->total = total;
		c->expect = total < capture_bytes ? total : capture_bytes;
		c->pos = 0;
	} else if (!c->in_call) {
		return; /* the start of this call was lost */
	}
	if (chunk_off > c->pos) {
		gap(pc, dir, chunk_off - c->pos);
		c->pos = chunk_off;
	}
	if (chunk_off < c->pos) /* overlaps what we have: a duplicate */
		return;
	feed(pc, dir, data, len, ts_ns, chunk_off == 0);
	c->pos += len;
	/* the call's bytes past the capture limit: known missing now */
	if (c->pos >= c->expect && c->pos < c->total) {
		gap(pc, dir, c->total - c->pos);
		c->pos = c->total;
	}
}

void proto_conn_close(struct proto_conn *pc, uint64_t ts_ns)
{
	if (pc->h1)
		h1_close(pc->h1, ts_ns);
	if (pc->h2)
		h2_close(pc->h2, ts_ns);
}

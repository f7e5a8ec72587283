// SPDX-License-Identifier: MIT
/*
 * Per-connection dispatch: which direction carries requests, which HTTP
 * version the connection speaks, and where captured bytes are missing.
 */
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>

/* A connection whose first calls never look like HTTP is given up. */
#define DETECT_CALLS_MAX 16

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

/* Decide the protocol (and, if needed, the request direction) from the
 * first bytes of a call. */
static void detect(struct proto_conn *pc, uint8_t dir, const uint8_t *data, size_t n)
{
	bool is_req_dir;

	if (++pc->detect_calls > DETECT_CALLS_MAX) {
		pc->kind = PROTO_NOT_HTTP;
		proto_stats.not_http++;
		return;
	}
	if (n >= H2_PREFACE_LEN && memcmp(data, H2_PREFACE, H2_PREFACE_LEN) == 0) {
		pc->request_dir = dir;
		pc->kind = PROTO_H2;
		pc->h2 = h2_new(&pc->sink);
		return;
	}
	is_req_dir = h1_looks_like_request(data, n);
	if (!is_req_dir && !h1_looks_like_response(data, n))
		return;
	if (pc->request_dir < 0)
		pc->request_dir = is_req_dir ? dir : !dir;
	else if ((pc->request_dir == dir) != is_req_dir)
		return; /* e.g. a response seen first on a late-joined connection */
	pc->kind = PROTO_H1;
	pc->h1 = h1_new(&pc->sink);
}

static void feed(struct proto_conn *pc, uint8_t dir, const uint8_t *data, size_t n, uint64_t ts,
		 bool call_start)
{
	if (pc->kind == PROTO_UNKNOWN && call_start && n)
		detect(pc, dir, data, n);
	if (pc->kind == PROTO_H1 && pc->h1)
		h1_feed(pc->h1, dir == pc->request_dir, data, n, ts, call_start);
	else if (pc->kind == PROTO_H2 && pc->h2)
		h2_feed(pc->h2, dir == pc->request_dir, data, n, ts);
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

// SPDX-License-Identifier: MIT
/*
 * HTTP/2 framing (RFC 9113): frames of both directions, header blocks
 * through libnghttp2's HPACK inflater (one per direction, as the peers'
 * encoders are), DATA streamed to the stream's exchange.
 *
 * Only connections seen from their preface are parsed: HPACK state cannot
 * be rebuilt in the middle of a connection. A gap anywhere but inside a
 * DATA payload breaks framing for good: the streams in flight are
 * reported incomplete and the connection is not followed further.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>

#include "proto/proto.h"
#include "util/htab.h"

/* A header block (HEADERS + CONTINUATION) bigger than this loses the
 * connection: HPACK cannot skip part of a block. */
#define HEADER_BLOCK_MAX (256u << 10)

enum {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PRIORITY = 2,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PUSH_PROMISE = 5,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8,
	F_CONTINUATION = 9,
};

#define FLAG_END_STREAM 0x1
#define FLAG_END_HEADERS 0x4
#define FLAG_PADDED 0x8
#define FLAG_PRIORITY 0x20

struct h2_dir {
	bool client;               /* frames from the client (requests) */
	size_t preface_left;       /* client: preface bytes still to skip */
	uint8_t hdr[9];
	size_t hdr_len;
	/* current frame */
	uint32_t length, stream;
	uint8_t type, flags;
	uint32_t payload_pos;      /* bytes of the payload seen */
	uint32_t pad_len;          /* DATA/HEADERS padding */
	bool pad_known;
	/* header block being collected (HEADERS/PUSH_PROMISE + CONTINUATION) */
	uint8_t *block;
	size_t block_len;
	uint32_t block_stream;
	bool block_end_stream;
	bool block_is_push;
	nghttp2_hd_inflater *hpack;
	uint64_t ts;
};

struct h2_conn {
	struct proto_sink sink;
	struct h2_dir dir[2];      /* [1] client -> server, [0] server -> client */
	struct htab *streams;      /* stream id -> struct exchange */
	bool lost;
};

struct h2_conn *h2_new(const struct proto_sink *sink)
{
	struct h2_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->sink = *sink;
	h->streams = htab_new();
	for (int i = 0; i < 2; i++) {
		h->dir[i].client = i == 1;
		h->dir[i].preface_left = i == 1 ? H2_PREFACE_LEN : 0;
		if (nghttp2_hd_inflate_new(&h->dir[i].hpack))
			h->dir[i].hpack = NULL;
	}
	if (!h->streams || !h->dir[0].hpack || !h->dir[1].hpack) {
		h2_free(h);
		return NULL;
	}
	return h;
}

void h2_free(struct h2_conn *h)
{
	size_t it = 0;
	void *v;

	if (!h)
		return;
	if (h->streams) {
		while (htab_next(h->streams, &it, NULL, &v))
			exchange_free(v);
		htab_free(h->streams);
	}
	for (int i = 0; i < 2; i++) {
		if (h->dir[i].hpack)
			nghttp2_hd_inflate_del(h->dir[i].hpack);
		free(h->dir[i].block);
	}
	free(h);
}

static void stream_emit(struct h2_conn *h, uint32_t id)
{
	struct exchange *x = htab_del(h->streams, id);

	if (x)
		proto_emit(&h->sink, x);
}

/* Report every stream in flight as incomplete and forget it. */
static void streams_end(struct h2_conn *h, bool framing_lost)
{
	uint64_t ids[256], k;
	size_t it, n;
	void *v;

	for (;;) {
		it = 0;
		n = 0;
		while (n < 256 && htab_next(h->streams, &it, &k, &v)) {
			struct exchange *x = v;

			x->incomplete = true;
			if (framing_lost)
				x->truncated = true;
			ids[n++] = k;
		}
		if (!n)
			break;
		for (size_t i = 0; i < n; i++)
			stream_emit(h, (uint32_t)ids[i]);
	}
}

/* Framing is lost: report what is in flight, follow nothing more. */
static void conn_lose(struct h2_conn *h)
{
	if (h->lost)
		return;
	h->lost = true;
	proto_stats.resyncs++;
	streams_end(h, true);
}

/* ---- header blocks ---- */

static void header_block_done(struct h2_conn *h, struct h2_dir *d)
{
	const uint8_t *in = d->block;
	size_t left = d->block_len;
	struct exchange *x = NULL;
	char method[16] = "", path[2048] = "";
	size_t path_len = 0;
	int status = 0;
	bool trailers = false;

	if (!d->block_is_push) {
		x = htab_get(h->streams, d->block_stream);
		if (d->client && !x && htab_count(h->streams) >= PROTO_MAX_STREAMS) {
			proto_stats.pending_evicted++;
		} else if (d->client && !x) {
			x = exchange_new(d->ts, 20);
			if (x) {
				x->stream_id = d->block_stream;
				if (htab_put(h->streams, d->block_stream, x)) {
					exchange_free(x);
					x = NULL;
				}
			}
		}
	}
	/* a second header block on a stream is trailers: nothing we need */
	if (x)
		trailers = d->client ? x->method[0] != '\0' : x->resp_headers_done;
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(d->hpack, &nv, &flags, in, left, 1);

		if (rv < 0) {
			conn_lose(h);
			return;
		}
		if (rv > 0) { /* an empty block has no buffer: no pointer arithmetic on NULL */
			in += rv;
			left -= (size_t)rv;
		}
		if (flags & NGHTTP2_HD_INFLATE_EMIT && x && !trailers) {
			const char *name = (const char *)nv.name, *val = (const char *)nv.value;

			if (d->client) {
				if (nv.namelen == 7 && memcmp(name, ":method", 7) == 0) {
					snprintf(method, sizeof(method), "%.*s", (int)nv.valuelen, val);
				} else if (nv.namelen == 5 && memcmp(name, ":path", 5) == 0) {
					path_len = nv.valuelen < sizeof(path) - 1 ? nv.valuelen
										   : sizeof(path) - 1;
					memcpy(path, val, path_len);
				} else {
					exchange_req_header(x, name, nv.namelen, val, nv.valuelen);
				}
			} else if (nv.namelen == 7 && memcmp(name, ":status", 7) == 0) {
				status = atoi(val);
			} else {
				exchange_resp_header(x, name, nv.namelen, val, nv.valuelen);
			}
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->hpack);
			break;
		}
		if (left == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
			break;
	}
	d->block_len = 0;
	if (!x)
		return;
	if (d->client) {
		if (method[0] && !trailers) {
			exchange_req_headers_done(x, method, path, path_len);
			proto_started(&h->sink, x);
		}
		if (d->block_end_stream)
			exchange_req_end(x, d->ts);
		return;
	}
	if (status >= 100 && status < 200)
		return; /* interim response */
	if (status && !x->resp_headers_done)
		exchange_resp_headers_done(x, status, d->ts);
	if (d->block_end_stream) {
		exchange_resp_end(x, d->ts);
		stream_emit(h, x->stream_id);
	}
}

static void block_append(struct h2_conn *h, struct h2_dir *d, const uint8_t *p, size_t n)
{
	uint8_t *nb;

	if (d->block_len + n > HEADER_BLOCK_MAX) {
		conn_lose(h);
		return;
	}
	nb = realloc(d->block, d->block_len + n + 1);
	if (!nb) {
		conn_lose(h);
		return;
	}
	d->block = nb;
	memcpy(d->block + d->block_len, p, n);
	d->block_len += n;
}

/* ---- frames ---- */

/* Bytes of payload p[0..n) of the current frame (at payload_pos). */
static void frame_payload(struct h2_conn *h, struct h2_dir *d, const uint8_t *p, size_t n)
{
	struct exchange *x;

	if (d->type == F_DATA) {
		uint32_t start = 0, end;

		/* padding: a length byte first, that many zero bytes last */
		if (d->flags & FLAG_PADDED && d->payload_pos == 0 && n) {
			d->pad_len = p[0];
			d->pad_known = true;
			start = 1;
		}
		end = (uint32_t)n;
		if (d->pad_known) {
			uint32_t data_end = d->length > d->pad_len ? d->length - d->pad_len : 0;

			if (d->payload_pos + end > data_end)
				end = data_end > d->payload_pos ? data_end - d->payload_pos : 0;
		}
		x = htab_get(h->streams, d->stream);
		if (x && end > start) {
			if (d->client)
				exchange_req_body(x, p + start, end - start);
			else
				exchange_resp_body(x, p + start, end - start, d->ts);
		}
		return;
	}
	if (d->type == F_HEADERS || d->type == F_PUSH_PROMISE || d->type == F_CONTINUATION) {
		/* header-block bytes are [front, length - padding) of the payload:
		 * front skips the pad length, priority fields or promised id */
		uint32_t front = 0, end = d->length, lo, hi, pos = d->payload_pos;

		if (d->type != F_CONTINUATION) {
			if (d->flags & FLAG_PADDED) {
				front += 1;
				if (pos == 0 && n) {
					d->pad_len = p[0];
					d->pad_known = true;
				}
			}
			if (d->type == F_HEADERS && d->flags & FLAG_PRIORITY)
				front += 5;
			if (d->type == F_PUSH_PROMISE)
				front += 4;
			if (d->pad_known)
				end = d->length > d->pad_len ? d->length - d->pad_len : 0;
		}
		lo = pos > front ? pos : front;
		hi = pos + (uint32_t)n < end ? pos + (uint32_t)n : end;
		if (hi > lo)
			block_append(h, d, p + (lo - pos), hi - lo);
	}
}

static void frame_begin(struct h2_conn *h, struct h2_dir *d)
{
	d->length = (uint32_t)d->hdr[0] << 16 | (uint32_t)d->hdr[1] << 8 | d->hdr[2];
	d->type = d->hdr[3];
	d->flags = d->hdr[4];
	d->stream = ((uint32_t)d->hdr[5] << 24 | (uint32_t)d->hdr[6] << 16 |
		     (uint32_t)d->hdr[7] << 8 | d->hdr[8]) & 0x7fffffff;
	d->payload_pos = 0;
	d->pad_len = 0;
	d->pad_known = false;
	if (d->length > (1u << 24) - 1 || (d->block_len && d->type != F_CONTINUATION)) {
		conn_lose(h); /* not a frame, or a header block interrupted */
		return;
	}
	if (d->type == F_HEADERS || d->type == F_PUSH_PROMISE) {
		d->block_len = 0;
		d->block_stream = d->stream;
		d->block_end_stream = d->flags & FLAG_END_STREAM;
		d->block_is_push = d->type == F_PUSH_PROMISE;
	}
}

static void frame_end(struct h2_conn *h, struct h2_dir *d)
{
	struct exchange *x;

	switch (d->type) {
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		if (d->flags & FLAG_END_HEADERS)
			header_block_done(h, d);
		break;
	case F_DATA:
		x = htab_get(h->streams, d->stream);
		if (!x)
			break;
		/* a body that reached its Content-Length is complete: a client
		 * may close before the END_STREAM frame that follows it */
		if (!(d->flags & FLAG_END_STREAM) &&
		    !(!d->client && x->resp_content_length >= 0 &&
		      x->resp.wire >= (uint64_t)x->resp_content_length))
			break;
		if (d->client) {
			exchange_req_end(x, d->ts);
		} else {
			exchange_resp_end(x, d->ts);
			stream_emit(h, d->stream);
		}
		break;
	case F_RST_STREAM:
		x = htab_get(h->streams, d->stream);
		if (x) {
			x->incomplete = true;
			stream_emit(h, d->stream);
		}
		break;
	default:
		break;
	}
}

void h2_feed(struct h2_conn *h, bool client, const uint8_t *data, size_t n, uint64_t ts_ns)
{
	struct h2_dir *d = &h->dir[client ? 1 : 0];

	d->ts = ts_ns;
	while (n && !h->lost) {
		if (d->preface_left) {
			size_t k = n < d->preface_left ? n : d->preface_left;

			d->preface_left -= k;
			data += k;
			n -= k;
			continue;
		}
		if (d->hdr_len < 9) {
			size_t k = 9 - d->hdr_len < n ? 9 - d->hdr_len : n;

			memcpy(d->hdr + d->hdr_len, data, k);
			d->hdr_len += k;
			data += k;
			n -= k;
			if (d->hdr_len == 9)
				frame_begin(h, d);
			else
				continue;
		}
		if (h->lost)
			break;
		{
			size_t k = d->length - d->payload_pos < n ? d->length - d->payload_pos : n;

			frame_payload(h, d, data, k);
			d->payload_pos += (uint32_t)k;
			data += k;
			n -= k;
		}
		if (d->payload_pos == d->length) {
			frame_end(h, d);
			d->hdr_len = 0;
		}
	}
}

void h2_gap(struct h2_conn *h, bool client, uint64_t n)
{
	struct h2_dir *d = &h->dir[client ? 1 : 0];
	struct exchange *x;

	if (h->lost || !n)
		return;
	/* only the payload of a DATA frame can be skipped */
	if (d->hdr_len == 9 && d->type == F_DATA && d->payload_pos + n <= d->length &&
	    !(d->flags & FLAG_PADDED)) {
		x = htab_get(h->streams, d->stream);
		if (x)
			exchange_body_gap(x, !client, n);
		d->payload_pos += (uint32_t)n;
		if (d->payload_pos == d->length) {
			frame_end(h, d);
			d->hdr_len = 0;
		}
		return;
	}
	conn_lose(h);
}

void h2_close(struct h2_conn *h, uint64_t ts_ns)
{
	(void)ts_ns;
	streams_end(h, false);
	h->lost = true;
}

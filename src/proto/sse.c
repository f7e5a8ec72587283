// SPDX-License-Identifier: MIT
/*
 * Streamed response bodies: Server-Sent Events and NDJSON.
 *
 * SSE follows the WHATWG HTML "Interpreting an event stream" algorithm,
 * on bytes: field names are matched byte for byte and values are passed
 * through unchanged (no U+FFFD replacement of invalid UTF-8; the JSON
 * parser behind us judges the text). The parser is a per-line state
 * machine that writes data values straight into the event's data buffer,
 * so only the event being built is held, never a line: comments, "id",
 * "retry" and unknown fields of any length cost nothing.
 *
 * Bounds: an event's data (the data lines joined with "\n") may be at most
 * max_event_bytes long and its type at most SSE_TYPE_MAX bytes; a bigger
 * event is dropped, counted in sse_oversized(), and the parser picks up
 * again with the event after the next blank line. An NDJSON line (without
 * its line end) may be at most max_line_bytes long.
 *
 * Callbacks must not free their parser.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/sse.h"

#define SSE_TYPE_MAX	255
#define BUF_MIN		256

/* Grow a buffer to hold at least want bytes, never past limit. */
static int buf_reserve(char **buf, size_t *cap, size_t want, size_t limit)
{
	size_t ncap;
	char *nbuf;

	if (want <= *cap)
		return 0;
	if (want > limit)
		return -1;
	ncap = *cap ? *cap : BUF_MIN;
	while (ncap < want)
		ncap = ncap > limit / 2 ? limit : ncap * 2;
	if (ncap > limit)
		ncap = limit;
	nbuf = realloc(*buf, ncap);
	if (!nbuf)
		return -1;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

/* ---- Server-Sent Events ---------------------------------------------- */

enum sse_line_state {
	SL_START,	/* nothing of this line seen yet */
	SL_NAME,	/* in the field name */
	SL_VALUE_START,	/* just after the colon: one space may be dropped */
	SL_VALUE,	/* in the value */
};

enum sse_field {
	SF_OTHER,	/* comments, id, retry, unknown names: ignored */
	SF_DATA,
	SF_EVENT,
};

struct sse_parser {
	size_t max;
	sse_event_fn fn;
	void *ctx;
	uint64_t events;
	uint64_t oversized;

	uint8_t bom_len;	/* bytes of a BOM matched at the start */
	bool bom_done;
	bool pending_cr;	/* a piece ended in CR: a LF next is the same line end */
	enum sse_line_state state;
	enum sse_field field;
	char name[8];		/* the longest name we act on is 5 bytes */
	size_t name_len;	/* may pass sizeof(name): then the name is unknown */

	char *data;		/* data lines, each followed by "\n" */
	size_t data_len;
	size_t data_cap;
	bool data_long;		/* the event's data went over max: drop it */
	char type[SSE_TYPE_MAX + 1];
	size_t type_len;
	bool type_long;		/* the event type went over SSE_TYPE_MAX */
};

static const uint8_t utf8_bom[3] = { 0xef, 0xbb, 0xbf };

struct sse_parser *sse_new(size_t max_event_bytes, sse_event_fn fn, void *ctx)
{
	struct sse_parser *p;

	/* room for the data, its last "\n" and a NUL must fit in a size_t */
	if (max_event_bytes > SIZE_MAX - 2)
		max_event_bytes = SIZE_MAX - 2;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->max = max_event_bytes;
	p->fn = fn;
	p->ctx = ctx;
	return p;
}

static void sse_event_reset(struct sse_parser *p)
{
	p->data_len = 0;
	p->data_long = false;
	p->type_len = 0;
	p->type_long = false;
}

/*
 * Append to the data buffer. limit is what the buffer may hold after the
 * append: a value may bring it to max (the "\n" after the last line is
 * stripped at dispatch), a "\n" to max + 1.
 */
static void sse_data_append(struct sse_parser *p, const uint8_t *s, size_t n, size_t limit)
{
	if (p->data_long)
		return;
	if (n > limit - p->data_len ||
	    buf_reserve(&p->data, &p->data_cap, p->data_len + n + 1, p->max + 2)) {
		/* over the bound (or out of memory): drop the event, keep its place */
		p->data_long = true;
		p->data_len = 0;
		return;
	}
	memcpy(p->data + p->data_len, s, n);
	p->data_len += n;
}

static void sse_type_append(struct sse_parser *p, const uint8_t *s, size_t n)
{
	if (p->type_long)
		return;
	if (n > SSE_TYPE_MAX - p->type_len) {
		p->type_long = true;
		p->type_len = 0;
		return;
	}
	memcpy(p->type + p->type_len, s, n);
	p->type_len += n;
}

static enum sse_field sse_field_of(const struct sse_parser *p)
{
	if (p->name_len == 4 && !memcmp(p->name, "data", 4))
		return SF_DATA;
	if (p->name_len == 5 && !memcmp(p->name, "event", 5))
		return SF_EVENT;
	return SF_OTHER;
}

/* A field name is complete: an "event" field replaces the type. */
static void sse_field_begin(struct sse_parser *p)
{
	p->field = sse_field_of(p);
	if (p->field == SF_EVENT) {
		p->type_len = 0;
		p->type_long = false;
	}
}

static void sse_dispatch(struct sse_parser *p)
{
	if (p->data_long) {
		p->oversized++;
	} else if (p->data_len) {
		if (p->type_long) {
			p->oversized++;
		} else {
			size_t len = p->data_len - 1; /* the last "\n" goes */

			p->data[len] = '\0';
			p->type[p->type_len] = '\0';
			p->events++;
			if (p->fn)
				p->fn(p->ctx, p->type_len ? p->type : "message", p->data, len);
		}
	}
	sse_event_reset(p);
}

/* Bytes of one line, without line ends; a line may come in several. */
static void sse_segment(struct sse_parser *p, const uint8_t *s, size_t n)
{
	const uint8_t *colon;
	size_t k;

	while (n) {
		switch (p->state) {
		case SL_START:
			p->name_len = 0;
			p->state = SL_NAME;
			/* fall through */
		case SL_NAME:
			colon = memchr(s, ':', n);
			k = colon ? (size_t)(colon - s) : n;
			if (p->name_len + k <= sizeof(p->name))
				memcpy(p->name + p->name_len, s, k);
			p->name_len = p->name_len + k <= sizeof(p->name) ? p->name_len + k
									 : sizeof(p->name) + 1;
			if (!colon)
				return;
			s += k + 1;
			n -= k + 1;
			/* a line starting with ':' has an empty name: a comment */
			sse_field_begin(p);
			p->state = SL_VALUE_START;
			break;
		case SL_VALUE_START:
			if (*s == ' ') {
				s++;
				n--;
			}
			p->state = SL_VALUE;
			break;
		case SL_VALUE:
			if (p->field == SF_DATA)
				sse_data_append(p, s, n, p->max);
			else if (p->field == SF_EVENT)
				sse_type_append(p, s, n);
			return;
		}
	}
}

static void sse_line_end(struct sse_parser *p)
{
	static const uint8_t lf = '\n';

	switch (p->state) {
	case SL_START:
		sse_dispatch(p); /* a blank line */
		break;
	case SL_NAME:
		/* no colon: the whole line is the name, the value empty */
		sse_field_begin(p);
		/* fall through */
	case SL_VALUE_START:
	case SL_VALUE:
		if (p->field == SF_DATA)
			sse_data_append(p, &lf, 1, p->max + 1);
		break;
	}
	p->state = SL_START;
}

static void sse_bytes(struct sse_parser *p, const uint8_t *buf, size_t n)
{
	size_t i = 0, j;

	if (n && p->pending_cr) {
		p->pending_cr = false;
		if (buf[0] == '\n')
			i = 1;
	}
	while (i < n) {
		for (j = i; j < n && buf[j] != '\n' && buf[j] != '\r'; j++)
			;
		if (j > i)
			sse_segment(p, buf + i, j - i);
		if (j == n)
			break;
		if (buf[j] == '\r') {
			/* CRLF is one line end, even split across pieces */
			if (j + 1 == n)
				p->pending_cr = true;
			else if (buf[j + 1] == '\n')
				j++;
		}
		sse_line_end(p);
		i = j + 1;
	}
}

void sse_feed(struct sse_parser *p, const uint8_t *buf, size_t n)
{
	if (!p || !buf)
		return;
	if (!p->bom_done) {
		/* the BOM may itself arrive split */
		while (n && p->bom_len < sizeof(utf8_bom) && buf[0] == utf8_bom[p->bom_len]) {
			p->bom_len++;
			buf++;
			n--;
		}
		if (p->bom_len == sizeof(utf8_bom)) {
			p->bom_done = true;
		} else if (n) {
			/* not a BOM after all: what matched is text */
			p->bom_done = true;
			sse_bytes(p, utf8_bom, p->bom_len);
		}
	}
	sse_bytes(p, buf, n);
}

void sse_finish(struct sse_parser *p)
{
	if (!p)
		return;
	/* an event without its blank line is discarded; ready for a new stream */
	sse_event_reset(p);
	p->state = SL_START;
	p->pending_cr = false;
	p->bom_len = 0;
	p->bom_done = false;
}

uint64_t sse_events(const struct sse_parser *p)
{
	return p ? p->events : 0;
}

uint64_t sse_oversized(const struct sse_parser *p)
{
	return p ? p->oversized : 0;
}

void sse_free(struct sse_parser *p)
{
	if (!p)
		return;
	free(p->data);
	free(p);
}

/* ---- NDJSON ------------------------------------------------------------ */

struct ndjson_parser {
	size_t max;
	ndjson_line_fn fn;
	void *ctx;
	uint64_t lines;
	uint64_t oversized;
	char *buf;
	size_t len;
	size_t cap;
	bool skipping;		/* the current line went over max: drop it */
};

struct ndjson_parser *ndjson_new(size_t max_line_bytes, ndjson_line_fn fn, void *ctx)
{
	struct ndjson_parser *p;

	/* a CR before the LF and a NUL must fit in a size_t */
	if (max_line_bytes > SIZE_MAX - 2)
		max_line_bytes = SIZE_MAX - 2;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->max = max_line_bytes;
	p->fn = fn;
	p->ctx = ctx;
	return p;
}

static void ndjson_append(struct ndjson_parser *p, const uint8_t *s, size_t n)
{
	if (p->skipping || !n)
		return;
	/* max + 1: a CR that turns out to end the line is not counted */
	if (n > p->max + 1 - p->len ||
	    buf_reserve(&p->buf, &p->cap, p->len + n + 1, p->max + 2)) {
		p->skipping = true;
		p->len = 0;
		return;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
}

static bool blank(const char *s, size_t n)
{
	while (n--) {
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
		s++;
	}
	return true;
}

static void ndjson_line_end(struct ndjson_parser *p)
{
	size_t len = p->len;

	p->len = 0;
	if (p->skipping) {
		p->skipping = false;
		p->oversized++;
		return;
	}
	if (len && p->buf[len - 1] == '\r')
		len--;
	if (len > p->max) {
		p->oversized++;
		return;
	}
	if (blank(p->buf, len))
		return;
	p->buf[len] = '\0';
	p->lines++;
	if (p->fn)
		p->fn(p->ctx, p->buf, len);
}

void ndjson_feed(struct ndjson_parser *p, const uint8_t *buf, size_t n)
{
	const uint8_t *lf;
	size_t k;

	if (!p || !buf)
		return;
	while (n) {
		lf = memchr(buf, '\n', n);
		k = lf ? (size_t)(lf - buf) : n;
		ndjson_append(p, buf, k);
		if (!lf)
			break;
		ndjson_line_end(p);
		buf += k + 1;
		n -= k + 1;
	}
}

void ndjson_finish(struct ndjson_parser *p)
{
	if (!p)
		return;
	if (p->len || p->skipping)
		ndjson_line_end(p);
}

uint64_t ndjson_lines(const struct ndjson_parser *p)
{
	return p ? p->lines : 0;
}

uint64_t ndjson_oversized(const struct ndjson_parser *p)
{
	return p ? p->oversized : 0;
}

void ndjson_free(struct ndjson_parser *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p);
}

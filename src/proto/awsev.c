// SPDX-License-Identifier: MIT
/*
 * AWS event-stream framing (application/vnd.amazon.eventstream); the format
 * is described in awsev.h.
 *
 * A message up to max_msg bytes is gathered whole in one buffer, which
 * grows to the largest such message seen, so the CRC is computed once over
 * contiguous bytes and the payload's NUL can take the place of the message
 * CRC once that is checked. A longer message is skipped with a running CRC
 * instead, costing no memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proto/awsev.h"

#define AWSEV_PRELUDE	12	/* total length, headers length, prelude CRC */
#define AWSEV_OVERHEAD	16	/* the prelude and the message CRC */

enum awsev_state {
	AW_PRELUDE,	/* gathering the 12 prelude bytes */
	AW_BODY,	/* gathering a message into buf */
	AW_SKIP,	/* passing over a message longer than max */
};

struct awsev_parser {
	size_t max;
	awsev_msg_fn fn;
	void *ctx;
	uint64_t messages;
	uint64_t oversized;
	uint64_t bytes;
	bool failed;
	char err[128];

	enum awsev_state state;
	uint8_t pre[AWSEV_PRELUDE];
	size_t pre_len;
	uint32_t total;		/* of the current message */
	uint32_t hlen;

	uint8_t *buf;		/* AW_BODY: the message so far */
	size_t len;
	size_t cap;

	uint32_t skip_left;	/* AW_SKIP: bytes of the message still to come */
	uint32_t crc;		/* AW_SKIP: CRC of the bytes so far */
	uint8_t crc_got[4];	/* AW_SKIP: the message CRC as it arrives */

	char *strs;		/* copies of the string headers we report */
	size_t strs_cap;
};

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t crc32_of(uint32_t crc, const uint8_t *b, size_t n)
{
	/* zlib's crc32() takes a uInt length; messages fit, but be exact */
	while (n) {
		uInt k = n > 0x40000000 ? 0x40000000 : (uInt)n;

		crc = (uint32_t)crc32(crc, b, k);
		b += k;
		n -= k;
	}
	return crc;
}

static int awsev_fail(struct awsev_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int awsev_fail(struct awsev_parser *p, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (p->failed)
		return -1;
	/* messages are numbered from 1, skipped ones included */
	len = snprintf(p->err, sizeof(p->err), "event-stream message %llu: ",
		       (unsigned long long)(p->messages + p->oversized + 1));
	if (len < 0 || (size_t)len >= sizeof(p->err))
		len = 0;
	va_start(ap, fmt);
	vsnprintf(p->err + len, sizeof(p->err) - len, fmt, ap);
	va_end(ap);
	p->failed = true;
	return -1;
}

struct awsev_parser *awsev_new(size_t max_msg, awsev_msg_fn fn, void *ctx)
{
	struct awsev_parser *p;

	if (!max_msg)
		max_msg = AWSEV_MAX_MSG_DEFAULT;
	if (max_msg < AWSEV_OVERHEAD)
		max_msg = AWSEV_OVERHEAD;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->max = max_msg;
	p->fn = fn;
	p->ctx = ctx;
	return p;
}

static int reserve(void *bufp, size_t *cap, size_t want, size_t limit)
{
	void **buf = bufp;
	size_t ncap;
	void *nbuf;

	if (want <= *cap)
		return 0;
	ncap = *cap > limit / 2 ? limit : *cap * 2;
	if (ncap < want)
		ncap = want;
	nbuf = realloc(*buf, ncap);
	if (!nbuf)
		return -1;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

/* The string headers reported in struct awsev_msg. */
static const char **awsev_slot(struct awsev_msg *m, const uint8_t *name, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} slots[] = {
		{ ":message-type", offsetof(struct awsev_msg, message_type) },
		{ ":event-type", offsetof(struct awsev_msg, event_type) },
		{ ":content-type", offsetof(struct awsev_msg, content_type) },
		{ ":exception-type", offsetof(struct awsev_msg, exception_type) },
		{ ":error-code", offsetof(struct awsev_msg, error_code) },
		{ ":error-message", offsetof(struct awsev_msg, error_message) },
	};
	size_t i;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		if (strlen(slots[i].name) == len && !memcmp(slots[i].name, name, len))
			return (const char **)((char *)m + slots[i].off);
	}
	return NULL;
}

/*
 * Walk the headers, copying the interesting string values into p->strs.
 * Each string header takes at least 5 bytes on the wire besides its value
 * and its copy only one more (the NUL), so hlen bytes of strs always do.
 */
static int awsev_headers(struct awsev_parser *p, const uint8_t *h, size_t hlen,
			 struct awsev_msg *m)
{
	size_t off = 0, used = 0, vlen;
	unsigned int idx = 0;
	const uint8_t *name;
	const char **slot;
	uint8_t nlen, type;

	if (reserve(&p->strs, &p->strs_cap, hlen + 1, SIZE_MAX))
		return awsev_fail(p, "out of memory");
	while (off < hlen) {
		idx++;
		nlen = h[off++];
		if (!nlen)
			return awsev_fail(p, "header %u has an empty name", idx);
		if (nlen >= hlen - off)
			return awsev_fail(p, "header %u runs past the headers", idx);
		name = h + off;
		off += nlen;
		type = h[off++];
		switch (type) {
		case 0: /* true */
		case 1: /* false */
			vlen = 0;
			break;
		case 2: /* byte */
			vlen = 1;
			break;
		case 3: /* short */
			vlen = 2;
			break;
		case 4: /* integer */
			vlen = 4;
			break;
		case 5: /* long */
		case 8: /* timestamp */
			vlen = 8;
			break;
		case 9: /* uuid */
			vlen = 16;
			break;
		case 6: /* byte array */
		case 7: /* string */
			if (hlen - off < 2)
				return awsev_fail(p, "header %u runs past the headers", idx);
			vlen = (size_t)h[off] << 8 | h[off + 1];
			off += 2;
			break;
		default:
			return awsev_fail(p, "header %u has unknown value type %u", idx, type);
		}
		if (vlen > hlen - off)
			return awsev_fail(p, "header %u runs past the headers", idx);
		if (type == 7 && (slot = awsev_slot(m, name, nlen))) {
			memcpy(p->strs + used, h + off, vlen);
			p->strs[used + vlen] = '\0';
			*slot = p->strs + used;
			used += vlen + 1;
		}
		off += vlen;
	}
	return 0;
}

/* buf holds a whole message of p->total bytes. */
static int awsev_message(struct awsev_parser *p)
{
	struct awsev_msg m = { 0 };
	uint32_t total = p->total;
	size_t plen = total - AWSEV_OVERHEAD - p->hlen;

	if (crc32_of(0, p->buf, total - 4) != be32(p->buf + total - 4))
		return awsev_fail(p, "message CRC mismatch");
	if (awsev_headers(p, p->buf + AWSEV_PRELUDE, p->hlen, &m))
		return -1;
	m.payload = (const char *)p->buf + AWSEV_PRELUDE + p->hlen;
	m.payload_len = plen;
	/* the byte after the payload is the checked CRC: room for the NUL */
	p->buf[AWSEV_PRELUDE + p->hlen + plen] = '\0';
	p->messages++;
	if (p->fn)
		p->fn(p->ctx, &m);
	return 0;
}

static int awsev_prelude(struct awsev_parser *p)
{
	uint32_t total = be32(p->pre), hlen = be32(p->pre + 4);

	if (crc32_of(0, p->pre, 8) != be32(p->pre + 8))
		return awsev_fail(p, "prelude CRC mismatch");
	if (total < AWSEV_OVERHEAD)
		return awsev_fail(p, "total length %u is under %u", total, AWSEV_OVERHEAD);
	if (hlen > total - AWSEV_OVERHEAD)
		return awsev_fail(p, "headers length %u does not fit a %u byte message", hlen,
				  total);
	p->total = total;
	p->hlen = hlen;
	p->pre_len = 0;
	if (total > p->max) {
		p->state = AW_SKIP;
		p->crc = crc32_of(0, p->pre, AWSEV_PRELUDE);
		p->skip_left = total - AWSEV_PRELUDE;
		return 0;
	}
	if (reserve(&p->buf, &p->cap, total, p->max))
		return awsev_fail(p, "out of memory for %u bytes", total);
	memcpy(p->buf, p->pre, AWSEV_PRELUDE);
	p->len = AWSEV_PRELUDE;
	p->state = AW_BODY;
	return 0;
}

/* Pass over a message too long to keep; its CRC is checked all the same. */
static size_t awsev_skip(struct awsev_parser *p, const uint8_t *buf, size_t n)
{
	size_t k;

	if (p->skip_left > 4) {
		k = p->skip_left - 4;
		if (k > n)
			k = n;
		p->crc = crc32_of(p->crc, buf, k);
	} else {
		k = p->skip_left < n ? p->skip_left : n;
		memcpy(p->crc_got + 4 - p->skip_left, buf, k);
	}
	p->skip_left -= (uint32_t)k; /* k <= skip_left */
	if (!p->skip_left) {
		if (p->crc != be32(p->crc_got)) {
			awsev_fail(p, "message CRC mismatch");
			return k;
		}
		p->oversized++;
		p->state = AW_PRELUDE;
	}
	return k;
}

int awsev_feed(struct awsev_parser *p, const uint8_t *buf, size_t n)
{
	size_t k;

	if (!p)
		return -1;
	if (!buf)
		n = 0;
	p->bytes += n;
	while (n && !p->failed) {
		switch (p->state) {
		case AW_PRELUDE:
			k = AWSEV_PRELUDE - p->pre_len;
			if (k > n)
				k = n;
			memcpy(p->pre + p->pre_len, buf, k);
			p->pre_len += k;
			if (p->pre_len == AWSEV_PRELUDE)
				awsev_prelude(p);
			break;
		case AW_BODY:
			k = p->total - p->len;
			if (k > n)
				k = n;
			memcpy(p->buf + p->len, buf, k);
			p->len += k;
			if (p->len == p->total) {
				p->state = AW_PRELUDE;
				awsev_message(p);
			}
			break;
		case AW_SKIP:
		default:
			k = awsev_skip(p, buf, n);
			break;
		}
		buf += k;
		n -= k;
	}
	return p->failed ? -1 : 0;
}

int awsev_finish(struct awsev_parser *p)
{
	if (!p)
		return -1;
	if (p->failed)
		return -1;
	switch (p->state) {
	case AW_PRELUDE:
		if (!p->pre_len)
			return 0;
		return awsev_fail(p, "stream ended in the prelude (%zu of 12 bytes)", p->pre_len);
	case AW_BODY:
		return awsev_fail(p, "stream ended inside the message (%zu of %u bytes)", p->len,
				  p->total);
	case AW_SKIP:
	default:
		return awsev_fail(p, "stream ended inside the message (%u of %u bytes)",
				  p->total - p->skip_left, p->total);
	}
}

const char *awsev_error(const struct awsev_parser *p)
{
	return p && p->failed ? p->err : NULL;
}

uint64_t awsev_messages(const struct awsev_parser *p)
{
	return p ? p->messages : 0;
}

uint64_t awsev_oversized(const struct awsev_parser *p)
{
	return p ? p->oversized : 0;
}

uint64_t awsev_bytes(const struct awsev_parser *p)
{
	return p ? p->bytes : 0;
}

void awsev_free(struct awsev_parser *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p->strs);
	free(p);
}

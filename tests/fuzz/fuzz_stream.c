// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the incremental body parsers and decoders
 * (src/proto/sse.c, awsev.c, decode.c), fed the same stream twice: once
 * split at positions taken from the input, once whole. Their headers
 * promise that input "may be split anywhere", so both runs must agree
 * (events, decoded bytes, errors); a difference is reported as a crash.
 *
 * Input framing (see tests/fuzz/README.md):
 *
 *   byte 0   bits 0-2  what: 0 SSE, 1 NDJSON, 2 AWS event-stream,
 *                      3 gzip, 4 deflate, 5 br, 6 zstd, 7 identity
 *   byte 1   limit: 0 the size exchange.c uses; else a small bound that
 *            exercises the oversized paths: SSE/NDJSON max = byte 1,
 *            AWS max_msg = byte 1 * 8 (at least 16), decoder out_cap = byte 1 * 64
 *   byte 2   k = byte 2 % 16 piece sizes follow, 2 bytes each (u16 LE);
 *            the stream is fed in pieces of those sizes, cycling through
 *            them (a 0 is an empty feed) until it is used up
 *   rest     the stream
 *
 * Every run also parses a Content-Encoding value made of the first bytes
 * of the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto/awsev.h"
#include "proto/decode.h"
#include "proto/sse.h"

/* What a run saw: comparable between the split and the whole feed. */
struct seen {
	uint64_t hash;
	uint64_t calls;
	uint64_t bytes;
	size_t cap;      /* decoders: bytes the sink may get at most */
};

static void seen_init(struct seen *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->hash = FUZZ_HASH_INIT;
	s->cap = cap;
}

static void seen_str(struct seen *s, const char *p, size_t n)
{
	s->hash = fuzz_hash(s->hash, &n, sizeof(n));
	s->hash = fuzz_hash(s->hash, p, n);
}

static void on_sse(void *ctx, const char *event, const char *d, size_t n)
{
	struct seen *s = ctx;

	FUZZ_CHECK(event && d, "NULL event or data");
	FUZZ_CHECK(d[n] == '\0', "SSE data not NUL-terminated");
	/* event may be "" here: an "event:" value starting with a NUL byte is a
	 * type the stream gave, passed on as a C string */
	s->calls++;
	seen_str(s, event, strlen(event));
	seen_str(s, d, n);
}

static void on_line(void *ctx, const char *line, size_t n)
{
	struct seen *s = ctx;

	FUZZ_CHECK(line[n] == '\0', "NDJSON line not NUL-terminated");
	FUZZ_CHECK(!memchr(line, '\n', n), "newline inside an NDJSON line");
	s->calls++;
	seen_str(s, line, n);
}

static void aws_str(struct seen *s, const char *v)
{
	if (v)
		seen_str(s, v, strlen(v));
	else
		s->hash = fuzz_hash(s->hash, "-", 1);
}

static void on_aws(void *ctx, const struct awsev_msg *m)
{
	struct seen *s = ctx;

	FUZZ_CHECK(m->payload && m->payload[m->payload_len] == '\0',
		   "AWS payload not NUL-terminated");
	s->calls++;
	aws_str(s, m->message_type);
	aws_str(s, m->event_type);
	aws_str(s, m->content_type);
	aws_str(s, m->exception_type);
	aws_str(s, m->error_code);
	aws_str(s, m->error_message);
	seen_str(s, m->payload, m->payload_len);
}

static void on_decoded(void *ctx, const uint8_t *out, size_t n)
{
	struct seen *s = ctx;

	FUZZ_CHECK(n > 0, "empty sink call");
	s->calls++;
	s->bytes += n;
	FUZZ_CHECK(s->bytes <= s->cap, "sink got %llu bytes, cap %zu",
		   (unsigned long long)s->bytes, s->cap);
	s->hash = fuzz_hash(s->hash, out, n);
}

/* Piece sizes, cycled; a round of only empty pieces feeds the rest. */
struct splitter {
	const uint16_t *sizes;
	unsigned k, i;
	bool any;
};

static size_t next_piece(struct splitter *sp, size_t left)
{
	size_t n;

	if (!sp->k)
		return left;
	n = sp->sizes[sp->i++];
	if (n)
		sp->any = true;
	if (sp->i == sp->k) {
		sp->i = 0;
		if (!sp->any)
			sp->k = 0; /* all zero: the rest in one piece next time */
	}
	return n < left ? n : left;
}

enum what { W_SSE, W_NDJSON, W_AWS, W_GZIP, W_DEFLATE, W_BR, W_ZSTD, W_IDENTITY };

struct result {
	struct seen seen;
	uint64_t count, oversized;
	int feed_rc, finish_rc;
	bool failed;
	uint64_t total_in, total_out;
	bool capped;
};

/* Feed s[0..n) in the pieces sp gives (whole when sp has none); a copy of
 * each piece, exactly its size, so that ASan sees reads past it. */
#define FEED(call)                                                                             \
	do {                                                                                   \
		size_t left_ = n;                                                              \
		const uint8_t *p_ = s;                                                         \
		do {                                                                           \
			size_t k_ = next_piece(sp, left_);                                     \
			uint8_t *piece = fuzz_memdup(p_, k_);                                  \
			size_t piece_n = k_;                                                   \
			call;                                                                  \
			free(piece);                                                           \
			p_ += k_;                                                              \
			left_ -= k_;                                                           \
		} while (left_);                                                               \
	} while (0)

static void run(enum what w, uint8_t limit, const uint8_t *s, size_t n, struct splitter *sp,
		struct result *r)
{
	memset(r, 0, sizeof(*r));
	seen_init(&r->seen, SIZE_MAX);
	switch (w) {
	case W_SSE: {
		struct sse_parser *p = sse_new(limit ? limit : 256u << 10, on_sse, &r->seen);

		if (!p)
			abort();
		FEED(sse_feed(p, piece, piece_n));
		sse_finish(p);
		r->count = sse_events(p);
		r->oversized = sse_oversized(p);
		FUZZ_CHECK(r->count == r->seen.calls, "sse_events %llu, callbacks %llu",
			   (unsigned long long)r->count, (unsigned long long)r->seen.calls);
		sse_free(p);
		break;
	}
	case W_NDJSON: {
		struct ndjson_parser *p = ndjson_new(limit ? limit : 256u << 10, on_line, &r->seen);

		if (!p)
			abort();
		FEED(ndjson_feed(p, piece, piece_n));
		ndjson_finish(p);
		r->count = ndjson_lines(p);
		r->oversized = ndjson_oversized(p);
		FUZZ_CHECK(r->count == r->seen.calls, "ndjson_lines %llu, callbacks %llu",
			   (unsigned long long)r->count, (unsigned long long)r->seen.calls);
		ndjson_free(p);
		break;
	}
	case W_AWS: {
		struct awsev_parser *p = awsev_new(limit ? (size_t)limit * 8 : 256u << 10, on_aws, &r->seen);

		if (!p)
			abort();
		FEED(r->feed_rc |= awsev_feed(p, piece, piece_n));
		r->failed = awsev_error(p) != NULL;
		FUZZ_CHECK(r->failed == (r->feed_rc != 0), "awsev_feed rc vs awsev_error");
		r->finish_rc = awsev_finish(p);
		r->count = awsev_messages(p);
		r->oversized = awsev_oversized(p);
		r->total_in = awsev_bytes(p);
		FUZZ_CHECK(r->total_in == n, "awsev_bytes %llu of %zu",
			   (unsigned long long)r->total_in, n);
		FUZZ_CHECK(r->count == r->seen.calls, "awsev_messages vs callbacks");
		FUZZ_CHECK(r->finish_rc == 0 || awsev_error(p), "finish failed without an error");
		awsev_free(p);
		break;
	}
	default: {
		static const enum content_encoding encs[] = {
			[W_GZIP] = ENC_GZIP, [W_DEFLATE] = ENC_DEFLATE, [W_BR] = ENC_BR,
			[W_ZSTD] = ENC_ZSTD, [W_IDENTITY] = ENC_IDENTITY,
		};
		/* exchange.c's cap is EXCHANGE_BODY_CAP * 8 */
		size_t cap = limit ? (size_t)limit * 64 : (8u << 20);
		struct decoder *d;

		r->seen.cap = cap;
		d = decoder_new(encs[w], cap, on_decoded, &r->seen);
		if (!d)
			abort();
		FEED(r->feed_rc |= decoder_feed(d, piece, piece_n));
		r->failed = decoder_error(d) != NULL;
		FUZZ_CHECK(r->failed == (r->feed_rc != 0), "decoder_feed rc vs decoder_error");
		r->finish_rc = decoder_finish(d);
		r->total_in = decoder_total_in(d);
		r->total_out = decoder_total_out(d);
		r->capped = decoder_capped(d);
		FUZZ_CHECK(r->total_in == n, "decoder_total_in %llu of %zu",
			   (unsigned long long)r->total_in, n);
		FUZZ_CHECK(r->total_out >= r->seen.bytes, "total_out under delivered");
		FUZZ_CHECK(r->seen.bytes == (r->total_out < cap ? r->total_out : cap),
			   "delivered %llu, total_out %llu, cap %zu",
			   (unsigned long long)r->seen.bytes, (unsigned long long)r->total_out,
			   cap);
		FUZZ_CHECK(r->capped == (r->total_out > cap), "capped flag");
		FUZZ_CHECK(r->finish_rc == 0 || decoder_error(d), "finish failed without an error");
		decoder_free(d);
		break;
	}
	}
}

static const char *const what_names[] = { "sse",  "ndjson", "awsev", "gzip",
					  "deflate", "br", "zstd", "identity" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t sizes[16];
	struct splitter split = { 0 }, whole = { 0 };
	struct result a, b;
	enum what w;
	uint8_t limit;
	unsigned k;
	const uint8_t *s;
	size_t n;

	if (size < 3)
		return 0;
	w = (enum what)(data[0] & 7);
	limit = data[1];
	k = data[2] % 16;
	if (size < 3 + 2 * (size_t)k)
		return 0;
	for (unsigned i = 0; i < k; i++)
		sizes[i] = (uint16_t)(data[3 + 2 * i] | data[4 + 2 * i] << 8);
	s = data + 3 + 2 * k;
	n = size - 3 - 2 * k;

	(void)content_encoding_name(content_encoding_parse((const char *)s, n < 24 ? n : 24));

	split.sizes = sizes;
	split.k = k;
	run(w, limit, s, n, &split, &a);
	run(w, limit, s, n, &whole, &b);

#define SAME(field)                                                                            \
	FUZZ_CHECK(a.field == b.field, "%s split/whole differ in " #field ": %llu vs %llu",     \
		   what_names[w], (unsigned long long)a.field, (unsigned long long)b.field)
	/* whether the stream is corrupt does not depend on the pieces */
	SAME(failed);
	SAME(finish_rc);
	/*
	 * What came out of a corrupt encoded stream before the error was found
	 * may: libbrotli, for one, hands over decoded bytes when it runs out of
	 * input but not when it meets an error, so the bytes delivered before
	 * a failure are compared only when nothing failed. The event parsers
	 * deliver whole events only, failure or not.
	 */
	if (w < W_GZIP || !a.failed) {
		SAME(seen.hash);
		if (w < W_GZIP)
			SAME(seen.calls); /* events; a decoder's sink calls depend on the pieces */
		SAME(seen.bytes);
		SAME(count);
		SAME(oversized);
		SAME(total_out);
		SAME(capped);
	}
	return 0;
}

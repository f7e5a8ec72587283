// SPDX-License-Identifier: MIT
/*
 * HTTP content decoding (Content-Encoding), streaming: encoded bytes arrive
 * in whatever pieces the connection gave us and decoded bytes go to a sink
 * in order.
 *
 * Cap semantics. The sink receives at most out_cap decoded bytes. Past the
 * cap the decoder keeps decoding into its scratch buffer only to count, so
 * decoder_total_out() is the exact decoded size and decoder_finish() can
 * still tell a complete stream from a truncated or corrupt one; memory stays
 * fixed (one scratch buffer) whatever the stream expands to. To bound the
 * CPU a compression bomb can cost, counting stops at DECODE_OUT_LIMIT
 * decoded bytes (or out_cap if larger): the decoder then fails with an
 * error that says so, and total_out is a lower bound. Identity is exempt:
 * it amplifies nothing. decoder_capped() is true as soon as total_out
 * exceeds out_cap.
 *
 * Per coding:
 *  - gzip: zlib with the gzip wrapper only; concatenated members (RFC 1952
 *    allows them, gzip(1) decodes them) are decoded one after the other.
 *  - deflate: RFC 9110 says zlib-wrapped (RFC 1950), but some servers send
 *    raw deflate (RFC 1951). The first two bytes decide: a valid zlib
 *    header (CM 8, CINFO <= 7, FCHECK) means zlib, anything else raw. Raw
 *    streams in practice never look like a zlib header: a raw stream
 *    starting with 0x?8 would be a non-final stored block with non-zero
 *    padding bits, which no encoder writes.
 *  - br: libbrotlidec; the window is at most 16 MiB by the format.
 *  - zstd: libzstd streaming; several frames (and skippable frames) in a
 *    row; windows over 8 MiB are refused, as RFC 9659 lets a decoder do
 *    for HTTP, so one response cannot make us allocate 128 MiB.
 * An empty body (nothing fed) counts as complete: servers send
 * Content-Encoding on empty 204/304/HEAD responses.
 * Bytes after the end of a deflate or br stream, or garbage after a gzip
 * member, are corrupt input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>
#include <brotli/decode.h>
#include <zstd.h>

#include "proto/decode.h"

#define DECODE_CHUNK		16384
/* Decoded bytes counted at most; far above any real LLM response. */
#define DECODE_OUT_LIMIT	(1ULL << 30)
/* RFC 9659: zstd Content-Encoding windows are limited to 8 MiB. */
#define DECODE_ZSTD_WINDOW_LOG	23

struct decoder {
	enum content_encoding enc;
	size_t out_cap;
	uint64_t out_limit;
	decode_sink_fn sink;
	void *ctx;
	uint64_t total_in;
	uint64_t total_out;
	bool failed;
	/*
	 * The encoded stream is at a point where it may end: gzip between
	 * members, deflate/br after their end, zstd between frames.
	 */
	bool at_end;
	/* br: the stream ended; no more input may follow. */
	bool ended;
	unsigned int members;	/* gzip members started */
	/* deflate: zlib or raw is decided on the first two bytes; the first
	 * is held here until the second arrives. */
	bool deflate_undecided;
	bool deflate_held;
	uint8_t deflate_first;
	union {
		z_stream z;
		BrotliDecoderState *br;
		ZSTD_DStream *zs;
	} u;
	bool z_live;		/* inflateInit2 succeeded; inflateEnd needed */
	char err[128];
	uint8_t buf[DECODE_CHUNK];
};

enum content_encoding content_encoding_parse(const char *value, size_t len)
{
	static const struct {
		const char *name;
		enum content_encoding enc;
	} names[] = {
		{ "identity", ENC_IDENTITY },
		{ "gzip", ENC_GZIP },
		{ "x-gzip", ENC_GZIP },	/* RFC 9110 8.4.1.3: same as gzip */
		{ "deflate", ENC_DEFLATE },
		{ "br", ENC_BR },
		{ "zstd", ENC_ZSTD },
	};
	size_t i;

	if (!value)
		return ENC_IDENTITY;
	while (len && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
		       value[len - 1] == '\r' || value[len - 1] == '\n'))
		len--;
	if (!len)
		return ENC_IDENTITY;
	/* A list ("gzip, br") means several codings applied in turn: not decoded. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == len && !strncasecmp(value, names[i].name, len))
			return names[i].enc;
	}
	return ENC_UNSUPPORTED;
}

const char *content_encoding_name(enum content_encoding enc)
{
	switch (enc) {
	case ENC_IDENTITY:
		return "identity";
	case ENC_GZIP:
		return "gzip";
	case ENC_DEFLATE:
		return "deflate";
	case ENC_BR:
		return "br";
	case ENC_ZSTD:
		return "zstd";
	case ENC_UNSUPPORTED:
		break;
	}
	return "unsupported";
}

static int decoder_fail(struct decoder *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int decoder_fail(struct decoder *d, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (d->failed)
		return -1;
	len = snprintf(d->err, sizeof(d->err), "%s: ", content_encoding_name(d->enc));
	if (len < 0 || (size_t)len >= sizeof(d->err))
		len = 0;
	va_start(ap, fmt);
	vsnprintf(d->err + len, sizeof(d->err) - len, fmt, ap);
	va_end(ap);
	d->failed = true;
	return -1;
}

/* Hand decoded bytes to the sink up to the cap; count all of them. */
static int decoder_emit(struct decoder *d, const uint8_t *out, size_t n)
{
	if (!n)
		return 0;
	if (d->total_out < d->out_cap) {
		uint64_t room = d->out_cap - d->total_out;
		size_t give = n < room ? n : (size_t)room;

		if (d->sink)
			d->sink(d->ctx, out, give);
	}
	d->total_out += n;
	if (d->total_out > d->out_limit)
		return decoder_fail(d, "decoded output over %llu bytes, stopped (compression bomb?)",
				    (unsigned long long)d->out_limit);
	return 0;
}

struct decoder *decoder_new(enum content_encoding enc, size_t out_cap, decode_sink_fn sink,
			    void *ctx)
{
	struct decoder *d;
	int ret;

	if (enc < ENC_IDENTITY || enc >= ENC_UNSUPPORTED)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->enc = enc;
	d->out_cap = out_cap;
	d->out_limit = out_cap > DECODE_OUT_LIMIT ? out_cap : DECODE_OUT_LIMIT;
	if (enc == ENC_IDENTITY)
		d->out_limit = UINT64_MAX;
	d->sink = sink;
	d->ctx = ctx;

	switch (enc) {
	case ENC_GZIP:
	case ENC_DEFLATE:
		/* deflate starts as zlib and is reset to raw if the header says so */
		ret = inflateInit2(&d->u.z, enc == ENC_GZIP ? 16 + MAX_WBITS : MAX_WBITS);
		if (ret != Z_OK)
			goto fail;
		d->z_live = true;
		d->deflate_undecided = enc == ENC_DEFLATE;
		/* gzip: the first member starts on the first byte */
		d->at_end = enc == ENC_GZIP;
		break;
	case ENC_BR:
		d->u.br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
		if (!d->u.br)
			goto fail;
		break;
	case ENC_ZSTD:
		d->u.zs = ZSTD_createDStream();
		if (!d->u.zs)
			goto fail;
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->u.zs, ZSTD_d_windowLogMax,
							DECODE_ZSTD_WINDOW_LOG)))
			goto fail;
		break;
	default:
		break;
	}
	return d;
fail:
	decoder_free(d);
	return NULL;
}

/* RFC 1950 header: CM 8 (deflate), CINFO <= 7 (32K window), FCHECK. */
static bool zlib_header_valid(uint8_t cmf, uint8_t flg)
{
	return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

static int zlib_feed_slice(struct decoder *d, const uint8_t *in, uInt n)
{
	z_stream *z = &d->u.z;
	int ret;

	z->next_in = (Bytef *)in;
	z->avail_in = n;
	for (;;) {
		if (d->at_end) {
			if (!z->avail_in)
				break;
			if (d->enc != ENC_GZIP)
				return decoder_fail(d, "data after the end of the stream");
			/* the next gzip member */
			if (inflateReset(z) != Z_OK)
				return decoder_fail(d, "inflateReset failed");
			d->members++;
			d->at_end = false;
		}
		z->next_out = d->buf;
		z->avail_out = sizeof(d->buf);
		ret = inflate(z, Z_NO_FLUSH);
		if (decoder_emit(d, d->buf, sizeof(d->buf) - z->avail_out))
			return -1;
		switch (ret) {
		case Z_OK:
			break;
		case Z_STREAM_END:
			d->at_end = true;
			break;
		case Z_BUF_ERROR:
			/* no progress possible: fine once the input is used up */
			if (z->avail_in)
				return decoder_fail(d, "no progress");
			break;
		case Z_NEED_DICT:
			return decoder_fail(d, "needs a preset dictionary");
		case Z_MEM_ERROR:
			return decoder_fail(d, "out of memory");
		default:
			if (d->members > 1)
				return decoder_fail(d, "member %u: %s", d->members,
						    z->msg ? z->msg : "corrupt data");
			return decoder_fail(d, "%s", z->msg ? z->msg : "corrupt data");
		}
		/* A full output buffer may leave more output pending in zlib. */
		if (!z->avail_in && z->avail_out)
			break;
	}
	return 0;
}

/* zlib counts input in uInt: feed a size_t's worth in slices. */
static int zlib_feed(struct decoder *d, const uint8_t *in, size_t n)
{
	while (n) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;

		if (zlib_feed_slice(d, in, k))
			return -1;
		in += k;
		n -= k;
	}
	return 0;
}

static int deflate_feed(struct decoder *d, const uint8_t *in, size_t n)
{
	uint8_t first;

	if (!d->deflate_undecided)
		return zlib_feed(d, in, n);
	if (!d->deflate_held) {
		/* the first byte: hold it until the second arrives */
		d->deflate_first = in[0];
		d->deflate_held = true;
		in++;
		n--;
		if (!n)
			return 0;
	}
	d->deflate_undecided = false;
	d->deflate_held = false;
	first = d->deflate_first;
	if (!zlib_header_valid(first, in[0]) && inflateReset2(&d->u.z, -MAX_WBITS) != Z_OK)
		return decoder_fail(d, "inflateReset2 failed");
	if (zlib_feed(d, &first, 1))
		return -1;
	return zlib_feed(d, in, n);
}

/* libbrotli names its errors tersely ("PADDING_2"): say which kind. */
static int brotli_fail(struct decoder *d)
{
	BrotliDecoderErrorCode code = BrotliDecoderGetErrorCode(d->u.br);
	const char *name = BrotliDecoderErrorString(code);

	if (code <= BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_NIBBLE &&
	    code >= BROTLI_DECODER_ERROR_FORMAT_BLOCK_SWITCH)
		return decoder_fail(d, "invalid data (%s)", name);
	if (code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
	    code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES)
		return decoder_fail(d, "out of memory (%s)", name);
	return decoder_fail(d, "error %d (%s)", (int)code, name);
}

static int brotli_feed(struct decoder *d, const uint8_t *in, size_t n)
{
	BrotliDecoderResult ret;
	size_t avail_in = n;
	const uint8_t *next_in = in;

	if (d->ended)
		return decoder_fail(d, "data after the end of the stream");
	d->at_end = false;
	do {
		size_t avail_out = sizeof(d->buf);
		uint8_t *next_out = d->buf;

		ret = BrotliDecoderDecompressStream(d->u.br, &avail_in, &next_in, &avail_out,
						    &next_out, NULL);
		if (decoder_emit(d, d->buf, sizeof(d->buf) - avail_out))
			return -1;
		if (ret == BROTLI_DECODER_RESULT_ERROR)
			return brotli_fail(d);
	} while (ret == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
	if (ret == BROTLI_DECODER_RESULT_SUCCESS) {
		d->at_end = true;
		d->ended = true;
		if (avail_in)
			return decoder_fail(d, "data after the end of the stream");
	}
	return 0;
}

static int zstd_feed(struct decoder *d, const uint8_t *in, size_t n)
{
	ZSTD_inBuffer zin = { in, n, 0 };
	size_t ret;

	for (;;) {
		ZSTD_outBuffer zout = { d->buf, sizeof(d->buf), 0 };
		size_t before = zin.pos;

		ret = ZSTD_decompressStream(d->u.zs, &zout, &zin);
		if (ZSTD_isError(ret))
			return decoder_fail(d, "%s", ZSTD_getErrorName(ret));
		if (decoder_emit(d, d->buf, zout.pos))
			return -1;
		/* 0: a frame is complete and flushed; another may follow */
		d->at_end = ret == 0;
		/* a full output buffer may leave more output pending */
		if (zin.pos == zin.size && (ret == 0 || zout.pos < zout.size))
			break;
		if (zin.pos == before && !zout.pos)
			return decoder_fail(d, "no progress");
	}
	return 0;
}

int decoder_feed(struct decoder *d, const uint8_t *in, size_t n)
{
	if (!d)
		return -1;
	if (!in)
		n = 0;
	d->total_in += n; /* the encoded size on the wire, even once ignored */
	if (d->failed)
		return -1;
	if (!n)
		return 0;
	switch (d->enc) {
	case ENC_IDENTITY:
		d->at_end = true;
		return decoder_emit(d, in, n);
	case ENC_GZIP:
		return zlib_feed(d, in, n);
	case ENC_DEFLATE:
		return deflate_feed(d, in, n);
	case ENC_BR:
		return brotli_feed(d, in, n);
	case ENC_ZSTD:
		return zstd_feed(d, in, n);
	default:
		return decoder_fail(d, "unsupported coding");
	}
}

int decoder_finish(struct decoder *d)
{
	if (!d)
		return -1;
	if (d->failed)
		return -1;
	if (!d->total_in)
		return 0; /* an empty body: nothing was cut short */
	if (!d->at_end)
		return decoder_fail(d, "stream truncated after %llu bytes",
				    (unsigned long long)d->total_in);
	return 0;
}

uint64_t decoder_total_in(const struct decoder *d)
{
	return d ? d->total_in : 0;
}

uint64_t decoder_total_out(const struct decoder *d)
{
	return d ? d->total_out : 0;
}

bool decoder_capped(const struct decoder *d)
{
	return d && d->total_out > d->out_cap;
}

const char *decoder_error(const struct decoder *d)
{
	return d && d->failed ? d->err : NULL;
}

void decoder_free(struct decoder *d)
{
	if (!d)
		return;
	switch (d->enc) {
	case ENC_GZIP:
	case ENC_DEFLATE:
		if (d->z_live)
			inflateEnd(&d->u.z);
		break;
	case ENC_BR:
		if (d->u.br)
			BrotliDecoderDestroyInstance(d->u.br);
		break;
	case ENC_ZSTD:
		ZSTD_freeDStream(d->u.zs);
		break;
	default:
		break;
	}
	free(d);
}

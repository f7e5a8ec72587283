// SPDX-License-Identifier: MIT
/*
 * Content-Encoding decoding: round trips through zlib and zstd encoders run
 * here, brotli streams made beforehand (only the decoder is linked), every
 * input fed in one piece, in 1-byte pieces and split at every boundary;
 * concatenated gzip members and zstd frames, zlib and raw deflate, the
 * output cap against a compression bomb, corrupt and truncated streams and
 * Content-Encoding header values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <zlib.h>
#include <zstd.h>

#include "proto/decode.h"

/*
 * 100 lines "line %d: the quick brown fox jumps over the lazy dog\n", i = 0..99
 * (5290 bytes), made by:
 *   python3 -c "import sys; sys.stdout.write(''.join('line %d: the quick brown \
 *     fox jumps over the lazy dog\n' % i for i in range(100)))" | brotli -q 11 -c
 * with brotli 1.0.9 (Debian 12 package "brotli").
 */
static const uint8_t br_lines[] = {
	0xd1, 0x48, 0xa5, 0x00, 0xe0, 0x4c, 0xb0, 0x71, 0x42, 0xbd, 0xbb, 0xe1,
	0xa9, 0xb2, 0x29, 0xed, 0xfa, 0x76, 0x70, 0x9a, 0xa0, 0x68, 0x90, 0x33,
	0x3c, 0x3d, 0x15, 0xf6, 0xd6, 0x20, 0x0a, 0x73, 0x79, 0x31, 0x62, 0x07,
	0x60, 0xc3, 0x43, 0x28, 0x81, 0x20, 0x4b, 0x34, 0xf0, 0xf7, 0x18, 0xeb,
	0xdb, 0x92, 0x94, 0x61, 0x5a, 0xec, 0xa5, 0x9e, 0xdb, 0x91, 0x7b, 0x1e,
	0xbd, 0x6f, 0xf2, 0x9c, 0x71, 0xfb, 0x7f, 0xdf, 0xdb, 0x74, 0x1a, 0x9a,
	0x5a, 0xda, 0x3a, 0xba, 0xf5, 0xe8, 0xd5, 0x37, 0x8f, 0x32, 0x8c, 0x03,
	0x9c, 0x5c, 0xdc, 0x3c, 0xbc, 0xf9, 0xf0, 0xd5, 0x97, 0xb3, 0x38, 0x38,
	0xb9, 0xb8, 0x79, 0x78, 0xf3, 0xe1, 0xab, 0x2f, 0x57, 0x71, 0x70, 0x72,
	0x71, 0xf3, 0xf0, 0xe6, 0xc3, 0x57, 0x5f, 0xee, 0xe2, 0xe0, 0xe4, 0xe2,
	0xe6, 0xe1, 0xcd, 0x87, 0xaf, 0xbe, 0x3c, 0xc5, 0xc1, 0xc9, 0xc5, 0xcd,
	0xc3, 0x9b, 0x0f, 0x5f, 0x7d, 0x79, 0x17, 0x07, 0x27, 0x17, 0x37, 0x0f,
	0x6f, 0x3e, 0x7c, 0xf5, 0xe5, 0x53, 0x1c, 0x9c, 0x5c, 0xdc, 0x3c, 0xbc,
	0xf9, 0xf0, 0xd5, 0x97, 0x6f, 0x71, 0x70, 0x72, 0x71, 0xf3, 0xf0, 0xe6,
	0xc3, 0x57, 0x5f, 0x7e, 0xc5, 0xc1, 0xc9, 0xc5, 0xcd, 0xc3, 0x9b, 0x0f,
	0x5f, 0x78
};
/* 10485760 zero bytes: head -c 10485760 /dev/zero | brotli -q 11 -c */
static const uint8_t br_zeros[] = {
	0x9f, 0xff, 0xff, 0x9f, 0xf8, 0x27, 0x00, 0xe2, 0xb1, 0x40, 0x20, 0xf7,
	0xfe, 0x13
};
/* the empty input: printf '' | brotli -c */
static const uint8_t br_empty[] = { 0x3f };

#define ZEROS_LEN (10u << 20)

struct sink {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t calls;
};

static void sink_put(void *ctx, const uint8_t *out, size_t n)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, out, n);
	s->len += n;
}

static void sink_reset(struct sink *s)
{
	s->len = 0;
	s->calls = 0;
}

static void sink_free(struct sink *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* Deterministic text that is not trivially compressible. */
static uint8_t *text_make(size_t n)
{
	uint8_t *t = malloc(n);
	uint32_t x = 12345;
	size_t i;

	assert_non_null(t);
	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		t[i] = (i % 61 == 60) ? '\n' : "abcdefghij klmnop {\"x\":1}"[(x >> 16) % 25];
	}
	return t;
}

static uint8_t *lines_make(size_t *n)
{
	char *t = malloc(8192);
	size_t len = 0;
	int i;

	assert_non_null(t);
	for (i = 0; i < 100; i++)
		len += sprintf(t + len, "line %d: the quick brown fox jumps over the lazy dog\n", i);
	*n = len;
	return (uint8_t *)t;
}

/* zlib's encoder; wbits 16 + 15 gzip, 15 zlib, -15 raw deflate. */
static uint8_t *z_compress(int wbits, const uint8_t *in, size_t n, size_t *out_len)
{
	size_t cap = n + n / 10 + 1024;
	uint8_t *out = malloc(cap);
	z_stream z;

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = n;
	z.next_out = out;
	z.avail_out = cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static uint8_t *zstd_compress(const uint8_t *in, size_t n, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(n);
	uint8_t *out = malloc(cap);
	size_t r;

	assert_non_null(out);
	r = ZSTD_compress(out, cap, in, n, 19);
	assert_false(ZSTD_isError(r));
	*out_len = r;
	return out;
}

static uint8_t *concat(const uint8_t *a, size_t na, const uint8_t *b, size_t nb, size_t *n)
{
	uint8_t *c = malloc(na + nb);

	assert_non_null(c);
	memcpy(c, a, na);
	memcpy(c + na, b, nb);
	*n = na + nb;
	return c;
}

/* Decode in pieces of `piece` bytes (0: all at once); returns finish's answer. */
static int decode_pieces(enum content_encoding enc, const uint8_t *in, size_t n, size_t piece,
			 size_t cap, struct sink *s, char *err, size_t errlen)
{
	struct decoder *d = decoder_new(enc, cap, sink_put, s);
	size_t off, k;
	int ret = 0, r;

	assert_non_null(d);
	sink_reset(s);
	if (!piece)
		piece = n ? n : 1;
	for (off = 0; off < n; off += k) {
		k = n - off < piece ? n - off : piece;
		r = decoder_feed(d, in + off, k);
		if (r)
			ret = r;
	}
	assert_int_equal(decoder_total_in(d), n);
	r = decoder_finish(d);
	if (r)
		ret = r;
	if (ret)
		assert_non_null(decoder_error(d));
	else
		assert_null(decoder_error(d));
	if (err) {
		snprintf(err, errlen, "%s", decoder_error(d) ? decoder_error(d) : "");
	}
	if (!ret) {
		assert_int_equal(decoder_total_out(d), s->len);
		assert_false(decoder_capped(d));
	}
	decoder_free(d);
	return ret;
}

/* One piece, 1-byte pieces, odd pieces, and two pieces split at every byte. */
static void check_round_trip(enum content_encoding enc, const uint8_t *enc_buf, size_t enc_len,
			     const uint8_t *plain, size_t plain_len, bool every_split)
{
	static const size_t pieces[] = { 0, 1, 2, 3, 7, 100, 4096 };
	struct sink s = { 0 };
	size_t i;

	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		assert_int_equal(decode_pieces(enc, enc_buf, enc_len, pieces[i], SIZE_MAX, &s, NULL, 0),
				 0);
		assert_int_equal(s.len, plain_len);
		assert_memory_equal(s.buf, plain, plain_len);
	}
	for (i = 0; every_split && i <= enc_len; i++) {
		struct decoder *d = decoder_new(enc, SIZE_MAX, sink_put, &s);

		sink_reset(&s);
		assert_int_equal(decoder_feed(d, enc_buf, i), 0);
		assert_int_equal(decoder_feed(d, enc_buf + i, enc_len - i), 0);
		assert_int_equal(decoder_finish(d), 0);
		assert_int_equal(s.len, plain_len);
		assert_memory_equal(s.buf, plain, plain_len);
		assert_int_equal(decoder_total_out(d), plain_len);
		decoder_free(d);
	}
	sink_free(&s);
}

/* Every strict prefix of a complete stream is reported as cut short. */
static void check_truncations(enum content_encoding enc, const uint8_t *in, size_t n)
{
	struct sink s = { 0 };
	char err[128];
	size_t i;

	for (i = 1; i < n; i++) {
		assert_int_equal(decode_pieces(enc, in, i, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
		if (!strstr(err, "truncated")) {
			/* a prefix can also be malformed only once decoded (never silent) */
			fail_msg("prefix %zu of %zu: '%s', expected 'truncated'", i, n, err);
		}
	}
	sink_free(&s);
}

static void test_header_parse(void **state)
{
	static const struct {
		const char *v;
		enum content_encoding want;
	} cases[] = {
		{ "gzip", ENC_GZIP },
		{ "GZIP", ENC_GZIP },
		{ "x-gzip", ENC_GZIP },
		{ "X-Gzip", ENC_GZIP },
		{ " br ", ENC_BR },
		{ "\tbr", ENC_BR },
		{ "BR", ENC_BR },
		{ "deflate", ENC_DEFLATE },
		{ "Deflate ", ENC_DEFLATE },
		{ "zstd", ENC_ZSTD },
		{ "ZStd", ENC_ZSTD },
		{ "identity", ENC_IDENTITY },
		{ "IDENTITY", ENC_IDENTITY },
		{ "", ENC_IDENTITY },
		{ "   ", ENC_IDENTITY },
		{ "gzip, br", ENC_UNSUPPORTED },
		{ "gzip,gzip", ENC_UNSUPPORTED },
		{ "compress", ENC_UNSUPPORTED },
		{ "x-compress", ENC_UNSUPPORTED },
		{ "gzipx", ENC_UNSUPPORTED },
		{ "gzi", ENC_UNSUPPORTED },
		{ "g zip", ENC_UNSUPPORTED },
		{ "aes128gcm", ENC_UNSUPPORTED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum content_encoding got = content_encoding_parse(cases[i].v, strlen(cases[i].v));

		if (got != cases[i].want)
			fail_msg("'%s': expected %s, got %s", cases[i].v,
				 content_encoding_name(cases[i].want), content_encoding_name(got));
	}
	/* the length bounds the value: no NUL needed */
	assert_int_equal(content_encoding_parse("gzip, br", 4), ENC_GZIP);
	assert_int_equal(content_encoding_parse("brotli", 2), ENC_BR);
	assert_int_equal(content_encoding_parse(NULL, 0), ENC_IDENTITY);
	assert_string_equal(content_encoding_name(ENC_IDENTITY), "identity");
	assert_string_equal(content_encoding_name(ENC_GZIP), "gzip");
	assert_string_equal(content_encoding_name(ENC_DEFLATE), "deflate");
	assert_string_equal(content_encoding_name(ENC_BR), "br");
	assert_string_equal(content_encoding_name(ENC_ZSTD), "zstd");
	assert_string_equal(content_encoding_name(ENC_UNSUPPORTED), "unsupported");
	assert_string_equal(content_encoding_name((enum content_encoding)99), "unsupported");
}

static void test_unsupported(void **state)
{
	(void)state;
	assert_null(decoder_new(ENC_UNSUPPORTED, 100, sink_put, NULL));
	assert_null(decoder_new((enum content_encoding)-1, 100, sink_put, NULL));
	/* NULL decoders are tolerated by every call */
	assert_int_equal(decoder_feed(NULL, (const uint8_t *)"x", 1), -1);
	assert_int_equal(decoder_finish(NULL), -1);
	assert_int_equal(decoder_total_in(NULL), 0);
	assert_int_equal(decoder_total_out(NULL), 0);
	assert_false(decoder_capped(NULL));
	assert_null(decoder_error(NULL));
	decoder_free(NULL);
}

static void test_identity(void **state)
{
	struct sink s = { 0 };
	struct decoder *d;
	size_t n;
	uint8_t *t = lines_make(&n);

	(void)state;
	check_round_trip(ENC_IDENTITY, t, n, t, n, true);
	/* the cap applies to identity too */
	d = decoder_new(ENC_IDENTITY, 10, sink_put, &s);
	assert_int_equal(decoder_feed(d, t, 4), 0);
	assert_int_equal(decoder_feed(d, t + 4, n - 4), 0);
	assert_int_equal(decoder_finish(d), 0);
	assert_int_equal(s.len, 10);
	assert_memory_equal(s.buf, t, 10);
	assert_int_equal(decoder_total_out(d), n);
	assert_true(decoder_capped(d));
	decoder_free(d);
	free(t);
	sink_free(&s);
}

static void test_gzip_round_trip(void **state)
{
	size_t n, zn;
	uint8_t *t = lines_make(&n), *z = z_compress(16 + MAX_WBITS, t, n, &zn);
	uint8_t *big = text_make(200000), *bz;

	(void)state;
	check_round_trip(ENC_GZIP, z, zn, t, n, true);
	/* several output buffers per feed */
	bz = z_compress(16 + MAX_WBITS, big, 200000, &zn);
	check_round_trip(ENC_GZIP, bz, zn, big, 200000, false);
	free(t);
	free(z);
	free(big);
	free(bz);
}

static void test_gzip_members(void **state)
{
	struct sink s = { 0 };
	char err[128];
	size_t n, n1, n2, n3, cn, pn, bad;
	uint8_t *t = lines_make(&n);
	uint8_t *z1 = z_compress(16 + MAX_WBITS, t, 1000, &n1);
	uint8_t *z2 = z_compress(16 + MAX_WBITS, t + 1000, n - 1000, &n2);
	uint8_t *z3 = z_compress(16 + MAX_WBITS, t, 0, &n3); /* an empty member */
	uint8_t *c12 = concat(z1, n1, z2, n2, &cn), *c, *p;

	(void)state;
	c = concat(c12, cn, z3, n3, &cn);
	check_round_trip(ENC_GZIP, c, cn, t, n, true);
	/* cut inside any member: truncated; at a member's end: complete */
	check_truncations(ENC_GZIP, z1, n1);
	check_truncations(ENC_GZIP, c + n1, n2);
	assert_int_equal(decode_pieces(ENC_GZIP, c, n1, 1, SIZE_MAX, &s, NULL, 0), 0);
	assert_int_equal(s.len, 1000);
	assert_int_equal(decode_pieces(ENC_GZIP, c, n1 + 5, 1, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "gzip: stream truncated after "));

	/* garbage after a complete member is corrupt, and says where */
	p = concat(z1, n1, (const uint8_t *)"garbage!", 8, &pn);
	assert_int_equal(decode_pieces(ENC_GZIP, p, pn, 1, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "gzip: member 2: incorrect header check");
	assert_int_equal(s.len, 1000); /* the first member was delivered */
	assert_memory_equal(s.buf, t, 1000);
	free(p);

	/* a second member with a bad CRC */
	bad = n1 + n2 - 8;
	c12[bad] ^= 0x55;
	assert_int_equal(decode_pieces(ENC_GZIP, c12, n1 + n2, 0, SIZE_MAX, &s, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "gzip: member 2: incorrect data check");

	free(t);
	free(z1);
	free(z2);
	free(z3);
	free(c12);
	free(c);
	sink_free(&s);
}

static void test_deflate_zlib_and_raw(void **state)
{
	size_t n, zn, rn, bn;
	uint8_t *t = lines_make(&n);
	uint8_t *zl = z_compress(MAX_WBITS, t, n, &zn);
	uint8_t *raw = z_compress(-MAX_WBITS, t, n, &rn);
	uint8_t *big = text_make(100000), *braw;

	(void)state;
	/* the two framings are told apart by the first two bytes, even split */
	assert_int_equal(zl[0] & 0x0f, 8);
	check_round_trip(ENC_DEFLATE, zl, zn, t, n, true);
	check_round_trip(ENC_DEFLATE, raw, rn, t, n, true);
	check_truncations(ENC_DEFLATE, zl, zn);
	check_truncations(ENC_DEFLATE, raw, rn);
	braw = z_compress(-MAX_WBITS, big, 100000, &bn);
	check_round_trip(ENC_DEFLATE, braw, bn, big, 100000, false);
	/* an empty stream, both ways */
	free(zl);
	free(raw);
	zl = z_compress(MAX_WBITS, t, 0, &zn);
	raw = z_compress(-MAX_WBITS, t, 0, &rn);
	check_round_trip(ENC_DEFLATE, zl, zn, t, 0, true);
	check_round_trip(ENC_DEFLATE, raw, rn, t, 0, true);
	free(t);
	free(zl);
	free(raw);
	free(big);
	free(braw);
}

static void test_deflate_trailing(void **state)
{
	struct sink s = { 0 };
	char err[128];
	size_t n, zn, pn;
	uint8_t *t = lines_make(&n), *zl = z_compress(MAX_WBITS, t, n, &zn);
	uint8_t *p = concat(zl, zn, (const uint8_t *)"xx", 2, &pn);

	(void)state;
	assert_int_equal(decode_pieces(ENC_DEFLATE, p, pn, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "deflate: data after the end of the stream");
	assert_int_equal(s.len, n);
	assert_int_equal(decode_pieces(ENC_DEFLATE, p, pn, 1, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "deflate: data after the end of the stream");
	/* a zlib stream with the Adler-32 broken */
	zl[zn - 1] ^= 1;
	assert_int_equal(decode_pieces(ENC_DEFLATE, zl, zn, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "deflate: incorrect data check");
	free(t);
	free(zl);
	free(p);
	sink_free(&s);
}

static void test_brotli(void **state)
{
	struct sink s = { 0 };
	char err[128];
	size_t n;
	uint8_t *t = lines_make(&n), *p;

	(void)state;
	assert_int_equal(n, 5290);
	check_round_trip(ENC_BR, br_lines, sizeof(br_lines), t, n, true);
	check_round_trip(ENC_BR, br_empty, sizeof(br_empty), t, 0, true);
	check_truncations(ENC_BR, br_lines, sizeof(br_lines));

	p = malloc(sizeof(br_lines) + 1);
	/* data after the end of the stream */
	memcpy(p, br_lines, sizeof(br_lines));
	p[sizeof(br_lines)] = 0;
	assert_int_equal(decode_pieces(ENC_BR, p, sizeof(br_lines) + 1, 0, SIZE_MAX, &s, err,
				       sizeof(err)),
			 -1);
	assert_string_equal(err, "br: data after the end of the stream");
	assert_int_equal(s.len, n);
	assert_int_equal(decode_pieces(ENC_BR, p, sizeof(br_lines) + 1, 1, SIZE_MAX, &s, err,
				       sizeof(err)),
			 -1);
	assert_string_equal(err, "br: data after the end of the stream");
	/* garbage */
	assert_int_equal(decode_pieces(ENC_BR, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 6, 0,
				       SIZE_MAX, &s, err, sizeof(err)),
			 -1);
	assert_true(!strncmp(err, "br: invalid data (", 18));
	free(p);
	free(t);
	sink_free(&s);
}

static void test_zstd(void **state)
{
	/* a skippable frame: magic 0x184D2A50 (LE), 4 bytes of length, content */
	static const uint8_t skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c' };
	struct sink s = { 0 };
	char err[128];
	size_t n, z1n, z2n, zbn, cn, c2n;
	uint8_t *t = lines_make(&n), *big = text_make(300000), ck[8192];
	ZSTD_CCtx *cc;
	uint8_t *z1 = zstd_compress(t, 2000, &z1n), *z2 = zstd_compress(t + 2000, n - 2000, &z2n);
	uint8_t *c = concat(z1, z1n, z2, z2n, &cn), *c2, *zb;

	(void)state;
	check_round_trip(ENC_ZSTD, z1, z1n, t, 2000, true);
	/* two frames and a skippable one */
	check_round_trip(ENC_ZSTD, c, cn, t, n, true);
	c2 = concat(c, cn, skippable, sizeof(skippable), &c2n);
	check_round_trip(ENC_ZSTD, c2, c2n, t, n, true);
	check_truncations(ENC_ZSTD, z1, z1n);
	check_truncations(ENC_ZSTD, z2, z2n);
	assert_int_equal(decode_pieces(ENC_ZSTD, c, z1n + 3, 1, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_int_equal(s.len, 2000);
	zb = zstd_compress(big, 300000, &zbn);
	check_round_trip(ENC_ZSTD, zb, zbn, big, 300000, false);
	free(zb);

	/* garbage after a frame is not a frame */
	free(c2);
	c2 = concat(z1, z1n, (const uint8_t *)"garbage!", 8, &c2n);
	assert_int_equal(decode_pieces(ENC_ZSTD, c2, c2n, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "zstd: Unknown frame descriptor");
	assert_int_equal(s.len, 2000);
	assert_int_equal(decode_pieces(ENC_ZSTD, c2, c2n, 1, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "zstd: Unknown frame descriptor");

	/* a frame with a content checksum, the checksum broken */
	cc = ZSTD_createCCtx();
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
	zbn = ZSTD_compress2(cc, ck, sizeof(ck), t, n);
	assert_false(ZSTD_isError(zbn));
	ZSTD_freeCCtx(cc);
	check_round_trip(ENC_ZSTD, ck, zbn, t, n, false);
	ck[zbn - 1] ^= 0x01;
	assert_int_equal(decode_pieces(ENC_ZSTD, ck, zbn, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "zstd: Restored data doesn't match checksum");
	free(t);
	free(big);
	free(z1);
	free(z2);
	free(c);
	free(c2);
	sink_free(&s);
}

static void test_zstd_window_limit(void **state)
{
	/*
	 * Hand-made frames: magic, a frame header descriptor with no content
	 * size (so the window descriptor counts), a window descriptor of
	 * exponent e (window 1 << (10 + e)), then one last raw block of 0 bytes.
	 */
	static const uint8_t w8m[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3, 0x01, 0x00, 0x00 };
	static const uint8_t w16m[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 14 << 3, 0x01, 0x00, 0x00 };
	static const uint8_t w128m[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3, 0x01, 0x00, 0x00 };
	struct sink s = { 0 };
	char err[128];

	(void)state;
	/* RFC 9659: decoders support 8 MiB windows and may refuse larger ones */
	assert_int_equal(decode_pieces(ENC_ZSTD, w8m, sizeof(w8m), 1, SIZE_MAX, &s, err, sizeof(err)),
			 0);
	assert_int_equal(decode_pieces(ENC_ZSTD, w16m, sizeof(w16m), 0, SIZE_MAX, &s, err,
				       sizeof(err)),
			 -1);
	assert_string_equal(err, "zstd: Frame requires too much memory for decoding");
	assert_int_equal(decode_pieces(ENC_ZSTD, w128m, sizeof(w128m), 1, SIZE_MAX, &s, err,
				       sizeof(err)),
			 -1);
	assert_string_equal(err, "zstd: Frame requires too much memory for decoding");
	sink_free(&s);
}

/* The sink gets exactly the cap; the rest is counted, never delivered. */
static void check_cap(enum content_encoding enc, const uint8_t *in, size_t n, size_t piece)
{
	struct sink s = { 0 };
	struct decoder *d = decoder_new(enc, 4096, sink_put, &s);
	size_t off, k, i;

	assert_non_null(d);
	for (off = 0; off < n; off += k) {
		k = n - off < piece ? n - off : piece;
		assert_int_equal(decoder_feed(d, in + off, k), 0);
	}
	assert_int_equal(decoder_finish(d), 0);
	assert_int_equal(s.len, 4096);
	for (i = 0; i < s.len; i++)
		assert_int_equal(s.buf[i], 0);
	assert_int_equal(decoder_total_out(d), ZEROS_LEN);
	assert_int_equal(decoder_total_in(d), n);
	assert_true(decoder_capped(d));
	assert_null(decoder_error(d));
	decoder_free(d);
	sink_free(&s);
}

static void test_cap_bomb(void **state)
{
	uint8_t *zeros = calloc(1, ZEROS_LEN), *gz, *zs, *df;
	size_t gn, zn, dn;
	struct sink s = { 0 };
	struct decoder *d;

	(void)state;
	assert_non_null(zeros);
	gz = z_compress(16 + MAX_WBITS, zeros, ZEROS_LEN, &gn);
	df = z_compress(-MAX_WBITS, zeros, ZEROS_LEN, &dn);
	zs = zstd_compress(zeros, ZEROS_LEN, &zn);
	free(zeros);
	assert_true(gn < 16384); /* a bomb: ~1000:1 */
	check_cap(ENC_GZIP, gz, gn, gn);
	check_cap(ENC_GZIP, gz, gn, 1);
	check_cap(ENC_DEFLATE, df, dn, 333);
	check_cap(ENC_BR, br_zeros, sizeof(br_zeros), sizeof(br_zeros));
	check_cap(ENC_BR, br_zeros, sizeof(br_zeros), 1);
	check_cap(ENC_ZSTD, zs, zn, zn);
	check_cap(ENC_ZSTD, zs, zn, 1);

	/* exactly at the cap is not capped; the first byte over is */
	d = decoder_new(ENC_IDENTITY, 3, sink_put, &s);
	assert_int_equal(decoder_feed(d, (const uint8_t *)"abc", 3), 0);
	assert_false(decoder_capped(d));
	assert_int_equal(decoder_feed(d, (const uint8_t *)"d", 1), 0);
	assert_true(decoder_capped(d));
	assert_int_equal(s.len, 3);
	decoder_free(d);
	/* a cap of 0 delivers nothing and still counts */
	sink_reset(&s);
	d = decoder_new(ENC_GZIP, 0, sink_put, &s);
	assert_int_equal(decoder_feed(d, gz, gn), 0);
	assert_int_equal(decoder_finish(d), 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(decoder_total_out(d), ZEROS_LEN);
	decoder_free(d);
	/* a NULL sink is allowed */
	d = decoder_new(ENC_ZSTD, 100, NULL, NULL);
	assert_int_equal(decoder_feed(d, zs, zn), 0);
	assert_int_equal(decoder_finish(d), 0);
	assert_int_equal(decoder_total_out(d), ZEROS_LEN);
	decoder_free(d);
	free(gz);
	free(df);
	free(zs);
	sink_free(&s);
}

/* Counting past the cap stops at 1 GiB: a bomb costs bounded CPU too. */
static void test_bomb_limit(void **state)
{
	const size_t chunk = 1 << 20, chunks = 1025; /* 1 GiB + 1 MiB of zeros */
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	uint8_t *zeros = calloc(1, chunk), *out = NULL;
	size_t cap = 0, len = 0, i;
	struct sink s = { 0 };
	struct decoder *d;

	(void)state;
	assert_non_null(zeros);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
	for (i = 0; i < chunks; i++) {
		ZSTD_inBuffer in = { zeros, chunk, 0 };
		ZSTD_EndDirective end = i + 1 == chunks ? ZSTD_e_end : ZSTD_e_continue;
		size_t r;

		do {
			ZSTD_outBuffer o;

			if (cap - len < 65536) {
				cap = cap * 2 + 65536;
				out = realloc(out, cap);
				assert_non_null(out);
			}
			o = (ZSTD_outBuffer){ out + len, cap - len, 0 };
			r = ZSTD_compressStream2(cc, &o, &in, end);
			assert_false(ZSTD_isError(r));
			len += o.pos;
		} while (in.pos < in.size || (end == ZSTD_e_end && r));
	}
	ZSTD_freeCCtx(cc);
	free(zeros);

	d = decoder_new(ENC_ZSTD, 1000, sink_put, &s);
	assert_int_equal(decoder_feed(d, out, len), -1);
	assert_string_equal(decoder_error(d),
			    "zstd: decoded output over 1073741824 bytes, stopped (compression bomb?)");
	assert_true(decoder_total_out(d) > (1ull << 30));
	assert_true(decoder_total_out(d) < (1ull << 30) + 65536);
	assert_true(decoder_capped(d));
	assert_int_equal(s.len, 1000);
	assert_int_equal(decoder_finish(d), -1);
	decoder_free(d);

	/* identity amplifies nothing: no such limit, however long */
	zeros = calloc(1, chunk);
	sink_reset(&s);
	d = decoder_new(ENC_IDENTITY, 1000, sink_put, &s);
	for (i = 0; i < chunks; i++)
		assert_int_equal(decoder_feed(d, zeros, chunk), 0);
	assert_int_equal(decoder_finish(d), 0);
	assert_int_equal(decoder_total_out(d), (uint64_t)chunk * chunks);
	assert_int_equal(s.len, 1000);
	decoder_free(d);
	free(zeros);
	free(out);
	sink_free(&s);
}

static void test_corrupt(void **state)
{
	/* a gzip header, then a final block of the reserved type 3 */
	static const uint8_t bad_block[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0 };
	struct sink s = { 0 };
	struct decoder *d;
	char err[128];
	size_t n, zn;
	uint8_t *t = lines_make(&n), *z = z_compress(16 + MAX_WBITS, t, n, &zn);

	(void)state;
	assert_int_equal(decode_pieces(ENC_GZIP, bad_block, sizeof(bad_block), 0, SIZE_MAX, &s, err,
				       sizeof(err)),
			 -1);
	assert_string_equal(err, "gzip: invalid block type");
	assert_int_equal(decode_pieces(ENC_GZIP, (const uint8_t *)"hello world", 11, 1, SIZE_MAX, &s,
				       err, sizeof(err)),
			 -1);
	assert_string_equal(err, "gzip: incorrect header check");
	/* a zlib stream is not gzip */
	assert_int_equal(decode_pieces(ENC_GZIP, (const uint8_t *)"\x78\x9c\x03\x00", 4, 0,
				       SIZE_MAX, &s, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "gzip: incorrect header check");
	/* the gzip CRC-32 */
	z[zn - 6] ^= 0x01;
	assert_int_equal(decode_pieces(ENC_GZIP, z, zn, 7, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "gzip: incorrect data check");
	z[zn - 6] ^= 0x01;
	/* the gzip ISIZE */
	z[zn - 1] ^= 0x01;
	assert_int_equal(decode_pieces(ENC_GZIP, z, zn, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "gzip: incorrect length check");
	z[zn - 1] ^= 0x01;

	/* once failed, input is ignored (but counted) and every call says so */
	d = decoder_new(ENC_GZIP, SIZE_MAX, sink_put, &s);
	sink_reset(&s);
	assert_int_equal(decoder_feed(d, (const uint8_t *)"not gzip", 8), -1);
	assert_int_equal(decoder_feed(d, z, zn), -1);
	assert_int_equal(s.len, 0);
	assert_int_equal(decoder_total_in(d), 8 + zn);
	assert_int_equal(decoder_finish(d), -1);
	assert_string_equal(decoder_error(d), "gzip: incorrect header check");
	decoder_free(d);

	/* a zlib header asking for a preset dictionary (FDICT) */
	assert_int_equal(decode_pieces(ENC_DEFLATE, (const uint8_t *)"\x78\xbb\0\0\0\1\3\0", 8, 0,
				       SIZE_MAX, &s, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "deflate: needs a preset dictionary");
	/* raw deflate with the reserved block type */
	assert_int_equal(decode_pieces(ENC_DEFLATE, (const uint8_t *)"\x07\x00", 2, 1, SIZE_MAX, &s,
				       err, sizeof(err)),
			 -1);
	assert_string_equal(err, "deflate: invalid block type");
	free(t);
	free(z);
	sink_free(&s);
}

/* Flip every byte of small streams in turn: an error or a result, never a crash. */
static void test_corrupt_every_byte(void **state)
{
	struct sink s = { 0 };
	enum content_encoding encs[4] = { ENC_GZIP, ENC_DEFLATE, ENC_BR, ENC_ZSTD };
	const uint8_t *streams[4];
	size_t lens[4], n, i, j, k;
	uint8_t *t = lines_make(&n), *gz, *zl, *zs, *p;
	unsigned int errors = 0;

	(void)state;
	gz = z_compress(16 + MAX_WBITS, t, 500, &lens[0]);
	zl = z_compress(MAX_WBITS, t, 500, &lens[1]);
	zs = zstd_compress(t, 500, &lens[3]);
	streams[0] = gz;
	streams[1] = zl;
	streams[2] = br_lines;
	lens[2] = sizeof(br_lines);
	streams[3] = zs;
	for (k = 0; k < 4; k++) {
		p = malloc(lens[k]);
		for (i = 0; i < lens[k]; i++) {
			static const uint8_t flips[] = { 0x01, 0x80, 0xff };

			for (j = 0; j < sizeof(flips); j++) {
				memcpy(p, streams[k], lens[k]);
				p[i] ^= flips[j];
				if (decode_pieces(encs[k], p, lens[k], 0, 1 << 20, &s, NULL, 0))
					errors++;
			}
		}
		free(p);
	}
	assert_true(errors > 0);
	free(t);
	free(gz);
	free(zl);
	free(zs);
	sink_free(&s);
}

static void test_random_garbage(void **state)
{
	enum content_encoding encs[] = { ENC_GZIP, ENC_DEFLATE, ENC_BR, ENC_ZSTD };
	uint8_t junk[4096];
	uint32_t x = 99;
	struct sink s = { 0 };
	size_t i, k, round;

	(void)state;
	for (round = 0; round < 20; round++) {
		for (i = 0; i < sizeof(junk); i++) {
			x = x * 1664525 + 1013904223;
			junk[i] = x >> 24;
		}
		for (k = 0; k < sizeof(encs) / sizeof(encs[0]); k++)
			assert_int_equal(decode_pieces(encs[k], junk, sizeof(junk), 1 + round * 37,
						       1 << 20, &s, NULL, 0),
					 -1);
	}
	sink_free(&s);
}

static void test_truncated(void **state)
{
	struct sink s = { 0 };
	char err[128];
	size_t n, zn;
	uint8_t *t = lines_make(&n), *z = z_compress(16 + MAX_WBITS, t, n, &zn);

	(void)state;
	check_truncations(ENC_GZIP, z, zn);
	/* the message says how much was seen */
	assert_int_equal(decode_pieces(ENC_GZIP, z, 10, 0, SIZE_MAX, &s, err, sizeof(err)), -1);
	assert_string_equal(err, "gzip: stream truncated after 10 bytes");
	/* one byte of deflate: cannot even tell zlib from raw */
	assert_int_equal(decode_pieces(ENC_DEFLATE, (const uint8_t *)"\x78", 1, 0, SIZE_MAX, &s,
				       err, sizeof(err)),
			 -1);
	assert_string_equal(err, "deflate: stream truncated after 1 bytes");
	free(t);
	free(z);
	sink_free(&s);
}

static void test_empty_body(void **state)
{
	enum content_encoding encs[] = { ENC_IDENTITY, ENC_GZIP, ENC_DEFLATE, ENC_BR, ENC_ZSTD };
	struct sink s = { 0 };
	size_t k;

	(void)state;
	/* Content-Encoding on an empty body (204, 304, HEAD) is not an error */
	for (k = 0; k < sizeof(encs) / sizeof(encs[0]); k++) {
		struct decoder *d = decoder_new(encs[k], 10, sink_put, &s);

		assert_int_equal(decoder_feed(d, NULL, 0), 0);
		assert_int_equal(decoder_feed(d, (const uint8_t *)"x", 0), 0);
		assert_int_equal(decoder_finish(d), 0);
		assert_int_equal(decoder_total_in(d), 0);
		assert_int_equal(decoder_total_out(d), 0);
		decoder_free(d);
	}
	sink_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_parse),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_gzip_members),
		cmocka_unit_test(test_deflate_zlib_and_raw),
		cmocka_unit_test(test_deflate_trailing),
		cmocka_unit_test(test_brotli),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_zstd_window_limit),
		cmocka_unit_test(test_cap_bomb),
		cmocka_unit_test(test_bomb_limit),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_corrupt_every_byte),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_empty_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

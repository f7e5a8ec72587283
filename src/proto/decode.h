/* SPDX-License-Identifier: MIT */
/*
 * HTTP content decoding (Content-Encoding): gzip, deflate (zlib and raw),
 * br (brotli), zstd; streaming, with a cap on the decoded output so a
 * compression bomb costs at most the cap.
 */
#ifndef INFERTRACE_DECODE_H
#define INFERTRACE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum content_encoding {
	ENC_IDENTITY = 0,
	ENC_GZIP,
	ENC_DEFLATE,
	ENC_BR,
	ENC_ZSTD,
	ENC_UNSUPPORTED, /* a coding we cannot decode (e.g. "compress"), or a list of several */
};

/* Parse a Content-Encoding header value (case-insensitive, surrounding
 * whitespace ignored; "identity" and "" are ENC_IDENTITY; "x-gzip" is gzip). */
enum content_encoding content_encoding_parse(const char *value, size_t len);
const char *content_encoding_name(enum content_encoding enc);

/* Receives decoded bytes, in order. */
typedef void (*decode_sink_fn)(void *ctx, const uint8_t *out, size_t n);

struct decoder;

/* out_cap: decoded bytes delivered at most; the rest is counted, not delivered.
 * Returns NULL for ENC_UNSUPPORTED or out of memory. */
struct decoder *decoder_new(enum content_encoding enc, size_t out_cap, decode_sink_fn sink,
			    void *ctx);
/*
 * Feed the next encoded bytes. Returns 0, or -1 once the input is found
 * corrupt (the decoder then ignores further input; decoder_error says so).
 */
int decoder_feed(struct decoder *d, const uint8_t *in, size_t n);
/* The encoded stream ended: returns 0 if it was complete, -1 if cut short or corrupt. */
int decoder_finish(struct decoder *d);
uint64_t decoder_total_in(const struct decoder *d);
uint64_t decoder_total_out(const struct decoder *d);   /* decoded, including past the cap */
bool decoder_capped(const struct decoder *d);          /* output went past out_cap */
const char *decoder_error(const struct decoder *d);     /* NULL when fine */
void decoder_free(struct decoder *d);

#endif

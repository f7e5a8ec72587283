/* SPDX-License-Identifier: MIT */
/*
 * Incremental parsers for streamed response bodies:
 *  - text/event-stream (Server-Sent Events, WHATWG HTML "event stream
 *    interpretation"): fields event/data/id/retry, comments, CRLF/CR/LF line
 *    ends, multi-line data joined with "\n", dispatch on a blank line; an
 *    event without data is not dispatched; a BOM at the start is skipped;
 *  - NDJSON (application/x-ndjson, Ollama): one JSON value per line, blank
 *    lines skipped.
 * Input arrives in arbitrary pieces (a line may be split anywhere).
 */
#ifndef INFERTRACE_SSE_H
#define INFERTRACE_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* event: the event type ("message" when the stream gave none); data: the
 * joined data lines, NUL-terminated (data[data_len] == '\0'). */
typedef void (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t data_len);
typedef void (*ndjson_line_fn)(void *ctx, const char *line, size_t len); /* NUL-terminated */

struct sse_parser;

/* max_event_bytes: an event (or NDJSON line) longer than this is dropped and
 * counted in sse_oversized(); parsing resumes at the next event. */
struct sse_parser *sse_new(size_t max_event_bytes, sse_event_fn fn, void *ctx);
void sse_feed(struct sse_parser *p, const uint8_t *buf, size_t n);
/* The stream ended; an unterminated last event is discarded (as the spec says). */
void sse_finish(struct sse_parser *p);
uint64_t sse_events(const struct sse_parser *p);
uint64_t sse_oversized(const struct sse_parser *p);
void sse_free(struct sse_parser *p);

struct ndjson_parser;

struct ndjson_parser *ndjson_new(size_t max_line_bytes, ndjson_line_fn fn, void *ctx);
void ndjson_feed(struct ndjson_parser *p, const uint8_t *buf, size_t n);
/* The stream ended: a last line without a newline is delivered. */
void ndjson_finish(struct ndjson_parser *p);
uint64_t ndjson_lines(const struct ndjson_parser *p);
uint64_t ndjson_oversized(const struct ndjson_parser *p);
void ndjson_free(struct ndjson_parser *p);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Incremental parser for the AWS event-stream framing
 * (application/vnd.amazon.eventstream), the body of Bedrock's
 * ConverseStream and InvokeModelWithResponseStream responses.
 *
 * The stream is a sequence of binary messages, integers big-endian
 * (Smithy "Amazon Event Stream Specification"; AWS Transcribe/Lex
 * "Event stream encoding"):
 *
 *   0   u32  total length      the whole message, these 4 bytes and the
 *                              final CRC included (so at least 16)
 *   4   u32  headers length    bytes of the headers section
 *   8   u32  prelude CRC       CRC-32 (as gzip's, zlib crc32()) of bytes 0..7
 *   12       headers           headers length bytes
 *   ...      payload           total - headers length - 16 bytes
 *   -4  u32  message CRC       CRC-32 of every byte before it, prelude included
 *
 * Each header: name length (u8, 1..255), name (UTF-8), value type (u8),
 * value:
 *   0 true, 1 false   no bytes
 *   2 byte            1 byte       3 short   2 bytes
 *   4 integer         4 bytes      5 long    8 bytes
 *   6 byte array      u16 length, then the bytes
 *   7 string          u16 length, then UTF-8 bytes
 *   8 timestamp       8 bytes (ms since the epoch)
 *   9 uuid            16 bytes
 *
 * AWS puts the message's kind in string headers: ":message-type" is
 * "event" (with ":event-type", e.g. "contentBlockDelta", "metadata" or
 * "chunk"), "exception" (with ":exception-type", e.g.
 * "throttlingException") or "error" (with ":error-code" and
 * ":error-message"); ":content-type" gives the payload's media type.
 *
 * Both CRCs are verified: the spec says a bad one terminates the stream, so
 * the parser fails and ignores the rest. A message longer than max_msg is
 * skipped (its CRC still checked, nothing buffered) and counted; the spec
 * forbids clients to enforce its own size limits, so only our memory bound
 * applies. Input may be split anywhere.
 */
#ifndef INFERTRACE_AWSEV_H
#define INFERTRACE_AWSEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The default bound on a message we buffer (max_msg 0). */
#define AWSEV_MAX_MSG_DEFAULT (16u << 20)

/* One message. The strings are the string headers of those names, NUL-
 * terminated, NULL when absent (or not of string type); all of it is valid
 * only during the callback. */
struct awsev_msg {
	const char *message_type;	/* ":message-type": "event", "exception", "error" */
	const char *event_type;		/* ":event-type" */
	const char *content_type;	/* ":content-type" */
	const char *exception_type;	/* ":exception-type" */
	const char *error_code;		/* ":error-code" */
	const char *error_message;	/* ":error-message" */
	const char *payload;		/* a copy, NUL-terminated: payload[payload_len] == '\0' */
	size_t payload_len;
};

typedef void (*awsev_msg_fn)(void *ctx, const struct awsev_msg *msg);

struct awsev_parser;

/* max_msg: the longest message (total length) delivered; 0 for the default.
 * The callback must not free the parser. NULL when out of memory. */
struct awsev_parser *awsev_new(size_t max_msg, awsev_msg_fn fn, void *ctx);
/*
 * Feed the next bytes. Returns 0, or -1 once the stream is found corrupt (bad
 * CRC, impossible lengths, malformed headers); the parser then ignores
 * further input and awsev_error() says what was wrong.
 */
int awsev_feed(struct awsev_parser *p, const uint8_t *buf, size_t n);
/* The stream ended: 0 if it ended between messages, -1 if inside one or failed. */
int awsev_finish(struct awsev_parser *p);
const char *awsev_error(const struct awsev_parser *p);	/* NULL when fine */
uint64_t awsev_messages(const struct awsev_parser *p);	/* delivered */
uint64_t awsev_oversized(const struct awsev_parser *p);	/* skipped: over max_msg */
uint64_t awsev_bytes(const struct awsev_parser *p);	/* fed */
void awsev_free(struct awsev_parser *p);

#endif

// SPDX-License-Identifier: MIT
/*
 * AWS event-stream framing: messages encoded here (with zlib's crc32) and
 * two published byte-exact examples, fed whole, byte by byte and split at
 * every position; every header type; bad CRCs, impossible lengths,
 * malformed headers, oversized and truncated messages.
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

#include "proto/awsev.h"

/* ---- an encoder, for the tests only ------------------------------------ */

struct hdr {
	const char *name;
	uint8_t type;
	const void *val;	/* types 2-9: the value bytes, big-endian as on the wire */
	size_t len;		/* types 6 and 7: the value's length */
};

static const size_t type_len[10] = { 0, 0, 1, 2, 4, 8, 0, 0, 8, 16 };

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

/* Encode one message at out; returns its length. */
static size_t msg_encode(uint8_t *out, const struct hdr *h, size_t nh, const char *payload,
			 size_t plen)
{
	size_t off = 12, hstart, i, vlen;

	for (i = 0; i < nh; i++) {
		size_t nlen = strlen(h[i].name);

		out[off++] = nlen;
		memcpy(out + off, h[i].name, nlen);
		off += nlen;
		out[off++] = h[i].type;
		if (h[i].type == 6 || h[i].type == 7) {
			vlen = h[i].len;
			out[off++] = vlen >> 8;
			out[off++] = vlen;
		} else {
			vlen = type_len[h[i].type];
		}
		if (vlen)
			memcpy(out + off, h[i].val, vlen);
		off += vlen;
	}
	hstart = 12;
	memcpy(out + off, payload, plen);
	off += plen;
	put32(out, off + 4);
	put32(out + 4, off - hstart - plen);
	put32(out + 8, crc32(0, out, 8));
	put32(out + off, crc32(0, out, off));
	return off + 4;
}

/* The total length of the message at b. */
static size_t be_len(const uint8_t *b)
{
	return (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
}

#define STR(n, v) { n, 7, v, sizeof(v) - 1 }

/* A Bedrock-style event: the three headers AWS sends and a JSON payload. */
static size_t event_encode(uint8_t *out, const char *type, const char *json)
{
	struct hdr h[3] = {
		{ ":event-type", 7, type, strlen(type) },
		STR(":content-type", "application/json"),
		STR(":message-type", "event"),
	};

	return msg_encode(out, h, 3, json, strlen(json));
}

/* ---- what the callback saw --------------------------------------------- */

struct rec {
	char log[16384];
	size_t len;
	unsigned int calls;
};

static void rec_add(struct rec *r, const char *s)
{
	size_t n = strlen(s);

	assert_true(r->len + n < sizeof(r->log));
	memcpy(r->log + r->len, s, n + 1);
	r->len += n;
}

/* "message_type/event_type/content_type/payload|", "-" for NULL headers;
 * exceptions and errors add their headers. */
static void on_msg(void *ctx, const struct awsev_msg *m)
{
	struct rec *r = ctx;

	assert_non_null(m->payload);
	assert_int_equal(m->payload[m->payload_len], '\0');
	r->calls++;
	rec_add(r, m->message_type ? m->message_type : "-");
	rec_add(r, "/");
	rec_add(r, m->event_type ? m->event_type : "-");
	rec_add(r, "/");
	rec_add(r, m->content_type ? m->content_type : "-");
	rec_add(r, "/");
	if (m->exception_type) {
		rec_add(r, m->exception_type);
		rec_add(r, "/");
	}
	if (m->error_code) {
		rec_add(r, m->error_code);
		rec_add(r, "/");
	}
	if (m->error_message) {
		rec_add(r, m->error_message);
		rec_add(r, "/");
	}
	assert_int_equal(strlen(m->payload), m->payload_len);
	rec_add(r, m->payload);
	rec_add(r, "|");
}

/* Parse in pieces cut at cuts[]; returns feed's and finish's worst answer. */
static int parse_cuts(size_t max, const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts,
		      struct rec *r, char *err, size_t errlen)
{
	struct awsev_parser *p = awsev_new(max, on_msg, r);
	size_t off = 0, i;
	int ret = 0;

	assert_non_null(p);
	memset(r, 0, sizeof(*r));
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		if (awsev_feed(p, in + off, end - off))
			ret = -1;
		off = end;
	}
	if (awsev_finish(p))
		ret = -1;
	assert_int_equal(awsev_bytes(p), n);
	assert_int_equal(awsev_messages(p), r->calls);
	if (ret)
		assert_non_null(awsev_error(p));
	else
		assert_null(awsev_error(p));
	if (err)
		snprintf(err, errlen, "%s", awsev_error(p) ? awsev_error(p) : "");
	awsev_free(p);
	return ret;
}

/* Whole, byte by byte, and cut in two at every position (and in three
 * when `three`): always the same messages. */
static void check_parse(size_t max, const uint8_t *in, size_t n, const char *want, bool three)
{
	struct rec r;
	size_t cuts[2], i, j;
	struct awsev_parser *p;

	assert_int_equal(parse_cuts(max, in, n, NULL, 0, &r, NULL, 0), 0);
	assert_string_equal(r.log, want);
	p = awsev_new(max, on_msg, &r);
	memset(&r, 0, sizeof(r));
	for (i = 0; i < n; i++)
		assert_int_equal(awsev_feed(p, in + i, 1), 0);
	assert_int_equal(awsev_finish(p), 0);
	assert_string_equal(r.log, want);
	awsev_free(p);
	for (i = 0; i <= n; i++) {
		for (j = three ? i : n; j <= n; j++) {
			cuts[0] = i;
			cuts[1] = j;
			assert_int_equal(parse_cuts(max, in, n, cuts, 2, &r, NULL, 0), 0);
			if (strcmp(r.log, want))
				fail_msg("cut at %zu, %zu: got '%s', expected '%s'", i, j, r.log,
					 want);
		}
	}
}

/* ---- tests ------------------------------------------------------------- */

static void test_published_vectors(void **state)
{
	/*
	 * Two messages as printed in the documentation of an independent
	 * implementation (the Elixir "event_stream" package, EventStream.encode!/2):
	 * payload {"foo": "bar"} without headers, and with a header named
	 * "content-type" (no colon: not one of AWS's ":" headers).
	 */
	static const uint8_t v1[] = { 0, 0, 0, 30, 0, 0, 0, 0, 186, 242, 246, 138, 123, 34, 102,
				      111, 111, 34, 58, 32, 34, 98, 97, 114, 34, 125, 174, 114, 88,
				      228 };
	static const uint8_t v2[] = {
		0, 0, 0, 62, 0, 0, 0, 32, 64, 93, 249, 70, 12, 99, 111, 110, 116, 101, 110,
		116, 45, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99, 97, 116,
		105, 111, 110, 47, 106, 115, 111, 110, 123, 34, 102, 111, 111, 34, 58, 32, 34,
		98, 97, 114, 34, 125, 111, 162, 191, 59
	};
	uint8_t mine[64];
	struct hdr h = STR("content-type", "application/json");

	(void)state;
	check_parse(0, v1, sizeof(v1), "-/-/-/{\"foo\": \"bar\"}|", true);
	check_parse(0, v2, sizeof(v2), "-/-/-/{\"foo\": \"bar\"}|", true);
	/* and the test's encoder agrees with them byte for byte */
	assert_int_equal(msg_encode(mine, NULL, 0, "{\"foo\": \"bar\"}", 14), sizeof(v1));
	assert_memory_equal(mine, v1, sizeof(v1));
	assert_int_equal(msg_encode(mine, &h, 1, "{\"foo\": \"bar\"}", 14), sizeof(v2));
	assert_memory_equal(mine, v2, sizeof(v2));
}

/* A ConverseStream response, as Bedrock frames it. */
static size_t converse_stream(uint8_t *out)
{
	size_t n = 0;

	n += event_encode(out + n, "messageStart", "{\"role\":\"assistant\"}");
	n += event_encode(out + n, "contentBlockDelta",
			  "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"}}");
	n += event_encode(out + n, "contentBlockStop", "{\"contentBlockIndex\":0}");
	n += event_encode(out + n, "messageStop", "{\"stopReason\":\"end_turn\"}");
	n += event_encode(out + n, "metadata",
			  "{\"usage\":{\"inputTokens\":12,\"outputTokens\":3,\"totalTokens\":15},"
			  "\"metrics\":{\"latencyMs\":321}}");
	return n;
}

static void test_converse_stream(void **state)
{
	uint8_t buf[2048], two[512];
	size_t n = converse_stream(buf), tn;

	(void)state;
	check_parse(0, buf, n,
		    "event/messageStart/application/json/{\"role\":\"assistant\"}|"
		    "event/contentBlockDelta/application/json/"
		    "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"}}|"
		    "event/contentBlockStop/application/json/{\"contentBlockIndex\":0}|"
		    "event/messageStop/application/json/{\"stopReason\":\"end_turn\"}|"
		    "event/metadata/application/json/{\"usage\":{\"inputTokens\":12,"
		    "\"outputTokens\":3,\"totalTokens\":15},\"metrics\":{\"latencyMs\":321}}|",
		    false);
	/* two short messages, cut in three at every pair of positions */
	tn = event_encode(two, "a", "{}");
	tn += event_encode(two + tn, "chunk", "{\"bytes\":\"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0=\"}");
	check_parse(0, two, tn,
		    "event/a/application/json/{}|"
		    "event/chunk/application/json/{\"bytes\":\"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0=\"}|",
		    true);
}

static void test_header_types(void **state)
{
	static const uint8_t b1 = 0x7f, s2[2] = { 1, 2 }, i4[4] = { 1, 2, 3, 4 };
	static const uint8_t l8[8] = { 0, 0, 1, 0x8f, 0x2c, 0x1b, 0x4e, 0x00 };
	static const uint8_t uuid[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct hdr h[] = {
		{ "t", 0, NULL, 0 },
		{ "f", 1, NULL, 0 },
		{ "byte", 2, &b1, 0 },
		{ "short", 3, s2, 0 },
		{ "int", 4, i4, 0 },
		{ "long", 5, l8, 0 },
		{ "bytes", 6, "\0\1\2\3", 4 },
		{ ":date", 8, l8, 0 },
		{ "id", 9, uuid, 0 },
		/* a reported name but not a string: not reported */
		{ ":content-type", 6, "application/json", 16 },
		STR(":event-type", "chunk"),
		{ "empty", 7, "", 0 },
		STR(":message-type", "event"),
		/* a name longer than any we report, sharing a prefix */
		STR(":event-type-x", "no"),
	};
	uint8_t buf[1024];
	size_t n = msg_encode(buf, h, sizeof(h) / sizeof(h[0]), "{\"x\":1}", 7);

	(void)state;
	check_parse(0, buf, n, "event/chunk/-/{\"x\":1}|", false);
}

static void test_exceptions_and_errors(void **state)
{
	struct hdr exc[] = {
		STR(":exception-type", "throttlingException"),
		STR(":content-type", "application/json"),
		STR(":message-type", "exception"),
	};
	struct hdr err[] = {
		STR(":message-type", "error"),
		STR(":error-code", "InternalFailure"),
		STR(":error-message", "An internal error occurred."),
	};
	uint8_t buf[1024];
	size_t n;

	(void)state;
	n = msg_encode(buf, exc, 3, "{\"message\":\"Too many requests\"}", 31);
	n += msg_encode(buf + n, err, 3, "", 0);
	check_parse(0, buf, n,
		    "exception/-/application/json/throttlingException/"
		    "{\"message\":\"Too many requests\"}|"
		    "error/-/-/InternalFailure/An internal error occurred./|",
		    false);
}

static void test_empty_message(void **state)
{
	uint8_t buf[64];
	size_t n = msg_encode(buf, NULL, 0, "", 0);

	(void)state;
	assert_int_equal(n, 16); /* the smallest message */
	check_parse(0, buf, n, "-/-/-/|", true);
	/* an empty stream is complete */
	check_parse(0, buf, 0, "", false);
}

static void test_bad_crc(void **state)
{
	uint8_t buf[2048], bad[2048];
	size_t n = converse_stream(buf), first = be_len(buf), i;
	struct rec r;
	char err[128];

	(void)state;
	/* every single byte changed in the first message is caught */
	for (i = 0; i < first; i++) {
		memcpy(bad, buf, n);
		bad[i] ^= 0x20;
		assert_int_equal(parse_cuts(0, bad, n, NULL, 0, &r, err, sizeof(err)), -1);
		assert_int_equal(r.calls, 0);
		if (i < 12)
			assert_string_equal(err, "event-stream message 1: prelude CRC mismatch");
		else
			assert_string_equal(err, "event-stream message 1: message CRC mismatch");
	}
	/* in the third: two delivered, then the stream stops */
	memcpy(bad, buf, n);
	i = first + be_len(buf + first);
	bad[i + 20] ^= 1;
	assert_int_equal(parse_cuts(0, bad, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_int_equal(r.calls, 2);
	assert_string_equal(err, "event-stream message 3: message CRC mismatch");
	/* the same, byte by byte: nothing after the error gets through */
	{
		size_t cuts[2] = { i + 21, i + 22 };

		assert_int_equal(parse_cuts(0, bad, n, cuts, 2, &r, err, sizeof(err)), -1);
		assert_int_equal(r.calls, 2);
	}
	/* random bytes are not a stream */
	for (i = 0; i < sizeof(bad); i++)
		bad[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(parse_cuts(0, bad, sizeof(bad), NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: prelude CRC mismatch");
	/* an SSE body fed to the wrong parser */
	assert_int_equal(parse_cuts(0, (const uint8_t *)"data: {\"a\":1}\n\n", 15, NULL, 0, &r,
				    err, sizeof(err)),
			 -1);
	assert_string_equal(err, "event-stream message 1: prelude CRC mismatch");
}

/* Write a prelude with a valid CRC for whatever lengths. */
static void prelude_put(uint8_t *b, uint32_t total, uint32_t hlen)
{
	put32(b, total);
	put32(b + 4, hlen);
	put32(b + 8, crc32(0, b, 8));
}

/* Fix the message CRC after editing a message in place. */
static void crc_fix(uint8_t *b, size_t n)
{
	put32(b + n - 4, crc32(0, b, n - 4));
}

static void test_bad_lengths(void **state)
{
	uint8_t buf[256];
	struct rec r;
	char err[128];
	size_t n;
	struct hdr h = STR(":event-type", "x");

	(void)state;
	prelude_put(buf, 15, 0);
	assert_int_equal(parse_cuts(0, buf, 12, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: total length 15 is under 16");
	prelude_put(buf, 0, 0);
	assert_int_equal(parse_cuts(0, buf, 12, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: total length 0 is under 16");
	prelude_put(buf, 20, 5);
	assert_int_equal(parse_cuts(0, buf, 12, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "event-stream message 1: headers length 5 does not fit a 20 byte message");
	prelude_put(buf, 0xffffffff, 0xffffffff);
	assert_int_equal(parse_cuts(0, buf, 12, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: headers length 4294967295 does not fit a "
				 "4294967295 byte message");

	/* malformed headers inside valid CRCs */
	n = msg_encode(buf, &h, 1, "{}", 2);
	buf[12] = 0; /* an empty name */
	crc_fix(buf, n);
	assert_int_equal(parse_cuts(0, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: header 1 has an empty name");
	n = msg_encode(buf, &h, 1, "{}", 2);
	buf[12 + 1 + 11] = 10; /* no such type */
	crc_fix(buf, n);
	assert_int_equal(parse_cuts(0, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: header 1 has unknown value type 10");
	n = msg_encode(buf, &h, 1, "{}", 2);
	buf[12 + 1 + 11 + 2] = 2; /* a string longer than the headers */
	crc_fix(buf, n);
	assert_int_equal(parse_cuts(0, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: header 1 runs past the headers");
	n = msg_encode(buf, &h, 1, "{}", 2);
	buf[12] = 40; /* a name longer than the headers */
	crc_fix(buf, n);
	assert_int_equal(parse_cuts(0, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: header 1 runs past the headers");
	/* the headers length cuts the last header short */
	n = msg_encode(buf, &h, 1, "{}", 2);
	prelude_put(buf, n, 12 + 1 + 2);
	crc_fix(buf, n);
	assert_int_equal(parse_cuts(0, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: header 1 runs past the headers");
	prelude_put(buf, n, 12 + 1);
	crc_fix(buf, n);
	assert_int_equal(parse_cuts(0, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: header 1 runs past the headers");
	/* a fixed-size value cut short */
	{
		struct hdr l = { "l", 5, "\0\0\0\0\0\0\0\1", 0 };

		n = msg_encode(buf, &l, 1, "", 0);
		prelude_put(buf, n - 1, 1 + 1 + 1 + 7);
		put32(buf + n - 5, crc32(0, buf, n - 5));
		assert_int_equal(parse_cuts(0, buf, n - 1, NULL, 0, &r, err, sizeof(err)), -1);
		assert_string_equal(err, "event-stream message 1: header 1 runs past the headers");
	}
}

static void test_oversized(void **state)
{
	char big[200], want[512];
	uint8_t buf[1024];
	size_t n, m1;
	struct rec r;
	char err[128];
	struct awsev_parser *p;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = m1 = event_encode(buf, "big", big);
	n += event_encode(buf + n, "small", "{}");
	assert_true(m1 > 128);
	/* max 128: the big one is skipped and counted, the next one delivered */
	check_parse(128, buf, n, "event/small/application/json/{}|", false);
	p = awsev_new(128, on_msg, &r);
	memset(&r, 0, sizeof(r));
	assert_int_equal(awsev_feed(p, buf, n), 0);
	assert_int_equal(awsev_finish(p), 0);
	assert_int_equal(awsev_oversized(p), 1);
	assert_int_equal(awsev_messages(p), 1);
	awsev_free(p);
	/* exactly max is kept */
	snprintf(want, sizeof(want), "event/big/application/json/%s|event/small/application/json/{}|",
		 big);
	check_parse(m1, buf, n, want, false);
	/* a skipped message's CRC is still checked */
	buf[m1 - 10] ^= 1;
	assert_int_equal(parse_cuts(128, buf, n, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: message CRC mismatch");
	assert_int_equal(r.calls, 0);
	buf[m1 - 10] ^= 1;
	buf[m1 - 2] ^= 1; /* in the CRC itself, fed byte by byte */
	{
		size_t cuts[2] = { m1 - 3, m1 - 1 };

		assert_int_equal(parse_cuts(128, buf, n, cuts, 2, &r, err, sizeof(err)), -1);
		assert_string_equal(err, "event-stream message 1: message CRC mismatch");
	}
	/* cut off inside a skipped message */
	buf[m1 - 2] ^= 1;
	assert_int_equal(parse_cuts(128, buf, 100, NULL, 0, &r, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "event-stream message 1: stream ended inside the message (100 of %zu bytes)", m1);
	assert_string_equal(err, want);
	/* a max under 16 is raised to 16 */
	n = msg_encode(buf, NULL, 0, "", 0);
	check_parse(1, buf, n, "-/-/-/|", false);
}

static void test_truncated(void **state)
{
	uint8_t buf[2048];
	size_t n = converse_stream(buf), first = be_len(buf), i;
	struct rec r;
	char err[128];

	(void)state;
	for (i = 1; i < n; i++) {
		int ret = parse_cuts(0, buf, i, NULL, 0, &r, err, sizeof(err));
		size_t at = 0, k = 0;

		/* complete exactly at message ends */
		while (at < i)
			at += be_len(buf + at), k++;
		if (at == i) {
			assert_int_equal(ret, 0);
			assert_int_equal(r.calls, k);
			continue;
		}
		assert_int_equal(ret, -1);
		assert_int_equal(r.calls, k - 1);
		assert_non_null(strstr(err, "stream ended"));
	}
	assert_int_equal(parse_cuts(0, buf, 5, NULL, 0, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "event-stream message 1: stream ended in the prelude (5 of 12 bytes)");
	assert_int_equal(parse_cuts(0, buf, first + 20, NULL, 0, &r, err, sizeof(err)), -1);
	assert_int_equal(r.calls, 1);
	assert_non_null(strstr(err, "event-stream message 2: stream ended inside the message (20 of "));
}

static void test_large_default(void **state)
{
	/* the default bound: a 1 MiB payload goes through, in odd pieces */
	size_t plen = 1 << 20, n, off, k;
	char *payload = malloc(plen + 1);
	uint8_t *buf = malloc(plen + 256);
	struct awsev_parser *p;
	unsigned int calls = 0;

	(void)state;
	memset(payload, 'p', plen);
	payload[plen] = '\0';
	n = event_encode(buf, "chunk", payload);
	p = awsev_new(0, NULL, &calls);
	for (off = 0; off < n; off += k) {
		k = n - off < 4099 ? n - off : 4099;
		assert_int_equal(awsev_feed(p, buf + off, k), 0);
	}
	assert_int_equal(awsev_finish(p), 0);
	assert_int_equal(awsev_messages(p), 1);
	assert_int_equal(awsev_bytes(p), n);
	awsev_free(p);
	free(payload);
	free(buf);

	/* NULLs are tolerated */
	assert_int_equal(awsev_feed(NULL, (const uint8_t *)"x", 1), -1);
	assert_int_equal(awsev_finish(NULL), -1);
	assert_null(awsev_error(NULL));
	assert_int_equal(awsev_messages(NULL), 0);
	assert_int_equal(awsev_oversized(NULL), 0);
	assert_int_equal(awsev_bytes(NULL), 0);
	awsev_free(NULL);
	p = awsev_new(0, NULL, NULL);
	assert_int_equal(awsev_feed(p, NULL, 10), 0);
	assert_int_equal(awsev_finish(p), 0);
	awsev_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_vectors),
		cmocka_unit_test(test_converse_stream),
		cmocka_unit_test(test_header_types),
		cmocka_unit_test(test_exceptions_and_errors),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_bad_crc),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_large_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * SSE and NDJSON parsers: the WHATWG examples, line ends of every kind with
 * the input split at every position (CRLF split between pieces included),
 * multi-line data, comments, the BOM, oversized events and lines, streams
 * ending without their blank line, and the shapes OpenAI, Anthropic and
 * Ollama send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/sse.h"

/*
 * What the callbacks saw, as text: each SSE event as "type=data" and each
 * NDJSON line as itself, each followed by '|' (no test data contains one).
 */
struct rec {
	char log[8192];
	size_t len;
	unsigned int calls;
};

static void rec_add(struct rec *r, const char *s, size_t n)
{
	assert_true(r->len + n < sizeof(r->log));
	memcpy(r->log + r->len, s, n);
	r->len += n;
	r->log[r->len] = '\0';
}

static void on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct rec *r = ctx;

	assert_non_null(event);
	assert_non_null(data);
	assert_int_equal(data[len], '\0'); /* NUL-terminated as promised */
	r->calls++;
	rec_add(r, event, strlen(event));
	rec_add(r, "=", 1);
	rec_add(r, data, len);
	rec_add(r, "|", 1);
}

static void on_line(void *ctx, const char *line, size_t len)
{
	struct rec *r = ctx;

	assert_int_equal(line[len], '\0');
	assert_int_equal(strlen(line), len);
	r->calls++;
	rec_add(r, line, len);
	rec_add(r, "|", 1);
}

/* Feed in pieces cut at the given offsets (ascending, within n). */
static void sse_run(struct sse_parser *p, const char *in, size_t n, const size_t *cuts,
		    size_t ncuts)
{
	size_t off = 0, i;

	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		sse_feed(p, (const uint8_t *)in + off, end - off);
		off = end;
	}
	sse_finish(p);
}

/*
 * The same events whatever the pieces: whole, 1-byte pieces, and cut in
 * two and in three at every pair of positions.
 */
static void check_sse(size_t max, const char *in, size_t n, const char *want)
{
	struct rec r;
	struct sse_parser *p;
	size_t cuts[2], i, j;

	memset(&r, 0, sizeof(r));
	p = sse_new(max, on_event, &r);
	assert_non_null(p);
	sse_run(p, in, n, NULL, 0);
	assert_string_equal(r.log, want);
	sse_free(p);

	memset(&r, 0, sizeof(r));
	p = sse_new(max, on_event, &r);
	for (i = 0; i < n; i++)
		sse_feed(p, (const uint8_t *)in + i, 1);
	sse_finish(p);
	assert_string_equal(r.log, want);
	sse_free(p);

	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			memset(&r, 0, sizeof(r));
			p = sse_new(max, on_event, &r);
			cuts[0] = i;
			cuts[1] = j;
			sse_run(p, in, n, cuts, 2);
			if (strcmp(r.log, want))
				fail_msg("cut at %zu and %zu: got '%s', expected '%s'", i, j, r.log,
					 want);
			sse_free(p);
		}
	}
}

#define CHECK_SSE(max, in, want) check_sse(max, in, sizeof(in) - 1, want)

static void test_whatwg_examples(void **state)
{
	(void)state;
	/* "Interpreting an event stream", the stock ticker example */
	CHECK_SSE(1024, "data: YHOO\ndata: +2\ndata: 10\n\n", "message=YHOO\n+2\n10|");
	/* the four blocks: a comment only, "id" with and without value, and the
	 * one space after the colon removed, not two */
	CHECK_SSE(1024,
		  ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
		  "data:  third event\n\n",
		  "message=first event|message=second event|message= third event|");
	/* "data" alone is an empty value; two of them a single newline; the last
	 * block has no blank line after it and is discarded */
	CHECK_SSE(1024, "data\n\ndata\ndata\n\ndata:", "message=|message=\n|");
	/* the space after the colon is optional */
	CHECK_SSE(1024, "data:test\n\ndata: test\n\n", "message=test|message=test|");
}

static void test_line_ends(void **state)
{
	(void)state;
	/* LF, CRLF, CR and mixes; a CR then LF is one line end, in any pieces */
	CHECK_SSE(1024, "data: a\r\ndata: b\r\n\r\n", "message=a\nb|");
	CHECK_SSE(1024, "data: a\rdata: b\r\r", "message=a\nb|");
	CHECK_SSE(1024, "event: x\r\ndata: 1\rdata: 2\n\r\ndata: y\r\r",
		  "x=1\n2|message=y|");
	/* LF CR is two line ends: a blank line */
	CHECK_SSE(1024, "data: a\n\rdata: b\r\n\n", "message=a|message=b|");
	/* CR CR LF: a line end, then a blank line */
	CHECK_SSE(1024, "data: a\r\r\ndata: b\n\n", "message=a|message=b|");
	/* a CR at the end of the stream ends the line, but the event needs a blank one */
	CHECK_SSE(1024, "data: a\r", "");
	CHECK_SSE(1024, "data: a\r\r", "message=a|");
}

static void test_fields(void **state)
{
	(void)state;
	/* comments, id, retry and unknown fields are ignored */
	CHECK_SSE(1024, ": ping\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n:\n\n", "message=x|");
	/* a comment alone dispatches nothing */
	CHECK_SSE(1024, ": keep-alive\n\n: again\n\n", "");
	/* an event type without data is not dispatched, and does not leak */
	CHECK_SSE(1024, "event: lonely\n\ndata: 1\n\n", "message=1|");
	/* the type is per event */
	CHECK_SSE(1024, "event: a\ndata: 1\n\ndata: 2\n\n", "a=1|message=2|");
	/* the last event line wins; an empty one means "message" */
	CHECK_SSE(1024, "event: a\nevent: b\ndata: 1\n\nevent: a\nevent\ndata: 2\n\n",
		  "b=1|message=2|");
	CHECK_SSE(1024, "event:\ndata: 3\n\n", "message=3|");
	/* names are exact and case-sensitive; a colon in the value stays */
	CHECK_SSE(1024, "Data: no\ndata : no\ndatax: no\ndata: a:b: c\n\n", "message=a:b: c|");
	/* the value keeps trailing spaces and a second leading one */
	CHECK_SSE(1024, "data:  two \n\n", "message= two |");
	/* a space before the colon makes another name; leading space likewise */
	CHECK_SSE(1024, " data: x\n\n", "");
	/* a very long unknown field name */
	CHECK_SSE(1024, "dataeventdataeventdata: x\ndata: y\n\n", "message=y|");
	/* blank lines between events, and several in a row */
	CHECK_SSE(1024, "\n\n\ndata: 1\n\n\n\ndata: 2\n\n", "message=1|message=2|");
}

static void test_bom(void **state)
{
	(void)state;
	CHECK_SSE(1024, "\xef\xbb\xbf" "data: a\n\n", "message=a|");
	/* only one, at the start */
	CHECK_SSE(1024, "\xef\xbb\xbf\xef\xbb\xbf" "data: a\n\ndata: b\n\n", "message=b|");
	CHECK_SSE(1024, "data: a\n\n\xef\xbb\xbf" "data: b\n\n", "message=a|");
	/* a partial BOM is text: it spoils the first field name */
	CHECK_SSE(1024, "\xef\xbb" "data: a\n\ndata: b\n\n", "message=b|");
	CHECK_SSE(1024, "\xef" "data: a\n\ndata: b\n\n", "message=b|");
	/* a BOM and nothing else, and the bytes of one at the start of a value */
	CHECK_SSE(1024, "\xef\xbb\xbf", "");
	CHECK_SSE(1024, "data: \xef\xbb\xbf" "x\n\n", "message=\xef\xbb\xbf" "x|");
}

static void test_providers(void **state)
{
	(void)state;
	/* OpenAI chat completions */
	CHECK_SSE(4096,
		  "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
		  "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5}}\n\n"
		  "data: [DONE]\n\n",
		  "message={\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}|"
		  "message={\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5}}|"
		  "message=[DONE]|");
	/* Anthropic messages, with its ping */
	CHECK_SSE(4096,
		  "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
		  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
		  "event: content_block_delta\r\ndata: {\"delta\":{\"text\":\"Hi\"}}\r\n\r\n"
		  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		  "message_start={\"type\":\"message_start\"}|ping={\"type\": \"ping\"}|"
		  "content_block_delta={\"delta\":{\"text\":\"Hi\"}}|"
		  "message_stop={\"type\":\"message_stop\"}|");
}

static void test_oversized(void **state)
{
	struct rec r;
	struct sse_parser *p;
	char big[1 << 16];
	size_t i;

	(void)state;
	/* max 4: "abcd" fits; "abcde" and "ab\ncd" (5 joined) do not */
	CHECK_SSE(4, "data: abcd\n\ndata: abcde\n\ndata: ok\n\n", "message=abcd|message=ok|");
	CHECK_SSE(4, "data: ab\ndata: cd\n\ndata: ab\ndata: c\n\n", "message=ab\nc|");
	CHECK_SSE(4, "data: abcd\ndata\n\ndata\ndata\ndata\ndata\ndata\n\ndata: x\n\n",
		  "message=\n\n\n\n|message=x|");
	CHECK_SSE(0, "data\n\ndata: a\n\n", "message=|");

	memset(&r, 0, sizeof(r));
	p = sse_new(4, on_event, &r);
	sse_feed(p, (const uint8_t *)"data: abcde\n\ndata: 1\n\n", 22);
	assert_int_equal(sse_oversized(p), 1);
	assert_int_equal(sse_events(p), 1);
	/* a dropped event is dropped whole, later lines of it too */
	sse_feed(p, (const uint8_t *)"data: abcdef\ndata: x\nevent: e\n\n", 31);
	assert_int_equal(sse_oversized(p), 2);
	assert_int_equal(sse_events(p), 1);
	/* an overlong event type drops its event */
	memset(big, 'e', sizeof(big));
	sse_feed(p, (const uint8_t *)"event: ", 7);
	sse_feed(p, (const uint8_t *)big, 300);
	sse_feed(p, (const uint8_t *)"\ndata: 2\n\n", 10);
	assert_int_equal(sse_oversized(p), 3);
	/* ... unless a later event line replaces it */
	sse_feed(p, (const uint8_t *)"event: ", 7);
	sse_feed(p, (const uint8_t *)big, 300);
	sse_feed(p, (const uint8_t *)"\nevent: ok\ndata: 3\n\n", 20);
	assert_int_equal(sse_oversized(p), 3);
	/* a long comment or id costs nothing and is no oversized event */
	sse_feed(p, (const uint8_t *)":", 1);
	for (i = 0; i < 100; i++)
		sse_feed(p, (const uint8_t *)big, sizeof(big));
	sse_feed(p, (const uint8_t *)"\nid: ", 5);
	sse_feed(p, (const uint8_t *)big, sizeof(big));
	sse_feed(p, (const uint8_t *)"\ndata: 4\n\n", 10);
	assert_int_equal(sse_oversized(p), 3);
	assert_int_equal(sse_events(p), 3);
	assert_string_equal(r.log, "message=1|ok=3|message=4|");
	/* an oversized event cut off by the end of the stream is just discarded */
	sse_feed(p, (const uint8_t *)"data: ", 6);
	sse_feed(p, (const uint8_t *)big, 100);
	sse_finish(p);
	assert_int_equal(sse_oversized(p), 3);
	sse_free(p);

	/* a big event within a big bound, fed in odd pieces */
	memset(&r, 0, sizeof(r));
	p = sse_new(sizeof(big), on_event, &r);
	sse_feed(p, (const uint8_t *)"data: ", 6);
	for (i = 0; i < 7000; i += 7)
		sse_feed(p, (const uint8_t *)big, 7);
	sse_feed(p, (const uint8_t *)"\n\n", 2);
	assert_int_equal(sse_events(p), 1);
	assert_int_equal(r.len, strlen("message=") + 7000 + 1);
	sse_free(p);
}

static void test_finish(void **state)
{
	struct rec r;
	struct sse_parser *p;

	(void)state;
	memset(&r, 0, sizeof(r));
	p = sse_new(1024, on_event, &r);
	/* no blank line at the end: discarded, per the spec */
	sse_feed(p, (const uint8_t *)"data: 1\n\ndata: 2\n", 17);
	sse_finish(p);
	assert_int_equal(sse_events(p), 1);
	/* after finish the parser starts a new stream: nothing carried over,
	 * and a BOM is expected again */
	sse_feed(p, (const uint8_t *)"\xef\xbb\xbf" "data: 3\n\n", 12);
	sse_finish(p);
	sse_feed(p, (const uint8_t *)"\n", 1);
	assert_int_equal(sse_events(p), 2);
	assert_int_equal(sse_events(p), 2);
	assert_string_equal(r.log, "message=1|message=3|");
	/* a CR at the end of one stream does not eat the LF starting the next */
	sse_feed(p, (const uint8_t *)"data: 4\r", 8);
	sse_finish(p);
	sse_feed(p, (const uint8_t *)"\ndata: 5\n\n", 10);
	assert_string_equal(r.log, "message=1|message=3|message=5|");
	sse_free(p);

	/* NULLs are tolerated; a NULL callback just counts */
	sse_feed(NULL, (const uint8_t *)"x", 1);
	sse_finish(NULL);
	sse_free(NULL);
	assert_int_equal(sse_events(NULL), 0);
	assert_int_equal(sse_oversized(NULL), 0);
	p = sse_new(10, NULL, NULL);
	sse_feed(p, NULL, 5);
	sse_feed(p, (const uint8_t *)"data: 1\n\n", 9);
	assert_int_equal(sse_events(p), 1);
	sse_free(p);
}

static void test_binary_data(void **state)
{
	static const char in[] = "data: a\0b\n\n";
	struct rec r;
	struct sse_parser *p;

	(void)state;
	/* a NUL inside data is kept: the length says where the data ends */
	memset(&r, 0, sizeof(r));
	p = sse_new(100, on_event, &r);
	sse_feed(p, (const uint8_t *)in, sizeof(in) - 1);
	assert_int_equal(sse_events(p), 1);
	assert_int_equal(r.len, strlen("message=") + 3 + 1);
	assert_memory_equal(r.log, "message=a\0b|", r.len);
	sse_free(p);
}

/* Random runs of SSE tokens, in random pieces: no crash, bounds kept. */
static void test_sse_random(void **state)
{
	static const char *const tokens[] = {
		"data:", "data: x", "data: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", "event: e", "event",
		"\n", "\r", "\r\n", "\n\n", ":c", "\xef\xbb\xbf", "id: 1", "z",
	};
	struct sse_parser *p = sse_new(64, NULL, NULL);
	uint8_t buf[4096];
	uint32_t x = 7;
	size_t len, off, k;
	int round;

	(void)state;
	for (round = 0; round < 50; round++) {
		for (len = 0;;) {
			const char *tok;

			x = x * 1664525 + 1013904223;
			tok = tokens[(x >> 16) % (sizeof(tokens) / sizeof(tokens[0]))];
			if (len + strlen(tok) > sizeof(buf))
				break;
			memcpy(buf + len, tok, strlen(tok));
			len += strlen(tok);
		}
		for (off = 0; off < len; off += k) {
			x = x * 1664525 + 1013904223;
			k = 1 + (x >> 16) % 100;
			if (k > len - off)
				k = len - off;
			sse_feed(p, buf + off, k);
		}
		if (round % 5 == 0)
			sse_finish(p);
	}
	assert_true(sse_events(p) > 100);
	assert_true(sse_oversized(p) > 0);
	sse_free(p);
}

/* ---- NDJSON ------------------------------------------------------------ */

static void check_ndjson(size_t max, const char *in, size_t n, const char *want,
			 uint64_t want_oversized)
{
	struct rec r;
	struct ndjson_parser *p;
	size_t i, j;

	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			memset(&r, 0, sizeof(r));
			p = ndjson_new(max, on_line, &r);
			assert_non_null(p);
			ndjson_feed(p, (const uint8_t *)in, i);
			ndjson_feed(p, (const uint8_t *)in + i, j - i);
			ndjson_feed(p, (const uint8_t *)in + j, n - j);
			ndjson_finish(p);
			if (strcmp(r.log, want))
				fail_msg("cut at %zu and %zu: got '%s', expected '%s'", i, j, r.log,
					 want);
			assert_int_equal(ndjson_lines(p), r.calls);
			assert_int_equal(ndjson_oversized(p), want_oversized);
			ndjson_free(p);
		}
	}
	memset(&r, 0, sizeof(r));
	p = ndjson_new(max, on_line, &r);
	for (i = 0; i < n; i++)
		ndjson_feed(p, (const uint8_t *)in + i, 1);
	ndjson_finish(p);
	assert_string_equal(r.log, want);
	ndjson_free(p);
}

#define CHECK_NDJSON(max, in, want, over) check_ndjson(max, in, sizeof(in) - 1, want, over)

static void test_ndjson(void **state)
{
	(void)state;
	CHECK_NDJSON(100, "{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}|{\"b\":2}|", 0);
	/* CRLF: the CR goes; blank and whitespace-only lines are skipped */
	CHECK_NDJSON(100, "{\"a\":1}\r\n\r\n  \n\t \r\n\n{\"b\":2}\r\n", "{\"a\":1}|{\"b\":2}|", 0);
	/* finish delivers the last line without its newline, CR stripped */
	CHECK_NDJSON(100, "{\"a\":1}\n{\"done\":true}", "{\"a\":1}|{\"done\":true}|", 0);
	CHECK_NDJSON(100, "{\"done\":true}\r", "{\"done\":true}|", 0);
	CHECK_NDJSON(100, "{}\n   ", "{}|", 0);
	/* inner whitespace and a lone CR inside a line are kept */
	CHECK_NDJSON(100, "  {\"a\": 1}  \n{\"a\r\":2}\n", "  {\"a\": 1}  |{\"a\r\":2}|", 0);
	/* Ollama /api/chat */
	CHECK_NDJSON(200,
		     "{\"model\":\"llama3\",\"message\":{\"content\":\"Hi\"},\"done\":false}\n"
		     "{\"model\":\"llama3\",\"done\":true,\"prompt_eval_count\":26,"
		     "\"eval_count\":290}\n",
		     "{\"model\":\"llama3\",\"message\":{\"content\":\"Hi\"},\"done\":false}|"
		     "{\"model\":\"llama3\",\"done\":true,\"prompt_eval_count\":26,"
		     "\"eval_count\":290}|",
		     0);
	CHECK_NDJSON(100, "", "", 0);
	CHECK_NDJSON(100, "\n\n\r\n", "", 0);
}

static void test_ndjson_oversized(void **state)
{
	struct rec r;
	struct ndjson_parser *p;
	char big[65536];
	int i;

	(void)state;
	/* max 4: 4 bytes fit, also with a CR after them; 5 do not */
	CHECK_NDJSON(4, "abcd\nabcde\nxy\n", "abcd|xy|", 1);
	CHECK_NDJSON(4, "abcd\r\nabcd\rx\n1\n", "abcd|1|", 1);
	/* the last line, unterminated and too long, is counted at finish */
	CHECK_NDJSON(4, "ab\nabcdefgh", "ab|", 1);
	CHECK_NDJSON(4, "abcde\r", "", 1);
	/* a long whitespace run is still over the bound */
	CHECK_NDJSON(4, "      \nok\n", "ok|", 1);

	memset(&r, 0, sizeof(r));
	p = ndjson_new(1000, on_line, &r);
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 100; i++)
		ndjson_feed(p, (const uint8_t *)big, sizeof(big));
	ndjson_feed(p, (const uint8_t *)"\n{\"ok\":1}\n", 10);
	ndjson_finish(p);
	assert_int_equal(ndjson_oversized(p), 1);
	assert_int_equal(ndjson_lines(p), 1);
	assert_string_equal(r.log, "{\"ok\":1}|");
	ndjson_free(p);

	/* NULLs are tolerated; a NULL callback just counts */
	ndjson_feed(NULL, (const uint8_t *)"x", 1);
	ndjson_finish(NULL);
	ndjson_free(NULL);
	assert_int_equal(ndjson_lines(NULL), 0);
	assert_int_equal(ndjson_oversized(NULL), 0);
	p = ndjson_new(10, NULL, NULL);
	ndjson_feed(p, NULL, 3);
	ndjson_feed(p, (const uint8_t *)"{}\n{}", 5);
	ndjson_finish(p);
	assert_int_equal(ndjson_lines(p), 2);
	ndjson_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whatwg_examples),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_providers),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_binary_data),
		cmocka_unit_test(test_sse_random),
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_ndjson_oversized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

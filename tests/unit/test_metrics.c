// SPDX-License-Identifier: MIT
/*
 * Prometheus /metrics: the exposition text of live totals fed with records
 * shaped as the agent writes them (docs/schema.md), checked line by line and
 * against a parser of the text format 0.0.4 written here; and the HTTP
 * server, spoken to over plain sockets: GET, HEAD, gzip, 404, 405, address
 * forms and their errors, stop, concurrent updates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "out/live.h"
#include "out/metrics.h"

/* ------------------------------------------------------------------------
 * Feeding live
 */

static void feed(struct live *l, const char *json)
{
	cJSON *r = cJSON_Parse(json);

	if (!r) {
		print_error("not JSON: %s\n", json);
		fail();
	}
	live_observe(l, r);
	cJSON_Delete(r);
}

/* A request record of a client (curl) in workload wl, provider-reported usage. */
static void feed_request(struct live *l, const char *wl, const char *provider, const char *model,
			 int in, int out, int cache_read, const char *price_source)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "type", "request");
	cJSON_AddStringToObject(r, "time", "2099-01-01T00:00:00.500000000Z");
	cJSON_AddNumberToObject(r, "schema_version", 1);
	cJSON_AddNumberToObject(r, "pid", 4242);
	cJSON_AddStringToObject(r, "comm", "curl");
	cJSON_AddStringToObject(r, "role", "client");
	cJSON_AddStringToObject(r, "workload", wl);
	cJSON_AddStringToObject(r, "workload.kind", "cgroup");
	cJSON_AddStringToObject(r, "gen_ai.provider.name", provider);
	cJSON_AddStringToObject(r, "gen_ai.operation.name", "chat");
	cJSON_AddStringToObject(r, "gen_ai.request.model", model);
	cJSON_AddStringToObject(r, "gen_ai.response.model", model);
	cJSON_AddStringToObject(r, "usage_source", "provider");
	cJSON_AddNumberToObject(r, "gen_ai.usage.input_tokens", in);
	cJSON_AddNumberToObject(r, "gen_ai.usage.output_tokens", out);
	cJSON_AddNumberToObject(r, "gen_ai.usage.cache_read.input_tokens", cache_read);
	cJSON_AddStringToObject(r, "price_source", price_source);
	cJSON_AddStringToObject(r, "outcome", "ok");
	live_observe(l, r);
	cJSON_Delete(r);
}

/*
 * A day's small traffic: team-a calls OpenAI 3 times and a self-hosted
 * model once (unpriced), the inference server's usage on a GPU, cost rows
 * for both, the agent's interval record.
 */
static struct live *fed_live(void)
{
	struct live *l = live_new();

	assert_non_null(l);
	feed(l, "{\"type\":\"agent\",\"event\":\"start\",\"time\":\"2099-01-01T00:00:00.0Z\","
		"\"schema_version\":1,\"pid\":1000,\"version\":\"0.1.0\",\"events\":0,\"lost\":0,"
		"\"rss_bytes\":20000000}");
	feed_request(l, "team-a", "openai", "gpt-4o-mini-2024-07-18", 1000, 200, 400, "table");
	feed_request(l, "team-a", "openai", "gpt-4o-mini-2024-07-18", 3000, 50, 0, "table");
	feed_request(l, "team-a", "openai", "gpt-4o-mini-2024-07-18", 500, 120, 256, "table");
	feed_request(l, "team-a", "openai_compatible", "llama-3.1-8b", 10, 5, 0, "missing");
	feed(l, "{\"type\":\"usage\",\"time\":\"2099-01-01T00:00:10.0Z\",\"schema_version\":1,"
		"\"pid\":77,\"comm\":\"infer_server\",\"cgroup_id\":1234,\"workload\":\"inference\","
		"\"interval_start\":\"2099-01-01T00:00:00.0Z\","
		"\"interval_end\":\"2099-01-01T00:00:10.0Z\",\"bytes_sent\":12345,"
		"\"bytes_received\":678,\"connections\":1,\"calls\":9,\"requests\":0,"
		"\"accelerator\":\"cuda:0\",\"accelerator.uuid\":null,\"gpu.device\":0,"
		"\"gpu.busy_seconds\":0.75,\"gpu_time_source\":\"ebpf-spans\","
		"\"gpu.mem_bytes\":1073741824,\"x_gpu_cost\":0.00075,\"x_gpu_idle_cost\":0.00925,"
		"\"ListCost\":0.01,\"partial\":false}");
	feed(l, "{\"type\":\"cost\",\"time\":\"2099-01-01T00:00:10.0Z\",\"schema_version\":1,"
		"\"ChargePeriodStart\":\"2099-01-01T00:00:00.0Z\","
		"\"ChargePeriodEnd\":\"2099-01-01T00:00:10.0Z\",\"ServiceName\":\"openai\","
		"\"SkuMeter\":\"input tokens\",\"ResourceId\":\"gpt-4o-mini-2024-07-18\","
		"\"ListCost\":0.1,\"x_workload\":\"team-a\"}");
	feed(l, "{\"type\":\"cost\",\"time\":\"2099-01-01T00:00:10.0Z\",\"schema_version\":1,"
		"\"ChargePeriodStart\":\"2099-01-01T00:00:00.0Z\","
		"\"ChargePeriodEnd\":\"2099-01-01T00:00:10.0Z\",\"ServiceName\":\"accelerator\","
		"\"SkuMeter\":\"GPU hours\",\"ResourceId\":\"cuda:0\",\"ListCost\":0.01,"
		"\"x_workload\":\"inference\"}");
	feed(l, "{\"type\":\"agent\",\"event\":\"interval\",\"time\":\"2099-01-01T00:00:10.0Z\","
		"\"schema_version\":1,\"pid\":1000,\"version\":\"0.1.0\",\"events\":4242,"
		"\"lost\":3,\"rss_bytes\":31457280}");
	return l;
}

/* ------------------------------------------------------------------------
 * Looking at the text
 */

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* On failure, the lines of the same metric (the text may be thousands of
 * lines: cmocka cuts long messages). */
static void expect_line(const char *text, const char *line)
{
	size_t name = strcspn(line, "{ ");
	int shown = 0;

	if (has_line(text, line))
		return;
	print_error("expected the line\n  %s\nseen lines of %.*s:\n", line, (int)name, line);
	for (const char *p = text; p && *p && shown < 20; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, name) && (p[name] == '{' || p[name] == ' ')) {
			print_error("  %.*s\n", (int)strcspn(p, "\n"), p);
			shown++;
		}
	fail();
}

static int count_prefix(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	int c = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			c++;
	return c;
}

/* The value of the one sample line that starts with prefix ("name{...} "). */
static double sample_value(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return strtod(p + n, NULL);
	print_error("no line starting with %s in\n%s\n", prefix, text);
	fail();
	return 0;
}

/* ------------------------------------------------------------------------
 * A parser of the text format 0.0.4, strict where Prometheus is: every
 * line must be a comment, a HELP or TYPE line, or a sample; names and label
 * names valid; label values escaped and UTF-8; values that Go's ParseFloat
 * reads; HELP and TYPE at most once per name, TYPE before the samples; a
 * family's samples together; no series twice; counters named _total.
 */
struct family_seen {
	char name[128];
	bool help, type, samples, closed;
	char type_name[16];
};

struct parse {
	struct family_seen fam[64];
	size_t nfam;
	char **series; /* "name{labels}" of every sample, to find duplicates */
	size_t nseries;
	size_t samples;
	char err[512];
	int lineno;
};

static bool bad(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ps->err, sizeof(ps->err), "line %d: ", ps->lineno);

	va_start(ap, fmt);
	vsnprintf(ps->err + n, sizeof(ps->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static struct family_seen *family_of(struct parse *ps, const char *name, size_t n)
{
	for (size_t i = 0; i < ps->nfam; i++)
		if (strlen(ps->fam[i].name) == n && !strncmp(ps->fam[i].name, name, n))
			return &ps->fam[i];
	if (ps->nfam == 64 || n >= sizeof(ps->fam[0].name))
		return NULL;
	memset(&ps->fam[ps->nfam], 0, sizeof(ps->fam[0]));
	memcpy(ps->fam[ps->nfam].name, name, n);
	return &ps->fam[ps->nfam++];
}

static size_t metric_name_len(const char *p)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)p[0]) || p[0] == '_' || p[0] == ':'))
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
		n++;
	return n;
}

static size_t label_name_len(const char *p)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)p[0]) || p[0] == '_'))
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	return n;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
			   c >= 0xf0 && c <= 0xf4 ? 4 : 0;

		if (!k || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

/* A value Go's strconv.ParseFloat takes, as Prometheus writes them. */
static bool valid_value(const char *p, size_t n)
{
	char tmp[64], *end;

	if ((n == 4 && (!strncmp(p, "+Inf", 4) || !strncmp(p, "-Inf", 4))) ||
	    (n == 3 && !strncmp(p, "NaN", 3)))
		return true;
	if (n == 0 || n >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789.eE+-", p[i]))
			return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	strtod(tmp, &end);
	return *end == '\0';
}

static bool parse_comment(struct parse *ps, const char *line, size_t len)
{
	const char *p = line + 2;
	bool help;
	size_t n;
	struct family_seen *f;

	if (len < 2 || line[1] != ' ')
		return true; /* "#" alone or "#x": an ordinary comment */
	if (!strncmp(p, "HELP ", 5))
		help = true;
	else if (!strncmp(p, "TYPE ", 5))
		help = false;
	else
		return true; /* other comments are allowed */
	p += 5;
	n = metric_name_len(p);
	if (!n)
		return bad(ps, "%s without a valid metric name", help ? "HELP" : "TYPE");
	f = family_of(ps, p, n);
	if (!f)
		return bad(ps, "too many families");
	if (f->samples)
		return bad(ps, "%s of %s after its samples", help ? "HELP" : "TYPE", f->name);
	p += n;
	if (help) {
		if (f->help)
			return bad(ps, "second HELP for %s", f->name);
		f->help = true;
		if (p < line + len && *p != ' ')
			return bad(ps, "HELP name not followed by a space");
		for (const char *q = p; q < line + len; q++)
			if (*q == '\\' && (q + 1 >= line + len || (q[1] != '\\' && q[1] != 'n')))
				return bad(ps, "bad escape in HELP text");
			else if (*q == '\\')
				q++;
		if (!valid_utf8((const unsigned char *)p, (size_t)(line + len - p)))
			return bad(ps, "HELP text is not UTF-8");
		return true;
	}
	if (f->type)
		return bad(ps, "second TYPE for %s", f->name);
	f->type = true;
	if (*p != ' ')
		return bad(ps, "TYPE without a type");
	p++;
	n = (size_t)(line + len - p);
	if (n >= sizeof(f->type_name))
		return bad(ps, "unknown type");
	memcpy(f->type_name, p, n);
	f->type_name[n] = '\0';
	if (strcmp(f->type_name, "counter") && strcmp(f->type_name, "gauge") &&
	    strcmp(f->type_name, "histogram") && strcmp(f->type_name, "summary") &&
	    strcmp(f->type_name, "untyped"))
		return bad(ps, "unknown type '%s'", f->type_name);
	if (!strcmp(f->type_name, "counter") &&
	    (strlen(f->name) < 6 || strcmp(f->name + strlen(f->name) - 6, "_total")))
		return bad(ps, "counter %s not named _total", f->name);
	return true;
}

static bool parse_sample(struct parse *ps, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *lbl_start;
	char seen_labels[8][64];
	size_t nl = 0, n;
	struct family_seen *f;
	char *key;

	n = metric_name_len(p);
	if (!n)
		return bad(ps, "sample without a valid metric name");
	f = family_of(ps, p, n);
	if (!f)
		return bad(ps, "too many families");
	if (f->closed)
		return bad(ps, "samples of %s are not together", f->name);
	for (size_t i = 0; i < ps->nfam; i++)
		if (&ps->fam[i] != f && ps->fam[i].samples)
			ps->fam[i].closed = true;
	f->samples = true;
	p += n;
	lbl_start = p;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			size_t ln = label_name_len(p);

			if (!ln)
				return bad(ps, "bad label name at '%.20s'", p);
			if (ln >= 2 && p[0] == '_' && p[1] == '_')
				return bad(ps, "label name %.*s is reserved (__)", (int)ln, p);
			for (size_t i = 0; i < nl; i++)
				if (strlen(seen_labels[i]) == ln && !strncmp(seen_labels[i], p, ln))
					return bad(ps, "label %.*s twice", (int)ln, p);
			if (nl < 8 && ln < 64) {
				memcpy(seen_labels[nl], p, ln);
				seen_labels[nl++][ln] = '\0';
			}
			p += ln;
			if (p + 1 >= end || p[0] != '=' || p[1] != '"')
				return bad(ps, "label without =\"");
			p += 2;
			{
				const char *v = p;

				while (p < end && *p != '"') {
					if (*p == '\\') {
						if (p + 1 >= end || !strchr("\\\"n", p[1]))
							return bad(ps, "bad escape \\%c in a label value",
								   p + 1 < end ? p[1] : ' ');
						p++;
					}
					p++;
				}
				if (p >= end)
					return bad(ps, "unterminated label value");
				if (!valid_utf8((const unsigned char *)v, (size_t)(p - v)))
					return bad(ps, "label value is not UTF-8");
			}
			p++;
			if (p < end && *p == ',')
				p++;
			else if (p < end && *p != '}')
				return bad(ps, "expected , or } after a label");
		}
		if (p >= end)
			return bad(ps, "unterminated label set");
		p++;
	}
	if (asprintf(&key, "%.*s%.*s", (int)n, line, (int)(p - lbl_start), lbl_start) < 0)
		return bad(ps, "out of memory");
	for (size_t i = 0; i < ps->nseries; i++)
		if (!strcmp(ps->series[i], key)) {
			bad(ps, "series %s twice", key);
			free(key);
			return false;
		}
	ps->series = realloc(ps->series, (ps->nseries + 1) * sizeof(*ps->series));
	assert_non_null(ps->series);
	ps->series[ps->nseries++] = key;
	if (p >= end || *p != ' ')
		return bad(ps, "no space before the value");
	p++;
	{
		const char *v = p;

		while (p < end && *p != ' ')
			p++;
		if (!valid_value(v, (size_t)(p - v)))
			return bad(ps, "bad value '%.*s'", (int)(p - v), v);
	}
	if (p < end) { /* an optional timestamp: an integer of milliseconds */
		p++;
		if (p == end)
			return bad(ps, "trailing space");
		if (*p == '-')
			p++;
		for (; p < end; p++)
			if (!isdigit((unsigned char)*p))
				return bad(ps, "bad timestamp");
	}
	ps->samples++;
	return true;
}

/* Validates text; fails the test with the first problem and the text. */
static void parse_exposition(const char *text, size_t len, struct parse *ps)
{
	const char *p = text, *end = text + len;

	memset(ps, 0, sizeof(*ps));
	if (len && text[len - 1] != '\n') {
		print_error("the text does not end with a newline\n");
		fail();
	}
	if (memchr(text, '\0', len)) {
		print_error("the text holds a NUL byte\n");
		fail();
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		bool ok;

		ps->lineno++;
		if (n && p[n - 1] == '\r')
			ok = bad(ps, "CR at the end of a line");
		else if (n == 0)
			ok = true; /* blank lines are allowed */
		else if (p[0] == '#')
			ok = parse_comment(ps, p, n);
		else
			ok = parse_sample(ps, p, n);
		if (!ok) {
			print_error("exposition text: %s\n  %.*s\nwhole text:\n%.*s\n", ps->err, (int)n, p,
				    (int)len, text);
			fail();
		}
		p = nl + 1;
	}
	for (size_t i = 0; i < ps->nfam; i++)
		if (ps->fam[i].samples && !ps->fam[i].type) {
			print_error("family %s has samples but no TYPE\n", ps->fam[i].name);
			fail();
		}
}

static void parse_free(struct parse *ps)
{
	for (size_t i = 0; i < ps->nseries; i++)
		free(ps->series[i]);
	free(ps->series);
}

static void test_parser_rejects(void **state)
{
	/* the validator itself: each of these must be refused */
	static const char *const bad_texts[] = {
		"a_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n",        /* same series twice */
		"# TYPE a counter\n",                              /* counter not _total */
		"x{__y=\"1\"} 1\n",                                /* reserved label */
		"x{y=\"a\\tb\"} 1\n",                              /* bad escape */
		"x{y=\"1\"} one\n",                                /* bad value */
		"a 1\nb 1\na 2\n",                                 /* family not together */
		"x 1\n# TYPE x gauge\n",                           /* TYPE after samples */
		"# HELP x a\n# HELP x b\n",                        /* HELP twice */
		"x{y=\"\xff\"} 1\n",                               /* not UTF-8 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++) {
		struct parse ps;
		const char *p = bad_texts[i], *end = p + strlen(p);
		bool ok = true;

		memset(&ps, 0, sizeof(ps));
		while (ok && p < end) {
			const char *nl = strchr(p, '\n');

			ps.lineno++;
			ok = p[0] == '#' ? parse_comment(&ps, p, (size_t)(nl - p)) :
					   parse_sample(&ps, p, (size_t)(nl - p));
			p = nl + 1;
		}
		parse_free(&ps);
		if (ok) {
			print_error("the validator accepted bad text #%zu:\n%s", i, bad_texts[i]);
			fail();
		}
	}
}

/* ------------------------------------------------------------------------
 * Rendering
 */

static const char *const FAMILIES[][2] = {
	{ "infertrace_requests_total", "counter" },
	{ "infertrace_tokens_total", "counter" },
	{ "infertrace_cost_usd_total", "counter" },
	{ "infertrace_unpriced_requests_total", "counter" },
	{ "infertrace_gpu_busy_seconds_total", "counter" },
	{ "infertrace_gpu_memory_bytes", "gauge" },
	{ "infertrace_bytes_total", "counter" },
	{ "infertrace_lost_events_total", "counter" },
	{ "infertrace_ringbuf_events_total", "counter" },
	{ "infertrace_agent_rss_bytes", "gauge" },
	{ "infertrace_series_overflow_total", "counter" },
};
#define NFAMILIES (sizeof(FAMILIES) / sizeof(FAMILIES[0]))

static void check_families_once(const char *text)
{
	for (size_t i = 0; i < NFAMILIES; i++) {
		char help[128], type[128];

		snprintf(help, sizeof(help), "# HELP %s ", FAMILIES[i][0]);
		snprintf(type, sizeof(type), "# TYPE %s %s", FAMILIES[i][0], FAMILIES[i][1]);
		if (count_prefix(text, help) != 1 || !has_line(text, type)) {
			print_error("expected one '%s...' and the line '%s' in\n%s\n", help, type, text);
			fail();
		}
	}
	assert_int_equal(count_prefix(text, "# HELP "), NFAMILIES);
	assert_int_equal(count_prefix(text, "# TYPE "), NFAMILIES);
}

/* An empty live: every family still says what it is, without samples but
 * the unlabelled ones (and the overflow counter per family). */
static void test_render_empty(void **state)
{
	struct live *l = live_new();
	struct parse ps;
	size_t len = 99;
	char *text;

	(void)state;
	text = metrics_render(l, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	check_families_once(text);
	parse_exposition(text, len, &ps);
	assert_int_equal(count_prefix(text, "infertrace_requests_total"), 0);
	expect_line(text, "infertrace_lost_events_total 0");
	expect_line(text, "infertrace_series_overflow_total{family=\"infertrace_requests_total\"} 0");
	/* HELP before TYPE, TYPE right after HELP */
	assert_non_null(strstr(text, "\n# TYPE infertrace_tokens_total counter\n"));
	assert_true(strstr(text, "# HELP infertrace_tokens_total ") <
		    strstr(text, "# TYPE infertrace_tokens_total "));
	parse_free(&ps);
	free(text);
	live_free(l);
}

static void test_render_lines(void **state)
{
	struct live *l = fed_live();
	struct parse ps;
	size_t len;
	char *text;

	(void)state;
	text = metrics_render(l, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	check_families_once(text);
	parse_exposition(text, len, &ps);

	expect_line(text, "# TYPE infertrace_requests_total counter");
	expect_line(text, "infertrace_requests_total{workload=\"team-a\",provider=\"openai\","
			  "model=\"gpt-4o-mini-2024-07-18\",role=\"client\"} 3");
	expect_line(text, "infertrace_requests_total{workload=\"team-a\","
			  "provider=\"openai_compatible\",model=\"llama-3.1-8b\",role=\"client\"} 1");
	expect_line(text, "infertrace_tokens_total{workload=\"team-a\",provider=\"openai\","
			  "model=\"gpt-4o-mini-2024-07-18\",role=\"client\",type=\"input\"} 4500");
	expect_line(text, "infertrace_tokens_total{workload=\"team-a\",provider=\"openai\","
			  "model=\"gpt-4o-mini-2024-07-18\",role=\"client\",type=\"output\"} 370");
	expect_line(text, "infertrace_tokens_total{workload=\"team-a\",provider=\"openai\","
			  "model=\"gpt-4o-mini-2024-07-18\",role=\"client\",type=\"cache_read\"} 656");
	expect_line(text, "infertrace_unpriced_requests_total{workload=\"team-a\"} 1");
	expect_line(text, "infertrace_cost_usd_total{workload=\"team-a\",service=\"openai\","
			  "sku=\"input tokens\"} 0.1");
	expect_line(text, "infertrace_cost_usd_total{workload=\"inference\",service=\"accelerator\","
			  "sku=\"GPU hours\"} 0.01");
	expect_line(text, "infertrace_gpu_busy_seconds_total{workload=\"inference\","
			  "device=\"cuda:0\"} 0.75");
	expect_line(text, "# TYPE infertrace_gpu_memory_bytes gauge");
	expect_line(text, "infertrace_gpu_memory_bytes{workload=\"inference\",device=\"cuda:0\"} "
			  "1073741824");
	expect_line(text, "infertrace_bytes_total{workload=\"inference\",direction=\"sent\"} 12345");
	expect_line(text, "infertrace_bytes_total{workload=\"inference\",direction=\"received\"} 678");
	expect_line(text, "infertrace_lost_events_total 3");
	expect_line(text, "infertrace_ringbuf_events_total 4242");
	expect_line(text, "# TYPE infertrace_agent_rss_bytes gauge");
	expect_line(text, "infertrace_agent_rss_bytes 31457280");
	expect_line(text, "infertrace_series_overflow_total{family=\"infertrace_tokens_total\"} 0");
	parse_free(&ps);
	free(text);
	live_free(l);
}

/* Values: integers exact, fractions round-trip, and no more digits than
 * that takes. */
static void test_render_values(void **state)
{
	struct live *l = live_new();
	double sum = 0.1;
	size_t len;
	char *text;

	(void)state;
	/* 0.1 + 0.2 (two cost rows of one series) is 0.30000000000000004 */
	feed(l, "{\"type\":\"cost\",\"ServiceName\":\"openai\",\"SkuMeter\":\"output tokens\","
		"\"ListCost\":0.1,\"x_workload\":\"w\"}");
	feed(l, "{\"type\":\"cost\",\"ServiceName\":\"openai\",\"SkuMeter\":\"output tokens\","
		"\"ListCost\":0.2,\"x_workload\":\"w\"}");
	sum += 0.2;
	/* 2^53 bytes: the largest integer a double holds exactly in sequence */
	feed(l, "{\"type\":\"usage\",\"pid\":5,\"comm\":\"x\",\"workload\":\"big\","
		"\"interval_start\":\"2099-01-01T00:00:00Z\",\"interval_end\":"
		"\"2099-01-01T00:00:10Z\",\"bytes_sent\":9007199254740992,\"bytes_received\":1}");
	feed(l, "{\"type\":\"cost\",\"ServiceName\":\"anthropic\",\"SkuMeter\":\"input tokens\","
		"\"ListCost\":1.5e-7,\"x_workload\":\"w\"}");
	text = metrics_render(l, &len);
	assert_non_null(text);
	expect_line(text, "infertrace_cost_usd_total{workload=\"w\",service=\"openai\","
			  "sku=\"output tokens\"} 0.30000000000000004");
	assert_true(sample_value(text, "infertrace_cost_usd_total{workload=\"w\",service=\"openai\","
				       "sku=\"output tokens\"} ") == sum);
	expect_line(text, "infertrace_bytes_total{workload=\"big\",direction=\"sent\"} "
			  "9007199254740992");
	expect_line(text, "infertrace_bytes_total{workload=\"big\",direction=\"received\"} 1");
	expect_line(text, "infertrace_cost_usd_total{workload=\"w\",service=\"anthropic\","
			  "sku=\"input tokens\"} 1.5e-07");
	free(text);
	live_free(l);
}

/* Label values with quotes, backslashes, newlines and bytes that are not
 * UTF-8 (model names come off the network; workloads from cgroup paths). */
static void test_render_escaping(void **state)
{
	struct live *l = fed_live();
	struct parse ps;
	size_t len;
	char *text;

	(void)state;
	feed_request(l, "pod\\ns \"x\"", "openai", "my\"model\\v2\nnext", 7, 1, 0, "table");
	feed_request(l, "team-b", "openai", "bad\xff\xfe utf8 \xc3\xa9t\xc3", 2, 1, 0, "table");
	feed_request(l, "team-b", "openai", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 3, 1, 0,
		     "table");
	text = metrics_render(l, &len);
	assert_non_null(text);
	parse_exposition(text, len, &ps);
	expect_line(text, "infertrace_requests_total{workload=\"pod\\\\ns \\\"x\\\"\","
			  "provider=\"openai\",model=\"my\\\"model\\\\v2\\nnext\",role=\"client\"} 1");
	/* every invalid byte (and the cut sequence at the end) becomes U+FFFD */
	expect_line(text, "infertrace_requests_total{workload=\"team-b\",provider=\"openai\","
			  "model=\"bad\xef\xbf\xbd\xef\xbf\xbd utf8 \xc3\xa9t\xef\xbf\xbd\","
			  "role=\"client\"} 1");
	/* valid UTF-8 passes as is */
	expect_line(text, "infertrace_requests_total{workload=\"team-b\",provider=\"openai\","
			  "model=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",role=\"client\"} 1");
	parse_free(&ps);
	free(text);
	live_free(l);
}

/* Past LIVE_MAX_SERIES label sets, new ones fold into one _other series and
 * are counted; the text stays valid. */
static void test_render_overflow(void **state)
{
	struct live *l = live_new();
	struct parse ps;
	size_t len;
	char *text, wl[32];

	(void)state;
	for (int i = 0; i < LIVE_MAX_SERIES + 5; i++) {
		snprintf(wl, sizeof(wl), "job-%d", i);
		feed_request(l, wl, "openai", "gpt-4o", 1, 1, 0, "table");
	}
	text = metrics_render(l, &len);
	assert_non_null(text);
	parse_exposition(text, len, &ps);
	expect_line(text, "infertrace_requests_total{workload=\"_other\",provider=\"_other\","
			  "model=\"_other\",role=\"_other\"} 5");
	expect_line(text, "infertrace_series_overflow_total{family=\"infertrace_requests_total\"} 5");
	assert_int_equal(count_prefix(text, "infertrace_requests_total{"), LIVE_MAX_SERIES + 1);
	parse_free(&ps);
	free(text);
	live_free(l);
}

/* ------------------------------------------------------------------------
 * HTTP, over plain sockets
 */

struct resp {
	int status;
	char *raw;      /* everything read */
	size_t rawlen;
	char *body;     /* into raw */
	size_t bodylen;
};

static void resp_free(struct resp *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* A header's value (first one, name case-insensitive) copied to out. */
static bool header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = strstr(r->raw, "\r\n");

	while (p && p + 2 < r->body) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(e - v), v);
			return true;
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

static int connect_to(int family, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { .tv_sec = 5 };
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* One request (raw HTTP, Connection: close added by the caller), the whole
 * response read to EOF. Returns 0, or -errno when no connection. */
static int http_raw(int family, const char *ip, int port, const char *request, struct resp *r)
{
	size_t cap = 65536, sent = 0, reqlen = strlen(request);
	int fd = connect_to(family, ip, port);
	char *sep;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return fd;
	while (sent < reqlen) {
		ssize_t k = send(fd, request + sent, reqlen - sent, MSG_NOSIGNAL);

		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	r->raw = malloc(cap + 1);
	assert_non_null(r->raw);
	for (;;) {
		ssize_t k;

		if (r->rawlen == cap) {
			cap *= 2;
			r->raw = realloc(r->raw, cap + 1);
			assert_non_null(r->raw);
		}
		k = recv(fd, r->raw + r->rawlen, cap - r->rawlen, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		r->rawlen += (size_t)k;
	}
	close(fd);
	r->raw[r->rawlen] = '\0';
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1) {
		print_error("not an HTTP response: '%.200s'\n", r->raw);
		fail();
	}
	sep = strstr(r->raw, "\r\n\r\n");
	assert_non_null(sep);
	r->body = sep + 4;
	r->bodylen = r->rawlen - (size_t)(r->body - r->raw);
	return 0;
}

static void http_get(int port, const char *method, const char *path, const char *extra,
		     struct resp *r)
{
	char req[512];
	int rc;

	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: test_metrics\r\n%s"
		 "Connection: close\r\n\r\n",
		 method, path, port, extra ? extra : "");
	rc = http_raw(AF_INET, "127.0.0.1", port, req, r);
	if (rc) {
		print_error("cannot connect to 127.0.0.1:%d: %s\n", port, strerror(-rc));
		fail();
	}
}

/* A port free on 127.0.0.1 (and on ::) right now: the kernel picks it. */
static int free_port(void)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(s);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&s, &sl), 0);
	port = ntohs(s.sin_port);
	close(fd);
	return port;
}

static struct metrics *start_on(const char *fmt, int port, struct live *l)
{
	char addr[64], err[256];
	struct metrics *m;

	snprintf(addr, sizeof(addr), fmt, port);
	err[0] = '\0';
	m = metrics_start(addr, l, err, sizeof(err));
	if (!m) {
		print_error("metrics_start(%s): %s\n", addr, err);
		fail();
	}
	return m;
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&s, sizeof(s)) == 0;
	close(fd);
	return ok;
}

static void test_http_get_head(void **state)
{
	struct live *l = fed_live();
	int port = free_port();
	struct metrics *m = start_on("127.0.0.1:%d", port, l);
	struct resp r;
	struct parse ps;
	char v[128], *want;
	size_t wantlen;

	(void)state;
	want = metrics_render(l, &wantlen);
	assert_non_null(want);

	http_get(port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
	assert_true(header(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), wantlen);
	assert_false(header(&r, "Content-Encoding", v, sizeof(v)));
	assert_int_equal(r.bodylen, wantlen);
	assert_memory_equal(r.body, want, wantlen);
	parse_exposition(r.body, r.bodylen, &ps);
	assert_true(ps.samples > 10);
	parse_free(&ps);
	resp_free(&r);

	/* the query string is not part of the path */
	http_get(port, "GET", "/metrics?name[]=up", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);

	/* HEAD: the same headers, no body */
	http_get(port, "HEAD", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
	assert_true(header(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), wantlen);
	assert_int_equal(r.bodylen, 0);
	resp_free(&r);

	free(want);
	metrics_stop(m);
	live_free(l);
}

static void test_http_gzip(void **state)
{
	struct live *l = fed_live();
	int port = free_port();
	struct metrics *m = start_on("127.0.0.1:%d", port, l);
	struct resp r;
	char v[128], *want, *out;
	size_t wantlen;
	z_stream z;

	(void)state;
	want = metrics_render(l, &wantlen);
	assert_non_null(want);
	/* what Prometheus sends */
	http_get(port, "GET", "/metrics",
		 "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
		 "Accept-Encoding: gzip\r\n",
		 &r);
	assert_int_equal(r.status, 200);
	assert_true(header(&r, "Content-Encoding", v, sizeof(v)));
	assert_string_equal(v, "gzip");
	assert_true(header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
	assert_true(r.bodylen < wantlen);
	out = malloc(wantlen + 1);
	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)r.body;
	z.avail_in = (uInt)r.bodylen;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)wantlen + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, wantlen);
	assert_memory_equal(out, want, wantlen);
	inflateEnd(&z);
	free(out);
	resp_free(&r);

	/* q=0 refuses gzip; other codings are not gzip */
	http_get(port, "GET", "/metrics", "Accept-Encoding: gzip;q=0, deflate\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_false(header(&r, "Content-Encoding", v, sizeof(v)));
	assert_int_equal(r.bodylen, wantlen);
	resp_free(&r);
	http_get(port, "GET", "/metrics", "Accept-Encoding: br, GZIP;q=0.5\r\n", &r);
	assert_true(header(&r, "Content-Encoding", v, sizeof(v)));
	assert_string_equal(v, "gzip");
	resp_free(&r);
	http_get(port, "GET", "/metrics", "Accept-Encoding: gzipx, identity\r\n", &r);
	assert_false(header(&r, "Content-Encoding", v, sizeof(v)));
	resp_free(&r);

	free(want);
	metrics_stop(m);
	live_free(l);
}

static void test_http_404_405(void **state)
{
	struct live *l = fed_live();
	int port = free_port();
	struct metrics *m = start_on("127.0.0.1:%d", port, l);
	static const char *const paths[] = { "/", "/metric", "/metrics/", "/metricsx", "/favicon.ico" };
	static const char *const methods[] = { "POST", "PUT", "DELETE", "OPTIONS" };
	struct resp r;
	char v[128];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_get(port, "GET", paths[i], NULL, &r);
		if (r.status != 404) {
			print_error("GET %s: expected 404, seen %d\n", paths[i], r.status);
			fail();
		}
		assert_true(r.bodylen > 0 && r.bodylen < 200);
		assert_non_null(strstr(r.body, "/metrics"));
		resp_free(&r);
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		http_get(port, methods[i], "/metrics", NULL, &r);
		if (r.status != 405) {
			print_error("%s /metrics: expected 405, seen %d\n", methods[i], r.status);
			fail();
		}
		assert_true(header(&r, "Allow", v, sizeof(v)));
		assert_string_equal(v, "GET, HEAD");
		resp_free(&r);
	}
	/* a POST with a body gets its 405 too */
	http_get(port, "POST", "/metrics",
		 "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\": true}", &r);
	assert_int_equal(r.status, 405);
	resp_free(&r);
	/* and the server still serves */
	http_get(port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	metrics_stop(m);
	live_free(l);
}

static void test_bad_addresses(void **state)
{
	static const struct {
		const char *addr, *says;
	} cases[] = {
		{ "", "empty address" },
		{ "9464", "no port" },
		{ "127.0.0.1", "no port" },
		{ "127.0.0.1:", "bad port" },
		{ "127.0.0.1:0", "bad port" },
		{ "127.0.0.1:65536", "bad port" },
		{ "127.0.0.1:94x", "bad port" },
		{ "127.0.0.1:-1", "bad port" },
		{ "127.0.0.1: 80", "bad port" },
		{ "::1:9464", "brackets" },
		{ "[::1]9464", "[IPV6]:PORT" },
		{ "[::1", "[IPV6]:PORT" },
		{ "[]:9464", "[IPV6]:PORT" },
		{ "256.1.1.1:9464", "cannot resolve" },
		{ "no-such-host.invalid:9464", "cannot resolve 'no-such-host.invalid'" },
		{ "192.0.2.1:9464", "Cannot assign requested address" }, /* not ours */
	};
	struct live *l = live_new();
	int fds = count_fds();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		struct metrics *m = metrics_start(cases[i].addr, l, err, sizeof(err));

		if (m || !strstr(err, cases[i].says)) {
			print_error("metrics_start('%s'): expected an error saying '%s', seen %s '%s'\n",
				    cases[i].addr, cases[i].says, m ? "success" : "error", err);
			metrics_stop(m);
			fail();
		}
	}
	assert_null(metrics_start(NULL, l, (char[64]){ 0 }, 64));
	assert_int_equal(count_fds(), fds); /* no socket left behind */
	live_free(l);
}

static void test_port_in_use(void **state)
{
	struct live *l = live_new();
	int fds = count_fds(), port = free_port();
	struct metrics *m = start_on("127.0.0.1:%d", port, l), *m2;
	char addr[64], err[256] = "", want[128];

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	m2 = metrics_start(addr, l, err, sizeof(err));
	assert_null(m2);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	if (!strstr(err, want) || !strstr(err, strerror(EADDRINUSE))) {
		print_error("expected the address and '%s' in '%s'\n", strerror(EADDRINUSE), err);
		fail();
	}
	/* all addresses on that port: in use too */
	snprintf(addr, sizeof(addr), ":%d", port);
	assert_null(metrics_start(addr, l, err, sizeof(err)));
	assert_non_null(strstr(err, strerror(EADDRINUSE)));

	/* after stop the port is free again (also with a connection served) */
	{
		struct resp r;

		http_get(port, "GET", "/metrics", NULL, &r);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	metrics_stop(m);
	assert_int_equal(connect_to(AF_INET, "127.0.0.1", port), -ECONNREFUSED);
	m = start_on("127.0.0.1:%d", port, l);
	metrics_stop(m);
	metrics_stop(NULL);
	/* the daemon's thread, epoll and sockets are all gone */
	assert_int_equal(count_fds(), fds);
	live_free(l);
}

static void expect_serves(int family, const char *ip, int port)
{
	char req[256];
	struct resp r;
	int rc;

	snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	rc = http_raw(family, ip, port, req, &r);
	if (rc) {
		print_error("GET http://%s:%d/metrics: %s\n", ip, port, strerror(-rc));
		fail();
	}
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

static void test_address_forms(void **state)
{
	struct live *l = fed_live();
	bool v6 = have_ipv6_loopback();
	struct metrics *m;
	int port;

	(void)state;
	/* ":PORT": every address, both families on one socket */
	port = free_port();
	m = start_on(":%d", port, l);
	expect_serves(AF_INET, "127.0.0.1", port);
	if (v6)
		expect_serves(AF_INET6, "::1", port);
	metrics_stop(m);

	/* a name */
	port = free_port();
	m = start_on("localhost:%d", port, l);
	{
		/* localhost is ::1 or 127.0.0.1, whichever the resolver gives first */
		struct resp r;
		int rc = http_raw(AF_INET, "127.0.0.1", port,
				  "GET /metrics HTTP/1.0\r\nConnection: close\r\n\r\n", &r);

		if (rc == 0)
			resp_free(&r);
		else if (v6)
			expect_serves(AF_INET6, "::1", port);
		else
			fail_msg("localhost:%d: no answer on 127.0.0.1 (%s)", port, strerror(-rc));
	}
	metrics_stop(m);

	/* an explicit IPv6 address listens on IPv6 only */
	if (v6) {
		port = free_port();
		m = start_on("[::1]:%d", port, l);
		expect_serves(AF_INET6, "::1", port);
		assert_int_equal(connect_to(AF_INET, "127.0.0.1", port), -ECONNREFUSED);
		metrics_stop(m);
	}
	live_free(l);
}

/* The agent's thread updates live while scrapes read it. */
struct writer {
	struct live *l;
	atomic_bool stop;
	int n;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	char wl[32];

	while (!atomic_load(&w->stop)) {
		snprintf(wl, sizeof(wl), "w-%d", w->n % 50);
		feed_request(w->l, wl, "anthropic", "claude-sonnet-4-5", 10, 2, 1, "table");
		w->n++;
	}
	return NULL;
}

static void test_concurrent_scrapes(void **state)
{
	struct writer w = { .l = live_new() };
	int port = free_port();
	struct metrics *m = start_on("127.0.0.1:%d", port, w.l);
	pthread_t t;
	double last = 0;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, write_loop, &w), 0);
	for (int i = 0; i < 30; i++) {
		struct resp r;
		struct parse ps;
		double total = 0;

		http_get(port, "GET", "/metrics", NULL, &r);
		assert_int_equal(r.status, 200);
		parse_exposition(r.body, r.bodylen, &ps);
		for (const char *p = r.body; (p = strstr(p, "\ninfertrace_requests_total{"));) {
			p = strchr(p, '}') + 2;
			total += strtod(p, NULL);
		}
		/* a counter never goes down between scrapes */
		assert_true(total >= last);
		last = total;
		parse_free(&ps);
		resp_free(&r);
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	assert_true(w.n > 0);
	metrics_stop(m);
	live_free(w.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_rejects),
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_render_lines),
		cmocka_unit_test(test_render_values),
		cmocka_unit_test(test_render_escaping),
		cmocka_unit_test(test_render_overflow),
		cmocka_unit_test(test_http_get_head),
		cmocka_unit_test(test_http_gzip),
		cmocka_unit_test(test_http_404_405),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_concurrent_scrapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

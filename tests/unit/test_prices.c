// SPDX-License-Identifier: MIT
/*
 * Price tables: matching precedence, layering, tiers, service-tier
 * variants, defaults, accelerators and host overrides, every validation
 * problem with its line, and the shipped prices/default.json.
 * Run from the repository root (the default table is read as
 * "prices/default.json").
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cost/prices.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_prices.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name; the returned path stays valid until the next
 * call with the same slot. */
static const char *write_tmp(const char *name, const char *text)
{
	static char paths[8][160];
	static int slot;
	char *p = paths[slot++ % 8];
	FILE *f;

	snprintf(p, 160, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return p;
}

static struct price_table *load_text(const char *text)
{
	struct price_problems pr = { 0 };
	const char *path = write_tmp("t.json", text);
	struct price_table *t = prices_load(&path, 1, &pr);

	if (!t)
		price_problems_print(&pr, stderr);
	assert_non_null(t);
	assert_int_equal(pr.n, 0);
	price_problems_free(&pr);
	return t;
}

/* Loads text that must fail; returns its problems. */
static struct price_problems load_bad(const char *text)
{
	struct price_problems pr = { 0 };
	const char *path = write_tmp("bad.json", text);
	struct price_table *t = prices_load(&path, 1, &pr);

	assert_null(t);
	assert_true(pr.n > 0);
	return pr;
}

/* The problem about field whose message contains msg; fails the test when
 * there is none, printing what there was. */
static const struct price_problem *problem(const struct price_problems *pr, const char *field,
					   const char *msg)
{
	for (size_t i = 0; i < pr->n; i++)
		if (!strcmp(pr->v[i].field, field) && strstr(pr->v[i].message, msg))
			return &pr->v[i];
	fprintf(stderr, "expected a problem at %s containing \"%s\"; got:\n", field, msg);
	price_problems_print(pr, stderr);
	fail();
	return NULL;
}

static void expect_problem(const char *text, int line, const char *field, const char *msg)
{
	struct price_problems pr = load_bad(text);
	const struct price_problem *p = problem(&pr, field, msg);

	if (p->line != line) {
		fprintf(stderr, "%s: expected line %d, got %d\n", field, line, p->line);
		price_problems_print(&pr, stderr);
	}
	assert_int_equal(p->line, line);
	price_problems_free(&pr);
}

#define HEAD "{\n\"version\": \"2026-11-01\",\n\"currency\": \"USD\",\n" /* lines 1-3 */
#define M(id, prov, match, in, out) \
	"{\"id\": \"" id "\", \"provider\": " prov ", \"match\": " match \
	", \"input_per_mtok\": " #in ", \"output_per_mtok\": " #out ", \"source\": \"s\"}"

#define PER_M(x) ((x) / 1e6)
#define RATE_EQ(got, per_mtok) assert_float_equal((got), PER_M(per_mtok), 1e-15)

static const char *key_of(const struct price_table *t, const char *prov, const char *model)
{
	static struct token_price p;

	if (prices_token(t, prov, model, -1, NULL, &p))
		return "(none)";
	return p.ref.key;
}

/* ---------------------------------------------------------------- */

static void test_precedence(void **state)
{
	struct price_table *t;

	(void)state;
	t = load_text(HEAD "\"models\": [\n"
		      M("regex-g", "\"p\"", "{\"regex\": \"g.*\"}", 1, 1) ",\n"
		      M("regex-g-digits", "\"p\"", "{\"regex\": \"g[0-9]+\"}", 2, 2) ",\n"
		      M("regex-foo", "\"p\"", "{\"regex\": \"foo.*\"}", 3, 3) ",\n"
		      M("prefix-foo", "\"p\"", "{\"prefix\": \"foo\"}", 4, 4) ",\n"
		      M("prefix-foo-20", "\"p\"", "{\"prefix\": [\"bar\", \"foo-20\"]}", 5, 5) ",\n"
		      M("exact", "\"p\"", "{\"exact\": [\"foo-2024\", \"baz\"]}", 6, 6) "\n"
		      "]}\n");
	assert_string_equal(key_of(t, "p", "foo-2024"), "exact");       /* exact > prefix > regex */
	assert_string_equal(key_of(t, "p", "FOO-2024"), "exact");       /* case-insensitive */
	assert_string_equal(key_of(t, "p", "baz"), "exact");
	assert_string_equal(key_of(t, "p", "foo-2025"), "prefix-foo-20"); /* longest prefix */
	assert_string_equal(key_of(t, "p", "foox"), "prefix-foo");      /* prefix > regex */
	assert_string_equal(key_of(t, "p", "g1"), "regex-g");           /* regexes: first listed */
	assert_string_equal(key_of(t, "p", "gx"), "regex-g");
	/* regexes are anchored: "xg1" is not "g.*" */
	assert_string_equal(key_of(t, "p", "xg1"), "(none)");
	assert_int_equal(prices_count_models(t), 6);
	prices_free(t);
}

static void test_provider_filter(void **state)
{
	struct price_table *t;
	struct token_price p;

	(void)state;
	t = load_text(HEAD "\"models\": [\n"
		      M("oai", "[\"openai\", \"azure.ai.openai\"]", "{\"exact\": \"gpt-x\"}", 1, 1) ",\n"
		      M("p1", "\"p1\"", "{\"exact\": \"shared\"}", 2, 2) ",\n"
		      M("p2", "\"p2\"", "{\"exact\": \"shared\"}", 3, 3) ",\n"
		      M("any", "\"*\"", "{\"exact\": \"gpt-y\"}", 4, 4) "\n"
		      "]}\n");
	assert_string_equal(key_of(t, "openai", "gpt-x"), "oai");
	assert_string_equal(key_of(t, "Azure.AI.OpenAI", "gpt-x"), "oai");
	assert_string_equal(key_of(t, "anthropic", "gpt-x"), "(none)");
	assert_string_equal(key_of(t, "openai_compatible", "gpt-x"), "(none)");
	assert_string_equal(key_of(t, "whatever", "gpt-y"), "any");
	assert_string_equal(key_of(t, "p1", "shared"), "p1");
	assert_int_equal(prices_token(t, "p2", "shared", -1, NULL, &p), 0);
	RATE_EQ(p.input, 3);
	/* no provider (`prices show` without --provider): any entry */
	assert_string_equal(key_of(t, NULL, "gpt-x"), "oai");
	prices_free(t);
}

static void test_layering(void **state)
{
	struct price_problems pr = { 0 };
	const char *paths[2];
	struct price_table *t;
	struct token_price p;

	(void)state;
	paths[0] = write_tmp("a.json", HEAD "\"models\": [\n"
			     M("a/x", "\"p\"", "{\"exact\": \"x\"}", 1, 1) ",\n"
			     M("a/z", "\"p\"", "{\"exact\": \"z\"}", 1, 1) ",\n"
			     M("a/y", "\"p\"", "{\"prefix\": \"y\"}", 1, 1) ",\n"
			     M("same", "\"p\"", "{\"exact\": \"w\"}", 1, 1) "\n"
			     "]}\n");
	paths[1] = write_tmp("b.json", HEAD "\"models\": [\n"
			     M("b/x", "\"p\"", "{\"exact\": \"x\"}", 2, 2) ",\n"
			     M("b/z", "\"p\"", "{\"prefix\": \"z\"}", 2, 2) ",\n"
			     M("b/y", "\"p\"", "{\"prefix\": \"y\"}", 2, 2) ",\n"
			     M("same", "\"p\"", "{\"exact\": \"v\"}", 2, 2) "\n"
			     "]}\n");
	t = prices_load(paths, 2, &pr);
	assert_non_null(t);
	assert_string_equal(key_of(t, "p", "x"), "b/x");   /* same specificity: later file */
	assert_string_equal(key_of(t, "p", "y1"), "b/y");
	assert_string_equal(key_of(t, "p", "z"), "a/z");   /* exact in an earlier file > prefix */
	assert_string_equal(key_of(t, "p", "z1"), "b/z");
	/* the same id replaces the earlier entry, rules and all */
	assert_string_equal(key_of(t, "p", "w"), "(none)");
	assert_int_equal(prices_token(t, "p", "v", -1, NULL, &p), 0);
	assert_string_equal(p.ref.key, "same");
	assert_string_equal(p.ref.table, paths[1]);
	assert_string_equal(p.ref.version, "2026-11-01");
	assert_string_equal(p.ref.currency, "USD");
	assert_string_equal(p.ref.source, "s");
	RATE_EQ(p.input, 2);
	assert_int_equal(prices_count_models(t), 7);
	assert_int_equal(prices_count_files(t), 2);
	assert_string_equal(prices_file_path(t, 0), paths[0]);
	prices_free(t);
}

static void test_dated_names(void **state)
{
	struct price_table *t;

	(void)state;
	t = load_text(HEAD "\"models\": [\n"
		      M("gpt-4o", "\"openai\"",
			"{\"regex\": \"gpt-4o(-[0-9]{4}-[0-9]{2}-[0-9]{2})?\"}", 2.5, 10) ",\n"
		      M("claude", "\"anthropic\"", "{\"prefix\": \"claude-sonnet-4-5\"}", 3, 15) "\n"
		      "]}\n");
	assert_string_equal(key_of(t, "openai", "gpt-4o"), "gpt-4o");
	assert_string_equal(key_of(t, "openai", "gpt-4o-2024-08-06"), "gpt-4o");
	assert_string_equal(key_of(t, "openai", "gpt-4o-mini"), "(none)");
	assert_string_equal(key_of(t, "openai", "gpt-4o-2024-08"), "(none)");
	assert_string_equal(key_of(t, "anthropic", "claude-sonnet-4-5-20250929"), "claude");
	assert_string_equal(key_of(t, "anthropic", "claude-sonnet-4-5"), "claude");
	prices_free(t);
}

static const char *tier_table =
	HEAD "\"models\": [\n"
	"{\"id\": \"t\", \"provider\": \"p\", \"match\": {\"exact\": \"t\"},\n"
	" \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"cache_read_per_mtok\": 0.1,\n"
	" \"batch\": {\"multiplier\": 0.5},\n"
	" \"priority\": {\"input_per_mtok\": 4, \"output_per_mtok\": 8, \"cache_read_per_mtok\": 0.4},\n"
	" \"tiers\": [\n"
	"  {\"above_prompt_tokens\": 100, \"input_per_mtok\": 3, \"output_per_mtok\": 4,"
	"   \"cache_read_per_mtok\": 0.3},\n"
	"  {\"name\": \"long\", \"above_prompt_tokens\": 200, \"input_per_mtok\": 5,"
	"   \"output_per_mtok\": 6, \"priority\": {\"multiplier\": 2}}\n"
	" ],\n"
	" \"source\": \"s\"}\n"
	"]}\n";

static void test_tiers(void **state)
{
	struct price_table *t = load_text(tier_table);
	struct token_price p;

	(void)state;
	assert_int_equal(prices_token(t, "p", "t", -1, NULL, &p), 0); /* unknown size: base */
	assert_string_equal(p.tier, "base");
	RATE_EQ(p.input, 1);
	assert_int_equal(prices_token(t, "p", "t", 100, NULL, &p), 0); /* at the threshold: base */
	assert_string_equal(p.tier, "base");
	RATE_EQ(p.output, 2);
	assert_int_equal(prices_token(t, "p", "t", 101, NULL, &p), 0); /* above: the whole request */
	assert_string_equal(p.tier, ">100");
	RATE_EQ(p.input, 3);
	RATE_EQ(p.output, 4);
	RATE_EQ(p.cache_read, 0.3);
	RATE_EQ(p.cache_write_5m, 3); /* defaults within the tier */
	RATE_EQ(p.reasoning, 4);
	assert_int_equal(prices_token(t, "p", "t", 200, NULL, &p), 0);
	assert_string_equal(p.tier, ">100");
	assert_int_equal(prices_token(t, "p", "t", 201, NULL, &p), 0);
	assert_string_equal(p.tier, "long");
	RATE_EQ(p.input, 5);
	RATE_EQ(p.cache_read, 5);
	prices_free(t);
}

static void test_variants(void **state)
{
	struct price_table *t = load_text(tier_table);
	struct token_price p;

	(void)state;
	/* multiplier */
	assert_int_equal(prices_token(t, "p", "t", 10, "batch", &p), 0);
	assert_string_equal(p.service_tier, "batch");
	RATE_EQ(p.input, 0.5);
	RATE_EQ(p.output, 1);
	RATE_EQ(p.cache_read, 0.05);
	assert_int_equal(prices_token(t, "p", "t", 150, "batch", &p), 0); /* on a tier too */
	RATE_EQ(p.input, 1.5);
	/* explicit rates, defaults within the variant */
	assert_int_equal(prices_token(t, "p", "t", 10, "priority", &p), 0);
	assert_string_equal(p.service_tier, "priority");
	RATE_EQ(p.input, 4);
	RATE_EQ(p.output, 8);
	RATE_EQ(p.cache_read, 0.4);
	RATE_EQ(p.cache_write_5m, 4);
	RATE_EQ(p.cache_write_1h, 4);
	RATE_EQ(p.reasoning, 8);
	/* a tier's own variant */
	assert_int_equal(prices_token(t, "p", "t", 300, "priority", &p), 0);
	assert_string_equal(p.tier, "long");
	RATE_EQ(p.input, 10);
	RATE_EQ(p.output, 12);
	/* explicit base-tier rates carried to a tier as their ratio */
	assert_int_equal(prices_token(t, "p", "t", 150, "priority", &p), 0);
	RATE_EQ(p.input, 12);  /* 3 x 4/1 */
	RATE_EQ(p.output, 16); /* 4 x 8/2 */
	RATE_EQ(p.cache_read, 1.2);
	/* a variant the entry lacks: standard rates, and it says so */
	assert_int_equal(prices_token(t, "p", "t", 10, "flex", &p), 0);
	assert_string_equal(p.service_tier, "standard");
	RATE_EQ(p.input, 1);
	assert_int_equal(prices_token(t, "p", "t", 10, "", &p), 0);
	assert_string_equal(p.service_tier, "standard");
	assert_int_equal(prices_token(t, "p", "t", 10, "default", &p), 0); /* OpenAI's name */
	assert_string_equal(p.service_tier, "standard");
	assert_int_equal(prices_token(t, "p", "t", 10, "BATCH", &p), 0);
	assert_string_equal(p.service_tier, "batch");
	prices_free(t);
}

static void test_defaults(void **state)
{
	struct price_table *t;
	struct token_price p;

	(void)state;
	t = load_text(HEAD "\"models\": [\n"
		      M("plain", "\"p\"", "{\"exact\": \"plain\"}", 2, 5) ",\n"
		      "{\"id\": \"full\", \"provider\": \"p\", \"match\": {\"exact\": \"full\"},"
		      " \"input_per_mtok\": 2, \"output_per_mtok\": 5, \"cache_read_per_mtok\": 0.2,"
		      " \"cache_write_5m_per_mtok\": 2.5, \"cache_write_1h_per_mtok\": 4,"
		      " \"reasoning_per_mtok\": 7, \"source\": \"s\"}\n"
		      "]}\n");
	assert_int_equal(prices_token(t, "p", "plain", 10, NULL, &p), 0);
	RATE_EQ(p.input, 2);
	RATE_EQ(p.output, 5);
	RATE_EQ(p.cache_read, 2);     /* cache_read -> input */
	RATE_EQ(p.cache_write_5m, 2); /* cache_write -> input */
	RATE_EQ(p.cache_write_1h, 2);
	RATE_EQ(p.reasoning, 5);      /* reasoning -> output */
	assert_string_equal(p.tier, "base");
	assert_string_equal(p.service_tier, "standard");
	assert_int_equal(prices_token(t, "p", "full", 10, NULL, &p), 0);
	RATE_EQ(p.cache_read, 0.2);
	RATE_EQ(p.cache_write_5m, 2.5);
	RATE_EQ(p.cache_write_1h, 4);
	RATE_EQ(p.reasoning, 7);
	prices_free(t);
}

static void test_unknown_model_is_enoent(void **state)
{
	struct price_table *t;
	struct token_price p;

	(void)state;
	t = load_text(HEAD "\"models\": [" M("a", "\"p\"", "{\"exact\": \"a\"}", 1, 1) "],\n"
		      "\"accelerators\": [{\"id\": \"default\", \"usd_per_hour\": 1, \"source\": \"s\"}]}\n");
	assert_int_equal(prices_token(t, "p", "b", 10, NULL, &p), -ENOENT);
	assert_int_equal(prices_token(t, "p", "", 10, NULL, &p), -ENOENT);
	assert_int_equal(prices_token(t, "p", NULL, 10, NULL, &p), -ENOENT);
	assert_int_equal(prices_token(NULL, "p", "a", 10, NULL, &p), -ENOENT);
	prices_free(t);
}

static const char *accel_table =
	HEAD "\"accelerators\": [\n"
	"{\"id\": \"h100\", \"match\": {\"regex\": \"NVIDIA H100( 80GB HBM3)?\"}, \"usd_per_hour\": 3,"
	" \"source\": \"s\"},\n"
	"{\"id\": \"h100-pcie\", \"match\": {\"prefix\": \"NVIDIA H100 PCIe\"}, \"usd_per_hour\": 2,"
	" \"source\": \"s\"},\n"
	"{\"id\": \"l4\", \"match\": {\"exact\": \"NVIDIA L4\"}, \"usd_per_hour\": 0.8, \"source\": \"s\"},\n"
	"{\"id\": \"default\", \"usd_per_hour\": 1.5, \"source\": \"s\"}\n"
	"],\n"
	"\"hosts\": [\n"
	"{\"hostname\": \"gpu-node-1\", \"accelerators\": [\n"
	"  {\"id\": \"h100-reserved\", \"match\": {\"prefix\": \"NVIDIA H100\"}, \"usd_per_hour\": 1.2,"
	"   \"source\": \"3-year reservation\"}]},\n"
	"{\"hostname_regex\": \"lab-[0-9]+\", \"accelerators\": [\n"
	"  {\"id\": \"default\", \"usd_per_hour\": 0.5, \"source\": \"on-prem, amortised\"}]}\n"
	"]}\n";

static void test_accelerators(void **state)
{
	struct price_table *t = load_text(accel_table);
	struct accel_price a;

	(void)state;
	assert_int_equal(prices_accel(t, "nvidia h100 80gb hbm3", NULL, &a), 0);
	assert_string_equal(a.ref.key, "h100");
	assert_float_equal(a.usd_per_hour, 3, 1e-12);
	assert_false(a.is_default);
	assert_int_equal(prices_accel(t, "NVIDIA H100 PCIe", NULL, &a), 0);
	assert_string_equal(a.ref.key, "h100-pcie");
	assert_int_equal(prices_accel(t, "NVIDIA L4", "elsewhere", &a), 0);
	assert_string_equal(a.ref.key, "l4");
	/* nothing named it: the default row, and it says so */
	assert_int_equal(prices_accel(t, "NVIDIA A10G", NULL, &a), 0);
	assert_string_equal(a.ref.key, "default");
	assert_true(a.is_default);
	assert_float_equal(a.usd_per_hour, 1.5, 1e-12);
	assert_int_equal(prices_accel(t, "cuda:0", NULL, &a), 0);
	assert_true(a.is_default);
	assert_int_equal(prices_count_accels(t), 6);
	prices_free(t);
}

static void test_host_overrides(void **state)
{
	struct price_table *t = load_text(accel_table);
	struct accel_price a;

	(void)state;
	assert_int_equal(prices_accel(t, "NVIDIA H100 80GB HBM3", "gpu-node-1", &a), 0);
	assert_string_equal(a.ref.key, "gpu-node-1/h100-reserved");
	assert_float_equal(a.usd_per_hour, 1.2, 1e-12);
	assert_string_equal(a.ref.source, "3-year reservation");
	assert_int_equal(prices_accel(t, "NVIDIA H100 80GB HBM3", "GPU-NODE-1", &a), 0);
	assert_string_equal(a.ref.key, "gpu-node-1/h100-reserved");
	/* the host has no row for it: the general rows */
	assert_int_equal(prices_accel(t, "NVIDIA L4", "gpu-node-1", &a), 0);
	assert_string_equal(a.ref.key, "l4");
	/* a host's default row beats the general named rows on that host */
	assert_int_equal(prices_accel(t, "NVIDIA H100 80GB HBM3", "lab-7", &a), 0);
	assert_string_equal(a.ref.key, "~lab-[0-9]+/default");
	assert_true(a.is_default);
	assert_float_equal(a.usd_per_hour, 0.5, 1e-12);
	/* hostname_regex is anchored */
	assert_int_equal(prices_accel(t, "NVIDIA H100 80GB HBM3", "lab-7.example", &a), 0);
	assert_string_equal(a.ref.key, "h100");
	prices_free(t);
}

static void test_host_precedence(void **state)
{
	struct price_problems pr = { 0 };
	const char *paths[2];
	struct price_table *t;
	struct accel_price a;

	(void)state;
	paths[0] = write_tmp("h1.json", HEAD "\"hosts\": [\n"
			     "{\"hostname\": \"lab-1\", \"accelerators\": [\n"
			     "  {\"id\": \"h100\", \"match\": {\"prefix\": \"NVIDIA H100\"},"
			     "   \"usd_per_hour\": 1, \"source\": \"s\"}]},\n"
			     "{\"hostname_regex\": \"lab-[0-9]+\", \"accelerators\": [\n"
			     "  {\"id\": \"h100\", \"match\": {\"prefix\": \"NVIDIA H100\"},"
			     "   \"usd_per_hour\": 2, \"source\": \"s\"},\n"
			     "  {\"id\": \"h100-hbm3\", \"match\": {\"exact\": \"NVIDIA H100 80GB HBM3\"},"
			     "   \"usd_per_hour\": 3, \"source\": \"s\"}]}\n"
			     "]}\n");
	paths[1] = write_tmp("h2.json", HEAD "\"hosts\": [\n"
			     "{\"hostname_regex\": \"lab-[0-9]+\", \"accelerators\": [\n"
			     "  {\"id\": \"h100\", \"match\": {\"prefix\": \"NVIDIA H100\"},"
			     "   \"usd_per_hour\": 4, \"source\": \"s\"}]}\n"
			     "]}\n");
	t = prices_load(paths, 2, &pr);
	assert_non_null(t);
	/* equal rules: the exact hostname's block, whatever the file order */
	assert_int_equal(prices_accel(t, "NVIDIA H100 PCIe", "lab-1", &a), 0);
	assert_string_equal(a.ref.key, "lab-1/h100");
	/* a more specific rule wins over the block kind */
	assert_int_equal(prices_accel(t, "NVIDIA H100 80GB HBM3", "lab-1", &a), 0);
	assert_string_equal(a.ref.key, "~lab-[0-9]+/h100-hbm3");
	/* same host block and id in a later file: replaced */
	assert_int_equal(prices_accel(t, "NVIDIA H100 PCIe", "lab-2", &a), 0);
	assert_float_equal(a.usd_per_hour, 4, 1e-12);
	assert_string_equal(a.ref.table, paths[1]);
	assert_int_equal(prices_count_accels(t), 3);
	prices_free(t);
}

static void test_no_default_accel(void **state)
{
	struct price_table *t;
	struct accel_price a;

	(void)state;
	t = load_text(HEAD "\"accelerators\": [{\"id\": \"l4\", \"match\": {\"exact\": \"NVIDIA L4\"},"
			   " \"usd_per_hour\": 0.8, \"source\": \"s\"}]}\n");
	assert_int_equal(prices_accel(t, "NVIDIA H100", NULL, &a), -ENOENT);
	assert_int_equal(prices_accel(t, "NVIDIA L4", NULL, &a), 0);
	prices_free(t);
}

/* ---------------- validation: every problem, at its line ---------------- */

static void test_syntax_error_line_column(void **state)
{
	struct price_problems pr;

	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       "    {\"id\": \"x\",}\n" /* line 5: trailing comma */
		       "]}\n",
		       5, "json", "column 16: a comma before '}'");
	expect_problem(HEAD "\"models\": [\n" /* 4 */
		       "  {\"id\": \"x\" \"provider\": \"p\"}\n" /* 5: missing comma */
		       "]}\n",
		       5, "json", "column 14: expected ',' or '}', at \"\"provider\"");
	/* a truncated file */
	pr = load_bad("{\n\"version\": \"2026-11-01\",\n\"models\": [\n");
	assert_int_equal(pr.n, 1);
	problem(&pr, "json", "still open");
	price_problems_free(&pr);
	expect_problem("", 1, "json", "no JSON value");
	expect_problem("{}\n{}\n", 2, "json", "more text after the JSON value");
	expect_problem("{\n\"version\": '2026-11-01'}\n", 2, "json", "double quotes");
	expect_problem("{\n\"version\": \"2026-11-01\",\n\"currency\": \"USD\",\n"
		       "\"models\": [], \"note\": 01}\n", 4, "json", "column 23: invalid number");
}

static void test_unknown_key_suggests(void **state)
{
	struct price_problems pr;
	const struct price_problem *p;

	(void)state;
	pr = load_bad(HEAD "\"models\": [\n"              /* 4 */
		      "{\"id\": \"a\", \"provider\": \"p\",\n" /* 5 */
		      " \"match\": {\"exact\": \"a\"},\n"     /* 6 */
		      " \"input_per_mtoks\": 1,\n"            /* 7 */
		      " \"output_per_mtok\": 2, \"source\": \"s\"}\n"
		      "]}\n");
	p = problem(&pr, "models[0].input_per_mtoks", "did you mean \"input_per_mtok\"");
	assert_int_equal(p->line, 7);
	/* and the real key is reported missing, at the entry */
	p = problem(&pr, "models[0].input_per_mtok", "missing");
	assert_int_equal(p->line, 5);
	price_problems_free(&pr);
	expect_problem(HEAD "\"modles\": []}\n", 4, "modles", "did you mean \"models\"");
	expect_problem(HEAD "\"models\": [{\"id\": \"a\", \"provider\": \"p\",\n"
		       " \"match\": {\"exact\": \"a\", \"suffix\": \"b\"},\n" /* 5 */
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       5, "models[0].match.suffix", "unknown key");
}

static void test_bad_prices(void **state)
{
	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n" /* 5 */
		       " \"input_per_mtok\": 1,\n"                                        /* 6 */
		       " \"output_per_mtok\": -2,\n"                                      /* 7 */
		       " \"source\": \"s\"}]}\n",
		       7, "models[0].output_per_mtok", "negative");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       " \"input_per_mtok\": \"2.5\",\n" /* 6 */
		       " \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       6, "models[0].input_per_mtok", "must be a number");
	expect_problem(HEAD "\"accelerators\": [\n"
		       "{\"id\": \"x\", \"match\": {\"exact\": \"x\"},\n" /* 5 */
		       " \"usd_per_hour\": null, \"source\": \"s\"}]}\n",
		       6, "accelerators[0].usd_per_hour", "must be a number");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\",\n"
		       " \"batch\": {\"multiplier\": 0}}]}\n", /* 7 */
		       7, "models[0].batch.multiplier", "above 0");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\",\n"
		       " \"batch\": {\"multiplier\": 0.5, \"input_per_mtok\": 1}}]}\n", /* 7 */
		       7, "models[0].batch.multiplier", "not both");
}

static void test_missing_source(void **state)
{
	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       "  {\"id\": \"a\",\n" /* 5 */
		       "   \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       "   \"input_per_mtok\": 1, \"output_per_mtok\": 2}\n"
		       "]}\n",
		       5, "models[0].source", "missing");
	expect_problem(HEAD "\"models\": [\n"
		       "  {\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       "   \"input_per_mtok\": 1, \"output_per_mtok\": 2,\n"
		       "   \"source\": \"  \"}\n" /* 7 */
		       "]}\n",
		       7, "models[0].source", "empty");
	expect_problem(HEAD "\"accelerators\": [\n"
		       "  {\"id\": \"default\", \"usd_per_hour\": 1}\n" /* 5 */
		       "]}\n",
		       5, "accelerators[0].source", "missing");
}

static void test_version(void **state)
{
	(void)state;
	expect_problem("{\n\"currency\": \"USD\"}\n", 1, "version", "missing");
	expect_problem("{\n\"version\": \"2026-13-01\",\n\"currency\": \"USD\"}\n", 2, "version",
		       "YYYY-MM-DD");
	expect_problem("{\n\"version\": \"2025-02-29\",\n\"currency\": \"USD\"}\n", 2, "version",
		       "YYYY-MM-DD");
	expect_problem("{\n\"version\": \"last week\",\n\"currency\": \"USD\"}\n", 2, "version",
		       "YYYY-MM-DD");
	expect_problem("{\n\"version\": 20261101,\n\"currency\": \"USD\"}\n", 2, "version",
		       "must be a string");
	expect_problem("{\n\"version\": \"2026-11-01\",\n\"currency\": \"EUR\"}\n", 3, "currency",
		       "USD");
	expect_problem("[]\n", 1, "", "one JSON object");
}

static void test_invalid_regex(void **state)
{
	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\",\n"
		       " \"match\": {\"regex\": [\"ok\",\n"  /* 6 */
		       "   \"gpt-(4o\"]},\n"                 /* 7 */
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       7, "models[0].match.regex[1]", "invalid regular expression");
	expect_problem(HEAD "\"hosts\": [\n"
		       "{\"hostname_regex\": \"gpu-[\",\n" /* 5 */
		       " \"accelerators\": []}]}\n",
		       5, "hosts[0].hostname_regex", "invalid regular expression");
}

static void test_duplicate_ids(void **state)
{
	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       M("a", "\"p\"", "{\"exact\": \"a\"}", 1, 1) ",\n" /* 5 */
		       M("b", "\"p\"", "{\"exact\": \"b\"}", 1, 1) ",\n" /* 6 */
		       M("a", "\"p\"", "{\"exact\": \"c\"}", 1, 1) "\n"  /* 7 */
		       "]}\n",
		       7, "models[2].id", "duplicate id \"a\" (first at line 5)");
	expect_problem(HEAD "\"accelerators\": [\n"
		       "{\"id\": \"default\", \"usd_per_hour\": 1, \"source\": \"s\"},\n"
		       "{\"id\": \"default\", \"usd_per_hour\": 2, \"source\": \"s\"}]}\n", /* 6 */
		       6, "accelerators[1].id", "duplicate id");
	/* and duplicate JSON keys, which cJSON would keep silently */
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n" /* 5 */
		       " \"input_per_mtok\": 1,\n"                                        /* 6 */
		       " \"output_per_mtok\": 2, \"source\": \"s\",\n"                     /* 7 */
		       " \"input_per_mtok\": 9}]}\n",                                     /* 8 */
		       8, "models[0].input_per_mtok", "duplicate key (also at line 6)");
}

static void test_tiers_not_increasing(void **state)
{
	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\",\n"
		       " \"tiers\": [\n" /* 7 */
		       "  {\"above_prompt_tokens\": 200000, \"input_per_mtok\": 2, \"output_per_mtok\": 3},\n"
		       "  {\"above_prompt_tokens\": 100000, \"input_per_mtok\": 3, \"output_per_mtok\": 4}\n" /* 9 */
		       " ]}]}\n",
		       9, "models[0].tiers[1].above_prompt_tokens", "must go up");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\",\n"
		       " \"tiers\": [\n"
		       "  {\"above_prompt_tokens\": 1.5, \"input_per_mtok\": 2, \"output_per_mtok\": 3}\n" /* 8 */
		       " ]}]}\n",
		       8, "models[0].tiers[0].above_prompt_tokens", "whole number");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\",\n"
		       " \"tiers\": [\n"
		       "  {\"above_prompt_tokens\": 1000, \"input_per_mtok\": 2}\n" /* 8 */
		       " ]}]}\n",
		       8, "models[0].tiers[0].output_per_mtok", "missing");
}

static void test_match_rule_kinds(void **state)
{
	(void)state;
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\",\n"
		       " \"match\": {},\n" /* 6 */
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       6, "models[0].match", "has no rule");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\",\n"
		       " \"match\": {\"exact\": \"a\",\n" /* 6 */
		       "           \"regex\": \"a.*\"},\n"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       6, "models[0].match", "has 2 rule kinds");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\",\n" /* 5 */
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       5, "models[0].match", "missing");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": [],\n" /* 5 */
		       " \"match\": {\"exact\": \"a\"},"
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       5, "models[0].provider", "empty array");
	expect_problem(HEAD "\"models\": [\n"
		       "{\"id\": \"a\", \"provider\": \"p\",\n"
		       " \"match\": {\"prefix\": [\"a\", 7]},\n" /* 6 */
		       " \"input_per_mtok\": 1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n",
		       6, "models[0].match.prefix[1]", "must be a string");
	/* accelerators: "default" takes no match, others need one */
	expect_problem(HEAD "\"accelerators\": [\n"
		       "{\"id\": \"default\", \"match\": {\"exact\": \"x\"},\n" /* 5 */
		       " \"usd_per_hour\": 1, \"source\": \"s\"}]}\n",
		       5, "accelerators[0].match", "takes no \"match\"");
	expect_problem(HEAD "\"accelerators\": [\n"
		       "{\"id\": \"h100\", \"usd_per_hour\": 1, \"source\": \"s\"}]}\n", /* 5 */
		       5, "accelerators[0].match", "missing");
	expect_problem(HEAD "\"hosts\": [\n"
		       "{\"hostname\": \"a\", \"hostname_regex\": \"b\",\n" /* 5 */
		       " \"accelerators\": []}]}\n",
		       5, "hosts[0]", "exactly one of \"hostname\" and \"hostname_regex\"");
	expect_problem(HEAD "\"hosts\": [\n"
		       "{\"hostname\": \"a\", \"accelerators\": [\n"
		       "  {\"id\": \"x\", \"match\": {\"exact\": \"x\"}, \"usd_per_hour\": -1,\n" /* 6 */
		       "   \"source\": \"s\"}]}]}\n",
		       6, "hosts[0].accelerators[0].usd_per_hour", "negative");
}

static void test_all_problems_collected(void **state)
{
	struct price_problems pr = { 0 };
	const char *paths[3];
	struct price_table *t;

	(void)state;
	paths[0] = write_tmp("many.json",
			     "{\n\"version\": \"2026-1-1\",\n\"currency\": \"USD\",\n\"models\": [\n"
			     "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"regex\": \"(\"},\n" /* 5 */
			     " \"input_per_mtok\": -1, \"output_per_mtok\": \"x\"},\n"           /* 6 */
			     "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"b\"},\n" /* 7 */
			     " \"input_per_mtok\": 1, \"output_per_mtok\": 1, \"sauce\": \"s\"}\n" /* 8 */
			     "]}\n");
	paths[1] = write_tmp("ok.json", HEAD "\"models\": []}\n");
	paths[2] = "/nonexistent/prices.json";
	t = prices_load(paths, 3, &pr);
	assert_null(t);
	assert_int_equal(problem(&pr, "version", "YYYY-MM-DD")->line, 2);
	assert_int_equal(problem(&pr, "models[0].match.regex", "invalid")->line, 5);
	assert_int_equal(problem(&pr, "models[0].input_per_mtok", "negative")->line, 6);
	assert_int_equal(problem(&pr, "models[0].output_per_mtok", "number")->line, 6);
	assert_int_equal(problem(&pr, "models[0].source", "missing")->line, 5);
	assert_int_equal(problem(&pr, "models[1].id", "duplicate")->line, 7);
	assert_int_equal(problem(&pr, "models[1].sauce", "did you mean \"source\"")->line, 8);
	assert_int_equal(problem(&pr, "models[1].source", "missing")->line, 7);
	/* a file that cannot be read: one problem with strerror, line unknown */
	{
		const struct price_problem *p = problem(&pr, "", "cannot read: No such file or directory");

		assert_string_equal(p->path, "/nonexistent/prices.json");
		assert_int_equal(p->line, 0);
	}
	assert_int_equal(pr.n, 9);
	assert_string_equal(pr.v[0].path, paths[0]);
	price_problems_free(&pr);
}

static void test_problem_print_format(void **state)
{
	struct price_problems pr;
	char buf[1024] = "", want[1024];
	FILE *f;

	(void)state;
	pr = load_bad(HEAD "\"models\": [\n"
		      "{\"id\": \"a\", \"provider\": \"p\", \"match\": {\"exact\": \"a\"},\n"
		      " \"input_per_mtok\": -1, \"output_per_mtok\": 2, \"source\": \"s\"}]}\n");
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	price_problems_print(&pr, f);
	fclose(f);
	snprintf(want, sizeof(want), "%s/bad.json:6: models[0].input_per_mtok: must not be negative (is -1)\n",
		 tmpdir);
	assert_string_equal(buf, want);
	price_problems_free(&pr);
}

static void test_default_path_env(void **state)
{
	(void)state;
	setenv("INFERTRACE_PRICES", "/etc/infertrace/prices.json", 1);
	assert_string_equal(prices_default_path(), "/etc/infertrace/prices.json");
	unsetenv("INFERTRACE_PRICES");
}

/* ---------------- the shipped table ---------------- */

struct want {
	const char *provider, *model, *key;
	double input; /* per million; < 0: do not check */
};

static void test_default_table(void **state)
{
	static const struct want w[] = {
		{ "openai", "gpt-4o-2024-08-06", "openai/gpt-4o", 2.5 },
		{ "openai", "gpt-4o", "openai/gpt-4o", 2.5 },
		{ "openai", "gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13", 5 },
		{ "openai", "gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini", 0.15 },
		{ "azure.ai.openai", "gpt-4.1-mini", "openai/gpt-4.1-mini", 0.4 },
		{ "openai", "gpt-4.1-2025-04-14", "openai/gpt-4.1", 2 },
		{ "openai", "gpt-4.1-nano", "openai/gpt-4.1-nano", 0.1 },
		{ "openai", "gpt-5", "openai/gpt-5", 1.25 },
		{ "openai", "gpt-5-2025-08-07", "openai/gpt-5", 1.25 },
		{ "openai", "gpt-5-mini-2025-08-07", "openai/gpt-5-mini", 0.25 },
		{ "openai", "gpt-5-nano", "openai/gpt-5-nano", 0.05 },
		{ "openai", "gpt-5.1", "openai/gpt-5.1", 1.25 },
		{ "openai", "gpt-5.4-mini", "openai/gpt-5.4-mini", 0.75 },
		{ "openai", "gpt-5.5", "openai/gpt-5.5", 5 },
		{ "openai", "o3-2025-04-16", "openai/o3", 2 },
		{ "openai", "o4-mini-2025-04-16", "openai/o4-mini", 1.1 },
		{ "openai", "o1", "openai/o1", 15 },
		{ "openai", "o3-mini", "openai/o3-mini", 1.1 },
		{ "openai", "text-embedding-3-small", "openai/text-embedding-3-small", 0.02 },
		{ "openai", "text-embedding-3-large", "openai/text-embedding-3-large", 0.13 },
		{ "anthropic", "claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-and-4-5", 3 },
		{ "anthropic", "claude-sonnet-4-20250514", "anthropic/claude-sonnet-4-and-4-5", 3 },
		{ "anthropic", "claude-sonnet-4-6", "anthropic/claude-sonnet-4-6", 3 },
		{ "anthropic", "claude-opus-4-1-20250805", "anthropic/claude-opus-4-and-4-1", 15 },
		{ "anthropic", "claude-opus-4-20250514", "anthropic/claude-opus-4-and-4-1", 15 },
		{ "anthropic", "claude-opus-4-5-20251101", "anthropic/claude-opus-4-5-to-4-8", 5 },
		{ "anthropic", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5", 1 },
		{ "anthropic", "claude-3-7-sonnet-20250219", "anthropic/claude-3-7-sonnet", 3 },
		{ "anthropic", "claude-3-5-sonnet-20241022", "anthropic/claude-3-5-sonnet", 3 },
		{ "anthropic", "claude-3-5-haiku-20241022", "anthropic/claude-3-5-haiku", 0.8 },
		{ "gcp.vertex_ai", "claude-sonnet-4-5@20250929", "anthropic/claude-sonnet-4-and-4-5", 3 },
		{ "gcp.vertex_ai", "claude-sonnet-4@20250514", "anthropic/claude-sonnet-4-and-4-5", 3 },
		{ "gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022", "anthropic/claude-3-5-sonnet", 3 },
		{ "gcp.gemini", "gemini-2.5-pro", "google/gemini-2.5-pro", 1.25 },
		{ "gcp.gemini", "gemini-2.5-flash", "google/gemini-2.5-flash", 0.3 },
		{ "gcp.gemini", "gemini-2.5-flash-lite", "google/gemini-2.5-flash-lite", 0.1 },
		{ "gcp.vertex_ai", "gemini-2.5-flash-preview-09-2025", "google/gemini-2.5-flash", 0.3 },
		{ "aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
		  "aws.bedrock/claude-sonnet-4-5-regional", 3.3 },
		{ "aws.bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0",
		  "aws.bedrock/claude-sonnet-4-5-regional", 3.3 },
		{ "aws.bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
		  "aws.bedrock/claude-sonnet-4-5-global", 3 },
		{ "aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0",
		  "aws.bedrock/claude-3-5-sonnet", 6 },
		{ "aws.bedrock",
		  "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
		  "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
		  "aws.bedrock/claude-3-7-sonnet", 3 },
		{ "aws.bedrock", "eu.anthropic.claude-sonnet-4-20250514-v1:0",
		  "aws.bedrock/claude-sonnet-4", 3 },
		{ "aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0", "aws.bedrock/claude-3-haiku",
		  0.25 },
		/* not priced: never a guess */
		{ "aws.bedrock", "meta.llama3-70b-instruct-v1:0", NULL, -1 },
		{ "gcp.gemini", "gemini-2.5-flash-image", NULL, -1 },
		{ "anthropic", "gpt-4o", NULL, -1 },
		{ "openai_compatible", "gpt-4o", NULL, -1 },
		{ "ollama", "llama3.1:8b", NULL, -1 },
		{ "anthropic", "claude-sonnet-4-7", NULL, -1 },
	};
	static const struct {
		const char *name, *key;
		bool is_default;
	} g[] = {
		{ "NVIDIA H100 80GB HBM3", "h100-sxm", false },
		{ "NVIDIA H100 PCIe", "h100-pcie", false },
		{ "NVIDIA H200", "h200", false },
		{ "NVIDIA A100-SXM4-80GB", "a100-80gb", false },
		{ "NVIDIA A100 80GB PCIe", "a100-80gb", false },
		{ "NVIDIA A100-SXM4-40GB", "a100-40gb", false },
		{ "NVIDIA A100-PCIE-40GB", "a100-40gb", false },
		{ "NVIDIA L4", "l4", false },
		{ "NVIDIA L40S", "l40s", false },
		{ "NVIDIA L40", "default", true },
		{ "cuda:0", "default", true },
	};
	const char *path = "prices/default.json";
	struct price_problems pr = { 0 };
	struct price_table *t = prices_load(&path, 1, &pr);
	struct price_entry_info e;
	struct token_price p;
	struct accel_price a;

	(void)state;
	if (!t)
		price_problems_print(&pr, stderr);
	assert_non_null(t);
	assert_int_equal(pr.n, 0);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		int rc = prices_token(t, w[i].provider, w[i].model, 1000, NULL, &p);

		if (!w[i].key) {
			if (rc != -ENOENT)
				fprintf(stderr, "%s %s: expected no price, got %s\n", w[i].provider,
					w[i].model, p.ref.key);
			assert_int_equal(rc, -ENOENT);
			continue;
		}
		if (rc || strcmp(p.ref.key, w[i].key))
			fprintf(stderr, "%s %s: expected %s, got %s\n", w[i].provider, w[i].model,
				w[i].key, rc ? "(none)" : p.ref.key);
		assert_int_equal(rc, 0);
		assert_string_equal(p.ref.key, w[i].key);
		RATE_EQ(p.input, w[i].input);
		assert_string_equal(p.ref.version, "2026-11-27");
	}
	/* long-context tiers switch at the threshold, for the whole request */
	assert_int_equal(prices_token(t, "gcp.gemini", "gemini-2.5-pro", 250000, NULL, &p), 0);
	assert_string_equal(p.tier, ">200k");
	RATE_EQ(p.input, 2.5);
	RATE_EQ(p.output, 15);
	assert_int_equal(prices_token(t, "gcp.gemini", "gemini-2.5-pro", 200000, NULL, &p), 0);
	assert_string_equal(p.tier, "base");
	assert_int_equal(prices_token(t, "anthropic", "claude-sonnet-4-5-20250929", 250000, NULL, &p), 0);
	RATE_EQ(p.input, 6);
	RATE_EQ(p.output, 22.5);
	RATE_EQ(p.cache_read, 0.6);
	RATE_EQ(p.cache_write_5m, 7.5);
	RATE_EQ(p.cache_write_1h, 12);
	/* Anthropic cache rates and the batch half price */
	assert_int_equal(prices_token(t, "anthropic", "claude-sonnet-4-5-20250929", 1000, "batch", &p), 0);
	RATE_EQ(p.input, 1.5);
	RATE_EQ(p.output, 7.5);
	RATE_EQ(p.cache_read, 0.15);
	/* OpenAI priority, explicit */
	assert_int_equal(prices_token(t, "openai", "gpt-4o", 1000, "priority", &p), 0);
	assert_string_equal(p.service_tier, "priority");
	RATE_EQ(p.input, 4.25);
	RATE_EQ(p.reasoning, 17);
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		assert_int_equal(prices_accel(t, g[i].name, "some-host", &a), 0);
		if (strcmp(a.ref.key, g[i].key))
			fprintf(stderr, "%s: expected %s, got %s\n", g[i].name, g[i].key, a.ref.key);
		assert_string_equal(a.ref.key, g[i].key);
		assert_int_equal(a.is_default, g[i].is_default);
		assert_true(a.usd_per_hour > 0);
	}
	assert_int_equal(prices_accel(t, "NVIDIA H100 80GB HBM3", NULL, &a), 0);
	assert_float_equal(a.usd_per_hour, 3.78, 1e-9);
	/* every public price names a public source */
	for (size_t i = 0; !prices_model_info(t, i, &e); i++) {
		if (!strstr(e.ref.source, "http"))
			fprintf(stderr, "%s: source without a URL\n", e.ref.key);
		assert_non_null(strstr(e.ref.source, "http"));
		assert_non_null(strstr(e.ref.source, "checked 2026-"));
	}
	for (size_t i = 0; !prices_accel_info(t, i, &e); i++)
		if (!e.is_default)
			assert_non_null(strstr(e.ref.source, "http"));
	assert_true(prices_count_models(t) >= 60);
	prices_free(t);
}

/* Every entry of the shipped table is reachable: the first exact name or
 * prefix of each resolves to that entry (for its first provider), so no
 * entry is shadowed by another. Regex entries are sampled above. */
static void test_default_table_no_shadowing(void **state)
{
	const char *path = "prices/default.json";
	struct price_table *t = prices_load(&path, 1, NULL);
	struct price_entry_info e;

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; !prices_model_info(t, i, &e); i++) {
		char prov[64], name[128];
		const char *sp;
		struct token_price p;

		if (strncmp(e.match, "exact ", 6) && strncmp(e.match, "prefix ", 7))
			continue;
		sp = strchr(e.match, ' ') + 1;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(sp, " |"), sp);
		snprintf(prov, sizeof(prov), "%.*s", (int)strcspn(e.providers, ","), e.providers);
		assert_int_equal(prices_token(t, prov, name, 10, NULL, &p), 0);
		assert_string_equal(p.ref.key, e.ref.key);
	}
	prices_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_provider_filter),
		cmocka_unit_test(test_layering),
		cmocka_unit_test(test_dated_names),
		cmocka_unit_test(test_tiers),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_unknown_model_is_enoent),
		cmocka_unit_test(test_accelerators),
		cmocka_unit_test(test_host_overrides),
		cmocka_unit_test(test_host_precedence),
		cmocka_unit_test(test_no_default_accel),
		cmocka_unit_test(test_syntax_error_line_column),
		cmocka_unit_test(test_unknown_key_suggests),
		cmocka_unit_test(test_bad_prices),
		cmocka_unit_test(test_missing_source),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_invalid_regex),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_tiers_not_increasing),
		cmocka_unit_test(test_match_rule_kinds),
		cmocka_unit_test(test_all_problems_collected),
		cmocka_unit_test(test_problem_print_format),
		cmocka_unit_test(test_default_path_env),
		cmocka_unit_test(test_default_table),
		cmocka_unit_test(test_default_table_no_shadowing),
	};

	return cmocka_run_group_tests_name("prices", tests, setup_dir, remove_dir);
}

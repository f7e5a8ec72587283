// SPDX-License-Identifier: MIT
/*
 * The cost ledger: request costs against hand-computed figures for each
 * provider's usage shape, conservation of every device's price over random
 * intervals, and the sharing of an inference server's accelerator cost among
 * the requests it served (by tokens, by time, through a parent process),
 * read back from the records the ledger writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cost/ledger.h"
#include "proto/llm.h"

#define MTOK 1e-6

static void assert_close(double seen, double want, const char *what)
{
	double tol = 1e-9 + 1e-9 * (want < 0 ? -want : want);

	if (seen - want > tol || want - seen > tol) {
		print_error("%s: want %.12g, seen %.12g\n", what, want, seen);
		fail();
	}
}

static struct token_price rates(double in, double out, double cr, double cw5, double cw1h,
				double rs)
{
	struct token_price p = { 0 };

	p.input = in * MTOK;
	p.output = out * MTOK;
	p.cache_read = cr * MTOK;
	p.cache_write_5m = cw5 * MTOK;
	p.cache_write_1h = cw1h * MTOK;
	p.reasoning = rs * MTOK;
	return p;
}

static struct llm_usage usage(int64_t in, int64_t out, int64_t cr, int64_t cw, int64_t cw1h,
			      int64_t rs)
{
	struct llm_usage u = { in, out, cr, cw, rs, -1, -1, cw1h };

	return u;
}

/* OpenAI: prompt_tokens include cached_tokens, completion_tokens include
 * reasoning_tokens (gpt-4o: $2.50 in, $1.25 cached, $10 out per MTok). */
static void test_openai_shape(void **state)
{
	struct token_price p = rates(2.50, 10.0, 1.25, 2.50, 2.50, 10.0);
	struct llm_usage u = usage(1200, 300, 1024, -1, -1, 120);
	double parts[5];
	double c = ledger_token_cost(&p, &u, parts);

	(void)state;
	/* (1200-1024) x 2.5 + 1024 x 1.25 + 300 x 10, per million */
	assert_close(parts[0], 176 * 2.5e-6, "fresh input");
	assert_close(parts[1], 1024 * 1.25e-6, "cached input");
	assert_close(parts[2], 0, "cache writes");
	assert_close(parts[3] + parts[4], 300 * 10e-6, "output incl. reasoning at output price");
	assert_close(c, 176 * 2.5e-6 + 1024 * 1.25e-6 + 3000e-6, "total");
}

/* Anthropic, normalised: input_tokens = input + cache reads + cache writes;
 * 1-hour writes cost more (Sonnet: $3 in, $15 out, $0.30 read, $3.75 5m
 * write, $6 1h write). Raw usage: input 50, cache_read 2000, cache_creation
 * 1000 of which 400 for one hour, output 500. */
static void test_anthropic_shape(void **state)
{
	struct token_price p = rates(3.0, 15.0, 0.30, 3.75, 6.0, 15.0);
	struct llm_usage u = usage(50 + 2000 + 1000, 500, 2000, 1000, 400, -1);
	double c = ledger_token_cost(&p, &u, NULL);

	(void)state;
	assert_close(c, (50 * 3.0 + 2000 * 0.30 + 600 * 3.75 + 400 * 6.0 + 500 * 15.0) * MTOK,
		     "Anthropic request");
}

/* Gemini: thoughts are output tokens billed at the output price unless the
 * table says otherwise; a reasoning price is applied to them when given. */
static void test_reasoning_price(void **state)
{
	struct token_price p = rates(1.25, 10.0, 0.125, 1.25, 1.25, 12.0);
	struct llm_usage u = usage(1000, 800, 0, 0, -1, 600);
	double c = ledger_token_cost(&p, &u, NULL);

	(void)state;
	assert_close(c, (1000 * 1.25 + 200 * 10.0 + 600 * 12.0) * MTOK, "reasoning at its price");
	/* counts that contradict each other never make a negative cost */
	u = usage(10, 5, 50, 20, 90, 9);
	c = ledger_token_cost(&p, &u, NULL);
	assert_true(c >= 0);
}

/* attributed + idle = price x interval, for any mix of busy time, memory
 * held and processes; busy beyond the interval is scaled down. */
static void test_split_conserves(void **state)
{
	double busy[16], bc[16], ic[16];
	uint64_t mem[16];

	(void)state;
	srand(42);
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand() % 17);
		double per_s = (rand() % 1000) / 3600.0, L = 0.001 + (rand() % 20000) / 1000.0;
		double sum = 0, left;

		for (size_t i = 0; i < n; i++) {
			busy[i] = (rand() % 3 == 0) ? 0 : (rand() % 30000) / 1000.0 * L / 10.0;
			mem[i] = rand() % 4 == 0 ? 0 : (uint64_t)rand() * 4096;
		}
		left = ledger_split_device(per_s, L, busy, mem, n, bc, ic);
		for (size_t i = 0; i < n; i++) {
			assert_true(bc[i] >= 0 && ic[i] >= 0);
			sum += bc[i] + ic[i];
		}
		assert_true(left >= 0);
		assert_close(sum + left, per_s * L, "attributed + idle");
	}
}

/* No memory holder: the idle part is the idle bucket's; holders share it
 * by bytes. */
static void test_split_idle_by_memory(void **state)
{
	double busy[2] = { 3.0, 1.0 }, bc[2], ic[2];
	uint64_t mem[2] = { 3 << 20, 1 << 20 }, none[2] = { 0, 0 };
	double left;

	(void)state;
	left = ledger_split_device(1.0, 10.0, busy, none, 2, bc, ic);
	assert_close(bc[0], 3.0, "busy cost");
	assert_close(left, 6.0, "idle bucket");
	left = ledger_split_device(1.0, 10.0, busy, mem, 2, bc, ic);
	assert_close(left, 0, "no idle bucket with memory held");
	assert_close(ic[0], 4.5, "idle share by bytes");
	assert_close(ic[1], 1.5, "idle share by bytes");
}

/* ---- served requests, through a ledger writing to a temporary file ---- */

#define S_NS 1000000000ull

static const char table_json[] =
	"{\"version\": \"2026-11-27\", \"currency\": \"USD\", \"models\": [],\n"
	" \"accelerators\": [{\"id\": \"t/dev\", \"match\": {\"exact\": \"cuda:0\"},\n"
	"   \"usd_per_hour\": 3.6, \"source\": \"unit test\"}]}\n";

struct fixture {
	char path[64];
	FILE *f;
	struct jsonl *out;
	struct ledger *l;
	struct llm_call call;
};

static struct fixture *fixture_with_table(const char *json)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *paths[1];
	struct price_problems probs = { 0 };
	struct price_table *t;
	struct ledger_opts o = { .hostname = "node-1", .proc_root = "/nonexistent" };
	FILE *pf;
	int fd;

	assert_non_null(fx);
	strcpy(fx->path, "/tmp/test-ledger-XXXXXX");
	fd = mkstemp(fx->path);
	assert_true(fd >= 0);
	pf = fdopen(fd, "w");
	fputs(json, pf);
	fclose(pf);
	paths[0] = fx->path;
	t = prices_load(paths, 1, &probs);
	price_problems_print(&probs, stderr);
	assert_non_null(t);
	price_problems_free(&probs);
	unlink(fx->path);
	fx->f = tmpfile();
	fx->out = jsonl_from_stream(fx->f);
	fx->l = ledger_new(&o, t, NULL, fx->out);
	assert_non_null(fx->l);
	llm_call_init(&fx->call);
	fx->call.provider = "openai_compatible";
	return fx;
}

static struct fixture *fixture_new(void)
{
	return fixture_with_table(table_json);
}

/* The records written so far, as one JSON array. */
static cJSON *fixture_records(struct fixture *fx)
{
	cJSON *all = cJSON_CreateArray();
	char line[65536];

	jsonl_flush(fx->out);
	rewind(fx->f);
	while (fgets(line, sizeof(line), fx->f))
		cJSON_AddItemToArray(all, cJSON_Parse(line));
	return all;
}

static void fixture_free(struct fixture *fx)
{
	ledger_free(fx->l);
	jsonl_close(fx->out);
	fclose(fx->f);
	free(fx);
}

static cJSON *served(struct fixture *fx, uint32_t pid, uint64_t id, uint64_t start, uint64_t end,
		     int64_t tokens)
{
	cJSON *rec = cJSON_CreateObject();
	struct tracker_request req = { .pid = pid, .id = id, .served = true, .is_llm = true,
				       .llm = &fx->call, .start_ns = start, .end_ns = end };

	cJSON_AddNumberToObject(rec, "id", (double)id);
	fx->call.usage.input_tokens = tokens;
	fx->call.usage.output_tokens = tokens >= 0 ? 0 : -1;
	assert_true(ledger_request(fx->l, &req, rec));
	return rec;
}

static const cJSON *record_with_id(const cJSON *all, double id)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, all) {
		const cJSON *v = cJSON_GetObjectItem(r, "id");

		if (v && v->valuedouble == id)
			return r;
	}
	return NULL;
}

static double num(const cJSON *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(r, key);

	assert_non_null(v);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

/*
 * Two concurrent requests, 100 and 300 tokens over 4 s each ([1,5) and
 * [3,7)), a GPU busy [2,4) and [6,8) at $3.60/h = $0.001/s:
 *   [2,3) r1 alone: 1 s; [3,4) both, by token rate 25/s vs 75/s: 0.25 and
 *   0.75 s; [6,7) r2 alone: 1 s; [7,8) nobody: 1 s, shared by tokens in the
 *   interval (100 : 300): 0.25 and 0.75 s.
 *   r1 = 1.5 s, r2 = 2.5 s; $0.0015 and $0.0025.
 */
static void test_share_by_when_and_tokens(void **state)
{
	struct fixture *fx = fixture_new();
	struct gpu_span spans[2] = { { 2 * S_NS, 4 * S_NS }, { 6 * S_NS, 8 * S_NS } };
	struct ledger_gpu_proc gp = { .pid = 100, .device = 0, .busy_s = 4.0,
				      .spans = spans, .nspans = 2 };
	struct ledger_device dev = { .index = 0, .name = "cuda:0" };
	cJSON *all;

	(void)state;
	ledger_request_started(fx->l, 100, 1, 1 * S_NS);
	ledger_request_started(fx->l, 100, 2, 3 * S_NS);
	served(fx, 100, 1, 1 * S_NS, 5 * S_NS, 100);
	served(fx, 100, 2, 3 * S_NS, 7 * S_NS, 300);
	ledger_interval(fx->l, 0, 10 * S_NS, &dev, 1, &gp, 1);
	all = fixture_records(fx);
	assert_non_null(record_with_id(all, 1));
	assert_close(num(record_with_id(all, 1), "x_gpu_seconds"), 1.5, "r1 GPU seconds");
	assert_close(num(record_with_id(all, 2), "x_gpu_seconds"), 2.5, "r2 GPU seconds");
	assert_close(num(record_with_id(all, 1), "x_accelerator_cost"), 0.0015, "r1 cost");
	assert_close(num(record_with_id(all, 2), "x_accelerator_cost"), 0.0025, "r2 cost");
	cJSON_Delete(all);
	fixture_free(fx);
}

/*
 * A request still in flight at the interval's end holds the interval's
 * sharing (its tokens are not known yet) and its own record; when it ends
 * in the next interval it gets its part of both. The engine process (pid
 * 201) is a child of the HTTP server (pid 200): its cost goes to the
 * server's requests. Without token counts, time decides.
 */
static void test_in_flight_and_parent(void **state)
{
	struct fixture *fx = fixture_new();
	struct gpu_span s1 = { 0, 10 * S_NS }, s2 = { 10 * S_NS, 20 * S_NS };
	struct ledger_gpu_proc gp = { .pid = 201, .device = 0, .busy_s = 10.0, .spans = &s1,
				      .nspans = 1 };
	struct ledger_device dev = { .index = 0, .name = "cuda:0" };
	cJSON *all;

	(void)state;
	ledger_note_parent(fx->l, 201, 200);
	ledger_request_started(fx->l, 200, 7, 5 * S_NS);   /* ends in the next interval */
	ledger_request_started(fx->l, 200, 8, 0);
	served(fx, 200, 8, 0, 5 * S_NS, -1);
	ledger_interval(fx->l, 0, 10 * S_NS, &dev, 1, &gp, 1);
	all = fixture_records(fx);
	assert_int_equal(cJSON_GetArraySize(all), 1); /* the cost row; both requests wait */
	cJSON_Delete(all);
	served(fx, 200, 7, 5 * S_NS, 15 * S_NS, -1);
	gp.spans = &s2;
	ledger_interval(fx->l, 10 * S_NS, 20 * S_NS, &dev, 1, &gp, 1);
	all = fixture_records(fx);
	/* first interval: [0,5) r8 alone, [5,10) r7 alone; second: [10,15) r7,
	 * [15,20) nobody: by time in the interval, all r7's */
	assert_close(num(record_with_id(all, 8), "x_gpu_seconds"), 5.0, "r8 GPU seconds");
	assert_close(num(record_with_id(all, 7), "x_gpu_seconds"), 15.0, "r7 GPU seconds");
	assert_close(num(record_with_id(all, 7), "x_accelerator_cost") +
			     num(record_with_id(all, 8), "x_accelerator_cost"),
		     0.020, "both intervals' device cost, all of it to the requests");
	cJSON_Delete(all);
	fixture_free(fx);
}

/* A server without GPU work nearby: its requests get null GPU fields. */
static void test_no_gpu_gives_null(void **state)
{
	struct fixture *fx = fixture_new();
	cJSON *all;
	const cJSON *r;

	(void)state;
	served(fx, 300, 9, 1 * S_NS, 2 * S_NS, 10);
	ledger_interval(fx->l, 0, 10 * S_NS, NULL, 0, NULL, 0);
	all = fixture_records(fx);
	r = record_with_id(all, 9);
	assert_non_null(r);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "x_accelerator_cost")));
	cJSON_Delete(all);
	fixture_free(fx);
}

/* An exchange address reused by a new request (the old one never finished
 * as served): the old entry goes, the new one gets all of the interval and is
 * not held back by a phantom in flight. */
static void test_reused_exchange_id(void **state)
{
	struct fixture *fx = fixture_new();
	struct gpu_span sp = { 2 * S_NS, 4 * S_NS };
	struct ledger_gpu_proc gp = { .pid = 100, .device = 0, .busy_s = 2.0, .spans = &sp,
				      .nspans = 1 };
	struct ledger_device dev = { .index = 0, .name = "cuda:0" };
	cJSON *all;

	(void)state;
	ledger_request_started(fx->l, 100, 5, 1 * S_NS);
	ledger_request_started(fx->l, 100, 5, 2 * S_NS);
	served(fx, 100, 5, 2 * S_NS, 4 * S_NS, 10);
	ledger_interval(fx->l, 0, 10 * S_NS, &dev, 1, &gp, 1);
	all = fixture_records(fx);
	assert_non_null(record_with_id(all, 5));
	assert_close(num(record_with_id(all, 5), "x_gpu_seconds"), 2.0, "all the busy time");
	cJSON_Delete(all);
	fixture_free(fx);
}

/* A device priced at $0 (owned, written off): its cost rows say how many
 * hours at $0, never 0/0. */
static void test_zero_price_quantities(void **state)
{
	static const char zero[] =
		"{\"version\": \"2026-11-27\", \"currency\": \"USD\", \"models\": [],\n"
		" \"accelerators\": [{\"id\": \"t/owned\", \"match\": {\"exact\": \"cuda:0\"},\n"
		"   \"usd_per_hour\": 0, \"source\": \"unit test\"}]}\n";
	struct fixture *fx = fixture_with_table(zero);
	struct gpu_span sp = { 0, 4 * S_NS };
	struct ledger_gpu_proc gp = { .pid = 100, .device = 0, .busy_s = 4.0, .mem_bytes = 1 << 20,
				      .spans = &sp, .nspans = 1 };
	struct ledger_device dev = { .index = 0, .name = "cuda:0" };
	const cJSON *r;
	cJSON *all;
	int rows = 0;

	(void)state;
	ledger_interval(fx->l, 0, 10 * S_NS, &dev, 1, &gp, 1);
	all = fixture_records(fx);
	cJSON_ArrayForEach(r, all) {
		rows++;
		assert_true(cJSON_IsNumber(cJSON_GetObjectItem(r, "ConsumedQuantity")));
		assert_true(cJSON_IsNumber(cJSON_GetObjectItem(r, "PricingQuantity")));
		assert_close(num(r, "ListCost"), 0, "cost at $0");
	}
	/* its busy hours, and the idle hours of the memory it holds */
	assert_int_equal(rows, 2);
	cJSON_Delete(all);
	fixture_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_shape),
		cmocka_unit_test(test_anthropic_shape),
		cmocka_unit_test(test_reasoning_price),
		cmocka_unit_test(test_split_conserves),
		cmocka_unit_test(test_split_idle_by_memory),
		cmocka_unit_test(test_share_by_when_and_tokens),
		cmocka_unit_test(test_in_flight_and_parent),
		cmocka_unit_test(test_no_gpu_gives_null),
		cmocka_unit_test(test_reused_exchange_id),
		cmocka_unit_test(test_zero_price_quantities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

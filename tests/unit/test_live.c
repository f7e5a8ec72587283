// SPDX-License-Identifier: MIT
/* The live totals behind `top` and /metrics, fed records shaped as the agent
 * writes them (docs/schema.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "out/live.h"

static void feed(struct live *l, const char *json)
{
	cJSON *r = cJSON_Parse(json);

	assert_non_null(r);
	live_observe(l, r);
	cJSON_Delete(r);
}

static void feed_workload(struct live *l)
{
	feed(l, "{\"type\":\"agent\",\"event\":\"start\",\"time\":\"2026-11-27T05:00:00.0Z\","
		"\"pid\":42,\"version\":\"0.1.0\",\"interval_s\":10,\"events\":5,\"lost\":2,"
		"\"rss_bytes\":1000}");
	for (int i = 0; i < 3; i++)
		feed(l, "{\"type\":\"request\",\"time\":\"2099-01-01T00:00:00.5Z\",\"pid\":7,"
			"\"comm\":\"curl\",\"role\":\"client\",\"workload\":\"team-a\","
			"\"gen_ai.provider.name\":\"openai\",\"gen_ai.request.model\":\"gpt-4o\","
			"\"gen_ai.response.model\":\"gpt-4o-2024-08-06\",\"usage_source\":\"provider\","
			"\"gen_ai.usage.input_tokens\":100,\"gen_ai.usage.output_tokens\":10,"
			"\"gen_ai.usage.cache_read.input_tokens\":40,\"price_source\":\"table\","
			"\"ListCost\":0.001}");
	feed(l, "{\"type\":\"request\",\"time\":\"2099-01-01T00:00:00.5Z\",\"pid\":7,"
		"\"comm\":\"curl\",\"role\":\"client\",\"workload\":\"team-a\","
		"\"gen_ai.provider.name\":\"openai_compatible\",\"gen_ai.request.model\":\"llama\","
		"\"usage_source\":\"provider\",\"gen_ai.usage.input_tokens\":5,"
		"\"gen_ai.usage.output_tokens\":1,\"price_source\":\"missing\",\"ListCost\":null}");
	feed(l, "{\"type\":\"usage\",\"time\":\"2099-01-01T00:00:10Z\",\"pid\":9,"
		"\"comm\":\"vllm\",\"workload\":\"inference\",\"interval_start\":"
		"\"2099-01-01T00:00:00Z\",\"interval_end\":\"2099-01-01T00:00:10Z\","
		"\"bytes_sent\":1000,\"bytes_received\":500,\"requests\":20,"
		"\"gen_ai.usage.input_tokens\":2000,\"gen_ai.usage.output_tokens\":400,"
		"\"accelerator\":\"NVIDIA H100 80GB HBM3\",\"accelerator.uuid\":\"GPU-1\","
		"\"gpu.busy_seconds\":5,\"gpu.mem_bytes\":1073741824,\"x_gpu_cost\":0.005,"
		"\"x_gpu_idle_cost\":0.005,\"ListCost\":0.01,\"partial\":false}");
	feed(l, "{\"type\":\"cost\",\"x_workload\":\"idle\",\"ServiceName\":\"accelerator\","
		"\"SkuMeter\":\"GPU idle hours\",\"ListCost\":0.002,\"ChargePeriodStart\":"
		"\"2099-01-01T00:00:00Z\",\"ChargePeriodEnd\":\"2099-01-01T00:00:10Z\"}");
}

static const cJSON *proc_of(const cJSON *snap, int pid)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, cJSON_GetObjectItem(snap, "processes"))
		if (cJSON_GetObjectItem(p, "pid")->valueint == pid)
			return p;
	return NULL;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	assert_non_null(v);
	return v->valuedouble;
}

static void test_snapshot(void **state)
{
	struct live *l = live_new();
	cJSON *s;
	const cJSON *p, *t, *d;

	(void)state;
	feed_workload(l);
	s = live_snapshot(l);
	assert_string_equal(cJSON_GetObjectItem(s, "type")->valuestring, "snapshot");
	p = proc_of(s, 9);
	assert_non_null(p);
	assert_string_equal(cJSON_GetObjectItem(p, "workload")->valuestring, "inference");
	assert_true(num(p, "requests_per_s") == 2.0);
	assert_true(num(p, "gpu_busy_pct") == 50.0);
	assert_true(num(p, "cost_per_hour") > 3.59 && num(p, "cost_per_hour") < 3.61);
	p = proc_of(s, 7);
	assert_non_null(p);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "models")), 2);
	assert_true(num(p, "requests_total") == 4);
	t = cJSON_GetObjectItem(s, "totals");
	/* the vllm process's rate plus the idle bucket's */
	assert_true(num(t, "cost_per_hour") > 3.6 + 0.72 - 0.01 &&
		    num(t, "cost_per_hour") < 3.6 + 0.72 + 0.01);
	assert_true(num(t, "cost_total") > 0.012 - 1e-9 && num(t, "cost_total") < 0.012 + 1e-9);
	d = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "devices"), 0);
	assert_non_null(d);
	assert_string_equal(cJSON_GetObjectItem(d, "device")->valuestring, "GPU-1");
	assert_string_equal(cJSON_GetObjectItem(d, "name")->valuestring, "NVIDIA H100 80GB HBM3");
	assert_true(num(cJSON_GetObjectItem(s, "agent"), "lost") == 2);
	cJSON_Delete(s);
	live_free(l);
}

struct seen {
	double requests, input, unpriced, mem, cost_idle;
	int families;
};

static const char *label(const struct live_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->label_names[i], name))
			return s->label_values[i];
	return NULL;
}

static void collect(void *ctx, const char *name, const char *help, bool counter,
		    const struct live_sample *smp, size_t n)
{
	struct seen *s = ctx;

	assert_non_null(help);
	assert_int_equal(strncmp(name, "infertrace_", 11), 0);
	assert_true(!counter || strstr(name, "_total"));
	s->families++;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(name, "infertrace_requests_total"))
			s->requests += smp[i].value;
		if (!strcmp(name, "infertrace_tokens_total") && !strcmp(label(&smp[i], "type"), "input"))
			s->input += smp[i].value;
		if (!strcmp(name, "infertrace_unpriced_requests_total"))
			s->unpriced += smp[i].value;
		if (!strcmp(name, "infertrace_gpu_memory_bytes"))
			s->mem += smp[i].value;
		if (!strcmp(name, "infertrace_cost_usd_total") &&
		    !strcmp(label(&smp[i], "workload"), "idle"))
			s->cost_idle += smp[i].value;
	}
}

static void test_families(void **state)
{
	struct live *l = live_new();
	struct seen s = { 0 };

	(void)state;
	feed_workload(l);
	live_each_family(l, collect, &s);
	assert_true(s.requests == 4);
	assert_true(s.input == 305);
	assert_true(s.unpriced == 1);
	assert_true(s.mem == 1073741824.0);
	assert_true(s.cost_idle == 0.002);
	assert_true(s.families >= 10);
	live_free(l);
}

static void count_series(void *ctx, const char *name, const char *help, bool counter,
			 const struct live_sample *smp, size_t n)
{
	(void)help;
	(void)counter;
	(void)smp;
	if (!strcmp(name, "infertrace_requests_total"))
		*(size_t *)ctx = n;
}

/* Unbounded model names cannot blow up the series: past the bound they fold
 * into one _other series. */
static void test_cardinality_bound(void **state)
{
	struct live *l = live_new();
	char buf[512];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < LIVE_MAX_SERIES + 500; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"type\":\"request\",\"pid\":1,\"role\":\"client\",\"workload\":\"w\","
			 "\"gen_ai.provider.name\":\"p\",\"gen_ai.request.model\":\"m%d\"}", i);
		feed(l, buf);
	}
	live_each_family(l, count_series, &n);
	assert_int_equal(n, LIVE_MAX_SERIES + 1);
	live_free(l);
}

/* A process's last usage record is partial: it has exited (and its device
 * memory no longer counts), whatever came before. */
static void test_exit_marks_exited(void **state)
{
	struct live *l = live_new();
	struct seen s = { 0 };
	cJSON *snap;

	(void)state;
	feed_workload(l);
	feed(l, "{\"type\":\"usage\",\"time\":\"2099-01-01T00:00:12Z\",\"pid\":9,"
		"\"comm\":\"vllm\",\"workload\":\"inference\",\"interval_start\":"
		"\"2099-01-01T00:00:10Z\",\"interval_end\":\"2099-01-01T00:00:12Z\","
		"\"accelerator\":\"NVIDIA H100 80GB HBM3\",\"accelerator.uuid\":\"GPU-1\","
		"\"gpu.busy_seconds\":1,\"gpu.mem_bytes\":1073741824,\"partial\":true}");
	snap = live_snapshot(l);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(proc_of(snap, 9), "exited")));
	cJSON_Delete(snap);
	live_each_family(l, collect, &s);
	assert_true(s.mem == 0);
	live_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_cardinality_bound),
		cmocka_unit_test(test_exit_marks_exited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

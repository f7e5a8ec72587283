// SPDX-License-Identifier: MIT
/* `infertrace agent` option parsing: defaults, every option, every refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/options.h"
#include "net_event.h"

static int parse(struct agent_opts *o, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "agent";
	va_start(ap, errlen);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return agent_opts_parse(argc, argv, o, err, errlen);
}

static void test_defaults(void **state)
{
	struct agent_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
	assert_string_equal(o.output, "-");
	assert_true(o.interval_s == 10);
	assert_int_equal(o.capture_bytes, IT_CAPTURE_DEFAULT);
	assert_int_equal(o.n_pids, 0);
	assert_int_equal(o.n_comms, 0);
	assert_int_equal(o.n_http_ports, agent_n_default_http_ports);
	assert_int_equal(o.http_ports[0], 8000);
	assert_false(o.verbose);
}

static void test_all_options(void **state)
{
	struct agent_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "-o", "/tmp/x.jsonl", "--interval", "0.5", "-p",
			       "12", "--pid", "34", "-c", "curl", "--comm", "python3",
			       "--capture-bytes", "65536", "--http-port", "9000", "--conn-idle",
			       "5", "--ringbuf-mb", "16", "-v", NULL),
			 0);
	assert_string_equal(o.output, "/tmp/x.jsonl");
	assert_true(o.interval_s == 0.5);
	assert_int_equal(o.n_pids, 2);
	assert_int_equal(o.pids[0], 12);
	assert_int_equal(o.pids[1], 34);
	assert_int_equal(o.n_comms, 2);
	assert_string_equal(o.comms[1], "python3");
	assert_int_equal(o.capture_bytes, 65536);
	/* a given port replaces the defaults */
	assert_int_equal(o.n_http_ports, 1);
	assert_int_equal(o.http_ports[0], 9000);
	assert_true(o.conn_idle_s == 5);
	assert_int_equal(o.ringbuf_mb, 16);
	assert_true(o.verbose);
	assert_int_equal(parse(&o, err, sizeof(err), "--capture-bytes", "0", NULL), 0);
	assert_int_equal(o.capture_bytes, 0);
}

static void expect_error(const char *want, ...)
{
	struct agent_opts o;
	char err[256], *argv[8];
	int argc = 0;
	va_list ap;

	argv[argc++] = "agent";
	va_start(ap, want);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	assert_int_equal(agent_opts_parse(argc, argv, &o, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("expected an error containing '%s', saw '%s'", want, err);
	assert_null(strchr(err, '\n'));
}

static void test_refusals(void **state)
{
	(void)state;
	expect_error("--capture-bytes", "--capture-bytes", "65537", NULL);
	expect_error("--capture-bytes", "--capture-bytes", "-1", NULL);
	expect_error("--interval", "--interval", "0", NULL);
	expect_error("--interval", "--interval", "abc", NULL);
	expect_error("--interval", "-i", "nan", NULL);
	expect_error("--pid", "-p", "notanumber", NULL);
	expect_error("--pid", "-p", "0", NULL);
	expect_error("--http-port", "--http-port", "70000", NULL);
	expect_error("--comm", "--comm", "averyveryverylongname", NULL);
	expect_error("--ringbuf-mb", "--ringbuf-mb", "3", NULL);
	expect_error("unknown option '--bogus'", "--bogus", NULL);
	expect_error("needs a value", "--output", NULL);
	expect_error("unexpected argument 'extra'", "extra", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}

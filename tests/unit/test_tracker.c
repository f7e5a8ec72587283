// SPDX-License-Identifier: MIT
/* The tracker fed synthetic events, its JSON lines read back and checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "agent/tracker.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

struct fixture {
	char *buf;
	size_t len;
	FILE *f;
	struct jsonl *out;
	struct tracker *t;
	int forgot;
	uint64_t forgot_conn;
	cJSON *recs[64];
	int n;
};

static void forget(void *ctx, uint32_t pid, uint64_t conn, uint8_t source)
{
	struct fixture *fx = ctx;

	(void)pid;
	(void)source;
	fx->forgot++;
	fx->forgot_conn = conn;
}

static bool listening_8443(void *ctx, uint16_t port)
{
	(void)ctx;
	return port == 8443;
}

static struct fixture *fx_new(uint32_t max_conns)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct tracker_opts o = {
		.conn_idle_ns = 30 * SEC,
		.capture_bytes = 4096,
		.mono_to_real_ns = 1700000000LL * (int64_t)SEC,
		.max_conns = max_conns,
		.start_ns = 0,
	};
	struct tracker_hooks h = { .conn_forget = forget, .port_listening = listening_8443 };

	h.ctx = fx;
	fx->f = open_memstream(&fx->buf, &fx->len);
	fx->out = jsonl_from_stream(fx->f);
	fx->t = tracker_new(&o, &h, fx->out);
	assert_non_null(fx->t);
	return fx;
}

/* Parse every line written so far. */
static void fx_read(struct fixture *fx)
{
	char *line, *save = NULL, *copy;

	fflush(fx->f);
	for (int i = 0; i < fx->n; i++)
		cJSON_Delete(fx->recs[i]);
	fx->n = 0;
	copy = strndup(fx->buf, fx->len);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *r = cJSON_Parse(line);

		if (!r)
			fail_msg("not JSON: %s", line);
		assert_true(fx->n < 64);
		fx->recs[fx->n++] = r;
	}
	free(copy);
}

static void fx_free(struct fixture *fx)
{
	tracker_free(fx->t);
	jsonl_close(fx->out);
	fclose(fx->f);
	for (int i = 0; i < fx->n; i++)
		cJSON_Delete(fx->recs[i]);
	free(fx->buf);
	free(fx);
}

static cJSON *nth_of_type(struct fixture *fx, const char *type, int nth)
{
	for (int i = 0; i < fx->n; i++) {
		cJSON *t = cJSON_GetObjectItem(fx->recs[i], "type");

		if (t && strcmp(t->valuestring, type) == 0 && nth-- == 0)
			return fx->recs[i];
	}
	return NULL;
}

static int count_of_type(struct fixture *fx, const char *type)
{
	int n = 0;

	while (nth_of_type(fx, type, n))
		n++;
	return n;
}

static double num(cJSON *r, const char *key)
{
	cJSON *v = cJSON_GetObjectItem(r, key);

	if (!v || !cJSON_IsNumber(v))
		fail_msg("record has no number '%s': %s", key, cJSON_PrintUnformatted(r));
	return v->valuedouble;
}

static const char *str(cJSON *r, const char *key)
{
	cJSON *v = cJSON_GetObjectItem(r, key);

	if (!v || !cJSON_IsString(v))
		fail_msg("record has no string '%s': %s", key, cJSON_PrintUnformatted(r));
	return v->valuestring;
}

static struct it_data_event ev_tls(uint32_t pid, uint64_t conn, uint64_t sk, uint8_t dir,
				   uint64_t total, uint64_t ts, uint8_t role)
{
	struct it_data_event e = {
		.kind = IT_EV_DATA,
		.pid = pid,
		.tid = pid,
		.ts_ns = ts,
		.start_ns = ts - 1000,
		.cgroup_id = 77,
		.conn_id = conn,
		.total = total,
		.len = total > 4096 ? 4096 : (uint32_t)total,
		.source = IT_SRC_OPENSSL,
		.dir = dir,
		.first = 1,
	};

	strcpy(e.comm, "curl");
	if (sk) {
		e.sock.sk = sk;
		e.sock.family = AF_INET;
		e.sock.lport = 50000;
		e.sock.rport = 443;
		e.sock.role = role;
		inet_pton(AF_INET, "10.1.2.3", e.sock.laddr);
		inet_pton(AF_INET, "93.184.216.34", e.sock.raddr);
	}
	return e;
}

static void test_connection_record(void **state)
{
	struct fixture *fx = fx_new(0);
	struct it_data_event e;
	cJSON *c;

	(void)state;
	e = ev_tls(100, 0xabc, 0xffff1, IT_DIR_SEND, 300, 10 * MS, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	/* a 10000-byte read arrives as three records; only the first counts */
	e = ev_tls(100, 0xabc, 0xffff1, IT_DIR_RECV, 10000, 20 * MS, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	e.first = 0;
	e.chunk_off = 4096;
	tracker_data(fx->t, &e);
	e.chunk_off = 8192;
	tracker_data(fx->t, &e);
	tracker_sock_close(fx->t, 0xffff1, 30 * MS);
	fx_read(fx);

	assert_int_equal(count_of_type(fx, "connection"), 1);
	c = nth_of_type(fx, "connection", 0);
	assert_int_equal(num(c, "pid"), 100);
	assert_string_equal(str(c, "comm"), "curl");
	assert_int_equal(num(c, "cgroup_id"), 77);
	assert_string_equal(str(c, "role"), "client");
	assert_string_equal(str(c, "client.address"), "10.1.2.3");
	assert_int_equal(num(c, "client.port"), 50000);
	assert_string_equal(str(c, "server.address"), "93.184.216.34");
	assert_int_equal(num(c, "server.port"), 443);
	assert_string_equal(str(c, "tls.library"), "openssl");
	assert_int_equal(num(c, "bytes_sent"), 300);
	assert_int_equal(num(c, "bytes_received"), 10000);
	assert_int_equal(num(c, "calls"), 2);
	assert_int_equal(num(c, "schema_version"), 1);
	assert_string_equal(str(c, "close_reason"), "closed");
	/* times are CLOCK_MONOTONIC + offset, RFC 3339 with nanoseconds */
	assert_string_equal(str(c, "start_time"), "2023-11-14T22:13:20.009999000Z");
	assert_string_equal(str(c, "end_time"), "2023-11-14T22:13:20.020000000Z");
	assert_int_equal(fx->forgot, 1);
	assert_int_equal(fx->forgot_conn, 0xabc);

	struct tracker_stats st;
	tracker_get_stats(fx->t, &st);
	assert_int_equal(st.truncated, 1); /* 10000 > capture 4096 */
	assert_int_equal(st.calls, 2);
	assert_int_equal(st.conns_open, 0);
	fx_free(fx);
}

static void test_server_role_and_plain(void **state)
{
	struct fixture *fx = fx_new(0);
	struct it_data_event e;
	cJSON *c;

	(void)state;
	/* accepted: the local end is the server */
	e = ev_tls(7, 0x55, 0x55, IT_DIR_RECV, 120, 5 * MS, IT_ROLE_SERVER);
	e.source = IT_SRC_SOCKET;
	e.sock.lport = 8000;
	e.sock.rport = 41000;
	tracker_data(fx->t, &e);
	/* opened before the agent (role unknown) on a listening port: server */
	e = ev_tls(7, 0x66, 0x66, IT_DIR_SEND, 50, 6 * MS, IT_ROLE_UNKNOWN);
	e.sock.lport = 8443;
	e.sock.rport = 41001;
	e.sock.family = AF_INET6;
	memset(e.sock.laddr, 0, 16);
	e.sock.laddr[10] = e.sock.laddr[11] = 0xff;
	inet_pton(AF_INET, "127.0.0.1", e.sock.laddr + 12);
	inet_pton(AF_INET6, "2001:db8::1", e.sock.raddr);
	tracker_data(fx->t, &e);
	tracker_sock_close(fx->t, 0x55, 7 * MS);
	tracker_sock_close(fx->t, 0x66, 8 * MS);
	fx_read(fx);

	c = nth_of_type(fx, "connection", 0);
	assert_string_equal(str(c, "role"), "server");
	assert_int_equal(num(c, "server.port"), 8000);
	assert_int_equal(num(c, "client.port"), 41000);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "tls.library")));
	assert_int_equal(num(c, "bytes_received"), 120);
	c = nth_of_type(fx, "connection", 1);
	assert_string_equal(str(c, "role"), "server");
	assert_string_equal(str(c, "server.address"), "127.0.0.1"); /* v4-mapped shown as v4 */
	assert_string_equal(str(c, "client.address"), "2001:db8::1");
	assert_int_equal(fx->forgot, 1); /* only the TLS one */
	fx_free(fx);
}

static void test_intervals_and_exit(void **state)
{
	struct fixture *fx = fx_new(0);
	struct it_proc_event x = { .kind = IT_EV_EXIT, .pid = 100, .ts_ns = 2500 * MS };
	struct it_data_event e;
	cJSON *u;

	(void)state;
	e = ev_tls(100, 1, 0x10, IT_DIR_SEND, 10, 100 * MS, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	e = ev_tls(200, 2, 0x20, IT_DIR_RECV, 20, 200 * MS, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	tracker_interval(fx->t, 0, 1 * SEC, false);
	/* second interval: only pid 100 active, then it exits */
	e = ev_tls(100, 1, 0x10, IT_DIR_RECV, 1000, 1500 * MS, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	tracker_proc_exit(fx->t, &x);
	tracker_interval(fx->t, 1 * SEC, 3 * SEC, false);
	fx_read(fx);

	assert_int_equal(count_of_type(fx, "usage"), 3);
	u = nth_of_type(fx, "usage", 0);
	assert_int_equal(num(u, "pid"), 100);
	assert_int_equal(num(u, "bytes_sent"), 10);
	assert_int_equal(num(u, "connections"), 1);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(u, "partial")));
	assert_string_equal(str(u, "interval_end"), "2023-11-14T22:13:21.000000000Z");
	u = nth_of_type(fx, "usage", 1);
	assert_int_equal(num(u, "pid"), 200);
	assert_int_equal(num(u, "bytes_received"), 20);
	/* the exit flushes pid 100's partial interval, ending at the exit */
	u = nth_of_type(fx, "usage", 2);
	assert_int_equal(num(u, "pid"), 100);
	assert_int_equal(num(u, "bytes_sent"), 0);
	assert_int_equal(num(u, "bytes_received"), 1000);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(u, "partial")));
	assert_string_equal(str(u, "interval_start"), "2023-11-14T22:13:21.000000000Z");
	assert_string_equal(str(u, "interval_end"), "2023-11-14T22:13:22.500000000Z");
	/* and closes its connection with the totals of both intervals */
	assert_int_equal(count_of_type(fx, "connection"), 1);
	assert_string_equal(str(nth_of_type(fx, "connection", 0), "close_reason"), "exit");
	assert_int_equal(num(nth_of_type(fx, "connection", 0), "bytes_received"), 1000);
	assert_int_equal(num(nth_of_type(fx, "connection", 0), "bytes_sent"), 10);
	fx_free(fx);
}

static void test_idle_reuse_evict_shutdown(void **state)
{
	struct fixture *fx = fx_new(2);
	struct it_data_event e;
	struct tracker_stats st;

	(void)state;
	/* idle: reported once the interval ends 30 s after its last call */
	e = ev_tls(1, 0xa, 0x1a, IT_DIR_SEND, 1, 1 * SEC, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	tracker_interval(fx->t, 0, 20 * SEC, false);
	fx_read(fx);
	assert_int_equal(count_of_type(fx, "connection"), 0);
	tracker_interval(fx->t, 20 * SEC, 40 * SEC, false);
	fx_read(fx);
	assert_int_equal(count_of_type(fx, "connection"), 1);
	assert_string_equal(str(nth_of_type(fx, "connection", 0), "close_reason"), "idle");

	/* a TLS object reused on another socket is a new connection */
	e = ev_tls(1, 0xb, 0x2b, IT_DIR_SEND, 5, 41 * SEC, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	e = ev_tls(1, 0xb, 0x3b, IT_DIR_SEND, 7, 42 * SEC, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	fx_read(fx);
	assert_int_equal(count_of_type(fx, "connection"), 2);
	assert_int_equal(num(nth_of_type(fx, "connection", 1), "bytes_sent"), 5);

	/* max_conns 2: a third connection evicts the oldest */
	e = ev_tls(1, 0xc, 0x4c, IT_DIR_SEND, 9, 43 * SEC, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	e = ev_tls(1, 0xd, 0x5d, IT_DIR_SEND, 11, 44 * SEC, IT_ROLE_CLIENT);
	tracker_data(fx->t, &e);
	tracker_get_stats(fx->t, &st);
	assert_int_equal(st.conns_evicted, 1);
	assert_int_equal(st.conns_open, 2);
	fx_read(fx);
	assert_string_equal(str(nth_of_type(fx, "connection", 2), "close_reason"), "evicted");
	assert_int_equal(num(nth_of_type(fx, "connection", 2), "bytes_sent"), 7);

	/* shutdown reports what is still open, and the last partial usage */
	tracker_interval(fx->t, 40 * SEC, 45 * SEC, true);
	fx_read(fx);
	assert_int_equal(count_of_type(fx, "connection"), 5);
	assert_string_equal(str(nth_of_type(fx, "connection", 4), "close_reason"), "shutdown");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(nth_of_type(fx, "usage", 1), "partial")));
	assert_int_equal(num(nth_of_type(fx, "usage", 1), "bytes_sent"), 5 + 7 + 9 + 11);
	tracker_get_stats(fx->t, &st);
	assert_int_equal(st.conns_open, 0);
	fx_free(fx);
}

static void test_addr_format(void **state)
{
	uint8_t a[16] = { 0 };
	char buf[64];

	(void)state;
	inet_pton(AF_INET6, "::1", a);
	addr_format(AF_INET6, a, buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	memset(a, 0, sizeof(a));
	inet_pton(AF_INET, "192.168.0.9", a);
	addr_format(AF_INET, a, buf, sizeof(buf));
	assert_string_equal(buf, "192.168.0.9");
	addr_format(99, a, buf, sizeof(buf));
	assert_string_equal(buf, "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_record),
		cmocka_unit_test(test_server_role_and_plain),
		cmocka_unit_test(test_intervals_and_exit),
		cmocka_unit_test(test_idle_reuse_evict_shutdown),
		cmocka_unit_test(test_addr_format),
	};

	return cmocka_run_group_tests_name("tracker", tests, NULL, NULL);
}

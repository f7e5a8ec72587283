// SPDX-License-Identifier: MIT
/* Whether the agent saw a connection from its start, as connection records
 * report it (http.missed_start, network.protocol.version). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/proto.h"

static int exchanges;

static void count(void *ctx, struct exchange *x)
{
	(void)ctx;
	(void)x;
	exchanges++;
}

static void call(struct proto_conn *pc, uint8_t dir, const char *s, uint64_t ts)
{
	size_t n = strlen(s);

	proto_conn_data(pc, dir, ts, (const uint8_t *)s, (uint32_t)n, 0, true, n, 16384);
}

static void test_from_the_start(void **state)
{
	struct proto_conn *pc = proto_conn_new(IT_ROLE_CLIENT, count, NULL);

	(void)state;
	exchanges = 0;
	call(pc, IT_DIR_SEND, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1);
	call(pc, IT_DIR_RECV, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
	assert_false(proto_conn_missed_start(pc));
	assert_string_equal(proto_conn_version(pc), "1.1");
	assert_int_equal(exchanges, 1);
	proto_conn_close(pc, 3);
	proto_conn_free(pc);
}

static void test_joined_mid_body(void **state)
{
	struct proto_conn *pc = proto_conn_new(IT_ROLE_CLIENT, count, NULL);

	(void)state;
	exchanges = 0;
	call(pc, IT_DIR_RECV, "tail of a body from before the agent", 1);
	assert_true(proto_conn_missed_start(pc));
	assert_null(proto_conn_version(pc));
	/* the next request on the connection is still followed */
	call(pc, IT_DIR_SEND, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2);
	call(pc, IT_DIR_RECV, "HTTP/1.1 204 No Content\r\n\r\n", 3);
	assert_int_equal(exchanges, 1);
	assert_true(proto_conn_missed_start(pc));
	assert_string_equal(proto_conn_version(pc), "1.1");
	proto_conn_close(pc, 4);
	proto_conn_free(pc);
}

static void test_http2_without_preface(void **state)
{
	/* a DATA frame of a connection that began before the agent */
	static const uint8_t frame[] = { 0, 0, 2, 0, 1, 0, 0, 0, 1, 'h', 'i' };
	struct proto_conn *pc = proto_conn_new(IT_ROLE_CLIENT, count, NULL);

	(void)state;
	exchanges = 0;
	proto_conn_data(pc, IT_DIR_RECV, 1, frame, sizeof(frame), 0, true, sizeof(frame), 16384);
	assert_true(proto_conn_missed_start(pc));
	assert_null(proto_conn_version(pc));
	proto_conn_close(pc, 2);
	assert_int_equal(exchanges, 0);
	proto_conn_free(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_the_start),
		cmocka_unit_test(test_joined_mid_body),
		cmocka_unit_test(test_http2_without_preface),
	};

	return cmocka_run_group_tests_name("proto_start", tests, NULL, NULL);
}

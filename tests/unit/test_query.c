// SPDX-License-Identifier: MIT
/*
 * The query socket against a live object fed real-shaped records: the
 * snapshot round trip, errors for bad requests, one agent per path, stale
 * sockets replaced, permissions, and a silent client that must not hold up
 * the others.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "out/live.h"
#include "out/query.h"

struct fixture {
	char dir[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct live *live;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Now, as the agent writes times (the live totals drop processes whose
 * last record is old, so the records must be fresh). */
static void rfc3339_now(char *buf, size_t len, int ago_s)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec -= ago_s;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

static void observe(struct live *l, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	cJSON *rec;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rec = cJSON_Parse(text);
	assert_non_null(rec);
	live_observe(l, rec);
	cJSON_Delete(rec);
}

/* An agent start, two priced API requests and the usage record of the
 * process that made them (docs/schema.md shapes). */
static void feed(struct live *l)
{
	char now[48], before[48];

	rfc3339_now(now, sizeof(now), 0);
	rfc3339_now(before, sizeof(before), 1);
	observe(l, "{\"type\":\"agent\",\"event\":\"start\",\"time\":\"%s\",\"schema_version\":1,"
		   "\"version\":\"0.1.0\",\"pid\":4242,\"probes_attached\":10,\"files_attached\":2,"
		   "\"events\":0,\"lost\":0}", before);
	for (int i = 0; i < 2; i++)
		observe(l, "{\"type\":\"request\",\"time\":\"%s\",\"schema_version\":1,\"pid\":1234,"
			   "\"comm\":\"curl\",\"cgroup_id\":1,\"role\":\"client\",\"workload\":"
			   "\"team-a\",\"workload.kind\":\"cgroup\",\"gen_ai.provider.name\":\"openai\","
			   "\"gen_ai.operation.name\":\"chat\",\"gen_ai.request.model\":\"gpt-4o-mini\","
			   "\"gen_ai.response.model\":\"gpt-4o-mini-2024-07-18\","
			   "\"gen_ai.usage.input_tokens\":1000,\"gen_ai.usage.output_tokens\":200,"
			   "\"usage_source\":\"provider\",\"price_source\":\"table\","
			   "\"ListCost\":0.00027,\"EffectiveCost\":0.00027,\"outcome\":\"ok\"}", now);
	observe(l, "{\"type\":\"usage\",\"time\":\"%s\",\"schema_version\":1,\"pid\":1234,"
		   "\"comm\":\"curl\",\"cgroup_id\":1,\"workload\":\"team-a\",\"interval_start\":"
		   "\"%s\",\"interval_end\":\"%s\",\"bytes_sent\":3000,\"bytes_received\":1000,"
		   "\"connections\":1,\"calls\":8,\"requests\":2,\"gen_ai.usage.input_tokens\":2000,"
		   "\"gen_ai.usage.output_tokens\":400,\"partial\":false,\"x_api_cost\":0.00054,"
		   "\"ListCost\":0.00054,\"EffectiveCost\":0.00054,\"BillingCurrency\":\"USD\"}",
		now, before, now);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/infertrace-query-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* a directory that does not exist yet: query_start makes it */
	snprintf(f->path, sizeof(f->path), "%s/run/agent.sock", f->dir);
	f->live = live_new();
	if (!f->live)
		return -1;
	feed(f->live);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sub[160];

	unlink(f->path);
	snprintf(sub, sizeof(sub), "%s/run", f->dir);
	rmdir(sub);
	rmdir(f->dir);
	live_free(f->live);
	free(f);
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Everything the server sends until it closes, within timeout_ms. */
static char *read_all(int fd, int timeout_ms, size_t *lenp)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	assert_non_null(buf);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= deadline)
			fail_msg("no end of the answer within %d ms (read %zu bytes)", timeout_ms, len);
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

/* Send req (as given: with or without its newline), return the parsed
 * answer after checking it is exactly one line. */
static cJSON *ask(const char *path, const char *req, bool shut)
{
	int fd = connect_to(path);
	size_t len;
	char *text;
	cJSON *o;

	if (fd < 0)
		fail_msg("connect %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	if (shut)
		shutdown(fd, SHUT_WR);
	text = read_all(fd, 5000, &len);
	close(fd);
	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\n', len) != text + len - 1)
		fail_msg("expected one JSON line, seen %zu bytes: %.200s", len, text);
	o = cJSON_Parse(text);
	if (!o)
		fail_msg("answer is not JSON: %.200s", text);
	free(text);
	return o;
}

static const cJSON *item(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!it)
		fail_msg("key '%s' missing", key);
	return it;
}

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct query *q = query_start(f->path, NULL, f->live, err, sizeof(err));
	const cJSON *procs, *p, *totals;
	char dir[160];
	struct stat st;
	cJSON *snap;

	if (!q)
		fail_msg("query_start: %s", err);
	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	snap = ask(f->path, "snapshot\n", false);
	assert_string_equal(item(snap, "type")->valuestring, "snapshot");
	assert_int_equal(item(snap, "schema_version")->valueint, 1);
	assert_int_equal(item(item(snap, "agent"), "pid")->valueint, 4242);
	totals = item(snap, "totals");
	assert_int_equal(item(totals, "requests_total")->valueint, 2);
	assert_int_equal(item(totals, "input_tokens_total")->valueint, 2000);
	assert_int_equal(item(totals, "output_tokens_total")->valueint, 400);
	assert_true(cJSON_IsArray(item(snap, "devices")));
	procs = item(snap, "processes");
	assert_int_equal(cJSON_GetArraySize(procs), 1);
	p = cJSON_GetArrayItem(procs, 0);
	assert_int_equal(item(p, "pid")->valueint, 1234);
	assert_string_equal(item(p, "comm")->valuestring, "curl");
	assert_string_equal(item(p, "workload")->valuestring, "team-a");
	assert_string_equal(cJSON_GetArrayItem(item(p, "models"), 0)->valuestring,
			    "gpt-4o-mini-2024-07-18");
	assert_true(item(p, "cost_total")->valuedouble > 0.00053 &&
		    item(p, "cost_total")->valuedouble < 0.00055);
	cJSON_Delete(snap);

	/* CRLF, and a line ended by the client's shutdown, are requests too */
	snap = ask(f->path, "snapshot\r\n", false);
	assert_string_equal(item(snap, "type")->valuestring, "snapshot");
	cJSON_Delete(snap);
	snap = ask(f->path, "snapshot", true);
	assert_string_equal(item(snap, "type")->valuestring, "snapshot");
	cJSON_Delete(snap);

	query_stop(q);
	assert_int_equal(access(f->path, F_OK), -1); /* stop removes the file */
}

static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", big[400];
	struct query *q = query_start(f->path, NULL, f->live, err, sizeof(err));
	cJSON *a;

	if (!q)
		fail_msg("query_start: %s", err);
	a = ask(f->path, "metrics please\n", false);
	assert_non_null(strstr(item(a, "error")->valuestring, "unknown request: metrics please"));
	assert_null(cJSON_GetObjectItemCaseSensitive(a, "type"));
	cJSON_Delete(a);

	/* control and non-ASCII bytes never make the answer invalid JSON/UTF-8 */
	a = ask(f->path, "sn\x01\xff\n", false);
	assert_non_null(strstr(item(a, "error")->valuestring, "unknown request: sn??"));
	cJSON_Delete(a);

	/* over the size bound, no newline: refused without waiting for one */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a = ask(f->path, big, false);
	assert_non_null(strstr(item(a, "error")->valuestring, "too long"));
	cJSON_Delete(a);

	/* still serving */
	a = ask(f->path, "snapshot\n", false);
	assert_string_equal(item(a, "type")->valuestring, "snapshot");
	cJSON_Delete(a);
	query_stop(q);
}

static void test_second_agent_refused(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", err2[256] = "";
	struct query *q = query_start(f->path, NULL, f->live, err, sizeof(err));
	struct query *q2;
	cJSON *a;

	if (!q)
		fail_msg("query_start: %s", err);
	q2 = query_start(f->path, NULL, f->live, err2, sizeof(err2));
	assert_null(q2);
	if (!strstr(err2, "already serving") || !strstr(err2, f->path))
		fail_msg("expected an 'already serving on %s' error, seen: %s", f->path, err2);
	/* our own pid is named: the one that holds it */
	assert_non_null(strstr(err2, "pid"));
	/* the first one was not disturbed */
	a = ask(f->path, "snapshot\n", false);
	assert_string_equal(item(a, "type")->valuestring, "snapshot");
	cJSON_Delete(a);
	query_stop(q);
}

static void test_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256] = "", sub[160];
	struct query *q;
	int fd;
	cJSON *a;

	/* what a crashed agent leaves: a socket file nobody listens on */
	snprintf(sub, sizeof(sub), "%s/run", f->dir);
	mkdir(sub, 0755);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(connect_to(f->path), -1);
	assert_int_equal(errno, ECONNREFUSED);

	q = query_start(f->path, NULL, f->live, err, sizeof(err));
	if (!q)
		fail_msg("query_start over a stale socket: %s", err);
	a = ask(f->path, "snapshot\n", false);
	assert_string_equal(item(a, "type")->valuestring, "snapshot");
	cJSON_Delete(a);
	query_stop(q);
}

static void test_not_a_socket_kept(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", sub[160];
	struct stat st;
	int fd;

	snprintf(sub, sizeof(sub), "%s/run", f->dir);
	mkdir(sub, 0755);
	fd = open(f->path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	assert_null(query_start(f->path, NULL, f->live, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 4); /* a wrong --socket deletes nothing */
}

static void test_permissions(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct group *gr = getgrnam("nogroup");
	struct query *q;
	struct stat st;

	q = query_start(f->path, NULL, f->live, err, sizeof(err));
	if (!q)
		fail_msg("query_start: %s", err);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	query_stop(q);

	/* --socket-group: 0660 and the group's gid */
	assert_non_null(gr);
	q = query_start(f->path, "nogroup", f->live, err, sizeof(err));
	if (!q)
		fail_msg("query_start with group nogroup: %s", err);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, gr->gr_gid);
	query_stop(q);

	/* an unknown group is an error, and leaves no file behind */
	assert_null(query_start(f->path, "no-such-group-infertrace", f->live, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-group-infertrace"));
	assert_int_equal(access(f->path, F_OK), -1);
}

/* A client that connects and says nothing gets an error after the 2 s
 * request timeout, and does not hold up a client that asks meanwhile. */
static void test_silent_client(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct query *q = query_start(f->path, NULL, f->live, err, sizeof(err));
	uint64_t t0, t1;
	int silent;
	char *text;
	cJSON *a;

	if (!q)
		fail_msg("query_start: %s", err);
	silent = connect_to(f->path);
	assert_true(silent >= 0);
	t0 = now_ms();
	a = ask(f->path, "snapshot\n", false);
	t1 = now_ms();
	assert_string_equal(item(a, "type")->valuestring, "snapshot");
	cJSON_Delete(a);
	if (t1 - t0 > 500)
		fail_msg("a snapshot took %llu ms while another client was silent",
			 (unsigned long long)(t1 - t0));
	text = read_all(silent, 4000, NULL);
	t1 = now_ms();
	close(silent);
	assert_non_null(strstr(text, "\"error\""));
	assert_non_null(strstr(text, "no request"));
	if (t1 - t0 < 1500 || t1 - t0 > 3500)
		fail_msg("the silent client was dropped after %llu ms, expected about 2000",
			 (unsigned long long)(t1 - t0));
	free(text);
	query_stop(q);
}

static void test_path_too_long(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_null(query_start(path, NULL, f->live, err, sizeof(err)));
	assert_non_null(strstr(err, "too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_agent_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_socket_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

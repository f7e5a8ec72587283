// SPDX-License-Identifier: MIT
/* Sinks (src/out/sink.c) against receivers the test controls: a file, a TCP
 * listener it stops and restarts, an HTTP server thread that fails first. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zlib.h>

#include "out/sink.h"

static char *tmpdir(void)
{
	char t[] = "/tmp/test_sink.XXXXXX";
	char *d = mkdtemp(t);

	assert_non_null(d);
	return strdup(d);
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static uint64_t ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* Record i: {"record_id":"rNNNNN","pad":"xxx..."} of about `size` bytes. */
static int rec(char *buf, size_t n, int i, int size)
{
	int len = snprintf(buf, n, "{\"record_id\":\"r%05d\",\"pad\":\"", i);

	while (len < size - 2 && (size_t)len < n - 3)
		buf[len++] = 'a' + i % 26;
	buf[len++] = '"';
	buf[len++] = '}';
	buf[len] = 0;
	return len;
}

/* All records first..last-1, each followed by a newline. */
static char *expected(int first, int last, int size)
{
	char *out = malloc((size_t)(last - first) * (size + 2) + 1), line[4096];
	size_t len = 0;

	for (int i = first; i < last; i++) {
		int n = rec(line, sizeof(line), i, size);

		memcpy(out + len, line, n);
		len += n;
		out[len++] = '\n';
	}
	out[len] = 0;
	return out;
}

static void check_text(const char *seen, const char *want, const char *what)
{
	if (strcmp(seen, want)) {
		size_t i = 0;

		while (seen[i] && seen[i] == want[i])
			i++;
		fail_msg("%s: differs at byte %zu (seen %zu bytes, expected %zu)\n  seen:     %.80s\n"
			 "  expected: %.80s", what, i, strlen(seen), strlen(want), seen + i, want + i);
	}
}

static struct sinks *open1(const char *url, const struct sink_opts *o)
{
	char err[256] = "";
	struct sinks *s = sinks_open(&url, 1, o, err, sizeof(err));

	if (!s)
		fail_msg("sinks_open(%s): %s", url, err);
	return s;
}

static struct sink_stats stats(struct sinks *s)
{
	struct sink_stats st;

	sinks_stats(s, 0, NULL, &st);
	return st;
}

/* ------------------------------------------------------------- URL errors */

static void test_url_errors(void **state)
{
	static const struct {
		const char *url, *msg;
	} bad[] = {
		{ "", "empty" },
		{ "udp://127.0.0.1:514", "unknown scheme" },
		{ "tcp://host", "tcp://HOST:PORT" },
		{ "tcp://:514", "tcp://HOST:PORT" },
		{ "tcp://h:0", "tcp://HOST:PORT" },
		{ "tcp://h:65536", "tcp://HOST:PORT" },
		{ "tcp://h:51x", "tcp://HOST:PORT" },
		{ "file://relative/x", "absolute path" },
		{ "file://", "absolute path" },
		{ "http://", "not a valid" },
		{ "/nonexistent-dir/a/b.jsonl", "cannot open" },
		{ "tcp://h:1#colour=1", "unknown option" },
		{ "tcp://h:1#gzip", "NAME=NUMBER" },
	};
	char *d = tmpdir();
	struct sink_opts o = { .spool_dir = d };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *u = bad[i].url;

		err[0] = 0;
		if (sinks_open(&u, 1, &o, err, sizeof(err)))
			fail_msg("'%s': expected an error, seen none", u);
		if (!strstr(err, bad[i].msg))
			fail_msg("'%s': expected an error with '%s', seen '%s'", u, bad[i].msg, err);
	}
	const char *twice[] = { "tcp://h:1", "tcp://h:1" };

	assert_null(sinks_open(twice, 2, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "twice"));

	const char *good[] = { "-", "tcp://[::1]:9", "tcp://localhost:514",
			       "http://127.0.0.1:8123/?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow"
			       "&gzip=1#batch_records=5&timeout_ms=100",
			       "https://example.invalid/x" };
	struct sinks *s = sinks_open(good, 5, &o, err, sizeof(err));

	if (!s)
		fail_msg("valid URLs refused: %s", err);
	assert_int_equal(sinks_count(s), 5);
	sinks_close(s, 0);
	rm_rf(d);
	free(d);
}

/* ------------------------------------------------------------------- file */

struct rotated {
	char name[256];
};

static int cmp_rot(const void *a, const void *b)
{
	/* PATH.TS.gz before PATH.TS-1.gz before PATH.TS-2.gz; TS then N. */
	const char *x = ((const struct rotated *)a)->name, *y = ((const struct rotated *)b)->name;
	int c = strncmp(x, y, 16);
	const char *dx = x[16] == '-' ? x + 17 : "0", *dy = y[16] == '-' ? y + 17 : "0";

	return c ? c : atoi(dx) - atoi(dy);
}

static char *gunzip_file(const char *path)
{
	unsigned char magic[2] = { 0 };
	FILE *f = fopen(path, "rb");
	gzFile gz;
	char *out = malloc(1 << 20);
	int n, len = 0;

	assert_non_null(f);
	assert_int_equal(fread(magic, 1, 2, f), 2);
	fclose(f);
	if (magic[0] != 0x1f || magic[1] != 0x8b)
		fail_msg("%s: not gzip (starts %02x %02x)", path, magic[0], magic[1]);
	gz = gzopen(path, "rb");
	assert_non_null(gz);
	while ((n = gzread(gz, out + len, (1 << 20) - 1 - len)) > 0)
		len += n;
	assert_int_equal(n, 0);
	/* Z_OK from gzclose: the CRC and length trailer matched. */
	assert_int_equal(gzclose(gz), Z_OK);
	out[len] = 0;
	return out;
}

static void test_file_rotate(void **state)
{
	char *d = tmpdir(), path[300], url[320], line[256], *all = calloc(1, 1 << 20);
	struct sink_opts o = { .spool_dir = d, .rotate_bytes = 2000 };
	struct rotated rot[64];
	int nrot = 0;
	struct sinks *s;
	DIR *dir;
	struct dirent *de;

	(void)state;
	snprintf(path, sizeof(path), "%s/out.jsonl", d);
	snprintf(url, sizeof(url), "file://%s", path);
	s = open1(url, &o);
	for (int i = 0; i < 100; i++) {
		int n = rec(line, sizeof(line), i, 100);

		assert_int_equal(sinks_write(s, line, n), 0);
		sinks_poll(s);
	}
	/* Written at once, not only at the next poll. */
	assert_int_equal(stats(s).written, 100);
	assert_int_equal(stats(s).queued, 0);
	assert_int_equal(sinks_write(s, "{\"a\":\n1}", 8), -EINVAL);
	sinks_close(s, 1000);

	dir = opendir(d);
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "out.jsonl.", 10))
			continue;
		size_t l = strlen(de->d_name);

		if (l < 3 || strcmp(de->d_name + l - 3, ".gz"))
			fail_msg("rotated file %s is not compressed", de->d_name);
		assert_true(nrot < 64);
		snprintf(rot[nrot++].name, sizeof(rot[0].name), "%s", de->d_name + 10);
	}
	closedir(dir);
	/* 100 records of 101 bytes; a file is rotated before the first write
	 * that finds it at 2000 bytes or more, so each holds 20 records (2020
	 * bytes): 4 rotated, the last 20 in the current file. */
	if (nrot != 4)
		fail_msg("expected 4 rotated files, seen %d", nrot);
	qsort(rot, nrot, sizeof(rot[0]), cmp_rot);
	for (int i = 0; i < nrot; i++) {
		char p[600];
		char *text;

		rot[i].name[200] = 0;

		snprintf(p, sizeof(p), "%s/out.jsonl.%.200s", d, rot[i].name);
		text = gunzip_file(p);
		if (strlen(text) != 2020)
			fail_msg("%s: %zu bytes, expected 2020", p, strlen(text));
		strcat(all, text);
		free(text);
	}
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	size_t n = fread(all + strlen(all), 1, 4096, f);

	fclose(f);
	assert_true(n > 0);
	char *want = expected(0, 100, 100);

	check_text(all, want, "rotated files (gunzipped, in order) + current file");
	free(want);
	free(all);
	rm_rf(d);
	free(d);
}

/* A file older than rotate_seconds is rotated at the next write. */
static void test_file_rotate_by_age(void **state)
{
	char *d = tmpdir(), path[300], url[320], line[256], gz[600] = "";
	struct sink_opts o = { .spool_dir = d, .rotate_seconds = 1 };
	struct sinks *s;
	DIR *dir;
	struct dirent *de;
	int n, nrot = 0;
	char *text, *want;

	(void)state;
	snprintf(path, sizeof(path), "%s/age.jsonl", d);
	snprintf(url, sizeof(url), "file://%s", path);
	s = open1(url, &o);
	n = rec(line, sizeof(line), 0, 100);
	assert_int_equal(sinks_write(s, line, n), 0);
	sinks_poll(s);
	sleep(2);
	n = rec(line, sizeof(line), 1, 100);
	assert_int_equal(sinks_write(s, line, n), 0);
	for (int i = 0; i < 100; i++) { /* the gzip is done in poll steps */
		sinks_poll(s);
		usleep(10000);
	}
	sinks_close(s, 1000);
	dir = opendir(d);
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "age.jsonl.", 10))
			continue;
		nrot++;
		snprintf(gz, sizeof(gz), "%s/%.200s", d, de->d_name);
	}
	closedir(dir);
	if (nrot != 1)
		fail_msg("expected 1 file rotated by age, seen %d", nrot);
	text = gunzip_file(gz);
	want = expected(0, 1, 100);
	check_text(text, want, "the file rotated by age holds the first record");
	free(text);
	free(want);
	rm_rf(d);
	free(d);
}

/* -------------------------------------------------------------------- tcp */

struct rx {
	int port, lfd, cfd;
	char *buf;
	size_t len;
	int conns;
};

static void rx_listen(struct rx *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(r->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1;

	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(r->lfd, (struct sockaddr *)&a, sizeof(a)))
		fail_msg("bind 127.0.0.1:%d: %s", r->port, strerror(errno));
	assert_int_equal(listen(r->lfd, 8), 0);
	getsockname(r->lfd, (struct sockaddr *)&a, &al);
	r->port = ntohs(a.sin_port);
	r->cfd = -1;
	if (!r->buf)
		r->buf = calloc(1, 16 << 20);
}

/* Read whatever has arrived (never blocks). */
static void rx_pump(struct rx *r)
{
	if (r->lfd >= 0) {
		int c = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK);

		if (c >= 0) {
			if (r->cfd >= 0)
				close(r->cfd);
			r->cfd = c;
			r->conns++;
		}
	}
	while (r->cfd >= 0) {
		ssize_t n = recv(r->cfd, r->buf + r->len, (16 << 20) - 1 - r->len, 0);

		if (n > 0) {
			r->len += n;
			r->buf[r->len] = 0;
			continue;
		}
		if (n == 0) {
			close(r->cfd);
			r->cfd = -1;
		}
		break;
	}
}

/* The receiver goes away (after reading what it was sent: the sink cannot
 * know about bytes a receiver acknowledged and then threw away). */
static void rx_kill(struct rx *r)
{
	rx_pump(r);
	if (r->cfd >= 0)
		close(r->cfd);
	close(r->lfd);
	r->cfd = r->lfd = -1;
}

static size_t lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void wait_lines(struct sinks *s, struct rx *r, size_t want, unsigned timeout_ms)
{
	uint64_t end = ms() + timeout_ms;

	while (lines(r->buf) < want && ms() < end) {
		sinks_poll(s);
		rx_pump(r);
		usleep(2000);
	}
	if (lines(r->buf) < want)
		fail_msg("expected %zu lines at the receiver, seen %zu (last error: %s)", want,
			 lines(r->buf), stats(s).last_error);
	/* The sink counts a record written when the receiver's TCP has
	 * acknowledged it, which it learns at its next poll. */
	while (stats(s).queued && ms() < end + 2000) {
		sinks_poll(s);
		rx_pump(r);
		usleep(2000);
	}
}

/* Until the sink has nothing in flight. */
static void settle(struct sinks *s, struct rx *r)
{
	uint64_t end = ms() + 10000;

	while (stats(s).queued && ms() < end) {
		sinks_poll(s);
		rx_pump(r);
		usleep(2000);
	}
	assert_int_equal(stats(s).queued, 0);
}

static void test_tcp_restart(void **state)
{
	char *d = tmpdir(), url[64], line[512];
	struct rx r = { 0 };
	struct sink_opts o = { .spool_dir = d, .mem_queue_bytes = 32 << 10 };
	struct sinks *s;
	struct sink_stats st;

	(void)state;
	rx_listen(&r);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", r.port);
	s = open1(url, &o);
	/* Large enough to fill socket buffers: partial sends happen. */
	for (int i = 0; i < 3000; i++) {
		int n = rec(line, sizeof(line), i, 400);

		assert_int_equal(sinks_write(s, line, n), 0);
		if (i % 10 == 0)
			sinks_poll(s);
		if (i % 50 == 0)
			rx_pump(&r);
		if (i == 1000) {
			/* Stopped between two records: see test_tcp_in_flight for
			 * a receiver stopped with bytes still on their way. */
			settle(s, &r);
			rx_kill(&r);
			assert_int_equal(lines(r.buf), 1001);
		}
		if (i == 1500)
			usleep(300000);  /* down for a while: backoff grows */
		if (i == 2000)
			rx_listen(&r);
	}
	wait_lines(s, &r, 3000, 20000);
	char *want = expected(0, 3000, 400);

	check_text(r.buf, want, "records at the restarted receiver");
	st = stats(s);
	assert_int_equal(st.written, 3000);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.evicted, 0);
	assert_true(st.spooled > 0);     /* 32 KiB of memory: the outage spilled */
	assert_true(st.errors > 0);
	assert_true(st.up);
	assert_true(r.conns >= 2);
	sinks_close(s, 1000);
	free(want);
	free(r.buf);
	if (r.cfd >= 0)
		close(r.cfd);
	close(r.lfd);
	rm_rf(d);
	free(d);
}

/* The receiver goes away with bytes in flight: the sink sends again what its
 * receiver had not acknowledged at its last poll, so nothing is lost, and a
 * few records may arrive twice (at-least-once; record_id tells them apart). */
static void test_tcp_in_flight(void **state)
{
	char *d = tmpdir(), url[64], line[512], *seen = calloc(3000, 1);
	struct rx r = { 0 };
	struct sink_opts o = { .spool_dir = d, .mem_queue_bytes = 32 << 10 };
	struct sinks *s;
	int next = 0, dups = 0;

	(void)state;
	rx_listen(&r);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", r.port);
	s = open1(url, &o);
	for (int i = 0; i < 3000; i++) {
		sinks_write(s, line, rec(line, sizeof(line), i, 400));
		if (i % 10 == 0)
			sinks_poll(s);
		if (i % 50 == 0)
			rx_pump(&r);
		if (i == 1000 || i == 1800)
			rx_kill(&r);
		if (i == 1400 || i == 2200)
			rx_listen(&r);
	}
	wait_lines(s, &r, 3000, 20000);
	/* Every record, first seen in order; repeats only of recent ones. */
	for (char *p = r.buf; *p; p = strchr(p, '\n') + 1) {
		int id = atoi(p + 15);

		if (seen[id]) {
			dups++;
			continue;
		}
		if (id != next)
			fail_msg("record r%05d arrived where r%05d was expected", id, next);
		seen[id] = 1;
		next++;
	}
	assert_int_equal(next, 3000);
	print_message("in-flight restarts: 3000 records, %d duplicate(s)\n", dups);
	assert_true(dups < 3000 / 10);
	sinks_close(s, 1000);
	free(seen);
	free(r.buf);
	if (r.cfd >= 0)
		close(r.cfd);
	close(r.lfd);
	rm_rf(d);
	free(d);
}

static int free_port(void)
{
	struct rx r = { 0 };
	int p;

	rx_listen(&r);
	p = r.port;
	close(r.lfd);
	free(r.buf);
	return p;
}

static size_t count_segs(const char *spool)
{
	char cmd[512];
	FILE *p;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.seg' | wc -l", spool);
	p = popen(cmd, "r");
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static void test_spool_evict(void **state)
{
	char *d = tmpdir(), url[64], line[256];
	struct rx r = { 0 };
	struct sink_opts o = { .spool_dir = d, .mem_queue_bytes = 4096, .spool_bytes = 64 << 10 };
	struct sinks *s;
	struct sink_stats st;

	(void)state;
	r.port = free_port();
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", r.port);
	s = open1(url, &o);
	sinks_poll(s);           /* refused: the receiver is not there yet */
	for (int i = 0; i < 2000; i++)
		assert_int_equal(sinks_write(s, line, rec(line, sizeof(line), i, 100)), 0);
	st = stats(s);
	/* 200 KB into 4 KiB of memory and 64 KiB of spool: whole segments of
	 * 16 KiB went, oldest first, each record counted. */
	assert_true(st.evicted > 0);
	assert_int_equal(st.evicted + st.queued, 2000);
	assert_true(st.spooled > 0);
	assert_int_equal(st.written, 0);
	rx_listen(&r);
	wait_lines(s, &r, 2000 - st.evicted, 10000);
	char *want = expected(st.evicted, 2000, 100);

	check_text(r.buf, want, "records after eviction (the newest, in order)");
	assert_int_equal(stats(s).written, 2000 - st.evicted);
	assert_int_equal(stats(s).queued, 0);
	assert_int_equal(count_segs(d), 0);
	sinks_close(s, 1000);
	free(want);
	free(r.buf);
	if (r.cfd >= 0)
		close(r.cfd);
	close(r.lfd);
	rm_rf(d);
	free(d);
}

static void test_spool_replay(void **state)
{
	char *d = tmpdir(), url[64], line[256];
	struct rx r = { 0 };
	struct sink_opts o = { .spool_dir = d };
	struct sinks *s;

	(void)state;
	r.port = free_port();
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", r.port);
	/* Run 1: the receiver is down the whole time; close spools it all. */
	s = open1(url, &o);
	for (int i = 0; i < 100; i++)
		sinks_write(s, line, rec(line, sizeof(line), i, 80));
	sinks_poll(s);
	sinks_close(s, 100);
	assert_int_equal(count_segs(d), 1);
	/* Run 2: the spool is replayed first, then what run 2 writes. */
	s = open1(url, &o);
	assert_int_equal(stats(s).queued, 100);
	rx_listen(&r);
	for (int i = 100; i < 110; i++)
		sinks_write(s, line, rec(line, sizeof(line), i, 80));
	wait_lines(s, &r, 110, 10000);
	char *want = expected(0, 110, 80);

	check_text(r.buf, want, "previous run's spool, then this run's records");
	assert_int_equal(stats(s).written, 110);
	assert_int_equal(stats(s).queued, 0);
	sinks_close(s, 1000);
	assert_int_equal(count_segs(d), 0);
	free(want);
	free(r.buf);
	if (r.cfd >= 0)
		close(r.cfd);
	close(r.lfd);
	rm_rf(d);
	free(d);
}

static void test_spool_unwritable(void **state)
{
	char *d = tmpdir(), spool[300], url[64], line[256];
	struct sink_opts o = { .spool_dir = spool, .mem_queue_bytes = 2000 };
	struct sinks *s;
	struct sink_stats st;
	FILE *f;

	(void)state;
	/* A regular file where the spool's parent should be: ENOTDIR. */
	snprintf(spool, sizeof(spool), "%s/file", d);
	f = fopen(spool, "w");
	fclose(f);
	strcat(spool, "/spool");
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", free_port());
	s = open1(url, &o);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sinks_write(s, line, rec(line, sizeof(line), i, 100)), 0);
	st = stats(s);
	assert_true(st.evicted > 70);
	assert_int_equal(st.evicted + st.queued, 100);
	assert_int_equal(st.spooled, 0);
	if (!strstr(st.last_error, "spool"))
		fail_msg("last_error should name the spool, seen '%s'", st.last_error);
	sinks_close(s, 0);
	rm_rf(d);
	free(d);
}

/* ------------------------------------------------------------------- http */

struct httpd {
	int lfd, port;
	pthread_t th;
	pthread_mutex_t mu;
	int fail_503;                   /* answer 503 to this many requests */
	int status;                     /* then this (200, or 400 for rejects) */
	int requests;
	char target[512], ctype[128], cenc[64];
	char *body;                     /* bodies of accepted requests */
	size_t len;
};

static char *inflate_gzip(const char *in, size_t len, size_t *olen)
{
	z_stream z = { 0 };
	char *out = malloc(16 << 20);

	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = len;
	z.next_out = (Bytef *)out;
	z.avail_out = 16 << 20;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	*olen = z.total_out;
	inflateEnd(&z);
	return out;
}

static void *httpd_main(void *arg)
{
	struct httpd *h = arg;

	for (;;) {
		int c = accept(h->lfd, NULL, NULL);
		char *req = malloc(16 << 20), *hdr_end = NULL, *p;
		size_t len = 0, clen = 0;
		ssize_t n;
		int code;

		if (c < 0) {
			free(req);
			return NULL;
		}
		/* Headers, then Content-Length bytes of body. */
		while ((n = recv(c, req + len, (16 << 20) - 1 - len, 0)) > 0) {
			len += n;
			req[len] = 0;
			if (!hdr_end && (hdr_end = strstr(req, "\r\n\r\n"))) {
				p = strcasestr(req, "\r\nContent-Length:");
				clen = p ? strtoul(p + 17, NULL, 10) : 0;
			}
			if (hdr_end && len >= (size_t)(hdr_end + 4 - req) + clen)
				break;
		}
		pthread_mutex_lock(&h->mu);
		h->requests++;
		if (hdr_end) {
			*hdr_end = 0;
			sscanf(req, "POST %511s", h->target);
			p = strcasestr(req, "\r\nContent-Type:");
			if (p)
				sscanf(p + 15, " %127[^\r]", h->ctype);
			h->cenc[0] = 0;
			p = strcasestr(req, "\r\nContent-Encoding:");
			if (p)
				sscanf(p + 19, " %63[^\r]", h->cenc);
		}
		code = h->fail_503 > 0 ? 503 : h->status;
		if (h->fail_503 > 0)
			h->fail_503--;
		if (code == 200 && hdr_end) {
			char *b = hdr_end + 4;
			size_t bl = clen;
			char *plain = NULL;

			if (!strcmp(h->cenc, "gzip"))
				b = plain = inflate_gzip(b, clen, &bl);
			memcpy(h->body + h->len, b, bl);
			h->len += bl;
			h->body[h->len] = 0;
			free(plain);
		}
		pthread_mutex_unlock(&h->mu);
		char resp[256];
		int rl = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 4\r\n"
				  "Connection: close\r\n\r\nnope", code);

		send(c, resp, rl, MSG_NOSIGNAL);
		close(c);
		free(req);
	}
}

static void httpd_start(struct httpd *h, int fail_503, int status)
{
	struct rx r = { 0 };

	memset(h, 0, sizeof(*h));
	rx_listen(&r);
	free(r.buf);
	h->lfd = r.lfd;
	h->port = r.port;
	fcntl(h->lfd, F_SETFL, 0);   /* the thread blocks in accept */
	h->fail_503 = fail_503;
	h->status = status;
	h->body = calloc(1, 16 << 20);
	pthread_mutex_init(&h->mu, NULL);
	assert_int_equal(pthread_create(&h->th, NULL, httpd_main, h), 0);
}

static void httpd_stop(struct httpd *h)
{
	shutdown(h->lfd, SHUT_RDWR);  /* accept() returns: the thread ends */
	pthread_join(h->th, NULL);
	close(h->lfd);
	free(h->body);
}

static void http_run(struct sinks *s, struct httpd *h, size_t want_lines, unsigned timeout_ms)
{
	uint64_t end = ms() + timeout_ms;
	size_t got = 0;

	while (ms() < end) {
		sinks_poll(s);
		pthread_mutex_lock(&h->mu);
		got = lines(h->body);
		pthread_mutex_unlock(&h->mu);
		if (got >= want_lines && !stats(s).queued)
			break;
		usleep(2000);
	}
	if (got < want_lines)
		fail_msg("expected %zu lines at the HTTP server, seen %zu (last error: %s)",
			 want_lines, got, stats(s).last_error);
}

static void test_http_retry(void **state)
{
	char *d = tmpdir(), url[256], line[256];
	struct sink_opts o = { .spool_dir = d, .batch_records = 20, .batch_ms = 10 };
	struct httpd h;
	struct sinks *s;
	struct sink_stats st;

	(void)state;
	httpd_start(&h, 3, 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/?query=INSERT%%20INTO%%20t%%20FORMAT"
		 "%%20JSONEachRow&gzip=1", h.port);
	s = open1(url, &o);
	for (int i = 0; i < 50; i++)
		sinks_write(s, line, rec(line, sizeof(line), i, 100));
	http_run(s, &h, 50, 15000);
	char *want = expected(0, 50, 100);

	check_text(h.body, want, "bodies accepted by the HTTP server");
	st = stats(s);
	assert_int_equal(st.written, 50);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.rejected, 0);
	assert_true(st.up);
	/* 3 failures, then 3 batches of at most 20. */
	assert_int_equal(h.requests, 6);
	/* Our gzip=1 is taken out; the ClickHouse query stays as it was. */
	assert_string_equal(h.target, "/?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow");
	assert_string_equal(h.ctype, "application/x-ndjson");
	assert_string_equal(h.cenc, "gzip");
	sinks_close(s, 1000);
	httpd_stop(&h);
	free(want);
	rm_rf(d);
	free(d);
}

static void test_http_reject(void **state)
{
	char *d = tmpdir(), url[256], line[256];
	struct sink_opts o = { .spool_dir = d, .batch_records = 100, .batch_ms = 10 };
	struct httpd h;
	struct sinks *s;
	struct sink_stats st;
	uint64_t end;

	(void)state;
	httpd_start(&h, 0, 400);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ingest#max_rejects=2", h.port);
	s = open1(url, &o);
	for (int i = 0; i < 10; i++)
		sinks_write(s, line, rec(line, sizeof(line), i, 100));
	end = ms() + 10000;
	while (stats(s).queued && ms() < end) {
		sinks_poll(s);
		usleep(2000);
	}
	st = stats(s);
	assert_int_equal(st.rejected, 10);
	assert_int_equal(st.written, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(h.requests, 2);
	assert_string_equal(h.cenc, "");
	if (!strstr(st.last_error, "HTTP 400"))
		fail_msg("last_error should say HTTP 400, seen '%s'", st.last_error);
	sinks_close(s, 100);
	httpd_stop(&h);
	rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_errors),
		cmocka_unit_test(test_file_rotate),
		cmocka_unit_test(test_file_rotate_by_age),
		cmocka_unit_test(test_tcp_restart),
		cmocka_unit_test(test_tcp_in_flight),
		cmocka_unit_test(test_spool_evict),
		cmocka_unit_test(test_spool_replay),
		cmocka_unit_test(test_spool_unwritable),
		cmocka_unit_test(test_http_retry),
		cmocka_unit_test(test_http_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

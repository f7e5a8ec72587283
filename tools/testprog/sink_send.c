// SPDX-License-Identifier: MIT
/*
 * sink_send: JSON lines from stdin through infertrace's sinks, for the
 * integration tests (tests/integration/test_sinks.py) and for trying a
 * receiver by hand. Polls the sinks every 10 ms as the agent does.
 *
 *   sink_send [--spool DIR] [--mem BYTES] [--spool-bytes BYTES]
 *             [--rotate-bytes BYTES] [--batch N] [--batch-ms MS]
 *             [--drain-ms MS] [--close-ms MS] URL...
 *
 * At end of input it polls until every queue is empty (at most --drain-ms,
 * default 30000), prints one JSON line of stats per sink on stdout (unless a
 * sink is stdout itself: then on stderr), and closes with --close-ms (default
 * 1000; what is left stays spooled). SIGTERM/SIGINT end the input early.
 * Exit status: 0 when every sink ended with an empty queue, 1 otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "out/sink.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: sink_send [--spool DIR] [--mem BYTES] [--spool-bytes BYTES] "
		"[--rotate-bytes BYTES] [--batch N] [--batch-ms MS] [--drain-ms MS] "
		"[--close-ms MS] URL...\n");
	exit(2);
}

/* last_error for a JSON string: quotes, backslashes and controls out. */
static const char *json_safe(const char *in, char *out, size_t n)
{
	size_t j = 0;

	for (; *in && j + 1 < n; in++)
		out[j++] = (*in == '"' || *in == '\\' || (unsigned char)*in < 0x20) ? '\'' : *in;
	out[j] = 0;
	return out;
}

static bool all_empty(struct sinks *s)
{
	for (size_t i = 0; i < sinks_count(s); i++) {
		struct sink_stats st;

		sinks_stats(s, i, NULL, &st);
		if (st.queued)
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct sink_opts o = { 0 };
	unsigned long drain_ms = 30000, close_ms = 1000;
	const char **urls = calloc(argc, sizeof(*urls));
	size_t n = 0, cap = 1 << 16, len = 0;
	char *buf = malloc(cap), err[256];
	struct sigaction sa = { .sa_handler = on_signal };
	struct sinks *s;
	bool to_stdout = false, eof = false;
	FILE *out;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;

		if (!strcmp(a, "--spool") && has)
			o.spool_dir = argv[++i];
		else if (!strcmp(a, "--mem") && has)
			o.mem_queue_bytes = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(a, "--spool-bytes") && has)
			o.spool_bytes = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(a, "--rotate-bytes") && has)
			o.rotate_bytes = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(a, "--batch") && has)
			o.batch_records = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--batch-ms") && has)
			o.batch_ms = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--drain-ms") && has)
			drain_ms = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--close-ms") && has)
			close_ms = strtoul(argv[++i], NULL, 0);
		else if (a[0] == '-' && a[1] == '-')
			usage();
		else {
			urls[n++] = a;
			to_stdout |= !strcmp(a, "-") || !strcmp(a, "stdout");
		}
	}
	if (!n || !urls || !buf)
		usage();
	/* As the agent does: a receiver that goes away must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	s = sinks_open(urls, n, &o, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "sink_send: %s\n", err);
		return 2;
	}
	while (!stop && !eof) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 10) > 0) {
			if (len == cap) {
				char *nb = realloc(buf, cap * 2);

				if (!nb)
					break;
				buf = nb;
				cap *= 2;
			}
			r = read(STDIN_FILENO, buf + len, cap - len);
			if (r < 0 && errno != EINTR)
				break;
			if (r == 0)
				eof = true;
			if (r > 0)
				len += r;
			/* Every complete line is one record. */
			char *p = buf, *nl;

			while ((nl = memchr(p, '\n', buf + len - p))) {
				if (nl > p)
					sinks_write(s, p, nl - p);
				p = nl + 1;
			}
			memmove(buf, p, buf + len - p);
			len = buf + len - p;
		}
		sinks_poll(s);
	}
	for (unsigned long long end = ms_now() + drain_ms; !stop && ms_now() < end && !all_empty(s);) {
		sinks_poll(s);
		usleep(10000);
	}
	out = to_stdout ? stderr : stdout;
	rc = all_empty(s) ? 0 : 1;
	for (size_t i = 0; i < sinks_count(s); i++) {
		struct sink_stats st;
		const char *url;
		char e[sizeof(st.last_error)];

		sinks_stats(s, i, &url, &st);
		fprintf(out, "{\"url\":\"%s\",\"written\":%llu,\"queued\":%llu,\"spooled\":%llu,"
			"\"evicted\":%llu,\"errors\":%llu,\"rejected\":%llu,\"up\":%s,"
			"\"last_error\":\"%s\"}\n", url, (unsigned long long)st.written,
			(unsigned long long)st.queued, (unsigned long long)st.spooled,
			(unsigned long long)st.evicted, (unsigned long long)st.errors,
			(unsigned long long)st.rejected, st.up ? "true" : "false",
			json_safe(st.last_error, e, sizeof(e)));
	}
	fflush(out);
	sinks_close(s, close_ms);
	free(buf);
	free(urls);
	return rc;
}

// SPDX-License-Identifier: MIT
/*
 * replay: the user-space pipeline of the agent without BPF. Ring-buffer
 * records (struct it_data_event header + payload, one record per TLS call,
 * payload chunks of at most IT_CHUNK_BYTES) of a recorded-looking inference
 * exchange are fed to tracker_data() again and again, one new connection
 * (conn_id, struct sock) per exchange, each closed by tracker_sock_close();
 * the tracker parses HTTP (src/proto) and writes JSON lines.
 *
 * Cases:
 *   http1  POST /v1/chat/completions to api.openai.com: a ~2 KiB JSON
 *          request written in one call, a ~1 KiB JSON response with usage
 *          read in one call
 *   sse    the same request with "stream": true; the response streamed as
 *          200 OpenAI chat.completion.chunk SSE events (chunked transfer
 *          coding), each event its own read, the last one carrying usage,
 *          then "data: [DONE]" and the last chunk
 *
 * Output goes to a counting sink (default): a FILE (fopencookie) that
 * throws the bytes away, as /dev/null would, after counting lines and the
 * occurrences of the strings every request record of the case must hold
 * (its token numbers): at the end of each run every exchange must have
 * produced exactly one request record with the right numbers. --sink null
 * writes to /dev/null through jsonl_open() and checks only the tracker's
 * request count.
 *
 * Each run lasts at least --duration seconds (CLOCK_MONOTONIC), pinned to
 * one CPU; --reps runs per case after a short warm-up; the median, min and
 * max of requests/s are printed, one line per case:
 *   case records/req bytes/req req/s(median) min max us/req records/s cpu% req/cpu-s check
 * cpu% is the thread's CPU time over the wall time (below 100 when the CPU
 * was shared with other work, and the wall-clock rates then low) and
 * req/cpu-s the median of requests per second of the thread's CPU time.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "agent/tracker.h"
#include "net_event.h"
#include "out/jsonl.h"
#include "proto/proto.h"

#define SEC 1000000000ULL

/* ---- byte buffers --------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("replay: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory");
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf");
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory");
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- the records of one exchange ------------------------------------------ */

struct replay {
	const char *name;
	struct it_data_event **recs;  /* header + payload, as the ring buffer has them */
	size_t n, cap;
	uint64_t payload_bytes;       /* bytes the calls moved */
	const char *checks[4];        /* strings every request record must contain */
	int nchecks;
};

/* One call: records of at most IT_CHUNK_BYTES of its first capture bytes. */
static void add_call(struct replay *r, uint8_t dir, const void *data, size_t len)
{
	size_t cap = len < IT_CAPTURE_DEFAULT ? len : IT_CAPTURE_DEFAULT, off = 0;

	r->payload_bytes += len;
	do {
		size_t n = cap - off > IT_CHUNK_BYTES ? IT_CHUNK_BYTES : cap - off;
		struct it_data_event *e = calloc(1, sizeof(*e) + n);

		if (!e)
			die("out of memory");
		e->kind = IT_EV_DATA;
		e->pid = 4242;
		e->tid = 4242;
		e->fd = 7;
		e->cgroup_id = 1234;
		e->total = len;
		e->chunk_off = (uint32_t)off;
		e->len = (uint32_t)n;
		e->source = IT_SRC_OPENSSL;
		e->dir = dir;
		e->first = off == 0;
		memcpy(e->comm, "python3", 8);
		e->sock.family = AF_INET;
		e->sock.lport = 40000;
		e->sock.rport = 443;
		e->sock.role = IT_ROLE_CLIENT;
		e->sock.bind = IT_BIND_INSIDE;
		memcpy(e->sock.laddr, "\x0a\x00\x00\x02", 4);
		memcpy(e->sock.raddr, "\xa2\x9f\x8c\xf5", 4);
		memcpy(e->data, (const char *)data + off, n);
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 16;
			r->recs = realloc(r->recs, r->cap * sizeof(*r->recs));
			if (!r->recs)
				die("out of memory");
		}
		r->recs[r->n++] = e;
		off += n;
	} while (off < cap);
}

static const char LOREM[] =
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
	"exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
	"dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. ";

/* A ~2 KiB chat request body. */
static void request_body(struct buf *b, bool stream)
{
	buf_printf(b, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
		      "\"You are a helpful assistant. %s\"},{\"role\":\"user\",\"content\":\"Summarise "
		      "this text. %s%s%s%s\"}],\"temperature\":0.2,\"max_tokens\":512",
		   LOREM, LOREM, LOREM, LOREM, LOREM);
	if (stream)
		buf_printf(b, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
	buf_printf(b, "}");
}

static void request_call(struct replay *r, bool stream)
{
	struct buf body = { 0 }, req = { 0 };

	request_body(&body, stream);
	buf_printf(&req,
		   "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		   "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
		   "Accept: %s\r\nContent-Type: application/json\r\n"
		   "User-Agent: OpenAI/Python 1.51.0\r\nX-Stainless-Lang: python\r\n"
		   "X-Stainless-Package-Version: 1.51.0\r\nX-Stainless-Runtime: CPython\r\n"
		   "Authorization: Bearer sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n"
		   "Content-Length: %zu\r\n\r\n",
		   stream ? "text/event-stream" : "application/json", body.len);
	buf_add(&req, body.p, body.len);
	add_call(r, IT_DIR_SEND, req.p, req.len);
	free(body.p);
	free(req.p);
}

#define HTTP1_IN 412
#define HTTP1_OUT 96
#define SSE_EVENTS 200
#define SSE_IN 421
#define SSE_OUT 197

static void build_http1(struct replay *r)
{
	struct buf body = { 0 }, resp = { 0 };
	static char check1[128];

	r->name = "http1";
	request_call(r, false);
	buf_printf(&body,
		   "{\"id\":\"chatcmpl-AbC123dEf456GhI789\",\"object\":\"chat.completion\","
		   "\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
		   "\"message\":{\"role\":\"assistant\",\"content\":\"%s%s\",\"refusal\":null},"
		   "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%d,"
		   "\"completion_tokens\":%d,\"total_tokens\":%d,\"prompt_tokens_details\":"
		   "{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":"
		   "{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
		   "\"rejected_prediction_tokens\":0}},\"service_tier\":\"default\","
		   "\"system_fingerprint\":\"fp_0ba0d124f1\"}",
		   LOREM, LOREM, HTTP1_IN, HTTP1_OUT, HTTP1_IN + HTTP1_OUT);
	buf_printf(&resp,
		   "HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
		   "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n"
		   "access-control-expose-headers: X-Request-ID\r\nopenai-organization: user-abc\r\n"
		   "openai-processing-ms: 512\r\nopenai-version: 2020-10-01\r\n"
		   "x-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999\r\n"
		   "x-request-id: req_0123456789abcdef\r\nserver: cloudflare\r\n\r\n",
		   body.len);
	buf_add(&resp, body.p, body.len);
	add_call(r, IT_DIR_RECV, resp.p, resp.len);
	snprintf(check1, sizeof(check1),
		 "\"gen_ai.usage.input_tokens\":%d,\"gen_ai.usage.output_tokens\":%d,", HTTP1_IN,
		 HTTP1_OUT);
	r->checks[r->nchecks++] = "\"type\":\"request\"";
	r->checks[r->nchecks++] = check1;
	r->checks[r->nchecks++] = "\"usage_source\":\"provider\"";
	free(body.p);
	free(resp.p);
}

#define CHUNK_HEAD                                                                              \
	"{\"id\":\"chatcmpl-AbC123dEf456GhI789\",\"object\":\"chat.completion.chunk\","         \
	"\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":" \
	"\"fp_0ba0d124f1\","

/* One SSE event as one read, in a chunk of the chunked transfer coding. */
static void sse_read(struct replay *r, const char *json)
{
	struct buf ev = { 0 }, rd = { 0 };

	buf_printf(&ev, "data: %s\n\n", json);
	buf_printf(&rd, "%zx\r\n%s\r\n", ev.len, ev.p);
	add_call(r, IT_DIR_RECV, rd.p, rd.len);
	free(ev.p);
	free(rd.p);
}

static void build_sse(struct replay *r)
{
	static const char *const words[] = { "Lorem", " ipsum", " dolor", " sit", " amet", ",",
					     " consectetur", " adipiscing", " elit", "." };
	static char check1[128], check2[64];
	struct buf json = { 0 };
	const char *hdr =
		"HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
		"Content-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
		"Connection: keep-alive\r\nopenai-organization: user-abc\r\n"
		"openai-processing-ms: 120\r\nopenai-version: 2020-10-01\r\n"
		"x-request-id: req_0123456789abcdef\r\nserver: cloudflare\r\n\r\n";

	r->name = "sse";
	request_call(r, true);
	add_call(r, IT_DIR_RECV, hdr, strlen(hdr));
	for (int i = 0; i < SSE_EVENTS; i++) {
		json.len = 0;
		if (i == 0)
			buf_printf(&json, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":"
						     "\"assistant\",\"content\":\"\",\"refusal\":null},"
						     "\"logprobs\":null,\"finish_reason\":null}],"
						     "\"usage\":null}");
		else if (i < SSE_EVENTS - 2)
			buf_printf(&json, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
						     "\"%s\"},\"logprobs\":null,\"finish_reason\":null}],"
						     "\"usage\":null}",
				   words[i % 10]);
		else if (i == SSE_EVENTS - 2)
			buf_printf(&json, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{},"
						     "\"logprobs\":null,\"finish_reason\":\"stop\"}],"
						     "\"usage\":null}");
		else
			buf_printf(&json, CHUNK_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":%d,"
						     "\"completion_tokens\":%d,\"total_tokens\":%d,"
						     "\"prompt_tokens_details\":{\"cached_tokens\":0,"
						     "\"audio_tokens\":0},\"completion_tokens_details\":"
						     "{\"reasoning_tokens\":0,\"audio_tokens\":0,"
						     "\"accepted_prediction_tokens\":0,"
						     "\"rejected_prediction_tokens\":0}}}",
				   SSE_IN, SSE_OUT, SSE_IN + SSE_OUT);
		sse_read(r, json.p);
	}
	{
		static const char done[] = "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";

		add_call(r, IT_DIR_RECV, done, sizeof(done) - 1);
	}
	snprintf(check1, sizeof(check1),
		 "\"gen_ai.usage.input_tokens\":%d,\"gen_ai.usage.output_tokens\":%d,", SSE_IN,
		 SSE_OUT);
	snprintf(check2, sizeof(check2), "\"stream_events\":%d,", SSE_EVENTS + 1);
	r->checks[r->nchecks++] = "\"type\":\"request\"";
	r->checks[r->nchecks++] = check1;
	r->checks[r->nchecks++] = "\"gen_ai.request.stream\":true";
	r->checks[r->nchecks++] = check2;
	free(json.p);
}

static void replay_free(struct replay *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->recs[i]);
	free(r->recs);
}

/* ---- the counting sink ----------------------------------------------------- */

#define PAT_MAX 128

struct sink {
	uint64_t bytes, lines;
	const char *pat[4];
	size_t patlen[4];
	uint64_t hits[4];
	int npat;
	char tail[PAT_MAX]; /* last bytes of the previous write, for matches across writes */
	size_t tail_len;
};

/* Occurrences of pat in p[0..n); with split > 0 only those that start
 * before split and end after it (the ones across two writes). */
static uint64_t count_in(const char *p, size_t n, const char *pat, size_t plen, size_t split)
{
	uint64_t c = 0;
	const char *end = p + n, *q = p;

	while ((size_t)(end - q) >= plen && (q = memmem(q, (size_t)(end - q), pat, plen))) {
		if (!split || ((size_t)(q - p) < split && (size_t)(q + plen - p) > split))
			c++;
		q += plen;
	}
	return c;
}

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
	struct sink *s = cookie;
	const char *p = buf, *end = buf + n;
	char join[2 * PAT_MAX];
	size_t head = n < PAT_MAX ? n : PAT_MAX;

	s->bytes += n;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		s->lines++;
		p++;
	}
	/* matches that start in the previous write and end in this one */
	memcpy(join, s->tail, s->tail_len);
	memcpy(join + s->tail_len, buf, head);
	for (int i = 0; i < s->npat; i++) {
		if (s->tail_len)
			s->hits[i] += count_in(join, s->tail_len + head, s->pat[i], s->patlen[i],
					       s->tail_len);
		s->hits[i] += count_in(buf, n, s->pat[i], s->patlen[i], 0);
	}
	/* keep the last PAT_MAX - 1 bytes (the whole write if shorter, joined to the old tail) */
	if (n >= PAT_MAX - 1) {
		s->tail_len = PAT_MAX - 1;
		memcpy(s->tail, end - s->tail_len, s->tail_len);
	} else {
		size_t keep = s->tail_len + n > PAT_MAX - 1 ? PAT_MAX - 1 - n : s->tail_len;

		memmove(s->tail, s->tail + s->tail_len - keep, keep);
		memcpy(s->tail + keep, buf, n);
		s->tail_len = keep + n;
	}
	return (ssize_t)n;
}

/* ---- the benchmark --------------------------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

struct run_result {
	uint64_t exchanges;
	double seconds;
	double cpu_seconds;    /* CLOCK_THREAD_CPUTIME_ID: below seconds when the CPU was shared */
	bool ok;
	char why[256];
};

static struct {
	double duration;
	int reps;
	int cpu;
	bool null_sink;
	bool verbose;
} opt = { 2.0, 5, -1, false, false };

static uint64_t conn_seq;

/* One exchange on a new connection: its records, then the socket's close. */
static inline void replay_once(struct tracker *t, const struct replay *r, uint64_t *ts)
{
	uint64_t id = ++conn_seq;
	uint64_t conn = 0x5600000000ULL + id * 0x400, sk = 0xffff888000000000ULL + id * 0x800;

	for (size_t i = 0; i < r->n; i++) {
		struct it_data_event *e = r->recs[i];

		e->conn_id = conn;
		e->sock.sk = sk;
		e->start_ns = *ts;
		*ts += 20000; /* 20 us a call */
		e->ts_ns = *ts;
		tracker_data(t, e);
	}
	*ts += 1000;
	tracker_sock_close(t, sk, *ts);
}

static void run(const struct replay *r, double seconds, struct run_result *res)
{
	struct tracker_opts o = {
		.conn_idle_ns = 30 * SEC,
		.capture_bytes = IT_CAPTURE_DEFAULT,
		.mono_to_real_ns = 1700000000LL * (int64_t)SEC,
		.start_ns = 0,
		.parse_http = true,
	};
	struct sink s = { 0 };
	cookie_io_functions_t io = { .write = sink_write };
	struct tracker_stats st;
	struct jsonl *out;
	struct tracker *t;
	FILE *f = NULL;
	uint64_t start, end, cpu0, n = 0, ts = 1 * SEC, limit = (uint64_t)(seconds * 1e9);

	if (opt.null_sink) {
		out = jsonl_open("/dev/null");
	} else {
		for (int i = 0; i < r->nchecks; i++) {
			s.pat[i] = r->checks[i];
			s.patlen[i] = strlen(r->checks[i]);
			if (s.patlen[i] >= PAT_MAX)
				die("check string too long");
		}
		s.npat = r->nchecks;
		f = fopencookie(&s, "w", io);
		if (!f)
			die("fopencookie: %s", strerror(errno));
		setvbuf(f, NULL, _IOFBF, 1 << 16);
		out = jsonl_from_stream(f);
	}
	if (!out)
		die("output: %s", strerror(errno));
	t = tracker_new(&o, NULL, out);
	if (!t)
		die("tracker_new failed");

	cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	start = now_ns();
	do {
		replay_once(t, r, &ts);
		n++;
		end = now_ns();
	} while (end - start < limit);
	res->cpu_seconds = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1e9;

	jsonl_flush(out);
	tracker_get_stats(t, &st);
	res->exchanges = n;
	res->seconds = (double)(end - start) / 1e9;
	res->ok = true;
	res->why[0] = '\0';
	if (st.requests != n) {
		res->ok = false;
		snprintf(res->why, sizeof(res->why), "%llu exchanges, tracker wrote %llu request records",
			 (unsigned long long)n, (unsigned long long)st.requests);
	}
	if (st.write_errors) {
		res->ok = false;
		snprintf(res->why, sizeof(res->why), "%llu write errors",
			 (unsigned long long)st.write_errors);
	}
	if (!opt.null_sink) {
		/* a request and a connection record per exchange */
		if (s.lines != 2 * n) {
			res->ok = false;
			snprintf(res->why, sizeof(res->why), "%llu exchanges, %llu lines written",
				 (unsigned long long)n, (unsigned long long)s.lines);
		}
		for (int i = 0; i < s.npat; i++) {
			if (s.hits[i] != n) {
				res->ok = false;
				snprintf(res->why, sizeof(res->why),
					 "%llu exchanges, %llu records with '%s'", (unsigned long long)n,
					 (unsigned long long)s.hits[i], s.pat[i]);
			}
		}
		if (opt.verbose)
			fprintf(stderr, "  %s: %llu exchanges, %llu lines, %llu bytes out\n", r->name,
				(unsigned long long)n, (unsigned long long)s.lines,
				(unsigned long long)s.bytes);
	}
	tracker_free(t);
	jsonl_close(out);
	if (f)
		fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: replay [-t SECONDS] [-r REPS] [-c CPU] [--sink count|null] [-v] [CASE...]\n"
		   "  cases: http1 sse (default: both)\n"
		   "  -t, --duration S  seconds per run, at least (2)\n"
		   "  -r, --reps N      runs per case (5); median, min and max are printed\n"
		   "  -c, --cpu N       pin to CPU N (default: the CPU it starts on)\n"
		   "      --sink count  count lines and check token numbers in the output (default)\n"
		   "      --sink null   write to /dev/null, check the tracker's request count only\n"
		   "      --header      print the table header\n"
		   "  -v, --verbose     print every run\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 't' }, { "reps", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },      { "sink", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },        { "header", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },           { 0 },
	};
	const char *cases[8];
	int ncases = 0, c, failed = 0;
	bool header = false;
	cpu_set_t set;

	while ((c = getopt_long(argc, argv, "t:r:c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt.duration = atof(optarg);
			break;
		case 'r':
			opt.reps = atoi(optarg);
			break;
		case 'c':
			opt.cpu = atoi(optarg);
			break;
		case 's':
			if (!strcmp(optarg, "null"))
				opt.null_sink = true;
			else if (strcmp(optarg, "count"))
				die("--sink count|null");
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'H':
			header = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (opt.duration <= 0 || opt.reps < 1 || opt.reps > 100) {
		usage(stderr);
		return 2;
	}
	for (; optind < argc && ncases < 8; optind++)
		cases[ncases++] = argv[optind];
	if (!ncases) {
		cases[ncases++] = "http1";
		cases[ncases++] = "sse";
	}

	if (opt.cpu < 0)
		opt.cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(opt.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity(cpu %d): %s", opt.cpu, strerror(errno));

	if (header)
		printf("%-6s %8s %9s %11s %11s %11s %8s %12s %5s %11s  %s\n", "case", "recs/req",
		       "bytes/req", "req/s(med)", "min", "max", "us/req", "recs/s(med)", "cpu%",
		       "req/cpu-s", "check");
	for (int k = 0; k < ncases; k++) {
		struct replay r = { 0 };
		struct run_result res;
		double rate[100], cpurate[100], busy = 0, med, cmed;
		bool ok = true;
		char why[256] = "";

		if (!strcmp(cases[k], "http1"))
			build_http1(&r);
		else if (!strcmp(cases[k], "sse"))
			build_sse(&r);
		else
			die("unknown case '%s' (http1, sse)", cases[k]);

		run(&r, opt.duration < 0.5 ? opt.duration : 0.3, &res); /* warm-up */
		if (!res.ok) {
			ok = false;
			snprintf(why, sizeof(why), "%s", res.why);
		}
		for (int i = 0; i < opt.reps; i++) {
			run(&r, opt.duration, &res);
			rate[i] = (double)res.exchanges / res.seconds;
			cpurate[i] = res.cpu_seconds > 0 ? (double)res.exchanges / res.cpu_seconds : 0;
			busy += res.cpu_seconds / res.seconds;
			if (opt.verbose)
				fprintf(stderr, "  %s run %d: %llu exchanges in %.3f s: %.0f req/s%s%s\n",
					r.name, i + 1, (unsigned long long)res.exchanges, res.seconds,
					rate[i], res.ok ? "" : ": CHECK FAILED: ", res.why);
			if (!res.ok && ok) {
				ok = false;
				snprintf(why, sizeof(why), "%s", res.why);
			}
		}
		qsort(rate, (size_t)opt.reps, sizeof(rate[0]), cmp_double);
		qsort(cpurate, (size_t)opt.reps, sizeof(cpurate[0]), cmp_double);
		med = opt.reps % 2 ? rate[opt.reps / 2]
				   : (rate[opt.reps / 2 - 1] + rate[opt.reps / 2]) / 2;
		cmed = opt.reps % 2 ? cpurate[opt.reps / 2]
				    : (cpurate[opt.reps / 2 - 1] + cpurate[opt.reps / 2]) / 2;
		printf("%-6s %8zu %9llu %11.0f %11.0f %11.0f %8.2f %12.0f %5.0f %11.0f  %s%s\n", r.name,
		       r.n, (unsigned long long)r.payload_bytes, med, rate[0], rate[opt.reps - 1],
		       1e6 / med, med * (double)r.n, 100 * busy / opt.reps, cmed, ok ? "ok" : "FAILED: ",
		       why);
		fflush(stdout);
		failed += !ok;
		replay_free(&r);
	}
	return failed ? 1 : 0;
}

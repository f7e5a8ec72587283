// SPDX-License-Identifier: MIT
/*
 * infer_server: a plain-HTTP "inference server" on 127.0.0.1 that runs
 * every POST /v1/chat/completions on the (fake) GPU: it launches kernels
 * whose durations come from the request headers, synchronises, and answers
 * in the OpenAI chat-completions shape with `usage`. One thread per
 * connection, each with its own CUDA stream; HTTP/1.1 keep-alive.
 *
 *   infer_server [--port=N] [--port-file=PATH] [--log=PATH] [--gpu-ns=NS]
 *                [--max-requests=N] [--quiet]
 *
 * The first stdout line is {"port":N,"pid":P} once listening (--port=0, the
 * default, lets the kernel pick). SIGTERM or SIGINT stops it; it then
 * prints {"type":"server_summary",...} and exits through exit(), so the
 * fake driver writes its truth summary.
 *
 * Request headers:
 *   x-gpu-ns             GPU time of the request in ns (default --gpu-ns, 2 ms)
 *   x-gpu-launches       kernels it is split into (default 1)
 *   x-completion-tokens  completion tokens to report (default 8)
 *   x-prompt-tokens      prompt tokens to report (default body bytes / 4)
 * A body with "stream": true gets an SSE answer (chunked), one chunk per
 * launch, with a usage chunk when it asks for "include_usage".
 * --log appends one JSON line per request: what was asked and done.
 */
#include "fakecuda.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (16 * 1024 * 1024)

static struct {
	int port;
	const char *port_file, *log;
	uint64_t gpu_ns;
	long max_requests;
	bool quiet;
} o = { .gpu_ns = 2000000 };

static CUcontext g_ctx;
static CUfunction g_fn;
static volatile sig_atomic_t g_stop;
static _Atomic long g_requests, g_conns;
static _Atomic uint64_t g_gpu_ns, g_launches;
static FILE *g_log;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
/* --weights-bytes: device memory taken at the first request and held, as a
 * server that loads its model lazily does (and late enough for an agent
 * that attaches after the library is mapped to see the allocation) */
static unsigned long long g_weights;
static pthread_once_t g_weights_once = PTHREAD_ONCE_INIT;

static void weights_load(void)
{
	CUdeviceptr p;

	if (g_weights && cuMemAlloc_v2(&p, g_weights) != CUDA_SUCCESS)
		fprintf(stderr, "infer_server: cuMemAlloc_v2 of the weights failed\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die_cu(CUresult rc, const char *what)
{
	if (rc != CUDA_SUCCESS) {
		fprintf(stderr, "infer_server: %s: CUresult %d\n", what, (int)rc);
		exit(2);
	}
}

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static bool send_chunk(int fd, const char *data, size_t n)
{
	char head[32];
	int h = snprintf(head, sizeof(head), "%zx\r\n", n);

	return send_all(fd, head, (size_t)h) && send_all(fd, data, n) && send_all(fd, "\r\n", 2);
}

/* Case-insensitive header lookup in the raw head; copies the value. */
static bool header(const char *head, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2, *v, *e;

		if (strncasecmp(l, name, len) != 0 || l[len] != ':')
			continue;
		v = l + len + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = strstr(v, "\r\n");
		if (!e)
			e = v + strlen(v);
		snprintf(out, n, "%.*s", (int)(e - v), v);
		return true;
	}
	return false;
}

static uint64_t header_u64(const char *head, const char *name, uint64_t def)
{
	char v[64];

	return header(head, name, v, sizeof(v)) ? strtoull(v, NULL, 10) : def;
}

/* The string value of "key" in a JSON body, without a JSON parser: enough
 * for the test clients' bodies. */
static bool json_string(const char *body, const char *key, char *out, size_t n)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(body, pat);
	if (!p)
		return false;
	p += strlen(pat);
	while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '"')
		return false;
	e = strchr(++p, '"');
	if (!e)
		return false;
	snprintf(out, n, "%.*s", (int)(e - p), p);
	for (char *c = out; *c; c++)
		if (*c == '\\' || (unsigned char)*c < 0x20)
			*c = '_';
	return true;
}

static bool json_true(const char *body, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(body, pat);
	if (!p)
		return false;
	p += strlen(pat);
	while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return strncmp(p, "true", 4) == 0;
}

static void launch(CUstream s, uint64_t ns)
{
	uint64_t d = ns;
	void *params[] = { &d };

	die_cu(cuLaunchKernel(g_fn, 1, 1, 1, 128, 1, 1, 0, s, params, NULL), "cuLaunchKernel");
	atomic_fetch_add(&g_launches, 1);
}

static bool reply(int fd, int code, const char *reason, const char *ctype, const char *body,
		  bool keep)
{
	char head[512];
	size_t n = strlen(body);
	int h = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: %s\r\n\r\n",
			 code, reason, ctype, n, keep ? "keep-alive" : "close");

	return send_all(fd, head, (size_t)h) && send_all(fd, body, n);
}

static bool chat(int fd, CUstream s, long conn, long reqno, const char *head, const char *body,
		 size_t body_len, bool keep)
{
	uint64_t gpu = header_u64(head, "x-gpu-ns", o.gpu_ns);
	uint64_t nl = header_u64(head, "x-gpu-launches", 1);
	uint64_t ct = header_u64(head, "x-completion-tokens", 8);
	uint64_t pt = header_u64(head, "x-prompt-tokens", body_len / 4 ? body_len / 4 : 1);
	bool stream = json_true(body, "stream"), usage_chunk = strstr(body, "include_usage");
	char model[128] = "fake-model", id[64], out[2048], content[1024];
	uint64_t t0 = now_ns(), t1;
	long created = (long)time(NULL);
	bool good = true;
	size_t cl = 0;

	pthread_once(&g_weights_once, weights_load);
	json_string(body, "model", model, sizeof(model));
	if (nl == 0)
		nl = 1;
	snprintf(id, sizeof(id), "chatcmpl-fake-%d-%ld-%ld", getpid(), conn, reqno);
	for (uint64_t i = 0; i < ct && cl + 8 < sizeof(content); i++)
		cl += (size_t)snprintf(content + cl, sizeof(content) - cl, "%stok", i ? " " : "");

	if (!stream) {
		for (uint64_t i = 0; i < nl; i++)
			launch(s, gpu / nl + (i < gpu % nl));
		die_cu(cuStreamSynchronize(s), "cuStreamSynchronize");
		snprintf(out, sizeof(out),
			 "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%ld,"
			 "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
			 "\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],"
			 "\"usage\":{\"prompt_tokens\":%" PRIu64 ",\"completion_tokens\":%" PRIu64
			 ",\"total_tokens\":%" PRIu64 "}}",
			 id, created, model, content, pt, ct, pt + ct);
		good = reply(fd, 200, "OK", "application/json", out, keep);
	} else {
		char hdr[256];
		int h = snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				 "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
				 "Connection: %s\r\n\r\n",
				 keep ? "keep-alive" : "close");

		good = send_all(fd, hdr, (size_t)h);
		for (uint64_t i = 0; good && i < nl; i++) {
			int n;

			launch(s, gpu / nl + (i < gpu % nl));
			die_cu(cuStreamSynchronize(s), "cuStreamSynchronize");
			n = snprintf(out, sizeof(out),
				     "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
				     "\"created\":%ld,\"model\":\"%s\",\"choices\":[{\"index\":0,"
				     "\"delta\":{%s\"content\":\"%s\"},\"finish_reason\":%s}]}\n\n",
				     id, created, model, i ? "" : "\"role\":\"assistant\",",
				     i + 1 == nl ? content : "", i + 1 == nl ? "\"stop\"" : "null");
			good = send_chunk(fd, out, (size_t)n);
		}
		if (good && usage_chunk) {
			int n = snprintf(out, sizeof(out),
					 "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
					 "\"created\":%ld,\"model\":\"%s\",\"choices\":[],\"usage\":{"
					 "\"prompt_tokens\":%" PRIu64 ",\"completion_tokens\":%" PRIu64
					 ",\"total_tokens\":%" PRIu64 "}}\n\n",
					 id, created, model, pt, ct, pt + ct);
			good = send_chunk(fd, out, (size_t)n);
		}
		good = good && send_chunk(fd, "data: [DONE]\n\n", 14) && send_all(fd, "0\r\n\r\n", 5);
	}
	t1 = now_ns();
	atomic_fetch_add(&g_gpu_ns, gpu);
	if (g_log) {
		pthread_mutex_lock(&g_log_mu);
		fprintf(g_log,
			"{\"pid\":%d,\"conn\":%ld,\"request\":%ld,\"id\":\"%s\",\"model\":\"%s\","
			"\"stream\":%s,\"gpu_ns\":%" PRIu64 ",\"launches\":%" PRIu64
			",\"prompt_tokens\":%" PRIu64 ",\"completion_tokens\":%" PRIu64
			",\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64 "}\n",
			getpid(), conn, reqno, id, model, stream ? "true" : "false", gpu, nl, pt, ct,
			t0, t1);
		fflush(g_log);
		pthread_mutex_unlock(&g_log_mu);
	}
	return good;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	long conn = atomic_fetch_add(&g_conns, 1) + 1, reqno = 0;
	char *buf = malloc(MAX_HEAD + 1);
	size_t have = 0;
	CUstream s = NULL;

	die_cu(cuCtxSetCurrent(g_ctx), "cuCtxSetCurrent");
	die_cu(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
	while (buf && !g_stop) {
		char *end, method[16] = "", path[256] = "", conn_hdr[32] = "";
		size_t head_len, body_len;
		char *body, *head;
		bool keep;
		ssize_t k;

		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end) {
			if (have >= MAX_HEAD)
				break;
			k = recv(fd, buf + have, MAX_HEAD - have, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			have += (size_t)k;
			continue;
		}
		head_len = (size_t)(end - buf) + 4;
		end[2] = 0; /* the head, ending with one \r\n, as a string */
		if (sscanf(buf, "%15s %255s", method, path) != 2)
			break;
		body_len = header_u64(buf, "content-length", 0);
		keep = !(header(buf, "connection", conn_hdr, sizeof(conn_hdr)) &&
			 strcasecmp(conn_hdr, "close") == 0);
		if (body_len > MAX_BODY || !(head = strdup(buf)))
			break;
		body = malloc(body_len + 1);
		if (!body) {
			free(head);
			break;
		}
		{
			size_t got = have - head_len < body_len ? have - head_len : body_len;

			memcpy(body, buf + head_len, got);
			while (got < body_len) {
				k = recv(fd, body + got, body_len - got, 0);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					break;
				got += (size_t)k;
			}
			if (got < body_len) {
				free(body);
				free(head);
				break;
			}
			body[body_len] = 0;
			/* keep what followed the body (a pipelined request) */
			if (have > head_len + body_len) {
				size_t rest = have - head_len - body_len;

				memmove(buf, buf + head_len + body_len, rest);
				have = rest;
			} else {
				have = 0;
			}
		}
		{
			bool good;

			if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/chat/completions") == 0) {
				reqno++;
				atomic_fetch_add(&g_requests, 1);
				good = chat(fd, s, conn, reqno, head, body, body_len, keep);
			} else if (strcmp(method, "GET") == 0 && strcmp(path, "/health") == 0) {
				good = reply(fd, 200, "OK", "text/plain", "ok\n", keep);
			} else if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/models") == 0) {
				good = reply(fd, 200, "OK", "application/json",
					     "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\","
					     "\"object\":\"model\",\"owned_by\":\"fakecuda\"}]}",
					     keep);
			} else {
				good = reply(fd, 404, "Not Found", "application/json",
					     "{\"error\":{\"message\":\"not found\"}}", keep);
			}
			free(body);
			free(head);
			if (!good || !keep)
				break;
		}
		if (o.max_requests > 0 && atomic_load(&g_requests) >= o.max_requests)
			g_stop = 1;
	}
	if (s)
		cuStreamDestroy_v2(s);
	free(buf);
	close(fd);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", 1, 0, 'p' }, { "port-file", 1, 0, 'f' }, { "log", 1, 0, 'l' },
		{ "gpu-ns", 1, 0, 'g' }, { "max-requests", 1, 0, 'm' }, { "quiet", 0, 0, 'q' },
		{ "weights-bytes", 1, 0, 'w' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	struct sigaction sa = { .sa_handler = on_signal };
	CUdevice dev;
	CUmodule mod;
	int c, lfd, one = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.port = atoi(optarg); break;
		case 'f': o.port_file = optarg; break;
		case 'l': o.log = optarg; break;
		case 'g': o.gpu_ns = strtoull(optarg, NULL, 0); break;
		case 'm': o.max_requests = atol(optarg); break;
		case 'q': o.quiet = true; break;
		case 'w': g_weights = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: infer_server [--port=N] [--port-file=PATH] [--log=PATH] "
				"[--gpu-ns=NS] [--max-requests=N] [--weights-bytes=N] [--quiet]\n");
			return c == 'h' ? 0 : 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: poll() returns */
	sigaction(SIGINT, &sa, NULL);
	if (o.log) {
		g_log = fopen(o.log, "a");
		if (!g_log) {
			perror(o.log);
			return 1;
		}
	}

	die_cu(cuInit(0), "cuInit");
	die_cu(cuDeviceGet(&dev, 0), "cuDeviceGet");
	die_cu(cuDevicePrimaryCtxRetain(&g_ctx, dev), "cuDevicePrimaryCtxRetain");
	die_cu(cuCtxSetCurrent(g_ctx), "cuCtxSetCurrent");
	die_cu(cuModuleLoadData(&mod, "fake model kernels"), "cuModuleLoadData");
	die_cu(cuModuleGetFunction(&g_fn, mod, "decode_step"), "cuModuleGetFunction");

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t)o.port);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
		perror("infer_server: listen");
		return 1;
	}
	printf("{\"port\":%d,\"pid\":%d}\n", ntohs(addr.sin_port), getpid());
	if (o.port_file) {
		FILE *f = fopen(o.port_file, "w");

		if (f) {
			fprintf(f, "%d\n", ntohs(addr.sin_port));
			fclose(f);
		}
	}

	while (!g_stop) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		pthread_t th;
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&th, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(th);
	}
	close(lfd);
	printf("{\"type\":\"server_summary\",\"pid\":%d,\"requests\":%ld,\"connections\":%ld,"
	       "\"launches\":%" PRIu64 ",\"gpu_ns\":%" PRIu64 "}\n",
	       getpid(), atomic_load(&g_requests), atomic_load(&g_conns), atomic_load(&g_launches),
	       atomic_load(&g_gpu_ns));
	if (g_log)
		fclose(g_log);
	exit(0);
}

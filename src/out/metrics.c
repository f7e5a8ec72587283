// SPDX-License-Identifier: MIT
/*
 * Prometheus /metrics: the live totals in the text exposition format 0.0.4,
 * served by libmicrohttpd on its own thread.
 *
 * The listening socket is made here rather than by libmicrohttpd so that a
 * bad address or a port in use fails with the address and errno (MHD only
 * returns NULL), and so that dual stack is used only for ":port".
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "out/metrics.h"

/* Bounds: Prometheus keeps one connection per target; a few more allow curl
 * and a second scraper, without letting a flood of clients pile up. */
#define METRICS_MAX_CONNECTIONS 32
#define METRICS_TIMEOUT_S 15
#define METRICS_BACKLOG 16

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct MHD_Daemon *daemon;
	struct live *live;
	char where[80]; /* the bound address, for log lines */
};

/* ------------------------------------------------------------------------
 * A growing output buffer; a failed allocation sticks (checked once at the
 * end) so that the renderer needs no error path per line.
 */
struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool buf_reserve(struct buf *b, size_t more)
{
	size_t want;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more <= b->cap)
		return true;
	want = b->cap ? b->cap : 4096;
	while (want < b->len + more)
		want *= 2;
	p = realloc(b->p, want);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = want;
	return true;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char c)
{
	buf_put(b, &c, 1);
}

/* ------------------------------------------------------------------------
 * Names and values
 */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid.
 * Label values come from the network (model names) and from cgroup paths:
 * Prometheus rejects a whole scrape over one invalid byte, so bad sequences
 * are replaced rather than passed through. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Escaped text: backslash and newline always; the double quote too inside
 * label values (HELP text leaves it as is, per the format). Invalid UTF-8
 * becomes U+FFFD.
 */
static void put_escaped(struct buf *b, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	while (n) {
		size_t k = utf8_len(p, n);

		if (k == 0) {
			buf_puts(b, "\xef\xbf\xbd");
			k = 1;
		} else if (*p == '\\') {
			buf_puts(b, "\\\\");
		} else if (*p == '\n') {
			buf_puts(b, "\\n");
		} else if (*p == '"' && quote) {
			buf_puts(b, "\\\"");
		} else {
			buf_put(b, (const char *)p, k);
		}
		p += k;
		n -= k;
	}
}

/*
 * A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label name
 * ([a-zA-Z_][a-zA-Z0-9_]*, "__" prefix reserved to Prometheus). The names
 * come from live.c and should be valid already; a bad one is mapped to a
 * valid one (bad characters to '_') instead of breaking the whole scrape.
 */
static void put_name(struct buf *b, const char *s, bool label)
{
	size_t i;

	if (!s || !*s) {
		buf_putc(b, '_');
		return;
	}
	if (label)
		while (s[0] == '_' && s[1] == '_')
			s++; /* "__x" -> "_x" */
	if (isdigit((unsigned char)s[0]))
		buf_putc(b, '_');
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c < 0x80 && isalnum(c)) || c == '_' || (c == ':' && !label);

		buf_putc(b, ok ? (char)c : '_');
	}
}

/* The shortest of %.15g..%.17g that reads back as the same double: integers
 * stay exact ("12345"), fractions round-trip without noise ("0.1", not
 * "0.10000000000000001"). */
static void put_value(struct buf *b, double v)
{
	char s[40];
	int prec;

	if (isnan(v)) {
		buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(s, sizeof(s), "%.17g", v);
	buf_puts(b, s);
}

static void render_family(void *ctx, const char *name, const char *help, bool counter,
			  const struct live_sample *samples, size_t n)
{
	struct buf *b = ctx;
	size_t i, j;

	buf_puts(b, "# HELP ");
	put_name(b, name, false);
	if (help && *help) {
		buf_putc(b, ' ');
		put_escaped(b, help, false);
	}
	buf_puts(b, "\n# TYPE ");
	put_name(b, name, false);
	buf_puts(b, counter ? " counter\n" : " gauge\n");
	for (i = 0; i < n; i++) {
		const struct live_sample *s = &samples[i];

		put_name(b, name, false);
		if (s->nlabels) {
			buf_putc(b, '{');
			for (j = 0; j < s->nlabels; j++) {
				if (j)
					buf_putc(b, ',');
				put_name(b, s->label_names[j], true);
				buf_puts(b, "=\"");
				put_escaped(b, s->label_values[j], true);
				buf_putc(b, '"');
			}
			buf_putc(b, '}');
		}
		buf_putc(b, ' ');
		put_value(b, s->value);
		buf_putc(b, '\n');
	}
}

char *metrics_render(struct live *l, size_t *len)
{
	struct buf b = { 0 };

	/* Formatting happens under live's lock (the samples' strings belong to
	 * it); it is a few milliseconds even at LIVE_MAX_SERIES per family. */
	live_each_family(l, render_family, &b);
	if (!buf_reserve(&b, 1)) {
		free(b.p);
		return NULL;
	}
	b.p[b.len] = '\0';
	if (len)
		*len = b.len;
	return b.p;
}

/* ------------------------------------------------------------------------
 * HTTP
 */

/* Whether an Accept-Encoding value allows gzip: a "gzip" (or "x-gzip")
 * coding whose q is not zero. */
static bool accepts_gzip(const char *ae)
{
	const char *p = ae;

	if (!ae)
		return false;
	while (*p) {
		const char *tok, *end;
		size_t tlen;
		bool zero_q = false;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		tok = p;
		while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		tlen = (size_t)(p - tok);
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		/* parameters: look for q=0, q=0., q=0.0... */
		for (const char *q = p; q < end; q++) {
			if ((*q == 'q' || *q == 'Q') && q[1] == '=') {
				const char *v = q + 2;

				if (*v == '0') {
					v++;
					if (*v == '.')
						v++;
					while (*v == '0')
						v++;
					zero_q = v >= end || *v == ' ' || *v == '\t' || *v == ';' ||
						 *v == ',';
				}
				break;
			}
		}
		if (((tlen == 4 && !strncasecmp(tok, "gzip", 4)) ||
		     (tlen == 6 && !strncasecmp(tok, "x-gzip", 6))) &&
		    !zero_q)
			return true;
		p = end;
	}
	return false;
}

/* gzip of in (level 1: the scraper gets most of the gain for little of the
 * agent's CPU). NULL when it did not work out; the caller sends plain text. */
static char *gzip_buf(const char *in, size_t n, size_t *outlen)
{
	z_stream z;
	char *out;
	size_t cap;

	if (n > UINT_MAX / 2)
		return NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, (uLong)n) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *body,
				    const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_metrics(struct metrics *m, struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len, zlen;
	char *text, *z = NULL;
	bool gz;

	text = metrics_render(m->live, &len);
	if (!text)
		return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	gz = accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_ACCEPT_ENCODING));
	if (gz)
		z = gzip_buf(text, len, &zlen);
	if (z) {
		free(text);
		text = z;
		len = zlen;
	}
	/* MHD frees the buffer with free() once sent (or on error). */
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (z)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct metrics *m = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	/* Answered on the first call, before any request body is read: nothing
	 * here takes a body, and MHD discards (or closes on) what is left. */
	if (strcmp(url, "/metrics") != 0)
		return reply_static(c, MHD_HTTP_NOT_FOUND,
				    "not found: infertrace serves /metrics only\n", NULL);
	/* HEAD: MHD sends the headers (Content-Length included) without the body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed: use GET or HEAD\n", "GET, HEAD");
	return reply_metrics(m, c);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics *m = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "infertrace: metrics (%s): %s\n", m->where, msg);
}

/* ------------------------------------------------------------------------
 * The listening socket
 */

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into host (empty for ":PORT") and port. */
static int parse_listen(const char *listen, char *host, size_t hostlen, char *port,
			size_t portlen, char *err, size_t errlen)
{
	const char *colon, *h, *hend;
	size_t i, n;
	unsigned long v;
	char *end;

	if (!listen || !*listen) {
		snprintf(err, errlen, "empty address: expected HOST:PORT, e.g. 127.0.0.1:9464, "
				      "[::1]:9464 or :9464");
		return -1;
	}
	if (listen[0] == '[') {
		h = listen + 1;
		hend = strchr(h, ']');
		if (!hend || hend == h || hend[1] != ':') {
			snprintf(err, errlen, "'%s': expected [IPV6]:PORT, e.g. [::1]:9464", listen);
			return -1;
		}
		colon = hend + 1;
	} else {
		h = listen;
		colon = strrchr(listen, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s': no port: expected HOST:PORT, e.g. "
					      "127.0.0.1:9464 or :9464", listen);
			return -1;
		}
		hend = colon;
		if (memchr(h, ':', (size_t)(hend - h))) {
			snprintf(err, errlen, "'%s': an IPv6 address needs brackets, e.g. [::1]:9464",
				 listen);
			return -1;
		}
	}
	n = (size_t)(hend - h);
	if (n >= hostlen) {
		snprintf(err, errlen, "'%s': host name too long", listen);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	for (i = 1; colon[i]; i++)
		if (!isdigit((unsigned char)colon[i]))
			break;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (i == 1 || colon[i] || errno || v < 1 || v > 65535 || strlen(colon + 1) >= portlen) {
		snprintf(err, errlen, "'%s': bad port '%s' (1-65535)", listen, colon + 1);
		return -1;
	}
	snprintf(port, portlen, "%lu", v);
	return 0;
}

static void addr_str(const struct sockaddr *sa, socklen_t salen, char *out, size_t outlen)
{
	/* numeric only: an IPv6 address with a scope fits in 64, a port in 8 */
	char h[64], p[8];

	if (getnameinfo(sa, salen, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(out, outlen, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%s", h, p);
	else
		snprintf(out, outlen, "%s:%s", h, p);
}

/* A listening TCP socket on sa, or -errno. v6only: 1 for an IPv6 address
 * given explicitly, 0 for the dual-stack wildcard. */
static int listen_on(const struct sockaddr *sa, socklen_t salen, int v6only)
{
	int fd, one = 1, e;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR: a restarted agent can bind while old connections sit in
	 * TIME_WAIT; on Linux it still refuses a port another socket listens on. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
		goto fail;
	if (bind(fd, sa, salen) < 0 || listen(fd, METRICS_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

/* Open the socket for listen; on failure a message naming the address. */
static int open_listener(const char *listen, char *where, size_t wherelen, char *err,
			 size_t errlen)
{
	char host[256], port[8];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc;

	if (parse_listen(listen, host, sizeof(host), port, sizeof(port), err, errlen))
		return -1;
	if (!host[0]) {
		/* ":PORT": every address, IPv4 and IPv6 on one socket; IPv4 alone
		 * on a kernel without IPv6. */
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT,
					   .sin6_port = htons((uint16_t)atoi(port)) };
		struct sockaddr_in s4 = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_ANY),
					  .sin_port = htons((uint16_t)atoi(port)) };

		fd = listen_on((struct sockaddr *)&s6, sizeof(s6), 0);
		if (fd == -EAFNOSUPPORT) {
			fd = listen_on((struct sockaddr *)&s4, sizeof(s4), 0);
			snprintf(where, wherelen, "0.0.0.0:%s", port);
		} else {
			snprintf(where, wherelen, "[::]:%s", port);
		}
		if (fd < 0) {
			snprintf(err, errlen, "cannot listen on %s (all addresses): %s", where,
				 strerror(-fd));
			return -1;
		}
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "'%s': cannot resolve '%s': %s", listen, host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	/* A name may have several addresses (localhost: ::1 and 127.0.0.1): the
	 * first that binds is used; the message names the last that failed. */
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		addr_str(ai->ai_addr, ai->ai_addrlen, where, wherelen);
		fd = listen_on(ai->ai_addr, ai->ai_addrlen, 1);
		if (fd >= 0)
			break;
		if (strcmp(where, listen) == 0)
			snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(-fd));
		else
			snprintf(err, errlen, "cannot listen on %s (%s): %s", where, listen,
				 strerror(-fd));
	}
	if (!res || (fd < 0 && !err[0]))
		snprintf(err, errlen, "'%s': no IPv4 or IPv6 address for '%s'", listen, host);
	freeaddrinfo(res);
	return fd < 0 ? -1 : fd;
}

struct metrics *metrics_start(const char *listen, struct live *l, char *err, size_t errlen)
{
	struct metrics *m;
	sigset_t all, old;
	char none[1];
	int fd;

	if (!err || !errlen) { /* the messages below need somewhere to go */
		err = none;
		errlen = sizeof(none);
	}
	err[0] = '\0';
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->live = l;
	fd = open_listener(listen, m->where, sizeof(m->where), err, errlen);
	if (fd < 0) {
		free(m);
		return NULL;
	}
	/*
	 * epoll (MHD_USE_AUTO), not select: by the time this starts the agent
	 * holds a descriptor per probe, so connections get numbers past
	 * select()'s FD_SETSIZE. One internal thread serves the requests one at
	 * a time, which also keeps renders from competing for live's lock.
	 *
	 * The thread starts with every signal blocked: SIGTERM, SIGINT and
	 * SIGHUP (price reload) are for the agent's main loop, which must not
	 * miss one because it went to this thread.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	m->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				     NULL, handle, m,
				     /* first, or MHD logs the options before it its own way */
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT,
				     (unsigned int)METRICS_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
				     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->daemon) {
		snprintf(err, errlen, "cannot start the HTTP server on %s (libmicrohttpd; see "
				      "its message above)", m->where);
		/* a failed start leaves the socket it was given open (seen with
		 * libmicrohttpd 0.9.75); a successful one closes it at stop */
		close(fd);
		free(m);
		return NULL;
	}
	return m;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	/* Stops the thread, closes the connections and the listening socket. */
	MHD_stop_daemon(m->daemon);
	free(m);
}

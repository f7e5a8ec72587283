// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tls_loop: TLS request/response throughput over loopback, for measuring
 * what infertrace's uprobes on OpenSSL cost per call.
 *
 * Build (no Makefile rule; tools/bench/tls-overhead.sh does this for you):
 *
 *   mkdir -p build/tools
 *   cc -O2 -Wall -Wextra tools/bench/tls_loop.c -lssl -lcrypto -o build/tools/tls_loop
 *
 * Run:
 *
 *   build/tools/tls_loop [-s BYTES] [-t SECONDS | -n COUNT] [--api ex|plain]
 *                        [-w WARMUP] [--cpus C[,S]]
 *
 * A self-signed P-256 certificate is made in-process, a TCP listener is bound
 * to 127.0.0.1 on an ephemeral port, and the process forks: the child is the
 * TLS server, the parent the client. After the handshake and WARMUP
 * untimed round trips, the client runs timed round trips: write MSG bytes,
 * read MSG bytes back; the server reads MSG bytes and writes them back. Both
 * sides use the same API: SSL_write_ex/SSL_read_ex (--api ex, the default;
 * what curl and Python use) or SSL_write/SSL_read (--api plain). Every SSL
 * call is a separate libssl entry, so a system-wide uprobe fires on each, in
 * both processes.
 *
 * --cpus C pins client and server to CPU C; --cpus C,S pins the client to C
 * and the server to S. On small VMs a cross-CPU wakeup costs tens of
 * microseconds and varies a lot, so one shared CPU gives a much steadier
 * (and faster) ping-pong; tls-overhead.sh uses that by default.
 *
 * Output, one JSON line on stdout:
 *   size               message size in bytes (each direction)
 *   api                "ex" or "plain"
 *   round_trips        timed round trips
 *   seconds            timed wall-clock seconds (client side)
 *   round_trips_per_s  round_trips / seconds
 *   mb_per_s           plaintext moved, both directions: 2*size*rt/s/1e6
 *   ssl_calls          SSL read+write calls made in the timed part, both
 *                      processes (normally 4 per round trip)
 *   calls_per_round_trip ssl_calls / round_trips
 *   ns_per_ssl_call    seconds*1e9 / ssl_calls: the ping-pong is serial,
 *                      so this is the wall-clock time per call, including
 *                      the kernel loopback and scheduler share
 *   client_cpu, server_cpu  pinned CPUs, -1 when not pinned
 *   protocol, cipher   what the handshake agreed
 *
 * Exit status 0 on success, 1 on any error (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

enum api { API_EX, API_PLAIN };

struct opts {
	size_t size;
	double seconds;    /* > 0: run for this long */
	uint64_t count;    /* > 0: run this many round trips instead */
	uint64_t warmup;
	enum api api;
	int client_cpu; /* -1: not pinned */
	int server_cpu;
};

/* What the server reports to the client over a pipe when it is done. */
struct server_report {
	uint64_t timed_calls; /* SSL calls after warmup */
	int ok;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tls_loop: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ERR_peek_error()) {
		fprintf(stderr, "tls_loop: OpenSSL errors:\n");
		ERR_print_errors_fp(stderr);
	}
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tls_loop [-s BYTES] [-t SECONDS | -n COUNT] [--api ex|plain]\n"
		"                [-w WARMUP] [--cpus C[,S]]\n"
		"  -s, --size BYTES     message size each way (default 1024; 1..1048576)\n"
		"  -t, --time SECONDS   timed duration (default 2)\n"
		"  -n, --count N        timed round trips instead of a duration\n"
		"  -w, --warmup N       untimed round trips first (default 200)\n"
		"      --api ex|plain   SSL_write_ex/SSL_read_ex (default) or SSL_write/SSL_read\n"
		"      --cpus C[,S]     pin client to CPU C and server to S (default: C)\n"
		"Prints one JSON line with the results.\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_cert(EVP_PKEY **pkey_out, X509 **cert_out)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	if (!pkey || !x)
		die("key or certificate allocation failed");
	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_set_pubkey(x, pkey))
		die("setting certificate fields failed");
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    !X509_sign(x, pkey, EVP_sha256()))
		die("signing the certificate failed");
	*pkey_out = pkey;
	*cert_out = x;
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("pinning to CPU %d: %s", cpu, strerror(errno));
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		die("TCP_NODELAY: %s", strerror(errno));
}

/*
 * Write all of buf with one API. Returns 1 on success, 0 on failure or
 * peer close. *calls counts SSL calls made.
 */
static int write_all(SSL *ssl, enum api api, const unsigned char *buf, size_t len,
		     uint64_t *calls)
{
	size_t done = 0;

	while (done < len) {
		size_t n = 0;

		(*calls)++;
		if (api == API_EX) {
			if (SSL_write_ex(ssl, buf + done, len - done, &n) != 1)
				return 0;
		} else {
			int r = SSL_write(ssl, buf + done, (int)(len - done));

			if (r <= 0)
				return 0;
			n = (size_t)r;
		}
		done += n;
	}
	return 1;
}

/* Read exactly len bytes. Returns 1 on success, 0 on failure or peer close. */
static int read_all(SSL *ssl, enum api api, unsigned char *buf, size_t len,
		    uint64_t *calls)
{
	size_t done = 0;

	while (done < len) {
		size_t n = 0;

		(*calls)++;
		if (api == API_EX) {
			if (SSL_read_ex(ssl, buf + done, len - done, &n) != 1)
				return 0;
		} else {
			int r = SSL_read(ssl, buf + done, (int)(len - done));

			if (r <= 0)
				return 0;
			n = (size_t)r;
		}
		done += n;
	}
	return 1;
}

static SSL_CTX *new_ctx(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx)
		die("SSL_CTX_new failed");
	/* No session tickets: nothing but our records after the handshake. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	return ctx;
}

static void run_server(int lfd, const struct opts *o, EVP_PKEY *pkey, X509 *cert,
		       int report_fd)
{
	struct server_report rep = { 0, 0 };
	uint64_t calls = 0, rt = 0;
	unsigned char *buf;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;

	if (o->server_cpu >= 0)
		pin_to(o->server_cpu);
	ctx = new_ctx(TLS_server_method());
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
		die("server: loading the certificate failed");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("server: accept: %s", strerror(errno));
	close(lfd);
	set_nodelay(fd);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		die("server: SSL_new/SSL_set_fd failed");
	if (SSL_accept(ssl) != 1)
		die("server: handshake failed");
	buf = malloc(o->size);
	if (!buf)
		die("server: out of memory");

	/*
	 * Echo until the client closes. Counted: calls of completed timed
	 * round trips (not warmup, not the final read that sees the close).
	 */
	for (;;) {
		uint64_t c = 0;

		if (!read_all(ssl, o->api, buf, o->size, &c))
			break;
		if (!write_all(ssl, o->api, buf, o->size, &c))
			die("server: write failed after %llu round trips",
			    (unsigned long long)rt);
		if (rt++ >= o->warmup)
			calls += c;
	}
	/* A clean close_notify from the client is the expected end. */
	rep.ok = SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN ||
		 (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
	rep.timed_calls = calls;
	if (write(report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		die("server: reporting failed: %s", strerror(errno));
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	free(buf);
	_exit(0);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "api", required_argument, NULL, 'a' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .size = 1024, .seconds = 2.0, .warmup = 200, .api = API_EX,
			  .client_cpu = -1, .server_cpu = -1 };
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	struct server_report rep;
	uint64_t calls = 0, rt = 0;
	unsigned char *out, *in;
	double t0, t1, secs;
	int lfd, fd, pfd[2], ch, status;
	EVP_PKEY *pkey;
	X509 *cert;
	SSL_CTX *ctx;
	SSL *ssl;
	pid_t pid;
	char *end;

	while ((ch = getopt_long(argc, argv, "s:t:n:w:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v == 0 || v > 1048576)
				die("bad --size '%s' (1..1048576)", optarg);
			o.size = v;
			break;
		}
		case 't':
			o.seconds = strtod(optarg, &end);
			if (*end || !(o.seconds > 0))
				die("bad --time '%s'", optarg);
			o.count = 0;
			break;
		case 'n':
			o.count = strtoull(optarg, &end, 10);
			if (*end || o.count == 0)
				die("bad --count '%s'", optarg);
			break;
		case 'w':
			o.warmup = strtoull(optarg, &end, 10);
			if (*end)
				die("bad --warmup '%s'", optarg);
			break;
		case 'a':
			if (!strcmp(optarg, "ex"))
				o.api = API_EX;
			else if (!strcmp(optarg, "plain"))
				o.api = API_PLAIN;
			else
				die("bad --api '%s' (ex or plain)", optarg);
			break;
		case 'c': {
			long c = strtol(optarg, &end, 10), sv = c;

			if (end != optarg && *end == ',') {
				const char *s2 = end + 1;

				sv = strtol(s2, &end, 10);
				if (end == s2)
					end = (char *)"x";
			}
			if (end == optarg || *end || c < 0 || sv < 0 || c >= CPU_SETSIZE ||
			    sv >= CPU_SETSIZE)
				die("bad --cpus '%s' (C or C,S)", optarg);
			o.client_cpu = (int)c;
			o.server_cpu = (int)sv;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	make_cert(&pkey, &cert);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(lfd, 1) != 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0)
		die("listening on 127.0.0.1: %s", strerror(errno));
	if (pipe(pfd) != 0)
		die("pipe: %s", strerror(errno));

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(pfd[0]);
		run_server(lfd, &o, pkey, cert, pfd[1]);
	}
	close(pfd[1]);
	close(lfd);

	if (o.client_cpu >= 0)
		pin_to(o.client_cpu);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("connect to 127.0.0.1:%d: %s", ntohs(addr.sin_port), strerror(errno));
	set_nodelay(fd);
	ctx = new_ctx(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		die("client: SSL_new/SSL_set_fd failed");
	if (SSL_connect(ssl) != 1)
		die("client: handshake failed");

	out = malloc(o.size);
	in = malloc(o.size);
	if (!out || !in)
		die("out of memory");
	for (size_t i = 0; i < o.size; i++)
		out[i] = (unsigned char)(i * 31 + 7);

	for (uint64_t i = 0; i < o.warmup; i++) {
		uint64_t dummy = 0;

		out[0] = (unsigned char)i;
		if (!write_all(ssl, o.api, out, o.size, &dummy) ||
		    !read_all(ssl, o.api, in, o.size, &dummy))
			die("client: warmup round trip %llu failed", (unsigned long long)i);
		if (in[0] != out[0])
			die("client: echo mismatch in warmup");
	}

	t0 = now_s();
	t1 = t0;
	for (;;) {
		out[0] = (unsigned char)rt;
		if (!write_all(ssl, o.api, out, o.size, &calls) ||
		    !read_all(ssl, o.api, in, o.size, &calls))
			die("client: round trip %llu failed", (unsigned long long)rt);
		if (in[0] != out[0] || in[o.size - 1] != out[o.size - 1])
			die("client: echo mismatch at round trip %llu", (unsigned long long)rt);
		rt++;
		if (o.count) {
			if (rt >= o.count)
				break;
		} else if ((t1 = now_s()) - t0 >= o.seconds) {
			break;
		}
	}
	if (o.count)
		t1 = now_s();
	secs = t1 - t0;

	SSL_shutdown(ssl);
	shutdown(fd, SHUT_WR);

	ssize_t got = read(pfd[0], &rep, sizeof(rep));
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("server process failed (status 0x%x)", status);
	if (got != (ssize_t)sizeof(rep))
		die("server did not report its call count");
	if (!rep.ok)
		fprintf(stderr, "tls_loop: warning: server did not see a clean close_notify\n");

	uint64_t total_calls = calls + rep.timed_calls;

	printf("{\"size\":%zu,\"api\":\"%s\",\"round_trips\":%llu,\"seconds\":%.6f,"
	       "\"round_trips_per_s\":%.1f,\"mb_per_s\":%.3f,\"ssl_calls\":%llu,"
	       "\"calls_per_round_trip\":%.3f,\"ns_per_ssl_call\":%.1f,\"client_cpu\":%d,\"server_cpu\":%d,"
	       "\"protocol\":",
	       o.size, o.api == API_EX ? "ex" : "plain", (unsigned long long)rt, secs,
	       (double)rt / secs, 2.0 * (double)o.size * (double)rt / secs / 1e6,
	       (unsigned long long)total_calls, (double)total_calls / (double)rt,
	       secs * 1e9 / (double)total_calls, o.client_cpu, o.server_cpu);
	json_str(SSL_get_version(ssl));
	fputs(",\"cipher\":", stdout);
	json_str(SSL_get_cipher_name(ssl));
	fputs("}\n", stdout);

	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	free(out);
	free(in);
	return fflush(stdout) == 0 ? 0 : 1;
}

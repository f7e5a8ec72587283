// SPDX-License-Identifier: MIT
/*
 * JSON-lines sinks (see sink.h and docs/sinks.md).
 *
 * Every sink has the same queue, in delivery order:
 *
 *   front  bytes being delivered now (a spool segment loaded whole, or
 *          records taken from memory), with `done` (delivered, on a record
 *          boundary) and `sent` (handed to the kernel / the batch in flight)
 *   spool  segment files on disk, oldest first
 *   memory a list of records, newest last, bounded by mem_queue_bytes
 *
 * Overflow moves the OLDEST memory records to the spool's tail, so that
 * "spool, then memory" stays the order they were written in. A sink only
 * refills its front when it can deliver, so a sink that is down keeps at
 * most one segment loaded. The kinds differ only in how they move bytes out
 * of the front: write(2) for stdout and files, send(2) for TCP, a libcurl
 * multi transfer for HTTP. Nothing here blocks for long: sockets are
 * non-blocking, files are local, gzip of rotated files runs in slices.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <curl/curl.h>
#include <zlib.h>

#include "out/sink.h"

#define DEF_SPOOL_DIR "/var/lib/infertrace/spool"
#define SEG_MAX (4ull << 20)            /* bytes per spool segment */
#define TCP_WINDOW (256u << 10)         /* bytes taken from memory per TCP refill */
#define LOCAL_WINDOW (1u << 20)         /* same, stdout and files */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define CONNECT_TIMEOUT_MS 5000
#define HTTP_TIMEOUT_MS 30000
#define HTTP_MAX_REJECTS 3              /* tries of a batch answered 4xx (not 429) */
#define SPOOL_RETRY_MS 1000             /* after a spool error, try again after */
#define GZIP_SLICE (256u << 10)         /* bytes compressed per sinks_poll */
#define SEQ_BASE (1ull << 40)           /* first segment number: room to prepend */

enum kind { K_STDOUT, K_FILE, K_TCP, K_HTTP };

struct rec {
	struct rec *next;
	uint64_t t_ms;                  /* when it was queued (HTTP batch age) */
	size_t len;
	char data[];
};

struct seg {
	uint64_t seq;
	uint64_t bytes;
	uint64_t recs;
};

struct front {
	char *buf;
	size_t len, cap;
	size_t done;                    /* delivered, always just after a '\n' */
	size_t sent;                    /* written to the kernel / in the batch */
	uint64_t recs;                  /* records in [done, len) */
	uint64_t seg;                   /* spool segment it holds, 0: from memory */
	uint64_t seg_base;              /* offset in that segment of buf[0] */
};

struct gzjob {
	struct gzjob *next;
	char *src;                      /* PATH.TS, removed when PATH.TS.gz is done */
	int fd;
	gzFile gz;
	char *tmp;
};

struct sink {
	char *url;
	enum kind kind;
	struct sink_stats st;
	char reported[32];              /* condition last printed on stderr */

	/* memory queue */
	struct rec *head, *tail;
	uint64_t mem_bytes, mem_recs, mem_cap;

	/* spool */
	char *sdir;
	bool sdir_ok;
	uint64_t sdir_retry_ms;
	struct seg *segs;
	size_t nsegs, segcap;
	uint64_t sp_bytes, sp_recs, sp_cap, seg_max;
	int wfd;                        /* segs[nsegs-1] open for appending, or -1 */
	uint64_t cur_seq, cur_off;      /* resume point left by a previous run */

	struct front f;

	/* stdout and files */
	int fd;
	bool chunked;                   /* a pipe or tty: small writes after poll() */
	char *path;
	uint64_t fsize, fstart_s, rot_bytes, rot_secs;
	struct gzjob *gz;
	uint64_t retry_ms;

	/* tcp */
	char *host, *port;
	/* tcp: the addresses the name resolved to, tried in turn; resolved at
	 * open and again at most every RESOLVE_EVERY_MS while connects fail,
	 * so a dead DNS server costs the loop its timeout that seldom */
	struct sockaddr_storage addrs[4];
	socklen_t addrlens[4];
	size_t naddrs, next_addr;
	uint64_t resolved_ms;
	bool connecting;
	uint64_t conn_start_ms, next_try_ms, backoff_ms;

	/* http */
	char *http_url;                 /* without our own options */
	bool gzip;
	uint32_t batch_recs, batch_ms, timeout_ms, max_rejects;
	char cacert[256];          /* https: a CA file to trust (a private receiver's) */
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	bool in_flight;
	char *body;
	size_t body_len, batch_end;
	uint64_t batch_n;
	uint32_t rejects;
	char resp[200];
	size_t resp_len;
};

struct sinks {
	struct sink *v;
	size_t n;
	bool closing;
	bool curl_inited;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- errors */

/* Every problem goes to last_error; stderr gets one line per condition (not
 * one per retry every 10 ms), and one more when the sink recovers. */
static void sink_fail(struct sink *s, const char *cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->st.last_error, sizeof(s->st.last_error), fmt, ap);
	va_end(ap);
	if (strcmp(s->reported, cond)) {
		fprintf(stderr, "infertrace: sink %s: %s\n", s->url, s->st.last_error);
		snprintf(s->reported, sizeof(s->reported), "%s", cond);
	}
}

static void sink_ok(struct sink *s)
{
	s->st.up = true;
	/* A spool problem is not cured by a delivery: keep it reported. */
	if (s->reported[0] && strcmp(s->reported, "spool")) {
		fprintf(stderr, "infertrace: sink %s: delivering again\n", s->url);
		s->reported[0] = 0;
	}
}

static void sink_down(struct sink *s)
{
	s->st.up = false;
	s->st.errors++;
	if (!s->backoff_ms)
		s->backoff_ms = BACKOFF_MIN_MS;
	s->next_try_ms = now_ms() + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* ----------------------------------------------------------------- spool */

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void seg_path(const struct sink *s, uint64_t seq, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%016" PRIx64 ".seg", s->sdir, seq);
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Complete lines in buf[0..len): how many, and where the last one ends (a
 * torn last line, left by a crash or a full disk, is not a record). */
static uint64_t count_lines(const char *buf, size_t len, size_t *end)
{
	uint64_t n = 0;
	const char *p = buf, *e = buf + len, *nl;

	*end = 0;
	while (p < e && (nl = memchr(p, '\n', e - p))) {
		n++;
		p = nl + 1;
		*end = p - buf;
	}
	return n;
}

static int read_file(const char *path, uint64_t off, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (uint64_t)st.st_size < off) {
		close(fd);
		return -EINVAL;
	}
	buf = malloc(st.st_size - off + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)(st.st_size - off)) {
		ssize_t r = pread(fd, buf + got, st.st_size - off - got, off + got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

/* The spool directory of this sink: create it, list what a previous run
 * left. Failure is not fatal: the sink works from memory and says why. */
static void spool_init(struct sink *s)
{
	DIR *d;
	struct dirent *de;
	char p[PATH_MAX];
	FILE *f;
	int err;

	s->sdir_retry_ms = now_ms() + SPOOL_RETRY_MS;
	err = mkdir_p(s->sdir);
	if (err) {
		sink_fail(s, "spool", "spool %s: %s (records stay in memory)", s->sdir, strerror(-err));
		return;
	}
	snprintf(p, sizeof(p), "%s/url", s->sdir);
	f = fopen(p, "we");
	if (!f) {
		sink_fail(s, "spool", "spool %s: %s (records stay in memory)", p, strerror(errno));
		return;
	}
	fprintf(f, "%s\n", s->url);
	if (fclose(f)) {
		sink_fail(s, "spool", "spool %s: %s (records stay in memory)", p, strerror(errno));
		return;
	}
	s->sdir_ok = true;
	if (s->segs)            /* a retry after an error: the list is current */
		return;
	d = opendir(s->sdir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		uint64_t seq;
		char tail[8];
		char *buf;
		size_t len, end;

		if (sscanf(de->d_name, "%16" SCNx64 "%7s", &seq, tail) != 2 || strcmp(tail, ".seg"))
			continue;
		seg_path(s, seq, p, sizeof(p));
		if (read_file(p, 0, &buf, &len))
			continue;
		if (s->nsegs == s->segcap) {
			size_t cap = s->segcap ? s->segcap * 2 : 16;
			struct seg *v = realloc(s->segs, cap * sizeof(*v));

			if (!v) {
				free(buf);
				break;
			}
			s->segs = v;
			s->segcap = cap;
		}
		s->segs[s->nsegs++] = (struct seg){ seq, len, count_lines(buf, len, &end) };
		s->sp_bytes += len;
		s->sp_recs += s->segs[s->nsegs - 1].recs;
		free(buf);
	}
	closedir(d);
	if (s->nsegs)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
	/* Where the previous run stopped inside its oldest segment. */
	snprintf(p, sizeof(p), "%s/cursor", s->sdir);
	f = fopen(p, "re");
	if (f) {
		if (fscanf(f, "%" SCNx64 " %" SCNu64, &s->cur_seq, &s->cur_off) != 2)
			s->cur_seq = s->cur_off = 0;
		fclose(f);
		unlink(p);
	}
}

static int seg_insert(struct sink *s, size_t at, struct seg g)
{
	if (s->nsegs == s->segcap) {
		size_t cap = s->segcap ? s->segcap * 2 : 16;
		struct seg *v = realloc(s->segs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->segs = v;
		s->segcap = cap;
	}
	memmove(s->segs + at + 1, s->segs + at, (s->nsegs - at) * sizeof(*s->segs));
	s->segs[at] = g;
	s->nsegs++;
	return 0;
}

static void seg_remove(struct sink *s, size_t i)
{
	char p[PATH_MAX];

	if (i == s->nsegs - 1 && s->wfd >= 0) {
		close(s->wfd);
		s->wfd = -1;
	}
	seg_path(s, s->segs[i].seq, p, sizeof(p));
	unlink(p);
	s->sp_bytes -= s->segs[i].bytes;
	s->sp_recs -= s->segs[i].recs;
	memmove(s->segs + i, s->segs + i + 1, (s->nsegs - i - 1) * sizeof(*s->segs));
	s->nsegs--;
}

/* Make room for `need` bytes: drop whole segments, oldest first, except the
 * one being delivered (it is older still, and half sent). */
static bool spool_evict(struct sink *s, uint64_t need)
{
	while (s->sp_bytes + need > s->sp_cap) {
		size_t i = s->f.seg ? 1 : 0;

		/* The tail being written can go too, but only if it is not the
		 * segment we are about to write into... which is fine: the
		 * caller opens a new one when wfd is closed. */
		if (i >= s->nsegs)
			return false;
		s->st.evicted += s->segs[i].recs;
		s->st.queued -= s->segs[i].recs;
		seg_remove(s, i);
	}
	return true;
}

/* Append one record to the spool's tail segment. */
static int spool_put(struct sink *s, const char *data, size_t len)
{
	char p[PATH_MAX];
	struct iovec iov[2] = { { (void *)data, len }, { "\n", 1 } };
	struct seg *t;
	ssize_t w;

	if (!s->sdir_ok) {
		if (now_ms() < s->sdir_retry_ms)
			return -EAGAIN;
		spool_init(s);
		if (!s->sdir_ok)
			return -EAGAIN;
	}
	if (len + 1 > s->sp_cap)
		return -EFBIG;
	if (!spool_evict(s, len + 1))
		return -ENOSPC;
	t = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
	if (s->wfd < 0 || !t || t->bytes + len + 1 > s->seg_max) {
		uint64_t seq = t ? t->seq + 1 : SEQ_BASE;

		if (s->wfd >= 0)
			close(s->wfd);
		seg_path(s, seq, p, sizeof(p));
		s->wfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (s->wfd < 0) {
			int e = errno;

			sink_fail(s, "spool", "spool %s: %s (records stay in memory)", p, strerror(e));
			s->sdir_ok = false;
			s->sdir_retry_ms = now_ms() + SPOOL_RETRY_MS;
			return -e;
		}
		if (seg_insert(s, s->nsegs, (struct seg){ seq, 0, 0 })) {
			close(s->wfd);
			s->wfd = -1;
			unlink(p);
			return -ENOMEM;
		}
		t = &s->segs[s->nsegs - 1];
	}
	w = writev(s->wfd, iov, 2);
	if (w != (ssize_t)len + 1) {
		int e = w < 0 ? errno : ENOSPC;

		/* A torn line would be half a record on replay: cut it off. */
		if (ftruncate(s->wfd, t->bytes))
			(void)0;
		sink_fail(s, "spool", "spool %s: write: %s (records stay in memory)", s->sdir,
			  strerror(e));
		close(s->wfd);
		s->wfd = -1;
		s->sdir_ok = false;
		s->sdir_retry_ms = now_ms() + SPOOL_RETRY_MS;
		return -e;
	}
	t->bytes += len + 1;
	t->recs++;
	s->sp_bytes += len + 1;
	s->sp_recs++;
	s->st.spooled++;
	return 0;
}

/* A front that came from memory, put back on disk ahead of everything at
 * close (it is older than the spool). */
static int spool_prepend(struct sink *s, const char *buf, size_t len, uint64_t recs)
{
	char p[PATH_MAX];
	uint64_t seq = s->nsegs ? s->segs[0].seq - 1 : SEQ_BASE;
	int fd;
	size_t off = 0;

	if (!s->sdir_ok)
		spool_init(s);
	if (!s->sdir_ok || !spool_evict(s, len))
		return -ENOSPC;
	seg_path(s, seq, p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w <= 0) {
			close(fd);
			unlink(p);
			return w < 0 ? -errno : -ENOSPC;
		}
		off += w;
	}
	fsync(fd);
	close(fd);
	if (seg_insert(s, 0, (struct seg){ seq, len, recs }))
		return -ENOMEM;
	s->sp_bytes += len;
	s->sp_recs += recs;
	s->st.spooled += recs;
	return 0;
}

/* ---------------------------------------------------------------- memory */

static void mem_pop(struct sink *s)
{
	struct rec *r = s->head;

	s->head = r->next;
	if (!s->head)
		s->tail = NULL;
	s->mem_bytes -= r->len + 1;
	s->mem_recs--;
	free(r);
}

/* Memory over its bound: move the oldest records to the spool; when the
 * spool cannot take them, drop them (counted). Goes down to 7/8 of the
 * bound so that a sink that is down spills in batches. */
static void mem_overflow(struct sink *s, bool all)
{
	uint64_t low = all ? 0 : s->mem_cap - s->mem_cap / 8;

	while (s->head && s->mem_bytes > low) {
		if (spool_put(s, s->head->data, s->head->len) == 0) {
			mem_pop(s);
			continue;
		}
		if (all) {
			s->st.evicted += s->mem_recs;
			s->st.queued -= s->mem_recs;
			while (s->head)
				mem_pop(s);
			break;
		}
		/* Spool unusable: keep memory at its bound, oldest out. */
		while (s->head && s->mem_bytes > s->mem_cap) {
			s->st.evicted++;
			s->st.queued--;
			mem_pop(s);
		}
		break;
	}
}

/* ----------------------------------------------------------------- front */

static void front_reset(struct front *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

static bool front_empty(const struct front *f)
{
	return f->done == f->len;
}

/* Records fully in [done, upto) are delivered: move done to the end of the
 * last complete one. Returns how many. */
static uint64_t front_advance(struct front *f, size_t upto)
{
	uint64_t n = 0;
	const char *p = f->buf + f->done, *e = f->buf + upto, *nl;

	while (p < e && (nl = memchr(p, '\n', e - p))) {
		n++;
		p = nl + 1;
	}
	f->done = p - f->buf;
	f->recs -= n;
	return n;
}

static void delivered(struct sink *s, uint64_t n)
{
	s->st.written += n;
	s->st.queued -= n;
	if (n) {
		s->backoff_ms = 0;
		sink_ok(s);
	}
}

/* The front is delivered: free it; a spool segment it came from goes too. */
static void front_release(struct sink *s)
{
	if (s->f.seg && s->nsegs && s->segs[0].seq == s->f.seg) {
		s->segs[0].recs = 0;    /* already counted out of sp_recs */
		seg_remove(s, 0);
	}
	front_reset(&s->f);
}

/* Next bytes to deliver: the oldest spool segment, else up to `max` bytes
 * (and `max_recs` records) of memory. */
static bool front_fill(struct sink *s, size_t max, uint64_t max_recs)
{
	struct front *f = &s->f;

	if (!front_empty(f))
		return true;
	front_release(s);
	while (s->nsegs) {
		struct seg *g = &s->segs[0];
		char p[PATH_MAX];
		uint64_t off = g->seq == s->cur_seq ? s->cur_off : 0;
		size_t end;
		uint64_t n;

		/* the previous run's cursor applies to its segment once: a new
		 * segment may reuse the number */
		s->cur_seq = s->cur_off = 0;

		if (s->nsegs == 1 && s->wfd >= 0) {
			close(s->wfd);  /* seal it: new spills start a new segment */
			s->wfd = -1;
		}
		seg_path(s, g->seq, p, sizeof(p));
		if (read_file(p, off, &f->buf, &f->len)) {
			/* Unreadable: its records are lost; say so and go on. */
			sink_fail(s, "spool", "spool %s: cannot read, %" PRIu64 " record(s) lost", p,
				  g->recs);
			s->st.evicted += g->recs;
			s->st.queued -= g->recs;
			seg_remove(s, 0);
			continue;
		}
		n = count_lines(f->buf, f->len, &end);
		/* Records skipped by the cursor were delivered last run. */
		s->st.queued -= g->recs - (n < g->recs ? n : g->recs);
		s->sp_recs -= g->recs;
		g->recs = 0;
		f->len = end;
		f->recs = n;
		f->seg = g->seq;
		f->seg_base = off;
		if (n)
			return true;
		front_release(s);
	}
	if (!s->head)
		return false;
	/* Exactly what fits the limits (at least one record, however long). */
	f->cap = 0;
	uint64_t k = 0;

	for (struct rec *r = s->head; r && k < max_recs; r = r->next, k++) {
		if (k && f->cap + r->len + 1 > max)
			break;
		f->cap += r->len + 1;
	}
	f->buf = malloc(f->cap);
	if (!f->buf) {
		f->cap = 0;
		return false;
	}
	while (s->head && f->recs < max_recs && f->len + s->head->len + 1 <= f->cap) {
		memcpy(f->buf + f->len, s->head->data, s->head->len);
		f->buf[f->len + s->head->len] = '\n';
		f->len += s->head->len + 1;
		f->recs++;
		mem_pop(s);
	}
	return true;
}

/* ------------------------------------------------------- stdout and files */

static int file_open(struct sink *s)
{
	struct stat st;
	struct statx sx;

	s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (s->fd < 0)
		return -errno;
	if (fstat(s->fd, &st) == 0)
		s->fsize = st.st_size;
	/* Age counts from the file's birth, so that restarts do not keep a
	 * daily file open forever; without birth times, from now. */
	s->fstart_s = time(NULL);
	if (s->fsize && statx(s->fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
	    (sx.stx_mask & STATX_BTIME))
		s->fstart_s = sx.stx_btime.tv_sec;
	return 0;
}

static void gz_queue(struct sink *s, const char *src)
{
	struct gzjob *j = calloc(1, sizeof(*j)), **pp;

	if (!j)
		return;
	j->src = strdup(src);
	j->fd = -1;
	for (pp = &s->gz; *pp; pp = &(*pp)->next)
		;
	*pp = j;
}

static void gz_free(struct gzjob *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->gz)
		gzclose(j->gz);
	if (j->tmp)
		unlink(j->tmp);
	free(j->tmp);
	free(j->src);
	free(j);
}

/* Compress up to `budget` bytes of the oldest rotated file. Writes
 * PATH.TS.gz.tmp, fsyncs it, renames it to PATH.TS.gz, removes PATH.TS: a
 * crash leaves either the plain file or the finished .gz, never a torn .gz
 * under the final name. Returns true when there is more to do. */
static bool gz_step(struct sink *s, size_t budget)
{
	struct gzjob *j = s->gz;
	char buf[65536];
	size_t done = 0;

	if (!j)
		return false;
	if (j->fd < 0) {
		size_t n = strlen(j->src) + 8;
		int tfd;

		j->tmp = malloc(n);
		snprintf(j->tmp, n, "%s.gz.tmp", j->src);
		j->fd = open(j->src, O_RDONLY | O_CLOEXEC);
		tfd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (j->fd < 0 || tfd < 0 || !(j->gz = gzdopen(tfd, "wb6"))) {
			sink_fail(s, "gzip", "gzip %s: %s", j->src, strerror(errno));
			if (tfd >= 0 && !j->gz)
				close(tfd);
			goto drop;
		}
	}
	while (done < budget) {
		ssize_t r = read(j->fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sink_fail(s, "gzip", "gzip %s: read: %s", j->src, strerror(errno));
			goto drop;
		}
		if (r == 0) {
			char dst[PATH_MAX];
			int fd;

			if (gzflush(j->gz, Z_FINISH) != Z_OK) {
				sink_fail(s, "gzip", "gzip %s: write failed (disk full?)", j->tmp);
				goto drop;
			}
			/* gzclose closes the fd: fsync through a second one. */
			fd = open(j->tmp, O_RDONLY | O_CLOEXEC);
			if (gzclose(j->gz) != Z_OK) {
				j->gz = NULL;
				if (fd >= 0)
					close(fd);
				sink_fail(s, "gzip", "gzip %s: write failed (disk full?)", j->tmp);
				goto drop;
			}
			j->gz = NULL;
			if (fd >= 0) {
				fsync(fd);
				close(fd);
			}
			snprintf(dst, sizeof(dst), "%s.gz", j->src);
			if (rename(j->tmp, dst)) {
				sink_fail(s, "gzip", "gzip: rename %s: %s", dst, strerror(errno));
				goto drop;
			}
			unlink(j->src);
			free(j->tmp);
			j->tmp = NULL;
			goto drop;
		}
		if (gzwrite(j->gz, buf, r) != r) {
			sink_fail(s, "gzip", "gzip %s: write failed (disk full?)", j->tmp);
			goto drop;
		}
		done += r;
	}
	return true;
drop:
	/* On failure the rotated file stays uncompressed, nothing is lost. */
	s->gz = j->next;
	gz_free(j);
	return s->gz != NULL;
}

static int file_rotate(struct sink *s)
{
	char base[PATH_MAX - 16], dst[PATH_MAX];
	struct tm tm;
	time_t t = time(NULL);
	size_t n;
	int err;

	gmtime_r(&t, &tm);
	n = (size_t)snprintf(base, sizeof(base), "%s.", s->path);
	if (n + 24 >= sizeof(base)) {
		sink_fail(s, "write", "rotate %s: %s", s->path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	strftime(base + n, sizeof(base) - n, "%Y%m%dT%H%M%SZ", &tm);
	/* Two rotations in one second: PATH.TS-1, PATH.TS-2, ... */
	snprintf(dst, sizeof(dst), "%s", base);
	for (int i = 1; i < 10000; i++) {
		char gz[PATH_MAX + 4];

		snprintf(gz, sizeof(gz), "%s.gz", dst);
		if (access(dst, F_OK) && access(gz, F_OK))
			break;
		snprintf(dst, sizeof(dst), "%s-%d", base, i);
	}
	/* The rotated file must be complete on disk before it changes name. */
	if (fsync(s->fd)) {
		err = errno;
		sink_fail(s, "write", "fsync %s: %s", s->path, strerror(err));
		return -err;
	}
	if (rename(s->path, dst)) {
		err = errno;
		if (err == ENOENT) {
			/* removed or moved away by someone else: start a new file */
			close(s->fd);
			s->fd = -1;
			err = file_open(s);
			if (err)
				sink_fail(s, "write", "open %s: %s", s->path, strerror(-err));
			return err;
		}
		sink_fail(s, "write", "rotate %s -> %s: %s", s->path, dst, strerror(err));
		return -err;
	}
	close(s->fd);
	s->fd = -1;
	gz_queue(s, dst);
	err = file_open(s);
	if (err)
		sink_fail(s, "write", "open %s: %s", s->path, strerror(-err));
	return err;
}

static void local_deliver(struct sink *s)
{
	uint64_t now = now_ms();

	if (now < s->retry_ms)
		return;
	if (s->kind == K_FILE && s->fd < 0) {
		int err = file_open(s);

		if (err) {
			sink_fail(s, "write", "open %s: %s", s->path, strerror(-err));
			sink_down(s);
			s->retry_ms = now + 1000;
			return;
		}
	}
	/* a bounded amount per call: a long backlog must not stall the loop */
	for (size_t budget = 4 * (size_t)LOCAL_WINDOW; budget && front_fill(s, LOCAL_WINDOW, UINT64_MAX);) {
		struct front *f = &s->f;
		size_t n = f->len - f->sent;
		ssize_t w;

		if (s->kind == K_FILE && f->sent == f->done && s->fsize &&
		    (s->fsize >= s->rot_bytes ||
		     (int64_t)time(NULL) - (int64_t)s->fstart_s >= (int64_t)s->rot_secs)) {
			if (file_rotate(s)) {
				sink_down(s);
				s->retry_ms = now + 1000;
				return;
			}
		}
		if (s->chunked) {
			/* A pipe: write only what fits, never block the agent. */
			struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

			if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT))
				return;
			if (n > PIPE_BUF)
				n = PIPE_BUF;
		} else if (s->kind == K_FILE && s->fsize < s->rot_bytes &&
			   n > s->rot_bytes - s->fsize) {
			/* Rotate near the size bound, at a record boundary. */
			const char *nl = memchr(f->buf + f->sent + (s->rot_bytes - s->fsize) - 1,
						'\n', n - (s->rot_bytes - s->fsize) + 1);
			if (nl)
				n = nl + 1 - (f->buf + f->sent);
		}
		w = write(s->fd, f->buf + f->sent, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			int e = w < 0 ? errno : 0;

			/* a record written half way (ENOSPC, a size limit) is cut
			 * off: it is written again whole, never as a torn line */
			if (s->kind == K_FILE && f->sent > f->done &&
			    ftruncate(s->fd, (off_t)(s->fsize - (f->sent - f->done))) == 0) {
				s->fsize -= f->sent - f->done;
				f->sent = f->done;
			}
			sink_fail(s, "write", "write %s: %s", s->kind == K_FILE ? s->path : "stdout",
				  e ? strerror(e) : "no progress");
			sink_down(s);
			s->retry_ms = now + 1000;
			return;
		}
		f->sent += w;
		s->fsize += w;
		budget = (size_t)w < budget ? budget - (size_t)w : 0;
		delivered(s, front_advance(f, f->sent));
	}
}

/* ------------------------------------------------------------------- tcp */

static void tcp_drop(struct sink *s, const char *why, int err)
{
	sink_fail(s, "connect", "tcp %s:%s: %s%s%s", s->host, s->port, why, err ? ": " : "",
		  err ? strerror(err) : "");
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->connecting = false;
	/* Bytes the peer's TCP did not acknowledge never reached it: send
	 * them again, from the start of their record, on the next connection. */
	s->f.sent = s->f.done;
	sink_down(s);
}

#define RESOLVE_EVERY_MS (300 * 1000)

static int tcp_resolve(struct sink *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int rc = getaddrinfo(s->host, s->port, &hints, &ai);

	s->resolved_ms = now_ms();
	if (rc)
		return rc;
	s->naddrs = 0;
	s->next_addr = 0;
	for (a = ai; a && s->naddrs < 4; a = a->ai_next) {
		if (a->ai_addrlen > sizeof(s->addrs[0]))
			continue;
		memcpy(&s->addrs[s->naddrs], a->ai_addr, a->ai_addrlen);
		s->addrlens[s->naddrs++] = a->ai_addrlen;
	}
	freeaddrinfo(ai);
	return s->naddrs ? 0 : EAI_NONAME;
}

static void tcp_connect(struct sink *s)
{
	struct sockaddr_storage *sa;
	int rc;

	if (!s->naddrs || (s->next_addr >= s->naddrs &&
			   now_ms() >= s->resolved_ms + RESOLVE_EVERY_MS)) {
		rc = tcp_resolve(s);
		if (rc) {
			sink_fail(s, "connect", "tcp %s:%s: %s", s->host, s->port, gai_strerror(rc));
			sink_down(s);
			return;
		}
	}
	/* every address in turn (localhost may be ::1 and 127.0.0.1) */
	sa = &s->addrs[s->next_addr % s->naddrs];
	rc = (int)s->addrlens[s->next_addr % s->naddrs];
	s->next_addr++;
	s->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		tcp_drop(s, "socket", errno);
		return;
	}
	rc = connect(s->fd, (struct sockaddr *)sa, (socklen_t)rc);
	if (rc && errno != EINPROGRESS) {
		tcp_drop(s, "connect", errno);
		return;
	}
	s->connecting = true;
	s->conn_start_ms = now_ms();
}

/* The peer's TCP acknowledged everything but `unacked` of what we sent. */
static void tcp_acked(struct sink *s)
{
	int unacked = 0;

	if (ioctl(s->fd, SIOCOUTQ, &unacked) < 0)
		unacked = 0;
	if ((size_t)unacked <= s->f.sent)
		delivered(s, front_advance(&s->f, s->f.sent - unacked));
}

static void tcp_deliver(struct sink *s)
{
	char junk[4096];
	uint64_t now = now_ms();

	if (s->fd < 0) {
		if (now < s->next_try_ms)
			return;
		tcp_connect(s);
		if (s->fd < 0)
			return;
	}
	if (s->connecting) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
		int err = 0;
		socklen_t len = sizeof(err);

		if (poll(&pfd, 1, 0) != 1) {
			if (now - s->conn_start_ms > CONNECT_TIMEOUT_MS)
				tcp_drop(s, "connect", ETIMEDOUT);
			return;
		}
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			tcp_drop(s, "connect", err);
			return;
		}
		s->connecting = false;
		if (s->next_addr)
			s->next_addr--; /* this address works: start with it next time */
	}
	/* Receivers send nothing: readable means closed (or talkative, which
	 * we ignore). Checking before each send keeps records from going into
	 * a socket the peer already closed, where they would vanish. */
	for (;;) {
		ssize_t r = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (r > 0)
			continue;
		if (r == 0) {
			tcp_drop(s, "closed by the receiver", 0);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		tcp_drop(s, "recv", errno);
		return;
	}
	tcp_acked(s);
	for (;;) {
		ssize_t w;

		if (s->f.sent == s->f.len) {
			if (!front_empty(&s->f))
				break;  /* wait for the acknowledgement */
			if (!front_fill(s, TCP_WINDOW, UINT64_MAX))
				break;
		}
		w = send(s->fd, s->f.buf + s->f.sent, s->f.len - s->f.sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			tcp_drop(s, "send", errno);
			return;
		}
		s->f.sent += w;
	}
	tcp_acked(s);
}

/* ------------------------------------------------------------------ http */

static size_t http_resp(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = sz * n, room = sizeof(s->resp) - 1 - s->resp_len;

	memcpy(s->resp + s->resp_len, p, len < room ? len : room);
	s->resp_len += len < room ? len : room;
	s->resp[s->resp_len] = 0;
	return len;
}

static int gzip_buf(const char *in, size_t len, char **out, size_t *olen)
{
	z_stream z = { 0 };
	size_t cap = deflateBound(&z, len) + 64;

	/* windowBits 15 + 16: a gzip wrapper, as Content-Encoding: gzip wants. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, len) + 64;
	*out = malloc(cap);
	if (!*out) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = len;
	z.next_out = (Bytef *)*out;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(*out);
		return -1;
	}
	*olen = z.total_out;
	deflateEnd(&z);
	return 0;
}

static bool http_due(const struct sinks *ss, const struct sink *s)
{
	if (ss->closing || !front_empty(&s->f) || s->nsegs)
		return true;
	if (!s->head)
		return false;
	return s->mem_recs >= s->batch_recs || now_ms() - s->head->t_ms >= s->batch_ms;
}

static void http_start(struct sink *s)
{
	struct front *f = &s->f;
	const char *p = f->buf + f->done, *e = f->buf + f->len, *nl;
	uint64_t n = 0;

	/* One batch: at most batch_records lines from the front. */
	while (p < e && n < s->batch_recs && (nl = memchr(p, '\n', e - p))) {
		n++;
		p = nl + 1;
	}
	s->batch_end = p - f->buf;
	s->batch_n = n;
	free(s->body);
	s->body = NULL;
	if (s->gzip && gzip_buf(f->buf + f->done, s->batch_end - f->done, &s->body, &s->body_len))
		s->body = NULL;
	curl_easy_setopt(s->easy, CURLOPT_URL, s->http_url);
	curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	if (s->body) {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body_len);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
	} else {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(s->batch_end - f->done));
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, f->buf + f->done);
	}
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
	/* a resolver stuck on a dead DNS server must not hold the loop when
	 * the handle is removed after a timeout */
	curl_easy_setopt(s->easy, CURLOPT_QUICK_EXIT, 1L);
#endif
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, http_resp);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "infertrace");
	if (s->cacert[0])
		curl_easy_setopt(s->easy, CURLOPT_CAINFO, s->cacert);
	s->resp_len = 0;
	s->resp[0] = 0;
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
		/* try again later rather than wait for an answer that never comes */
		sink_fail(s, "http", "http %s: cannot start the request", s->url);
		sink_down(s);
		return;
	}
	s->in_flight = true;
}

static void http_done(struct sink *s, CURLcode rc)
{
	long code = 0;

	curl_multi_remove_handle(s->multi, s->easy);
	s->in_flight = false;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	for (char *c = s->resp; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		s->rejects = 0;
		delivered(s, front_advance(&s->f, s->batch_end));
		return;
	}
	if (rc != CURLE_OK) {
		sink_fail(s, "connect", "POST %s: %s", s->http_url, curl_easy_strerror(rc));
	} else if (code >= 400 && code < 500 && code != 429 && code != 408) {
		/* The receiver refuses this batch: retrying forever would stop the
		 * sink for good, so after max_rejects tries it is dropped. */
		sink_fail(s, "http4xx", "POST: HTTP %ld: %.120s", code, s->resp);
		if (++s->rejects >= s->max_rejects) {
			uint64_t n = front_advance(&s->f, s->batch_end);

			s->st.rejected += n;
			s->st.queued -= n;
			s->rejects = 0;
			fprintf(stderr, "infertrace: sink %s: %" PRIu64 " record(s) rejected after "
				"%u tries: HTTP %ld: %.120s\n", s->url, n, s->max_rejects, code, s->resp);
			s->st.errors++;
			return;
		}
	} else {
		sink_fail(s, "http5xx", "POST: HTTP %ld: %.120s", code, s->resp);
	}
	sink_down(s);
}

static void http_deliver(struct sinks *ss, struct sink *s)
{
	int running;
	CURLMsg *m;
	int left;

	if (s->in_flight) {
		curl_multi_perform(s->multi, &running);
		while ((m = curl_multi_info_read(s->multi, &left)))
			if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy)
				http_done(s, m->data.result);
	}
	if (s->in_flight || now_ms() < s->next_try_ms || !http_due(ss, s))
		return;
	if (!front_fill(s, 64u << 20, s->batch_recs))
		return;
	http_start(s);
	curl_multi_perform(s->multi, &running);
}

/* ------------------------------------------------------------------ open */

static uint64_t fnv1a(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return h;
}

static bool parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*v))
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && !*end;
}

/* Our options: after '#' (never sent anywhere), k=v separated by '&'. For
 * HTTP, gzip=1 in the query string is ours too and is removed from it. */
static int parse_opts(struct sink *s, char *opts, char *err, size_t errlen)
{
	for (char *save = NULL, *kv = strtok_r(opts, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *v = strchr(kv, '=');
		uint64_t x;

		if (v && s->kind == K_HTTP && v - kv == 6 && !strncmp(kv, "cacert", 6)) {
			if (!v[1] || v[1] != '/' || strlen(v + 1) >= sizeof(s->cacert)) {
				snprintf(err, errlen, "sink %s: cacert needs an absolute path", s->url);
				return -EINVAL;
			}
			snprintf(s->cacert, sizeof(s->cacert), "%s", v + 1);
			continue;
		}
		if (!v || !parse_u64(v + 1, &x)) {
			snprintf(err, errlen, "sink %s: option '%s': expected NAME=NUMBER", s->url, kv);
			return -EINVAL;
		}
		*v = 0;
		if (s->kind == K_HTTP && !strcmp(kv, "gzip"))
			s->gzip = x != 0;
		else if (s->kind == K_HTTP && !strcmp(kv, "batch_records") && x)
			s->batch_recs = x > UINT32_MAX ? UINT32_MAX : x;
		else if (s->kind == K_HTTP && !strcmp(kv, "batch_ms"))
			s->batch_ms = x > UINT32_MAX ? UINT32_MAX : x;
		else if (s->kind == K_HTTP && !strcmp(kv, "timeout_ms") && x)
			s->timeout_ms = x > UINT32_MAX ? UINT32_MAX : x;
		else if (s->kind == K_HTTP && !strcmp(kv, "max_rejects") && x)
			s->max_rejects = x > UINT32_MAX ? UINT32_MAX : x;
		else if (s->kind == K_FILE && !strcmp(kv, "rotate_bytes") && x)
			s->rot_bytes = x;
		else if (s->kind == K_FILE && !strcmp(kv, "rotate_seconds") && x)
			s->rot_secs = x > (uint64_t)INT32_MAX ? (uint64_t)INT32_MAX : x;
		else {
			snprintf(err, errlen, "sink %s: unknown option '%s' (or 0) for this kind of "
				 "sink", s->url, kv);
			return -EINVAL;
		}
	}
	return 0;
}

/* Removes gzip=... from the query string of an http URL (in place). */
static void strip_gzip_param(struct sink *s, char *url)
{
	char *q = strchr(url, '?');

	/* q: the '?' or '&' in front of the parameter at q + 1. */
	while (q && q[1]) {
		char *p = q + 1, *amp = strchr(p, '&');

		if (strncmp(p, "gzip=", 5)) {
			q = amp;
			continue;
		}
		s->gzip = p[5] != '0';
		if (!amp) {
			*q = 0;
			break;
		}
		memmove(p, amp + 1, strlen(amp + 1) + 1);
	}
}

static int sink_parse(struct sink *s, const char *url, const struct sink_opts *o, char *err,
		      size_t errlen)
{
	char *u, *hash, *rest;
	int rc = 0;

	if (!*url) {
		snprintf(err, errlen, "empty sink URL");
		return -EINVAL;
	}
	u = strdup(url);
	if (!u)
		return -ENOMEM;
	hash = strchr(u, '#');
	if (hash)
		*hash++ = 0;
	if (!strcmp(u, "-") || !strcmp(u, "stdout")) {
		s->kind = K_STDOUT;
	} else if (!strncmp(u, "file://", 7)) {
		s->kind = K_FILE;
		if (u[7] != '/' || !u[8]) {
			snprintf(err, errlen, "sink %s: a file URL needs an absolute path, "
				 "e.g. file:///var/log/infertrace.jsonl", url);
			rc = -EINVAL;
		}
		s->path = strdup(u + 7);
	} else if (!strncmp(u, "tcp://", 6)) {
		char *colon;

		s->kind = K_TCP;
		rest = u + 6;
		if (*rest == '[') {  /* [v6]:port */
			char *rb = strchr(rest, ']');

			colon = rb && rb[1] == ':' ? rb + 1 : NULL;
			if (rb)
				*rb = 0;
			rest++;
		} else {
			colon = strrchr(rest, ':');
		}
		if (colon)
			*colon = 0;
		uint64_t port = 0;

		if (!colon || !*rest || !parse_u64(colon + 1, &port) || !port || port > 65535 ||
		    strchr(colon + 1, '/')) {
			snprintf(err, errlen, "sink %s: expected tcp://HOST:PORT (port 1-65535)", url);
			rc = -EINVAL;
		} else {
			s->host = strdup(rest);
			s->port = strdup(colon + 1);
		}
	} else if (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) {
		CURLU *h = curl_url();
		char *host = NULL;

		s->kind = K_HTTP;
		strip_gzip_param(s, u);
		if (!h || curl_url_set(h, CURLUPART_URL, u, 0) ||
		    curl_url_get(h, CURLUPART_HOST, &host, 0) || !host || !*host) {
			snprintf(err, errlen, "sink %s: not a valid http(s) URL", url);
			rc = -EINVAL;
		}
		curl_free(host);
		curl_url_cleanup(h);
		s->http_url = strdup(u);
	} else if (strstr(u, "://")) {
		snprintf(err, errlen, "sink %s: unknown scheme (use -, a path, file://, tcp://, "
			 "http://, https://)", url);
		rc = -EINVAL;
	} else {
		s->kind = K_FILE;
		s->path = strdup(u);
	}
	s->rot_bytes = o && o->rotate_bytes ? o->rotate_bytes : 100ull << 20;
	s->rot_secs = o && o->rotate_seconds ? o->rotate_seconds : 86400;
	s->batch_recs = o && o->batch_records ? o->batch_records : 1000;
	s->batch_ms = o && o->batch_ms ? o->batch_ms : 1000;
	s->timeout_ms = HTTP_TIMEOUT_MS;
	s->max_rejects = HTTP_MAX_REJECTS;
	if (!rc && hash && *hash)
		rc = parse_opts(s, hash, err, errlen);
	free(u);
	return rc;
}

static void sink_free(struct sink *s)
{
	while (s->head)
		mem_pop(s);
	front_reset(&s->f);
	while (s->gz) {
		struct gzjob *j = s->gz;

		s->gz = j->next;
		gz_free(j);
	}
	if (s->fd >= 0 && s->kind != K_STDOUT)
		close(s->fd);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->easy) {
		if (s->in_flight)
			curl_multi_remove_handle(s->multi, s->easy);
		curl_easy_cleanup(s->easy);
	}
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->hdrs);
	free(s->body);
	free(s->segs);
	free(s->sdir);
	free(s->path);
	free(s->host);
	free(s->port);
	free(s->http_url);
	free(s->url);
}

/* Rotated files a previous run left uncompressed (it stopped mid-gzip):
 * PATH.YYYYMMDDTHHMMSSZ or PATH.YYYYMMDDTHHMMSSZ-N, no .gz. */
static void gz_resume(struct sink *s)
{
	char dir[PATH_MAX];
	const char *base = strrchr(s->path, '/');
	size_t blen;
	DIR *d;
	struct dirent *de;

	if (base) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - s->path), s->path);
		if (!dir[0])
			snprintf(dir, sizeof(dir), "/");
		base++;
	} else {
		snprintf(dir, sizeof(dir), ".");
		base = s->path;
	}
	blen = strlen(base);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name, *ts = n + blen + 1;
		char p[PATH_MAX + 256];

		if (strncmp(n, base, blen) || n[blen] != '.' || strlen(ts) < 16 ||
		    strspn(ts, "0123456789") != 8 || ts[8] != 'T' ||
		    strspn(ts + 9, "0123456789") != 6 || ts[15] != 'Z' ||
		    (ts[16] && (ts[16] != '-' || strspn(ts + 17, "0123456789") != strlen(ts + 17))))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, n);
		gz_queue(s, p);
	}
	closedir(d);
}

struct sinks *sinks_open(const char *const *urls, size_t n, const struct sink_opts *o, char *err,
			 size_t errlen)
{
	struct sinks *ss = calloc(1, sizeof(*ss));
	const char *sdir = o && o->spool_dir ? o->spool_dir : DEF_SPOOL_DIR;

	if (!ss || !(ss->v = calloc(n ? n : 1, sizeof(*ss->v)))) {
		snprintf(err, errlen, "out of memory");
		free(ss);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct sink *s = &ss->v[i];
		char d[PATH_MAX];

		s->fd = s->wfd = -1;
		s->url = strdup(urls[i]);
		ss->n = i + 1;
		if (!s->url || sink_parse(s, urls[i], o, err, errlen))
			goto fail;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ss->v[j].url, s->url)) {
				snprintf(err, errlen, "sink %s given twice", s->url);
				goto fail;
			}
		s->mem_cap = o && o->mem_queue_bytes ? o->mem_queue_bytes : 64ull << 20;
		s->sp_cap = o && o->spool_bytes ? o->spool_bytes : 1ull << 30;
		/* At least four segments, so that evicting one frees a quarter. */
		s->seg_max = s->sp_cap / 4 < SEG_MAX ? s->sp_cap / 4 : SEG_MAX;
		if (s->seg_max < 1)
			s->seg_max = 1;
		if (s->kind == K_STDOUT) {
			struct stat st;

			s->fd = STDOUT_FILENO;
			s->chunked = fstat(s->fd, &st) || !S_ISREG(st.st_mode);
		} else if (s->kind == K_FILE) {
			int e = file_open(s);

			if (e) {
				snprintf(err, errlen, "sink %s: cannot open %s: %s", s->url, s->path,
					 strerror(-e));
				goto fail;
			}
			gz_resume(s);
		} else if (s->kind == K_HTTP) {
			if (!ss->curl_inited) {
				curl_global_init(CURL_GLOBAL_DEFAULT);
				ss->curl_inited = true;
			}
			s->multi = curl_multi_init();
			s->easy = curl_easy_init();
			s->hdrs = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
			if (s->gzip)
				s->hdrs = curl_slist_append(s->hdrs, "Content-Encoding: gzip");
			/* No "Expect: 100-continue" round trip before each batch. */
			s->hdrs = curl_slist_append(s->hdrs, "Expect:");
			if (!s->multi || !s->easy || !s->hdrs) {
				snprintf(err, errlen, "sink %s: libcurl init failed", s->url);
				goto fail;
			}
		}
		snprintf(d, sizeof(d), "%s/%016" PRIx64, sdir, fnv1a(s->url));
		s->sdir = strdup(d);
		spool_init(s);
		s->st.queued = s->sp_recs;
		s->st.up = true;
	}
	return ss;
fail:
	for (size_t i = 0; i < ss->n; i++)
		sink_free(&ss->v[i]);
	if (ss->curl_inited)
		curl_global_cleanup();
	free(ss->v);
	free(ss);
	return NULL;
}

/* ----------------------------------------------------------- write, poll */

static void sink_poll(struct sinks *ss, struct sink *s)
{
	switch (s->kind) {
	case K_STDOUT:
	case K_FILE:
		local_deliver(s);
		break;
	case K_TCP:
		tcp_deliver(s);
		break;
	case K_HTTP:
		http_deliver(ss, s);
		break;
	}
	if (s->kind == K_FILE && s->gz)
		gz_step(s, GZIP_SLICE);
}

int sinks_write(struct sinks *ss, const char *line, size_t len)
{
	uint64_t t = now_ms();

	/* A newline inside would split the record in two for every receiver. */
	if (memchr(line, '\n', len))
		return -EINVAL;
	for (size_t i = 0; i < ss->n; i++) {
		struct sink *s = &ss->v[i];
		struct rec *r = malloc(sizeof(*r) + len);

		if (!r) {
			s->st.evicted++;
			continue;
		}
		r->next = NULL;
		r->t_ms = t;
		r->len = len;
		memcpy(r->data, line, len);
		if (s->tail)
			s->tail->next = r;
		else
			s->head = r;
		s->tail = r;
		s->mem_bytes += len + 1;
		s->mem_recs++;
		s->st.queued++;
		if (s->mem_bytes > s->mem_cap)
			mem_overflow(s, false);
		/* Local sinks write at once: a file is not worth a 10 ms delay. */
		if (s->kind == K_STDOUT || s->kind == K_FILE)
			local_deliver(s);
	}
	return 0;
}

void sinks_poll(struct sinks *ss)
{
	if (!ss)
		return;
	for (size_t i = 0; i < ss->n; i++)
		sink_poll(ss, &ss->v[i]);
}

static bool sink_idle(const struct sink *s)
{
	return front_empty(&s->f) && !s->nsegs && !s->head && !s->in_flight;
}

void sinks_close(struct sinks *ss, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	if (!ss)
		return;
	ss->closing = true;
	for (;;) {
		bool idle = true;

		sinks_poll(ss);
		for (size_t i = 0; i < ss->n; i++)
			idle = idle && sink_idle(&ss->v[i]);
		if (idle || now_ms() >= deadline)
			break;
		usleep(5000);
	}
	for (size_t i = 0; i < ss->n; i++) {
		struct sink *s = &ss->v[i];
		struct front *f = &s->f;

		if (s->in_flight) {  /* cut off: the batch may arrive twice */
			curl_multi_remove_handle(s->multi, s->easy);
			s->in_flight = false;
		}
		/* What is left goes to the spool, in order, for the next start. */
		if (front_empty(f)) {
			front_release(s);
		} else if (f->seg) {
			char p[PATH_MAX];
			FILE *c;

			snprintf(p, sizeof(p), "%s/cursor", s->sdir);
			c = fopen(p, "we");
			if (c) {
				fprintf(c, "%" PRIx64 " %" PRIu64 "\n", f->seg,
					(uint64_t)(f->seg_base + f->done));
				fclose(c);
			}
			/* It still counts as spooled records for the next run. */
			s->segs[0].recs = f->recs;
			s->sp_recs += f->recs;
			f->seg = 0;     /* keep the file: not delivered */
		} else {
			if (spool_prepend(s, f->buf + f->done, f->len - f->done, f->recs)) {
				s->st.evicted += f->recs;
				fprintf(stderr, "infertrace: sink %s: %" PRIu64 " record(s) lost at "
					"exit: spool unusable\n", s->url, f->recs);
			}
		}
		front_reset(f);
		if (s->head) {
			uint64_t before = s->st.evicted;

			s->sdir_retry_ms = 0; /* the last chance to keep them: try the spool */
			mem_overflow(s, true);
			if (s->st.evicted > before)
				fprintf(stderr, "infertrace: sink %s: %" PRIu64 " record(s) lost at "
					"exit: spool unusable\n", s->url, s->st.evicted - before);
		}
		if (s->wfd >= 0)
			fsync(s->wfd);
		if (s->kind == K_FILE) {
			while (gz_step(s, SIZE_MAX))
				;
			if (s->fd >= 0)
				fsync(s->fd);
		}
		sink_free(s);
	}
	if (ss->curl_inited)
		curl_global_cleanup();
	free(ss->v);
	free(ss);
}

size_t sinks_count(const struct sinks *ss)
{
	return ss ? ss->n : 0;
}

void sinks_stats(const struct sinks *ss, size_t i, const char **url, struct sink_stats *st)
{
	if (!ss || i >= ss->n) {
		if (url)
			*url = NULL;
		if (st)
			memset(st, 0, sizeof(*st));
		return;
	}
	if (url)
		*url = ss->v[i].url;
	if (st)
		*st = ss->v[i].st;
}

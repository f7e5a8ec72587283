// SPDX-License-Identifier: MIT
/*
 * infertrace top: a live, htop-like view of the agent's snapshot (read from
 * its query socket every -d seconds), and a plain-text --once mode for
 * scripts.
 *
 * The shape follows htop's behaviour (not its code): a header of meters, a
 * table with one row per process (or per workload, model or device), a
 * three-way comparator with a pid tie-break so equal rows never swap between
 * refreshes, the order held still for a moment after a keypress so the row
 * under the cursor does not jump away, and columns dropped by priority when
 * the terminal is narrow. Only ncurses is needed; the text is kept to
 * printable ASCII, so no locale or wide-character handling is involved.
 */
#include "top/top.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curses.h>

#include "out/query.h"
#include "util/htab.h"

/* A snapshot of 16384 processes is a few MB; this only stops a runaway. */
#define TOP_MAX_ANSWER (256u << 20)
/* How long one snapshot may take to come (connect, ask, read). */
#define TOP_FETCH_MS 3000
/* htop holds the order still for about a second after a keypress. */
#define TOP_HOLD_MS 1000
#define TOP_FILTER_MAX 64
/* Distinct values listed in a grouped row's text cells ("curl,python3"). */
#define TOP_JOIN_MAX 160
/* Device lines in the interactive header before "+N more". */
#define TOP_MAX_DEVICE_LINES 8

/* ------------------------------------------------------------------------ */
/* Columns */

enum col {
	COL_PID, COL_COMM, COL_WORKLOAD, COL_REQ, COL_TIN, COL_TOUT, COL_BYTES,
	COL_GPU, COL_GMEM, COL_COSTH, COL_COST, COL_DEVICE, COL_MODELS, NCOLS
};

enum fmt { F_TEXT, F_INT, F_RATE, F_BYTES, F_PCT, F_USD };

struct coldef {
	const char *name;   /* for -s, and the help */
	const char *title;
	const char *json;   /* the process key in the snapshot */
	enum fmt fmt;
	int width;          /* numbers: their width; text: the narrowest it is cut to
			       before columns are dropped, when its values are wider */
	int cap;            /* text: widest it grows to fit its values; 0: no cap */
	int keep;           /* the narrower the terminal, the more low ones go */
	const char *help;
};

/* Which columns stay at 80 columns is the keep order: what an SRE looks at
 * first ($/h, who, GPU %) outlives the detail (bytes, input tokens). */
static const struct coldef cols[NCOLS] = {
	[COL_PID] = { "pid", "PID", "pid", F_INT, 7, 0, 100,
		      "process id (grouped: PROCS, the processes in the row)" },
	[COL_COMM] = { "comm", "COMM", "comm", F_TEXT, 12, 15, 60, "process name" },
	[COL_WORKLOAD] = { "workload", "WORKLOAD", "workload", F_TEXT, 12, 40, 70,
			   "container, pod, systemd unit, user or label rule" },
	[COL_REQ] = { "req", "REQ/S", "requests_per_s", F_RATE, 6, 0, 40,
		      "inference requests per second" },
	[COL_TIN] = { "tokin", "TOKIN/S", "input_tokens_per_s", F_RATE, 7, 0, 20,
		      "input tokens per second" },
	[COL_TOUT] = { "tokout", "TOKOUT/S", "output_tokens_per_s", F_RATE, 8, 0, 30,
		       "output tokens per second" },
	[COL_BYTES] = { "bytes", "BYTES/S", "bytes_per_s", F_BYTES, 7, 0, 10,
			"plaintext bytes per second (TLS and plain HTTP, both ways)" },
	[COL_GPU] = { "gpu", "GPU%", "gpu_busy_pct", F_PCT, 5, 0, 45,
		      "accelerator busy time, % of the interval" },
	[COL_GMEM] = { "gpumem", "GPUMEM", "gpu_mem_bytes", F_BYTES, 6, 0, 25,
		       "accelerator memory held" },
	[COL_COSTH] = { "cost_h", "$/H", "cost_per_hour", F_USD, 7, 0, 80,
			"USD per hour at the last interval's rate" },
	[COL_COST] = { "cost", "$TOTAL", "cost_total", F_USD, 8, 0, 38,
		       "USD since the agent started" },
	[COL_DEVICE] = { "device", "DEVICE", "device", F_TEXT, 8, 24, 5, "accelerator" },
	[COL_MODELS] = { "model", "MODELS", "models", F_TEXT, 12, 0, 50,
			 "models named by its requests" },
};

enum group { G_PROCESS, G_WORKLOAD, G_MODEL, G_DEVICE, NGROUPS };

static const char *const group_names[NGROUPS] = { "process", "workload", "model", "device" };
/* The column a grouping gathers rows by. */
static const enum col group_col[NGROUPS] = { COL_PID, COL_WORKLOAD, COL_MODELS, COL_DEVICE };

static bool col_is_text(enum col c)
{
	return cols[c].fmt == F_TEXT;
}

/* ------------------------------------------------------------------------ */
/* Small helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Names come from processes and cgroups: anything but printable ASCII
 * becomes '?', so every byte is one screen cell and no escape reaches the
 * terminal. */
static char *clean_dup(const char *s)
{
	char *d = strdup(s ? s : "-");

	if (!d)
		return NULL;
	for (char *p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return d;
}

/*
 * A device as the table shows it: NVML's UUID (GPU-1a2b3c4d-5e6f-...) cut to
 * its first 8 hex digits, enough to tell a host's GPUs apart in 12 columns;
 * "cuda:N" as it is. The header line of each device shows the same label
 * next to its name, to read one against the other.
 */
static char *device_label(const char *id)
{
	char buf[16];

	if (id && (!strncmp(id, "GPU-", 4) || !strncmp(id, "MIG-", 4)) && strlen(id) > 12) {
		snprintf(buf, sizeof(buf), "%.12s", id);
		return clean_dup(buf);
	}
	return clean_dup(id);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static double num_of(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(it) && it->valuestring[0] ? it->valuestring : NULL;
}

static int sig_decimals(double a, int sig, int maxdec)
{
	int d;

	if (!(a > 0))
		return 0;
	d = sig - 1 - (int)floor(log10(a));
	return d < 0 ? 0 : d > maxdec ? maxdec : d;
}

/* v in at most w characters with about sig significant digits: fewer
 * decimals first, then k/M/G/T; a value too small for the decimals is
 * written 5e-07 rather than a 0 that would say "nothing". */
static void fmt_num(char *b, size_t n, double v, int w, int sig, int maxdec)
{
	static const char sfx[] = "kMGTP";
	double a = fabs(v);

	if (isnan(v)) {
		snprintf(b, n, "-");
		return;
	}
	if (v == 0) {
		snprintf(b, n, "0");
		return;
	}
	for (int d = sig_decimals(a, sig, maxdec); d >= 0; d--) {
		snprintf(b, n, "%.*f", d, v);
		if ((int)strlen(b) <= w) {
			if (strtod(b, NULL) == 0)
				break;
			return;
		}
	}
	if (a < 1) {
		snprintf(b, n, "%.0e", v);
		return;
	}
	for (const char *s = sfx; *s; s++) {
		v /= 1000;
		a /= 1000;
		for (int d = sig_decimals(a, sig, 2); d >= 0; d--) {
			snprintf(b, n, "%.*f%c", d, v, *s);
			if ((int)strlen(b) <= w)
				return;
		}
	}
	snprintf(b, n, "%.0e", v);
}

/* Bytes in powers of 1024 (what memory sizes mean): 512, 12K, 1.0G. */
static void fmt_bytes(char *b, size_t n, double v)
{
	static const char sfx[] = "KMGTPE";
	int i = -1;

	if (isnan(v)) {
		snprintf(b, n, "-");
		return;
	}
	while (fabs(v) >= 1000 && sfx[i + 1]) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(b, n, "%.0f", v);
	else
		snprintf(b, n, fabs(v) < 9.95 ? "%.1f%c" : "%.0f%c", v, sfx[i]);
}

static void fmt_cell(char *b, size_t n, enum col c, double v, int w)
{
	switch (cols[c].fmt) {
	case F_INT:
		if (isnan(v))
			snprintf(b, n, "-");
		else
			snprintf(b, n, "%.0f", v);
		break;
	case F_BYTES:
		fmt_bytes(b, n, v);
		break;
	case F_PCT:
		fmt_num(b, n, v, w, 3, 1);
		break;
	case F_USD:
		fmt_num(b, n, v, w, 3, 6);
		break;
	default:
		fmt_num(b, n, v, w, 3, 3);
		break;
	}
}

/* Seconds since the epoch of an RFC 3339 UTC time (what the agent writes). */
static double parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *rest;
	double frac = 0;

	if (!s)
		return NAN;
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return NAN;
	if (*rest == '.')
		frac = strtod(rest, NULL);
	return (double)timegm(&tm) + frac;
}

/* ------------------------------------------------------------------------ */
/* Reading the snapshot */

enum fetch_err { FETCH_OK, FETCH_NO_AGENT, FETCH_DENIED, FETCH_FAILED };

/*
 * Ask the agent for one snapshot. On success *text is the answer (one JSON
 * line) and *snap its parse. Time-bounded: a hung agent costs TOP_FETCH_MS,
 * never a frozen screen.
 */
static enum fetch_err fetch_snapshot(const char *path, char **text, cJSON **snap, char *err,
				     size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = TOP_FETCH_MS / 1000, .tv_usec = TOP_FETCH_MS % 1000 * 1000 };
	static const char req[] = "snapshot\n";
	uint64_t deadline = now_ms() + TOP_FETCH_MS;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	enum fetch_err e = FETCH_FAILED;
	const cJSON *msg, *type;
	int fd;

	*text = NULL;
	*snap = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return FETCH_FAILED;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return FETCH_FAILED;
	}
	/* UNIX connect() waits only for a full backlog; SO_SNDTIMEO bounds it */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int en = errno;

		if (en == ENOENT || en == ENOTDIR) {
			snprintf(err, errlen, "no infertrace agent answers on %s (no such socket file)",
				 path);
			e = FETCH_NO_AGENT;
		} else if (en == ECONNREFUSED) {
			snprintf(err, errlen, "no infertrace agent answers on %s (connection refused: the "
				 "file is left from an agent that stopped)", path);
			e = FETCH_NO_AGENT;
		} else if (en == EACCES || en == EPERM) {
			snprintf(err, errlen, "permission denied on %s", path);
			e = FETCH_DENIED;
		} else {
			snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(en));
		}
		goto out;
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		snprintf(err, errlen, "cannot send the request to %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (cap - len < 65536) {
			char *nb;

			cap = cap ? cap * 2 : 262144;
			if (cap > TOP_MAX_ANSWER + 65536 || !(nb = realloc(buf, cap))) {
				snprintf(err, errlen, "the agent's answer is too large");
				goto out;
			}
			buf = nb;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR && now_ms() < deadline)
				continue;
			snprintf(err, errlen, "the agent on %s did not answer within %d s (%s)", path,
				 TOP_FETCH_MS / 1000, strerror(errno));
			goto out;
		}
		len += (size_t)r;
		if (now_ms() >= deadline) {
			snprintf(err, errlen, "the agent on %s did not answer within %d s", path,
				 TOP_FETCH_MS / 1000);
			goto out;
		}
	}
	if (!buf || !len) {
		snprintf(err, errlen, "the agent on %s closed without answering", path);
		goto out;
	}
	buf[len] = '\0';
	*snap = cJSON_ParseWithLength(buf, len);
	if (!*snap || !cJSON_IsObject(*snap)) {
		snprintf(err, errlen, "the agent's answer is not a JSON object");
		goto out;
	}
	msg = cJSON_GetObjectItemCaseSensitive(*snap, "error");
	if (cJSON_IsString(msg)) {
		snprintf(err, errlen, "the agent answered: %s", msg->valuestring);
		goto out;
	}
	type = cJSON_GetObjectItemCaseSensitive(*snap, "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "snapshot") != 0 ||
	    num_of(*snap, "schema_version") != 1) {
		snprintf(err, errlen, "the agent's answer is not a schema_version 1 snapshot: upgrade "
			 "infertrace so that top and the agent match");
		goto out;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	*text = buf;
	buf = NULL;
	e = FETCH_OK;
out:
	if (e != FETCH_OK) {
		cJSON_Delete(*snap);
		*snap = NULL;
	}
	free(buf);
	close(fd);
	return e;
}

/* ------------------------------------------------------------------------ */
/* Rows: the processes of a snapshot, filtered, grouped and sorted */

struct row {
	uint64_t key;           /* pid, or the hash of the group's value */
	int pid;                /* process: its pid; group: its lowest (tie-break) */
	int n, nexited;         /* members */
	char *text[NCOLS];      /* text columns */
	double num[NCOLS];      /* number columns; NAN: not reported */
};

struct view {
	cJSON *snap;
	struct row *rows;
	size_t nrows;
	size_t nprocs, nexited; /* in the snapshot, before the filter */
	enum col sort;
	bool desc;
	enum group group;
	char filter[TOP_FILTER_MAX + 1];
	size_t sel, top;        /* selected row, first row on screen */
	uint64_t sel_key;
	bool sel_valid;
};

static void rows_free(struct view *v)
{
	for (size_t i = 0; i < v->nrows; i++)
		for (int c = 0; c < NCOLS; c++)
			free(v->rows[i].text[c]);
	free(v->rows);
	v->rows = NULL;
	v->nrows = 0;
}

/* models: ["a", "b"] -> "a,b"; a process's set of models is its model key
 * when grouping (summing it into each of its models would count it twice). */
static char *join_models(const cJSON *arr)
{
	char buf[TOP_JOIN_MAX + 1] = "";
	size_t len = 0;
	const cJSON *m;

	cJSON_ArrayForEach(m, arr) {
		if (!cJSON_IsString(m) || !m->valuestring[0])
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? "," : "",
					m->valuestring);
		if (len >= sizeof(buf) - 1)
			break;
	}
	return clean_dup(len ? buf : "-");
}

static int row_from_process(struct row *r, const cJSON *p)
{
	memset(r, 0, sizeof(*r));
	for (int c = 0; c < NCOLS; c++)
		r->num[c] = NAN;
	r->pid = (int)num_of(p, "pid");
	r->key = (uint64_t)(uint32_t)r->pid;
	r->n = 1;
	r->nexited = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "exited"));
	for (int c = 0; c < NCOLS; c++) {
		if (c == COL_MODELS)
			r->text[c] = join_models(cJSON_GetObjectItemCaseSensitive(p, "models"));
		else if (c == COL_DEVICE)
			r->text[c] = device_label(str_of(p, "device"));
		else if (col_is_text(c))
			r->text[c] = clean_dup(str_of(p, cols[c].json));
		else
			r->num[c] = num_of(p, cols[c].json);
		if (col_is_text(c) && !r->text[c])
			return -1;
	}
	return 0;
}

static bool row_matches(const struct row *r, const char *filter)
{
	char pid[16];

	if (!filter[0])
		return true;
	snprintf(pid, sizeof(pid), "%d", r->pid);
	if (strstr(pid, filter))
		return true;
	for (int c = 0; c < NCOLS; c++)
		if (r->text[c] && strcasestr(r->text[c], filter))
			return true;
	return false;
}

/* Add val to a grouped row's list of distinct values ("curl,python3"). */
static void join_distinct(char **list, const char *val)
{
	size_t ln = strlen(*list), lv = strlen(val);
	char *hit = *list, *nl;

	if (!strcmp(*list, "-")) {
		if ((nl = strdup(val))) {
			free(*list);
			*list = nl;
		}
		return;
	}
	if (!strcmp(val, "-"))
		return;
	while ((hit = strstr(hit, val))) {
		if ((hit == *list || hit[-1] == ',') && (hit[lv] == ',' || !hit[lv]))
			return;
		hit++;
	}
	if (ln >= TOP_JOIN_MAX) {
		if ((*list)[ln - 1] != '+' && (nl = realloc(*list, ln + 3))) {
			strcpy(nl + ln, ",+");
			*list = nl;
		}
		return;
	}
	if (!(nl = realloc(*list, ln + lv + 2)))
		return;
	nl[ln] = ',';
	memcpy(nl + ln + 1, val, lv + 1);
	*list = nl;
}

static void row_add(struct row *g, const struct row *r)
{
	g->n++;
	g->nexited += r->nexited;
	if (r->pid < g->pid)
		g->pid = r->pid;
	for (int c = 0; c < NCOLS; c++) {
		if (col_is_text(c)) {
			join_distinct(&g->text[c], r->text[c]);
		} else if (!isnan(r->num[c])) {
			g->num[c] = isnan(g->num[c]) ? r->num[c] : g->num[c] + r->num[c];
		}
	}
}

struct sort_ctx {
	const struct view *v;
	struct htab *held;      /* key -> old position + 1, while the order is held */
};

/* NAN ("not reported") sorts below every number. */
static int cmp_num(double a, double b)
{
	bool na = isnan(a), nb = isnan(b);

	if (na || nb)
		return na == nb ? 0 : na ? -1 : 1;
	return (a > b) - (a < b);
}

/* Three-way, total: the chosen column (its direction), then the pid
 * ascending, so rows with equal values keep their places refresh after
 * refresh. */
static int row_cmp(const void *pa, const void *pb, void *arg)
{
	const struct row *a = pa, *b = pb;
	const struct sort_ctx *ctx = arg;
	enum col c = ctx->v->sort;
	int r;

	if (ctx->held) {
		uintptr_t ia = (uintptr_t)htab_get(ctx->held, a->key);
		uintptr_t ib = (uintptr_t)htab_get(ctx->held, b->key);

		/* rows on screen keep their places; newcomers go below them */
		if (ia && ib)
			return (ia > ib) - (ia < ib);
		if (ia || ib)
			return ia ? -1 : 1;
	}
	if (c == COL_PID && ctx->v->group == G_PROCESS)
		r = (a->pid > b->pid) - (a->pid < b->pid);
	else if (col_is_text(c))
		r = strcmp(a->text[c], b->text[c]);
	else
		r = cmp_num(a->num[c], b->num[c]);
	if (ctx->v->desc)
		r = -r;
	if (r)
		return r;
	return (a->pid > b->pid) - (a->pid < b->pid);
}

/*
 * Rebuild the rows from the snapshot. hold: keep the rows that were on
 * screen in their order (a key was pressed a moment ago), new ones after.
 */
static int view_rebuild(struct view *v, bool hold)
{
	const cJSON *procs = cJSON_GetObjectItemCaseSensitive(v->snap, "processes");
	struct sort_ctx ctx = { .v = v };
	struct htab *groups = NULL;
	struct row *rows = NULL, r;
	size_t n = 0, cap = 0;
	enum col gc = group_col[v->group];
	const cJSON *p;
	int err = -1;

	if (hold && v->nrows && (ctx.held = htab_new()))
		for (size_t i = 0; i < v->nrows; i++)
			htab_put(ctx.held, v->rows[i].key, (void *)(uintptr_t)(i + 1));
	if (v->group != G_PROCESS && !(groups = htab_new()))
		goto out;
	v->nprocs = v->nexited = 0;
	cJSON_ArrayForEach(p, procs) {
		if (!cJSON_IsObject(p))
			continue;
		if (row_from_process(&r, p) < 0) {
			for (int c = 0; c < NCOLS; c++)
				free(r.text[c]);
			goto out;
		}
		v->nprocs++;
		v->nexited += (size_t)r.nexited;
		if (!row_matches(&r, v->filter)) {
			for (int c = 0; c < NCOLS; c++)
				free(r.text[c]);
			continue;
		}
		if (groups) {
			/* hash collisions probe on: two values never share a row */
			uint64_t k = hash_str(r.text[gc]);
			uintptr_t at;

			while ((at = (uintptr_t)htab_get(groups, k)) &&
			       strcmp(rows[at - 1].text[gc], r.text[gc]))
				k++;
			if (at) {
				row_add(&rows[at - 1], &r);
				for (int c = 0; c < NCOLS; c++)
					free(r.text[c]);
				continue;
			}
			r.key = k;
			if (htab_put(groups, k, (void *)(uintptr_t)(n + 1)) < 0) {
				for (int c = 0; c < NCOLS; c++)
					free(r.text[c]);
				goto out;
			}
		}
		if (n == cap) {
			struct row *nr = realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*rows));

			if (!nr) {
				for (int c = 0; c < NCOLS; c++)
					free(r.text[c]);
				goto out;
			}
			rows = nr;
		}
		rows[n++] = r;
	}
	/* grouped rows show how many processes they hold where the pid was */
	if (groups)
		for (size_t i = 0; i < n; i++)
			rows[i].num[COL_PID] = rows[i].n;
	else
		for (size_t i = 0; i < n; i++)
			rows[i].num[COL_PID] = rows[i].pid;
	if (n)
		qsort_r(rows, n, sizeof(*rows), row_cmp, &ctx);
	rows_free(v);
	v->rows = rows;
	v->nrows = n;
	rows = NULL;
	n = 0;
	/* the cursor follows its row (htop follows the process) */
	if (v->sel_valid) {
		for (size_t i = 0; i < v->nrows; i++)
			if (v->rows[i].key == v->sel_key) {
				v->sel = i;
				break;
			}
	}
	if (v->sel >= v->nrows)
		v->sel = v->nrows ? v->nrows - 1 : 0;
	v->sel_valid = v->nrows > 0;
	if (v->sel_valid)
		v->sel_key = v->rows[v->sel].key;
	err = 0;
out:
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < NCOLS; c++)
			free(rows[i].text[c]);
	free(rows);
	htab_free(groups);
	htab_free(ctx.held);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Layout: which columns fit, and how wide */

struct layout {
	int n;
	enum col col[NCOLS];
	int width[NCOLS];       /* by position */
};

static int keep_of(const struct view *v, enum col c)
{
	if (v->group != G_PROCESS && c == group_col[v->group])
		return 1000; /* the column the rows are made of */
	if (v->group != G_PROCESS && c == COL_COMM)
		return 15; /* a list of names: detail once grouped */
	return cols[c].keep;
}

static void layout_compute(struct layout *lo, const struct view *v, int total)
{
	bool on[NCOLS];
	int want[NCOLS], min[NCOLS], need, extra, last;

	for (int c = 0; c < NCOLS; c++) {
		on[c] = true;
		want[c] = min[c] = cols[c].width;
		if (col_is_text(c)) {
			int w = (int)strlen(cols[c].title);

			for (size_t i = 0; i < v->nrows; i++) {
				int l = (int)strlen(v->rows[i].text[c]);

				if (l > w)
					w = l;
			}
			if (cols[c].cap && w > cols[c].cap)
				w = cols[c].cap;
			/* short values need no more than their width */
			want[c] = w;
			min[c] = w < cols[c].width ? w : cols[c].width;
		}
	}
	/* drop the least wanted until the narrowest forms fit */
	for (;;) {
		int n = 0, low = -1;

		need = 0;
		for (int c = 0; c < NCOLS; c++) {
			if (!on[c])
				continue;
			need += min[c] + (n ? 1 : 0);
			n++;
			if (low < 0 || keep_of(v, c) < keep_of(v, low))
				low = c;
		}
		if (need <= total || n <= 1)
			break;
		on[low] = false;
	}
	lo->n = 0;
	for (int c = 0; c < NCOLS; c++)
		if (on[c]) {
			lo->col[lo->n] = c;
			lo->width[lo->n++] = min[c];
		}
	/* then widen text columns toward their values, left to right */
	extra = total - need;
	for (int i = 0; i < lo->n && extra > 0; i++) {
		int grow = want[lo->col[i]] - lo->width[i];

		if (grow > extra)
			grow = extra;
		if (grow > 0) {
			lo->width[i] += grow;
			extra -= grow;
		}
	}
	/* a last text column (MODELS) takes what is left, as htop's Command
	 * does, so a wide terminal shows long model lists whole */
	last = lo->n - 1;
	if (last >= 0 && col_is_text(lo->col[last]) && extra > 0)
		lo->width[last] += extra;
}

/* One table line (title or row) into buf (total+1 bytes), padded to total. */
static void layout_line(const struct layout *lo, const struct view *v, const struct row *r,
			char *buf, int total, int *sort_x, int *sort_w)
{
	int x = 0;

	memset(buf, ' ', (size_t)total);
	buf[total] = '\0';
	for (int i = 0; i < lo->n && x < total; i++) {
		enum col c = lo->col[i];
		int w = lo->width[i];
		char cell[64];
		const char *s;
		int len;

		if (i)
			x++;
		if (x + w > total)
			w = total - x;
		if (w <= 0)
			break;
		if (!r) {
			s = (c == COL_PID && v->group != G_PROCESS) ? "PROCS" : cols[c].title;
			if (c == v->sort && sort_x) {
				*sort_x = x;
				*sort_w = w;
			}
		} else if (col_is_text(c)) {
			s = r->text[c];
		} else {
			fmt_cell(cell, sizeof(cell), c, r->num[c], w);
			s = cell;
		}
		len = (int)strlen(s);
		if (len > w)
			len = w;
		if (col_is_text(c))
			memcpy(buf + x, s, (size_t)len);
		else
			memcpy(buf + x + w - len, s, (size_t)len);
		x += w;
	}
}

/* ------------------------------------------------------------------------ */
/* The header: the same text in both modes, with bars drawn in curses */

#define HDR_LINE 512

static void hdr_agent(char *b, const cJSON *snap)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(snap, "agent");
	double up = parse_time(str_of(snap, "time")) - parse_time(str_of(a, "started"));
	char upbuf[32] = "?";

	if (!isnan(up) && up >= 0) {
		long s = (long)up;

		if (s >= 86400)
			snprintf(upbuf, sizeof(upbuf), "%ldd %ld:%02ld:%02ld", s / 86400, s / 3600 % 24,
				 s / 60 % 60, s % 60);
		else
			snprintf(upbuf, sizeof(upbuf), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	}
	snprintf(b, HDR_LINE, "infertrace top  agent %s pid %.0f  up %s  events %.0f  lost %.0f",
		 str_of(a, "version") ? str_of(a, "version") : "?", num_of(a, "pid"), upbuf,
		 num_of(a, "events"), num_of(a, "lost"));
}

static void hdr_totals(char lines[3][HDR_LINE], const cJSON *snap)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(snap, "totals");
	char a[32], b[32], c[32];

	fmt_num(a, sizeof(a), num_of(t, "cost_per_hour"), 12, 4, 6);
	fmt_num(b, sizeof(b), num_of(t, "cost_total"), 12, 4, 6);
	snprintf(lines[0], HDR_LINE, "Cost:     $%s/h now, $%s since start", a, b);
	fmt_num(a, sizeof(a), num_of(t, "requests_per_s"), 10, 3, 3);
	snprintf(lines[1], HDR_LINE, "Requests: %s/s, %.0f since start", a,
		 num_of(t, "requests_total"));
	fmt_num(a, sizeof(a), num_of(t, "input_tokens_per_s"), 10, 3, 3);
	fmt_num(b, sizeof(b), num_of(t, "output_tokens_per_s"), 10, 3, 3);
	snprintf(c, sizeof(c), "%.0f", num_of(t, "input_tokens_total"));
	snprintf(lines[2], HDR_LINE, "Tokens:   in %s/s, out %s/s; %s in, %.0f out since start", a, b,
		 c, num_of(t, "output_tokens_total"));
}

/* "GPU cuda:0  [|||||     45.2%]  mem 1.0G  $3.60/h" in a line of width
 * cells; width 0, or too narrow for a bar: "busy 45.2%" in words. The bar's
 * cells are where curses colours it: *bar_x is its first. */
static void hdr_device(char *b, const cJSON *d, int width, int *bar_x, int *bar_fill)
{
	const char *id = str_of(d, "device"), *nvml = str_of(d, "name");
	char *label = device_label(id), *name = NULL;
	double busy = num_of(d, "busy_pct");
	char pct[16], mem[16], usd[32];
	int len, bar;

	/* "GPU GPU-1a2b3c4d NVIDIA H100 80GB HBM3": the label the DEVICE column
	 * shows, then NVML's name when it has one (cut: bars need the room) */
	if (nvml && id && strcmp(nvml, id)) {
		char both[64];

		snprintf(both, sizeof(both), "%s %.24s", label ? label : "-", nvml);
		name = clean_dup(both);
		free(label);
	} else {
		name = label;
	}

	fmt_num(pct, sizeof(pct), busy, 6, 3, 1);
	fmt_bytes(mem, sizeof(mem), num_of(d, "mem_bytes"));
	fmt_num(usd, sizeof(usd), num_of(d, "cost_per_hour"), 10, 3, 4);
	len = snprintf(b, HDR_LINE, "GPU %-12s [", name ? name : "-");
	/* what follows the bar: "]  mem 1.0G  $3.60/h" */
	bar = width - len - (int)(strlen(mem) + strlen(usd) + 12);
	if (bar > 50)
		bar = 50;
	if (len + bar + 64 >= HDR_LINE)
		bar = HDR_LINE - len - 64;
	if (bar < 10) {
		snprintf(b, HDR_LINE, "GPU %-12s busy %s%%  mem %s  $%s/h", name ? name : "-", pct,
			 mem, usd);
		free(name);
		return;
	}
	free(name);
	*bar_x = len;
	*bar_fill = isnan(busy) ? 0 : (int)lround(busy / 100.0 * bar);
	if (*bar_fill > bar)
		*bar_fill = bar;
	if (*bar_fill < 0)
		*bar_fill = 0;
	memset(b + len, ' ', (size_t)bar);
	memset(b + len, '|', (size_t)*bar_fill);
	/* the percentage sits at the bar's right end, as htop's meters do */
	snprintf(pct + strlen(pct), sizeof(pct) - strlen(pct), "%%");
	if ((int)strlen(pct) <= bar)
		memcpy(b + len + bar - strlen(pct), pct, strlen(pct));
	snprintf(b + len + bar, (size_t)(HDR_LINE - len - bar), "]  mem %s  $%s/h", mem, usd);
}

static void status_text(char *b, size_t n, const struct view *v)
{
	int len = snprintf(b, n, "Processes: %zu, %zu exited   Sort: %s %s   Group: %s", v->nprocs,
			   v->nexited, v->sort == COL_PID && v->group != G_PROCESS ? "PROCS" :
			   cols[v->sort].title, v->desc ? "desc" : "asc", group_names[v->group]);

	if (v->group != G_PROCESS && len > 0 && (size_t)len < n)
		len += snprintf(b + len, n - (size_t)len, " (%zu rows)", v->nrows);
	if (v->filter[0] && len > 0 && (size_t)len < n)
		snprintf(b + len, n - (size_t)len, "   Filter: %s", v->filter);
}

/* ------------------------------------------------------------------------ */
/* --once: plain text */

static void put_trimmed(const char *s, int width)
{
	int len = (int)strlen(s);

	if (len > width)
		len = width;
	while (len && s[len - 1] == ' ')
		len--;
	printf("%.*s\n", len, s);
}

static int once_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	long w;

	if (env && *env) {
		char *end;

		w = strtol(env, &end, 10);
		if (!*end && w >= 20 && w <= 4096)
			return (int)w;
	}
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static int print_once(struct view *v, int width)
{
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(v->snap, "devices"), *d;
	char line[HDR_LINE], tl[3][HDR_LINE], *buf;
	struct layout lo;

	hdr_agent(line, v->snap);
	put_trimmed(line, width);
	hdr_totals(tl, v->snap);
	for (int i = 0; i < 3; i++)
		put_trimmed(tl[i], width);
	if (cJSON_GetArraySize(devs) == 0)
		put_trimmed("GPU none seen", width);
	cJSON_ArrayForEach(d, devs) {
		hdr_device(line, d, 0, NULL, NULL);
		put_trimmed(line, width);
	}
	status_text(line, sizeof(line), v);
	put_trimmed(line, width);
	putchar('\n');
	if (!(buf = malloc((size_t)width + 1)))
		return 1;
	layout_compute(&lo, v, width);
	layout_line(&lo, v, NULL, buf, width, NULL, NULL);
	put_trimmed(buf, width);
	for (size_t i = 0; i < v->nrows; i++) {
		layout_line(&lo, v, &v->rows[i], buf, width, NULL, NULL);
		put_trimmed(buf, width);
	}
	free(buf);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* Interactive */

enum { P_TITLE = 1, P_SORT, P_SEL, P_BAR, P_ERR, P_LABEL, P_KEY };

static volatile sig_atomic_t quit_signal;
static bool curses_on;

static void on_signal(int sig)
{
	/* only a flag: endwin is not async-signal-safe; the loop sees the flag
	 * (getch returns on the interrupted read) and restores the terminal */
	quit_signal = sig;
}

/* Whatever path ends the process, the terminal is given back. */
static void restore_terminal(void)
{
	if (curses_on && !isendwin())
		endwin();
	curses_on = false;
}

struct ui {
	struct view v;
	const char *socket;
	unsigned delay_ms;
	bool paused, help, editing;
	char saved_filter[TOP_FILTER_MAX + 1];
	char err[256];
	uint64_t hold_until, next_fetch;
	struct layout lo;
	int rows_y, rows_h;     /* where the table's rows are */
};

static void draw_text(int y, const char *s, attr_t attr)
{
	if (y >= LINES)
		return;
	attron(attr);
	mvaddnstr(y, 0, s, COLS);
	attroff(attr);
}

static void draw_help(void)
{
	static const char *const keys[] = {
		"Keys",
		"  Up/Down PgUp/PgDn Home/End  move the cursor (the order holds still ~1 s)",
		"  F6 > .   next sort column      < ,  previous sort column",
		"  I        invert the sort order",
		"  P  M  T  C  R  N    sort by GPU%, GPUMEM, $TOTAL, $/H, REQ/S, PID",
		"  g F5     group rows: process, workload, model, device (sums)",
		"  / F4 \\   filter (pid, comm, workload, model, device; Enter keeps, Esc drops)",
		"  p        pause / resume reading the agent",
		"  Ctrl-L   redraw         h ? F1  this help        q F10  quit",
		"",
		"Columns",
	};
	int y = 0;

	erase();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		draw_text(y++, keys[i], i == 0 || !strcmp(keys[i], "Columns") ? A_BOLD : A_NORMAL);
	for (int c = 0; c < NCOLS; c++) {
		char line[160];

		snprintf(line, sizeof(line), "  %-9s %-9s %s", cols[c].title, cols[c].name, cols[c].help);
		draw_text(y++, line, A_NORMAL);
	}
	draw_text(y + 1, "Press any key to return.", A_BOLD);
	refresh();
}

static void ui_draw(struct ui *u)
{
	struct view *v = &u->v;
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(v->snap, "devices"), *d;
	char line[HDR_LINE], tl[3][HDR_LINE], *buf;
	int y = 0, ndev = cJSON_GetArraySize(devs), shown = 0, sort_x = -1, sort_w = 0;
	int w = COLS;

	if (u->help) {
		draw_help();
		return;
	}
	if (!(buf = malloc((size_t)w + 1)))
		return;
	erase();
	hdr_agent(line, v->snap);
	draw_text(y++, line, A_BOLD);
	hdr_totals(tl, v->snap);
	for (int i = 0; i < 3; i++) {
		draw_text(y, tl[i], A_NORMAL);
		if (y < LINES)
			mvchgat(y, 0, 9, A_BOLD, has_colors() ? P_LABEL : 0, NULL);
		y++;
	}
	if (ndev == 0)
		draw_text(y++, "GPU none seen", A_NORMAL);
	cJSON_ArrayForEach(d, devs) {
		int bx = 0, fill = 0;

		if (shown == TOP_MAX_DEVICE_LINES - 1 && ndev > TOP_MAX_DEVICE_LINES) {
			snprintf(line, sizeof(line), "GPU +%d more devices (group by device: g)",
				 ndev - shown);
			draw_text(y++, line, A_NORMAL);
			break;
		}
		hdr_device(line, d, w, &bx, &fill);
		draw_text(y, line, A_NORMAL);
		if (fill && y < LINES && bx < w)
			mvchgat(y, bx, fill < w - bx ? fill : w - bx, A_BOLD,
				has_colors() ? P_BAR : 0, NULL);
		y++;
		shown++;
	}
	if (u->err[0]) {
		/* what is going on first: a narrow terminal cuts the details */
		snprintf(line, sizeof(line), "! showing the last snapshot, retrying every %.1f s: %s",
			 u->delay_ms / 1000.0, u->err);
		draw_text(y++, line, has_colors() ? COLOR_PAIR(P_ERR) | A_BOLD : A_BOLD);
	} else {
		status_text(line, sizeof(line), v);
		if (u->paused)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "   [PAUSED]");
		draw_text(y++, line, A_NORMAL);
	}

	/* the table */
	layout_compute(&u->lo, v, w);
	layout_line(&u->lo, v, NULL, buf, w, &sort_x, &sort_w);
	if (y < LINES) {
		draw_text(y, buf, has_colors() ? COLOR_PAIR(P_TITLE) : A_REVERSE);
		if (sort_x >= 0)
			mvchgat(y, sort_x, sort_w, has_colors() ? A_BOLD : A_BOLD | A_REVERSE,
				has_colors() ? P_SORT : 0, NULL);
	}
	y++;
	u->rows_y = y;
	u->rows_h = LINES - 1 - y;
	if (u->rows_h < 0)
		u->rows_h = 0;
	/* keep the cursor in view */
	if (v->sel < v->top)
		v->top = v->sel;
	if (u->rows_h && v->sel >= v->top + (size_t)u->rows_h)
		v->top = v->sel - (size_t)u->rows_h + 1;
	if (v->top && v->top + (size_t)u->rows_h > v->nrows)
		v->top = v->nrows > (size_t)u->rows_h ? v->nrows - (size_t)u->rows_h : 0;
	for (int i = 0; i < u->rows_h && v->top + (size_t)i < v->nrows; i++) {
		const struct row *r = &v->rows[v->top + (size_t)i];
		attr_t a = A_NORMAL;

		layout_line(&u->lo, v, r, buf, w, NULL, NULL);
		if (v->top + (size_t)i == v->sel)
			a = has_colors() ? COLOR_PAIR(P_SEL) : A_REVERSE;
		else if (r->nexited == r->n)
			a = A_DIM; /* exited: listed a minute, dimmed */
		draw_text(y + i, buf, a);
	}

	/* the bottom line: the filter being typed, or the keys */
	if (LINES > 1) {
		if (u->editing) {
			snprintf(line, sizeof(line), "Filter: %s", v->filter);
			draw_text(LINES - 1, line, A_BOLD);
			move(LINES - 1, (int)strlen(line) < w ? (int)strlen(line) : w - 1);
		} else {
			static const char *const fk[][2] = {
				{ "F1", "Help" }, { "F4", "Filter" }, { "F5", "Group" },
				{ "F6", "SortBy" }, { "p", "Pause" }, { "q", "Quit" },
			};
			int x = 0;

			move(LINES - 1, 0);
			for (size_t i = 0; i < sizeof(fk) / sizeof(fk[0]) && x < w; i++) {
				attron(has_colors() ? COLOR_PAIR(P_KEY) : A_REVERSE);
				mvaddnstr(LINES - 1, x, fk[i][0], w - x);
				attroff(has_colors() ? COLOR_PAIR(P_KEY) : A_REVERSE);
				x += (int)strlen(fk[i][0]);
				if (x < w)
					mvaddnstr(LINES - 1, x, fk[i][1], w - x);
				x += (int)strlen(fk[i][1]) + 1;
			}
		}
	}
	curs_set(u->editing ? 1 : 0);
	refresh();
	free(buf);
}

static void ui_fetch(struct ui *u)
{
	char *text = NULL;
	cJSON *snap = NULL;
	uint64_t now = now_ms();

	if (fetch_snapshot(u->socket, &text, &snap, u->err, sizeof(u->err)) == FETCH_OK) {
		cJSON_Delete(u->v.snap);
		u->v.snap = snap;
		u->err[0] = '\0';
		view_rebuild(&u->v, now < u->hold_until);
	}
	free(text);
	u->next_fetch = now_ms() + u->delay_ms;
}

/* Choose the sort column; a new column starts in its natural direction
 * (numbers biggest first, names A to Z). */
static void ui_sort(struct ui *u, enum col c)
{
	if (u->v.sort != c) {
		u->v.sort = c;
		u->v.desc = !col_is_text(c);
	}
	view_rebuild(&u->v, false);
}

/* The next or previous column on screen (htop's < and >). */
static void ui_sort_step(struct ui *u, int dir)
{
	int at = -1;

	for (int i = 0; i < u->lo.n; i++)
		if (u->lo.col[i] == u->v.sort)
			at = i;
	if (u->lo.n == 0)
		return;
	at = at < 0 ? 0 : (at + dir + u->lo.n) % u->lo.n;
	ui_sort(u, u->lo.col[at]);
}

static void ui_move(struct ui *u, long delta)
{
	struct view *v = &u->v;
	long s = (long)v->sel + delta;

	if (!v->nrows)
		return;
	if (s < 0)
		s = 0;
	if (s >= (long)v->nrows)
		s = (long)v->nrows - 1;
	v->sel = (size_t)s;
	v->sel_key = v->rows[v->sel].key;
	v->sel_valid = true;
}

/* Returns false to quit. */
static bool ui_key(struct ui *u, int ch)
{
	struct view *v = &u->v;
	bool hold = true;

	if (ch == KEY_RESIZE)
		return true;
	if (u->help) {
		u->help = false;
		return true;
	}
	if (u->editing) {
		size_t len = strlen(v->filter);

		if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
			u->editing = false;
		} else if (ch == 27) { /* Esc: back to the filter before */
			snprintf(v->filter, sizeof(v->filter), "%s", u->saved_filter);
			u->editing = false;
		} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
			if (len)
				v->filter[len - 1] = '\0';
		} else if (ch >= 0x20 && ch < 0x7f && len < TOP_FILTER_MAX) {
			v->filter[len] = (char)ch;
			v->filter[len + 1] = '\0';
		} else {
			return true;
		}
		view_rebuild(v, false); /* htop filters as you type */
		return true;
	}
	switch (ch) {
	case 'q':
	case 'Q':
	case KEY_F(10):
		return false;
	case 'h':
	case '?':
	case KEY_F(1):
		u->help = true;
		break;
	case 'p':
		u->paused = !u->paused;
		if (!u->paused)
			u->next_fetch = 0; /* fresh data at once */
		break;
	case '/':
	case '\\':
	case KEY_F(4):
		snprintf(u->saved_filter, sizeof(u->saved_filter), "%s", v->filter);
		u->editing = true;
		break;
	case 'g':
	case KEY_F(5):
		v->group = (v->group + 1) % NGROUPS;
		/* a group has no pid of its own: the count is where it was */
		view_rebuild(v, false);
		hold = false;
		break;
	case '>':
	case '.':
	case KEY_F(6):
		ui_sort_step(u, 1);
		hold = false;
		break;
	case '<':
	case ',':
		ui_sort_step(u, -1);
		hold = false;
		break;
	case 'I':
		v->desc = !v->desc;
		view_rebuild(v, false);
		hold = false;
		break;
	case 'P':
		ui_sort(u, COL_GPU);
		hold = false;
		break;
	case 'M':
		ui_sort(u, COL_GMEM);
		hold = false;
		break;
	case 'T':
		ui_sort(u, COL_COST);
		hold = false;
		break;
	case 'C':
		ui_sort(u, COL_COSTH);
		hold = false;
		break;
	case 'R':
		ui_sort(u, COL_REQ);
		hold = false;
		break;
	case 'N':
		ui_sort(u, COL_PID);
		hold = false;
		break;
	case KEY_UP:
		ui_move(u, -1);
		break;
	case KEY_DOWN:
		ui_move(u, 1);
		break;
	case KEY_PPAGE:
		ui_move(u, -(long)(u->rows_h > 1 ? u->rows_h - 1 : 1));
		break;
	case KEY_NPAGE:
		ui_move(u, u->rows_h > 1 ? u->rows_h - 1 : 1);
		break;
	case KEY_HOME:
		ui_move(u, -(long)v->nrows);
		break;
	case KEY_END:
		ui_move(u, (long)v->nrows);
		break;
	case 12: /* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default:
		break;
	}
	if (hold)
		u->hold_until = now_ms() + TOP_HOLD_MS;
	return true;
}

static int ui_run(struct ui *u)
{
	SCREEN *scr;

	/* newterm, not initscr: an unknown $TERM is an error to report, not an
	 * exit inside the library */
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		fprintf(stderr, "infertrace: top: cannot use the terminal (TERM=%s): try --once\n",
			getenv("TERM") ? getenv("TERM") : "");
		return 1;
	}
	set_term(scr);
	curses_on = true;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25); /* Esc ends the filter at once, not after a second */
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(P_TITLE, COLOR_BLACK, COLOR_GREEN);
		init_pair(P_SORT, COLOR_BLACK, COLOR_CYAN);
		init_pair(P_SEL, COLOR_BLACK, COLOR_CYAN);
		init_pair(P_BAR, COLOR_GREEN, -1);
		init_pair(P_ERR, COLOR_RED, -1);
		init_pair(P_LABEL, COLOR_CYAN, -1);
		init_pair(P_KEY, COLOR_BLACK, COLOR_CYAN);
	}
	u->next_fetch = now_ms() + u->delay_ms;
	while (!quit_signal) {
		uint64_t now = now_ms();
		int ch, wait;

		if (!u->paused && now >= u->next_fetch) {
			ui_fetch(u);
			now = now_ms();
		}
		ui_draw(u);
		wait = u->paused ? 1000 : (int)(u->next_fetch > now ? u->next_fetch - now : 0);
		timeout(wait);
		ch = getch();
		if (ch == ERR)
			continue; /* time to refresh, or a signal (checked above) */
		if (!ui_key(u, ch))
			break;
	}
	restore_terminal();
	delscreen(scr);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Command line */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: infertrace top [OPTIONS]\n"
		"\n"
		"Live view of processes, workloads, models and GPUs: requests/s, tokens/s,\n"
		"accelerator busy %% and memory, $/hour. Reads the agent's query socket, so an\n"
		"agent must be running ('sudo infertrace agent').\n"
		"\n"
		"Options:\n"
		"  -d, --delay SECONDS   refresh every SECONDS (default 2; fractions allowed)\n"
		"      --socket PATH     the agent's query socket (default %s)\n"
		"      --once            print one snapshot as a plain table and exit\n"
		"  -j, --json            with --once: print the snapshot JSON (implies --once)\n"
		"  -s, --sort COLUMN     sort by COLUMN: pid comm workload req tokin tokout bytes\n"
		"                        gpu gpumem cost_h cost device model (default cost_h)\n"
		"  -g, --group MODE      one row per process (default), workload, model or device\n"
		"  -f, --filter TEXT     only rows whose pid, comm, workload, model or device\n"
		"                        contains TEXT\n"
		"  -h, --help            show this help\n"
		"\n"
		"Keys: F6 or > < sort, I invert, g group, / filter, p pause, h help, q quit.\n"
		"The socket is root's (mode 0600) unless the agent runs with --socket-group G:\n"
		"then members of G may read it too. docs/top.md describes the columns.\n",
		QUERY_DEFAULT_SOCKET);
}

static int parse_sort(const char *s, enum col *out)
{
	for (int c = 0; c < NCOLS; c++)
		if (!strcasecmp(s, cols[c].name) || !strcasecmp(s, cols[c].title)) {
			*out = c;
			return 0;
		}
	if (!strcasecmp(s, "procs")) {
		*out = COL_PID;
		return 0;
	}
	return -1;
}

/* A message for the cases where no snapshot came, then exit status 1: what
 * happened, then what to do about it. */
static int explain(enum fetch_err e, const char *path, const char *detail, bool json)
{
	char hint[512] = "";

	if (e == FETCH_NO_AGENT)
		snprintf(hint, sizeof(hint), "start one with 'sudo infertrace agent' (or 'sudo make "
			 "run' in the source tree)%s", strcmp(path, QUERY_DEFAULT_SOCKET) ?
			 "; an agent started with --socket PATH is read with the same --socket PATH" :
			 "");
	else if (e == FETCH_DENIED)
		snprintf(hint, sizeof(hint), "the socket is root's (mode 0600): run as root ('sudo "
			 "infertrace top'), or as a member of the group the agent was started with "
			 "(--socket-group GROUP)");
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char msg[1024], *s;

		snprintf(msg, sizeof(msg), "%s%s%s", detail, hint[0] ? ": " : "", hint);
		cJSON_AddStringToObject(o, "error", msg);
		s = cJSON_PrintUnformatted(o);
		if (s)
			printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else {
		fprintf(stderr, "infertrace: top: %s\n", detail);
		if (hint[0])
			fprintf(stderr, "infertrace: top: %s\n", hint);
	}
	return 1;
}

int cmd_top(int argc, char **argv)
{
	enum { OPT_SOCKET = 1000, OPT_ONCE };
	static const struct option opts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "json", no_argument, NULL, 'j' },
		{ "sort", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ui u = { .socket = QUERY_DEFAULT_SOCKET, .delay_ms = 2000 };
	bool once = false, json = false;
	struct sigaction sa = { .sa_handler = on_signal };
	enum fetch_err fe;
	char *text = NULL;
	cJSON *snap = NULL;
	int opt, rc;

	u.v.sort = COL_COSTH;
	u.v.desc = true;
	while ((opt = getopt_long(argc, argv, "d:js:g:f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': {
			char *end;
			double d = strtod(optarg, &end);

			if (end == optarg || *end || !(d >= 0.1 && d <= 3600)) {
				fprintf(stderr, "infertrace: top: -d takes seconds from 0.1 to 3600, not "
					"'%s'\n", optarg);
				return 2;
			}
			u.delay_ms = (unsigned)lround(d * 1000);
			break;
		}
		case OPT_SOCKET:
			u.socket = optarg;
			break;
		case OPT_ONCE:
			once = true;
			break;
		case 'j':
			json = once = true;
			break;
		case 's':
			if (parse_sort(optarg, &u.v.sort) < 0) {
				fprintf(stderr, "infertrace: top: unknown sort column '%s' (one of pid comm "
					"workload req tokin tokout bytes gpu gpumem cost_h cost device "
					"model)\n", optarg);
				return 2;
			}
			u.v.desc = !col_is_text(u.v.sort);
			break;
		case 'g': {
			int g;

			for (g = 0; g < NGROUPS; g++)
				if (!strcmp(optarg, group_names[g]))
					break;
			if (g == NGROUPS) {
				fprintf(stderr, "infertrace: top: -g takes process, workload, model or "
					"device, not '%s'\n", optarg);
				return 2;
			}
			u.v.group = g;
			break;
		}
		case 'f':
			if (strlen(optarg) > TOP_FILTER_MAX) {
				fprintf(stderr, "infertrace: top: the filter is longer than %d characters\n",
					TOP_FILTER_MAX);
				return 2;
			}
			snprintf(u.v.filter, sizeof(u.v.filter), "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "infertrace: top: try 'infertrace top --help'\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "infertrace: top: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* Before the screen is taken: a missing agent is a plain message (and
	 * the first thing to fix, so it comes before the terminal check). */
	fe = fetch_snapshot(u.socket, &text, &snap, u.err, sizeof(u.err));
	if (fe != FETCH_OK)
		return explain(fe, u.socket, u.err, json);
	u.err[0] = '\0';
	if (!once && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "infertrace: top: the live view needs a terminal; for scripts use "
			"--once (a plain table) or --once --json\n");
		free(text);
		cJSON_Delete(snap);
		return 2;
	}
	if (json) {
		printf("%s\n", text);
		free(text);
		cJSON_Delete(snap);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	free(text);
	u.v.snap = snap;
	if (view_rebuild(&u.v, false) < 0) {
		fprintf(stderr, "infertrace: top: out of memory\n");
		cJSON_Delete(u.v.snap);
		return 1;
	}
	if (once) {
		rc = print_once(&u.v, once_width());
	} else {
		/* Flag-only handlers, installed before ncurses looks: it leaves
		 * SIGINT and SIGTERM alone when they are not SIG_DFL, and no
		 * SA_RESTART so that getch() returns when one comes. */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		atexit(restore_terminal);
		rc = ui_run(&u);
		/* ^C is the usual way out (status 0, as q); TERM and HUP come from
		 * elsewhere, and say so in the status */
		if (!rc && quit_signal && quit_signal != SIGINT)
			rc = 128 + quit_signal;
	}
	rows_free(&u.v);
	cJSON_Delete(u.v.snap);
	return rc;
}

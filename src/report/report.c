// SPDX-License-Identifier: MIT
/*
 * `infertrace report [OPTIONS] [FILE...]`: totals from the agent's JSON
 * lines, offline, grouped by workload, process, model, day, ...
 *
 * Every line is read once, checked by a strict JSON scanner that keeps
 * only the top-level fields the report uses, and added into a group of a
 * hash table. Parsing whole records with cJSON measured about 260 MB/s
 * for the parse alone, a quarter of this scanner's rate: it checks the
 * same grammar without building a tree. Memory is bounded by the longest line
 * accepted and the number of groups, never by the size of the input.
 *
 * Where each column comes from (docs/report.md): requests, tokens and API
 * cost from `request` records of role client; GPU time and cost from
 * `usage` records; a device's unclaimed time from the `cost` rows of the
 * `idle` workload. The other records show the same spend in other shapes
 * (usage x_api_cost, cost rows of real workloads, a served request's
 * x_accelerator_cost) and are not added, so nothing counts twice.
 */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define PROG "infertrace report"

#define DEFAULT_MAX_LINE   (16u << 20) /* agent records are a few KiB */
#define DEFAULT_MAX_GROUPS 1000000u
#define READ_CHUNK         (1u << 20)
#define READ_SLACK         16   /* readable bytes past a line's end (scan_str) */
#define ERRORS_SHOWN       10
#define MAX_DEPTH          256  /* nesting the scanner follows: bounds its stack */
#define KEY_PART_MAX       512  /* bytes of one group name kept (bounds memory) */
#define MAX_DEVICE_NAMES   65536

/* ------------------------------------------------------------------ */
/* Options and state                                                   */

enum format { FMT_TABLE, FMT_JSON, FMT_CSV, FMT_FOCUS };

enum bykey { K_WORKLOAD, K_PROCESS, K_COMM, K_MODEL, K_PROVIDER, K_DEVICE, K_DAY, K_HOUR, NKEYS };

static const char *const key_names[NKEYS] = {
	"workload", "process", "comm", "model", "provider", "device", "day", "hour",
};

/* Compensated (Neumaier) sums: a million small costs keep their cents. */
struct ksum {
	double s, c;
};

static void ksum_add(struct ksum *k, double v)
{
	double t = k->s + v;

	/* the smaller operand loses low bits: keep them in c */
	if ((k->s < 0 ? -k->s : k->s) >= (v < 0 ? -v : v))
		k->c += (k->s - t) + v;
	else
		k->c += (v - t) + k->s;
	k->s = t;
}

static double ksum_get(const struct ksum *k)
{
	return k->s + k->c;
}

struct sums {
	uint64_t requests, unpriced, est_requests;
	double in, out, cached, est_in, est_out; /* integers: exact below 2^53 */
	struct ksum api, est_api, gpu_s, gpu, idle;
};

/* Strings interned into an open-addressed table; callers keep data in
 * arrays parallel to the entries. */
struct strent {
	const char *s;
	uint32_t len;
	uint32_t h;
};

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct strtab {
	uint32_t *slot; /* entry index + 1; 0 is empty */
	size_t mask;
	struct strent *ent;
	size_t n, cap;
	struct chunk *arena;
};

struct report {
	/* options */
	enum bykey by[NKEYS];
	int nby;
	bool by_device;   /* device names are remembered for the output */
	bool have_from, have_to;
	int64_t from, to;
	enum format fmt;
	size_t max_line, max_groups;
	FILE *out;

	/* input */
	char *buf;
	size_t cap;
	char *scratch;
	size_t scratch_cap;
	const char *name;
	uint64_t lineno;

	/* aggregation */
	struct strtab groups;
	struct sums *gsums;
	struct sums other, total;
	uint64_t other_records;
	bool fed_api, fed_gpu;
	struct strtab devs;
	char **dev_names;

	/* counters */
	uint64_t files_read, files_failed, lines, records, malformed, too_long;
	uint64_t out_of_range, ungrouped, newer_schema, focus_rows;
	char key[NKEYS * (KEY_PART_MAX + 32)]; /* a part, its separator, a [pid] */
};

/* ------------------------------------------------------------------ */
/* Times: RFC 3339 to nanoseconds since the epoch, and back            */

static bool is_digit(int c)
{
	return (unsigned)(c - '0') < 10;
}

static int two_digits(const char *p)
{
	return is_digit(p[0]) && is_digit(p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap_year(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01, proleptic Gregorian. Years are counted from
 * March so that the leap day falls at the end of one, and in 400-year
 * cycles of 146097 days so that the arithmetic stays exact. */
static int64_t days_from_date(int64_t y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t cycle = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoc = yy - cycle * 400;                 /* 0..399 */
	int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1; /* from March 1 */
	int64_t doc = yoc * 365 + yoc / 4 - yoc / 100 + doy;

	return cycle * 146097 + doc - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

/* The inverse of days_from_date. */
static void date_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t cycle, doc, yoc, doy, mp;

	z += 719468;
	cycle = (z >= 0 ? z : z - 146096) / 146097;
	doc = z - cycle * 146097;
	yoc = (doc - doc / 1460 + doc / 36524 - doc / 146096) / 365;
	doy = doc - (365 * yoc + yoc / 4 - yoc / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoc + cycle * 400 + (*m <= 2));
}

enum { TIME_OK = 0, TIME_BAD = -1, TIME_RANGE = -2 };

/*
 * RFC 3339 ("2026-11-27T01:46:21.169666235Z", "...+02:00"; 't', 'z' and a
 * space for 'T' too) and, with date_ok, a bare "YYYY-MM-DD" (midnight
 * UTC). Nanoseconds in an int64 reach years 1678 to 2261: beyond them
 * TIME_RANGE, with *ns saturated so that --to 9999-12-31 still works.
 */
static int parse_time(const char *s, size_t n, bool date_ok, int64_t *ns)
{
	const char *p = s + 10, *e = s + n;
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	int64_t frac = 0, t;

	if (n < 10 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) ||
	    s[4] != '-' || s[7] != '-')
		return TIME_BAD;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mo = two_digits(s + 5);
	d = two_digits(s + 8);
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
		return TIME_BAD;
	if (p == e) {
		if (!date_ok)
			return TIME_BAD;
	} else {
		if (e - p < 9 || (*p != 'T' && *p != 't' && *p != ' ') || p[3] != ':' || p[6] != ':')
			return TIME_BAD;
		h = two_digits(p + 1);
		mi = two_digits(p + 4);
		sec = two_digits(p + 7);
		/* 60: a leap second, as RFC 3339 allows */
		if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
			return TIME_BAD;
		p += 9;
		if (p < e && *p == '.') {
			int digits = 0;

			for (p++; p < e && is_digit(*p); p++, digits++)
				if (digits < 9)
					frac = frac * 10 + (*p - '0');
			if (!digits)
				return TIME_BAD;
			for (; digits < 9; digits++)
				frac *= 10;
		}
		if (p < e && (*p == 'Z' || *p == 'z')) {
			p++;
		} else if (p < e && (*p == '+' || *p == '-')) {
			int oh, om;

			if (e - p < 6 || p[3] != ':')
				return TIME_BAD;
			oh = two_digits(p + 1);
			om = two_digits(p + 4);
			if (oh < 0 || oh > 23 || om < 0 || om > 59)
				return TIME_BAD;
			off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
			p += 6;
		} else {
			return TIME_BAD;
		}
		if (p != e)
			return TIME_BAD;
	}
	if (y < 1678 || y > 2261) {
		*ns = y < 1678 ? INT64_MIN : INT64_MAX;
		return TIME_RANGE;
	}
	t = days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
	if (t > INT64_MAX / 1000000000 - 1 || t < INT64_MIN / 1000000000 + 1) {
		*ns = t < 0 ? INT64_MIN : INT64_MAX;
		return TIME_RANGE;
	}
	*ns = t * 1000000000 + frac;
	return TIME_OK;
}

enum tfmt { T_FULL, T_DAY, T_HOUR };

static void format_time(int64_t ns, enum tfmt f, char *b, size_t n)
{
	/* floor division: times before 1970 still land on their own day */
	int64_t secs = ns / 1000000000 - (ns % 1000000000 < 0);
	int64_t frac = ns - secs * 1000000000;
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	int64_t sod = secs - days * 86400;
	int y, m, d;

	date_from_days(days, &y, &m, &d);
	if (f == T_DAY)
		snprintf(b, n, "%04d-%02d-%02d", y, m, d);
	else if (f == T_HOUR)
		snprintf(b, n, "%04d-%02d-%02dT%02d:00Z", y, m, d, (int)(sod / 3600));
	else if (frac)
		snprintf(b, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", y, m, d,
			 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
	else
		snprintf(b, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(sod / 3600),
			 (int)(sod / 60 % 60), (int)(sod % 60));
}

/* ------------------------------------------------------------------ */
/* JSON scanner                                                        */

/*
 * A strict RFC 8259 validator that records where the top-level fields it
 * is asked about are, without building anything. Lines end with a NUL,
 * which no JSON token accepts, so the scan stops there without an end
 * pointer; a NUL inside the line fails the same way. UTF-8 is not
 * checked: names are copied through as bytes.
 */
enum vkind { V_ABSENT, V_NULL, V_FALSE, V_TRUE, V_NUM, V_STR, V_OBJ, V_ARR };

struct val {
	const char *p; /* strings: the bytes between the quotes; else the text */
	uint32_t len;
	uint8_t kind;
	uint8_t esc; /* a string with backslash escapes */
	double num;  /* numbers, once check_fields converted them */
};

/* bytes that end a run of plain string content */
static const uint8_t str_stop[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

static bool is_hex(int c)
{
	return is_digit(c) || (unsigned)((c | 0x20) - 'a') < 6;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any of 8 bytes is below 0x20, '"' or '\\' (the usual trick:
 * a byte's subtraction borrows into its high bit only when it is below
 * the constant; false positives only above a true hit). */
static bool word_stops(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

	return (((x - ONES * 0x20) | (q - ONES) | (b - ONES)) & ~x & HIGHS) != 0;
}

/* p is past the opening quote; returns the byte past the closing one.
 * Reads 8 bytes at a time: the line buffer has READ_SLACK bytes after
 * the line's NUL, and the word with the NUL stops the fast loop. */
static const char *scan_str(const char *p, uint8_t *esc)
{
	for (;;) {
		uint64_t w;

		for (;;) {
			memcpy(&w, p, 8);
			if (word_stops(w))
				break;
			p += 8;
		}
		while (!str_stop[(uint8_t)*p])
			p++;
		if (*p == '"')
			return p + 1;
		if (*p != '\\')
			return NULL; /* a control character, or the end */
		*esc = 1;
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p += 2;
			break;
		case 'u':
			/* && stops at the first non-hex byte: never past the NUL */
			if (!is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
				return NULL;
			p += 6;
			break;
		default:
			return NULL;
		}
	}
}

static const char *scan_num(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (is_digit(*p))
		while (is_digit(*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!is_digit(*++p))
			return NULL;
		while (is_digit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return NULL;
		while (is_digit(*p))
			p++;
	}
	return p;
}

static int field_lookup(const char *key, size_t len, bool esc);

static const char *scan_value(const char *p, int depth, struct val *v, bool *deep);

/* p is past '{'. With f, top-level members the report knows go there. */
static const char *scan_members(const char *p, int depth, struct val *f, bool *deep)
{
	p = skip_ws(p);
	if (*p == '}')
		return p + 1;
	for (;;) {
		const char *k;
		uint8_t esc = 0;
		int idx = -1;

		if (*p != '"')
			return NULL;
		k = p + 1;
		p = scan_str(k, &esc);
		if (!p)
			return NULL;
		if (f)
			idx = field_lookup(k, (size_t)(p - 1 - k), esc);
		p = skip_ws(p);
		if (*p != ':')
			return NULL;
		p = scan_value(skip_ws(p + 1), depth + 1, idx >= 0 ? &f[idx] : NULL, deep);
		if (!p)
			return NULL;
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p == '}')
			return p + 1;
		else
			return NULL;
	}
}

static const char *scan_value(const char *p, int depth, struct val *v, bool *deep)
{
	const char *start = p;
	uint8_t kind, esc = 0;

	if (depth > MAX_DEPTH) {
		*deep = true;
		return NULL;
	}
	switch (*p) {
	case '"':
		p = scan_str(p + 1, &esc);
		if (p && v) {
			v->p = start + 1;
			v->len = (uint32_t)(p - start - 2);
			v->kind = V_STR;
			v->esc = esc;
		}
		return p;
	case '{':
		p = scan_members(p + 1, depth, NULL, deep);
		kind = V_OBJ;
		break;
	case '[':
		kind = V_ARR;
		p = skip_ws(p + 1);
		if (*p == ']') {
			p++;
			break;
		}
		for (;;) {
			p = scan_value(p, depth + 1, NULL, deep);
			if (!p)
				return NULL;
			p = skip_ws(p);
			if (*p == ']') {
				p++;
				break;
			}
			if (*p != ',')
				return NULL;
			p = skip_ws(p + 1);
		}
		break;
	case 't':
		kind = V_TRUE;
		p = p[1] == 'r' && p[2] == 'u' && p[3] == 'e' ? p + 4 : NULL;
		break;
	case 'f':
		kind = V_FALSE;
		p = p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e' ? p + 5 : NULL;
		break;
	case 'n':
		kind = V_NULL;
		p = p[1] == 'u' && p[2] == 'l' && p[3] == 'l' ? p + 4 : NULL;
		break;
	default:
		kind = V_NUM;
		p = scan_num(p);
		break;
	}
	if (p && v) {
		v->p = start;
		v->len = (uint32_t)(p - start);
		v->kind = kind;
		v->esc = 0;
	}
	return p;
}

enum scan_result { SCAN_OK, SCAN_NOT_JSON, SCAN_NOT_OBJECT, SCAN_TOO_DEEP };

/* line[n] is NUL. */
static enum scan_result scan_line(const char *line, size_t n, struct val *f)
{
	const char *p = skip_ws(line);
	bool deep = false;

	if (*p == '{') {
		p = scan_members(p + 1, 0, f, &deep);
		if (p && skip_ws(p) == line + n)
			return SCAN_OK;
		return deep ? SCAN_TOO_DEEP : SCAN_NOT_JSON;
	}
	/* tell "valid JSON, but not a record" from garbage */
	p = scan_value(p, 0, NULL, &deep);
	if (p && skip_ws(p) == line + n)
		return SCAN_NOT_OBJECT;
	return deep ? SCAN_TOO_DEEP : SCAN_NOT_JSON;
}

/* Finds a member of an object the scanner accepted (names compared as
 * written: the agent writes no escapes in them). */
static bool obj_member(const struct val *obj, const char *name, struct val *out)
{
	const char *p = skip_ws(obj->p + 1);
	size_t nlen = strlen(name);
	bool deep = false;

	if (obj->kind != V_OBJ || *p != '"')
		return false;
	for (;;) {
		const char *k = p + 1, *ke;
		uint8_t esc = 0;
		struct val v = { 0 };

		ke = scan_str(k, &esc);
		if (!ke)
			return false;
		p = scan_value(skip_ws(skip_ws(ke) + 1), 1, &v, &deep);
		if (!p)
			return false;
		if ((size_t)(ke - 1 - k) == nlen && !memcmp(k, name, nlen)) {
			*out = v;
			return true;
		}
		p = skip_ws(p);
		if (*p != ',')
			return false;
		p = skip_ws(p + 1);
	}
}

/* The length of s[0..n) without a multi-byte character cut at its end. */
static size_t utf8_trim(const char *s, size_t n)
{
	size_t j = n, need;
	uint8_t lead;

	while (j > 0 && ((uint8_t)s[j - 1] & 0xc0) == 0x80 && n - j < 3)
		j--;
	if (j == 0)
		return n;
	lead = (uint8_t)s[j - 1];
	if (lead < 0xc0)
		return n;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return n - (j - 1) < need ? j - 1 : n;
}

static bool hexval(const char *p, unsigned *u)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int c = p[i];

		if (!is_hex(c))
			return false;
		v = v * 16 + (unsigned)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	*u = v;
	return true;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A scanned string's text into out: escapes decoded (a lone surrogate
 * becomes U+FFFD), at most cap - 1 bytes cut at a character boundary,
 * NUL-terminated. With plain, control characters become '?': group names
 * go into table rows, CSV cells and the key separator. Returns the length;
 * *cut says whether it was cut.
 */
static size_t str_text(const struct val *v, char *out, size_t cap, bool plain, bool *cut)
{
	const char *p = v->p, *e = v->p + v->len;
	size_t n = 0;

	*cut = false;
	while (p < e) {
		char tmp[4];
		size_t k = 1;
		unsigned cp, lo;

		if (*p != '\\') {
			tmp[0] = *p++;
		} else if (p[1] != 'u') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

			tmp[0] = to[strchr(from, p[1]) - from];
			p += 2;
		} else {
			hexval(p + 2, &cp); /* the scanner checked the digits */
			p += 6;
			if (cp >= 0xd800 && cp < 0xdc00 && p + 6 <= e && p[0] == '\\' && p[1] == 'u' &&
			    hexval(p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			k = utf8_put(tmp, cp);
		}
		if (plain && k == 1 && (uint8_t)tmp[0] < 0x20)
			tmp[0] = '?';
		if (n + k >= cap) {
			*cut = true;
			break;
		}
		memcpy(out + n, tmp, k);
		n += k;
	}
	/* a cut inside a multi-byte character copied byte by byte */
	if (*cut)
		n = utf8_trim(out, n);
	out[n] = '\0';
	return n;
}

/* Numbers the agent writes are mostly small integers: those without strtod. */
static double num_value(const struct val *v)
{
	const char *p = v->p;
	uint64_t u = 0;

	if (v->len <= 15) {
		uint32_t i;

		for (i = 0; i < v->len && is_digit(p[i]); i++)
			u = u * 10 + (uint64_t)(p[i] - '0');
		if (i == v->len)
			return (double)u;
	}
	/* the number ends at a byte strtod stops at too; no locale is set */
	return strtod(p, NULL);
}

/* ------------------------------------------------------------------ */
/* Fields the report reads                                             */

enum field {
	F_TYPE, F_TIME, F_SCHEMA, F_ROLE, F_WORKLOAD, F_PID, F_COMM, F_PROVIDER, F_REQ_MODEL,
	F_RESP_MODEL, F_IN, F_OUT, F_CACHED, F_USAGE_SOURCE, F_COST_EST, F_PRICE_SOURCE,
	F_INTERVAL_START, F_ACCEL, F_ACCEL_UUID, F_GPU_BUSY, F_GPU_COST, F_GPU_IDLE,
	/* the cost record's columns, in docs/schema.md's order: the FOCUS output */
	F_CPS, F_CPE, F_CHARGE_CATEGORY, F_BILLING_CURRENCY, F_SERVICE_CATEGORY, F_SERVICE_NAME,
	F_SKU_METER, F_RESOURCE_ID, F_CONSUMED_QTY, F_CONSUMED_UNIT, F_PRICING_QTY,
	F_PRICING_UNIT, F_LIST_UNIT_PRICE, F_LIST_COST, F_EFFECTIVE_COST, F_X_WORKLOAD,
	F_X_ESTIMATED, F_X_PRICE_KEY, F_X_PRICE_VERSION, F_HOST_NAME, F_TAGS,
	NFIELDS
};

#define FOCUS_FIRST F_CPS

/* record types a field is checked in */
#define T_REQUEST (1u << 0)
#define T_USAGE   (1u << 1)
#define T_COST    (1u << 2)

/* kinds a field may have; absent is always allowed here */
#define K_S  (1u << V_STR | 1u << V_NULL)
#define K_N  (1u << V_NUM | 1u << V_NULL)
#define K_B  (1u << V_TRUE | 1u << V_FALSE | 1u << V_NULL)
#define K_O  (1u << V_OBJ | 1u << V_NULL)

static const struct field_spec {
	const char *name;
	uint8_t types;  /* checked in these record types */
	uint16_t kinds; /* the kinds it may have there */
	bool nonneg;    /* a count or a cost: never below zero */
} fields[NFIELDS] = {
	[F_TYPE] = { "type", 0, 0, false },
	[F_TIME] = { "time", 0, 0, false },
	[F_SCHEMA] = { "schema_version", 0, 0, false },
	[F_ROLE] = { "role", T_REQUEST, K_S, false },
	[F_WORKLOAD] = { "workload", T_REQUEST | T_USAGE, K_S, false },
	[F_PID] = { "pid", T_REQUEST | T_USAGE, K_N, true },
	[F_COMM] = { "comm", T_REQUEST | T_USAGE, K_S, false },
	[F_PROVIDER] = { "gen_ai.provider.name", T_REQUEST, K_S, false },
	[F_REQ_MODEL] = { "gen_ai.request.model", T_REQUEST, K_S, false },
	[F_RESP_MODEL] = { "gen_ai.response.model", T_REQUEST, K_S, false },
	[F_IN] = { "gen_ai.usage.input_tokens", T_REQUEST, K_N, true },
	[F_OUT] = { "gen_ai.usage.output_tokens", T_REQUEST, K_N, true },
	[F_CACHED] = { "gen_ai.usage.cache_read.input_tokens", T_REQUEST, K_N, true },
	[F_USAGE_SOURCE] = { "usage_source", T_REQUEST, K_S, false },
	[F_COST_EST] = { "x_cost_estimated", T_REQUEST, K_B, false },
	[F_PRICE_SOURCE] = { "price_source", T_REQUEST, K_S, false },
	[F_INTERVAL_START] = { "interval_start", 0, 0, false },
	[F_ACCEL] = { "accelerator", T_USAGE, K_S, false },
	[F_ACCEL_UUID] = { "accelerator.uuid", T_USAGE, K_S, false },
	[F_GPU_BUSY] = { "gpu.busy_seconds", T_USAGE, K_N, true },
	[F_GPU_COST] = { "x_gpu_cost", T_USAGE, K_N, true },
	[F_GPU_IDLE] = { "x_gpu_idle_cost", T_USAGE, K_N, true },
	[F_CPS] = { "ChargePeriodStart", 0, 0, false },
	[F_CPE] = { "ChargePeriodEnd", T_COST, K_S, false },
	[F_CHARGE_CATEGORY] = { "ChargeCategory", T_COST, K_S, false },
	[F_BILLING_CURRENCY] = { "BillingCurrency", T_COST, K_S, false },
	[F_SERVICE_CATEGORY] = { "ServiceCategory", T_COST, K_S, false },
	[F_SERVICE_NAME] = { "ServiceName", T_COST, K_S, false },
	[F_SKU_METER] = { "SkuMeter", T_COST, K_S, false },
	[F_RESOURCE_ID] = { "ResourceId", T_COST, K_S, false },
	[F_CONSUMED_QTY] = { "ConsumedQuantity", T_COST, K_N, false },
	[F_CONSUMED_UNIT] = { "ConsumedUnit", T_COST, K_S, false },
	[F_PRICING_QTY] = { "PricingQuantity", T_COST, K_N, false },
	[F_PRICING_UNIT] = { "PricingUnit", T_COST, K_S, false },
	[F_LIST_UNIT_PRICE] = { "ListUnitPrice", T_COST, K_N, false },
	/* ListCost: of a request (null when unpriced) and of a cost row */
	[F_LIST_COST] = { "ListCost", T_REQUEST | T_COST, K_N, true },
	[F_EFFECTIVE_COST] = { "EffectiveCost", T_COST, K_N, false },
	[F_X_WORKLOAD] = { "x_workload", T_COST, K_S, false },
	[F_X_ESTIMATED] = { "x_estimated", T_COST, K_B, false },
	[F_X_PRICE_KEY] = { "x_price_key", T_COST, K_S, false },
	[F_X_PRICE_VERSION] = { "x_price_version", T_COST, K_S, false },
	[F_HOST_NAME] = { "host.name", T_COST, K_S, false },
	[F_TAGS] = { "Tags", T_COST, K_O, false },
};

/* name -> field: a small open-addressed table built on first use */
#define FIELDMAP_SIZE 256 /* a power of two, several times NFIELDS */

static int8_t fieldmap[FIELDMAP_SIZE];
static uint8_t field_len[NFIELDS];
static bool fieldmap_ready;

/* Every member name of every line is looked up, most of them to miss:
 * hash a few bytes and the length, not the whole name. */
static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = (uint32_t)n * 0x9e3779b1u;

	if (n)
		h ^= (uint8_t)s[n - 1] * 0x85ebca6bu ^ (uint8_t)s[n / 2] * 0xc2b2ae35u ^
		     (uint8_t)s[0] * 0x27d4eb2fu;
	if (n > 2)
		h ^= (uint8_t)s[n - 3] * 0x165667b1u;
	return h ^ h >> 15;
}

static void fieldmap_init(void)
{
	memset(fieldmap, -1, sizeof(fieldmap));
	for (int f = 0; f < NFIELDS; f++) {
		uint32_t i = name_hash(fields[f].name, strlen(fields[f].name));

		field_len[f] = (uint8_t)strlen(fields[f].name);
		while (fieldmap[i & (FIELDMAP_SIZE - 1)] >= 0)
			i++;
		fieldmap[i & (FIELDMAP_SIZE - 1)] = (int8_t)f;
	}
	fieldmap_ready = true;
}

static int field_lookup(const char *key, size_t len, bool esc)
{
	char dec[64];
	uint32_t i;

	if (esc) {
		/* an escaped name still names the field it spells */
		struct val v = { .p = key, .len = (uint32_t)len, .kind = V_STR, .esc = 1 };
		bool cut;

		len = str_text(&v, dec, sizeof(dec), false, &cut);
		if (cut)
			return -1;
		key = dec;
	}
	for (i = name_hash(key, len);; i++) {
		int f = fieldmap[i & (FIELDMAP_SIZE - 1)];

		if (f < 0)
			return -1;
		if (field_len[f] == len && !memcmp(fields[f].name, key, len))
			return f;
	}
}

/* ------------------------------------------------------------------ */
/* Interned strings                                                    */

static uint64_t key_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ^ h >> 29;
}

static const char *arena_copy(struct chunk **arena, const char *s, size_t n)
{
	struct chunk *c = *arena;
	char *p;

	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > (1u << 20) ? n + 1 : (1u << 20);

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = *arena;
		c->used = 0;
		c->cap = cap;
		*arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

static long strtab_find(const struct strtab *t, const char *s, size_t n, uint64_t h)
{
	if (!t->slot)
		return -1;
	for (size_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t e = t->slot[i];

		if (!e)
			return -1;
		if (t->ent[e - 1].h == (uint32_t)h && t->ent[e - 1].len == n &&
		    !memcmp(t->ent[e - 1].s, s, n))
			return (long)e - 1;
	}
}

static int strtab_grow(struct strtab *t)
{
	size_t ns = t->slot ? (t->mask + 1) * 2 : 1024;
	uint32_t *slot = calloc(ns, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	/* slots come from the low 32 bits of the hash, which entries keep */
	for (size_t e = 0; e < t->n; e++) {
		size_t i;

		for (i = t->ent[e].h & (ns - 1); slot[i]; i = (i + 1) & (ns - 1))
			;
		slot[i] = (uint32_t)e + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->mask = ns - 1;
	return 0;
}

/* Adds s (not there yet); returns its index or -1. */
static long strtab_add(struct strtab *t, const char *s, size_t n, uint64_t h)
{
	size_t i;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct strent *v = realloc(t->ent, cap * sizeof(*v));

		if (!v)
			return -1;
		t->ent = v;
		t->cap = cap;
	}
	/* at most half full: probe runs stay short */
	if ((!t->slot || (t->n + 1) * 2 > t->mask + 1) && strtab_grow(t))
		return -1;
	s = arena_copy(&t->arena, s, n);
	if (!s)
		return -1;
	t->ent[t->n] = (struct strent){ .s = s, .len = (uint32_t)n, .h = (uint32_t)h };
	for (i = (uint32_t)h & t->mask; t->slot[i]; i = (i + 1) & t->mask)
		;
	t->slot[i] = (uint32_t)++t->n;
	return (long)t->n - 1;
}

static void strtab_free(struct strtab *t)
{
	while (t->arena) {
		struct chunk *c = t->arena;

		t->arena = c->next;
		free(c);
	}
	free(t->slot);
	free(t->ent);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------ */
/* Records                                                             */

static void note_at(struct report *r, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A line that is not a record the report can read: counted, and the
 * first ones shown with where they are. */
static void note_at(struct report *r, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	r->malformed++;
	if (r->malformed > ERRORS_SHOWN)
		return;
	fprintf(stderr, PROG ": %s:%" PRIu64 ": ", r->name, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define note(r, ...) note_at((r), (r)->lineno, __VA_ARGS__)

/* The text of a string field, in buf when it had escapes. */
static const char *str_of(const struct val *v, char *buf, size_t cap, size_t *len)
{
	bool cut;

	if (!v->esc) {
		*len = v->len;
		return v->p;
	}
	*len = str_text(v, buf, cap, false, &cut);
	return buf;
}

static bool str_is(const struct val *v, const char *s)
{
	char buf[64];
	size_t n, sl = strlen(s);
	const char *t;

	if (v->kind != V_STR)
		return false;
	t = str_of(v, buf, sizeof(buf), &n);
	return n == sl && !memcmp(t, s, n);
}

/* Only for fields check_fields converted. */
static double num_or0(const struct val *v)
{
	return v->kind == V_NUM ? v->num : 0;
}

/* Appends one group name to the key: cut to KEY_PART_MAX, control
 * characters replaced, "(none)" for a missing value. */
static size_t key_put(char *k, size_t at, const struct val *v)
{
	bool cut = false;
	size_t n;

	if (at)
		k[at++] = '\x1f'; /* parts apart; names cannot hold it */
	if (!v || v->kind != V_STR || !v->len) {
		memcpy(k + at, "(none)", 6);
		return at + 6;
	}
	if (v->esc) {
		n = str_text(v, k + at, KEY_PART_MAX + 1, true, &cut);
	} else {
		n = v->len;
		if (n > KEY_PART_MAX) {
			n = KEY_PART_MAX;
			cut = true;
		}
		memcpy(k + at, v->p, n);
	}
	if (cut) {
		/* say that it was cut, within the same bound */
		n = utf8_trim(k + at, n > KEY_PART_MAX - 3 ? KEY_PART_MAX - 3 : n);
		memcpy(k + at + n, "...", 3);
		n += 3;
	}
	return at + n;
}

static size_t key_lit(char *k, size_t at, const char *s)
{
	size_t n = strlen(s);

	if (at)
		k[at++] = '\x1f';
	memcpy(k + at, s, n);
	return at + n;
}

enum rtype { R_OTHER, R_REQUEST, R_USAGE, R_COST };

/* What one record adds to its group. */
struct contrib {
	enum rtype type;
	bool idle; /* a cost row of the idle workload */
	int64_t t;
	const struct val *f;
};

/* The group key of a record, in r->key; false when the record has no
 * place in this grouping (GPU records when grouping by model). */
static bool make_key(struct report *r, const struct contrib *c, size_t *len)
{
	const struct val *f = c->f;
	char *k = r->key, tb[40];
	size_t at = 0;

	for (int i = 0; i < r->nby; i++) {
		switch (r->by[i]) {
		case K_WORKLOAD:
			at = c->idle ? key_lit(k, at, "idle") : key_put(k, at, &f[F_WORKLOAD]);
			break;
		case K_PROCESS:
			if (c->idle) {
				at = key_lit(k, at, "(idle)");
				break;
			}
			at = key_put(k, at, &f[F_COMM]);
			if (f[F_PID].kind == V_NUM && f[F_PID].len < 24) {
				k[at++] = '[';
				memcpy(k + at, f[F_PID].p, f[F_PID].len);
				at += f[F_PID].len;
				k[at++] = ']';
			}
			break;
		case K_COMM:
			at = c->idle ? key_lit(k, at, "(idle)") : key_put(k, at, &f[F_COMM]);
			break;
		case K_MODEL:
			if (c->type != R_REQUEST)
				return false;
			/* what the response names is what was billed */
			at = key_put(k, at, f[F_RESP_MODEL].kind == V_STR && f[F_RESP_MODEL].len
					     ? &f[F_RESP_MODEL] : &f[F_REQ_MODEL]);
			break;
		case K_PROVIDER:
			if (c->type != R_REQUEST)
				return false;
			at = key_put(k, at, &f[F_PROVIDER]);
			break;
		case K_DEVICE:
			/* the UUID when NVML gave one, else cuda:N: what cost rows use as
			 * ResourceId, so a device's idle rows join its usage */
			if (c->idle)
				at = key_put(k, at, &f[F_RESOURCE_ID]);
			else if (c->type == R_USAGE && f[F_ACCEL_UUID].kind == V_STR)
				at = key_put(k, at, &f[F_ACCEL_UUID]);
			else if (c->type == R_USAGE)
				at = key_put(k, at, &f[F_ACCEL]);
			else
				at = key_put(k, at, NULL);
			break;
		case K_DAY:
		case K_HOUR:
			format_time(c->t, r->by[i] == K_DAY ? T_DAY : T_HOUR, tb, sizeof(tb));
			at = key_lit(k, at, tb);
			break;
		default:
			break;
		}
	}
	*len = at;
	return true;
}

static struct sums *group_of(struct report *r, const char *k, size_t n)
{
	uint64_t h = key_hash(k, n);
	long i = strtab_find(&r->groups, k, n, h);

	if (i >= 0)
		return &r->gsums[i];
	if (r->groups.n >= r->max_groups)
		goto other;
	if (r->groups.n == r->groups.cap) {
		/* grow the sums with the entries */
		size_t cap = r->groups.cap ? r->groups.cap * 2 : 1024;
		struct sums *v = realloc(r->gsums, cap * sizeof(*v));

		if (!v)
			goto other;
		r->gsums = v;
	}
	i = strtab_add(&r->groups, k, n, h);
	if (i < 0)
		goto other;
	memset(&r->gsums[i], 0, sizeof(r->gsums[i]));
	return &r->gsums[i];
other:
	/* past the bound (or out of memory): summed, never dropped */
	r->other_records++;
	return &r->other;
}

static void sums_request(struct sums *s, const struct val *f)
{
	bool est = str_is(&f[F_USAGE_SOURCE], "estimated") || f[F_COST_EST].kind == V_TRUE;
	double cost = num_or0(&f[F_LIST_COST]);

	s->requests++;
	/* the agent's requests_unpriced: no price for the model. A priced model
	 * with no tokens has no cost to show, and is not unpriced */
	if (str_is(&f[F_PRICE_SOURCE], "missing") ||
	    (f[F_PRICE_SOURCE].kind != V_STR && f[F_LIST_COST].kind != V_NUM))
		s->unpriced++;
	if (est) {
		/* as the usage record does: estimates never mix with billed figures */
		s->est_requests++;
		s->est_in += num_or0(&f[F_IN]);
		s->est_out += num_or0(&f[F_OUT]);
		ksum_add(&s->est_api, cost);
	} else {
		s->in += num_or0(&f[F_IN]);
		s->out += num_or0(&f[F_OUT]);
		s->cached += num_or0(&f[F_CACHED]);
		ksum_add(&s->api, cost);
	}
}

static void sums_usage(struct sums *s, const struct val *f)
{
	ksum_add(&s->gpu_s, num_or0(&f[F_GPU_BUSY]));
	ksum_add(&s->gpu, num_or0(&f[F_GPU_COST]));
	ksum_add(&s->idle, num_or0(&f[F_GPU_IDLE]));
}

static void remember_device(struct report *r, const struct val *f)
{
	char ub[KEY_PART_MAX + 8], nb[KEY_PART_MAX + 8];
	size_t un, nn;
	uint64_t h;
	long i;

	if (f[F_ACCEL_UUID].kind != V_STR || f[F_ACCEL].kind != V_STR)
		return;
	un = key_put(ub, 0, &f[F_ACCEL_UUID]);
	h = key_hash(ub, un);
	if (strtab_find(&r->devs, ub, un, h) >= 0 || r->devs.n >= MAX_DEVICE_NAMES)
		return;
	if (r->devs.n == r->devs.cap) {
		size_t cap = r->devs.cap ? r->devs.cap * 2 : 1024;
		char **v = realloc(r->dev_names, cap * sizeof(*v));

		if (!v)
			return;
		r->dev_names = v;
	}
	nn = key_put(nb, 0, &f[F_ACCEL]);
	i = strtab_add(&r->devs, ub, un, h);
	if (i >= 0)
		r->dev_names[i] = strndup(nb, nn);
}

/* Checks the kinds of the fields a record type uses. */
static bool check_fields(struct report *r, struct val *f, unsigned tbit)
{
	static const char *const want[] = {
		[V_STR] = "a string or null", [V_NUM] = "a number or null",
		[V_TRUE] = "true, false or null", [V_OBJ] = "an object or null",
	};

	for (int i = 0; i < NFIELDS; i++) {
		const struct field_spec *s = &fields[i];
		unsigned k = f[i].kind;

		if (!(s->types & tbit) || k == V_ABSENT)
			continue;
		if (!(s->kinds & 1u << k)) {
			int first = s->kinds & 1u << V_STR ? V_STR : s->kinds & 1u << V_NUM ? V_NUM
				  : s->kinds & 1u << V_TRUE ? V_TRUE : V_OBJ;

			note(r, "\"%s\" is not %s", s->name, want[first]);
			return false;
		}
		if (k != V_NUM)
			continue;
		f[i].num = num_value(&f[i]);
		/* 1e999 parses to infinity: sums of it mean nothing */
		if (!(f[i].num - f[i].num == 0)) {
			note(r, "\"%s\" is out of range", s->name);
			return false;
		}
		if (s->nonneg && f[i].num < 0) {
			note(r, "\"%s\" is negative", s->name);
			return false;
		}
	}
	return true;
}

/* The idle workload's cost rows: a device's time no process claimed.
 * A workload an operator named "idle" with --label has its own kind in
 * Tags; its rows repeat its usage records and are left out. */
static bool is_idle_row(const struct val *f)
{
	struct val kind;

	if (!str_is(&f[F_X_WORKLOAD], "idle"))
		return false;
	if (f[F_TAGS].kind == V_OBJ && obj_member(&f[F_TAGS], "workload.kind", &kind))
		return str_is(&kind, "idle");
	return true;
}

static void csv_put(FILE *o, const char *s, size_t n)
{
	bool quote = false;

	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote) {
		fwrite(s, 1, n, o);
		return;
	}
	fputc('"', o);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', o);
		fputc(s[i], o);
	}
	fputc('"', o);
}

/* One cost row as a FOCUS CSV line: strings decoded, numbers as written,
 * Tags as its JSON text (the FOCUS Tags column is a JSON object). */
static void focus_row(struct report *r, const struct val *f)
{
	for (int i = FOCUS_FIRST; i < NFIELDS; i++) {
		const struct val *v = &f[i];

		if (i > FOCUS_FIRST)
			fputc(',', r->out);
		switch (v->kind) {
		case V_STR:
			if (v->esc) {
				bool cut;
				size_t n = str_text(v, r->scratch, r->scratch_cap, false, &cut);

				csv_put(r->out, r->scratch, n);
			} else {
				csv_put(r->out, v->p, v->len);
			}
			break;
		case V_NUM:
		case V_OBJ:
		case V_ARR:
			csv_put(r->out, v->p, v->len);
			break;
		case V_TRUE:
			fputs("true", r->out);
			break;
		case V_FALSE:
			fputs("false", r->out);
			break;
		default:
			break;
		}
	}
	fputc('\n', r->out);
	r->focus_rows++;
}

static void process_line(struct report *r, char *line, size_t n, bool unterminated)
{
	struct val f[NFIELDS];
	struct contrib c = { .f = f };
	enum scan_result sr;
	const struct val *tv;
	char tbuf[64];
	const char *ts, *tname = "time";
	size_t tlen, klen;
	unsigned tbit = 0;
	struct sums *s;
	int rc;

	if (*skip_ws(line) == '\0' && skip_ws(line) == line + n)
		return; /* blank lines separate nothing, but are no error */
	memset(f, 0, sizeof(f));
	sr = scan_line(line, n, f);
	if (sr != SCAN_OK) {
		if (unterminated && sr == SCAN_NOT_JSON)
			note(r, "truncated last line (no newline at the end)");
		else
			note(r, "%s", sr == SCAN_NOT_OBJECT ? "not a JSON object"
				       : sr == SCAN_TOO_DEEP ? "nested too deep"
							     : "not JSON");
		return;
	}
	if (f[F_TYPE].kind != V_STR) {
		note(r, f[F_TYPE].kind == V_ABSENT ? "no \"type\": not an infertrace record"
						   : "\"type\" is not a string");
		return;
	}
	if (str_is(&f[F_TYPE], "request"))
		c.type = R_REQUEST, tbit = T_REQUEST;
	else if (str_is(&f[F_TYPE], "usage"))
		c.type = R_USAGE, tbit = T_USAGE;
	else if (str_is(&f[F_TYPE], "cost"))
		c.type = R_COST, tbit = T_COST;

	/* when the record counts: its interval's start, else when it was made
	 * (a request when it finished, as the usage record counts it) */
	tv = &f[F_TIME];
	if (c.type == R_USAGE && f[F_INTERVAL_START].kind != V_ABSENT)
		tv = &f[F_INTERVAL_START], tname = "interval_start";
	else if (c.type == R_COST && f[F_CPS].kind != V_ABSENT)
		tv = &f[F_CPS], tname = "ChargePeriodStart";
	if (tv->kind != V_STR) {
		note(r, "\"%s\" is %s", tname, tv->kind == V_ABSENT ? "missing" : "not a string");
		return;
	}
	ts = str_of(tv, tbuf, sizeof(tbuf), &tlen);
	rc = parse_time(ts, tlen, false, &c.t);
	if (rc != TIME_OK) {
		note(r, "\"%s\" is %s", tname,
		     rc == TIME_RANGE ? "out of range (years 1678 to 2261)" : "not an RFC 3339 time");
		return;
	}
	if (f[F_SCHEMA].kind != V_ABSENT && f[F_SCHEMA].kind != V_NUM) {
		note(r, "\"schema_version\" is not a number");
		return;
	}
	if (tbit && !check_fields(r, f, tbit))
		return;
	if (c.type == R_COST && f[F_LIST_COST].kind != V_NUM) {
		note(r, "\"ListCost\" is not a number");
		return;
	}
	r->records++;
	if (f[F_SCHEMA].kind == V_NUM && num_value(&f[F_SCHEMA]) > 1)
		r->newer_schema++;
	if ((r->have_from && c.t < r->from) || (r->have_to && c.t >= r->to)) {
		r->out_of_range++;
		return;
	}

	if (r->fmt == FMT_FOCUS) {
		if (c.type == R_COST)
			focus_row(r, f);
		return;
	}
	switch (c.type) {
	case R_REQUEST:
		/* API calls this process made; served requests (their share of
		 * the accelerator) and non-inference exchanges are not API spend */
		if (!str_is(&f[F_ROLE], "client") || f[F_PROVIDER].kind != V_STR)
			return;
		break;
	case R_USAGE:
		if (f[F_GPU_BUSY].kind != V_NUM && f[F_GPU_COST].kind != V_NUM &&
		    f[F_GPU_IDLE].kind != V_NUM)
			return; /* no accelerator in it: nothing for these columns */
		if (r->by_device)
			remember_device(r, f);
		break;
	case R_COST:
		c.idle = is_idle_row(f);
		if (!c.idle)
			return; /* a workload's rows repeat its request and usage records */
		break;
	default:
		return;
	}
	if (!make_key(r, &c, &klen)) {
		r->ungrouped++;
		return;
	}
	s = group_of(r, r->key, klen);
	for (int pass = 0; pass < 2; pass++, s = &r->total) {
		if (c.type == R_REQUEST)
			sums_request(s, f);
		else if (c.type == R_USAGE)
			sums_usage(s, f);
		else
			ksum_add(&s->idle, f[F_LIST_COST].num);
	}
	if (c.type == R_REQUEST)
		r->fed_api = true;
	else
		r->fed_gpu = true;
}

/* ------------------------------------------------------------------ */
/* Input                                                               */

static void too_long(struct report *r, uint64_t line)
{
	r->too_long++;
	note_at(r, line, "line longer than %zu bytes: skipped", r->max_line);
}

/* zlib's message without the "<fd:3>: " it names gzdopen'ed files by. */
static const char *gz_message(gzFile gz, int *err)
{
	const char *m = gzerror(gz, err), *c;

	if (!strncmp(m, "<fd:", 4) && (c = strstr(m, ">: ")))
		return c + 3;
	return m;
}

/*
 * Splits a stream into lines and processes them. The buffer holds at most
 * one line plus a read chunk: a line that outgrows --max-line is skipped to
 * its newline without being kept. Returns false after a read error (the
 * lines before it count); *got says whether any byte came.
 */
static bool read_lines(struct report *r, gzFile gz, bool *got)
{
	size_t start = 0, end = 0, scan = 0, bound = r->max_line + READ_CHUNK + 1;

	/* r->cap counts what lines may use; READ_SLACK more bytes follow */
	bool skipping = false, eof = false, ok = true;
	int err;

	for (;;) {
		char *nl = scan < end ? memchr(r->buf + scan, '\n', end - scan) : NULL;
		int n;

		if (nl) {
			size_t i = (size_t)(nl - r->buf);

			r->lineno++;
			r->lines++;
			if (skipping) {
				skipping = false;
			} else if (i - start > r->max_line) {
				too_long(r, r->lineno);
			} else {
				*nl = '\0';
				process_line(r, r->buf + start, i - start, false);
			}
			start = scan = i + 1;
			continue;
		}
		if (eof)
			break;
		if (!skipping && end - start > r->max_line) {
			too_long(r, r->lineno + 1);
			skipping = true;
		}
		if (skipping) {
			start = scan = end = 0;
		} else if (start > 0) {
			memmove(r->buf, r->buf + start, end - start);
			end -= start;
			start = 0;
		}
		scan = end;
		if (r->cap - end < READ_CHUNK + 1) {
			size_t cap = r->cap * 2 > end + READ_CHUNK + 1 ? r->cap * 2 : end + READ_CHUNK + 1;
			char *b;

			if (cap > bound)
				cap = bound;
			b = realloc(r->buf, cap + READ_SLACK);
			if (!b) {
				fprintf(stderr, PROG ": %s: out of memory\n", r->name);
				return false;
			}
			/* defined bytes for the word reads past a line's end */
			memset(b + r->cap, 0, cap + READ_SLACK - r->cap);
			r->buf = b;
			r->cap = cap;
		}
		n = gzread(gz, r->buf + end, READ_CHUNK);
		if (n < 0) {
			fprintf(stderr, PROG ": %s: read error: %s\n", r->name, gz_message(gz, &err));
			ok = false;
			eof = true;
		} else if (n == 0) {
			/* zlib reports a cut gzip stream as an end with an error set */
			const char *m = gz_message(gz, &err);

			eof = true;
			if (err != Z_OK) {
				fprintf(stderr, PROG ": %s: %s (gzip stream cut short?)\n", r->name, m);
				ok = false;
			}
		} else {
			end += (size_t)n;
			*got = true;
		}
	}
	if (skipping) {
		r->lineno++;
		r->lines++;
	} else if (start < end) {
		r->lineno++;
		r->lines++;
		if (end - start > r->max_line) {
			too_long(r, r->lineno);
		} else {
			r->buf[end] = '\0'; /* the read left room for it */
			process_line(r, r->buf + start, end - start, true);
		}
	}
	return ok;
}

/* Reads FILE, or stdin for "-"; gzip or not by the first bytes (zlib
 * reads anything that does not start with the gzip magic as it is). */
static bool read_file(struct report *r, const char *path)
{
	bool in = !strcmp(path, "-"), got = false, ok;
	struct stat st;
	gzFile gz;
	int fd;

	r->name = in ? "(stdin)" : path;
	r->lineno = 0;
	fd = in ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", r->name, strerror(errno));
		return false;
	}
	if (!fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": %s: is a directory\n", r->name);
		close(fd);
		return false;
	}
	gz = gzdopen(fd, "rb");
	if (!gz) {
		fprintf(stderr, PROG ": %s: out of memory\n", r->name);
		close(fd);
		return false;
	}
	gzbuffer(gz, 256u << 10); /* inflate's input reads: fewer syscalls */
	ok = read_lines(r, gz, &got);
	gzclose(gz);
	/* a file that failed before giving a byte was not read */
	return ok || got;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

enum col {
	C_REQ, C_IN, C_OUT, C_CACHED, C_API, C_GPUS, C_GPU, C_IDLE, C_TOTAL, NCOLS
};

enum colgroup { G_API, G_GPU, G_ALL };

static const struct column {
	const char *head;  /* table */
	const char *name;  /* json, csv */
	enum colgroup group;
} columns[NCOLS] = {
	[C_REQ] = { "REQS", "requests", G_API },
	[C_IN] = { "IN TOK", "input_tokens", G_API },
	[C_OUT] = { "OUT TOK", "output_tokens", G_API },
	[C_CACHED] = { "CACHED", "cache_read_input_tokens", G_API },
	[C_API] = { "API $", "api_cost", G_API },
	[C_GPUS] = { "GPU S", "gpu_busy_seconds", G_GPU },
	[C_GPU] = { "GPU $", "gpu_cost", G_GPU },
	[C_IDLE] = { "IDLE $", "gpu_idle_cost", G_GPU },
	[C_TOTAL] = { "TOTAL $", "total_cost", G_ALL },
};

/* Grouping by model or provider leaves no place for GPU records. */
static bool gpu_empty(const struct report *r)
{
	for (int i = 0; i < r->nby; i++)
		if (r->by[i] == K_MODEL || r->by[i] == K_PROVIDER)
			return true;
	return false;
}

static double total_cost(const struct sums *s)
{
	return ksum_get(&s->api) + ksum_get(&s->gpu) + ksum_get(&s->idle);
}

static double col_value(const struct sums *s, enum col c)
{
	switch (c) {
	case C_REQ:
		return (double)s->requests;
	case C_IN:
		return s->in;
	case C_OUT:
		return s->out;
	case C_CACHED:
		return s->cached;
	case C_API:
		return ksum_get(&s->api);
	case C_GPUS:
		return ksum_get(&s->gpu_s);
	case C_GPU:
		return ksum_get(&s->gpu);
	case C_IDLE:
		return ksum_get(&s->idle);
	default:
		return total_cost(s);
	}
}

/* Counts past a million as 1.23M, 45.6G: the table is for reading. */
static void fmt_count(char *b, size_t n, double v)
{
	static const char suffix[] = "kMGTPE";
	int i = -1;

	if (v < 999999.5) {
		snprintf(b, n, "%.0f", v);
		return;
	}
	while (v >= 999.5 && i < 5) {
		v /= 1000;
		i++;
	}
	snprintf(b, n, v < 9.995 ? "%.2f%c" : v < 99.95 ? "%.1f%c" : "%.0f%c", v, suffix[i]);
}

static void fmt_cell(char *b, size_t n, enum col c, double v)
{
	if (!(v - v == 0))
		snprintf(b, n, "inf");
	else if (c == C_REQ || c == C_IN || c == C_OUT || c == C_CACHED)
		fmt_count(b, n, v);
	else if (c == C_GPUS)
		v < 99999.95 ? (void)snprintf(b, n, "%.1f", v) : fmt_count(b, n, v);
	else /* dollars: cents are too coarse for a few requests */
		snprintf(b, n, v < 9.99995 ? "%.4f" : v < 99999.995 ? "%.2f" : "%.0f", v);
}

/* Exact numbers for json and csv: integers whole, others to 1e-10
 * without trailing zeros (no float noise such as 0.30000000000000004). */
static void fmt_exact(char *b, size_t n, double v, bool integer)
{
	size_t k;

	if (!(v - v == 0)) {
		b[0] = '\0';
		return;
	}
	/* a million groups print fourteen numbers each, most of them
	 * zeros or counts: those without printf */
	if ((integer || v == (double)(uint64_t)v) && v >= 0 && v < 1e18) {
		char tmp[24];
		uint64_t u = (uint64_t)(v + (integer ? 0.5 : 0));
		size_t i = sizeof(tmp);

		do
			tmp[--i] = (char)('0' + u % 10);
		while (u /= 10);
		if (sizeof(tmp) - i < n) {
			memcpy(b, tmp + i, sizeof(tmp) - i);
			b[sizeof(tmp) - i] = '\0';
		}
		return;
	}
	if (integer) {
		snprintf(b, n, "%.0f", v);
		return;
	}
	snprintf(b, n, "%.10f", v);
	k = strlen(b);
	while (k > 1 && b[k - 1] == '0')
		b[--k] = '\0';
	if (k > 1 && b[k - 1] == '.')
		b[--k] = '\0';
	if (!strcmp(b, "-0"))
		strcpy(b, "0");
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((uint8_t)s[i] & 0xc0) != 0x80;
	return w;
}

/* The i-th part of a group key. */
static const char *key_part(const char *key, int i, size_t *len)
{
	const char *p = key, *e;

	while (i-- > 0) {
		p = strchr(p, '\x1f');
		if (!p)
			return *len = 0, "";
		p++;
	}
	e = strchr(p, '\x1f');
	*len = e ? (size_t)(e - p) : strlen(p);
	return p;
}

static const char *device_name(const struct report *r, const char *uuid, size_t n)
{
	long i = strtab_find(&r->devs, uuid, n, key_hash(uuid, n));

	return i >= 0 ? r->dev_names[i] : NULL;
}

/* Rows to print: group indexes in order, then (other). */
struct rows {
	uint32_t *idx;
	size_t n;
	bool other;
};

static int cmp_rows(const void *a, const void *b, void *ctx)
{
	const struct report *r = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	/* by time: in order of time; else the largest spenders first */
	if (r->by[0] != K_DAY && r->by[0] != K_HOUR) {
		double ti = total_cost(&r->gsums[i]), tj = total_cost(&r->gsums[j]);

		if (ti != tj)
			return ti > tj ? -1 : 1;
		if (r->gsums[i].requests != r->gsums[j].requests)
			return r->gsums[i].requests > r->gsums[j].requests ? -1 : 1;
	}
	return strcmp(r->groups.ent[i].s, r->groups.ent[j].s);
}

static int rows_make(struct report *r, struct rows *rows)
{
	rows->n = r->groups.n;
	rows->other = r->other_records > 0;
	rows->idx = malloc((rows->n ? rows->n : 1) * sizeof(*rows->idx));
	if (!rows->idx)
		return -ENOMEM;
	for (size_t i = 0; i < rows->n; i++)
		rows->idx[i] = (uint32_t)i;
	qsort_r(rows->idx, rows->n, sizeof(*rows->idx), cmp_rows, r);
	return 0;
}

/* The sums and key of row k (the (other) row after the groups). */
static const struct sums *row_at(const struct report *r, const struct rows *rows, size_t k,
				 const char **key)
{
	if (k < rows->n) {
		*key = r->groups.ent[rows->idx[k]].s;
		return &r->gsums[rows->idx[k]];
	}
	*key = NULL;
	return &r->other;
}

/* Text of key column i of a row, for the table (a device with its name). */
static const char *table_key(const struct report *r, const char *key, int i, char *b, size_t n,
			     size_t *len)
{
	const char *p, *name;

	if (!key) {
		*len = strlen("(other)");
		return "(other)";
	}
	p = key_part(key, i, len);
	if (r->by[i] == K_DEVICE && (name = device_name(r, p, *len)) && strlen(name) != *len) {
		snprintf(b, n, "%s (%.*s)", name, (int)*len, p);
		*len = strlen(b);
		return b;
	}
	return p;
}

static bool col_shown(const struct report *r, enum col c)
{
	bool api = r->fed_api, gpu = r->fed_gpu && !gpu_empty(r);

	if (!api && !gpu) /* nothing fed either: show every column, at zero */
		return columns[c].group != G_GPU || !gpu_empty(r);
	return columns[c].group == G_ALL || (columns[c].group == G_API ? api : gpu);
}

static void table_row(const struct report *r, const struct sums *s, const char *key, bool total,
		      const size_t *w, const size_t *kw, const char *sep)
{
	char cell[64], kb[KEY_PART_MAX * 2 + 8];
	bool first = true;

	for (int c = 0; c < NCOLS; c++) {
		if (!col_shown(r, c))
			continue;
		fmt_cell(cell, sizeof(cell), c, col_value(s, c));
		fprintf(r->out, "%s%*s", first ? "" : sep, (int)w[c], cell);
		first = false;
	}
	for (int i = 0; i < r->nby; i++) {
		size_t len, width;
		const char *t;

		if (total && i)
			break; /* no padding after the label */
		if (total) {
			t = "TOTAL";
			len = strlen(t);
		} else {
			t = table_key(r, key, i, kb, sizeof(kb), &len);
		}
		fprintf(r->out, "%s%.*s", sep, (int)len, t);
		width = text_width(t, len);
		if (i + 1 < r->nby && !total) /* the last column needs no padding */
			for (; width < kw[i]; width++)
				fputc(' ', r->out);
	}
	fputc('\n', r->out);
}

static void table_notes(struct report *r)
{
	const struct sums *t = &r->total;
	char a[64], b[64], c[64];

	if (t->unpriced)
		fprintf(r->out,
			"note: %" PRIu64 " request%s had no price for the model: not in API $"
			" (docs/prices.md)\n", t->unpriced, t->unpriced == 1 ? "" : "s");
	if (t->est_requests) {
		fmt_cell(a, sizeof(a), C_IN, t->est_in);
		fmt_cell(b, sizeof(b), C_OUT, t->est_out);
		fmt_cell(c, sizeof(c), C_API, ksum_get(&t->est_api));
		fprintf(r->out,
			"note: %" PRIu64 " request%s had estimated tokens (%s in, %s out, $%s):"
			" not in the token and $ columns, which hold billed figures\n",
			t->est_requests, t->est_requests == 1 ? "" : "s", a, b, c);
	}
	if (r->other_records)
		fprintf(r->out,
			"note: %" PRIu64 " records beyond %zu groups are summed in (other)"
			" (--max-groups)\n", r->other_records, r->max_groups);
	if (r->ungrouped)
		fprintf(r->out,
			"note: GPU columns are empty when grouping by model or provider"
			" (%" PRIu64 " usage and idle cost records not shown)\n", r->ungrouped);
}

static void write_table(struct report *r, const struct rows *rows)
{
	size_t w[NCOLS] = { 0 }, kw[NKEYS] = { 0 }, line = 0, nrows = rows->n + rows->other;
	char cell[64], kb[KEY_PART_MAX * 2 + 8];
	const char *sep = "  ";
	int shown = 0;

	/* widths: the widest of header, rows and total */
	for (int c = 0; c < NCOLS; c++) {
		if (!col_shown(r, c))
			continue;
		shown++;
		w[c] = strlen(columns[c].head);
		fmt_cell(cell, sizeof(cell), c, col_value(&r->total, c));
		if (strlen(cell) > w[c])
			w[c] = strlen(cell);
		for (size_t k = 0; k < nrows; k++) {
			const char *key;

			fmt_cell(cell, sizeof(cell), c, col_value(row_at(r, rows, k, &key), c));
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
		line += w[c];
	}
	for (int i = 0; i < r->nby; i++) {
		kw[i] = strlen(key_names[r->by[i]]);
		if (!i && kw[i] < strlen("TOTAL"))
			kw[i] = strlen("TOTAL");
		for (size_t k = 0; k < nrows; k++) {
			const char *key, *t;
			size_t len;

			row_at(r, rows, k, &key);
			t = table_key(r, key, i, kb, sizeof(kb), &len);
			if (text_width(t, len) > kw[i])
				kw[i] = text_width(t, len);
		}
		line += kw[i];
	}
	/* two spaces between columns, one when that keeps the line in 80 */
	if (line + 2 * (size_t)(shown + r->nby - 1) > 80)
		sep = " ";

	/* names last, as du puts them: numbers line up whatever their length */
	for (int c = 0, first = 1; c < NCOLS; c++) {
		if (!col_shown(r, c))
			continue;
		fprintf(r->out, "%s%*s", first ? "" : sep, (int)w[c], columns[c].head);
		first = 0;
	}
	for (int i = 0; i < r->nby; i++) {
		char head[16];
		size_t j;

		for (j = 0; key_names[r->by[i]][j] && j < sizeof(head) - 1; j++)
			head[j] = (char)(key_names[r->by[i]][j] - 'a' + 'A');
		head[j] = '\0';
		fprintf(r->out, "%s%-*s", sep, i + 1 < r->nby ? (int)kw[i] : 0, head);
	}
	fputc('\n', r->out);
	for (size_t k = 0; k < nrows; k++) {
		const char *key;
		const struct sums *s = row_at(r, rows, k, &key);

		table_row(r, s, key, false, w, kw, sep);
	}
	table_row(r, &r->total, NULL, true, w, kw, sep);
	table_notes(r);
}

static void json_str(FILE *o, const char *s, size_t n)
{
	size_t run = 0;

	fputc('"', o);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		/* the plain bytes before it in one write */
		fwrite(s + run, 1, i - run, o);
		run = i + 1;
		if (c < 0x20)
			fprintf(o, "\\u%04x", c);
		else
			fprintf(o, "\\%c", c);
	}
	fwrite(s + run, 1, n - run, o);
	fputc('"', o);
}

/* The numbers of a group, in json and csv order; false: the cell is empty. */
struct figure {
	const char *name;
	double v;
	bool integer, empty;
};

#define NFIGURES 14

static void figures(const struct report *r, const struct sums *s, struct figure *f)
{
	bool ge = gpu_empty(r);
	int i = 0;

	f[i++] = (struct figure){ "requests", (double)s->requests, true, false };
	f[i++] = (struct figure){ "unpriced_requests", (double)s->unpriced, true, false };
	f[i++] = (struct figure){ "input_tokens", s->in, true, false };
	f[i++] = (struct figure){ "output_tokens", s->out, true, false };
	f[i++] = (struct figure){ "cache_read_input_tokens", s->cached, true, false };
	f[i++] = (struct figure){ "api_cost", ksum_get(&s->api), false, false };
	f[i++] = (struct figure){ "gpu_busy_seconds", ksum_get(&s->gpu_s), false, ge };
	f[i++] = (struct figure){ "gpu_cost", ksum_get(&s->gpu), false, ge };
	f[i++] = (struct figure){ "gpu_idle_cost", ksum_get(&s->idle), false, ge };
	f[i++] = (struct figure){ "total_cost", total_cost(s), false, false };
	f[i++] = (struct figure){ "estimated_requests", (double)s->est_requests, true, false };
	f[i++] = (struct figure){ "estimated_input_tokens", s->est_in, true, false };
	f[i++] = (struct figure){ "estimated_output_tokens", s->est_out, true, false };
	f[i++] = (struct figure){ "estimated_api_cost", ksum_get(&s->est_api), false, false };
}

static void json_figures(FILE *o, const struct report *r, const struct sums *s)
{
	struct figure f[NFIGURES];
	char line[NFIGURES * 96], b[64];
	size_t k = 0;

	/* one write per group: stdio calls per field cost more than the rest */
	figures(r, s, f);
	for (int i = 0; i < NFIGURES; i++) {
		fmt_exact(b, sizeof(b), f[i].v, f[i].integer);
		k += (size_t)snprintf(line + k, sizeof(line) - k, "%s\"%s\":%s", i ? "," : "",
				      f[i].name, f[i].empty || !b[0] ? "null" : b);
	}
	fwrite(line, 1, k, o);
}

static void json_time(FILE *o, bool have, int64_t t)
{
	char b[48];

	if (!have || t == INT64_MIN || t == INT64_MAX) {
		fputs("null", o);
		return;
	}
	format_time(t, T_FULL, b, sizeof(b));
	json_str(o, b, strlen(b));
}

static void write_json(struct report *r, const struct rows *rows)
{
	FILE *o = r->out;

	fputs("{\"by\":[", o);
	for (int i = 0; i < r->nby; i++)
		fprintf(o, "%s\"%s\"", i ? "," : "", key_names[r->by[i]]);
	fputs("],\"from\":", o);
	json_time(o, r->have_from, r->from);
	fputs(",\"to\":", o);
	json_time(o, r->have_to, r->to);
	fputs(",\"currency\":\"USD\",\"groups\":[", o);
	for (size_t k = 0; k < rows->n + rows->other; k++) {
		const char *key;
		const struct sums *s = row_at(r, rows, k, &key);

		fputs(k ? ",\n{" : "\n{", o);
		for (int i = 0; i < r->nby; i++) {
			size_t len;
			const char *p = key ? key_part(key, i, &len) : "(other)", *name;

			if (!key)
				len = strlen(p);
			fprintf(o, "\"%s\":", key_names[r->by[i]]);
			json_str(o, p, len);
			if (r->by[i] == K_DEVICE) {
				fputs(",\"device_name\":", o);
				if (key && (name = device_name(r, p, len)))
					json_str(o, name, strlen(name));
				else
					fputs("null", o);
			}
			fputc(',', o);
		}
		json_figures(o, r, s);
		fputc('}', o);
	}
	fputs("],\n\"total\":{", o);
	json_figures(o, r, &r->total);
	fprintf(o,
		"},\n\"input\":{\"files\":%" PRIu64 ",\"files_unreadable\":%" PRIu64
		",\"lines\":%" PRIu64 ",\"records\":%" PRIu64 ",\"malformed\":%" PRIu64
		",\"too_long\":%" PRIu64 ",\"out_of_range\":%" PRIu64
		",\"other_records\":%" PRIu64 ",\"ungrouped\":%" PRIu64 "}}\n",
		r->files_read, r->files_failed, r->lines, r->records, r->malformed, r->too_long,
		r->out_of_range, r->other_records, r->ungrouped);
}

static void csv_figures(FILE *o, const struct report *r, const struct sums *s)
{
	struct figure f[NFIGURES];
	char b[64];

	figures(r, s, f);
	for (int i = 0; i < NFIGURES; i++) {
		fmt_exact(b, sizeof(b), f[i].v, f[i].integer);
		fputc(',', o);
		if (!f[i].empty)
			fputs(b, o);
	}
	fputc('\n', o);
}

static void write_csv(struct report *r, const struct rows *rows)
{
	struct figure f[NFIGURES];
	FILE *o = r->out;

	for (int i = 0; i < r->nby; i++) {
		fprintf(o, "%s%s", i ? "," : "", key_names[r->by[i]]);
		if (r->by[i] == K_DEVICE)
			fputs(",device_name", o);
	}
	figures(r, &r->total, f);
	for (int i = 0; i < NFIGURES; i++)
		fprintf(o, ",%s", f[i].name);
	fputc('\n', o);
	for (size_t k = 0; k <= rows->n + rows->other; k++) {
		bool total = k == rows->n + rows->other;
		const char *key = NULL;
		const struct sums *s = total ? &r->total : row_at(r, rows, k, &key);

		for (int i = 0; i < r->nby; i++) {
			size_t len;
			const char *p, *name = NULL;

			/* the totals row: marked in the first key column only */
			if (total)
				p = i ? "" : "(total)", len = strlen(p);
			else if (!key)
				p = "(other)", len = strlen(p);
			else
				p = key_part(key, i, &len), name = NULL;
			if (i)
				fputc(',', o);
			csv_put(o, p, len);
			if (r->by[i] == K_DEVICE) {
				fputc(',', o);
				if (key && !total && (name = device_name(r, p, len)))
					csv_put(o, name, strlen(name));
			}
		}
		csv_figures(o, r, s);
	}
}

static void focus_header(struct report *r)
{
	for (int i = FOCUS_FIRST; i < NFIELDS; i++)
		fprintf(r->out, "%s%s", i > FOCUS_FIRST ? "," : "", fields[i].name);
	fputc('\n', r->out);
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: infertrace report [OPTIONS] [FILE...]\n"
		"\n"
		"Totals of API requests, tokens, GPU time and cost from infertrace JSON\n"
		"lines. FILEs may be gzip-compressed (told by their first bytes); none or\n"
		"'-' reads stdin. Which records feed which column: docs/report.md.\n"
		"\n"
		"  -b, --by KEY[,KEY...]  group by workload (default), process (comm[pid]),\n"
		"                         comm, model, provider, device, day, hour (UTC)\n"
		"      --from TIME        only records from TIME on (RFC 3339 or YYYY-MM-DD)\n"
		"      --to TIME          only records before TIME\n"
		"      --format FMT       table (default), json, csv, or focus (the cost\n"
		"                         rows as FOCUS CSV, for FinOps tools)\n"
		"  -j, --json             the same as --format json\n"
		"  -o, --output FILE      write to FILE instead of stdout\n"
		"      --max-groups N     at most N groups; the rest are summed in (other)\n"
		"                         (default %u)\n"
		"  -h, --help             show this help\n"
		"\n"
		"A record counts when its time falls in [--from, --to): a usage record's\n"
		"interval_start, a cost row's ChargePeriodStart, else its time.\n"
		"Lines that are not records are skipped and counted (the first %d shown\n"
		"on stderr). Exits 0 when some input was read, 1 when none could be,\n"
		"2 on a usage error.\n",
		DEFAULT_MAX_GROUPS, ERRORS_SHOWN);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'infertrace report --help'.\n");
	return 2;
}

static int parse_by(struct report *r, const char *arg)
{
	const char *p = arg;

	r->nby = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		int k;

		for (k = 0; k < NKEYS; k++)
			if (strlen(key_names[k]) == n && !strncmp(p, key_names[k], n))
				break;
		if (k == NKEYS) {
			fprintf(stderr,
				PROG ": --by: unknown key '%.*s' (workload, process, comm, model,"
				" provider, device, day or hour)\nTry 'infertrace report --help'.\n",
				(int)n, p);
			return 2;
		}
		for (int i = 0; i < r->nby; i++)
			if (r->by[i] == (enum bykey)k)
				return usage_error("--by: '%s' given twice", key_names[k]);
		r->by[r->nby++] = (enum bykey)k;
		if (k == K_DEVICE)
			r->by_device = true;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

static int parse_limit(const char *opt, const char *arg, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < 1 || v > 100000000) {
		fprintf(stderr, PROG ": %s: '%s' is not a number from 1 to 100000000\n"
				"Try 'infertrace report --help'.\n", opt, arg);
		return 2;
	}
	*out = (size_t)v;
	return 0;
}

static int parse_bound(const char *opt, const char *arg, int64_t *t)
{
	if (parse_time(arg, strlen(arg), true, t) == TIME_BAD) {
		fprintf(stderr,
			PROG ": %s: '%s' is not a time: give RFC 3339 (2026-11-27T01:46:21Z,"
			" 2026-11-27T03:46:21+02:00) or a UTC date (2026-11-27)\n"
			"Try 'infertrace report --help'.\n", opt, arg);
		return 2;
	}
	return 0; /* out of range saturates: --to 9999-12-31 means no end */
}

enum { OPT_FROM = 256, OPT_TO, OPT_FORMAT, OPT_MAX_GROUPS };

static int parse_args(struct report *r, int argc, char **argv, const char **outpath)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "max-groups", required_argument, NULL, OPT_MAX_GROUPS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool by_given = false;
	int c, rc;

	optind = 0; /* GNU: start over, cmd_report may run more than once */
	while ((c = getopt_long(argc, argv, ":b:jo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if ((rc = parse_by(r, optarg)))
				return rc;
			by_given = true;
			break;
		case OPT_FROM:
			if ((rc = parse_bound("--from", optarg, &r->from)))
				return rc;
			r->have_from = true;
			break;
		case OPT_TO:
			if ((rc = parse_bound("--to", optarg, &r->to)))
				return rc;
			r->have_to = true;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "table"))
				r->fmt = FMT_TABLE;
			else if (!strcmp(optarg, "json"))
				r->fmt = FMT_JSON;
			else if (!strcmp(optarg, "csv"))
				r->fmt = FMT_CSV;
			else if (!strcmp(optarg, "focus"))
				r->fmt = FMT_FOCUS;
			else
				return usage_error("--format: '%s' is not table, json, csv or focus",
						   optarg);
			break;
		case 'j':
			r->fmt = FMT_JSON;
			break;
		case 'o':
			*outpath = optarg;
			break;
		case OPT_MAX_GROUPS:
			if ((rc = parse_limit("--max-groups", optarg, &r->max_groups)))
				return rc;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt && optopt < 256) {
				char o[3] = { '-', (char)optopt, '\0' };

				return usage_error("unknown option '%s'", o);
			}
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (r->have_from && r->have_to && r->from >= r->to)
		return usage_error("%s", "--from must be before --to");
	if (r->fmt == FMT_FOCUS && by_given)
		return usage_error("%s", "--by does not apply to --format focus, which writes the"
					 " cost rows as they are");
	return 0;
}

static void report_free(struct report *r)
{
	for (size_t i = 0; i < r->devs.n; i++)
		free(r->dev_names[i]);
	free(r->dev_names);
	strtab_free(&r->devs);
	strtab_free(&r->groups);
	free(r->gsums);
	free(r->buf);
	free(r->scratch);
}

int cmd_report(int argc, char **argv)
{
	struct report r = {
		.by = { K_WORKLOAD },
		.nby = 1,
		.max_line = DEFAULT_MAX_LINE,
		.max_groups = DEFAULT_MAX_GROUPS,
		.out = stdout,
	};
	const char *outpath = NULL;
	struct rows rows = { 0 };
	int rc;

	rc = parse_args(&r, argc, argv, &outpath);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!fieldmap_ready)
		fieldmap_init();
	r.cap = 2 * READ_CHUNK + 1;
	r.buf = calloc(1, r.cap + READ_SLACK);
	/* a decoded string is never longer than its line */
	r.scratch_cap = r.max_line + 1;
	r.scratch = r.fmt == FMT_FOCUS ? malloc(r.scratch_cap) : NULL;
	if (!r.buf || (r.fmt == FMT_FOCUS && !r.scratch)) {
		fprintf(stderr, PROG ": out of memory\n");
		report_free(&r);
		return 1;
	}
	if (outpath && !(r.out = fopen(outpath, "w"))) {
		fprintf(stderr, PROG ": %s: %s\n", outpath, strerror(errno));
		report_free(&r);
		return 1;
	}
	if (r.fmt == FMT_FOCUS)
		focus_header(&r);
	if (optind >= argc) {
		if (read_file(&r, "-"))
			r.files_read++;
		else
			r.files_failed++;
	}
	for (int i = optind; i < argc; i++) {
		if (read_file(&r, argv[i]))
			r.files_read++;
		else
			r.files_failed++;
	}
	if (r.malformed)
		fprintf(stderr, PROG ": %" PRIu64 " malformed line%s skipped%s\n", r.malformed,
			r.malformed == 1 ? "" : "s",
			r.malformed > ERRORS_SHOWN ? " (the first " "10" " shown)" : "");
	if (r.newer_schema)
		fprintf(stderr,
			PROG ": %" PRIu64 " records have a schema_version above 1: fields may have"
			" changed meaning; use a newer infertrace\n", r.newer_schema);
	rc = 0;
	if (!r.files_read) {
		rc = 1;
	} else if (r.fmt != FMT_FOCUS) {
		if (rows_make(&r, &rows)) {
			fprintf(stderr, PROG ": out of memory\n");
			rc = 1;
		} else if (r.fmt == FMT_TABLE) {
			write_table(&r, &rows);
		} else if (r.fmt == FMT_JSON) {
			write_json(&r, &rows);
		} else {
			write_csv(&r, &rows);
			/* csv is for machines: the notes go to stderr */
			if (r.total.unpriced)
				fprintf(stderr, PROG ": %" PRIu64 " request%s had no price for the"
						" model\n", r.total.unpriced,
					r.total.unpriced == 1 ? "" : "s");
			if (r.other_records)
				fprintf(stderr, PROG ": %" PRIu64 " records beyond %zu groups are"
						" summed in (other)\n", r.other_records, r.max_groups);
		}
	}
	free(rows.idx);
	if (fflush(r.out) || ferror(r.out)) {
		fprintf(stderr, PROG ": %s: write error: %s\n", outpath ? outpath : "stdout",
			strerror(errno));
		rc = 1;
	}
	if (outpath)
		fclose(r.out);
	report_free(&r);
	return rc;
}

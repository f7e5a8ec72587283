// SPDX-License-Identifier: MIT
/*
 * Price tables (format: docs/prices.md): read JSON files with cJSON, check
 * every field an operator can get wrong, layer the files and answer
 * lookups.
 *
 * cJSON says nothing about where a value sits in the text, and an operator
 * fixing a 600-line table wants line numbers. So each file is read twice:
 * cJSON builds the tree, and a small scanner (posidx_*) walks the same
 * text and records the line of every value under its path
 * ("models[3].match.regex[1]"). Problems found while checking the tree
 * are located by path through that index.
 *
 * A loaded table is immutable: lookups take it const and allocate nothing,
 * so one table can serve every thread until the next reload replaces it.
 */
#include "cost/prices.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define MAX_FILE_BYTES (16u << 20) /* a price table is kilobytes; refuse a wrong file early */
#define PATH_MAX_LEN 512

/* ------------------------------------------------------------------ */
/* problems                                                             */

void price_problems_free(struct price_problems *p)
{
	if (!p)
		return;
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

void price_problems_print(const struct price_problems *p, FILE *f)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		const struct price_problem *q = &p->v[i];

		fputs(q->path, f);
		if (q->line > 0)
			fprintf(f, ":%d", q->line);
		if (q->field[0])
			fprintf(f, ": %s", q->field);
		fprintf(f, ": %s\n", q->message);
	}
}

static void problem_vadd(struct price_problems *p, const char *path, int line, const char *field,
			 const char *fmt, va_list ap)
{
	struct price_problem *q;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct price_problem *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return; /* out of memory: the load fails anyway, one line fewer */
		p->v = v;
		p->cap = cap;
	}
	q = &p->v[p->n++];
	snprintf(q->path, sizeof(q->path), "%s", path);
	q->line = line;
	snprintf(q->field, sizeof(q->field), "%s", field ? field : "");
	vsnprintf(q->message, sizeof(q->message), fmt, ap);
}

static void problem_add(struct price_problems *p, const char *path, int line, const char *field,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem_add(struct price_problems *p, const char *path, int line, const char *field,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_vadd(p, path, line, field, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* arena: every string and compiled regex of a table lives until prices_free */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
	bool failed;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->head;
	size_t al = sizeof(max_align_t);

	n = (n + al - 1) / al * al;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 16384 ? n : 16384;

		c = malloc(sizeof(*c) + cap);
		if (!c) {
			a->failed = true;
			return NULL;
		}
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(a, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
}

/* A growable string, for the listing descriptions. */
struct sbuf {
	char *s;
	size_t n, cap;
};

static void sbuf_add(struct sbuf *b, const char *s)
{
	size_t k = strlen(s);

	if (b->n + k + 1 > b->cap) {
		size_t cap = (b->n + k + 1) * 2;
		char *p = realloc(b->s, cap);

		if (!p)
			return;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, k + 1);
	b->n += k;
}

/* ------------------------------------------------------------------ */
/* position index                                                       */

struct pos {
	char *path;
	int line;  /* of the value */
	int kline; /* of the member's key (= line for array elements and the root) */
};

struct posidx {
	struct pos *v;
	size_t n, cap;
};

static void posidx_free(struct posidx *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		free(ix->v[i].path);
	free(ix->v);
	ix->v = NULL;
	ix->n = ix->cap = 0;
}

static void posidx_put(struct posidx *ix, const char *path, int line, int kline)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 256;
		struct pos *v = realloc(ix->v, cap * sizeof(*v));

		if (!v)
			return; /* lines become 0 ("unknown"); the load still reports */
		ix->v = v;
		ix->cap = cap;
	}
	ix->v[ix->n].path = strdup(path);
	if (!ix->v[ix->n].path)
		return;
	ix->v[ix->n].line = line;
	ix->v[ix->n].kline = kline;
	ix->n++;
}

/*
 * The line of path (of its key when at_key). A path the scanner did not see
 * (a missing member) falls back to its nearest recorded ancestor: the line
 * of the object that lacks it. Lookups happen only when reporting a
 * problem, so a linear search is plenty.
 */
static int posidx_line(const struct posidx *ix, const char *path, bool at_key)
{
	char buf[PATH_MAX_LEN];

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		for (size_t i = 0; i < ix->n; i++)
			if (!strcmp(ix->v[i].path, buf))
				return at_key ? ix->v[i].kline : ix->v[i].line;
		if (!buf[0])
			return 0;
		/* strip the last ".key" or "[i]" */
		char *dot = strrchr(buf, '.'), *br = strrchr(buf, '[');
		char *cut = dot > br ? dot : br;

		if (!cut)
			buf[0] = '\0';
		else
			*cut = '\0';
		at_key = false;
	}
}

/*
 * The scanner runs only on text cJSON accepted, so it can trust the
 * grammar and just keep count of lines. It also reports duplicate keys in
 * an object, which cJSON keeps silently (a lookup sees only the first).
 */
struct scan {
	const char *s;
	size_t n, i;
	int line;
	struct posidx *ix;
	struct price_problems *probs;
	const char *file;
};

static void scan_ws(struct scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];

		if (c == '\n')
			sc->line++;
		else if (c != ' ' && c != '\t' && c != '\r')
			break;
		sc->i++;
	}
}

static void utf8_put(char *out, size_t cap, size_t *k, unsigned cp)
{
	char tmp[4];
	size_t n;

	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | cp >> 6);
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | cp >> 12);
		tmp[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | cp >> 18);
		tmp[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		tmp[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (size_t j = 0; j < n && *k + 1 < cap; j++)
		out[(*k)++] = tmp[j];
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;

	for (int j = 0; j < 4; j++) {
		char c = p[j];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
	}
	return v;
}

/* A string at sc->i (on its quote), decoded the way cJSON decodes keys so
 * that paths built from either side compare equal. */
static void scan_string(struct scan *sc, char *out, size_t cap)
{
	size_t k = 0;

	sc->i++; /* opening quote */
	while (sc->i < sc->n && sc->s[sc->i] != '"') {
		char c = sc->s[sc->i];

		if (c == '\\' && sc->i + 1 < sc->n) {
			char e = sc->s[sc->i + 1];
			unsigned cp;

			sc->i += 2;
			switch (e) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				if (sc->i + 4 > sc->n)
					return;
				cp = hex4(sc->s + sc->i);
				sc->i += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && sc->i + 6 <= sc->n &&
				    sc->s[sc->i] == '\\' && sc->s[sc->i + 1] == 'u') {
					unsigned lo = hex4(sc->s + sc->i + 2);

					sc->i += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (out)
					utf8_put(out, cap, &k, cp);
				continue;
			default: c = e; break;
			}
			if (out && k + 1 < cap)
				out[k++] = c;
			continue;
		}
		if (out && k + 1 < cap)
			out[k++] = c;
		sc->i++;
	}
	sc->i++; /* closing quote */
	if (out)
		out[k] = '\0';
}

static void scan_value(struct scan *sc, char *path, size_t plen, int kline, int depth);

static void scan_object(struct scan *sc, char *path, size_t plen, int depth)
{
	char **keys = NULL;
	int *klines = NULL;
	size_t nkeys = 0;

	sc->i++; /* { */
	for (;;) {
		char key[256];
		int kline;
		size_t clen;

		scan_ws(sc);
		if (sc->i >= sc->n || sc->s[sc->i] == '}')
			break;
		if (sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		kline = sc->line;
		scan_string(sc, key, sizeof(key));
		clen = plen;
		if (plen)
			clen += (size_t)snprintf(path + plen, PATH_MAX_LEN - plen, ".%s", key);
		else
			clen += (size_t)snprintf(path, PATH_MAX_LEN, "%s", key);
		if (clen >= PATH_MAX_LEN)
			clen = PATH_MAX_LEN - 1;
		for (size_t j = 0; j < nkeys; j++) {
			if (!strcmp(keys[j], key)) {
				problem_add(sc->probs, sc->file, kline, path,
					    "duplicate key (also at line %d); only the first one is used",
					    klines[j]);
				break;
			}
		}
		{
			char **nk = realloc(keys, (nkeys + 1) * sizeof(*keys));
			int *nl = realloc(klines, (nkeys + 1) * sizeof(*klines));

			if (nk)
				keys = nk;
			if (nl)
				klines = nl;
			if (nk && nl) {
				keys[nkeys] = strdup(key);
				klines[nkeys] = kline;
				if (keys[nkeys])
					nkeys++;
			}
		}
		scan_ws(sc);
		if (sc->i < sc->n && sc->s[sc->i] == ':')
			sc->i++;
		scan_ws(sc);
		scan_value(sc, path, clen, kline, depth + 1);
		path[plen] = '\0';
	}
	sc->i++; /* } */
	for (size_t j = 0; j < nkeys; j++)
		free(keys[j]);
	free(keys);
	free(klines);
}

static void scan_array(struct scan *sc, char *path, size_t plen, int depth)
{
	size_t idx = 0;

	sc->i++; /* [ */
	for (;;) {
		size_t clen;

		scan_ws(sc);
		if (sc->i >= sc->n || sc->s[sc->i] == ']')
			break;
		if (sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		clen = plen + (size_t)snprintf(path + plen, PATH_MAX_LEN - plen, "[%zu]", idx++);
		if (clen >= PATH_MAX_LEN)
			clen = PATH_MAX_LEN - 1;
		scan_value(sc, path, clen, sc->line, depth + 1);
		path[plen] = '\0';
	}
	sc->i++; /* ] */
}

static void scan_value(struct scan *sc, char *path, size_t plen, int kline, int depth)
{
	char c;

	scan_ws(sc);
	if (sc->i >= sc->n)
		return;
	posidx_put(sc->ix, path, sc->line, kline);
	c = sc->s[sc->i];
	if (depth > 200) /* cJSON allows 1000; tables need a handful */
		return;
	if (c == '{') {
		scan_object(sc, path, plen, depth);
	} else if (c == '[') {
		scan_array(sc, path, plen, depth);
	} else if (c == '"') {
		scan_string(sc, NULL, 0);
	} else {
		while (sc->i < sc->n && !strchr(",}] \t\r\n", sc->s[sc->i]))
			sc->i++;
	}
}

static void posidx_build(struct posidx *ix, const char *text, size_t n, struct price_problems *probs,
			 const char *file)
{
	char path[PATH_MAX_LEN] = "";
	struct scan sc = { .s = text, .n = n, .line = 1, .ix = ix, .probs = probs, .file = file };

	if (n >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		sc.i = 3; /* a UTF-8 byte order mark, which cJSON skips too */
	scan_value(&sc, path, 0, 1, 0);
}

/* ------------------------------------------------------------------ */
/* the table                                                            */

enum { V_BATCH, V_PRIORITY, V_FLEX, V_N };
static const char *const variant_key[V_N] = { "batch", "priority", "flex" };

enum { VK_NONE, VK_MULT, VK_RATES };

/* USD per million tokens, as the files write them. */
struct rates {
	double in, out, cr, cw5, cw1h, rs;
};

struct variant {
	int kind;
	double mult;
	struct rates r;
};

struct tier {
	const char *name;
	int64_t above;
	struct rates r;
	struct variant v[V_N];
};

struct rules {
	const char **exact;
	size_t nexact;
	const char **prefix;
	size_t nprefix;
	regex_t **re;
	size_t nre;
	const char *desc;
};

struct model {
	const char *id, *source, *prov_desc, *tier_desc, *var_desc;
	const char **prov;
	size_t nprov;
	bool any_prov;
	struct rules m;
	struct rates base;
	struct variant v[V_N];
	struct tier *tiers;
	size_t ntiers;
	int file;
	size_t order;
	bool dead; /* replaced by a later file's entry of the same id */
};

struct accel {
	const char *id, *key, *source, *provider, *instance;
	struct rules m;
	bool is_default;
	double usd_per_hour;
	int host; /* index into hosts, -1 for the general rows */
	int file;
	size_t order;
	bool dead;
};

struct host {
	const char *name;  /* hostname, or NULL */
	regex_t *re;       /* hostname_regex, or NULL */
	const char *desc;  /* "gpu-node-1" or "~gpu-node-[0-9]+" */
	int file;
};

struct tfile {
	const char *path, *version, *currency;
};

struct price_table {
	struct arena arena;
	struct tfile *files;
	size_t nfiles;
	struct model *models;
	size_t nmodels, capm;
	struct accel *accels;
	size_t naccels, capa;
	struct host *hosts;
	size_t nhosts, caph;
	regex_t **regs; /* every compiled regex, for regfree */
	size_t nregs, capr;
	/* live (not replaced) entries, in file order, for counts and listings */
	size_t *live_m, nlive_m;
	size_t *live_a, nlive_a;
};

void prices_free(struct price_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nregs; i++)
		regfree(t->regs[i]);
	free(t->regs);
	for (size_t i = 0; i < t->nmodels; i++)
		free(t->models[i].tiers);
	free(t->models);
	free(t->accels);
	free(t->hosts);
	free(t->files);
	free(t->live_m);
	free(t->live_a);
	arena_free(&t->arena);
	free(t);
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 32;
	p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

/* ------------------------------------------------------------------ */
/* checking one file                                                    */

struct ctx {
	struct price_table *t;
	struct price_problems *probs;
	const char *file;
	int fidx;
	struct posidx ix;
};

static void perr(struct ctx *c, const char *field, bool at_key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void perr(struct ctx *c, const char *field, bool at_key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_vadd(c->probs, c->file, posidx_line(&c->ix, field, at_key), field, fmt, ap);
	va_end(ap);
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "invalid";
}

/* base + "." + key ("key" at the root), truncated to cap. */
static void join(char *out, size_t cap, const char *base, const char *key)
{
	size_t bl = strlen(base), kl = strlen(key), k = 0;

	if (bl > cap - 1)
		bl = cap - 1;
	memmove(out, base, bl);
	k = bl;
	if (bl && k < cap - 1)
		out[k++] = '.';
	if (kl > cap - 1 - k)
		kl = cap - 1 - k;
	memcpy(out + k, key, kl);
	out[k + kl] = '\0';
}

/* base + "[i]", truncated to cap like every path here (paths are for
 * messages; a long one loses its tail, never the program). */
static void index_path(char *out, size_t cap, const char *base, size_t i)
{
	char num[24];
	size_t bl = strlen(base), nl = (size_t)snprintf(num, sizeof(num), "[%zu]", i);

	if (bl > cap - 1)
		bl = cap - 1;
	memmove(out, base, bl);
	if (nl > cap - 1 - bl)
		nl = cap - 1 - bl;
	memcpy(out + bl, num, nl);
	out[bl + nl] = '\0';
}

/* Edit distance, to suggest the key a typo meant. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

/* Unknown keys are errors: a misspelt price would otherwise be silently
 * replaced by its default. */
static void check_keys(struct ctx *c, const cJSON *obj, const char *path, const char *const *allowed)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, obj) {
		char f[PATH_MAX_LEN];
		const char *best = NULL;
		size_t bestd = 3;
		bool ok = false;

		for (size_t i = 0; allowed[i]; i++) {
			size_t d;

			if (!strcmp(it->string, allowed[i])) {
				ok = true;
				break;
			}
			d = edit_distance(it->string, allowed[i]);
			if (d < bestd) {
				bestd = d;
				best = allowed[i];
			}
		}
		if (ok)
			continue;
		join(f, sizeof(f), path, it->string);
		if (best)
			perr(c, f, true, "unknown key; did you mean \"%s\"?", best);
		else
			perr(c, f, true, "unknown key");
	}
}

static const char *get_string(struct ctx *c, const cJSON *obj, const char *path, const char *key,
			      bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char f[PATH_MAX_LEN];
	const char *s;

	join(f, sizeof(f), path, key);
	if (!v) {
		if (required)
			perr(c, f, false, "missing (required)");
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		perr(c, f, false, "must be a string, not %s", type_name(v));
		return NULL;
	}
	s = v->valuestring;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s) {
		perr(c, f, false, "must not be empty");
		return NULL;
	}
	return v->valuestring;
}

/* A price: a finite number >= 0. Returns true when present and valid. */
static bool get_price(struct ctx *c, const cJSON *obj, const char *path, const char *key,
		      bool required, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char f[PATH_MAX_LEN];

	join(f, sizeof(f), path, key);
	if (!v) {
		if (required)
			perr(c, f, false, "missing (required)");
		return false;
	}
	if (!cJSON_IsNumber(v)) {
		perr(c, f, false, "must be a number (USD), not %s%s", type_name(v),
		     cJSON_IsString(v) ? "; write 2.5, not \"2.5\"" : "");
		return false;
	}
	if (!isfinite(v->valuedouble)) {
		perr(c, f, false, "must be a finite number");
		return false;
	}
	if (v->valuedouble < 0) {
		perr(c, f, false, "must not be negative (is %g)", v->valuedouble);
		return false;
	}
	*out = v->valuedouble;
	return true;
}

static bool valid_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 2000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	return true;
}

static const char *const rate_keys[] = {
	"input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
	"cache_write_5m_per_mtok", "cache_write_1h_per_mtok", "reasoning_per_mtok",
};

/*
 * A set of rates: input and output required, the rest default within the
 * set (cache reads and writes to its input, reasoning to its output), so a
 * tier or an explicit variant stands on its own.
 */
static bool parse_rates(struct ctx *c, const cJSON *obj, const char *path, struct rates *r)
{
	bool ok = true;
	double v[6];
	bool has[6];

	for (int i = 0; i < 6; i++) {
		size_t before = c->probs->n;

		has[i] = get_price(c, obj, path, rate_keys[i], i < 2, &v[i]);
		if (c->probs->n != before)
			ok = false;
	}
	if (!has[0] || !has[1])
		return false;
	r->in = v[0];
	r->out = v[1];
	r->cr = has[2] ? v[2] : v[0];
	r->cw5 = has[3] ? v[3] : v[0];
	r->cw1h = has[4] ? v[4] : v[0];
	r->rs = has[5] ? v[5] : v[1];
	return ok;
}

static bool has_any_rate(const cJSON *obj)
{
	for (int i = 0; i < 6; i++)
		if (cJSON_GetObjectItemCaseSensitive(obj, rate_keys[i]))
			return true;
	return false;
}

static void parse_variant(struct ctx *c, const cJSON *v, const char *path, struct variant *out)
{
	static const char *const allowed[] = {
		"multiplier", "input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
		"cache_write_5m_per_mtok", "cache_write_1h_per_mtok", "reasoning_per_mtok",
		"note", NULL,
	};
	const cJSON *m;
	char f[PATH_MAX_LEN];

	if (!cJSON_IsObject(v)) {
		perr(c, path, false,
		     "must be an object: {\"multiplier\": 0.5} or explicit *_per_mtok rates, not %s",
		     type_name(v));
		return;
	}
	check_keys(c, v, path, allowed);
	m = cJSON_GetObjectItemCaseSensitive(v, "multiplier");
	if (m) {
		join(f, sizeof(f), path, "multiplier");
		if (has_any_rate(v)) {
			perr(c, f, true, "give either \"multiplier\" or explicit rates, not both");
			return;
		}
		if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) || m->valuedouble <= 0) {
			perr(c, f, false, "must be a number above 0 (0.5 for half price)");
			return;
		}
		out->kind = VK_MULT;
		out->mult = m->valuedouble;
		return;
	}
	if (!has_any_rate(v)) {
		perr(c, path, false, "needs \"multiplier\" or explicit *_per_mtok rates");
		return;
	}
	if (parse_rates(c, v, path, &out->r))
		out->kind = VK_RATES;
}

static void parse_variants(struct ctx *c, const cJSON *obj, const char *path, struct variant *v)
{
	for (int i = 0; i < V_N; i++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, variant_key[i]);
		char f[PATH_MAX_LEN];

		v[i].kind = VK_NONE;
		if (!x)
			continue;
		join(f, sizeof(f), path, variant_key[i]);
		parse_variant(c, x, f, &v[i]);
	}
}

static regex_t *compile_regex(struct ctx *c, const char *src, const char *field)
{
	regex_t *re = arena_alloc(&c->t->arena, sizeof(*re));
	size_t n = strlen(src) + 5;
	char *anch = malloc(n);
	int rc;

	if (!re || !anch || !grow((void **)&c->t->regs, &c->t->capr, c->t->nregs, sizeof(regex_t *))) {
		free(anch);
		perr(c, field, false, "out of memory");
		return NULL;
	}
	/* Anchored: a rule names whole model ids, never a substring of one. */
	snprintf(anch, n, "^(%s)$", src);
	rc = regcomp(re, anch, REG_EXTENDED | REG_NOSUB | REG_ICASE);
	free(anch);
	if (rc) {
		char msg[128];

		regerror(rc, re, msg, sizeof(msg));
		perr(c, field, false, "invalid regular expression (POSIX ERE): %s", msg);
		return NULL;
	}
	c->t->regs[c->t->nregs++] = re;
	return re;
}

/* A string or a non-empty array of non-empty strings; NULL on problems. */
static const char **string_list(struct ctx *c, const cJSON *v, const char *path, size_t *n)
{
	const char **out;
	size_t k = 0, cnt;

	*n = 0;
	if (cJSON_IsString(v)) {
		if (!v->valuestring[0]) {
			perr(c, path, false, "must not be empty");
			return NULL;
		}
		out = arena_alloc(&c->t->arena, sizeof(*out));
		if (!out)
			return NULL;
		out[0] = arena_strdup(&c->t->arena, v->valuestring);
		*n = 1;
		return out;
	}
	if (!cJSON_IsArray(v)) {
		perr(c, path, false, "must be a string or an array of strings, not %s", type_name(v));
		return NULL;
	}
	cnt = (size_t)cJSON_GetArraySize(v);
	if (!cnt) {
		perr(c, path, false, "must not be an empty array");
		return NULL;
	}
	out = arena_alloc(&c->t->arena, cnt * sizeof(*out));
	if (!out)
		return NULL;
	for (const cJSON *it = v->child; it; it = it->next, k++) {
		char f[PATH_MAX_LEN];

		index_path(f, sizeof(f), path, k);
		if (!cJSON_IsString(it)) {
			perr(c, f, false, "must be a string, not %s", type_name(it));
			return NULL;
		}
		if (!it->valuestring[0]) {
			perr(c, f, false, "must not be empty");
			return NULL;
		}
		out[k] = arena_strdup(&c->t->arena, it->valuestring);
	}
	*n = cnt;
	return out;
}

static bool parse_rules(struct ctx *c, const cJSON *obj, const char *path, struct rules *r)
{
	static const char *const allowed[] = { "exact", "prefix", "regex", NULL };
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "match");
	const cJSON *e, *p, *x;
	char f[PATH_MAX_LEN], g[PATH_MAX_LEN];
	struct sbuf d = { 0 };
	int kinds;

	memset(r, 0, sizeof(*r));
	join(f, sizeof(f), path, "match");
	if (!m) {
		perr(c, f, false, "missing (required): {\"exact\"|\"prefix\"|\"regex\": ...}");
		return false;
	}
	if (!cJSON_IsObject(m)) {
		perr(c, f, false, "must be an object with one of \"exact\", \"prefix\", \"regex\", not %s",
		     type_name(m));
		return false;
	}
	check_keys(c, m, f, allowed);
	e = cJSON_GetObjectItemCaseSensitive(m, "exact");
	p = cJSON_GetObjectItemCaseSensitive(m, "prefix");
	x = cJSON_GetObjectItemCaseSensitive(m, "regex");
	kinds = !!e + !!p + !!x;
	if (kinds > 1) {
		perr(c, f, false, "has %d rule kinds; give exactly one of \"exact\", \"prefix\", "
				  "\"regex\" (split the entry in two)", kinds);
		return false;
	}
	if (!kinds) {
		perr(c, f, false, "has no rule; give exactly one of \"exact\", \"prefix\", \"regex\"");
		return false;
	}
	if (e) {
		join(g, sizeof(g), f, "exact");
		r->exact = string_list(c, e, g, &r->nexact);
		if (!r->exact)
			return false;
		sbuf_add(&d, "exact ");
		for (size_t i = 0; i < r->nexact; i++) {
			sbuf_add(&d, i ? " | " : "");
			sbuf_add(&d, r->exact[i]);
		}
	} else if (p) {
		join(g, sizeof(g), f, "prefix");
		r->prefix = string_list(c, p, g, &r->nprefix);
		if (!r->prefix)
			return false;
		sbuf_add(&d, "prefix ");
		for (size_t i = 0; i < r->nprefix; i++) {
			sbuf_add(&d, i ? " | " : "");
			sbuf_add(&d, r->prefix[i]);
		}
	} else {
		const char **src;
		size_t n;
		bool ok = true;

		join(g, sizeof(g), f, "regex");
		src = string_list(c, x, g, &n);
		if (!src)
			return false;
		r->re = arena_alloc(&c->t->arena, n * sizeof(*r->re));
		if (!r->re)
			return false;
		sbuf_add(&d, "regex ");
		for (size_t i = 0; i < n; i++) {
			char h[PATH_MAX_LEN];

			if (cJSON_IsArray(x))
				index_path(h, sizeof(h), g, i);
			else
				snprintf(h, sizeof(h), "%s", g);
			r->re[i] = compile_regex(c, src[i], h);
			if (!r->re[i])
				ok = false;
			sbuf_add(&d, i ? " | " : "");
			sbuf_add(&d, src[i]);
		}
		if (!ok) {
			free(d.s);
			return false;
		}
		r->nre = n;
	}
	r->desc = arena_strdup(&c->t->arena, d.s ? d.s : "");
	free(d.s);
	return true;
}

/* ids are unique within a file, per list. */
static bool id_seen(struct ctx *c, const cJSON *list, const cJSON *upto, const char *id,
		    const char *listpath, size_t *first)
{
	size_t k = 0;

	for (const cJSON *it = list->child; it && it != upto; it = it->next, k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "id");

		if (cJSON_IsString(v) && !strcmp(v->valuestring, id)) {
			char f[PATH_MAX_LEN];

			index_path(f, sizeof(f), listpath, k);
			strncat(f, ".id", sizeof(f) - strlen(f) - 1);
			*first = (size_t)posidx_line(&c->ix, f, false);
			return true;
		}
	}
	return false;
}

static void parse_model(struct ctx *c, const cJSON *list, const cJSON *it, size_t k)
{
	static const char *const allowed[] = {
		"id", "provider", "match", "input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
		"cache_write_5m_per_mtok", "cache_write_1h_per_mtok", "reasoning_per_mtok",
		"batch", "priority", "flex", "tiers", "source", "note", NULL,
	};
	struct model m = { 0 };
	char path[64], f[PATH_MAX_LEN];
	size_t before = c->probs->n, first;
	const cJSON *pv, *tv;
	const char *id, *src;
	struct sbuf desc = { 0 };

	snprintf(path, sizeof(path), "models[%zu]", k);
	if (!cJSON_IsObject(it)) {
		perr(c, path, false, "must be an object, not %s", type_name(it));
		return;
	}
	check_keys(c, it, path, allowed);
	id = get_string(c, it, path, "id", true);
	if (id && id_seen(c, list, it, id, "models", &first)) {
		join(f, sizeof(f), path, "id");
		perr(c, f, false, "duplicate id \"%s\" (first at line %zu)", id, first);
	}
	src = get_string(c, it, path, "source", true);

	join(f, sizeof(f), path, "provider");
	pv = cJSON_GetObjectItemCaseSensitive(it, "provider");
	if (!pv) {
		perr(c, f, false, "missing (required): a provider name, a list of them, or \"*\"");
	} else {
		m.prov = string_list(c, pv, f, &m.nprov);
		for (size_t i = 0; m.prov && i < m.nprov; i++) {
			if (!strcmp(m.prov[i], "*"))
				m.any_prov = true;
			sbuf_add(&desc, i ? "," : "");
			sbuf_add(&desc, m.prov[i]);
		}
		if (m.any_prov && m.nprov > 1)
			perr(c, f, false, "\"*\" already means every provider; give it alone");
	}
	parse_rules(c, it, path, &m.m);
	parse_rates(c, it, path, &m.base);
	parse_variants(c, it, path, m.v);

	join(f, sizeof(f), path, "tiers");
	tv = cJSON_GetObjectItemCaseSensitive(it, "tiers");
	if (tv && !cJSON_IsArray(tv)) {
		perr(c, f, false, "must be an array of tiers, not %s", type_name(tv));
	} else if (tv && cJSON_GetArraySize(tv) > 0) {
		static const char *const tallowed[] = {
			"name", "above_prompt_tokens", "input_per_mtok", "output_per_mtok",
			"cache_read_per_mtok", "cache_write_5m_per_mtok", "cache_write_1h_per_mtok",
			"reasoning_per_mtok", "batch", "priority", "flex", "note", NULL,
		};
		size_t n = (size_t)cJSON_GetArraySize(tv), j = 0;
		int64_t prev = 0;
		struct sbuf td = { 0 };

		m.tiers = calloc(n, sizeof(*m.tiers));
		if (!m.tiers) {
			perr(c, f, false, "out of memory");
			return;
		}
		for (const cJSON *t = tv->child; t; t = t->next, j++) {
			char tp[PATH_MAX_LEN], g[PATH_MAX_LEN];
			struct tier *ti = &m.tiers[j];
			const cJSON *a;
			const char *name;

			index_path(tp, sizeof(tp), f, j);
			if (!cJSON_IsObject(t)) {
				perr(c, tp, false, "must be an object, not %s", type_name(t));
				continue;
			}
			check_keys(c, t, tp, tallowed);
			join(g, sizeof(g), tp, "above_prompt_tokens");
			a = cJSON_GetObjectItemCaseSensitive(t, "above_prompt_tokens");
			if (!a) {
				perr(c, g, false, "missing (required): the prompt size above which "
						  "the whole request is billed at this tier");
			} else if (!cJSON_IsNumber(a) || !(a->valuedouble >= 1 && a->valuedouble <= 1e12) ||
				   a->valuedouble != (double)(int64_t)a->valuedouble) {
				perr(c, g, false, "must be a whole number of tokens above 0");
			} else {
				ti->above = (int64_t)a->valuedouble;
				if (ti->above <= prev)
					perr(c, g, false,
					     "tiers must go up: %lld is not above the previous tier's %lld",
					     (long long)ti->above, (long long)prev);
				prev = ti->above;
			}
			name = get_string(c, t, tp, "name", false);
			if (name) {
				ti->name = arena_strdup(&c->t->arena, name);
			} else {
				char nb[32];

				snprintf(nb, sizeof(nb), ">%lld", (long long)ti->above);
				ti->name = arena_strdup(&c->t->arena, nb);
			}
			parse_rates(c, t, tp, &ti->r);
			parse_variants(c, t, tp, ti->v);
			if (ti->name) {
				sbuf_add(&td, j ? "," : "");
				sbuf_add(&td, ti->name);
			}
		}
		m.ntiers = n;
		m.tier_desc = arena_strdup(&c->t->arena, td.s ? td.s : "");
		free(td.s);
	}

	if (c->probs->n != before || !id || !src) {
		free(m.tiers);
		free(desc.s);
		return;
	}
	{
		struct sbuf vd = { 0 };

		for (int i = 0; i < V_N; i++) {
			bool any = m.v[i].kind != VK_NONE;

			for (size_t j = 0; j < m.ntiers && !any; j++)
				any = m.tiers[j].v[i].kind != VK_NONE;
			if (any) {
				sbuf_add(&vd, vd.n ? "," : "");
				sbuf_add(&vd, variant_key[i]);
			}
		}
		m.var_desc = arena_strdup(&c->t->arena, vd.s ? vd.s : "");
		free(vd.s);
	}
	m.id = arena_strdup(&c->t->arena, id);
	m.source = arena_strdup(&c->t->arena, src);
	m.prov_desc = arena_strdup(&c->t->arena, desc.s ? desc.s : "");
	free(desc.s);
	if (!m.tier_desc)
		m.tier_desc = "";
	m.file = c->fidx;
	m.order = k;
	if (!grow((void **)&c->t->models, &c->t->capm, c->t->nmodels, sizeof(m))) {
		free(m.tiers);
		perr(c, path, false, "out of memory");
		return;
	}
	c->t->models[c->t->nmodels++] = m;
}

static void parse_accel(struct ctx *c, const cJSON *list, const cJSON *it, size_t k,
			const char *listpath, int host)
{
	static const char *const allowed[] = {
		"id", "match", "usd_per_hour", "provider", "instance", "source", "note", NULL,
	};
	struct accel a = { 0 };
	char path[PATH_MAX_LEN], f[PATH_MAX_LEN];
	size_t before = c->probs->n, first;
	const char *id, *src;

	index_path(path, sizeof(path), listpath, k);
	if (!cJSON_IsObject(it)) {
		perr(c, path, false, "must be an object, not %s", type_name(it));
		return;
	}
	check_keys(c, it, path, allowed);
	id = get_string(c, it, path, "id", true);
	if (id && id_seen(c, list, it, id, listpath, &first)) {
		join(f, sizeof(f), path, "id");
		perr(c, f, false, "duplicate id \"%s\" (first at line %zu)", id, first);
	}
	src = get_string(c, it, path, "source", true);
	a.provider = get_string(c, it, path, "provider", false);
	a.instance = get_string(c, it, path, "instance", false);
	get_price(c, it, path, "usd_per_hour", true, &a.usd_per_hour);
	a.is_default = id && !strcmp(id, "default");
	if (a.is_default) {
		if (cJSON_GetObjectItemCaseSensitive(it, "match")) {
			join(f, sizeof(f), path, "match");
			perr(c, f, true, "the \"default\" row matches what nothing else does; "
					 "it takes no \"match\"");
		}
	} else {
		parse_rules(c, it, path, &a.m);
	}
	if (c->probs->n != before || !id || !src)
		return;
	a.id = arena_strdup(&c->t->arena, id);
	a.source = arena_strdup(&c->t->arena, src);
	if (a.provider)
		a.provider = arena_strdup(&c->t->arena, a.provider);
	if (a.instance)
		a.instance = arena_strdup(&c->t->arena, a.instance);
	a.m.desc = a.is_default ? "(anything else)" : a.m.desc;
	a.host = host;
	if (host >= 0) {
		char key[PATH_MAX_LEN];

		snprintf(key, sizeof(key), "%s/%s", c->t->hosts[host].desc, id);
		a.key = arena_strdup(&c->t->arena, key);
	} else {
		a.key = a.id;
	}
	a.file = c->fidx;
	a.order = k;
	if (!grow((void **)&c->t->accels, &c->t->capa, c->t->naccels, sizeof(a))) {
		perr(c, path, false, "out of memory");
		return;
	}
	c->t->accels[c->t->naccels++] = a;
}

static void parse_accel_list(struct ctx *c, const cJSON *list, const char *path, int host)
{
	size_t k = 0;

	if (!cJSON_IsArray(list)) {
		perr(c, path, false, "must be an array, not %s", type_name(list));
		return;
	}
	for (const cJSON *it = list->child; it; it = it->next, k++)
		parse_accel(c, list, it, k, path, host);
}

static void parse_host(struct ctx *c, const cJSON *it, size_t k)
{
	static const char *const allowed[] = {
		"hostname", "hostname_regex", "accelerators", "note", NULL,
	};
	char path[64], f[PATH_MAX_LEN];
	struct host h = { 0 };
	const cJSON *hn, *hr, *al;
	size_t before = c->probs->n;

	snprintf(path, sizeof(path), "hosts[%zu]", k);
	if (!cJSON_IsObject(it)) {
		perr(c, path, false, "must be an object, not %s", type_name(it));
		return;
	}
	check_keys(c, it, path, allowed);
	hn = cJSON_GetObjectItemCaseSensitive(it, "hostname");
	hr = cJSON_GetObjectItemCaseSensitive(it, "hostname_regex");
	if (!!hn + !!hr != 1) {
		perr(c, path, false, "give exactly one of \"hostname\" and \"hostname_regex\"");
	} else if (hn) {
		const char *s = get_string(c, it, path, "hostname", true);

		if (s)
			h.name = h.desc = arena_strdup(&c->t->arena, s);
	} else {
		const char *s = get_string(c, it, path, "hostname_regex", true);

		if (s) {
			char d[PATH_MAX_LEN];

			join(f, sizeof(f), path, "hostname_regex");
			h.re = compile_regex(c, s, f);
			snprintf(d, sizeof(d), "~%s", s);
			h.desc = arena_strdup(&c->t->arena, d);
		}
	}
	al = cJSON_GetObjectItemCaseSensitive(it, "accelerators");
	join(f, sizeof(f), path, "accelerators");
	if (!al) {
		perr(c, f, false, "missing (required): the prices of this host's accelerators");
		return;
	}
	if (c->probs->n != before)
		h.desc = "?"; /* the load fails; its rows are still checked */
	h.file = c->fidx;
	if (!grow((void **)&c->t->hosts, &c->t->caph, c->t->nhosts, sizeof(h))) {
		perr(c, path, false, "out of memory");
		return;
	}
	c->t->hosts[c->t->nhosts++] = h;
	parse_accel_list(c, al, f, (int)c->t->nhosts - 1);
}

static char *read_file(const char *path, size_t *len, int *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*err = 0;
	if (!f) {
		*err = errno;
		return NULL;
	}
	for (;;) {
		size_t r;

		if (n == cap) {
			char *p;

			if (cap >= MAX_FILE_BYTES) {
				*err = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 16384;
			p = realloc(buf, cap + 1);
			if (!p) {
				*err = ENOMEM;
				break;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f))
				*err = EIO;
			break;
		}
	}
	fclose(f);
	if (*err || !buf) {
		free(buf);
		if (!*err)
			buf = calloc(1, 1); /* an empty file: cJSON reports it */
		else
			return NULL;
		if (!buf) {
			*err = ENOMEM;
			return NULL;
		}
		*len = 0;
		return buf;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * A strict JSON syntax check, run before cJSON: cJSON's error offset is at
 * times one past the culprit and it says nothing of what it expected,
 * while an operator wants "line 12, column 5: expected ',' or '}'".
 */
struct jcheck {
	const char *s;
	size_t n, i;
	const char *err;
	int open; /* brackets open at the error, to say "the file ends early" */
};

static void jc_ws(struct jcheck *j)
{
	while (j->i < j->n && strchr(" \t\r\n", j->s[j->i]))
		j->i++;
}

static bool jc_fail(struct jcheck *j, const char *msg)
{
	if (!j->err)
		j->err = msg;
	return false;
}

static bool jc_string(struct jcheck *j)
{
	j->i++; /* " */
	while (j->i < j->n) {
		unsigned char c = (unsigned char)j->s[j->i];

		if (c == '"') {
			j->i++;
			return true;
		}
		if (c < 0x20)
			return jc_fail(j, "control character in a string (a line break inside quotes?)");
		if (c == '\\') {
			char e = j->i + 1 < j->n ? j->s[j->i + 1] : '\0';

			if (e == 'u') {
				for (int k = 2; k < 6; k++)
					if (j->i + (size_t)k >= j->n || !isxdigit((unsigned char)j->s[j->i + (size_t)k]))
						return jc_fail(j, "\\u needs four hex digits");
				j->i += 6;
				continue;
			}
			if (!e || !strchr("\"\\/bfnrt", e))
				return jc_fail(j, "invalid escape in a string (write \\\\ for a backslash)");
			j->i += 2;
			continue;
		}
		j->i++;
	}
	return jc_fail(j, "unterminated string");
}

static bool jc_digits(struct jcheck *j)
{
	size_t st = j->i;

	while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
		j->i++;
	return j->i > st;
}

static bool jc_number_at(struct jcheck *j)
{
	if (j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0')
		j->i++;
	else if (!jc_digits(j))
		return jc_fail(j, "invalid number");
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (!jc_digits(j))
			return jc_fail(j, "invalid number: digits must follow '.'");
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (!jc_digits(j))
			return jc_fail(j, "invalid number: digits must follow the exponent");
	}
	if (j->i < j->n && (isalnum((unsigned char)j->s[j->i]) || j->s[j->i] == '.'))
		return jc_fail(j, "invalid number");
	return true;
}

static bool jc_number(struct jcheck *j)
{
	size_t start = j->i;
	bool ok = jc_number_at(j);

	if (!ok)
		j->i = start; /* point at the number, not into it */
	return ok;
}

static bool jc_value(struct jcheck *j, int depth);

static bool jc_container(struct jcheck *j, int depth, bool obj)
{
	char close = obj ? '}' : ']';

	j->open++;
	j->i++;
	jc_ws(j);
	if (j->i < j->n && j->s[j->i] == close) {
		j->i++;
		j->open--;
		return true;
	}
	for (;;) {
		jc_ws(j);
		if (obj) {
			if (j->i < j->n && j->s[j->i] == '}')
				return jc_fail(j, "a comma before '}' (JSON allows no trailing comma)");
			if (j->i >= j->n || j->s[j->i] != '"')
				return jc_fail(j, "expected a \"key\" in double quotes");
			if (!jc_string(j))
				return false;
			jc_ws(j);
			if (j->i >= j->n || j->s[j->i] != ':')
				return jc_fail(j, "expected ':' after the key");
			j->i++;
			jc_ws(j);
		} else if (j->i < j->n && j->s[j->i] == ']') {
			return jc_fail(j, "a comma before ']' (JSON allows no trailing comma)");
		}
		if (!jc_value(j, depth + 1))
			return false;
		jc_ws(j);
		if (j->i < j->n && j->s[j->i] == ',') {
			j->i++;
			continue;
		}
		if (j->i < j->n && j->s[j->i] == close) {
			j->i++;
			j->open--;
			return true;
		}
		return jc_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool jc_value(struct jcheck *j, int depth)
{
	static const char *const lit[] = { "true", "false", "null" };
	char c;

	jc_ws(j);
	if (j->i >= j->n)
		return jc_fail(j, "expected a value");
	if (depth > 512)
		return jc_fail(j, "nested too deeply");
	c = j->s[j->i];
	if (c == '{' || c == '[')
		return jc_container(j, depth, c == '{');
	if (c == '"')
		return jc_string(j);
	if (c == '-' || isdigit((unsigned char)c))
		return jc_number(j);
	for (int k = 0; k < 3; k++) {
		size_t l = strlen(lit[k]);

		if (j->n - j->i >= l && !memcmp(j->s + j->i, lit[k], l)) {
			j->i += l;
			return true;
		}
	}
	if (c == '\'')
		return jc_fail(j, "strings take double quotes, not single");
	return jc_fail(j, "expected a value (a string, number, object, array, true, false or null)");
}

/* Returns true when text is one valid JSON value; else reports where not. */
static bool json_check(struct ctx *c, const char *text, size_t len)
{
	struct jcheck j = { .s = text, .n = len };
	int line = 1, col = 1;
	char near[24];
	size_t k = 0;

	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		j.i = 3; /* a UTF-8 byte order mark */
	jc_ws(&j);
	if (j.i >= j.n) {
		j.err = "the file holds no JSON value";
	} else if (jc_value(&j, 0)) {
		jc_ws(&j);
		if (j.i >= j.n)
			return true;
		j.err = "more text after the JSON value (one object per file)";
	}
	for (size_t i = 0; i < j.i && i < len; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) { /* count characters, not bytes */
			col++;
		}
	}
	if (j.i >= len && j.open > 0) {
		problem_add(c->probs, c->file, line, "json",
			    "syntax error: the file ends with %d { or [ still open", j.open);
		return false;
	}
	for (size_t i = j.i; i < len && k < sizeof(near) - 1 && text[i] != '\n' && text[i] != '\r'; i++)
		near[k++] = isprint((unsigned char)text[i]) ? text[i] : '?';
	near[k] = '\0';
	if (k)
		problem_add(c->probs, c->file, line, "json", "syntax error at column %d: %s, at \"%s\"", col,
			    j.err, near);
	else
		problem_add(c->probs, c->file, line, "json", "syntax error at column %d: %s", col, j.err);
	return false;
}

/* A file's problems in line order, as an editor walks them (stable:
 * problems on one line keep the order they were found in). */
static void sort_by_line(struct price_problems *p, size_t from)
{
	for (size_t i = from + 1; i < p->n; i++) {
		struct price_problem x = p->v[i];
		size_t j = i;

		while (j > from && p->v[j - 1].line > x.line) {
			p->v[j] = p->v[j - 1];
			j--;
		}
		p->v[j] = x;
	}
}

/* One file into t (entries tagged with fidx). */
static void load_file(struct price_table *t, struct price_problems *probs, const char *path, int fidx)
{
	static const char *const allowed[] = {
		"version", "currency", "models", "accelerators", "hosts", "note", NULL,
	};
	struct ctx c = { .t = t, .probs = probs, .file = path, .fidx = fidx };
	size_t first_problem = probs->n;
	const char *end = NULL, *ver, *cur;
	const cJSON *models, *accels, *hosts;
	size_t len = 0, k;
	int err = 0;
	char *text = read_file(path, &len, &err);
	cJSON *root;

	t->files[fidx].path = arena_strdup(&t->arena, path);
	t->files[fidx].version = "";
	t->files[fidx].currency = "USD";
	if (!text) {
		problem_add(probs, path, 0, "", "cannot read: %s", strerror(err));
		return;
	}
	if (!json_check(&c, text, len)) {
		free(text);
		return;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		/* valid JSON that cJSON still refuses: out of memory, in practice */
		problem_add(probs, path, 0, "json", "cJSON could not parse the file");
		free(text);
		return;
	}
	posidx_build(&c.ix, text, len, probs, path);
	free(text);

	if (!cJSON_IsObject(root)) {
		perr(&c, "", false, "the file must hold one JSON object, not %s", type_name(root));
		goto out;
	}
	check_keys(&c, root, "", allowed);
	ver = get_string(&c, root, "", "version", true);
	if (ver && !valid_date(ver))
		perr(&c, "version", false, "must be the date the prices were checked, YYYY-MM-DD (is \"%s\")",
		     ver);
	else if (ver)
		t->files[fidx].version = arena_strdup(&t->arena, ver);
	cur = get_string(&c, root, "", "currency", true);
	if (cur && strcmp(cur, "USD"))
		perr(&c, "currency", false, "must be \"USD\": the agent reports cost in US dollars");

	models = cJSON_GetObjectItemCaseSensitive(root, "models");
	if (models && !cJSON_IsArray(models)) {
		perr(&c, "models", false, "must be an array, not %s", type_name(models));
	} else if (models) {
		k = 0;
		for (const cJSON *it = models->child; it; it = it->next, k++)
			parse_model(&c, models, it, k);
	}
	accels = cJSON_GetObjectItemCaseSensitive(root, "accelerators");
	if (accels)
		parse_accel_list(&c, accels, "accelerators", -1);
	hosts = cJSON_GetObjectItemCaseSensitive(root, "hosts");
	if (hosts && !cJSON_IsArray(hosts)) {
		perr(&c, "hosts", false, "must be an array, not %s", type_name(hosts));
	} else if (hosts) {
		k = 0;
		for (const cJSON *it = hosts->child; it; it = it->next, k++)
			parse_host(&c, it, k);
	}
out:
	cJSON_Delete(root);
	posidx_free(&c.ix);
	sort_by_line(probs, first_problem);
}

static bool same_host(const struct price_table *t, int a, int b)
{
	if (a < 0 || b < 0)
		return a == b;
	return !strcmp(t->hosts[a].desc, t->hosts[b].desc);
}

/* A later file's entry replaces an earlier one of the same id outright, so
 * an operator can take over a default entry (its rules included) by id. */
static bool finish(struct price_table *t)
{
	for (size_t i = 0; i < t->nmodels; i++)
		for (size_t j = i + 1; j < t->nmodels && !t->models[i].dead; j++)
			if (t->models[j].file > t->models[i].file &&
			    !strcmp(t->models[i].id, t->models[j].id))
				t->models[i].dead = true;
	for (size_t i = 0; i < t->naccels; i++)
		for (size_t j = i + 1; j < t->naccels && !t->accels[i].dead; j++)
			if (t->accels[j].file > t->accels[i].file &&
			    same_host(t, t->accels[i].host, t->accels[j].host) &&
			    !strcmp(t->accels[i].id, t->accels[j].id))
				t->accels[i].dead = true;
	t->live_m = malloc((t->nmodels + 1) * sizeof(size_t));
	t->live_a = malloc((t->naccels + 1) * sizeof(size_t));
	if (!t->live_m || !t->live_a)
		return false;
	for (size_t i = 0; i < t->nmodels; i++)
		if (!t->models[i].dead)
			t->live_m[t->nlive_m++] = i;
	for (size_t i = 0; i < t->naccels; i++)
		if (!t->accels[i].dead)
			t->live_a[t->nlive_a++] = i;
	return true;
}

struct price_table *prices_load(const char *const *paths, size_t n, struct price_problems *probs)
{
	struct price_problems local = { 0 };
	struct price_table *t = calloc(1, sizeof(*t));

	if (!t || (n && !(t->files = calloc(n, sizeof(*t->files))))) {
		problem_add(probs ? probs : &local, "", 0, "", "out of memory");
		price_problems_free(&local);
		prices_free(t);
		return NULL;
	}
	if (!n)
		problem_add(&local, "prices", 0, "", "no price table given");
	t->nfiles = n;
	for (size_t i = 0; i < n; i++)
		load_file(t, &local, paths[i], (int)i);
	if (!local.n && (t->arena.failed || !finish(t)))
		problem_add(&local, n ? paths[0] : "", 0, "", "out of memory");
	if (local.n) {
		if (probs) {
			for (size_t i = 0; i < local.n; i++) {
				const struct price_problem *q = &local.v[i];

				problem_add(probs, q->path, q->line, q->field, "%s", q->message);
			}
		}
		price_problems_free(&local);
		prices_free(t);
		return NULL;
	}
	return t;
}

/* ------------------------------------------------------------------ */
/* lookups                                                              */

/*
 * How well an entry matches a name: exact beats prefix beats regex; a
 * longer prefix beats a shorter one; then a later file beats an earlier
 * one; in one file the entry listed first wins.
 */
struct score {
	int rank; /* 0 none, 1 regex, 2 prefix, 3 exact */
	size_t len;
	int exact_host; /* host rows: from a "hostname" (1) or "hostname_regex" (0) block */
	int file;
	size_t order;
};

static bool better(const struct score *a, const struct score *b)
{
	if (a->rank != b->rank)
		return a->rank > b->rank;
	if (a->len != b->len)
		return a->len > b->len;
	if (a->exact_host != b->exact_host)
		return a->exact_host > b->exact_host;
	if (a->file != b->file)
		return a->file > b->file;
	return a->order < b->order;
}

static void rules_score(const struct rules *r, const char *name, bool regex_pass, struct score *s)
{
	s->rank = 0;
	s->len = 0;
	for (size_t i = 0; i < r->nexact; i++) {
		if (!strcasecmp(name, r->exact[i])) {
			s->rank = 3;
			return;
		}
	}
	for (size_t i = 0; i < r->nprefix; i++) {
		size_t k = strlen(r->prefix[i]);

		if (!strncasecmp(name, r->prefix[i], k) && (s->rank < 2 || k > s->len)) {
			s->rank = 2;
			s->len = k;
		}
	}
	if (s->rank || !regex_pass)
		return;
	for (size_t i = 0; i < r->nre; i++) {
		if (!regexec(r->re[i], name, 0, NULL, 0)) {
			s->rank = 1;
			return;
		}
	}
}

static bool provider_ok(const struct model *m, const char *provider)
{
	if (m->any_prov || !provider || !provider[0])
		return true;
	for (size_t i = 0; i < m->nprov; i++)
		if (!strcasecmp(m->prov[i], provider))
			return true;
	return false;
}

static const struct model *find_model(const struct price_table *t, const char *provider,
				      const char *model)
{
	const struct model *best = NULL;
	struct score bs = { 0 };

	/* Regexes only when nothing matched exactly or by prefix: they cannot
	 * win then, and they are the slow part of a lookup. */
	for (int pass = 0; pass < 2 && !best; pass++) {
		for (size_t i = 0; i < t->nlive_m; i++) {
			const struct model *m = &t->models[t->live_m[i]];
			struct score s;

			if (!provider_ok(m, provider))
				continue;
			rules_score(&m->m, model, pass == 1, &s);
			if (!s.rank)
				continue;
			s.exact_host = 0;
			s.file = m->file;
			s.order = m->order;
			if (!best || better(&s, &bs)) {
				best = m;
				bs = s;
			}
		}
	}
	return best;
}

static void scale(struct rates *r, double k)
{
	r->in *= k;
	r->out *= k;
	r->cr *= k;
	r->cw5 *= k;
	r->cw1h *= k;
	r->rs *= k;
}

static double ratio_of(double tier, double var, double base)
{
	return base > 0 ? tier * (var / base) : var;
}

static int variant_index(const char *s)
{
	if (!s || !s[0] || !strcasecmp(s, "standard") || !strcasecmp(s, "default") ||
	    !strcasecmp(s, "auto"))
		return -1;
	for (int i = 0; i < V_N; i++)
		if (!strcasecmp(s, variant_key[i]))
			return i;
	return -1;
}

int prices_token(const struct price_table *t, const char *provider, const char *model,
		 int64_t prompt_tokens, const char *service_tier, struct token_price *out)
{
	const struct model *m;
	const struct tier *ti = NULL;
	struct rates r;
	int vi;

	if (!t || !model || !model[0] || !out)
		return -ENOENT;
	m = find_model(t, provider, model);
	if (!m)
		return -ENOENT;
	/* Above a tier's threshold the whole request moves to that tier. */
	for (size_t i = 0; i < m->ntiers; i++)
		if (prompt_tokens > m->tiers[i].above)
			ti = &m->tiers[i];
	r = ti ? ti->r : m->base;
	vi = variant_index(service_tier);
	memset(out, 0, sizeof(*out));
	out->service_tier = "standard";
	if (vi >= 0) {
		const struct variant *tv = ti ? &ti->v[vi] : NULL, *v = &m->v[vi];

		if (tv && tv->kind == VK_MULT) {
			scale(&r, tv->mult);
		} else if (tv && tv->kind == VK_RATES) {
			r = tv->r;
		} else if (v->kind == VK_MULT) {
			scale(&r, v->mult);
		} else if (v->kind == VK_RATES && !ti) {
			r = v->r;
		} else if (v->kind == VK_RATES) {
			/* Explicit variant rates are for the base tier; carry
			 * their ratio to the base rates over to this tier. */
			r.in = ratio_of(ti->r.in, v->r.in, m->base.in);
			r.out = ratio_of(ti->r.out, v->r.out, m->base.out);
			r.cr = ratio_of(ti->r.cr, v->r.cr, m->base.cr);
			r.cw5 = ratio_of(ti->r.cw5, v->r.cw5, m->base.cw5);
			r.cw1h = ratio_of(ti->r.cw1h, v->r.cw1h, m->base.cw1h);
			r.rs = ratio_of(ti->r.rs, v->r.rs, m->base.rs);
		} else {
			vi = -1;
		}
		if (vi >= 0)
			out->service_tier = variant_key[vi];
	}
	out->ref.table = t->files[m->file].path;
	out->ref.key = m->id;
	out->ref.version = t->files[m->file].version;
	out->ref.source = m->source;
	out->ref.currency = t->files[m->file].currency;
	out->input = r.in / 1e6;
	out->output = r.out / 1e6;
	out->cache_read = r.cr / 1e6;
	out->cache_write_5m = r.cw5 / 1e6;
	out->cache_write_1h = r.cw1h / 1e6;
	out->reasoning = r.rs / 1e6;
	out->tier = ti ? ti->name : "base";
	return 0;
}

static bool host_matches(const struct host *h, const char *hostname)
{
	if (!hostname || !hostname[0])
		return false;
	if (h->name)
		return !strcasecmp(h->name, hostname);
	return h->re && !regexec(h->re, hostname, 0, NULL, 0);
}

static bool default_better(const struct price_table *t, const struct accel *a,
			   const struct accel *b)
{
	bool ea = a->host >= 0 && t->hosts[a->host].name, eb = b->host >= 0 && t->hosts[b->host].name;

	if (ea != eb)
		return ea;
	return a->file > b->file;
}

/*
 * Best row among those of one scope (a host's rows, or the general rows):
 * a named match first, else the scope's "default" row.
 */
static const struct accel *find_accel(const struct price_table *t, const char *name,
				      const char *hostname, bool host_scope)
{
	const struct accel *best = NULL, *def = NULL;
	struct score bs = { 0 };

	for (int pass = 0; pass < 2 && !best; pass++) {
		for (size_t i = 0; i < t->nlive_a; i++) {
			const struct accel *a = &t->accels[t->live_a[i]];
			struct score s;

			if (host_scope ? a->host < 0 || !host_matches(&t->hosts[a->host], hostname)
				       : a->host >= 0)
				continue;
			if (a->is_default) {
				/* an exact hostname's default before a regex's, then
				 * a later file's, like any entry */
				if (pass == 0 && (!def || default_better(t, a, def)))
					def = a;
				continue;
			}
			rules_score(&a->m, name, pass == 1, &s);
			if (!s.rank)
				continue;
			s.exact_host = host_scope && t->hosts[a->host].name;
			s.file = a->file;
			s.order = a->order;
			if (!best || better(&s, &bs)) {
				best = a;
				bs = s;
			}
		}
	}
	return best ? best : def;
}

int prices_accel(const struct price_table *t, const char *accel_name, const char *hostname,
		 struct accel_price *out)
{
	const struct accel *a = NULL;

	if (!t || !out)
		return -ENOENT;
	if (!accel_name)
		accel_name = "";
	if (hostname && hostname[0])
		a = find_accel(t, accel_name, hostname, true);
	if (!a)
		a = find_accel(t, accel_name, hostname, false);
	if (!a)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->ref.table = t->files[a->file].path;
	out->ref.key = a->key;
	out->ref.version = t->files[a->file].version;
	out->ref.source = a->source;
	out->ref.currency = t->files[a->file].currency;
	out->usd_per_hour = a->usd_per_hour;
	out->is_default = a->is_default;
	return 0;
}

size_t prices_count_models(const struct price_table *t)
{
	return t ? t->nlive_m : 0;
}

size_t prices_count_accels(const struct price_table *t)
{
	return t ? t->nlive_a : 0;
}

int prices_model_info(const struct price_table *t, size_t i, struct price_entry_info *out)
{
	const struct model *m;

	if (!t || i >= t->nlive_m || !out)
		return -ENOENT;
	m = &t->models[t->live_m[i]];
	memset(out, 0, sizeof(*out));
	out->ref.table = t->files[m->file].path;
	out->ref.key = m->id;
	out->ref.version = t->files[m->file].version;
	out->ref.source = m->source;
	out->ref.currency = t->files[m->file].currency;
	out->providers = m->prov_desc;
	out->match = m->m.desc ? m->m.desc : "";
	out->tiers = m->tier_desc;
	out->variants = m->var_desc;
	out->input_per_mtok = m->base.in;
	out->output_per_mtok = m->base.out;
	out->cache_read_per_mtok = m->base.cr;
	return 0;
}

int prices_accel_info(const struct price_table *t, size_t i, struct price_entry_info *out)
{
	const struct accel *a;

	if (!t || i >= t->nlive_a || !out)
		return -ENOENT;
	a = &t->accels[t->live_a[i]];
	memset(out, 0, sizeof(*out));
	out->ref.table = t->files[a->file].path;
	out->ref.key = a->key;
	out->ref.version = t->files[a->file].version;
	out->ref.source = a->source;
	out->ref.currency = t->files[a->file].currency;
	out->match = a->m.desc ? a->m.desc : "";
	out->host = a->host >= 0 ? t->hosts[a->host].desc : NULL;
	out->tiers = "";
	out->variants = "";
	out->usd_per_hour = a->usd_per_hour;
	out->is_default = a->is_default;
	return 0;
}

size_t prices_count_files(const struct price_table *t)
{
	return t ? t->nfiles : 0;
}

const char *prices_file_path(const struct price_table *t, size_t i)
{
	return t && i < t->nfiles ? t->files[i].path : NULL;
}

const char *prices_file_version(const struct price_table *t, size_t i)
{
	return t && i < t->nfiles ? t->files[i].version : NULL;
}

/* ------------------------------------------------------------------ */

static bool is_file(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* The answer may live in static storage: call it from one thread (the
 * agent does at start-up and on SIGHUP). */
const char *prices_default_path(void)
{
	static char buf[PATH_MAX + 32];
	const char *env = getenv("INFERTRACE_PRICES");
	ssize_t n;

	/* An explicit choice is returned even when missing, so that loading
	 * it says so instead of quietly using another table. */
	if (env && env[0])
		return env;
	n = readlink("/proc/self/exe", buf, PATH_MAX);
	if (n > 0) {
		char *slash;

		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash) {
			static char real[PATH_MAX];

			snprintf(slash, sizeof(buf) - (size_t)(slash - buf), "/../prices/default.json");
			/* "/src/prices/default.json" reads better in records than
			 * "/src/build/../prices/default.json" */
			if (is_file(buf))
				return realpath(buf, real) ? real : buf;
		}
	}
	if (is_file("/usr/local/share/infertrace/default.json"))
		return "/usr/local/share/infertrace/default.json";
	if (is_file("/usr/share/infertrace/default.json"))
		return "/usr/share/infertrace/default.json";
	return NULL;
}

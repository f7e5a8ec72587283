// SPDX-License-Identifier: MIT
#include "out/jsonl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct jsonl {
	FILE *f;
	int owned;
	uint64_t records;
	void (*observe)(void *ctx, const cJSON *rec);
	void *observe_ctx;
	char id_prefix[40];        /* "" : no record ids */
	uint64_t id_seq;
	jsonl_writer_fn writer;    /* instead of f: the sinks */
	void *writer_ctx;
};

struct jsonl *jsonl_from_writer(jsonl_writer_fn fn, void *ctx)
{
	struct jsonl *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->writer = fn;
	w->writer_ctx = ctx;
	return w;
}

void jsonl_set_record_ids(struct jsonl *w, const char *prefix)
{
	snprintf(w->id_prefix, sizeof(w->id_prefix), "%s", prefix ? prefix : "");
}

void jsonl_set_observer(struct jsonl *w, void (*fn)(void *ctx, const cJSON *rec), void *ctx)
{
	w->observe = fn;
	w->observe_ctx = ctx;
}

struct jsonl *jsonl_from_stream(FILE *f)
{
	struct jsonl *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->f = f;
	return w;
}

struct jsonl *jsonl_open(const char *path)
{
	struct jsonl *w;
	FILE *f;

	if (!path || strcmp(path, "-") == 0)
		return jsonl_from_stream(stdout);
	f = fopen(path, "a");
	if (!f)
		return NULL;
	w = jsonl_from_stream(f);
	if (!w) {
		fclose(f);
		return NULL;
	}
	w->owned = 1;
	return w;
}

int jsonl_write(struct jsonl *w, cJSON *rec)
{
	char *s;
	int err = 0;

	if (w->id_prefix[0] && rec && !cJSON_GetObjectItemCaseSensitive(rec, "record_id")) {
		char id[64];

		snprintf(id, sizeof(id), "%s-%llu", w->id_prefix, (unsigned long long)++w->id_seq);
		cJSON_AddStringToObject(rec, "record_id", id);
	}
	if (w->observe && rec)
		w->observe(w->observe_ctx, rec);
	s = cJSON_PrintUnformatted(rec);

	cJSON_Delete(rec);
	if (!s)
		return -ENOMEM;
	if (w->writer) {
		err = w->writer(w->writer_ctx, s, strlen(s));
		if (!err)
			w->records++;
	} else if (fputs(s, w->f) == EOF || fputc('\n', w->f) == EOF) {
		err = errno ? -errno : -EIO;
	} else {
		w->records++;
	}
	free(s);
	return err;
}

int jsonl_flush(struct jsonl *w)
{
	if (w->writer)
		return 0; /* the sinks deliver on their own time */
	return fflush(w->f) == EOF ? -errno : 0;
}

uint64_t jsonl_records(const struct jsonl *w)
{
	return w->records;
}

void jsonl_close(struct jsonl *w)
{
	if (!w)
		return;
	if (w->owned)
		fclose(w->f);
	else if (w->f)
		fflush(w->f);
	free(w);
}

void time_rfc3339(uint64_t real_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(real_ns / 1000000000ULL);
	struct tm tm;
	char base[24];

	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09uZ", base, (unsigned)(real_ns % 1000000000ULL));
}

void json_add_time(cJSON *obj, const char *key, uint64_t real_ns)
{
	char buf[40];

	time_rfc3339(real_ns, buf, sizeof(buf));
	cJSON_AddStringToObject(obj, key, buf);
}

void json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
	cJSON_AddNumberToObject(obj, key, (double)v);
}

cJSON *record_new(const char *type, uint64_t real_ns)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "type", type);
	json_add_time(o, "time", real_ns);
	cJSON_AddNumberToObject(o, "schema_version", INFERTRACE_SCHEMA_VERSION);
	return o;
}

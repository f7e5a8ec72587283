/* SPDX-License-Identifier: MIT */
/* JSON lines output: one record per line, the fields every record shares. */
#ifndef INFERTRACE_JSONL_H
#define INFERTRACE_JSONL_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define INFERTRACE_SCHEMA_VERSION 1

struct jsonl;

/* "-" or NULL means stdout. Returns NULL with errno set. */
struct jsonl *jsonl_open(const char *path);
/* Hand each record's line (no newline) to fn instead of a stream (the
 * sinks); fn returns 0 or -errno. */
typedef int (*jsonl_writer_fn)(void *ctx, const char *line, size_t len);
struct jsonl *jsonl_from_writer(jsonl_writer_fn fn, void *ctx);
/* Write to an already open stream (tests); the stream is not closed. */
struct jsonl *jsonl_from_stream(FILE *f);
/* Writes rec as one line and frees it. Returns 0 or -errno of the write. */
int jsonl_write(struct jsonl *w, cJSON *rec);
int jsonl_flush(struct jsonl *w);
/* Give every record a unique "record_id": "<prefix>-<n>", n from 1; the
 * prefix names this agent run (so that a consumer can drop the duplicates a
 * retried delivery makes). */
void jsonl_set_record_ids(struct jsonl *w, const char *prefix);
/* Also show every record to fn before it is written (the live totals). */
void jsonl_set_observer(struct jsonl *w, void (*fn)(void *ctx, const cJSON *rec), void *ctx);
uint64_t jsonl_records(const struct jsonl *w);
void jsonl_close(struct jsonl *w);

/* A new record with "type", "time" (RFC 3339, ns) and "schema_version". */
cJSON *record_new(const char *type, uint64_t real_ns);
/* "2026-11-27T01:34:53.123456789Z"; buf needs 32 bytes. */
void time_rfc3339(uint64_t real_ns, char *buf, size_t len);
void json_add_time(cJSON *obj, const char *key, uint64_t real_ns);
/* cJSON numbers are doubles: exact up to 2^53, more than any counter here. */
void json_add_u64(cJSON *obj, const char *key, uint64_t v);

#endif

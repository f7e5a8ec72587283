/* SPDX-License-Identifier: MIT */
/*
 * Where JSON lines go (--sink URL, repeatable): "-" / "stdout", a path or
 * file:///path (size and age rotation, rotated files gzip-compressed, fsync
 * on rotation), tcp://host:port (newline-delimited, reconnect with backoff),
 * http(s)://... (batched NDJSON POSTs via libcurl, gzip, timeouts, retries).
 * Nothing is lost while a sink is down or slow: records queue in memory up to
 * a bound, then spool to a directory on disk (bounded, oldest evicted and
 * counted), and are replayed in order when the sink is back. Every record
 * carries a unique "record_id" (set by the caller) so that consumers can drop
 * duplicates after a retry.
 */
#ifndef INFERTRACE_SINK_H
#define INFERTRACE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sink_opts {
	const char *spool_dir;       /* default /var/lib/infertrace/spool */
	uint64_t mem_queue_bytes;    /* per sink, default 64 MiB */
	uint64_t spool_bytes;        /* per sink, default 1 GiB */
	uint64_t rotate_bytes;       /* file sinks, default 100 MiB */
	uint64_t rotate_seconds;     /* file sinks, default 86400 */
	uint32_t batch_records;      /* http sinks, default 1000 */
	uint32_t batch_ms;           /* http sinks, default 1000 */
};

struct sink_stats {
	uint64_t written;            /* records delivered */
	uint64_t queued;             /* records waiting (memory + spool) */
	uint64_t spooled;            /* records that went to disk */
	uint64_t evicted;            /* records dropped: spool full (oldest first) */
	uint64_t errors;             /* failed deliveries (retried) */
	bool up;                     /* the last delivery worked */
	char last_error[160];
	uint64_t rejected;           /* http: records of batches the receiver refused
				      * (4xx other than 408/429) max_rejects times */
};

struct sinks;

/* Opens every sink (a URL that cannot be parsed, or a file that cannot be
 * opened, is an error here; a receiver that is down is not). Returns NULL
 * with a message in err. */
struct sinks *sinks_open(const char *const *urls, size_t n, const struct sink_opts *o, char *err,
			 size_t errlen);
/* One record (a JSON object, without the newline). Never blocks for long. */
int sinks_write(struct sinks *s, const char *line, size_t len);
/* Deliver what is queued; called from the agent's loop (every 10 ms). */
void sinks_poll(struct sinks *s);
/* Flush (up to timeout_ms for remote sinks; the rest stays spooled for the
 * next start) and close. */
void sinks_close(struct sinks *s, unsigned timeout_ms);
size_t sinks_count(const struct sinks *s);
/* Stats of sink i (its URL in *url). */
void sinks_stats(const struct sinks *s, size_t i, const char **url, struct sink_stats *st);

#endif

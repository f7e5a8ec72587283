/* SPDX-License-Identifier: MIT */
/* Prometheus /metrics over HTTP (libmicrohttpd), from the live totals. */
#ifndef INFERTRACE_METRICS_H
#define INFERTRACE_METRICS_H

#include <stddef.h>

#include "out/live.h"

struct metrics;

/* listen: "127.0.0.1:9464", "[::1]:9464", ":9464" (all addresses). Serves
 * GET /metrics in the text exposition format (version 0.0.4) on its own
 * threads; anything else gets 404. Returns NULL with a message in err. */
struct metrics *metrics_start(const char *listen, struct live *l, char *err, size_t errlen);
void metrics_stop(struct metrics *m);

/* The exposition text of l (for tests and the server): malloc'd, NUL-ended. */
char *metrics_render(struct live *l, size_t *len);

#endif

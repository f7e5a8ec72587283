/* SPDX-License-Identifier: MIT */
/*
 * The agent's local query socket: a UNIX stream socket (default
 * /run/infertrace/agent.sock, mode 0600 root, or 0660 with --socket-group)
 * that answers "snapshot\n" with the live snapshot as one JSON line, and
 * anything else with {"error": "..."}; `infertrace top` reads it.
 */
#ifndef INFERTRACE_QUERY_H
#define INFERTRACE_QUERY_H

#include <stddef.h>

#include "out/live.h"

#define QUERY_DEFAULT_SOCKET "/run/infertrace/agent.sock"

struct query;

/* group: NULL for root only. Serves on its own thread. Returns NULL with a
 * message in err (another agent already listening is an error). */
struct query *query_start(const char *path, const char *group, struct live *l, char *err,
			  size_t errlen);
/* Stops serving and removes the socket file. */
void query_stop(struct query *q);

#endif

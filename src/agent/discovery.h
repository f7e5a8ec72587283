/* SPDX-License-Identifier: MIT */
/*
 * Target discovery: which files hold TLS functions to probe, and which
 * processes speak plain HTTP on an --http-port.
 *
 * Files are found in /proc/PID/maps (through /proc/PID/root, so files inside
 * containers work) and in the loader cache; each file (device, inode) is
 * examined and attached once, whatever the number of processes mapping it.
 */
#ifndef INFERTRACE_DISCOVERY_H
#define INFERTRACE_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct probes;
struct discovery;

struct discovery_stats {
	uint64_t files_examined;  /* distinct files looked into */
	uint64_t files_attached;  /* files with TLS probes */
	uint64_t attach_errors;
	uint64_t scans;           /* /proc/PID/maps reads */
	uint64_t cuda_files;      /* libcuda files with CUDA probes */
	uint64_t cuda_funcs;      /* CUDA entry points probed */
	uint64_t cuda_absent;     /* entry points a driver does not have */
	uint64_t cuda_moved;      /* probes placed past the entry (see probesite.h) */
};

struct discovery *discovery_new(struct probes *p, const uint16_t *http_ports, size_t n_ports,
				bool verbose);
void discovery_free(struct discovery *d);

/* Libraries the loader cache (ldconfig -p) names: attached before any
 * process maps them, since uprobes on a file cover later processes too. */
void discovery_scan_ldcache(struct discovery *d);
/* A file named by the operator (--cuda-lib). */
void discovery_attach_path(struct discovery *d, const char *path);
/* Every process: TLS libraries and executables, plain-HTTP sockets. */
void discovery_scan_all(struct discovery *d);
/* One process's mappings. Returns the number of files newly attached. */
int discovery_scan_pid(struct discovery *d, uint32_t pid);

/* Look at pid again at now_ns + delay_ns (after exec or a new executable
 * mapping: the loader maps libraries a moment later). */
void discovery_schedule(struct discovery *d, uint32_t pid, uint64_t now_ns, uint64_t delay_ns);
/* CLOCK_MONOTONIC time of the next scheduled scan, or UINT64_MAX. */
uint64_t discovery_next_due(const struct discovery *d);
void discovery_run_due(struct discovery *d, uint64_t now_ns);

void discovery_get_stats(const struct discovery *d, struct discovery_stats *st);

/* Is a TCP socket listening on this port (any namespace seen so far)?
 * Cached for a second. */
bool discovery_port_listening(struct discovery *d, uint16_t port, uint64_t now_ns);

/* Parsing helpers, exposed for unit tests. */
struct maps_entry {
	uint64_t start, end, offset;
	char perms[5];
	uint64_t inode;
	const char *path; /* points into the line; NULL for anonymous */
};
/* Parse one /proc/PID/maps line (modified in place). Returns 0 or -1. */
int maps_parse_line(char *line, struct maps_entry *e);
/* Does the file name look like a TLS library we probe? ("libssl.so.3") */
bool tls_library_name(const char *path);
/* Parse one `ldconfig -p` line; returns the path or NULL. */
const char *ldcache_parse_line(char *line);
/* Parse one /proc/net/tcp{,6} line: local/remote port, state, inode. */
int proc_net_tcp_parse(const char *line, uint16_t *lport, uint16_t *rport, unsigned *state,
		       uint64_t *inode);

#endif

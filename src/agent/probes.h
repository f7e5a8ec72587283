/* SPDX-License-Identifier: MIT */
/*
 * The BPF side of the agent: open, configure, load and attach the three
 * objects (tls, sock, proc) that share one ring buffer, attach TLS uprobes
 * to library files as discovery finds them, and detach everything at the end.
 */
#ifndef INFERTRACE_PROBES_H
#define INFERTRACE_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/gpu.h"
#include "gpu_event.h"
#include "net_event.h"

struct ring_buffer;

struct probes_opts {
	uint32_t capture_bytes;
	uint32_t ringbuf_bytes;        /* power of two, >= page size */
	const uint32_t *pids;          /* --pid */
	size_t n_pids;
	const char *const *comms;      /* --comm */
	size_t n_comms;
	const uint16_t *http_ports;    /* --http-port */
	size_t n_http_ports;
	bool verbose;                  /* libbpf debug output */
	int gpu_mode;                  /* enum gpu_probe_mode */
	bool cuda_site_entry;          /* probe CUDA entry points at +0 */
};

/* The TLS functions one library file may hold, in the order of tls_funcs. */
enum tls_func {
	TLS_SSL_WRITE,
	TLS_SSL_READ,
	TLS_SSL_WRITE_EX,
	TLS_SSL_READ_EX,
	TLS_GNUTLS_SEND,
	TLS_GNUTLS_RECV,
	TLS_NFUNCS,
};
extern const char *const tls_func_names[TLS_NFUNCS];

struct probes;

/* Returns 0, or -errno with a one-line cause and remedy in err. */
int probes_open(struct probes **out, const struct probes_opts *opts, char *err, size_t errlen);
void probes_destroy(struct probes *p);

/*
 * Attach entry and return probes to the functions of one file whose offsets
 * are non-zero. Returns the number of functions attached (each gets two
 * probes), or -errno when none could be.
 */
int probes_attach_tls(struct probes *p, const char *path, const uint64_t offsets[TLS_NFUNCS]);

/* What attaching the CUDA probes to one libcuda file did. */
struct cuda_site_note {
	const char *name;
	uint32_t skipped;      /* bytes past the entry (0: at the entry) */
	char insn[48];         /* the probed instruction */
};

struct cuda_attach_report {
	unsigned attached, absent, errors, moved;
	struct cuda_site_note sites[64];
	size_t n_sites;
};

/* Attach the CUDA probes (src/gpu/cudafuncs.c) to a libcuda file. Returns
 * the number of entry points attached, or -errno. */
int probes_attach_cuda(struct probes *p, const char *path, struct cuda_attach_report *rep);
/* The probes' counters of pid (gpu_counters_fn). */
int probes_gpu_counters(void *ctx, uint32_t pid, struct gpu_counters *c);
/* Times the probe on cuda_funcs[fn] fired. */
uint64_t probes_cuda_fn_hits(const struct probes *p, size_t fn);
/* Streams with work queued and not yet known done (gpu_pending_fn). */
size_t probes_gpu_pending(void *ctx, struct gpu_pending *out, size_t max);
/* The pids with counters (gpu_pids_fn). */
size_t probes_gpu_pids(void *ctx, uint32_t *pids, size_t max);

int probes_ringbuf_fd(const struct probes *p);
/* Sum of the per-CPU counters, indexed by enum it_stat. */
void probes_read_stats(const struct probes *p, uint64_t out[IT_STAT_MAX]);
unsigned probes_attached(const struct probes *p);

/* Capture plain TCP of this process on --http-port sockets (all = every TCP
 * socket). */
void probes_plain_pid(struct probes *p, uint32_t pid, bool all);
void probes_forget_pid(struct probes *p, uint32_t pid);
/* The TLS object conn of pid is gone: drop its socket binding. */
void probes_forget_tls_conn(struct probes *p, uint32_t pid, uint64_t conn);

#endif

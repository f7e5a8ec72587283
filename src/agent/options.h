/* SPDX-License-Identifier: MIT */
/* `infertrace agent` command-line options. */
#ifndef INFERTRACE_OPTIONS_H
#define INFERTRACE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AGENT_MAX_PIDS 1024
#define AGENT_MAX_COMMS 64
#define AGENT_MAX_PORTS 256

struct agent_opts {
	const char *output;          /* "-" = stdout */
	double interval_s;
	uint32_t pids[AGENT_MAX_PIDS];
	size_t n_pids;
	const char *comms[AGENT_MAX_COMMS];
	size_t n_comms;
	uint32_t capture_bytes;
	uint16_t http_ports[AGENT_MAX_PORTS];
	size_t n_http_ports;
	double conn_idle_s;
	uint32_t ringbuf_mb;
	bool all_requests;
	int gpu_mode;                /* enum gpu_probe_mode */
	const char *cuda_libs[16];   /* --cuda-lib */
	size_t n_cuda_libs;
	const char *nvml_lib;        /* --nvml-lib; NULL: the driver's */
	bool cuda_site_entry;        /* --cuda-probe-site entry */
	const char *prices[16];      /* --prices, layered over the default table */
	size_t n_prices;
	bool no_default_prices;      /* --no-default-prices */
	const char *labels[64];      /* --label key=value:REGEX */
	size_t n_labels;
	const char *label_rules;     /* --label-rules FILE */
	const char *hostname;        /* --hostname (per-host prices); NULL: this host's */
	const char *metrics;         /* --metrics ADDR: Prometheus endpoint; NULL: none */
	const char *socket;          /* --socket PATH for `infertrace top`; "none": none */
	const char *socket_group;    /* --socket-group NAME */
	const char *sinks[16];       /* --sink URL */
	size_t n_sinks;
	const char *spool_dir;       /* --spool-dir DIR */
	bool output_given;           /* -o was given (with --sink: one more sink) */
	bool verbose;
	bool help;
	bool version;
};

/* Ports of the common self-hosted inference servers (vLLM 8000, TGI and
 * llama.cpp 8080, Ollama 11434), used when no --http-port is given. */
extern const uint16_t agent_default_http_ports[];
extern const size_t agent_n_default_http_ports;

/*
 * Parse argv (argv[0] is the subcommand name). Returns 0, or -1 with a
 * one-line message in err (no trailing newline).
 */
int agent_opts_parse(int argc, char **argv, struct agent_opts *o, char *err, size_t errlen);
void agent_usage(FILE *f);

#endif

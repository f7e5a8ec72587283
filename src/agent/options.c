// SPDX-License-Identifier: MIT
#include "agent/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/cudafuncs.h"
#include "net_event.h"

const uint16_t agent_default_http_ports[] = { 8000, 8080, 11434 };
const size_t agent_n_default_http_ports =
	sizeof(agent_default_http_ports) / sizeof(agent_default_http_ports[0]);

enum {
	OPT_CAPTURE = 1000,
	OPT_HTTP_PORT,
	OPT_CONN_IDLE,
	OPT_RINGBUF,
	OPT_ALL_REQUESTS,
	OPT_GPU_PROBES,
	OPT_CUDA_LIB,
	OPT_NVML_LIB,
	OPT_CUDA_SITE,
	OPT_PRICES,
	OPT_NO_DEFAULT_PRICES,
	OPT_LABEL,
	OPT_LABEL_RULES,
	OPT_HOSTNAME,
	OPT_METRICS,
	OPT_SOCKET,
	OPT_SOCKET_GROUP,
	OPT_SINK,
	OPT_SPOOL_DIR,
};

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "interval", required_argument, NULL, 'i' },
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, 'c' },
	{ "capture-bytes", required_argument, NULL, OPT_CAPTURE },
	{ "http-port", required_argument, NULL, OPT_HTTP_PORT },
	{ "conn-idle", required_argument, NULL, OPT_CONN_IDLE },
	{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF },
	{ "all-requests", no_argument, NULL, OPT_ALL_REQUESTS },
	{ "gpu-probes", required_argument, NULL, OPT_GPU_PROBES },
	{ "cuda-lib", required_argument, NULL, OPT_CUDA_LIB },
	{ "nvml-lib", required_argument, NULL, OPT_NVML_LIB },
	{ "cuda-probe-site", required_argument, NULL, OPT_CUDA_SITE },
	{ "prices", required_argument, NULL, OPT_PRICES },
	{ "no-default-prices", no_argument, NULL, OPT_NO_DEFAULT_PRICES },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "label-rules", required_argument, NULL, OPT_LABEL_RULES },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "sink", required_argument, NULL, OPT_SINK },
	{ "spool-dir", required_argument, NULL, OPT_SPOOL_DIR },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

void agent_usage(FILE *f)
{
	fprintf(f,
		"Usage: infertrace agent [OPTIONS]\n"
		"\n"
		"Trace TLS and plain-HTTP traffic of every process on this host with eBPF\n"
		"and write JSON lines: per-connection, per-process and per-interval records.\n"
		"Needs root. Stops on SIGINT/SIGTERM, writing the last partial interval.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE|-      where JSON lines go (default: - = stdout; a file is appended to)\n"
		"  -i, --interval SECONDS   length of a usage interval (default 10; fractions allowed)\n"
		"  -p, --pid PID            trace only this process (repeatable; with --comm: either)\n"
		"  -c, --comm NAME          trace only processes with this name (repeatable; first 15 chars)\n"
		"      --capture-bytes N    plaintext bytes copied per TLS call or socket call\n"
		"                           (default %u, max %u; 0 counts bytes without copying)\n"
		"      --http-port PORT     capture plain HTTP on TCP sockets with this port at either end\n"
		"                           (repeatable; default 8000, 8080 and 11434: vLLM, TGI,\n"
		"                           llama.cpp, Ollama)\n"
		"      --conn-idle SECONDS  report a connection idle this long and forget it (default 60)\n"
		"      --ringbuf-mb N       ring buffer size in MiB, a power of two (default 8)\n"
		"      --all-requests       a request record for every HTTP exchange, not only\n"
		"                           inference APIs\n"
		"      --gpu-probes MODE    CUDA driver probes: full (launches, copies, memory,\n"
		"                           synchronisations; default), sync (synchronisations only,\n"
		"                           cheapest: busy time = time waited), off\n"
		"      --cuda-lib PATH      also probe this libcuda.so (repeatable; libcuda files in\n"
		"                           the loader cache and in processes are found on their own)\n"
		"      --nvml-lib PATH      NVML library to load (default libnvidia-ml.so.1; '' for none)\n"
		"      --cuda-probe-site S  auto (default: the first instruction the kernel emulates\n"
		"                           with the arguments intact) or entry (for comparison)\n"
		"      --prices FILE        a price table over the default one (repeatable; a later\n"
		"                           file wins; docs/prices.md). SIGHUP reloads them all\n"
		"      --no-default-prices  do not load the shipped table (prices/default.json)\n"
		"      --label K=V:REGEX    label processes whose cgroup path matches REGEX\n"
		"                           (repeatable; K=workload renames the workload)\n"
		"      --label-rules FILE   label rules, one K=V:REGEX per line\n"
		"      --hostname NAME      host name for per-host accelerator prices (default: this\n"
		"                           host's)\n"
		"      --metrics ADDR       serve Prometheus metrics on http://ADDR/metrics\n"
		"                           (e.g. 127.0.0.1:9464, :9464 for every address)\n"
		"      --socket PATH        query socket for 'infertrace top' (default\n"
		"                           /run/infertrace/agent.sock; 'none' for no socket)\n"
		"      --socket-group NAME  let this group read the socket (default: root only)\n"
		"      --sink URL           send records there instead of -o (repeatable): '-',\n"
		"                           FILE or file:///FILE (rotated, gzip), tcp://HOST:PORT\n"
		"                           (Fluent Bit, Vector, Logstash, rsyslog), http(s)://URL\n"
		"                           (batched NDJSON POSTs: ClickHouse, Vector, Fluent Bit);\n"
		"                           records wait in memory, then on disk, while one is down\n"
		"                           (docs/sinks.md)\n"
		"      --spool-dir DIR      where waiting records go (default\n"
		"                           /var/lib/infertrace/spool)\n"
		"  -v, --verbose            say which files are probed; libbpf debug output\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n"
		"\n"
		"Records (docs/schema.md): type \"request\", \"connection\", \"usage\", \"cost\"\n"
		"and \"agent\".\n"
		"Example: sudo infertrace agent -o - --interval 5 | jq 'select(.type==\"usage\")'\n",
		IT_CAPTURE_DEFAULT, IT_CAPTURE_MAX);
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 86400 * 7)
		return -1;
	*out = v;
	return 0;
}

int agent_opts_parse(int argc, char **argv, struct agent_opts *o, char *err, size_t errlen)
{
	unsigned long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->output = "-";
	o->interval_s = 10;
	o->capture_bytes = IT_CAPTURE_DEFAULT;
	o->conn_idle_s = 60;
	o->ringbuf_mb = 8;
	o->gpu_mode = GPU_PROBES_FULL;

	optind = 0; /* GNU: restart scanning, so the parser can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:i:p:c:vhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg) {
				snprintf(err, errlen, "--output needs a file name or '-'");
				return -1;
			}
			o->output = optarg;
			o->output_given = true;
			break;
		case 'i':
			if (parse_seconds(optarg, &o->interval_s) || o->interval_s < 0.1) {
				snprintf(err, errlen,
					 "invalid --interval '%s': give seconds, at least 0.1", optarg);
				return -1;
			}
			break;
		case 'p':
			if (parse_u64(optarg, INT_MAX, &v) || v == 0) {
				snprintf(err, errlen, "invalid --pid '%s': give a process id", optarg);
				return -1;
			}
			if (o->n_pids == AGENT_MAX_PIDS) {
				snprintf(err, errlen, "too many --pid (at most %d)", AGENT_MAX_PIDS);
				return -1;
			}
			o->pids[o->n_pids++] = (uint32_t)v;
			break;
		case 'c':
			if (!*optarg || strlen(optarg) >= IT_COMM_LEN) {
				snprintf(err, errlen,
					 "invalid --comm '%s': give a process name of 1 to %d characters "
					 "(the kernel keeps the first %d)",
					 optarg, IT_COMM_LEN - 1, IT_COMM_LEN - 1);
				return -1;
			}
			if (o->n_comms == AGENT_MAX_COMMS) {
				snprintf(err, errlen, "too many --comm (at most %d)", AGENT_MAX_COMMS);
				return -1;
			}
			o->comms[o->n_comms++] = optarg;
			break;
		case OPT_CAPTURE:
			if (parse_u64(optarg, IT_CAPTURE_MAX, &v)) {
				snprintf(err, errlen, "invalid --capture-bytes '%s': give 0 to %d", optarg,
					 IT_CAPTURE_MAX);
				return -1;
			}
			o->capture_bytes = (uint32_t)v;
			break;
		case OPT_HTTP_PORT:
			if (parse_u64(optarg, 65535, &v) || v == 0) {
				snprintf(err, errlen, "invalid --http-port '%s': give 1 to 65535", optarg);
				return -1;
			}
			if (o->n_http_ports == AGENT_MAX_PORTS) {
				snprintf(err, errlen, "too many --http-port (at most %d)", AGENT_MAX_PORTS);
				return -1;
			}
			o->http_ports[o->n_http_ports++] = (uint16_t)v;
			break;
		case OPT_CONN_IDLE:
			if (parse_seconds(optarg, &o->conn_idle_s)) {
				snprintf(err, errlen, "invalid --conn-idle '%s': give seconds > 0", optarg);
				return -1;
			}
			break;
		case OPT_RINGBUF:
			if (parse_u64(optarg, 1024, &v) || v == 0 || (v & (v - 1))) {
				snprintf(err, errlen,
					 "invalid --ringbuf-mb '%s': give a power of two from 1 to 1024",
					 optarg);
				return -1;
			}
			o->ringbuf_mb = (uint32_t)v;
			break;
		case OPT_GPU_PROBES:
			if (!strcmp(optarg, "full"))
				o->gpu_mode = GPU_PROBES_FULL;
			else if (!strcmp(optarg, "sync"))
				o->gpu_mode = GPU_PROBES_SYNC;
			else if (!strcmp(optarg, "off"))
				o->gpu_mode = GPU_PROBES_OFF;
			else {
				snprintf(err, errlen, "invalid --gpu-probes '%s': give full, sync or off",
					 optarg);
				return -1;
			}
			break;
		case OPT_CUDA_LIB:
			if (!*optarg || o->n_cuda_libs == 16) {
				snprintf(err, errlen, "invalid --cuda-lib '%s': give a path (at most 16)",
					 optarg);
				return -1;
			}
			o->cuda_libs[o->n_cuda_libs++] = optarg;
			break;
		case OPT_CUDA_SITE:
			if (strcmp(optarg, "auto") && strcmp(optarg, "entry")) {
				snprintf(err, errlen, "invalid --cuda-probe-site '%s': give auto or entry",
					 optarg);
				return -1;
			}
			o->cuda_site_entry = !strcmp(optarg, "entry");
			break;
		case OPT_NVML_LIB:
			o->nvml_lib = optarg;
			break;
		case OPT_PRICES:
			if (!*optarg || o->n_prices == 16) {
				snprintf(err, errlen, "invalid --prices '%s': give a file (at most 16)",
					 optarg);
				return -1;
			}
			o->prices[o->n_prices++] = optarg;
			break;
		case OPT_NO_DEFAULT_PRICES:
			o->no_default_prices = true;
			break;
		case OPT_LABEL:
			if (o->n_labels == 64) {
				snprintf(err, errlen, "too many --label (at most 64; use --label-rules)");
				return -1;
			}
			o->labels[o->n_labels++] = optarg; /* checked when compiled */
			break;
		case OPT_LABEL_RULES:
			o->label_rules = optarg;
			break;
		case OPT_METRICS:
			if (!*optarg || !strchr(optarg, ':')) {
				snprintf(err, errlen,
					 "invalid --metrics '%s': give ADDRESS:PORT, e.g. 127.0.0.1:9464",
					 optarg);
				return -1;
			}
			o->metrics = optarg;
			break;
		case OPT_SOCKET:
			if (!*optarg) {
				snprintf(err, errlen, "invalid --socket '': give a path or 'none'");
				return -1;
			}
			o->socket = optarg;
			break;
		case OPT_SINK:
			if (!*optarg || o->n_sinks == 16) {
				snprintf(err, errlen, "invalid --sink '%s': give a URL (at most 16)",
					 optarg);
				return -1;
			}
			o->sinks[o->n_sinks++] = optarg;
			break;
		case OPT_SPOOL_DIR:
			if (!*optarg) {
				snprintf(err, errlen, "invalid --spool-dir '': give a directory");
				return -1;
			}
			o->spool_dir = optarg;
			break;
		case OPT_SOCKET_GROUP:
			o->socket_group = optarg;
			break;
		case OPT_HOSTNAME:
			if (!*optarg) {
				snprintf(err, errlen, "invalid --hostname '': give a name");
				return -1;
			}
			o->hostname = optarg;
			break;
		case OPT_ALL_REQUESTS:
			o->all_requests = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
			o->version = true;
			break;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		default:
			snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!o->n_http_ports) {
		memcpy(o->http_ports, agent_default_http_ports,
		       agent_n_default_http_ports * sizeof(uint16_t));
		o->n_http_ports = agent_n_default_http_ports;
	}
	return 0;
}

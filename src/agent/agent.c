// SPDX-License-Identifier: MIT
/*
 * `infertrace agent`: load and attach the probes, read the ring buffer,
 * write records every interval, detach on SIGINT/SIGTERM.
 */
#include "agent/agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "agent/discovery.h"
#include "agent/options.h"
#include "agent/probes.h"
#include "agent/tracker.h"
#include "gpu/cudafuncs.h"
#include "gpu/gpu.h"
#include "out/jsonl.h"
#include "proto/proto.h"
#include "cost/ledger.h"
#include "cost/prices.h"
#include "cost/workload.h"
#include "out/live.h"
#include "util/array.h"
#include "out/metrics.h"
#include "out/query.h"
#include "out/sink.h"

/* After exec the loader maps the program's libraries within milliseconds;
 * a dlopen()ed library is mapped right after the mmap() we see. */
#define RESCAN_SOON_NS (5ULL * 1000 * 1000)
#define RESCAN_LATER_NS (150ULL * 1000 * 1000)
/* Longest wait for ring-buffer data: bounds how late a record is written. */
#define POLL_MS 10

static volatile sig_atomic_t stop_signal, reload_signal;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

struct agent {
	struct agent_opts opts;
	struct probes *probes;
	struct discovery *disc;
	struct tracker *tracker;
	struct gpu *gpu;
	struct workloads *workloads;
	struct ledger *ledger;
	struct sinks *sinks;       /* --sink; NULL: records go to -o */
	struct live *live;         /* totals for `top` and /metrics */
	struct metrics *metrics;
	struct query *query;
	char hostname[256];
	uint64_t prices_reloads, prices_reload_errors;
	struct jsonl *out;
	struct ring_buffer *rb;
	int64_t mono_to_real;
	uint64_t start_ns;
	uint64_t events;         /* ring-buffer records read */
	uint64_t interval_start; /* CLOCK_MONOTONIC start of the current interval */
	int write_err;
	int mounted_tracefs;     /* unmount on exit */
	/* GPU processes that exited this interval: their last usage record
	 * waits for the interval's end, when the device time they shared with
	 * the others is known (gpu_proc_exit) */
	struct it_proc_event *gpu_exits;
	size_t n_gpu_exits, cap_gpu_exits;
};

static uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t mono_to_real_offset(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

static uint64_t rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Keep a GPU process's exit for the interval's end; false when out of
 * memory (it is then reported at once, its share of the device unknown). */
static bool gpu_exit_defer(struct agent *a, const struct it_proc_event *ev)
{
	if (ARRAY_RESERVE(a->gpu_exits, a->n_gpu_exits, a->cap_gpu_exits, 16))
		return false;
	a->gpu_exits[a->n_gpu_exits++] = *ev;
	return true;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	uint32_t kind;

	if (size < sizeof(kind))
		return 0;
	a->events++;
	memcpy(&kind, data, sizeof(kind));
	switch (kind) {
	case IT_EV_DATA: {
		const struct it_data_event *ev = data;

		if (size >= sizeof(*ev) && size >= sizeof(*ev) + ev->len)
			tracker_data(a->tracker, ev);
		break;
	}
	case IT_EV_GPU_SPAN: {
		const struct gpu_span_event *ev = data;

		if (size >= sizeof(*ev))
			gpu_span(a->gpu, ev);
		break;
	}
	case IT_EV_SOCK_CLOSE: {
		const struct it_close_event *ev = data;

		if (size >= sizeof(*ev))
			tracker_sock_close(a->tracker, ev->sk, ev->ts_ns);
		break;
	}
	case IT_EV_EXEC:
	case IT_EV_MMAP_EXEC:
	case IT_EV_EXIT: {
		const struct it_proc_event *ev = data;
		uint64_t now = now_mono();

		if (size < sizeof(*ev))
			break;
		if (kind == IT_EV_EXIT) {
			struct gpu_counters gc;

			/* a GPU process that never touched the network still gets
			 * its last partial interval */
			if (probes_gpu_counters(a->probes, ev->pid, &gc) == 0 && gpu_exit_defer(a, ev)) {
				tracker_note_proc(a->tracker, ev->pid, ev->comm, ev->cgroup_id, ev->ts_ns);
				gpu_proc_exit(a->gpu, ev->pid, ev->ts_ns);
				/* /proc/PID is gone: its server is found through this */
				ledger_note_parent(a->ledger, ev->pid, ev->ppid);
			} else {
				tracker_proc_exit(a->tracker, ev);
				gpu_forget(a->gpu, ev->pid);
			}
			probes_forget_pid(a->probes, ev->pid);
			break;
		}
		if (kind == IT_EV_EXEC)
			tracker_proc_exec(a->tracker, ev);
		discovery_schedule(a->disc, ev->pid, now, kind == IT_EV_EXEC ? 0 : RESCAN_SOON_NS);
		discovery_schedule(a->disc, ev->pid, now, RESCAN_LATER_NS);
		break;
	}
	default:
		break;
	}
	return 0;
}

static void conn_forget(void *ctx, uint32_t pid, uint64_t conn, uint8_t source)
{
	struct agent *a = ctx;

	(void)source;
	probes_forget_tls_conn(a->probes, pid, conn);
}

static bool port_listening(void *ctx, uint16_t port)
{
	struct agent *a = ctx;

	return discovery_port_listening(a->disc, port, now_mono());
}

static bool usage_extra(void *ctx, uint32_t pid, cJSON *rec)
{
	struct agent *a = ctx;
	bool gpu = gpu_usage_fields(a->gpu, pid, rec);

	ledger_usage_fields(a->ledger, pid, rec);
	return gpu;
}

static void request_started(void *ctx, uint32_t pid, uint64_t id, uint64_t start_ns)
{
	ledger_request_started(((struct agent *)ctx)->ledger, pid, id, start_ns);
}

static bool request_extra(void *ctx, const struct tracker_request *req, cJSON *rec)
{
	return ledger_request(((struct agent *)ctx)->ledger, req, rec);
}

static void proc_fields(void *ctx, uint32_t pid, uint64_t cgroup_id, cJSON *rec)
{
	ledger_proc_fields(((struct agent *)ctx)->ledger, pid, cgroup_id, rec);
}

/*
 * The price tables: the shipped default (unless --no-default-prices), then
 * each --prices in order. NULL with *bad set when a table has problems
 * (printed); NULL alone when there is no table at all.
 */
static struct price_table *load_prices(const struct agent_opts *o, bool *bad)
{
	const char *paths[17];
	struct price_problems probs = { 0 };
	struct price_table *t;
	size_t n = 0;

	*bad = false;
	if (!o->no_default_prices) {
		const char *d = prices_default_path();

		if (d)
			paths[n++] = d;
		else
			fprintf(stderr, "infertrace: no default price table (prices/default.json or "
					"/usr/local/share/infertrace/default.json): only --prices "
					"files price anything\n");
	}
	for (size_t i = 0; i < o->n_prices; i++)
		paths[n++] = o->prices[i];
	if (!n)
		return NULL;
	t = prices_load(paths, n, &probs);
	if (!t) {
		*bad = true;
		price_problems_print(&probs, stderr);
	}
	price_problems_free(&probs);
	return t;
}

/* SIGHUP: a bad table keeps the old one, and says why. */
static void reload_prices(struct agent *a)
{
	bool bad;
	struct price_table *t = load_prices(&a->opts, &bad);

	if (bad) {
		a->prices_reload_errors++;
		fprintf(stderr, "infertrace: SIGHUP: the price tables have the problems above; "
				"keeping the ones loaded before\n");
		return;
	}
	a->prices_reloads++;
	ledger_set_prices(a->ledger, t);
	fprintf(stderr, "infertrace: SIGHUP: price tables reloaded (%zu models, %zu "
			"accelerators)\n", t ? prices_count_models(t) : 0,
		t ? prices_count_accels(t) : 0);
}

/* Workload labels from --label and --label-rules. */
static int load_labels(struct agent *a)
{
	char err[512];

	for (size_t i = 0; i < a->opts.n_labels; i++)
		if (workloads_add_rule(a->workloads, a->opts.labels[i], err, sizeof(err))) {
			fprintf(stderr, "infertrace: --label '%s': %s\n", a->opts.labels[i], err);
			return -EINVAL;
		}
	if (a->opts.label_rules &&
	    workloads_load_rules(a->workloads, a->opts.label_rules, err, sizeof(err))) {
		fprintf(stderr, "infertrace: --label-rules: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* The cgroup v2 id of a process: the inode of its directory in the v2
 * hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
static uint64_t proc_cgroup_id(uint32_t pid)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char path[64], line[4096], full[4200];
	uint64_t id = 0;
	struct stat sb;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *nl = strchr(line, '\n');

		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (nl)
			*nl = '\0';
		for (size_t i = 0; i < 2 && !id; i++) {
			snprintf(full, sizeof(full), "%s%s", roots[i], line + 3);
			if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
				id = sb.st_ino;
		}
	}
	fclose(f);
	return id;
}

static void proc_comm(uint32_t pid, char comm[IT_COMM_LEN + 1])
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, IT_COMM_LEN + 1, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/* The interval's cost: each device's time priced and split among its
 * processes (src/cost/ledger.c). */
static void ledger_gpu_interval(struct agent *a, uint64_t start, uint64_t end)
{
	static struct gpu_proc_usage use[4096];
	static struct ledger_gpu_proc lp[4096];
	struct ledger_device devs[64];
	int idx[64];
	size_t nu = gpu_interval_procs(a->gpu, use, 4096);
	size_t nd = gpu_devices(a->gpu, idx, 64);

	for (size_t i = 0; i < nd; i++) {
		devs[i].index = idx[i];
		gpu_device_identity(a->gpu, idx[i], devs[i].name, sizeof(devs[i].name), devs[i].uuid,
				    sizeof(devs[i].uuid));
	}
	for (size_t i = 0; i < nu; i++) {
		uint64_t cg = tracker_proc_cgroup(a->tracker, use[i].pid);

		lp[i] = (struct ledger_gpu_proc){
			.pid = use[i].pid,
			.cgroup_id = cg ? cg : proc_cgroup_id(use[i].pid),
			.device = use[i].device,
			.busy_s = use[i].busy_s,
			.mem_bytes = use[i].mem_bytes,
			.spans = use[i].spans,
			.nspans = use[i].nspans,
		};
	}
	ledger_interval(a->ledger, start, end, devs, nd, lp, nu);
}

/* GPU time for the interval, and a usage record for every GPU process. */
static void gpu_interval_end(struct agent *a, uint64_t start, uint64_t end)
{
	uint32_t *pids;
	size_t n;

	gpu_interval(a->gpu, start, end);
	n = gpu_active_pids(a->gpu, &pids);
	ledger_gpu_interval(a, start, end);
	/* the exited ones' last records, now that their share is known */
	for (size_t i = 0; i < a->n_gpu_exits; i++) {
		tracker_proc_exit(a->tracker, &a->gpu_exits[i]);
		gpu_forget(a->gpu, a->gpu_exits[i].pid);
	}
	a->n_gpu_exits = 0;
	for (size_t i = 0; i < n; i++) {
		char comm[IT_COMM_LEN + 1];

		proc_comm(pids[i], comm);
		tracker_note_proc(a->tracker, pids[i], comm[0] ? comm : NULL, proc_cgroup_id(pids[i]),
				  end);
	}
}

static int sink_write(void *ctx, const char *line, size_t len)
{
	return sinks_write(ctx, line, len);
}

static void observe_record(void *ctx, const cJSON *rec)
{
	live_observe(ctx, rec);
}

static void write_record(struct agent *a, cJSON *r)
{
	int e;

	if (!r)
		return;
	e = jsonl_write(a->out, r);
	if (e && !a->write_err) {
		a->write_err = e;
		fprintf(stderr, "infertrace: cannot write records to %s: %s\n", a->opts.output,
			strerror(-e));
	}
}

static void agent_record(struct agent *a, const char *event, uint64_t start_ns, uint64_t end_ns)
{
	uint64_t st[IT_STAT_MAX];
	struct tracker_stats ts;
	struct discovery_stats ds;
	cJSON *r = record_new("agent", (uint64_t)((int64_t)end_ns + a->mono_to_real));

	if (!r)
		return;
	probes_read_stats(a->probes, st);
	tracker_get_stats(a->tracker, &ts);
	discovery_get_stats(a->disc, &ds);
	cJSON_AddStringToObject(r, "event", event);
	cJSON_AddStringToObject(r, "version", INFERTRACE_VERSION);
	json_add_u64(r, "pid", (uint64_t)getpid());
	if (strcmp(event, "start") != 0) {
		json_add_time(r, "interval_start", (uint64_t)((int64_t)start_ns + a->mono_to_real));
		json_add_time(r, "interval_end", (uint64_t)((int64_t)end_ns + a->mono_to_real));
	}
	/* counters below are totals since the agent started */
	json_add_u64(r, "events", a->events);
	json_add_u64(r, "lost", st[IT_STAT_LOST]);
	json_add_u64(r, "truncated", ts.truncated);
	json_add_u64(r, "read_faults", st[IT_STAT_READ_FAULT]);
	json_add_u64(r, "nested_calls", st[IT_STAT_NESTED]);
	json_add_u64(r, "nested_overflow", st[IT_STAT_NEST_OVERFLOW]);
	json_add_u64(r, "calls", ts.calls);
	json_add_u64(r, "requests", ts.requests);
	json_add_u64(r, "http_exchanges", proto_stats.exchanges);
	json_add_u64(r, "capture_gaps", proto_stats.gaps);
	json_add_u64(r, "capture_gap_bytes", proto_stats.gap_bytes);
	json_add_u64(r, "http_resyncs", proto_stats.resyncs);
	json_add_u64(r, "http_orphan_responses", proto_stats.orphan_responses);
	json_add_u64(r, "not_http_connections", proto_stats.not_http);
	json_add_u64(r, "http_pending_evicted", proto_stats.pending_evicted);
	json_add_u64(r, "body_budget_drops", proto_stats.body_budget_drops);
	json_add_u64(r, "probes_attached", probes_attached(a->probes));
	json_add_u64(r, "files_attached", ds.files_attached);
	json_add_u64(r, "files_examined", ds.files_examined);
	json_add_u64(r, "cuda_files", ds.cuda_files);
	json_add_u64(r, "cuda_entry_points", ds.cuda_funcs);
	json_add_u64(r, "cuda_entry_points_absent", ds.cuda_absent);
	json_add_u64(r, "cuda_probes_past_entry", ds.cuda_moved);
	{
		struct gpu_stats gs;

		gpu_get_stats(a->gpu, &gs);
		json_add_u64(r, "gpu_spans", gs.spans);
		if (ds.cuda_funcs) {
			cJSON *hits = cJSON_AddObjectToObject(r, "cuda_calls");

			for (size_t i = 0; i < cuda_nfuncs && i < GPU_MAX_FUNCS; i++) {
				uint64_t h = probes_cuda_fn_hits(a->probes, i);

				if (h && hits)
					json_add_u64(hits, cuda_funcs[i].name, h);
			}
		}
		cJSON_AddBoolToObject(r, "nvml", gs.nvml_ok);
	}
	json_add_u64(r, "attach_errors", ds.attach_errors);
	json_add_u64(r, "connections_open", ts.conns_open);
	json_add_u64(r, "connections_evicted", ts.conns_evicted);
	json_add_u64(r, "processes", ts.procs);
	json_add_u64(r, "processes_evicted", ts.procs_evicted);
	json_add_u64(r, "record_errors", ts.write_errors);
	json_add_u64(r, "capture_bytes", a->opts.capture_bytes);
	cJSON_AddNumberToObject(r, "interval_s", a->opts.interval_s);
	if (a->sinks) {
		cJSON *arr = cJSON_AddArrayToObject(r, "sinks");

		for (size_t i = 0; arr && i < sinks_count(a->sinks); i++) {
			struct sink_stats ss;
			const char *url;
			cJSON *o = cJSON_CreateObject();

			sinks_stats(a->sinks, i, &url, &ss);
			cJSON_AddStringToObject(o, "url", url);
			cJSON_AddBoolToObject(o, "up", ss.up);
			json_add_u64(o, "written", ss.written);
			json_add_u64(o, "queued", ss.queued);
			json_add_u64(o, "spooled", ss.spooled);
			json_add_u64(o, "evicted", ss.evicted);
			json_add_u64(o, "rejected", ss.rejected);
			json_add_u64(o, "errors", ss.errors);
			if (ss.last_error[0])
				cJSON_AddStringToObject(o, "last_error", ss.last_error);
			cJSON_AddItemToArray(arr, o);
		}
	}
	{
		struct ledger_stats ls;

		ledger_get_stats(a->ledger, &ls);
		json_add_u64(r, "requests_priced", ls.requests_priced);
		json_add_u64(r, "requests_unpriced", ls.requests_unpriced);
		json_add_u64(r, "device_intervals_unpriced", ls.devices_unpriced);
		json_add_u64(r, "served_requests_waiting", ls.served_held);
		json_add_u64(r, "served_requests_evicted", ls.served_evicted);
		cJSON_AddNumberToObject(r, "cost_usd", ls.list_cost_usd);
		json_add_u64(r, "prices_reloads", a->prices_reloads);
		json_add_u64(r, "prices_reload_errors", a->prices_reload_errors);
		if (ls.write_errors)
			json_add_u64(r, "cost_record_errors", ls.write_errors);
	}
	json_add_u64(r, "rss_bytes", rss_bytes());
	write_record(a, r);
}

/* Tracepoints are found through tracefs; minimal systems boot without it
 * mounted. Mount it where libbpf looks first. Returns 1 when we mounted it. */
static int ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return 1;
	fprintf(stderr, "infertrace: tracefs is not mounted and mounting it failed (%s): "
			"run 'mount -t tracefs tracefs /sys/kernel/tracing'\n", strerror(errno));
	return -errno;
}

static int agent_setup(struct agent *a)
{
	struct probes_opts po = {
		.capture_bytes = a->opts.capture_bytes,
		.ringbuf_bytes = a->opts.ringbuf_mb << 20,
		.pids = a->opts.pids,
		.n_pids = a->opts.n_pids,
		.comms = a->opts.comms,
		.n_comms = a->opts.n_comms,
		.http_ports = a->opts.http_ports,
		.n_http_ports = a->opts.n_http_ports,
		.verbose = a->opts.verbose,
		.gpu_mode = a->opts.gpu_mode,
		.cuda_site_entry = a->opts.cuda_site_entry,
	};
	struct tracker_hooks hooks = {
		.ctx = a,
		.conn_forget = conn_forget,
		.port_listening = port_listening,
		.usage_extra = usage_extra,
		.request_started = request_started,
		.request_extra = request_extra,
		.proc_fields = proc_fields,
	};
	struct ledger_opts lo = { 0 };
	struct price_table *prices;
	bool bad_prices;
	struct gpu_opts go = {
		.read_counters = probes_gpu_counters,
		.list_pids = probes_gpu_pids,
		.list_pending = probes_gpu_pending,
		.nvml_lib = a->opts.nvml_lib,
	};
	struct tracker_opts to;
	char err[256];
	int e;

	if (geteuid() != 0) {
		fprintf(stderr, "infertrace: the agent loads BPF programs and must run as root: "
				"try 'sudo infertrace agent'\n");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		fprintf(stderr, "infertrace: this kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"use a kernel built with CONFIG_DEBUG_INFO_BTF=y\n");
		return -ENOENT;
	}
	/* the cheap checks first: a bad price table or label is an error
	 * before any probe is loaded */
	prices = load_prices(&a->opts, &bad_prices);
	if (bad_prices) {
		fprintf(stderr, "infertrace: fix the price tables above (infertrace prices check "
				"FILE tells the same), or leave them out\n");
		return -EINVAL;
	}
	if (a->opts.hostname)
		snprintf(a->hostname, sizeof(a->hostname), "%s", a->opts.hostname);
	else if (gethostname(a->hostname, sizeof(a->hostname) - 1))
		a->hostname[0] = '\0';
	a->workloads = workloads_new(NULL, NULL); /* finds the cgroup2 mount */
	if (!a->workloads) {
		prices_free(prices);
		return -ENOMEM;
	}
	e = load_labels(a);
	if (e) {
		prices_free(prices);
		return e;
	}
	e = ensure_tracefs();
	if (e < 0) {
		prices_free(prices);
		return e;
	}
	a->mounted_tracefs = e;
	if (a->opts.n_sinks) {
		const char *urls[17];
		size_t n = 0;
		struct sink_opts so = { .spool_dir = a->opts.spool_dir };

		for (size_t i = 0; i < a->opts.n_sinks; i++)
			urls[n++] = a->opts.sinks[i];
		if (a->opts.output_given) /* -o with --sink: one more destination */
			urls[n++] = a->opts.output;
		a->sinks = sinks_open(urls, n, &so, err, sizeof(err));
		if (!a->sinks) {
			fprintf(stderr, "infertrace: --sink: %s\n", err);
			prices_free(prices);
			return -EINVAL;
		}
		a->out = jsonl_from_writer(sink_write, a->sinks);
	} else {
		a->out = jsonl_open(a->opts.output);
	}
	if (!a->out) {
		e = errno ? -errno : -ENOMEM;
		fprintf(stderr, "infertrace: cannot open output '%s': %s\n", a->opts.output,
			strerror(-e));
		prices_free(prices);
		return e;
	}
	{
		/* this run: the host's boot id would do across reboots, but the
		 * start time and pid are unique enough on one host and say more */
		char prefix[40];
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(prefix, sizeof(prefix), "%llx.%x",
			 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000,
			 (unsigned)getpid());
		jsonl_set_record_ids(a->out, prefix);
	}
	a->live = live_new();
	if (!a->live) {
		prices_free(prices);
		return -ENOMEM;
	}
	jsonl_set_observer(a->out, observe_record, a->live);
	lo.hostname = a->hostname;
	a->mono_to_real = mono_to_real_offset();
	lo.mono_to_real_ns = a->mono_to_real;
	a->ledger = ledger_new(&lo, prices, a->workloads, a->out);
	if (!a->ledger) {
		prices_free(prices);
		return -ENOMEM;
	}
	e = probes_open(&a->probes, &po, err, sizeof(err));
	if (e) {
		fprintf(stderr, "infertrace: %s\n", err);
		return e;
	}
	a->disc = discovery_new(a->probes, a->opts.http_ports, a->opts.n_http_ports,
				a->opts.verbose);
	if (!a->disc)
		return -ENOMEM;
	for (size_t i = 0; i < a->opts.n_cuda_libs; i++) {
		if (access(a->opts.cuda_libs[i], R_OK) != 0) {
			e = -errno;
			fprintf(stderr, "infertrace: --cuda-lib %s: %s\n", a->opts.cuda_libs[i],
				strerror(errno));
			return e;
		}
		discovery_attach_path(a->disc, a->opts.cuda_libs[i]);
	}
	discovery_scan_ldcache(a->disc);
	discovery_scan_all(a->disc);
	go.ctx = a->probes;
	a->gpu = gpu_new(&go);
	if (!a->gpu)
		return -ENOMEM;

	a->start_ns = now_mono();
	to = (struct tracker_opts){
		.conn_idle_ns = (uint64_t)(a->opts.conn_idle_s * 1e9),
		.capture_bytes = a->opts.capture_bytes,
		.mono_to_real_ns = a->mono_to_real,
		.start_ns = a->start_ns,
		.parse_http = true,
		.all_requests = a->opts.all_requests,
	};
	a->tracker = tracker_new(&to, &hooks, a->out);
	if (!a->tracker)
		return -ENOMEM;
	a->rb = ring_buffer__new(probes_ringbuf_fd(a->probes), handle_event, a, NULL);
	if (!a->rb) {
		e = -errno;
		fprintf(stderr, "infertrace: cannot open the ring buffer: %s\n", strerror(errno));
		return e;
	}
	if (a->opts.metrics) {
		a->metrics = metrics_start(a->opts.metrics, a->live, err, sizeof(err));
		if (!a->metrics) {
			fprintf(stderr, "infertrace: --metrics %s: %s\n", a->opts.metrics, err);
			return -EADDRINUSE;
		}
	}
	if (!a->opts.socket || strcmp(a->opts.socket, "none")) {
		const char *path = a->opts.socket ? a->opts.socket : QUERY_DEFAULT_SOCKET;

		a->query = query_start(path, a->opts.socket_group, a->live, err, sizeof(err));
		/* the default socket taken by another agent is not worth failing
		 * for; one asked for by name is */
		if (!a->query) {
			fprintf(stderr, "infertrace: query socket %s: %s%s\n", path, err,
				a->opts.socket ? "" : " ('infertrace top' will not see this agent)");
			if (a->opts.socket)
				return -EADDRINUSE;
		}
	}
	return 0;
}

static void agent_teardown(struct agent *a)
{
	/* the readers of the live totals go first */
	if (a->query)
		query_stop(a->query);
	if (a->metrics)
		metrics_stop(a->metrics);
	ring_buffer__free(a->rb);
	/* detach before anything else goes: no probe outlives the agent */
	probes_destroy(a->probes);
	tracker_free(a->tracker);
	ledger_free(a->ledger); /* writes the served requests still waiting */
	workloads_free(a->workloads);
	if (a->out)
		jsonl_set_observer(a->out, NULL, NULL);
	live_free(a->live);
	gpu_free(a->gpu);
	free(a->gpu_exits);
	discovery_free(a->disc);
	jsonl_close(a->out);
	if (a->sinks) {
		/* a receiver that is down keeps the rest spooled for the next run */
		fprintf(stderr, "infertrace: delivering the last records to the sinks "
				"(up to 5 s)\n");
		sinks_close(a->sinks, 5000);
	}
	if (a->mounted_tracefs)
		umount2("/sys/kernel/tracing", MNT_DETACH);
}

static int agent_loop(struct agent *a)
{
	uint64_t interval_ns = (uint64_t)(a->opts.interval_s * 1e9);
	uint64_t interval_start = a->start_ns, next_tick = a->start_ns + interval_ns;

	a->interval_start = interval_start;
	int rc = 0;

	while (!stop_signal) {
		uint64_t now = now_mono(), wake = next_tick, due = discovery_next_due(a->disc);
		int timeout_ms, e;

		if (due < wake)
			wake = due;
		timeout_ms = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
		/* data records do not wake us (see rb_flags in bpf/common.bpf.h) */
		if (timeout_ms > POLL_MS)
			timeout_ms = POLL_MS;
		e = ring_buffer__poll(a->rb, timeout_ms);
		/* poll only reads rings that signalled; records queued without a
		 * wake-up are read here */
		if (e >= 0 || e == -EINTR)
			e = ring_buffer__consume(a->rb);
		if (e < 0 && e != -EINTR) {
			fprintf(stderr, "infertrace: reading the ring buffer failed: %s\n",
				strerror(-e));
			rc = e;
			break;
		}
		now = now_mono();
		if (reload_signal) {
			reload_signal = 0;
			reload_prices(a);
		}
		discovery_run_due(a->disc, now);
		if (now >= next_tick) {
			gpu_interval_end(a, interval_start, now);
			tracker_interval(a->tracker, interval_start, now, false);
			agent_record(a, "interval", interval_start, now);
			interval_start = now;
			a->interval_start = now;
			/* skip ticks missed while suspended, keep the phase */
			while (next_tick <= now)
				next_tick += interval_ns;
		}
		if (a->sinks)
			sinks_poll(a->sinks);
		if (jsonl_flush(a->out) && !a->write_err) {
			a->write_err = -EIO;
			fprintf(stderr, "infertrace: cannot write records to %s: %s\n",
				a->opts.output, strerror(errno));
		}
		if (a->write_err) {
			rc = a->write_err;
			break;
		}
	}

	/* drain what the probes wrote before the signal, then the last interval */
	ring_buffer__consume(a->rb);
	{
		uint64_t end = now_mono();

		gpu_interval_end(a, interval_start, end);
		tracker_interval(a->tracker, interval_start, end, true);
		ledger_flush(a->ledger);
	}
	agent_record(a, "stop", interval_start, now_mono());
	jsonl_flush(a->out);
	return rc;
}

int cmd_agent(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct agent a = { 0 };
	char err[256];
	int e;

	if (agent_opts_parse(argc, argv, &a.opts, err, sizeof(err))) {
		fprintf(stderr, "infertrace: %s (see 'infertrace agent --help')\n", err);
		return 2;
	}
	if (a.opts.help) {
		agent_usage(stdout);
		return 0;
	}
	if (a.opts.version) {
		printf("infertrace %s\n", INFERTRACE_VERSION);
		return 0;
	}

	/* no SA_RESTART: the signal must interrupt the ring-buffer wait */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	e = agent_setup(&a);
	if (!e) {
		struct discovery_stats ds;

		agent_record(&a, "start", a.start_ns, a.start_ns);
		jsonl_flush(a.out);
		discovery_get_stats(a.disc, &ds);
		fprintf(stderr,
			"infertrace: tracing with %u probes (%llu files with TLS functions); "
			"records to %s every %gs; Ctrl-C stops\n",
			probes_attached(a.probes), (unsigned long long)ds.files_attached,
			strcmp(a.opts.output, "-") ? a.opts.output : "stdout", a.opts.interval_s);
		e = agent_loop(&a);
	}
	if (a.probes)
		fprintf(stderr, "infertrace: records written; detaching %u probes\n",
			probes_attached(a.probes));
	agent_teardown(&a);
	if (stop_signal && !e)
		fprintf(stderr, "infertrace: stopped by signal %d, probes detached\n",
			(int)stop_signal);
	return e ? 1 : 0;
}

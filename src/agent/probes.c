// SPDX-License-Identifier: MIT
#include "agent/probes.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/elfsym.h"
#include "agent/probesite.h"
#include "cuda.skel.h"
#include "gpu/cudafuncs.h"
#include "proc.skel.h"
#include "sock.skel.h"
#include "tls.skel.h"

const char *const tls_func_names[TLS_NFUNCS] = {
	[TLS_SSL_WRITE] = "SSL_write",
	[TLS_SSL_READ] = "SSL_read",
	[TLS_SSL_WRITE_EX] = "SSL_write_ex",
	[TLS_SSL_READ_EX] = "SSL_read_ex",
	[TLS_GNUTLS_SEND] = "gnutls_record_send",
	[TLS_GNUTLS_RECV] = "gnutls_record_recv",
};

/* Must match tls_conn_key in bpf/common.bpf.h. */
struct tls_conn_key {
	uint64_t conn;
	uint32_t pid;
	uint32_t pad;
};

struct probes {
	struct tls_bpf *tls;
	struct sock_bpf *sock;
	struct proc_bpf *proc;
	struct cuda_bpf *cuda;
	int gpu_mode;            /* enum gpu_probe_mode */
	bool cuda_site_entry;
	struct bpf_link **links; /* uprobes */
	size_t n_links, cap_links;
	unsigned tracepoints;
	int ncpus;
};

static bool verbose_libbpf;

/* libbpf's warnings include whole verifier logs; our own one-line errors
 * say what failed, and -v shows libbpf's detail. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Give obj the already created maps of tls that it declares too (same name),
 * so every object shares one ring buffer and one TLS state. Each object
 * keeps its own .rodata/.bss. */
static int share_maps(struct bpf_object *obj, struct bpf_object *owner)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		struct bpf_map *src;
		int err;

		if (strchr(name, '.'))
			continue;
		src = bpf_object__find_map_by_name(owner, name);
		if (!src || bpf_map__fd(src) < 0)
			continue;
		err = bpf_map__reuse_fd(m, bpf_map__fd(src));
		if (err)
			return err;
	}
	return 0;
}

static int fill_filters(struct probes *p, const struct probes_opts *o)
{
	int fd_pids = bpf_map__fd(p->tls->maps.filter_pids);
	int fd_comms = bpf_map__fd(p->tls->maps.filter_comms);
	int fd_ports = bpf_map__fd(p->sock->maps.http_ports);
	uint8_t one = 1;

	for (size_t i = 0; i < o->n_pids; i++)
		if (bpf_map_update_elem(fd_pids, &o->pids[i], &one, BPF_ANY))
			return -errno;
	for (size_t i = 0; i < o->n_comms; i++) {
		char key[IT_COMM_LEN] = { 0 };

		strncpy(key, o->comms[i], IT_COMM_LEN - 1);
		if (bpf_map_update_elem(fd_comms, key, &one, BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; i < o->n_http_ports; i++)
		if (bpf_map_update_elem(fd_ports, &o->http_ports[i], &one, BPF_ANY))
			return -errno;
	return 0;
}

static unsigned count_programs(struct bpf_object *obj)
{
	struct bpf_program *prog;
	unsigned n = 0;

	bpf_object__for_each_program(prog, obj)
		n++;
	return n;
}

int probes_open(struct probes **out, const struct probes_opts *o, char *err, size_t errlen)
{
	bool filter = o->n_pids || o->n_comms;
	struct probes *p;
	int e;

	verbose_libbpf = o->verbose;
	libbpf_set_print(libbpf_print);
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		e = p->ncpus ? p->ncpus : -EINVAL;
		snprintf(err, errlen, "cannot count CPUs: %s", strerror(-e));
		goto fail;
	}

	p->tls = tls_bpf__open();
	p->sock = sock_bpf__open();
	p->proc = proc_bpf__open();
	p->cuda = cuda_bpf__open();
	p->gpu_mode = o->gpu_mode;
	p->cuda_site_entry = o->cuda_site_entry;
	if (!p->tls || !p->sock || !p->proc || !p->cuda) {
		e = -errno;
		snprintf(err, errlen, "cannot open BPF objects: %s (is /sys/kernel/btf/vmlinux present?)",
			 strerror(errno));
		goto fail;
	}
	p->tls->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	p->sock->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	p->proc->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	p->cuda->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	p->cuda->rodata->filter_enabled = filter;
	p->tls->rodata->capture_bytes = o->capture_bytes;
	p->tls->rodata->filter_enabled = filter;
	p->sock->rodata->capture_bytes = o->capture_bytes;
	p->sock->rodata->filter_enabled = filter;
	p->proc->rodata->capture_bytes = o->capture_bytes;
	p->proc->rodata->filter_enabled = filter;
	bpf_map__set_max_entries(p->tls->maps.events, o->ringbuf_bytes);

	e = tls_bpf__load(p->tls);
	if (!e)
		e = share_maps(p->sock->obj, p->tls->obj);
	if (!e)
		e = sock_bpf__load(p->sock);
	if (!e)
		e = share_maps(p->proc->obj, p->tls->obj);
	if (!e)
		e = proc_bpf__load(p->proc);
	if (!e)
		e = share_maps(p->cuda->obj, p->tls->obj);
	if (!e)
		e = cuda_bpf__load(p->cuda);
	if (e) {
		snprintf(err, errlen,
			 "cannot load BPF programs: %s (needs root, BTF and a 5.15+ kernel; "
			 "run with -v for the verifier log)",
			 strerror(-e));
		goto fail;
	}
	e = fill_filters(p, o);
	if (e) {
		snprintf(err, errlen, "cannot fill filter maps: %s", strerror(-e));
		goto fail;
	}
	e = sock_bpf__attach(p->sock);
	if (!e)
		e = proc_bpf__attach(p->proc);
	if (e) {
		snprintf(err, errlen, "cannot attach tracepoints: %s (is tracefs/debugfs available?)",
			 strerror(-e));
		goto fail;
	}
	p->tracepoints = count_programs(p->sock->obj) + count_programs(p->proc->obj);
	*out = p;
	return 0;
fail:
	probes_destroy(p);
	return e;
}

/*
 * Destroying a uprobe link waits for an RCU tasks-trace grace period in the
 * kernel (tens of milliseconds here): one after the other, a hundred probes
 * took seconds to detach. Threads closing at once share the grace periods.
 */
#define DETACH_THREADS 16

struct detach_slice {
	struct probes *p;
	size_t first;
};

static void *detach_thread(void *arg)
{
	struct detach_slice *s = arg;

	for (size_t i = s->first; i < s->p->n_links; i += DETACH_THREADS)
		bpf_link__destroy(s->p->links[i]);
	return NULL;
}

static void links_destroy(struct probes *p)
{
	struct detach_slice slices[DETACH_THREADS];
	pthread_t tids[DETACH_THREADS];
	bool started[DETACH_THREADS] = { false };

	for (size_t t = 0; t < DETACH_THREADS; t++) {
		slices[t] = (struct detach_slice){ p, t };
		started[t] = pthread_create(&tids[t], NULL, detach_thread, &slices[t]) == 0;
		if (!started[t])
			detach_thread(&slices[t]); /* no thread: do this slice here */
	}
	for (size_t t = 0; t < DETACH_THREADS; t++)
		if (started[t])
			pthread_join(tids[t], NULL);
}

void probes_destroy(struct probes *p)
{
	if (!p)
		return;
	links_destroy(p);
	free(p->links);
	proc_bpf__destroy(p->proc);
	cuda_bpf__destroy(p->cuda);
	sock_bpf__destroy(p->sock);
	tls_bpf__destroy(p->tls);
	free(p);
}

static int add_link(struct probes *p, struct bpf_link *l)
{
	if (p->n_links == p->cap_links) {
		size_t cap = p->cap_links ? p->cap_links * 2 : 64;
		struct bpf_link **v = realloc(p->links, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->links = v;
		p->cap_links = cap;
	}
	p->links[p->n_links++] = l;
	return 0;
}

static int attach_one(struct probes *p, struct bpf_program *prog, const char *path,
		      uint64_t offset, bool ret, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = cookie);
	struct bpf_link *l;
	int e;

	l = bpf_program__attach_uprobe_opts(prog, -1, path, offset, &uo);
	if (!l)
		return -errno;
	e = add_link(p, l);
	if (e)
		bpf_link__destroy(l);
	return e;
}

int probes_attach_tls(struct probes *p, const char *path, const uint64_t off[TLS_NFUNCS])
{
	static const struct {
		uint8_t source, dir, ex;
	} fn[TLS_NFUNCS] = {
		[TLS_SSL_WRITE] = { IT_SRC_OPENSSL, IT_DIR_SEND, 0 },
		[TLS_SSL_READ] = { IT_SRC_OPENSSL, IT_DIR_RECV, 0 },
		[TLS_SSL_WRITE_EX] = { IT_SRC_OPENSSL, IT_DIR_SEND, 1 },
		[TLS_SSL_READ_EX] = { IT_SRC_OPENSSL, IT_DIR_RECV, 1 },
		[TLS_GNUTLS_SEND] = { IT_SRC_GNUTLS, IT_DIR_SEND, 0 },
		[TLS_GNUTLS_RECV] = { IT_SRC_GNUTLS, IT_DIR_RECV, 0 },
	};
	int attached = 0, first_err = 0;

	for (int i = 0; i < TLS_NFUNCS; i++) {
		uint64_t cookie = fn[i].source | (uint64_t)fn[i].dir << 8;
		struct bpf_program *enter = fn[i].ex ? p->tls->progs.tls_enter_ex
						     : p->tls->progs.tls_enter;
		int e;

		if (!off[i])
			continue;
		/* return probe first: an entry without a return would leak
		 * tls_calls state until the thread exits */
		e = attach_one(p, p->tls->progs.tls_exit, path, off[i], true, cookie);
		if (!e) {
			e = attach_one(p, enter, path, off[i], false, cookie);
			if (e) {
				bpf_link__destroy(p->links[--p->n_links]);
			}
		}
		if (e) {
			if (!first_err)
				first_err = e;
			continue;
		}
		attached++;
	}
	return attached ? attached : (first_err ? first_err : -ENOENT);
}

int probes_ringbuf_fd(const struct probes *p)
{
	return bpf_map__fd(p->tls->maps.events);
}

void probes_read_stats(const struct probes *p, uint64_t out[IT_STAT_MAX])
{
	int fd = bpf_map__fd(p->tls->maps.stats);
	uint64_t *vals = calloc(p->ncpus, sizeof(uint64_t));

	memset(out, 0, IT_STAT_MAX * sizeof(*out));
	if (!vals)
		return;
	for (uint32_t k = 0; k < IT_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < p->ncpus; c++)
			out[k] += vals[c];
	}
	free(vals);
}

unsigned probes_attached(const struct probes *p)
{
	return p->tracepoints + (unsigned)p->n_links;
}

void probes_plain_pid(struct probes *p, uint32_t pid, bool all)
{
	uint8_t mode = all ? 2 : 1; /* PLAIN_ALL / PLAIN_PORTS in bpf/sock.bpf.c */

	bpf_map_update_elem(bpf_map__fd(p->sock->maps.plain_procs), &pid, &mode, BPF_ANY);
}

/* Must match bpf/cuda.bpf.c. */
struct gpu_stream_key {
	uint32_t pid;
	uint32_t pad;
	uint64_t stream;
};
struct gpu_stream_state {
	uint64_t first_ns, last_ns;
	uint32_t launches, pending;
};

/* A process's streams, work still pending on them included (it exited in
 * the middle of a span): nothing closes them any more. */
static void gpu_streams_forget(struct probes *p, uint32_t pid)
{
	int fd = bpf_map__fd(p->cuda->maps.gpu_streams);
	struct gpu_stream_key key, next, gone[64];
	void *prev = NULL;
	size_t n = 0;

	while (n < 64 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (next.pid == pid)
			gone[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &gone[i]);
}

void probes_forget_pid(struct probes *p, uint32_t pid)
{
	bpf_map_delete_elem(bpf_map__fd(p->sock->maps.plain_procs), &pid);
	/* its last usage record is written: its GPU totals must not be read
	 * again as a new process's */
	bpf_map_delete_elem(bpf_map__fd(p->cuda->maps.gpu_counters), &pid);
	gpu_streams_forget(p, pid);
}

void probes_forget_tls_conn(struct probes *p, uint32_t pid, uint64_t conn)
{
	struct tls_conn_key k = { .conn = conn, .pid = pid };

	bpf_map_delete_elem(bpf_map__fd(p->tls->maps.tls_conn_sock), &k);
}

int probes_attach_cuda(struct probes *p, const char *path, struct cuda_attach_report *rep)
{
	const char *names[64] = { 0 };
	uint64_t offs[64];
	size_t n = cuda_nfuncs < GPU_MAX_FUNCS ? cuda_nfuncs : GPU_MAX_FUNCS;
	int found;

	memset(rep, 0, sizeof(*rep));
	if (p->gpu_mode == GPU_PROBES_OFF)
		return 0;
	for (size_t i = 0; i < n; i++)
		names[i] = cuda_funcs[i].name;
	found = elf_find_funcs(path, names, n, offs);
	if (found < 0)
		return found;
	for (size_t i = 0; i < n; i++) {
		const struct cuda_func *f = &cuda_funcs[i];
		struct probe_site site = { .offset = offs[i] };
		uint8_t code[32];
		ssize_t len;
		int e = 0;

		if (!offs[i]) {
			rep->absent++;
			continue;
		}
		if (p->gpu_mode == GPU_PROBES_SYNC && !f->sync_mode)
			continue;
		/* a return probe must sit at the entry, where %rsp points at the
		 * return address it replaces; entry-only probes may move on */
		if (!f->ret && !p->cuda_site_entry) {
			len = file_read_at(path, offs[i], code, sizeof(code));
			if (len > 0)
				probe_site_choose(code, (size_t)len, offs[i], &site);
		}
		uint64_t cookie = f->cookie | (uint64_t)i << GPU_COOKIE_FN_SHIFT;

		if (f->ret)
			e = attach_one(p, p->cuda->progs.cuda_exit, path, offs[i], true, cookie);
		if (!e)
			e = attach_one(p, p->cuda->progs.cuda_enter, path, site.offset, false, cookie);
		if (e) {
			rep->errors++;
			continue;
		}
		rep->attached++;
		if (site.skipped)
			rep->moved++;
		if (f->ret)
			snprintf(site.insn, sizeof(site.insn), "(entry: has a return probe)");
		if (rep->n_sites < sizeof(rep->sites) / sizeof(rep->sites[0])) {
			struct cuda_site_note *note = &rep->sites[rep->n_sites++];

			note->name = f->name;
			note->skipped = site.skipped;
			snprintf(note->insn, sizeof(note->insn), "%s", site.insn);
		}
	}
	return rep->attached;
}

int probes_gpu_counters(void *ctx, uint32_t pid, struct gpu_counters *c)
{
	struct probes *p = ctx;

	return bpf_map_lookup_elem(bpf_map__fd(p->cuda->maps.gpu_counters), &pid, c) ? -1 : 0;
}

size_t probes_gpu_pids(void *ctx, uint32_t *pids, size_t max)
{
	struct probes *p = ctx;
	int fd = bpf_map__fd(p->cuda->maps.gpu_counters);
	uint32_t key, next;
	size_t n = 0;
	void *prev = NULL;

	while (n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
		pids[n++] = next;
		key = next;
		prev = &key;
	}
	return n;
}

uint64_t probes_cuda_fn_hits(const struct probes *p, size_t fn)
{
	int fd = bpf_map__fd(p->cuda->maps.gpu_fn_hits);
	uint32_t k = (uint32_t)fn;
	uint64_t *vals = calloc(p->ncpus, sizeof(uint64_t)), sum = 0;

	if (!vals)
		return 0;
	if (bpf_map_lookup_elem(fd, &k, vals) == 0)
		for (int c = 0; c < p->ncpus; c++)
			sum += vals[c];
	free(vals);
	return sum;
}

size_t probes_gpu_pending(void *ctx, struct gpu_pending *out, size_t max)
{
	struct probes *p = ctx;
	int fd = bpf_map__fd(p->cuda->maps.gpu_streams);
	struct gpu_stream_key key, next;
	struct gpu_stream_state st;
	void *prev = NULL;
	size_t n = 0;

	while (n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &st) == 0 && st.pending) {
			out[n].pid = next.pid;
			out[n].stream = next.stream;
			out[n].first_ns = st.first_ns;
			n++;
		}
		key = next;
		prev = &key;
	}
	return n;
}

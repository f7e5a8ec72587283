// SPDX-License-Identifier: MIT
#include "agent/discovery.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/elfsym.h"
#include "agent/probes.h"
#include "gpu/cudafuncs.h"
#include "util/htab.h"

#define TCP_LISTEN_STATE 0x0A
#define MAX_PENDING 4096

/* What a file turned out to be; stored in files as a non-NULL pointer. */
enum file_state {
	FILE_NOT_TARGET = 1,
	FILE_ATTACHED,
	FILE_FAILED,
};

struct pending_scan {
	uint32_t pid;
	uint64_t due_ns;
};

struct discovery {
	struct probes *probes;
	bool verbose;
	uint16_t *ports;
	size_t n_ports;
	struct htab *files;       /* (dev, ino) -> enum file_state */
	struct pending_scan *pending;
	size_t n_pending;
	struct htab *listen;      /* local port -> 1, of the agent's namespace */
	uint64_t listen_at_ns;
	bool cuda_pid_seen;       /* the pid being scanned maps libcuda */
	struct discovery_stats st;
};

struct discovery *discovery_new(struct probes *p, const uint16_t *ports, size_t n_ports,
				bool verbose)
{
	struct discovery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->probes = p;
	d->verbose = verbose;
	d->files = htab_new();
	d->listen = htab_new();
	d->pending = calloc(MAX_PENDING, sizeof(*d->pending));
	if (n_ports) {
		d->ports = calloc(n_ports, sizeof(*ports));
		if (d->ports) {
			memcpy(d->ports, ports, n_ports * sizeof(*ports));
			d->n_ports = n_ports;
		}
	}
	if (!d->files || !d->listen || !d->pending || (n_ports && !d->ports)) {
		discovery_free(d);
		return NULL;
	}
	return d;
}

void discovery_free(struct discovery *d)
{
	if (!d)
		return;
	htab_free(d->files);
	htab_free(d->listen);
	free(d->pending);
	free(d->ports);
	free(d);
}

/* ---- parsing ---- */

int maps_parse_line(char *line, struct maps_entry *e)
{
	unsigned long long start, end, off, ino;
	char perms[8], dev[16];
	int pos = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &start, &end, perms, &off, dev, &ino,
		   &pos) < 6)
		return -1;
	e->start = start;
	e->end = end;
	e->offset = off;
	snprintf(e->perms, sizeof(e->perms), "%.4s", perms);
	e->inode = ino;
	e->path = NULL;
	if (pos > 0 && line[pos] == '/') {
		char *nl = strchr(line + pos, '\n');

		if (nl)
			*nl = '\0';
		e->path = line + pos;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

bool tls_library_name(const char *path)
{
	const char *b = base_name(path);

	return strncmp(b, "libssl.so", 9) == 0 || strncmp(b, "libgnutls.so", 12) == 0;
}

const char *ldcache_parse_line(char *line)
{
	/* "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3" */
	char *arrow = strstr(line, "=> ");
	char *nl;

	if (!arrow || arrow[3] != '/')
		return NULL;
	nl = strchr(arrow, '\n');
	if (nl)
		*nl = '\0';
	return arrow + 3;
}

int proc_net_tcp_parse(const char *line, uint16_t *lport, uint16_t *rport, unsigned *state,
		       uint64_t *inode)
{
	/* "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000
	 *      0        0 12345 ..." (addresses are 8 or 32 hex digits) */
	char laddr[64], raddr[64];
	unsigned lp, rp, st, uid, timeout;
	unsigned long long ino;
	int n;

	n = sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %63[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u %u %llu",
		   laddr, &lp, raddr, &rp, &st, &uid, &timeout, &ino);
	if (n != 8)
		return -1;
	*lport = (uint16_t)lp;
	*rport = (uint16_t)rp;
	*state = st;
	*inode = ino;
	return 0;
}

/* ---- files ---- */

/* The CUDA probes on a libcuda file; the chosen sites are reported. */
static bool attach_cuda(struct discovery *d, const char *open_path, const char *shown)
{
	struct cuda_attach_report rep;
	int n = probes_attach_cuda(d->probes, open_path, &rep);

	if (n <= 0) {
		if (n < 0 || rep.errors) {
			d->st.attach_errors++;
			fprintf(stderr, "infertrace: cannot attach CUDA probes to %s: %s\n", shown,
				n < 0 ? strerror(-n) : "no entry point accepted a probe");
		}
		return false;
	}
	d->st.cuda_files++;
	d->st.cuda_funcs += rep.attached;
	d->st.cuda_absent += rep.absent;
	d->st.cuda_moved += rep.moved;
	if (d->verbose) {
		fprintf(stderr, "infertrace: probing %u CUDA entry points in %s (%u absent, %u moved past the entry)\n",
			rep.attached, shown, rep.absent, rep.moved);
		for (size_t i = 0; i < rep.n_sites; i++)
			fprintf(stderr, "infertrace:   %-30s +%-3u %s\n", rep.sites[i].name,
				rep.sites[i].skipped, rep.sites[i].insn);
	}
	return true;
}

static void attach_file(struct discovery *d, const char *open_path, const char *shown)
{
	uint64_t offsets[TLS_NFUNCS];
	struct stat sb;
	uint64_t key;
	int n, state = FILE_NOT_TARGET;

	if (stat(open_path, &sb) || !S_ISREG(sb.st_mode))
		return;
	key = htab_key2(sb.st_dev, sb.st_ino);
	if (htab_get(d->files, key))
		return;
	d->st.files_examined++;
	n = elf_find_funcs(open_path, tls_func_names, TLS_NFUNCS, offsets);
	if (n > 0) {
		int e = probes_attach_tls(d->probes, open_path, offsets);

		if (e > 0) {
			state = FILE_ATTACHED;
			d->st.files_attached++;
			if (d->verbose)
				fprintf(stderr, "infertrace: probing %d TLS functions in %s\n", e, shown);
		} else {
			state = FILE_FAILED;
			d->st.attach_errors++;
			fprintf(stderr, "infertrace: cannot attach to %s: %s\n", shown, strerror(-e));
		}
	}
	if (cuda_library_name(shown) && attach_cuda(d, open_path, shown))
		state = FILE_ATTACHED;
	htab_put(d->files, key, (void *)(uintptr_t)state);
}

void discovery_attach_path(struct discovery *d, const char *path)
{
	attach_file(d, path, path);
}

void discovery_scan_ldcache(struct discovery *d)
{
	FILE *f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "r");
	char line[1024];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *path = ldcache_parse_line(line);

		if (path && (tls_library_name(path) || cuda_library_name(path)))
			attach_file(d, path, path);
	}
	pclose(f);
}

int discovery_scan_pid(struct discovery *d, uint32_t pid)
{
	char maps[64], line[PATH_MAX + 256], open_path[PATH_MAX + 64];
	uint64_t before = d->st.files_attached;
	FILE *f;

	d->cuda_pid_seen = false;
	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return 0;
	d->st.scans++;
	while (fgets(line, sizeof(line), f)) {
		struct maps_entry e;

		if (maps_parse_line(line, &e) || !e.path || e.perms[2] != 'x')
			continue;
		if (strstr(e.path, " (deleted)"))
			continue;
		/* every executable mapping is a candidate: OpenSSL may be linked
		 * into the program itself (node) or bundled under another name */
		snprintf(open_path, sizeof(open_path), "/proc/%u/root%s", pid, e.path);
		attach_file(d, open_path, e.path);
		/* an inference server on the GPU node: follow its plain HTTP */
		if (cuda_library_name(e.path) && !d->cuda_pid_seen) {
			probes_plain_pid(d->probes, pid, true);
			d->cuda_pid_seen = true;
		}
	}
	fclose(f);
	return (int)(d->st.files_attached - before);
}

/* ---- plain-HTTP sockets ---- */

static bool wanted_port(const struct discovery *d, uint16_t port)
{
	for (size_t i = 0; i < d->n_ports; i++)
		if (d->ports[i] == port)
			return true;
	return false;
}

/* Socket inodes with an --http-port at either end, from one namespace's
 * /proc/PID/net/tcp and tcp6; listening ports go to d->listen. */
static void collect_port_sockets(struct discovery *d, const char *netdir, struct htab *inodes)
{
	static const char *const files[] = { "tcp", "tcp6" };
	char path[128], line[512];

	for (size_t i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", netdir, files[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			uint16_t lp, rp;
			unsigned st;
			uint64_t ino;

			if (proc_net_tcp_parse(line, &lp, &rp, &st, &ino))
				continue;
			if (inodes && ino && (wanted_port(d, lp) || wanted_port(d, rp)))
				htab_put(inodes, ino, (void *)1);
			if (st == TCP_LISTEN_STATE && !inodes)
				htab_put(d->listen, lp, (void *)1);
		}
		fclose(f);
	}
}

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool pid_has_socket(uint32_t pid, struct htab *inodes)
{
	char dir[64], link[PATH_MAX], target[128];
	struct dirent *de;
	bool found = false;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%u/fd", pid);
	fds = opendir(dir);
	if (!fds)
		return false;
	while (!found && (de = readdir(fds))) {
		unsigned long long ino;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%llu]", &ino) == 1 && htab_get(inodes, ino))
			found = true;
	}
	closedir(fds);
	return found;
}

/* Processes started before the agent that serve or call an --http-port. */
static void scan_http_ports(struct discovery *d, const uint32_t *pids, size_t n)
{
	struct htab *netns = htab_new(), *inodes = htab_new();
	char path[64], target[64], netdir[64];

	if (!netns || !inodes || !d->n_ports)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned long long ns;
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%u/ns/net", pids[i]);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "net:[%llu]", &ns) != 1 || htab_get(netns, ns))
			continue;
		htab_put(netns, ns, (void *)1);
		snprintf(netdir, sizeof(netdir), "/proc/%u/net", pids[i]);
		collect_port_sockets(d, netdir, inodes);
	}
	if (!htab_count(inodes))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (pid_has_socket(pids[i], inodes)) {
			probes_plain_pid(d->probes, pids[i], false);
			if (d->verbose)
				fprintf(stderr, "infertrace: pid %u uses an --http-port: capturing\n",
					pids[i]);
		}
	}
out:
	htab_free(netns);
	htab_free(inodes);
}

void discovery_scan_all(struct discovery *d)
{
	uint32_t *pids = NULL, self = (uint32_t)getpid();
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *proc = opendir("/proc");

	if (!proc)
		return;
	while ((de = readdir(proc))) {
		if (!is_pid_name(de->d_name))
			continue;
		if (n == cap) {
			uint32_t *v = realloc(pids, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!v)
				break;
			pids = v;
		}
		pids[n++] = (uint32_t)strtoul(de->d_name, NULL, 10);
	}
	closedir(proc);
	for (size_t i = 0; i < n; i++)
		if (pids[i] != self)
			discovery_scan_pid(d, pids[i]);
	scan_http_ports(d, pids, n);
	free(pids);
}

/* ---- scheduled scans ---- */

void discovery_schedule(struct discovery *d, uint32_t pid, uint64_t now_ns, uint64_t delay_ns)
{
	uint64_t due = now_ns + delay_ns;

	/* one pending scan per pid and moment is enough: a burst of library
	 * mappings at start-up collapses into one look */
	for (size_t i = 0; i < d->n_pending; i++) {
		if (d->pending[i].pid != pid)
			continue;
		if (d->pending[i].due_ns <= due && due - d->pending[i].due_ns < delay_ns / 2 + 1)
			return;
	}
	if (d->n_pending == MAX_PENDING)
		return;
	d->pending[d->n_pending].pid = pid;
	d->pending[d->n_pending].due_ns = due;
	d->n_pending++;
}

uint64_t discovery_next_due(const struct discovery *d)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < d->n_pending; i++)
		if (d->pending[i].due_ns < next)
			next = d->pending[i].due_ns;
	return next;
}

void discovery_run_due(struct discovery *d, uint64_t now_ns)
{
	size_t i = 0;

	while (i < d->n_pending) {
		if (d->pending[i].due_ns > now_ns) {
			i++;
			continue;
		}
		discovery_scan_pid(d, d->pending[i].pid);
		d->pending[i] = d->pending[--d->n_pending];
	}
}

void discovery_get_stats(const struct discovery *d, struct discovery_stats *st)
{
	*st = d->st;
}

bool discovery_port_listening(struct discovery *d, uint16_t port, uint64_t now_ns)
{
	if (!d->listen_at_ns || now_ns - d->listen_at_ns > 1000000000ULL) {
		htab_free(d->listen);
		d->listen = htab_new();
		if (!d->listen)
			return false;
		collect_port_sockets(d, "/proc/net", NULL);
		d->listen_at_ns = now_ns;
	}
	return htab_get(d->listen, port) != NULL;
}

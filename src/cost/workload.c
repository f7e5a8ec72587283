// SPDX-License-Identifier: MIT
/*
 * Workload identity: cgroup v2 id -> cgroup path -> container / pod / unit.
 *
 * Paths are read component by component against one table of shapes
 * (comp_rules): each row says what a component looks like (prefix, suffix,
 * the shape of what lies between) and which component must come just
 * before it. Shapes the runtimes write are documented by kubelet, runc's
 * systemd driver, podman and LXC; the unit tests hold real lines from bug
 * reports.
 *
 * The cache maps ids to entries that are never freed before workloads_free:
 * an id's path never changes (cgroup v2 has no rename and never reuses an
 * id), so an entry is only ever recycled for another id once nobody asked
 * for it in idle_ms.
 */
#include "cost/workload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "util/htab.h"
#include "util/list.h"

#define DEFAULT_MAX_ENTRIES   4096
#define DEFAULT_IDLE_MS       (10 * 60 * 1000ULL)
#define DEFAULT_WALK_MS       1000ULL
#define MAX_RULES             256
/* A walk is bounded so that a runaway tree cannot stall the event loop:
 * real hosts have a few thousand cgroups, about ten levels deep. */
#define WALK_MAX_DEPTH        32
#define WALK_MAX_DIRS         65536

/* ---- strings ---------------------------------------------------------- */

/* Copy n bytes of src, truncated to fit and always terminated. */
static void copy_n(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (!dstlen)
		return;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

#define SET_STR(dst, src) copy_n((dst), sizeof(dst), (src), strlen(src))

/* dst = a + b[0..blen), truncated to fit. */
static void set_joined(char *dst, size_t dstlen, const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);

	copy_n(dst, dstlen, a, alen);
	if (alen + 1 < dstlen)
		copy_n(dst + alen, dstlen - alen, b, blen);
}

static bool has_suffix(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* ---- path components -------------------------------------------------- */

enum comp_class {
	C_NONE,        /* matched no row */
	C_KUBE_ROOT,   /* kubepods, kubepods.slice, kubelet-kubepods.slice */
	C_QOS,         /* the burstable / besteffort level under it */
	C_POD,         /* one pod */
	C_CONTAINER,   /* one container */
	C_DOCKER_ROOT, /* /docker, docker's cgroupfs driver */
	C_LXC_ROOT,    /* /lxc.payload or /lxc, LXC before the flat names */
	C_USER,        /* user-<uid>.slice */
};

enum comp_shape {
	S_EMPTY, /* nothing between prefix and suffix */
	S_QOS,   /* "burstable" or "besteffort" */
	S_POD,   /* ["burstable-"|"besteffort-"] "pod" <uid> */
	S_HEXID, /* a container id: 12 to 64 lower-case hex digits */
	S_NAME,  /* any non-empty name (LXC) */
	S_UID,   /* a decimal user id */
};

#define AFTER(c) (1u << (c))

struct comp_rule {
	const char *prefix;
	const char *suffix;
	enum comp_shape shape;
	enum comp_class cls;
	const char *runtime; /* C_CONTAINER rows */
	unsigned after;      /* classes the previous component may have; 0: any */
};

/* First matching row wins, so the narrower rows come first. */
static const struct comp_rule comp_rules[] = {
	/* Kubernetes, systemd cgroup driver: kubepods.slice /
	 * kubepods-<qos>.slice / kubepods-<qos>-pod<uid_with_underscores>.slice,
	 * Guaranteed pods right under kubepods.slice; the kubelet.slice/
	 * kubelet-kubepods.slice variant (kind, kubeadm with a kubelet slice). */
	{ "kubepods", ".slice", S_EMPTY, C_KUBE_ROOT, NULL, 0 },
	{ "kubelet-kubepods", ".slice", S_EMPTY, C_KUBE_ROOT, NULL, 0 },
	{ "kubepods-", ".slice", S_QOS, C_QOS, NULL, AFTER(C_KUBE_ROOT) },
	{ "kubelet-kubepods-", ".slice", S_QOS, C_QOS, NULL, AFTER(C_KUBE_ROOT) },
	{ "kubepods-", ".slice", S_POD, C_POD, NULL, AFTER(C_KUBE_ROOT) | AFTER(C_QOS) },
	{ "kubelet-kubepods-", ".slice", S_POD, C_POD, NULL, AFTER(C_KUBE_ROOT) | AFTER(C_QOS) },
	/* Kubernetes, cgroupfs driver: kubepods / <qos> / pod<uid-with-dashes>
	 * / <id>; the bare id does not say which runtime made it. */
	{ "kubepods", "", S_EMPTY, C_KUBE_ROOT, NULL, 0 },
	{ "", "", S_QOS, C_QOS, NULL, AFTER(C_KUBE_ROOT) },
	{ "", "", S_POD, C_POD, NULL, AFTER(C_KUBE_ROOT) | AFTER(C_QOS) },
	{ "", "", S_HEXID, C_CONTAINER, "", AFTER(C_POD) },
	/* Runtimes' own scopes (systemd driver) and cgroupfs names. The
	 * monitors, crio-conmon-<id>.scope and libpod-conmon-<id>.scope, fail
	 * S_HEXID and stay plain units: they are not the container. */
	{ "cri-containerd-", ".scope", S_HEXID, C_CONTAINER, "containerd", 0 },
	{ "crio-", ".scope", S_HEXID, C_CONTAINER, "cri-o", 0 },
	{ "crio-", "", S_HEXID, C_CONTAINER, "cri-o", 0 },
	{ "docker-", ".scope", S_HEXID, C_CONTAINER, "docker", 0 },
	{ "libpod-", ".scope", S_HEXID, C_CONTAINER, "podman", 0 },
	{ "libpod-", "", S_HEXID, C_CONTAINER, "podman", 0 },
	/* Docker, cgroupfs driver: /docker/<id>. */
	{ "docker", "", S_EMPTY, C_DOCKER_ROOT, NULL, 0 },
	{ "", "", S_HEXID, C_CONTAINER, "docker", AFTER(C_DOCKER_ROOT) },
	/* LXC 4+: /lxc.payload.<name>; earlier /lxc.payload/<name>, /lxc/<name>.
	 * /lxc.monitor.<name> is LXC's monitor, not the container. */
	{ "lxc.payload.", "", S_NAME, C_CONTAINER, "lxc", 0 },
	{ "lxc.payload", "", S_EMPTY, C_LXC_ROOT, NULL, 0 },
	{ "lxc", "", S_EMPTY, C_LXC_ROOT, NULL, 0 },
	{ "", "", S_NAME, C_CONTAINER, "lxc", AFTER(C_LXC_ROOT) },
	/* systemd-logind: user.slice / user-<uid>.slice. Podman's pod slices,
	 * user-libpod_pod_<id>.slice, fail S_UID. */
	{ "user-", ".slice", S_UID, C_USER, NULL, 0 },
};

struct comp_match {
	enum comp_class cls;
	const char *runtime;
	const char *mid; /* what the shape matched */
	size_t midlen;
	const char *qos; /* S_QOS, S_POD: the class the name carries, or NULL */
	char pod_uid[40];
};

static const char *qos_name(const char *s, size_t n)
{
	if (n == 9 && memcmp(s, "burstable", 9) == 0)
		return "burstable";
	if (n == 10 && memcmp(s, "besteffort", 10) == 0)
		return "besteffort";
	return NULL;
}

/*
 * A pod uid as the kubelet writes it in a cgroup name: a UUID with dashes
 * (cgroupfs) or underscores (systemd, where '-' separates slice levels), or
 * 32 bare hex digits (static pods, whose uid is a hash of the manifest).
 * Reported with dashes.
 */
static bool parse_pod_uid(const char *s, size_t n, char *out, size_t outlen)
{
	size_t hex = 0;

	if (n != 32 && n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool sep_pos = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);

		if (sep_pos ? (s[i] != '-' && s[i] != '_') : !is_lower_hex(s[i]))
			return false;
		hex += !sep_pos;
	}
	if (hex != 32 || outlen <= n)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] == '_' ? '-' : s[i];
	out[n] = '\0';
	return true;
}

static bool shape_ok(enum comp_shape shape, const char *s, size_t n, struct comp_match *m)
{
	switch (shape) {
	case S_EMPTY:
		return n == 0;
	case S_QOS:
		m->qos = qos_name(s, n);
		return m->qos != NULL;
	case S_POD: {
		const char *dash = memchr(s, '-', n);

		m->qos = NULL;
		/* "burstable-pod<uid>": the systemd driver repeats the class. */
		if (dash && n > 3 && memcmp(s, "pod", 3) != 0) {
			m->qos = qos_name(s, (size_t)(dash - s));
			if (!m->qos)
				return false;
			n -= (size_t)(dash - s) + 1;
			s = dash + 1;
		}
		return n > 3 && memcmp(s, "pod", 3) == 0 &&
		       parse_pod_uid(s + 3, n - 3, m->pod_uid, sizeof(m->pod_uid));
	}
	case S_HEXID:
		if (n < 12 || n > 64)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!is_lower_hex(s[i]))
				return false;
		return true;
	case S_NAME:
		return n > 0;
	case S_UID:
		if (n == 0 || n > 10)
			return false;
		for (size_t i = 0; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
		return true;
	}
	return false;
}

static void classify(const char *c, size_t n, enum comp_class prev, struct comp_match *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(comp_rules) / sizeof(comp_rules[0]); i++) {
		const struct comp_rule *r = &comp_rules[i];
		size_t pl = strlen(r->prefix), sl = strlen(r->suffix);

		if (r->after && !(r->after & AFTER(prev)))
			continue;
		if (n < pl + sl || memcmp(c, r->prefix, pl) != 0 || !has_suffix(c, n, r->suffix))
			continue;
		if (!shape_ok(r->shape, c + pl, n - pl - sl, m))
			continue;
		m->cls = r->cls;
		m->runtime = r->runtime;
		m->mid = c + pl;
		m->midlen = n - pl - sl;
		return;
	}
	m->cls = C_NONE;
}

int workload_from_path(const char *path, struct workload *out)
{
	const char *p, *unit = NULL;
	size_t unitlen = 0;
	char uid[16] = "";
	enum comp_class prev = C_NONE;
	bool any = false;

	memset(out, 0, sizeof(*out));
	if (!path || !*path)
		path = "/";
	SET_STR(out->cgroup, path);

	for (p = path; *p;) {
		const char *c;
		size_t n;
		struct comp_match m;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		for (c = p; *p && *p != '/'; p++)
			;
		n = (size_t)(p - c);
		any = true;
		classify(c, n, prev, &m);
		switch (m.cls) {
		case C_KUBE_ROOT:
			/* A node inside a container (kind, minikube): what is
			 * found further in is the workload, not the node. */
			out->pod_uid[0] = out->qos_class[0] = '\0';
			out->container_id[0] = out->container_runtime[0] = '\0';
			break;
		case C_QOS:
			SET_STR(out->qos_class, m.qos);
			break;
		case C_POD:
			SET_STR(out->pod_uid, m.pod_uid);
			if (m.qos)
				SET_STR(out->qos_class, m.qos);
			else if (prev == C_KUBE_ROOT)
				SET_STR(out->qos_class, "guaranteed");
			break;
		case C_CONTAINER:
			copy_n(out->container_id, sizeof(out->container_id), m.mid, m.midlen);
			SET_STR(out->container_runtime, m.runtime);
			break;
		case C_USER:
			copy_n(uid, sizeof(uid), m.mid, m.midlen);
			break;
		default:
			break;
		}
		/* Innermost wins: a user manager's units sit inside
		 * user@<uid>.service, a container's own units inside its scope. */
		if (has_suffix(c, n, ".service") || has_suffix(c, n, ".scope")) {
			unit = c;
			unitlen = n;
		}
		prev = m.cls;
	}
	if (unit)
		copy_n(out->systemd_unit, sizeof(out->systemd_unit), unit, unitlen);

	if (out->pod_uid[0]) {
		SET_STR(out->kind, "pod");
		set_joined(out->name, sizeof(out->name), "k8s:", out->pod_uid, strlen(out->pod_uid));
	} else if (out->container_id[0]) {
		/* Hex ids are unique in 12 digits (docker ps); an LXC name is
		 * only readable whole. */
		size_t n = strlen(out->container_id);

		if (strcmp(out->container_runtime, "lxc") != 0 && n > 12)
			n = 12;
		SET_STR(out->kind, "container");
		set_joined(out->name, sizeof(out->name), "container:", out->container_id, n);
	} else if (uid[0]) {
		SET_STR(out->kind, "user");
		set_joined(out->name, sizeof(out->name), "user:", uid, strlen(uid));
	} else if (unit) {
		SET_STR(out->kind, "systemd");
		set_joined(out->name, sizeof(out->name), "systemd:", unit, unitlen);
	} else if (!any) {
		SET_STR(out->kind, "host");
		SET_STR(out->name, "host");
	} else {
		SET_STR(out->kind, "cgroup");
		set_joined(out->name, sizeof(out->name), "cgroup:", path, strlen(path));
	}
	return 0;
}

/* ---- where cgroup v2 is ----------------------------------------------- */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape_octal(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static bool is_cgroup2(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

int workload_cgroup2_root(char *buf, size_t len)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = -ENOENT;

	if (is_cgroup2("/sys/fs/cgroup")) {
		copy_n(buf, len, "/sys/fs/cgroup", strlen("/sys/fs/cgroup"));
		return 0;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -ENOENT;
	/* "36 25 0:30 / /sys/fs/cgroup/unified rw,... shared:9 - cgroup2 cgroup2 rw" */
	while (getline(&line, &cap, f) > 0) {
		char root[PATH_MAX], mnt[PATH_MAX], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		/* A mount of a subtree would not match /proc/PID/cgroup paths. */
		if (strcmp(root, "/") != 0)
			continue;
		unescape_octal(mnt);
		if (strlen(mnt) >= len)
			continue;
		copy_n(buf, len, mnt, strlen(mnt));
		ret = 0;
		break;
	}
	free(line);
	fclose(f);
	return ret;
}

/* ---- the cache -------------------------------------------------------- */

struct wl_entry {
	struct workload wl;    /* what get hands out */
	struct list_node lru;  /* in workloads.lru, least recently used first */
	uint64_t id;
	uint64_t last_used_ms;
	uint64_t tried_ms;     /* unresolved: when it was last tried */
	unsigned rules_gen;    /* workloads.rules_gen the labels were made with */
	bool in_table;
	char *path;            /* the full path (wl.cgroup may be cut); NULL: unresolved */
};

struct label_rule {
	char key[64];
	char value[128];
	regex_t re;
};

struct workloads {
	char *cgroup_root;
	char *proc_root;
	struct htab *byid;     /* id -> struct wl_entry */
	struct list_node lru;
	size_t nentries;       /* all allocated entries; each is in lru */
	size_t max_entries;
	uint64_t idle_ms;
	uint64_t walk_interval_ms;
	struct wl_entry scratch; /* served when the cache is full of live entries */
	struct htab *walked;   /* id -> malloc'd path, what the last walk met */
	bool walked_once;
	uint64_t last_walk_ms;
	struct label_rule *rules;
	size_t nrules;
	unsigned rules_gen;
	struct workloads_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct workloads *workloads_new(const char *cgroup_root, const char *proc_root)
{
	struct workloads *w = calloc(1, sizeof(*w));
	char found[PATH_MAX];

	if (!w)
		return NULL;
	if (!cgroup_root)
		cgroup_root = workload_cgroup2_root(found, sizeof(found)) == 0 ? found : "/sys/fs/cgroup";
	w->cgroup_root = strdup(cgroup_root);
	w->proc_root = strdup(proc_root ? proc_root : "/proc");
	w->byid = htab_new();
	w->walked = htab_new();
	if (!w->cgroup_root || !w->proc_root || !w->byid || !w->walked) {
		workloads_free(w);
		return NULL;
	}
	list_init(&w->lru);
	list_init(&w->scratch.lru);
	w->max_entries = DEFAULT_MAX_ENTRIES;
	w->idle_ms = DEFAULT_IDLE_MS;
	w->walk_interval_ms = DEFAULT_WALK_MS;
	return w;
}

static void walked_clear(struct htab *h)
{
	uint64_t k;
	void *v;

	for (size_t it = 0; htab_next(h, &it, &k, &v);)
		free(v);
}

static void rules_truncate(struct workloads *w, size_t n)
{
	while (w->nrules > n)
		regfree(&w->rules[--w->nrules].re);
}

void workloads_free(struct workloads *w)
{
	if (!w)
		return;
	if (w->lru.next) {
		while (!list_empty(&w->lru)) {
			struct wl_entry *e = list_entry(w->lru.next, struct wl_entry, lru);

			list_del(&e->lru);
			free(e->path);
			free(e);
		}
	}
	free(w->scratch.path);
	if (w->walked) {
		walked_clear(w->walked);
		htab_free(w->walked);
	}
	htab_free(w->byid);
	rules_truncate(w, 0);
	free(w->rules);
	free(w->cgroup_root);
	free(w->proc_root);
	free(w);
}

void workloads_set_limits(struct workloads *w, size_t max_entries, uint64_t idle_ms,
			  uint64_t walk_interval_ms)
{
	if (max_entries)
		w->max_entries = max_entries;
	if (idle_ms)
		w->idle_ms = idle_ms;
	if (walk_interval_ms)
		w->walk_interval_ms = walk_interval_ms;
}

void workloads_get_stats(const struct workloads *w, struct workloads_stats *st)
{
	*st = w->st;
	st->entries = htab_count(w->byid);
}

/* ---- resolving an id ---------------------------------------------------- */

/* root + path, or false when it does not fit. */
static bool fs_path(const struct workloads *w, const char *path, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", w->cgroup_root, strcmp(path, "/") == 0 ? "" : path);

	return n > 0 && (size_t)n < len;
}

/*
 * The path in pid's "0::" line, if the directory it names is the cgroup
 * with this id: the process may have moved since the event, or live in
 * another cgroup namespace (paths then start with "/.."), and the inode
 * check catches both.
 */
static char *path_from_proc(const struct workloads *w, uint64_t id, uint32_t pid)
{
	char fn[PATH_MAX], full[PATH_MAX], *line = NULL, *found = NULL;
	size_t cap = 0;
	ssize_t n;
	struct stat st;
	FILE *f;

	if (snprintf(fn, sizeof(fn), "%s/%" PRIu32 "/cgroup", w->proc_root, pid) >= (int)sizeof(fn))
		return NULL;
	f = fopen(fn, "re");
	if (!f)
		return NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		/* The kernel marks a removed cgroup (a zombie's) this way. */
		if (has_suffix(line, (size_t)n, " (deleted)"))
			line[n - strlen(" (deleted)")] = '\0';
		if (line[3] == '/' && fs_path(w, line + 3, full, sizeof(full)) &&
		    stat(full, &st) == 0 && (uint64_t)st.st_ino == id)
			found = strdup(line + 3);
		break;
	}
	free(line);
	fclose(f);
	return found;
}

struct walk_ctx {
	struct htab *map;
	char path[PATH_MAX];
	size_t dirs;
	bool trust_dino;
	bool truncated;
};

static void walk_note(struct walk_ctx *c, uint64_t ino, const char *path)
{
	char *dup = strdup(path);
	void *old;

	if (!dup)
		return;
	old = htab_get(c->map, ino);
	if (htab_put(c->map, ino, dup) != 0) {
		free(dup);
		return;
	}
	free(old);
}

/* Takes dfd. plen: the length of c->path, the directory's cgroup path. */
static void walk_dir(struct walk_ctx *c, int dfd, size_t plen, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		size_t nlen = strlen(name);
		bool isdir = de->d_type == DT_DIR;
		uint64_t ino = de->d_ino;
		int sub;

		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		/* Outside cgroupfs (tests) d_ino need not be st_ino. */
		if (de->d_type == DT_UNKNOWN || !c->trust_dino) {
			struct stat st;

			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			isdir = S_ISDIR(st.st_mode);
			ino = st.st_ino;
		}
		if (!isdir)
			continue;
		if (c->dirs >= WALK_MAX_DIRS || plen + 1 + nlen >= sizeof(c->path)) {
			c->truncated = true;
			if (c->dirs >= WALK_MAX_DIRS)
				break;
			continue;
		}
		c->path[plen] = '/';
		memcpy(c->path + plen + 1, name, nlen + 1);
		walk_note(c, ino, c->path);
		c->dirs++;
		if (depth + 1 >= WALK_MAX_DEPTH) {
			c->truncated = true;
		} else {
			sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				walk_dir(c, sub, plen + 1 + nlen, depth + 1);
		}
		c->path[plen] = '\0';
	}
	closedir(d);
}

/* Replaces what the last walk met with what this one meets. */
static void walk_tree(struct workloads *w, uint64_t now)
{
	struct walk_ctx *c = calloc(1, sizeof(*c));
	struct stat st;
	int fd;

	w->walked_once = true;
	w->last_walk_ms = now;
	w->st.walks++;
	if (!c)
		return;
	c->map = htab_new();
	fd = open(w->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!c->map || fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		htab_free(c->map);
		free(c);
		return;
	}
	c->trust_dino = is_cgroup2(w->cgroup_root);
	walk_note(c, st.st_ino, "/");
	walk_dir(c, fd, 0, 0);
	if (c->truncated)
		w->st.walk_truncated++;
	walked_clear(w->walked);
	htab_free(w->walked);
	w->walked = c->map;
	free(c);
}

static char *path_from_walk(struct workloads *w, uint64_t id, uint64_t now)
{
	const char *p = htab_get(w->walked, id);

	if (!p && (!w->walked_once || now - w->last_walk_ms >= w->walk_interval_ms)) {
		walk_tree(w, now);
		p = htab_get(w->walked, id);
	}
	return p ? strdup(p) : NULL;
}

static void apply_rules(struct workloads *w, struct wl_entry *e)
{
	struct workload *wl = &e->wl;

	e->rules_gen = w->rules_gen;
	for (size_t i = 0; i < w->nrules; i++) {
		const struct label_rule *r = &w->rules[i];
		size_t j;

		if (regexec(&r->re, e->path, 0, NULL, 0) != 0)
			continue;
		if (strcmp(r->key, "workload") == 0) {
			SET_STR(wl->name, r->value);
			continue;
		}
		for (j = 0; j < wl->nlabels && strcmp(wl->labels[j].key, r->key) != 0; j++)
			;
		if (j == WORKLOAD_MAX_LABELS) {
			w->st.labels_dropped++;
			continue;
		}
		SET_STR(wl->labels[j].key, r->key);
		SET_STR(wl->labels[j].value, r->value);
		if (j == wl->nlabels)
			wl->nlabels++;
	}
}

static void fill_resolved(struct workloads *w, struct wl_entry *e)
{
	workload_from_path(e->path, &e->wl);
	apply_rules(w, e);
}

static void fill_unresolved(struct wl_entry *e)
{
	memset(&e->wl, 0, sizeof(e->wl));
	snprintf(e->wl.name, sizeof(e->wl.name), "cgroup:%" PRIu64, e->id);
	SET_STR(e->wl.kind, "cgroup");
}

/* /proc first (one small file), then the walk (its memo, then a new walk
 * when the rate allows one). */
static void resolve(struct workloads *w, struct wl_entry *e, uint32_t pid, uint64_t now)
{
	char *path = pid ? path_from_proc(w, e->id, pid) : NULL;

	if (path) {
		w->st.by_proc++;
	} else {
		path = path_from_walk(w, e->id, now);
		if (path)
			w->st.by_walk++;
	}
	free(e->path);
	e->path = path;
	if (path) {
		fill_resolved(w, e);
		return;
	}
	fill_unresolved(e);
	e->tried_ms = now;
	w->st.unresolved++;
}

/* A slot for a new id: an idle entry, a new one, or the scratch one. */
static struct wl_entry *entry_for(struct workloads *w, uint64_t id, uint64_t now)
{
	struct wl_entry *e = NULL;
	bool fresh = false;

	if (w->nentries >= w->max_entries && !list_empty(&w->lru)) {
		struct wl_entry *old = list_entry(w->lru.next, struct wl_entry, lru);

		if (now - old->last_used_ms >= w->idle_ms) {
			if (old->in_table)
				htab_del(w->byid, old->id);
			old->in_table = false;
			free(old->path);
			old->path = NULL;
			e = old;
			w->st.recycled++;
		}
	}
	if (!e && w->nentries < 2 * w->max_entries) {
		e = calloc(1, sizeof(*e));
		if (e) {
			list_add_tail(&w->lru, &e->lru);
			w->nentries++;
			fresh = true;
		}
	}
	if (e) {
		e->id = id;
		e->last_used_ms = now;
		list_move_tail(&w->lru, &e->lru);
		if (htab_put(w->byid, id, e) == 0) {
			e->in_table = true;
			return e;
		}
		if (fresh) {
			list_del(&e->lru);
			w->nentries--;
			free(e);
		} else {
			/* Out of memory: leave it first in line for recycling. */
			e->last_used_ms = 0;
			list_del(&e->lru);
			list_add_tail(w->lru.next, &e->lru);
		}
	}
	w->st.overflow++;
	w->scratch.id = id;
	return &w->scratch;
}

const struct workload *workloads_get(struct workloads *w, uint64_t cgroup_id, uint32_t pid)
{
	static const struct workload unknown = { .name = "cgroup:unknown", .kind = "cgroup" };
	uint64_t now = now_ms();
	struct wl_entry *e;

	if (!w)
		return &unknown;
	e = htab_get(w->byid, cgroup_id);
	if (e) {
		w->st.hits++;
		e->last_used_ms = now;
		list_move_tail(&w->lru, &e->lru);
		if (!e->path) {
			if (now - e->tried_ms >= w->walk_interval_ms)
				resolve(w, e, pid, now);
			else
				w->st.unresolved++;
		} else if (e->rules_gen != w->rules_gen) {
			fill_resolved(w, e);
		}
		return &e->wl;
	}
	w->st.misses++;
	e = entry_for(w, cgroup_id, now);
	resolve(w, e, pid, now);
	return &e->wl;
}

/* ---- label rules -------------------------------------------------------- */

static bool key_char_ok(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

int workloads_add_rule(struct workloads *w, const char *spec, char *err, size_t errlen)
{
	const char *eq, *colon, *end, *regex_src;
	struct label_rule r;
	size_t klen, vlen;
	char *re_buf;
	int rc;

	if (!err || !errlen) {
		static char sink[1];

		err = sink;
		errlen = sizeof(sink);
	}
	err[0] = '\0';
	if (!w || !spec) {
		snprintf(err, errlen, "no rule given");
		return -EINVAL;
	}
	/* Blanks around the whole rule are layout, not part of it. */
	while (*spec == ' ' || *spec == '\t')
		spec++;
	end = spec + strlen(spec);
	while (end > spec && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	eq = memchr(spec, '=', (size_t)(end - spec));
	colon = eq ? memchr(eq, ':', (size_t)(end - eq)) : NULL;
	if (!eq || !colon) {
		snprintf(err, errlen, "rule \"%.*s\" is not key=value:REGEX", (int)(end - spec), spec);
		return -EINVAL;
	}
	klen = (size_t)(eq - spec);
	vlen = (size_t)(colon - eq - 1);
	regex_src = colon + 1;
	if (klen == 0) {
		snprintf(err, errlen, "empty key in rule \"%.*s\"", (int)(end - spec), spec);
		return -EINVAL;
	}
	if (klen >= sizeof(r.key)) {
		snprintf(err, errlen, "key \"%.*s...\" is longer than %zu bytes", 16, spec,
			 sizeof(r.key) - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++) {
		if (!key_char_ok(spec[i])) {
			snprintf(err, errlen,
				 "key \"%.*s\" has '%c': keys are made of A-Z a-z 0-9 _ . -",
				 (int)klen, spec, spec[i]);
			return -EINVAL;
		}
	}
	if (vlen == 0) {
		snprintf(err, errlen, "empty value for key \"%.*s\"", (int)klen, spec);
		return -EINVAL;
	}
	if (vlen >= sizeof(r.value)) {
		snprintf(err, errlen, "value for key \"%.*s\" is longer than %zu bytes", (int)klen,
			 spec, sizeof(r.value) - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < vlen; i++) {
		if ((unsigned char)eq[1 + i] < 0x20 || eq[1 + i] == 0x7f) {
			snprintf(err, errlen, "value for key \"%.*s\" has a control character",
				 (int)klen, spec);
			return -EINVAL;
		}
	}
	if (regex_src == end) {
		snprintf(err, errlen, "empty regex for key \"%.*s\"", (int)klen, spec);
		return -EINVAL;
	}
	if (w->nrules >= MAX_RULES) {
		snprintf(err, errlen, "too many rules (at most %d)", MAX_RULES);
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	copy_n(r.key, sizeof(r.key), spec, klen);
	copy_n(r.value, sizeof(r.value), eq + 1, vlen);
	re_buf = strndup(regex_src, (size_t)(end - regex_src));
	if (!re_buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = regcomp(&r.re, re_buf, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];

		regerror(rc, &r.re, msg, sizeof(msg));
		snprintf(err, errlen, "regex \"%s\" for key \"%s\": %s", re_buf, r.key, msg);
		free(re_buf);
		return -EINVAL;
	}
	free(re_buf);
	if (w->nrules % 16 == 0) {
		struct label_rule *n = realloc(w->rules, (w->nrules + 16) * sizeof(*n));

		if (!n) {
			regfree(&r.re);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		w->rules = n;
	}
	w->rules[w->nrules++] = r;
	w->rules_gen++;
	return 0;
}

int workloads_load_rules(struct workloads *w, const char *path, char *err, size_t errlen)
{
	char *line = NULL, msg[384];
	size_t cap = 0, before;
	unsigned lineno = 0;
	ssize_t n;
	FILE *f;
	int rc = 0;

	if (!err || !errlen) {
		static char sink[1];

		err = sink;
		errlen = sizeof(sink);
	}
	err[0] = '\0';
	if (!w || !path) {
		snprintf(err, errlen, "no rules file given");
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	before = w->nrules;
	while ((n = getline(&line, &cap, f)) > 0) {
		const char *s = line;

		lineno++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
			continue;
		if (strlen(line) != (size_t)n) {
			snprintf(err, errlen, "%s:%u: a NUL byte in the line", path, lineno);
			rc = -EINVAL;
			break;
		}
		rc = workloads_add_rule(w, s, msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			break;
		}
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s:%u: read error", path, lineno + 1);
	}
	if (rc) {
		rules_truncate(w, before);
		w->rules_gen++;
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_set(cJSON *rec, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(rec, key);
	if (val && *val)
		cJSON_AddStringToObject(rec, key, val);
	else
		cJSON_AddNullToObject(rec, key);
}

void workload_to_json(const struct workload *wl, cJSON *rec)
{
	cJSON *labels;

	if (!wl || !rec)
		return;
	json_set(rec, "workload", wl->name);
	json_set(rec, "workload.kind", wl->kind);
	json_set(rec, "container.id", wl->container_id);
	json_set(rec, "container.runtime", wl->container_runtime);
	json_set(rec, "k8s.pod.uid", wl->pod_uid);
	json_set(rec, "k8s.pod.qos_class", wl->qos_class);
	json_set(rec, "systemd.unit", wl->systemd_unit);
	cJSON_DeleteItemFromObjectCaseSensitive(rec, "labels");
	labels = cJSON_AddObjectToObject(rec, "labels");
	for (size_t i = 0; labels && i < wl->nlabels && i < WORKLOAD_MAX_LABELS; i++)
		cJSON_AddStringToObject(labels, wl->labels[i].key, wl->labels[i].value);
}

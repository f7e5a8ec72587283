/* SPDX-License-Identifier: MIT */
/*
 * Workload identity: the cgroup a process runs in (cgroup v2 id, as the BPF
 * probes read it with bpf_get_current_cgroup_id) -> its path -> the
 * container, Kubernetes pod, systemd unit or user session it belongs to,
 * plus labels operators attach by rules on the cgroup path.
 */
#ifndef INFERTRACE_WORKLOAD_H
#define INFERTRACE_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define WORKLOAD_MAX_LABELS 8

struct workload_label {
	char key[64];
	char value[128];
};

struct workload {
	char cgroup[512];          /* cgroup v2 path from the root, "/" for the root */
	/* The workload's name, stable and readable:
	 *   "k8s:<pod-uid>"           a Kubernetes pod (any container in it)
	 *   "container:<id12>"        docker, containerd, cri-o, podman (the
	 *                             first 12 hex digits); lxc: "container:<name>"
	 *   "systemd:<unit>"          a system service or scope, "nginx.service"
	 *   "user:<uid>"              a user's session slice (user-1000.slice)
	 *   "cgroup:<path>"           any other cgroup
	 *   "host"                    the root cgroup
	 * A label rule with key "workload" replaces it. */
	char name[192];
	char kind[16];             /* "pod", "container", "systemd", "user", "cgroup", "host" */
	char container_id[72];     /* full id, "" if none */
	char container_runtime[16];/* "docker", "containerd", "cri-o", "podman", "lxc", "" */
	char pod_uid[40];          /* with dashes, "" if none */
	char qos_class[16];        /* "guaranteed", "burstable", "besteffort", "" */
	char systemd_unit[128];    /* innermost .service/.scope unit, "" if none */
	size_t nlabels;
	struct workload_label labels[WORKLOAD_MAX_LABELS];
};

/* Pure: the identity a cgroup path shows (no labels). The innermost
 * container wins (a pod inside a kind node container is the pod); NULL or ""
 * reads as "/". Returns 0. */
int workload_from_path(const char *cgroup_path, struct workload *out);

/*
 * Where the cgroup v2 hierarchy the BPF ids come from is mounted:
 * /sys/fs/cgroup when that is cgroup2, else the first cgroup2 mount in
 * /proc/self/mountinfo (systemd's hybrid layout puts it at
 * /sys/fs/cgroup/unified). Returns 0, or -ENOENT when there is none.
 */
int workload_cgroup2_root(char *buf, size_t len);

struct workloads;

/* cgroup_root: where cgroup v2 is mounted ("/sys/fs/cgroup"), NULL to find
 * it with workload_cgroup2_root; proc_root: "/proc", NULL for "/proc".
 * Either may point elsewhere in tests. NULL only when out of memory.
 * Not thread-safe: one event loop owns it. */
struct workloads *workloads_new(const char *cgroup_root, const char *proc_root);
void workloads_free(struct workloads *w);

/*
 * Bounds and rates; 0 keeps the default. max_entries (4096): past it a new
 * id takes an idle entry's place; while none is idle the cache may grow to
 * twice this, and beyond that new ids are answered from one shared scratch
 * entry, rewritten by each such get (counted as overflow); idle_ms (600000):
 * an entry unused this long may be recycled for another id; walk_interval_ms (1000):
 * the least time between two walks of the cgroup tree, and between two
 * tries at an id that could not be resolved. Tests shrink them.
 */
void workloads_set_limits(struct workloads *w, size_t max_entries, uint64_t idle_ms,
			  uint64_t walk_interval_ms);

struct workloads_stats {
	uint64_t entries;         /* ids cached now */
	uint64_t hits, misses;    /* misses: a get that had to resolve */
	uint64_t by_proc;         /* resolved through /proc/PID/cgroup */
	uint64_t by_walk;         /* resolved from a walk of the tree */
	uint64_t walks;           /* walks of the cgroup tree */
	uint64_t walk_truncated;  /* walks that hit the depth or size bound */
	uint64_t unresolved;      /* gets answered "cgroup:<id>" */
	uint64_t recycled;        /* idle entries given to another id */
	uint64_t overflow;        /* gets served from the scratch entry */
	uint64_t labels_dropped;  /* labels past WORKLOAD_MAX_LABELS */
};
void workloads_get_stats(const struct workloads *w, struct workloads_stats *st);

/*
 * Add a label rule "key=value:REGEX" (POSIX extended regex on the cgroup
 * path; every matching rule adds its label, a later rule wins for the same
 * key). key: [A-Za-z0-9_.-], under 64 bytes; value: non-empty, no ':', under
 * 128 bytes; at most 256 rules. Key "workload" replaces the name and is not
 * listed in labels. A workload keeps at most WORKLOAD_MAX_LABELS keys: labels
 * with further keys are dropped and counted (labels_dropped). Rules apply to
 * entries already cached too. Returns 0, or -EINVAL with a message in err.
 */
int workloads_add_rule(struct workloads *w, const char *spec, char *err, size_t errlen);
/* A rules file: one rule per line as above, lines whose first non-blank
 * character is '#' (a '#' later in a line belongs to the regex), blank lines.
 * All or nothing: on an error no rule of the file is kept.
 * Returns 0, or -errno / -EINVAL with "path:line: message" in err. */
int workloads_load_rules(struct workloads *w, const char *path, char *err, size_t errlen);

/*
 * The workload of a process: by cgroup id (cached; resolved through
 * /proc/PID/cgroup when pid is alive and its cgroup's inode is the id, else
 * by a walk of the cgroup tree). Never NULL: an id that cannot be resolved
 * gives name "cgroup:<id>" with kind "cgroup" (and is tried again after
 * walk_interval_ms, not cached for good). The pointer stays valid until
 * workloads_free (entries are never freed while in use; the cache is
 * bounded and evicts only entries unused for 10 minutes): memory-safe for
 * ever, but an entry not asked for in 10 minutes may be recycled for
 * another id, so a caller that keeps the pointer longer calls get again (or
 * copies the struct). Ids map to paths for good: cgroup v2 has no rename and
 * never reuses an id (the id is the kernfs inode number, on 64-bit hosts).
 */
const struct workload *workloads_get(struct workloads *w, uint64_t cgroup_id, uint32_t pid);

/* Adds "workload", "workload.kind", "container.id", "container.runtime",
 * "k8s.pod.uid", "k8s.pod.qos_class", "systemd.unit" (null when empty) and
 * "labels" (an object, {} when none) to rec, replacing keys of those names
 * already there. */
void workload_to_json(const struct workload *wl, cJSON *rec);

#endif

// SPDX-License-Identifier: MIT
/*
 * Workload identity: cgroup path shapes (many taken from /proc/PID/cgroup
 * lines quoted in public bug reports, cited per case), label rules, the
 * cache against a fake cgroup tree, and the real cgroup v2 hierarchy with a
 * child process moved into a cgroup this test makes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cost/workload.h"

#define HEX64_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX64_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* ---- path shapes ------------------------------------------------------- */

struct path_case {
	const char *path;
	const char *kind, *name, *cid, *runtime, *pod, *qos, *unit;
};

static const struct path_case path_cases[] = {
	/* Kubernetes, systemd driver. runc#4620, a CRI-O burstable pod: */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope",
	  "pod", "k8s:a5c1f8d5-1919-434d-add7-4afaafdaef89",
	  "5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c", "cri-o",
	  "a5c1f8d5-1919-434d-add7-4afaafdaef89", "burstable",
	  "crio-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope" },
	/* containerd/nri#227, kind with a kubelet.slice: */
	{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod1e597579_417e_482f_bf65_5fe170c3aebd.slice/cri-containerd-a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e.scope",
	  "pod", "k8s:1e597579-417e-482f-bf65-5fe170c3aebd",
	  "a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e", "containerd",
	  "1e597579-417e-482f-bf65-5fe170c3aebd", "besteffort",
	  "cri-containerd-a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e.scope" },
	/* lxc#3890, dockershim under a burstable pod: */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7d4424e6_bb13_42f4_a47a_45a4828bf54d.slice/docker-d0b3604b67ac7930dd34ba3a796627e3e4717d12309e90a4afe3f38b6816ac98.scope",
	  "pod", "k8s:7d4424e6-bb13-42f4-a47a-45a4828bf54d",
	  "d0b3604b67ac7930dd34ba3a796627e3e4717d12309e90a4afe3f38b6816ac98", "docker",
	  "7d4424e6-bb13-42f4-a47a-45a4828bf54d", "burstable",
	  "docker-d0b3604b67ac7930dd34ba3a796627e3e4717d12309e90a4afe3f38b6816ac98.scope" },
	/* netdata#4868: a static pod, whose uid is 32 bare hex digits: */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8daa50c3a64c9ff60bb9eab7b44b56fd.slice/cri-containerd-2884d57c0e100d7a9a2f9487ce0bc2986bca3430e988af7a4865aff061f51ac5.scope",
	  "pod", "k8s:8daa50c3a64c9ff60bb9eab7b44b56fd",
	  "2884d57c0e100d7a9a2f9487ce0bc2986bca3430e988af7a4865aff061f51ac5", "containerd",
	  "8daa50c3a64c9ff60bb9eab7b44b56fd", "burstable",
	  "cri-containerd-2884d57c0e100d7a9a2f9487ce0bc2986bca3430e988af7a4865aff061f51ac5.scope" },
	/* kontena/pharos-cluster#440, kube-proxy in a besteffort pod: */
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/docker-abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152.scope",
	  "pod", "k8s:9692aa0e-748e-11e8-8dfa-76d458035df6",
	  "abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152", "docker",
	  "9692aa0e-748e-11e8-8dfa-76d458035df6", "besteffort",
	  "docker-abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152.scope" },
	/* Guaranteed pods sit right under kubepods.slice: */
	{ "/kubepods.slice/kubepods-pod0d3c1b4e_7a6f_4c2b_9d1e_2f6a8b9c0d1e.slice/cri-containerd-" HEX64_A ".scope",
	  "pod", "k8s:0d3c1b4e-7a6f-4c2b-9d1e-2f6a8b9c0d1e", HEX64_A, "containerd",
	  "0d3c1b4e-7a6f-4c2b-9d1e-2f6a8b9c0d1e", "guaranteed", "cri-containerd-" HEX64_A ".scope" },
	{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod0d3c1b4e_7a6f_4c2b_9d1e_2f6a8b9c0d1e.slice/crio-" HEX64_B ".scope",
	  "pod", "k8s:0d3c1b4e-7a6f-4c2b-9d1e-2f6a8b9c0d1e", HEX64_B, "cri-o",
	  "0d3c1b4e-7a6f-4c2b-9d1e-2f6a8b9c0d1e", "guaranteed", "crio-" HEX64_B ".scope" },
	/* The pod's own cgroup, and CRI-O's monitor, which is not a container: */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice",
	  "pod", "k8s:a5c1f8d5-1919-434d-add7-4afaafdaef89", "", "",
	  "a5c1f8d5-1919-434d-add7-4afaafdaef89", "burstable", "" },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-conmon-" HEX64_A ".scope",
	  "pod", "k8s:a5c1f8d5-1919-434d-add7-4afaafdaef89", "", "",
	  "a5c1f8d5-1919-434d-add7-4afaafdaef89", "burstable", "crio-conmon-" HEX64_A ".scope" },
	/* minikube#11280, a node in a docker container: the innermost wins. */
	{ "/docker/d5d9ee5cf5ec9520d182418b737fb11f3aa6b739e91d7cb6ecd6786f6a2bcbd1/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod2cde702b_a0cf_438d_a228_fb164e54434b.slice/crio-0765f197c9158576f202e50498b488cd0d2b022fb2462b0a629f214bb51cd57d.scope",
	  "pod", "k8s:2cde702b-a0cf-438d-a228-fb164e54434b",
	  "0765f197c9158576f202e50498b488cd0d2b022fb2462b0a629f214bb51cd57d", "cri-o",
	  "2cde702b-a0cf-438d-a228-fb164e54434b", "besteffort",
	  "crio-0765f197c9158576f202e50498b488cd0d2b022fb2462b0a629f214bb51cd57d.scope" },
	{ "/docker/d5d9ee5cf5ec9520d182418b737fb11f3aa6b739e91d7cb6ecd6786f6a2bcbd1/kubepods/besteffort/pod2cde702b-a0cf-438d-a228-fb164e54434b",
	  "pod", "k8s:2cde702b-a0cf-438d-a228-fb164e54434b", "", "",
	  "2cde702b-a0cf-438d-a228-fb164e54434b", "besteffort", "" },

	/* Kubernetes, cgroupfs driver. cadvisor#2540, a pod's cgroup: */
	{ "/kubepods/burstable/pod1ff47ee6-9685-4726-ac6f-0ff070c452d6",
	  "pod", "k8s:1ff47ee6-9685-4726-ac6f-0ff070c452d6", "", "",
	  "1ff47ee6-9685-4726-ac6f-0ff070c452d6", "burstable", "" },
	{ "/kubepods/burstable/pod1ff47ee6-9685-4726-ac6f-0ff070c452d6/" HEX64_A,
	  "pod", "k8s:1ff47ee6-9685-4726-ac6f-0ff070c452d6", HEX64_A, "",
	  "1ff47ee6-9685-4726-ac6f-0ff070c452d6", "burstable", "" },
	{ "/kubepods/pod1ff47ee6-9685-4726-ac6f-0ff070c452d6/" HEX64_B,
	  "pod", "k8s:1ff47ee6-9685-4726-ac6f-0ff070c452d6", HEX64_B, "",
	  "1ff47ee6-9685-4726-ac6f-0ff070c452d6", "guaranteed", "" },
	{ "/kubepods/besteffort/pod03f3a69f-82ff-4368-a1aa-16ddaf74ac22/" HEX64_A,
	  "pod", "k8s:03f3a69f-82ff-4368-a1aa-16ddaf74ac22", HEX64_A, "",
	  "03f3a69f-82ff-4368-a1aa-16ddaf74ac22", "besteffort", "" },
	{ "/kubepods/burstable/pod03f3a69f-82ff-4368-a1aa-16ddaf74ac22/crio-" HEX64_B,
	  "pod", "k8s:03f3a69f-82ff-4368-a1aa-16ddaf74ac22", HEX64_B, "cri-o",
	  "03f3a69f-82ff-4368-a1aa-16ddaf74ac22", "burstable", "" },
	/* kubernetes#109105: "xmrig" is no pod uid, so no pod. */
	{ "/kubepods/burstable/podxmrig", "cgroup", "cgroup:/kubepods/burstable/podxmrig",
	  "", "", "", "burstable", "" },

	/* Docker. dalance/procs#236, systemd driver: */
	{ "/system.slice/docker-b508e2673897c4f521d858f56dab18e31ddbfc1f83300fb9793c8a4052af8f05.scope",
	  "container", "container:b508e2673897",
	  "b508e2673897c4f521d858f56dab18e31ddbfc1f83300fb9793c8a4052af8f05", "docker", "", "",
	  "docker-b508e2673897c4f521d858f56dab18e31ddbfc1f83300fb9793c8a4052af8f05.scope" },
	/* docker/for-linux#1293, cgroupfs driver, and the daemon itself: */
	{ "/docker/a2ffe0e97ac22657a2a023ad628e9df837c38a03b1ebc904d3f6d644eb1a1a81",
	  "container", "container:a2ffe0e97ac2",
	  "a2ffe0e97ac22657a2a023ad628e9df837c38a03b1ebc904d3f6d644eb1a1a81", "docker", "", "", "" },
	{ "/system.slice/containerd.service", "systemd", "systemd:containerd.service",
	  "", "", "", "", "containerd.service" },
	{ "/system.slice/docker.service", "systemd", "systemd:docker.service",
	  "", "", "", "", "docker.service" },
	/* moby#34220, a 32-digit id: */
	{ "/docker/c8cef9e2ff114e429cb845559c4a0dff", "container", "container:c8cef9e2ff11",
	  "c8cef9e2ff114e429cb845559c4a0dff", "docker", "", "", "" },

	/* Podman. containers/podman#507, machine.slice, and its conmon: */
	{ "/machine.slice/libpod-0411a2a82311fbc65b137ca550d5f7e6b6863bc734759be2f515b0b67062d49a.scope",
	  "container", "container:0411a2a82311",
	  "0411a2a82311fbc65b137ca550d5f7e6b6863bc734759be2f515b0b67062d49a", "podman", "", "",
	  "libpod-0411a2a82311fbc65b137ca550d5f7e6b6863bc734759be2f515b0b67062d49a.scope" },
	{ "/machine.slice/libpod-conmon-0411a2a82311fbc65b137ca550d5f7e6b6863bc734759be2f515b0b67062d49a.scope",
	  "systemd", "systemd:libpod-conmon-0411a2a82311fbc65b137ca550d5f7e6b6863bc734759be2f515b0b67062d49a.scope",
	  "", "", "", "",
	  "libpod-conmon-0411a2a82311fbc65b137ca550d5f7e6b6863bc734759be2f515b0b67062d49a.scope" },
	/* containers/podman#20423, with podman's "container" sub-cgroup: */
	{ "/user.slice/user-0.slice/user@0.service/machine.slice/libpod-cf21d19260ace8544fe8b769fc2638bf2c0873dfbfff0b6253f0569b26a1d5eb.scope/container",
	  "container", "container:cf21d19260ac",
	  "cf21d19260ace8544fe8b769fc2638bf2c0873dfbfff0b6253f0569b26a1d5eb", "podman", "", "",
	  "libpod-cf21d19260ace8544fe8b769fc2638bf2c0873dfbfff0b6253f0569b26a1d5eb.scope" },
	/* Rootless, and in a podman pod (the slice shape of podman#6400): */
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" HEX64_A ".scope",
	  "container", "container:0123456789ab", HEX64_A, "podman", "", "",
	  "libpod-" HEX64_A ".scope" },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/user-libpod_pod_" HEX64_B ".slice/libpod-" HEX64_A ".scope/container",
	  "container", "container:0123456789ab", HEX64_A, "podman", "", "",
	  "libpod-" HEX64_A ".scope" },
	/* podman with the cgroupfs manager: */
	{ "/libpod_parent/libpod-" HEX64_B, "container", "container:fedcba987654", HEX64_B,
	  "podman", "", "", "" },

	/* LXC. htop#328, LXD on Ubuntu 20.04, a unit of the container's systemd: */
	{ "/lxc.payload.buster/system.slice/networking.service", "container", "container:buster",
	  "buster", "lxc", "", "", "networking.service" },
	{ "/lxc.payload/web01", "container", "container:web01", "web01", "lxc", "", "", "" },
	{ "/lxc.monitor.buster", "cgroup", "cgroup:/lxc.monitor.buster", "", "", "", "", "" },
	/* containerd without Kubernetes: /<namespace>/<id> says too little. */
	{ "/default/redis-1", "cgroup", "cgroup:/default/redis-1", "", "", "", "", "" },

	/* systemd and logind. */
	{ "/system.slice/nginx.service", "systemd", "systemd:nginx.service", "", "", "", "", "nginx.service" },
	{ "/system.slice/foo.service/bar", "systemd", "systemd:foo.service", "", "", "", "", "foo.service" },
	{ "/system.slice/system-getty.slice/getty@tty1.service", "systemd", "systemd:getty@tty1.service",
	  "", "", "", "", "getty@tty1.service" },
	{ "/init.scope", "systemd", "systemd:init.scope", "", "", "", "", "init.scope" },
	/* moby#34220: */
	{ "/user.slice/user-52321.slice/session-128207.scope", "user", "user:52321", "", "", "", "",
	  "session-128207.scope" },
	{ "/user.slice/user-1000.slice/session-3.scope", "user", "user:1000", "", "", "", "",
	  "session-3.scope" },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope",
	  "user", "user:1000", "", "", "", "", "app-gnome-firefox-1234.scope" },
	/* containers/crun#376, `podman unshare`: */
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/podman-6696.scope", "user",
	  "user:1000", "", "", "", "", "podman-6696.scope" },
	{ "/user.slice/user-1000.slice", "user", "user:1000", "", "", "", "", "" },
	{ "/user.slice", "cgroup", "cgroup:/user.slice", "", "", "", "", "" },
	{ "/", "host", "host", "", "", "", "", "" },
	{ "", "host", "host", "", "", "", "", "" },
	{ "/infertrace/a/b", "cgroup", "cgroup:/infertrace/a/b", "", "", "", "", "" },
};

static void check_case(const struct path_case *c, const struct workload *wl)
{
	const char *want[] = { c->kind, c->name, c->cid, c->runtime, c->pod, c->qos, c->unit };
	const char *got[] = { wl->kind, wl->name, wl->container_id, wl->container_runtime,
			      wl->pod_uid, wl->qos_class, wl->systemd_unit };
	static const char *field[] = { "kind", "name", "container_id", "container_runtime",
				       "pod_uid", "qos_class", "systemd_unit" };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strcmp(want[i], got[i]) != 0)
			fail_msg("path \"%s\": %s: expected \"%s\", got \"%s\"", c->path, field[i],
				 want[i], got[i]);
	}
	assert_int_equal(wl->nlabels, 0);
}

static void test_path_shapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		struct workload wl;

		memset(&wl, 0x5a, sizeof(wl)); /* out must be fully rewritten */
		assert_int_equal(workload_from_path(path_cases[i].path, &wl), 0);
		check_case(&path_cases[i], &wl);
		assert_string_equal(wl.cgroup, path_cases[i].path[0] ? path_cases[i].path : "/");
	}
}

static void test_path_null_and_long(void **state)
{
	struct workload wl;
	char path[1200];
	size_t n = 0;

	(void)state;
	assert_int_equal(workload_from_path(NULL, &wl), 0);
	assert_string_equal(wl.name, "host");
	assert_string_equal(wl.cgroup, "/");
	/* Longer than wl.cgroup: the container at the end is still found, and
	 * the stored path is cut, not overrun. */
	while (n < 900)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/nested-level-%zu", n);
	snprintf(path + n, sizeof(path) - n, "/docker-%s.scope", HEX64_A);
	assert_int_equal(workload_from_path(path, &wl), 0);
	assert_string_equal(wl.kind, "container");
	assert_string_equal(wl.container_id, HEX64_A);
	assert_int_equal(strlen(wl.cgroup), sizeof(wl.cgroup) - 1);
	assert_memory_equal(wl.cgroup, path, sizeof(wl.cgroup) - 1);
	/* Upper-case hex and short ids are no container ids. */
	assert_int_equal(workload_from_path("/system.slice/docker-ABCDEF0123456789.scope", &wl), 0);
	assert_string_equal(wl.kind, "systemd");
	assert_int_equal(workload_from_path("/system.slice/docker-abc.scope", &wl), 0);
	assert_string_equal(wl.kind, "systemd");
}

/* ---- JSON ---------------------------------------------------------------- */

static void test_json(void **state)
{
	struct workload wl;
	cJSON *rec = cJSON_CreateObject(), *labels;
	int n = 0;

	(void)state;
	workload_from_path(path_cases[0].path, &wl);
	cJSON_AddStringToObject(rec, "workload", "stale");
	workload_to_json(&wl, rec);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "workload")->valuestring,
			    "k8s:a5c1f8d5-1919-434d-add7-4afaafdaef89");
	for (cJSON *it = rec->child; it; it = it->next)
		n += strcmp(it->string, "workload") == 0;
	assert_int_equal(n, 1); /* replaced, not added twice */
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "workload.kind")->valuestring, "pod");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "container.runtime")->valuestring, "cri-o");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "k8s.pod.qos_class")->valuestring, "burstable");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "k8s.pod.uid")->valuestring,
			    "a5c1f8d5-1919-434d-add7-4afaafdaef89");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "container.id")->valuestring,
			    "5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c");
	labels = cJSON_GetObjectItemCaseSensitive(rec, "labels");
	assert_true(cJSON_IsObject(labels));
	assert_null(labels->child);
	cJSON_Delete(rec);

	rec = cJSON_CreateObject();
	workload_from_path("/system.slice/nginx.service", &wl);
	wl.nlabels = 2;
	strcpy(wl.labels[0].key, "team");
	strcpy(wl.labels[0].value, "search");
	strcpy(wl.labels[1].key, "env");
	strcpy(wl.labels[1].value, "prod");
	workload_to_json(&wl, rec);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "container.id")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "container.runtime")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "k8s.pod.uid")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "k8s.pod.qos_class")));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "systemd.unit")->valuestring, "nginx.service");
	labels = cJSON_GetObjectItemCaseSensitive(rec, "labels");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(labels, "team")->valuestring, "search");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(labels, "env")->valuestring, "prod");
	assert_int_equal(cJSON_GetArraySize(rec), 8);
	cJSON_Delete(rec);
}

/* ---- a fake cgroup tree and /proc ------------------------------------ */

struct tree {
	char dir[64];         /* the temporary directory */
	char root[PATH_MAX];  /* dir/cg: the fake cgroup root */
	char proc[PATH_MAX];  /* dir/proc */
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void mkdir_p(const char *base, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", base, rel);
	for (char *s = p + strlen(base) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
				fail_msg("mkdir %s: %s", p, strerror(errno));
			*s = '/';
		}
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

static uint64_t ino_of(const char *base, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", base, strcmp(rel, "/") == 0 ? "" : rel);
	if (stat(p, &st) != 0)
		fail_msg("stat %s: %s", p, strerror(errno));
	return st.st_ino;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fail_msg("open %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* A /proc/PID/cgroup of a hybrid host: v1 lines first, then "0::". */
static void fake_proc(struct tree *t, unsigned pid, const char *v2path)
{
	char p[PATH_MAX + 32], text[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%u", t->proc, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%u/cgroup", t->proc, pid);
	snprintf(text, sizeof(text), "12:memory:/docker/abc\n1:name=systemd:/x\n0::%s\n", v2path);
	write_file(p, text);
}

static const char *tree_dirs[] = {
	"/system.slice/nginx.service",
	"/system.slice/other.service",
	"/system.slice/docker-" HEX64_A ".scope",
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/cri-containerd-" HEX64_B ".scope",
	"/user.slice/user-1000.slice/session-3.scope",
	"/e1", "/e2", "/e3", "/e4", "/e5",
};

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/infertrace-wl-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->root, sizeof(t->root), "%s/cg", t->dir);
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->dir);
	mkdir(t->root, 0755);
	mkdir(t->proc, 0755);
	for (size_t i = 0; i < sizeof(tree_dirs) / sizeof(tree_dirs[0]); i++)
		mkdir_p(t->root, tree_dirs[i]);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static struct workloads_stats stats(const struct workloads *w)
{
	struct workloads_stats st;

	workloads_get_stats(w, &st);
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_resolve_by_proc(void **state)
{
	struct tree *t = *state;
	struct workloads *w = workloads_new(t->root, t->proc);
	uint64_t id = ino_of(t->root, "/system.slice/nginx.service");
	const struct workload *wl, *again;

	assert_non_null(w);
	fake_proc(t, 4242, "/system.slice/nginx.service");
	wl = workloads_get(w, id, 4242);
	assert_string_equal(wl->cgroup, "/system.slice/nginx.service");
	assert_string_equal(wl->name, "systemd:nginx.service");
	assert_int_equal(stats(w).by_proc, 1);
	assert_int_equal(stats(w).walks, 0);
	/* A hit needs neither /proc nor a walk, and hands out the same entry. */
	again = workloads_get(w, id, 0);
	assert_ptr_equal(again, wl);
	assert_int_equal(stats(w).hits, 1);
	assert_int_equal(stats(w).misses, 1);
	assert_int_equal(stats(w).walks, 0);
	/* The root cgroup, and a zombie's " (deleted)" mark. */
	fake_proc(t, 1, "/");
	assert_string_equal(workloads_get(w, ino_of(t->root, "/"), 1)->name, "host");
	fake_proc(t, 77, "/user.slice/user-1000.slice/session-3.scope (deleted)");
	wl = workloads_get(w, ino_of(t->root, "/user.slice/user-1000.slice/session-3.scope"), 77);
	assert_string_equal(wl->name, "user:1000");
	assert_int_equal(stats(w).by_proc, 3);
	assert_int_equal(stats(w).walks, 0);
	workloads_free(w);
}

/* /proc names another cgroup than the id's (the process moved, or lives in
 * another cgroup namespace): the inode check refuses it, the walk finds it. */
static void test_proc_mismatch_falls_back_to_walk(void **state)
{
	struct tree *t = *state;
	struct workloads *w = workloads_new(t->root, t->proc);
	uint64_t id = ino_of(t->root, "/system.slice/nginx.service");
	uint64_t dock = ino_of(t->root, "/system.slice/docker-" HEX64_A ".scope");
	const struct workload *wl;

	fake_proc(t, 4242, "/system.slice/other.service");
	fake_proc(t, 4243, "/../../system.slice/nginx.service");
	wl = workloads_get(w, id, 4242);
	assert_string_equal(wl->cgroup, "/system.slice/nginx.service");
	assert_int_equal(stats(w).by_proc, 0);
	assert_int_equal(stats(w).by_walk, 1);
	assert_int_equal(stats(w).walks, 1);
	/* One walk serves the next misses too, with or without a pid. */
	wl = workloads_get(w, dock, 4243);
	assert_string_equal(wl->name, "container:0123456789ab");
	assert_string_equal(wl->container_runtime, "docker");
	wl = workloads_get(w, ino_of(t->root, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/cri-containerd-" HEX64_B ".scope"), 0);
	assert_string_equal(wl->name, "k8s:a5c1f8d5-1919-434d-add7-4afaafdaef89");
	assert_string_equal(wl->container_id, HEX64_B);
	/* A pid that does not exist is no error either. */
	wl = workloads_get(w, ino_of(t->root, "/e1"), 999999);
	assert_string_equal(wl->cgroup, "/e1");
	assert_int_equal(stats(w).by_walk, 4);
	assert_int_equal(stats(w).walks, 1);
	workloads_free(w);
}

static void test_unresolved_retried_and_walks_rate_limited(void **state)
{
	struct tree *t = *state;
	struct workloads *w = workloads_new(t->root, t->proc);
	const struct workload *wl, *later;
	char want[64];
	uint64_t id;

	workloads_set_limits(w, 0, 0, 60000);
	workloads_get(w, ino_of(t->root, "/e1"), 0);
	assert_int_equal(stats(w).walks, 1);
	/* Made after the walk: unknown until the next walk is allowed. */
	mkdir_p(t->root, "/late.service");
	id = ino_of(t->root, "/late.service");
	wl = workloads_get(w, id, 0);
	snprintf(want, sizeof(want), "cgroup:%" PRIu64, id);
	assert_string_equal(wl->name, want);
	assert_string_equal(wl->kind, "cgroup");
	assert_string_equal(wl->cgroup, "");
	assert_int_equal(stats(w).walks, 1);
	assert_int_equal(stats(w).unresolved, 1);
	/* Asked again within the interval: still unknown, and no walk. */
	assert_ptr_equal(workloads_get(w, id, 0), wl);
	assert_int_equal(stats(w).walks, 1);
	/* Not cached for good: after the interval the same entry resolves. */
	workloads_set_limits(w, 0, 0, 1);
	sleep_ms(5);
	later = workloads_get(w, id, 0);
	assert_ptr_equal(later, wl);
	assert_string_equal(later->name, "systemd:late.service");
	assert_int_equal(stats(w).walks, 2);
	workloads_free(w);

	/* A root that does not exist resolves nothing and does not crash. */
	w = workloads_new("/nonexistent/infertrace", "/nonexistent/proc");
	wl = workloads_get(w, 12345, 1);
	assert_string_equal(wl->name, "cgroup:12345");
	workloads_free(w);
	assert_string_equal(workloads_get(NULL, 1, 1)->kind, "cgroup");
}

static void test_eviction_and_bounds(void **state)
{
	struct tree *t = *state;
	struct workloads *w = workloads_new(t->root, t->proc);
	uint64_t id[5];
	const struct workload *wl[5];

	for (int i = 0; i < 5; i++) {
		char rel[16];

		snprintf(rel, sizeof(rel), "/e%d", i + 1);
		id[i] = ino_of(t->root, rel);
	}
	/* Two entries, idle after 1 ms: the third id takes the first's entry. */
	workloads_set_limits(w, 2, 1, 0);
	wl[0] = workloads_get(w, id[0], 0);
	wl[1] = workloads_get(w, id[1], 0);
	sleep_ms(5);
	wl[2] = workloads_get(w, id[2], 0);
	assert_ptr_equal(wl[2], wl[0]);
	assert_string_equal(wl[2]->cgroup, "/e3");
	assert_int_equal(stats(w).recycled, 1);
	assert_int_equal(stats(w).entries, 2);
	/* id[0] is gone from the cache and comes back in the oldest entry. */
	assert_ptr_equal(workloads_get(w, id[0], 0), wl[1]);
	assert_string_equal(wl[1]->cgroup, "/e1");
	workloads_free(w);

	/* Nothing idle: the cache grows to twice its bound, then one scratch
	 * entry answers; entries in use keep their content. */
	w = workloads_new(t->root, t->proc);
	workloads_set_limits(w, 2, 60000, 0);
	for (int i = 0; i < 5; i++)
		wl[i] = workloads_get(w, id[i], 0);
	for (int i = 0; i < 4; i++) {
		char rel[16];

		snprintf(rel, sizeof(rel), "/e%d", i + 1);
		assert_string_equal(wl[i]->cgroup, rel);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(wl[i], wl[j]);
	}
	assert_string_equal(wl[4]->cgroup, "/e5");
	assert_int_equal(stats(w).entries, 4);
	assert_int_equal(stats(w).overflow, 1);
	assert_int_equal(stats(w).recycled, 0);
	workloads_free(w);
}

/* ---- label rules ------------------------------------------------------- */

static void test_rules_apply(void **state)
{
	struct tree *t = *state;
	struct workloads *w = workloads_new(t->root, t->proc);
	uint64_t nginx = ino_of(t->root, "/system.slice/nginx.service");
	uint64_t other = ino_of(t->root, "/system.slice/other.service");
	const struct workload *wl;
	char err[256];

	assert_int_equal(workloads_add_rule(w, "team=search:^/system\\.slice/nginx", err, sizeof(err)), 0);
	assert_int_equal(workloads_add_rule(w, "env=prod:.*", err, sizeof(err)), 0);
	assert_int_equal(workloads_add_rule(w, "  team=web:nginx\\.service$  ", err, sizeof(err)), 0);
	assert_int_equal(workloads_add_rule(w, "workload=frontend:nginx", err, sizeof(err)), 0);
	/* ':' after the value belongs to the regex. */
	assert_int_equal(workloads_add_rule(w, "port=x:a:b|other", err, sizeof(err)), 0);
	wl = workloads_get(w, nginx, 0);
	assert_string_equal(wl->name, "frontend");
	assert_string_equal(wl->kind, "systemd");
	assert_int_equal(wl->nlabels, 2);
	assert_string_equal(wl->labels[0].key, "team");
	assert_string_equal(wl->labels[0].value, "web"); /* the later rule wins */
	assert_string_equal(wl->labels[1].key, "env");
	assert_string_equal(wl->labels[1].value, "prod");
	wl = workloads_get(w, other, 0);
	assert_string_equal(wl->name, "systemd:other.service");
	assert_int_equal(wl->nlabels, 2);
	assert_string_equal(wl->labels[1].key, "port");
	/* Rules added later reach entries already cached. */
	assert_int_equal(workloads_add_rule(w, "tier=gold:nginx", err, sizeof(err)), 0);
	wl = workloads_get(w, nginx, 0);
	assert_int_equal(wl->nlabels, 3);
	assert_string_equal(wl->labels[2].value, "gold");
	workloads_free(w);

	/* At most WORKLOAD_MAX_LABELS keys; more are dropped and counted, and
	 * a known key can still change. */
	w = workloads_new(t->root, t->proc);
	for (int i = 0; i < WORKLOAD_MAX_LABELS + 2; i++) {
		char rule[64];

		snprintf(rule, sizeof(rule), "k%d=v%d:.", i, i);
		assert_int_equal(workloads_add_rule(w, rule, err, sizeof(err)), 0);
	}
	assert_int_equal(workloads_add_rule(w, "k0=changed:.", err, sizeof(err)), 0);
	wl = workloads_get(w, nginx, 0);
	assert_int_equal(wl->nlabels, WORKLOAD_MAX_LABELS);
	assert_string_equal(wl->labels[0].value, "changed");
	assert_string_equal(wl->labels[WORKLOAD_MAX_LABELS - 1].key, "k7");
	assert_int_equal(stats(w).labels_dropped, 2);
	workloads_free(w);
}

static void expect_rule_error(struct workloads *w, const char *spec, const char *msg)
{
	char err[256] = "untouched";

	if (workloads_add_rule(w, spec, err, sizeof(err)) != -EINVAL)
		fail_msg("rule \"%s\": expected -EINVAL", spec);
	if (!strstr(err, msg))
		fail_msg("rule \"%s\": expected an error with \"%s\", got \"%s\"", spec, msg, err);
}

static void test_rule_errors(void **state)
{
	struct workloads *w = workloads_new("/nonexistent", "/nonexistent");
	char longkey[80], longval[160], rule[256];

	(void)state;
	expect_rule_error(w, "", "is not key=value:REGEX");
	expect_rule_error(w, "team", "rule \"team\" is not key=value:REGEX");
	expect_rule_error(w, "team=search", "is not key=value:REGEX");
	expect_rule_error(w, "=search:x", "empty key");
	expect_rule_error(w, "te am=x:y", "key \"te am\" has ' ': keys are made of A-Z a-z 0-9 _ . -");
	expect_rule_error(w, "team/a=x:y", "has '/'");
	expect_rule_error(w, "team=:^/x", "empty value for key \"team\"");
	expect_rule_error(w, "team=x:", "empty regex for key \"team\"");
	expect_rule_error(w, "team=x:(", "regex \"(\" for key \"team\": ");
	expect_rule_error(w, "team=x:a{2,1}", "regex \"a{2,1}\"");
	expect_rule_error(w, "team=a\tb:x", "control character");
	memset(longkey, 'k', 64);
	longkey[64] = '\0';
	snprintf(rule, sizeof(rule), "%s=v:x", longkey);
	expect_rule_error(w, rule, "longer than 63 bytes");
	memset(longval, 'v', 128);
	longval[128] = '\0';
	snprintf(rule, sizeof(rule), "k=%s:x", longval);
	expect_rule_error(w, rule, "value for key \"k\" is longer than 127 bytes");
	/* A NULL err is allowed. */
	assert_int_equal(workloads_add_rule(w, "bad", NULL, 0), -EINVAL);
	for (int i = 0; i < 256; i++)
		assert_int_equal(workloads_add_rule(w, "a=b:c", NULL, 0), 0);
	expect_rule_error(w, "a=b:c", "too many rules (at most 256)");
	workloads_free(w);
}

static void test_rules_file(void **state)
{
	struct tree *t = *state;
	struct workloads *w = workloads_new(t->root, t->proc);
	uint64_t nginx = ino_of(t->root, "/system.slice/nginx.service");
	char path[PATH_MAX], want[PATH_MAX + 128], err[PATH_MAX + 128];
	const struct workload *wl;

	snprintf(path, sizeof(path), "%s/rules.conf", t->dir);
	write_file(path,
		   "# labels by cgroup path\n"
		   "\n"
		   "   # indented comment\n"
		   "team=search:^/system\\.slice/nginx\\.service$\r\n"
		   "  env=prod:.*  \n"
		   "issue=a#b:svc#1|nginx\n");
	assert_int_equal(workloads_load_rules(w, path, err, sizeof(err)), 0);
	wl = workloads_get(w, nginx, 0);
	assert_int_equal(wl->nlabels, 3);
	assert_string_equal(wl->labels[0].value, "search");
	assert_string_equal(wl->labels[1].value, "prod");
	assert_string_equal(wl->labels[2].value, "a#b");
	workloads_free(w);

	/* A bad line names the file and line, and no rule of the file stays. */
	w = workloads_new(t->root, t->proc);
	write_file(path,
		   "# labels\n"
		   "team=search:nginx\n"
		   "\n"
		   "team search nginx\n"
		   "env=prod:.*\n");
	assert_int_equal(workloads_load_rules(w, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: rule \"team search nginx\" is not key=value:REGEX", path);
	assert_string_equal(err, want);
	wl = workloads_get(w, nginx, 0);
	assert_int_equal(wl->nlabels, 0);

	write_file(path, "ok=1:x\nbad=1:[\n");
	assert_int_equal(workloads_load_rules(w, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: regex \"[\" for key \"bad\": ", path);
	assert_memory_equal(err, want, strlen(want));

	snprintf(path, sizeof(path), "%s/missing.conf", t->dir);
	assert_int_equal(workloads_load_rules(w, path, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
	workloads_free(w);
}

/* ---- the real cgroup v2 hierarchy ------------------------------------- */

static struct {
	char top[PATH_MAX + 32];
	char app[PATH_MAX + 64];
	char scope[PATH_MAX + 128];
	pid_t child;
	int hold[2];
} real = { .hold = { -1, -1 } };

static void real_kill_child(void)
{
	if (real.child > 0) {
		kill(real.child, SIGKILL);
		waitpid(real.child, NULL, 0);
		real.child = 0;
	}
}

/* Runs after a failure too, so no test cgroup is left behind. */
static int real_teardown(void **state)
{
	const char *dirs[] = { real.app, real.scope, real.top };

	(void)state;
	real_kill_child();
	for (int i = 0; i < 2; i++) {
		if (real.hold[i] >= 0)
			close(real.hold[i]);
		real.hold[i] = -1;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		/* The cgroup empties as the reaped child is released: retry. */
		for (int tries = 0; dirs[i][0] && tries < 200; tries++) {
			if (rmdir(dirs[i]) == 0 || errno == ENOENT)
				break;
			sleep_ms(10);
		}
		if (dirs[i][0] && access(dirs[i], F_OK) == 0)
			fprintf(stderr, "test_workload: could not remove %s: %s\n", dirs[i], strerror(errno));
	}
	return 0;
}

static void real_mkdir(const char *dir, const char *root)
{
	if (mkdir(dir, 0755) != 0)
		fail_msg("cannot create the test cgroup %s: %s. This test needs root and a "
			 "writable cgroup v2 hierarchy at %s.", dir, strerror(errno), root);
}

static void test_real_cgroup(void **state)
{
	char root[PATH_MAX], rel[64], want[96], procs[PATH_MAX + 96];
	struct workloads *w;
	const struct workload *wl;
	uint64_t app_id, scope_id, unknown = (1ULL << 62) + 12345;
	int ready[2], rc;
	char ok = 0;

	(void)state;
	rc = workload_cgroup2_root(root, sizeof(root));
	if (rc != 0) {
		struct statfs sf;

		fail_msg("no cgroup v2 hierarchy: /sys/fs/cgroup is %s and /proc/self/mountinfo "
			 "lists no cgroup2 mount. infertrace reads cgroup v2 ids; this test needs a "
			 "host with cgroup v2 (unified or hybrid) and root.",
			 statfs("/sys/fs/cgroup", &sf) == 0 ? "not cgroup2" : "missing");
	}
	if (strcmp(root, "/sys/fs/cgroup") != 0)
		fprintf(stderr, "test_workload: /sys/fs/cgroup is not cgroup2; using the cgroup2 "
			"mount at %s (hybrid layout)\n", root);
	if (access(root, W_OK) != 0)
		fail_msg("the cgroup v2 hierarchy at %s is not writable (%s): run this test as root",
			 root, strerror(errno));

	snprintf(real.top, sizeof(real.top), "%s/infertrace-test-%d", root, (int)getpid());
	snprintf(real.app, sizeof(real.app), "%s/app.service", real.top);
	snprintf(real.scope, sizeof(real.scope), "%s/docker-%s.scope", real.top, HEX64_A);
	real_mkdir(real.top, root);
	real_mkdir(real.app, root);
	real_mkdir(real.scope, root);

	/* A child joins app.service, says so, and waits until killed. */
	if (pipe(ready) != 0 || pipe(real.hold) != 0)
		fail_msg("pipe: %s", strerror(errno));
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", real.app);
	real.child = fork();
	if (real.child < 0)
		fail_msg("fork: %s", strerror(errno));
	if (real.child == 0) {
		FILE *f = fopen(procs, "w");
		char c = 0, buf;

		close(ready[0]);
		close(real.hold[1]);
		if (f) {
			c = fprintf(f, "0\n") == 2 && fclose(f) == 0;
		}
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		while (read(real.hold[0], &buf, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(real.hold[0]);
	real.hold[0] = -1;
	if (read(ready[0], &ok, 1) != 1 || !ok) {
		close(ready[0]);
		fail_msg("the child could not move itself into %s (writing %s failed)", real.app, procs);
	}
	close(ready[0]);

	app_id = ino_of(real.app, "/");
	scope_id = ino_of(real.scope, "/");
	snprintf(rel, sizeof(rel), "/infertrace-test-%d/app.service", (int)getpid());

	/* Found through /proc/CHILD/cgroup, with the hierarchy found by itself. */
	w = workloads_new(NULL, NULL);
	assert_non_null(w);
	wl = workloads_get(w, app_id, (uint32_t)real.child);
	assert_string_equal(wl->cgroup, rel);
	assert_string_equal(wl->name, "systemd:app.service");
	assert_string_equal(wl->kind, "systemd");
	assert_string_equal(wl->systemd_unit, "app.service");
	assert_int_equal(stats(w).by_proc, 1);
	assert_int_equal(stats(w).walks, 0);
	workloads_free(w);

	/* The child is gone: a new cache finds the id by a walk, and the same
	 * walk serves the other test cgroup. */
	real_kill_child();
	w = workloads_new(root, "/proc");
	wl = workloads_get(w, app_id, 0);
	assert_string_equal(wl->cgroup, rel);
	assert_string_equal(wl->name, "systemd:app.service");
	assert_int_equal(stats(w).by_walk, 1);
	wl = workloads_get(w, scope_id, 0);
	assert_string_equal(wl->kind, "container");
	assert_string_equal(wl->name, "container:0123456789ab");
	assert_string_equal(wl->container_runtime, "docker");
	assert_int_equal(stats(w).walks, 1);

	/* An id no cgroup has. */
	wl = workloads_get(w, unknown, 0);
	snprintf(want, sizeof(want), "cgroup:%" PRIu64, unknown);
	assert_string_equal(wl->name, want);
	assert_string_equal(wl->kind, "cgroup");
	workloads_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_shapes),
		cmocka_unit_test(test_path_null_and_long),
		cmocka_unit_test(test_json),
		cmocka_unit_test_setup_teardown(test_resolve_by_proc, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_proc_mismatch_falls_back_to_walk, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_retried_and_walks_rate_limited, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_eviction_and_bounds, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_rules_apply, tree_setup, tree_teardown),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test_setup_teardown(test_rules_file, tree_setup, tree_teardown),
		cmocka_unit_test_teardown(test_real_cgroup, real_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

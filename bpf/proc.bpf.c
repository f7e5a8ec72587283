// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Process lifecycle: exec tells the agent to look for libraries to probe in
 * the new image, an executable file mapping (dlopen of libssl by Python's
 * _ssl, say) to look again; exit of a thread group lets it flush the last
 * partial interval and close the process's connections.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

static __always_inline void proc_event(__u32 kind)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct it_proc_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_add(IT_STAT_LOST, 1);
		return;
	}
	e->kind = kind;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->pad = 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	stat_add(IT_STAT_EVENTS, 1);
}

SEC("tracepoint/sched/sched_process_exec")
int proc_exec(void *ctx)
{
	proc_event(IT_EV_EXEC);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int proc_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	/* a thread that dies inside a TLS call never returns from it */
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	if (tgid != (__u32)pid_tgid)
		return 0;
	bpf_map_delete_elem(&tls_procs, &tgid);
	proc_event(IT_EV_EXIT);
	return 0;
}

#define PROT_EXEC 0x4

/* Executable file mappings are rare (library loads), so this is cheap; the
 * mapping does not exist yet at entry, the agent looks a moment later. */
SEC("tracepoint/syscalls/sys_enter_mmap")
int proc_mmap(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & PROT_EXEC) || (long)ctx->args[4] < 0)
		return 0;
	proc_event(IT_EV_MMAP_EXEC);
	return 0;
}

#!/usr/bin/env python3
"""Compare the agent's GPU busy time with the workloads' CUDA-event ground
truth. Usage: summary.py AGENT.jsonl [WORKLOAD-OUTPUT.txt ...]

For each workload line (tools/gpu/check.py output: pid, t0, t1, gpu_s) the
agent's usage records of that pid whose interval overlaps [t0, t1] are
summed: reported busy seconds (NVML where present), eBPF-span busy seconds,
launches. Also prints the agent's stop record's CUDA facts."""
import datetime
import json
import sys


def ts(s):
    return datetime.datetime.strptime(s[:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def main():
    recs = []
    for line in open(sys.argv[1]):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("type") == "agent" and r.get("event") == "stop":
            print("agent:", json.dumps({k: r.get(k) for k in (
                "cuda_files", "cuda_entry_points", "cuda_entry_points_absent", "cuda_probes_past_entry",
                "gpu_spans", "nvml", "lost", "cuda_calls")}))
        if r.get("type") == "usage" and "gpu.busy_seconds" in r:
            recs.append(r)
    for path in sys.argv[2:]:
        for line in open(path):
            try:
                w = json.loads(line)
            except ValueError:
                continue
            if "t0" not in w:
                continue
            busy = ebpf = 0.0
            launches = graphs = 0
            srcs = set()
            for r in recs:
                if r["pid"] != w["pid"]:
                    continue
                a, b = ts(r["interval_start"]), ts(r["interval_end"])
                if b < w["t0"] or a > w["t1"]:
                    continue
                busy += r["gpu.busy_seconds"]
                ebpf += r.get("gpu.busy_seconds_ebpf", 0)
                launches += r["gpu.launches"]
                graphs += r["gpu.graph_launches"]
                srcs.add(r["gpu_time_source"])
            truth = w.get("gpu_busy_s", w["gpu_s"])
            print("%-8s pid %-6d n %-5d events: loop %.4fs, in batches %s  agent %.4fs (%s, ratio %.3f)  "
                  "ebpf %.4fs (ratio %.3f)  launches %d graph_launches %d  window %.3fs" % (
                      w["mode"], w["pid"], w["n"], w["gpu_s"],
                      "%.4fs" % w["gpu_busy_s"] if "gpu_busy_s" in w else "-", busy,
                      "+".join(sorted(srcs)) or "-", busy / truth if truth else 0, ebpf,
                      ebpf / truth if truth else 0, launches, graphs, w["t1"] - w["t0"]))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Sum the agent's usage records per pid: GPU busy seconds (reported and
eBPF), launches, graph launches, time source. Usage: summary.py AGENT.jsonl [PID...]"""
import json
import sys


def main():
    tot = {}
    for line in open(sys.argv[1]):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("type") == "agent" and r.get("event") == "stop":
            print("agent:", {k: r.get(k) for k in ("cuda_files", "cuda_entry_points", "cuda_entry_points_absent",
                                                   "cuda_probes_past_entry", "gpu_spans", "nvml", "lost")})
        if r.get("type") != "usage" or "gpu.busy_seconds" not in r:
            continue
        t = tot.setdefault(r["pid"], {"comm": r["comm"], "busy": 0.0, "busy_ebpf": 0.0, "launches": 0,
                                      "graph_launches": 0, "src": set(), "accel": r.get("accelerator")})
        t["busy"] += r["gpu.busy_seconds"]
        t["busy_ebpf"] += r.get("gpu.busy_seconds_ebpf", 0)
        t["launches"] += r["gpu.launches"]
        t["graph_launches"] += r["gpu.graph_launches"]
        t["src"].add(r["gpu_time_source"])
    want = set(int(p) for p in sys.argv[2:])
    for pid, t in sorted(tot.items()):
        if want and pid not in want:
            continue
        t["src"] = sorted(t["src"])
        print(pid, json.dumps(t))


if __name__ == "__main__":
    main()

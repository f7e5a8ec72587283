#!/usr/bin/env python3
"""Workloads for the real-GPU check (tools/gpu-check.sh), with their own
ground truth measured by CUDA events, printed as one JSON line each.

    python3 tools/gpu/check.py matmul N     # N bf16 4096^3 matmuls, sync every 10
    python3 tools/gpu/check.py graph N      # N replays of a CUDA graph of 10 matmuls
    python3 tools/gpu/check.py launches N   # N tiny kernels: launch cost
"""
import json
import os
import sys
import time

import torch


def timed(fn):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3, time.perf_counter() - t0


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    a = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    b = torch.randn_like(a)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    out = {"mode": mode, "n": n, "pid": os.getpid()}
    # keep set-up (allocation, cuBLAS start) and the measured loop in
    # different agent intervals (the check runs the agent with -i 1)
    time.sleep(float(os.environ.get("CHECK_GAP", "1.5")))
    start_at = float(os.environ.get("CHECK_START_AT", "0"))
    if start_at > time.time():
        time.sleep(start_at - time.time())  # two processes start their loops together
    out["t0"] = time.time()
    if mode == "matmul":
        batches = []

        def work():
            for i in range(n):
                if i % 10 == 0:
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record()
                a @ b
                if i % 10 == 9:
                    e.record()
                    batches.append((s, e))
                    torch.cuda.synchronize()
        out["gpu_s"], out["wall_s"] = timed(work)
        # GPU time inside the batches only: without the idle gaps between a
        # synchronisation and the next batch's first kernel
        out["gpu_busy_s"] = sum(s.elapsed_time(e) for s, e in batches) / 1e3
    elif mode == "graph":
        out.pop("t0")
        g = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            for _ in range(3):
                a @ b
            torch.cuda.synchronize()
            with torch.cuda.graph(g):
                for _ in range(10):
                    c = a @ b
        torch.cuda.synchronize()
        time.sleep(float(os.environ.get("CHECK_GAP", "1.5")))
        out["t0"] = time.time()

        def work():
            for i in range(n):
                g.replay()
                torch.cuda.synchronize()
        out["gpu_s"], out["wall_s"] = timed(work)
    elif mode == "launches":
        x = torch.zeros(1, device="cuda")

        def work():
            for _ in range(n):
                x.add_(1)
        out["gpu_s"], out["wall_s"] = timed(work)
        out["us_per_launch"] = out["wall_s"] / n * 1e6
    out["t1"] = time.time()
    time.sleep(float(os.environ.get("CHECK_GAP", "1.5")))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

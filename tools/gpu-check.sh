#!/bin/bash
# The real-GPU check of the CUDA probes, run once on a GPU machine through
# the device tool. The machine has no build tools for BPF: the agent comes
# prebuilt in .devcarry/ (bin/infertrace and the shared libraries it needs
# in lib/; see tools/gpu/README in the closing note of the GPU issue).
#
# Prints: the real libcuda's entry points and the probe sites chosen; the
# agent's accelerator time against CUDA-event ground truth for (a) a matmul
# loop, (b) CUDA graphs, (c) two processes sharing the GPU; the per-launch
# overhead without the agent, with --gpu-probes=full and with sync.
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devcarry/lib
AGENT=.devcarry/bin/infertrace
PY=python3
cuda=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}'); [ -n "$cuda" ] || cuda=/usr/local/nvidia/lib64/libcuda.so.1
echo "== $(uname -r); $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
echo "== entry points of $(readlink -f "$cuda")"
$PY tools/gpu/elfsyms.py "$(readlink -f "$cuda")" cu 12 > "$OUT/syms.txt"; tail -1 "$OUT/syms.txt"

agent_start() { # $1: name, rest: agent options
	local name=$1; shift
	$AGENT agent -o "$OUT/$name.jsonl" -i 1 -v "$@" 2> "$OUT/$name.err" &
	AP=$!
	for _ in $(seq 100); do grep -q '"start"' "$OUT/$name.jsonl" 2>/dev/null && return 0; sleep 0.1; done
	echo "agent did not start:"; cat "$OUT/$name.err"; return 1
}
agent_stop() { kill -INT "$AP"; wait "$AP"; }

echo "== baseline launch cost, no agent"
for i in 1 2 3; do $PY tools/gpu/check.py launches 20000; done | tee "$OUT/launch-none.txt"

echo "== agent --gpu-probes=full"
agent_start full || exit 1
grep -E "CUDA entry points|cuLaunchKernel |cuGraphLaunch |cuStreamSynchronize " "$OUT/full.err"
$PY tools/gpu/check.py matmul 300 | tee "$OUT/matmul.txt"
$PY tools/gpu/check.py graph 30 | tee "$OUT/graph.txt"
($PY tools/gpu/check.py matmul 300 > "$OUT/two-a.txt" & $PY tools/gpu/check.py matmul 300 > "$OUT/two-b.txt"; wait)
cat "$OUT/two-a.txt" "$OUT/two-b.txt"
for i in 1 2 3; do $PY tools/gpu/check.py launches 20000; done | tee "$OUT/launch-full.txt"
sleep 1.2; agent_stop
$PY tools/gpu/summary.py "$OUT/full.jsonl"

echo "== agent --gpu-probes=sync"
agent_start sync --gpu-probes=sync || exit 1
for i in 1 2 3; do $PY tools/gpu/check.py launches 20000; done | tee "$OUT/launch-sync.txt"
sleep 1.2; agent_stop
echo "== agent --gpu-probes=full --nvml-lib '' (eBPF spans only)"
agent_start nonvml --nvml-lib '' || exit 1
$PY tools/gpu/check.py matmul 300 | tee "$OUT/matmul-nonvml.txt"
sleep 1.2; agent_stop
$PY tools/gpu/summary.py "$OUT/nonvml.jsonl"

#!/bin/bash
# The real-GPU check of the CUDA probes, run once on a GPU machine through
# the device tool. The machine has no build tools for BPF: the agent comes
# prebuilt in .devcarry/ (bin/infertrace and the shared libraries it needs
# in lib/), prepared here with:
#
#   make && mkdir -p .devcarry/bin .devcarry/lib && cp build/infertrace .devcarry/bin/ &&
#   cp -L $(ldd build/infertrace | awk '/=>/ && !/libc\.so|libm\.so|ld-linux/ {print $3}') .devcarry/lib/
#   echo /.devcarry/ >> .git/info/exclude     # then run with carry: [".devcarry"]
#
# SKIP_LAUNCH_COST=1 runs only the accuracy part.
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

echo "== accuracy: agent --gpu-probes=full"
agent_start full || exit 1
grep -E "CUDA entry points|cuLaunchKernel |cuGraphLaunch |cuStreamSynchronize " "$OUT/full.err"
$PY tools/gpu/check.py matmul 300 > "$OUT/matmul.txt"
$PY tools/gpu/check.py graph 30 > "$OUT/graph.txt"
at=$(( $(date +%s) + 12 )) # both loops start together, after torch's start-up
(CHECK_START_AT=$at $PY tools/gpu/check.py matmul 600 > "$OUT/two-a.txt" &
 CHECK_START_AT=$at $PY tools/gpu/check.py matmul 600 > "$OUT/two-b.txt"; wait)
sleep 1.2; agent_stop
$PY tools/gpu/summary.py "$OUT/full.jsonl" "$OUT/matmul.txt" "$OUT/graph.txt" "$OUT/two-a.txt" "$OUT/two-b.txt"
$PY - "$OUT/two-a.txt" "$OUT/two-b.txt" <<'PY'
import json, sys
a, b = (json.loads(open(p).read()) for p in sys.argv[1:3])
print("two processes: loops overlap %.3fs; together they span %.3fs of wall time; "
      "events in batches %.4f + %.4f s" % (
    max(0, min(a["t1"], b["t1"]) - max(a["t0"], b["t0"])), max(a["t1"], b["t1"]) - min(a["t0"], b["t0"]),
    a.get("gpu_busy_s", 0), b.get("gpu_busy_s", 0)))
PY

echo "== accuracy without NVML (eBPF spans only)"
agent_start nonvml --nvml-lib '' || exit 1
$PY tools/gpu/check.py matmul 300 > "$OUT/matmul-nonvml.txt"
sleep 1.2; agent_stop
$PY tools/gpu/summary.py "$OUT/nonvml.jsonl" "$OUT/matmul-nonvml.txt"

[ "${SKIP_LAUNCH_COST:-0}" = 1 ] && exit 0
echo "== launch cost: none / full / sync, interleaved, 5 rounds (us per launch, 20000 tiny kernels)"
export CHECK_GAP=0
for r in 1 2 3 4 5; do
	echo "none $($PY tools/gpu/check.py launches 20000)"
	agent_start lfull || exit 1; echo "full $($PY tools/gpu/check.py launches 20000)"; agent_stop
	agent_start lsync --gpu-probes=sync || exit 1; echo "sync $($PY tools/gpu/check.py launches 20000)"; agent_stop
done > "$OUT/launch.txt"
$PY - "$OUT/launch.txt" <<'PY'
import json, statistics, sys
by = {}
for line in open(sys.argv[1]):
    mode, js = line.split(" ", 1)
    by.setdefault(mode, []).append(json.loads(js)["us_per_launch"])
base = statistics.median(by["none"])
for m in ("none", "full", "sync"):
    v = by[m]
    print("%-5s median %.2f us/launch (min %.2f max %.2f)  +%.2f us vs none" % (
        m, statistics.median(v), min(v), max(v), statistics.median(v) - base))
PY
grep -o '"cuda_calls":{[^}]*}' "$OUT/lfull.jsonl" | tail -1

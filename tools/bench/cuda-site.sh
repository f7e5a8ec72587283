#!/bin/bash
# Cost of a uprobe on NVIDIA's real libcuda (535, no GPU needed): ns per
# cuLaunchKernel call untraced, with the probe at the entry (a `cmp`, single-
# stepped) and at the site infertrace chooses (the `je` after it, emulated).
# Rounds interleave the three; medians. Needs root.
#
#   tools/bench/cuda-site.sh [ROUNDS] [CALLS]
set -u
cd "$(dirname "$0")/../.." || exit 1
rounds=${1:-5}
calls=${2:-200000}
[ "$(id -u)" = 0 ] || { echo "cuda-site.sh: needs root (loads BPF)" >&2; exit 1; }
make -s build/infertrace build/tools/cuda_calls || exit 1
lib=$(tools/fetch-nvidia.sh) || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_traced() { # $1: site
	build/infertrace agent -o "$tmp/a.jsonl" --cuda-lib "$lib" --nvml-lib '' --cuda-probe-site "$1" 2>/dev/null &
	local ap=$!
	for _ in $(seq 100); do grep -q '"start"' "$tmp/a.jsonl" 2>/dev/null && break; sleep 0.1; done
	build/tools/cuda_calls "$lib" loop "$calls" | head -1
	kill -INT $ap; wait $ap
	rm -f "$tmp/a.jsonl"
}
for r in $(seq "$rounds"); do
	echo "none $(build/tools/cuda_calls "$lib" loop "$calls" | head -1)"
	echo "entry $(run_traced entry)"
	echo "auto $(run_traced auto)"
done > "$tmp/runs.txt"
python3 - "$tmp/runs.txt" "$calls" <<'PY'
import json, statistics, sys
by = {}
for line in open(sys.argv[1]):
    mode, js = line.split(" ", 1)
    by.setdefault(mode, []).append(json.loads(js)["ns_per_call"])
base = statistics.median(by["none"])
print("cuLaunchKernel on libcuda 535 (no GPU), %s calls per run, %d runs each" % (sys.argv[2], len(by["none"])))
for m, what in (("none", "untraced"), ("entry", "probe at +0 (cmp, single-stepped)"),
                ("auto", "probe at the chosen site (je, emulated)")):
    v = by[m]
    print("  %-42s median %8.1f ns/call (min %.1f, max %.1f)  +%.1f ns" % (
        what, statistics.median(v), min(v), max(v), statistics.median(v) - base))
PY

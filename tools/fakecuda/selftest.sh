#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Self-test of tools/fakecuda: no BPF, no root, no GPU. Builds the fake
# driver and its programs (make -f tools/fakecuda/Makefile), then checks:
#
#   - the exported entry points: NVIDIA's names (all in driver 580's list),
#     the three stub shapes (535, 580, plain C);
#   - apicheck on each stub shape: cuGetProcAddress == dlsym, honest
#     queries, synchronisation times, events, copies, default streams,
#     capture and graphs;
#   - nvml_check: the fake NVML answers the scripted samples;
#   - workloads: the ground truth matches what each workload launched
#     (counts per entry point, bytes per direction, allocations, busy time
#     within 2% of the requested durations), in every mode;
#   - two processes sharing the device each get their own truth lines (and
#     take turns with FAKECUDA_SHARE), a process exiting mid-span, the HTTP
#     inference server, the cost of a launch.
#
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed" last;
# exits non-zero when anything failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$ROOT/build/fakecuda
export HERE
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ next to truth.py

if ! make -s -f "$HERE/Makefile" >&2; then
	echo "not ok - build"
	echo "0 passed, 1 failed"
	exit 1
fi

T=$(mktemp -d /tmp/fakecuda-selftest.XXXXXX)
LOG=$T/log
export T
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
export LD_LIBRARY_PATH=$B
unset FAKECUDA_TRUTH FAKECUDA_SHARE FAKENVML_SCRIPT

say() { echo "$*" | tee -a "$LOG"; }
section() { say "# $*"; }

# Run python checks read from stdin, with helpers: check(cond, msg),
# wl(path) (the workload's JSON summary), Truth, union_ns, overlap_ns, MS.
PRELUDE='
import json, os, sys
sys.path.insert(0, os.environ["HERE"])
from truth import Truth, union_ns, overlap_ns
MS = 1000000
SLACK = 20 * MS  # set-up (cuInit, threads) and scheduling delays on a loaded machine
T = os.environ["T"]
def check(cond, msg):
    print(("ok - " if cond else "not ok - ") + msg)
def wl(path):
    with open(path) as f:
        for line in f:
            if line.startswith("{\"pid\""):
                return json.loads(line)
    return None
def within(x, want, rel):
    return abs(x - want) <= rel * want
def per_stream_ok(t, pid):
    """ops of each stream in order, never overlapping"""
    for ops in t.streams(pid).values():
        for a, b in zip(ops, ops[1:]):
            if b["start_ns"] < a["end_ns"]:
                return False
    return True
'
pycheck() {
	{ printf '%s\n' "$PRELUDE"; cat; } | python3 - 2>&1 | tee -a "$LOG"
}

# workload NAME [env...] -- [args...]: runs build/fakecuda/workload with its
# own truth file $T/NAME.truth, stdout in $T/NAME.out, exit status in $T/NAME.rc
workload() {
	local name=$1
	shift
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	rm -f "$T/$name.truth"
	# (a subshell, so that a workload killed on purpose is not announced)
	(env FAKECUDA_TRUTH="$T/$name.truth" "${envs[@]}" timeout 60 "$B/workload" --quiet "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
	echo $? >"$T/$name.rc") 2>/dev/null
}

# --------------------------------------------------------------------------
section "exported entry points"
pycheck <<'EOF'
import subprocess, re
root = os.path.dirname(os.path.dirname(os.environ["HERE"]))
b = os.path.join(root, "build", "fakecuda")
libs = {"535": b + "/libcuda.so.1", "580": b + "/stub580/libcuda.so.1", "plain": b + "/plain/libcuda.so.1"}
def dynsyms(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", "-S", lib], capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "TtWi":
            syms[p[3]] = (int(p[0], 16), int(p[1], 16))
    return syms
s = {k: dynsyms(v) for k, v in libs.items()}
cu = {k: {n for n in v if n.startswith("cu")} for k, v in s.items()}
check(cu["535"] == cu["580"] == cu["plain"], "the three stub shapes export the same %d cu* symbols" % len(cu["535"]))
real = set()
with open(os.path.join(root, "docs/facts/libcuda-580.159.04-symbols.txt")) as f:
    for line in f:
        if line.startswith("cu"):
            real.add(line.split()[0])
extra = sorted(cu["535"] - real)
check(not extra, "every exported name exists in NVIDIA's driver 580 (not there: %s)" % extra)
required = """cuInit cuDriverGetVersion cuDeviceGet cuDeviceGetCount cuDeviceGetName cuDeviceGetUuid
cuDeviceGetUuid_v2 cuDeviceTotalMem_v2 cuCtxCreate_v2 cuCtxDestroy_v2 cuCtxGetCurrent cuCtxSetCurrent
cuCtxGetDevice cuDevicePrimaryCtxRetain cuStreamCreate cuStreamDestroy_v2 cuLaunchKernel
cuLaunchKernel_ptsz cuLaunchKernelEx cuLaunchKernelEx_ptsz cuLaunchCooperativeKernel
cuLaunchCooperativeKernel_ptsz cuGraphLaunch cuGraphLaunch_ptsz cuMemcpyHtoD_v2 cuMemcpyDtoH_v2
cuMemcpyDtoD_v2 cuMemcpyHtoDAsync_v2 cuMemcpyDtoHAsync_v2 cuMemcpyHtoDAsync_v2_ptsz
cuMemcpyDtoHAsync_v2_ptsz cuMemcpyHtoD_v2_ptds cuMemcpyDtoH_v2_ptds cuMemcpyAsync cuMemcpyAsync_ptsz
cuMemsetD8_v2 cuMemAlloc_v2 cuMemAllocAsync cuMemAllocManaged cuMemFree_v2 cuMemFreeAsync
cuStreamSynchronize cuStreamSynchronize_ptsz cuCtxSynchronize cuEventCreate cuEventDestroy_v2
cuEventRecord cuEventRecord_ptsz cuEventSynchronize cuEventQuery cuEventElapsedTime cuStreamQuery
cuStreamQuery_ptsz cuGetProcAddress cuGetProcAddress_v2 cuModuleLoadData cuModuleGetFunction""".split()
missing = [n for n in required if n not in cu["535"]]
check(not missing, "all %d entry points the brief lists are exported (missing: %s)" % (len(required), missing))
# the agent's probe list (src/gpu/cudafuncs.c), where present
try:
    src = open(os.path.join(root, "src/gpu/cudafuncs.c")).read()
    probed = set(re.findall(r'\{ "(cu\w+)"', src))
    check(probed <= cu["535"], "every entry point the agent probes is exported (missing: %s)" % sorted(probed - cu["535"]))
except OSError:
    pass

def code(lib, name, n):
    addr, size = s_all[lib][name]
    out = subprocess.run(["objdump", "-d", "--start-address=%#x" % addr, "--stop-address=%#x" % (addr + n), libs[lib]],
                         capture_output=True, text=True).stdout
    hexes = []
    for line in out.splitlines():
        m = re.match(r"\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)", line)
        if m:
            hexes += m.group(1).split()
    return "".join(hexes[:n]), size
s_all = s
pat535 = re.compile(r"^813d[0-9a-f]{8}00ba1c32740cff25[0-9a-f]{8}660f1f440000b804000000c3$")
bad = []
for name in ["cuLaunchKernel", "cuLaunchKernel_ptsz", "cuGraphLaunch", "cuMemcpyHtoD_v2", "cuMemAlloc_v2",
             "cuStreamSynchronize", "cuEventQuery", "cuCtxSynchronize", "cuGetProcAddress_v2"]:
    h, size = code("535", name, 30)
    if not pat535.match(h) or size != 30:
        bad.append((name, h, size))
check(not bad, "535 stubs as NVIDIA 535's: cmp [rip+X],0x321cba00; je +0xc; jmp *[rip+Y]; nop6; mov eax,4; ret (%s)" % bad)
bad = []
for name in ["cuLaunchKernel", "cuStreamSynchronize", "cuMemcpyDtoH_v2"]:
    h, size = code("580", name, 12)
    if h != "554889e541544883ec08813d":
        bad.append((name, h))
check(not bad, "580 stubs start like driver 580's: push rbp; mov rbp,rsp; push r12; sub rsp,8; cmp (%s)" % bad)
h, size = code("plain", "cuLaunchKernel", 4)
check(size > 30 and not h.startswith("813d") and not h.startswith("5548"), "plain: entry points are the compiled functions (%s..., %d bytes)" % (h, size))
EOF

# --------------------------------------------------------------------------
# Optional: FAKECUDA_REAL_LIBCUDA=path/to/NVIDIA's libcuda.so.N compares the
# exported names and the first bytes of the entry points with the real thing.
if [ -n "${FAKECUDA_REAL_LIBCUDA:-}" ]; then
	section "against the real driver $FAKECUDA_REAL_LIBCUDA"
	REAL=$FAKECUDA_REAL_LIBCUDA pycheck <<'EOF'
import subprocess, re
real, fake = os.environ["REAL"], os.path.join(os.environ["HERE"], "../../build/fakecuda/libcuda.so.1")
def syms(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True).stdout
    return {p[2]: int(p[0], 16) for p in (l.split() for l in out.splitlines()) if len(p) == 3 and p[2].startswith("cu")}
def head(lib, addr, n):
    out = subprocess.run(["objdump", "-d", "--start-address=%#x" % addr, "--stop-address=%#x" % (addr + n), lib],
                         capture_output=True, text=True).stdout
    h = []
    for l in out.splitlines():
        m = re.match(r"\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)", l)
        if m:
            h += m.group(1).split()
    return "".join(h[:n])
r, f = syms(real), syms(fake)
absent = sorted(set(f) - set(r))
check(set(absent) <= {"cuCtxSynchronize_v2"}, "exported names exist in the real driver (absent there: %s)" % absent)
mask = lambda h: re.sub(r"^813d[0-9a-f]{8}", "813dXXXXXXXX", h)
diff = [(n, head(real, r[n], 12), head(fake, f[n], 12)) for n in ("cuLaunchKernel", "cuStreamSynchronize", "cuMemAlloc_v2", "cuEventQuery")
        if n in r and mask(head(real, r[n], 12)) != mask(head(fake, f[n], 12))]
check(not diff, "entry points shaped as the real driver's, first 12 bytes (differ: %s)" % diff)
# cuGetProcAddress_v2 (which works without cuInit) gives the same symbol names
import ctypes
def getproc(lib):
    h = ctypes.CDLL(lib)
    fn = h.cuGetProcAddress_v2
    fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_uint64, ctypes.POINTER(ctypes.c_int)]
    by_addr = {}
    for n in syms(lib):
        try:
            by_addr[ctypes.cast(getattr(h, n), ctypes.c_void_p).value] = n
        except AttributeError:
            pass
    def ask(name, version, flags):
        p, st = ctypes.c_void_p(), ctypes.c_int(-1)
        rc = fn(name.encode(), ctypes.byref(p), version, flags, ctypes.byref(st))
        return rc, st.value, by_addr.get(p.value, p.value)
    return ask
ask_real, ask_fake = getproc(real), getproc(fake)
rows = re.findall(r"FK_SYM\((\w+), (\w+), (\d+), (\d)\)", open(os.path.join(os.environ["HERE"], "fakecuda_syms.h")).read())
queries = set()
for sym, base, ver, pt in rows:
    for v in (int(ver), 6050, 7000, 12000, 12080):
        for fl in (0, 2):
            queries.add((base, v, fl))
queries |= {("cuNoSuchThing", 12000, 0), ("cuMemAlloc_v2", 12000, 0)}
diff = []
for q in sorted(queries):
    a, b = ask_real(*q), ask_fake(*q)
    if a == b or (b[1] == 2 and a[1] == 0 and q[1] < 3020):  # the fake has no pre-3.2 (_v1) symbols
        continue
    if b[2] in f and b[2] not in r:  # a newer driver's symbol (cuCtxSynchronize_v2)
        continue
    diff.append((q, a, b))
check(not diff, "cuGetProcAddress_v2: same answers as the real driver for %d (name, version, flags) queries (differ: %s)" % (len(queries), diff[:8]))
EOF
fi

# runcheck NAME CMD...: a C check program; its ok lines go to the log (shown:
# only the others), and a crash or a non-zero exit without a "not ok" counts.
runcheck() {
	local name=$1 rc
	shift
	timeout 120 "$@" >"$T/$name.txt" 2>&1
	rc=$?
	grep -v "^$name:" "$T/$name.txt" >>"$LOG"
	grep -v '^ok' "$T/$name.txt"
	if [ $rc != 0 ] && ! grep -q '^not ok' "$T/$name.txt"; then
		say "not ok - $name exited with status $rc"
	fi
}

for v in "" stub580/ plain/; do
	section "apicheck (${v:-535/})"
	FAKECUDA_COPY_GBPS=1 LD_LIBRARY_PATH=$B/$v runcheck apicheck "$B/apicheck"
done

section "nvml_check"
runcheck nvml_check "$B/nvml_check"

# --------------------------------------------------------------------------
section "workload: direct calls, one stream, sync every 10 launches"
workload direct -- --launches=200 --duration=1000000 --sync-every=10
pycheck <<'EOF'
w, t = wl(T + "/direct.out"), Truth(T + "/direct.truth")
pid = w["pid"]
busy = t.busy(pid)
check(open(T + "/direct.rc").read().strip() == "0", "workload exit status 0")
check(len(busy) == 200 and all(r["kind"] == "kernel" and r["api"] == "cuLaunchKernel" for r in busy),
      "200 kernel lines from cuLaunchKernel (got %d)" % len(busy))
check(all(r["end_ns"] - r["start_ns"] == 1 * MS for r in busy), "each lasts the 1 ms requested")
s = t.summary(pid)
check(s is not None and s["launches"] == w["launches"] == 200, "summary: launches == workload's")
check(s is not None and s["calls"] == w["calls"], "summary: calls per entry point == workload's (%s)" % w["calls"])
u = union_ns(t.intervals(pid))
check(within(u, w["kernel_ns"], 0.02), "busy time %.3f ms within 2%% of requested %.3f ms" % (u / MS, w["kernel_ns"] / MS))
check(per_stream_ok(t, pid), "a stream's operations run in order, never overlapping")
check(min(r["start_ns"] for r in busy) >= w["t0_ns"] and max(r["end_ns"] for r in busy) <= w["t1_ns"],
      "truth inside the workload's run")
check(w["kernel_ns"] <= w["wall_ns"] <= 1.02 * w["kernel_ns"] + SLACK,
      "synchronisations return at the virtual completion: wall %.3f ms for %.3f ms of work" % (w["wall_ns"] / MS, w["kernel_ns"] / MS))
check(t.inits[pid]["stub"] == 535 and t.inits[pid]["device_name"] == "NVIDIA H100 80GB HBM3", "init line: stub 535, device name")
EOF

section "workload: cuGetProcAddress pointers, per-thread default stream, Ex/cooperative/plain launches"
workload procaddr -- --calls=procaddr --ptsz --api=mix --streams=0 --launches=60 --duration=500000 --sync-every=6
pycheck <<'EOF'
w, t = wl(T + "/procaddr.out"), Truth(T + "/procaddr.truth")
pid = w["pid"]
busy = t.busy(pid)
s = t.summary(pid)
check(open(T + "/procaddr.rc").read().strip() == "0", "workload exit status 0")
check(w["calls"].get("cuGetProcAddress_v2", 0) > 50, "entry points came from cuGetProcAddress_v2 (%d lookups)" % w["calls"].get("cuGetProcAddress_v2", 0))
check(s is not None and s["calls"] == w["calls"], "summary: calls per entry point == workload's")
apis = {}
for r in busy:
    apis[r["api"]] = apis.get(r["api"], 0) + 1
check(apis == {"cuLaunchKernel_ptsz": 20, "cuLaunchKernelEx_ptsz": 20, "cuLaunchCooperativeKernel_ptsz": 20},
      "launches reached the _ptsz symbols, 20 each (%s)" % apis)
check(all(r["stream_kind"] == "per_thread" for r in busy), "on the per-thread default stream")
check(w["calls"].get("cuStreamSynchronize_ptsz") == 11, "synchronised through cuStreamSynchronize_ptsz (10 + the final one)")
check(within(union_ns(t.intervals(pid)), 30 * MS, 0.02), "busy time within 2% of 30 ms")
EOF

section "workload: 3 threads x 2 streams"
workload mt -- --threads=3 --streams=2 --launches=50 --duration=2000000 --sync-every=5
pycheck <<'EOF'
w, t = wl(T + "/mt.out"), Truth(T + "/mt.truth")
pid = w["pid"]
st = t.streams(pid)
check(len(st) == 6 and all(len(v) == 50 for v in st.values()), "6 streams x 50 launches (%s)" % [len(v) for v in st.values()])
check(all(within(sum(r["end_ns"] - r["start_ns"] for r in v), 100 * MS, 0.02) for v in st.values()),
      "each stream busy 100 ms (within 2%)")
check(per_stream_ok(t, pid), "no overlap within a stream")
check(len({r["tid"] for r in t.busy(pid)}) == 3, "launched from 3 threads")
u = union_ns(t.intervals(pid))
check(100 * MS <= u <= 102 * MS + SLACK, "streams run side by side: process busy %.1f ms, not 600" % (u / MS))
check(t.summary(pid)["calls"] == w["calls"] and w["launches"] == 300, "summary calls == workload's, 300 launches")
EOF

for mode in ctx event query; do
	section "workload: --sync=$mode"
	workload "sync_$mode" -- --streams=2 --launches=40 --duration=1000000 --sync-every=4 --sync=$mode
	MODE=$mode pycheck <<'EOF'
mode = os.environ["MODE"]
w, t = wl(T + "/sync_%s.out" % mode), Truth(T + "/sync_%s.truth" % mode)
pid = w["pid"]
check(t.summary(pid)["calls"] == w["calls"], "summary calls == workload's (%s)" % {k: v for k, v in w["calls"].items() if "Event" in k or "Query" in k or "Synchronize" in k})
check(len(t.busy(pid)) == 80, "80 launches in the truth")
check(40 * MS <= w["wall_ns"] <= 40 * MS * 1.02 + SLACK, "wall %.2f ms for 40 ms per stream" % (w["wall_ns"] / MS))
if mode == "query":
    check(w["not_ready"] > 0 and w["calls"]["cuStreamQuery"] > w["not_ready"] - 1,
          "cuStreamQuery said NOT_READY %d times before SUCCESS" % w["not_ready"])
EOF
done

section "workload: rarely synchronising (one sync after 500 launches)"
workload rare -- --launches=500 --duration=200000 --sync-every=0
pycheck <<'EOF'
w, t = wl(T + "/rare.out"), Truth(T + "/rare.truth")
pid = w["pid"]
ops = list(t.streams(pid).values())[0]
check(len(ops) == 500, "500 launches")
check(all(b["start_ns"] == a["end_ns"] for a, b in zip(ops, ops[1:])), "queued launches run back to back")
check(union_ns(t.intervals(pid)) == 100 * MS, "busy exactly 100 ms")
last_end = max(r["end_ns"] for r in ops)
check(100 * MS <= w["wall_ns"] <= 102 * MS + SLACK and last_end <= w["t1_ns"] <= last_end + SLACK,
      "the only sync returns at the end of the queue (wall %.2f ms, %.3f ms after the last end)" % (w["wall_ns"] / MS, (w["t1_ns"] - last_end) / MS))
check(t.summary(pid)["syncs"] == 1, "one synchronisation")
EOF

section "workload: graphs"
workload graph_nodes -- --launches=0 --graphs=20 --graph-nodes=4 --graph-node-ns=500000 --sync-every=5
workload graph_capture -- --launches=0 --graphs=10 --graph-nodes=3 --graph-node-ns=1000000 --graph-build=capture --ptsz
workload graph_setter -- --launches=0 --graphs=5 --graph-nodes=2 --graph-node-ns=1500000 --graph-build=setter
pycheck <<'EOF'
for name, n, each, captured in (("graph_nodes", 20, 2 * MS, 0), ("graph_capture", 10, 3 * MS, 3), ("graph_setter", 5, 3 * MS, 0)):
    w, t = wl(T + "/%s.out" % name), Truth(T + "/%s.truth" % name)
    pid = w["pid"]
    busy = t.busy(pid)
    s = t.summary(pid)
    check(len(busy) == n and all(r["kind"] == "graph" and r["end_ns"] - r["start_ns"] == each for r in busy),
          "%s: %d graph launches of %.1f ms" % (name, n, each / MS))
    check(s["graph_launches"] == w["graph_launches"] == n and s["launches"] == 0 and s["launches_captured"] == captured == w["launches_captured"],
          "%s: summary graph_launches %d, launches 0, captured %d" % (name, n, captured))
    check(s["calls"] == w["calls"], "%s: summary calls == workload's" % name)
w = wl(T + "/graph_capture.out")
check(w["calls"].get("cuGraphLaunch_ptsz") == 10 and w["calls"].get("cuStreamBeginCapture_v2_ptsz") == 1, "capture through the _ptsz entry points")
EOF

section "workload: copies (sync and async) with data check"
workload copies -- --launches=0 --copies=30 --copy-bytes=1000000 --copy-dir=all --copy-check
workload copies_async -- --launches=0 --streams=2 --copies=20 --copy-bytes=3000000 --copy-dir=all --copy-async --copy-check
pycheck <<'EOF'
for name in ("copies", "copies_async"):
    w, t = wl(T + "/%s.out" % name), Truth(T + "/%s.truth" % name)
    pid = w["pid"]
    s = t.summary(pid)
    check(open(T + "/%s.rc" % name).read().strip() == "0" and w["check_failures"] == 0, "%s: data arrived intact" % name)
    for d in ("htod", "dtoh", "dtod"):
        tb = sum(r["bytes"] for r in t.busy(pid, "memcpy", dir=d))
        tc = len(t.busy(pid, "memcpy", dir=d))
        check(tb == s["memcpy"][d]["bytes"] == w["memcpy"][d]["bytes"] and tc == w["memcpy"][d]["calls"],
              "%s: %s %d calls, %d bytes in truth, summary and workload" % (name, d, tc, tb))
    ok = all(r["end_ns"] - r["start_ns"] >= r["bytes"] // 10 for r in t.busy(pid, "memcpy"))
    check(ok, "%s: each copy takes at least bytes / 10 GB/s" % name)
    check(s["calls"] == w["calls"], "%s: summary calls == workload's" % name)
    check(per_stream_ok(t, pid), "%s: copies in stream order" % name)
EOF

section "workload: allocations"
workload allocs -- --launches=0 --allocs=50 --alloc-bytes=4194304 --alloc-api=mix
workload allocs_keep -- --launches=0 --allocs=10 --alloc-bytes=1048576 --alloc-keep
pycheck <<'EOF'
w, t = wl(T + "/allocs.out"), Truth(T + "/allocs.truth")
s = t.summary(w["pid"])
check(s["allocs"] == s["frees"] == w["allocs"] == w["frees"] == 50, "50 allocations, 50 frees")
check(s["mem_peak_bytes"] == w["mem_peak_bytes"] == 50 * 4194304 and s["mem_bytes"] == 0, "peak 200 MiB, none held at exit")
check(s["calls"] == w["calls"] and w["calls"].get("cuMemAllocAsync") == 17 and w["calls"].get("cuMemAllocManaged") == 16,
      "by entry point: %s" % {k: v for k, v in w["calls"].items() if k.startswith("cuMem")})
ctx = [c for c in s["contexts"] if c["primary"]][0]
check(ctx["allocs"] == 50 and ctx["mem_peak_bytes"] == 50 * 4194304, "per context: 50 allocations, peak 200 MiB")
w, t = wl(T + "/allocs_keep.out"), Truth(T + "/allocs_keep.truth")
s = t.summary(w["pid"])
check(s["mem_bytes"] == w["mem_bytes"] == 10 * 1048576 and s["frees"] == 0, "--alloc-keep: 10 MiB still held at exit")
EOF

# --------------------------------------------------------------------------
section "a process exiting mid-span"
workload exit_mid -- --launches=3 --duration=100000000 --exit-mid-span=exit --exit-after=150000000
workload exit_kill -- --launches=1 --duration=300000000 --exit-mid-span=kill
workload exit_underscore -- --launches=1 --duration=100000000 --exit-mid-span=_exit --exit-after=150000000
pycheck <<'EOF'
w, t = wl(T + "/exit_mid.out"), Truth(T + "/exit_mid.truth")
pid = w["pid"]
busy = sorted(t.busy(pid), key=lambda r: r["seq"])
s = t.summary(pid)
check(len(busy) == 2 and not busy[0].get("truncated") and busy[1].get("truncated"),
      "exit(): the finished launch written, the running one cut (truncated), %d lines" % len(busy))
if len(busy) == 2:
    check(abs(busy[1]["end_ns"] - w["exit_ns"]) < 5 * MS, "the cut is at the exit (%.2f ms after exit_ns)" % ((busy[1]["end_ns"] - w["exit_ns"]) / MS))
check(s is not None and s["truncated"] == 1 and s["dropped"] == 1 and s["launches"] == 3,
      "summary: 3 launches, 1 truncated, 1 never started")
w, t = wl(T + "/exit_kill.out"), Truth(T + "/exit_kill.truth")
check(w is not None and not t.busy(w["pid"]) and t.summary(w["pid"]) is None and w["pid"] in t.inits,
      "SIGKILL mid-span: init line only, no busy line, no summary")
w, t = wl(T + "/exit_underscore.out"), Truth(T + "/exit_underscore.truth")
check(len(t.busy(w["pid"])) == 1 and t.summary(w["pid"]) is None,
      "_exit() after the work ended: the worker wrote the launch, no summary")
EOF

# --------------------------------------------------------------------------
section "two processes sharing the device"
run_pair() {
	local name=$1
	shift
	rm -f "$T/$name.truth"
	for i in 1 2; do
		env "$@" FAKECUDA_TRUTH="$T/$name.truth" timeout 60 "$B/workload" --quiet \
			--launches=40 --duration=2000000 --sync-every=4 >"$T/$name.$i.out" &
		eval "p$i=$!"
	done
	wait "$p1" "$p2"
}
run_pair pair
run_pair pair_shared FAKECUDA_SHARE="$T/device0"
pycheck <<'EOF'
t = Truth(T + "/pair.truth")
w1, w2 = wl(T + "/pair.1.out"), wl(T + "/pair.2.out")
p1, p2 = w1["pid"], w2["pid"]
check(p1 != p2 and len(t.busy(p1)) == 40 and len(t.busy(p2)) == 40, "one truth file, 40 lines per pid")
check(t.summary(p1)["calls"] == w1["calls"] and t.summary(p2)["calls"] == w2["calls"], "a summary per pid, each matching its workload")
check(all(r["pid"] in (p1, p2) for r in t.busy()), "no stray lines")
ov = overlap_ns(t.intervals(p1), t.intervals(p2))
check(ov > 0, "independent timelines: the two processes' busy spans overlap (%.1f ms)" % (ov / MS))
t = Truth(T + "/pair_shared.truth")
w1, w2 = wl(T + "/pair_shared.1.out"), wl(T + "/pair_shared.2.out")
p1, p2 = w1["pid"], w2["pid"]
a, b = t.intervals(p1), t.intervals(p2)
check(len(a) == 40 and len(b) == 40, "FAKECUDA_SHARE: 40 lines per pid")
check(overlap_ns(a, b) == 0, "FAKECUDA_SHARE: the processes take turns, busy spans never overlap")
allv = a + b
span = max(e for s, e in allv) - min(s for s, e in allv)
check(union_ns(allv) == sum(e - s for s, e in allv) == 160 * MS and union_ns(allv) <= span,
      "FAKECUDA_SHARE: busy together %.1f ms = 2 x 80 ms <= wall %.1f ms" % (union_ns(allv) / MS, span / MS))
check(t.inits[p1]["shared"] is True, "init line says shared")
EOF

# --------------------------------------------------------------------------
section "infer_server"
rm -f "$T/server.truth" "$T/server.log"
FAKECUDA_TRUTH=$T/server.truth "$B/infer_server" --log="$T/server.log" >"$T/server.out" 2>"$T/server.err" &
spid=$!
pids+=("$spid")
port=
for _ in $(seq 100); do
	port=$(sed -n '1s/.*"port":\([0-9]*\).*/\1/p' "$T/server.out" 2>/dev/null)
	[ -n "$port" ] && break
	sleep 0.05
done
url=http://127.0.0.1:$port/v1/chat/completions
for i in 1 2 3; do
	curl -s -o "$T/resp$i.json" -w '%{time_total}\n' -H 'content-type: application/json' \
		-H 'x-gpu-ns: 20000000' -H 'x-gpu-launches: 2' -H 'x-completion-tokens: 5' \
		-d '{"model":"llama-test","messages":[{"role":"user","content":"hello there"}]}' "$url" \
		>>"$T/times" 2>/dev/null
done
curl -s -N -o "$T/resp_stream.txt" -H 'x-gpu-ns: 9000000' -H 'x-gpu-launches: 3' \
	-H 'x-prompt-tokens: 11' -H 'x-completion-tokens: 7' \
	-d '{"model":"llama-test","stream":true,"stream_options":{"include_usage":true},"messages":[]}' \
	"$url" 2>/dev/null
kill -TERM "$spid"
wait "$spid" 2>/dev/null
SPID=$spid pycheck <<'EOF'
spid = int(os.environ["SPID"])
lines = [json.loads(l) for l in open(T + "/server.out")]
check(lines[0].get("pid") == spid and lines[0].get("port"), "first line {port, pid}")
r = [json.load(open(T + "/resp%d.json" % i)) for i in (1, 2, 3)]
check(all(x["object"] == "chat.completion" and x["model"] == "llama-test" and x["usage"]["completion_tokens"] == 5
          and x["usage"]["total_tokens"] == x["usage"]["prompt_tokens"] + 5 for x in r),
      "OpenAI-shaped answers with usage")
times = [float(x) for x in open(T + "/times").read().split()]
check(len(times) == 3 and all(x >= 0.020 for x in times), "each request took its 20 ms of GPU time (%s s)" % times)
body = open(T + "/resp_stream.txt").read()
check(body.count("data: ") == 5 and '"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}' in body and body.rstrip().endswith("data: [DONE]"),
      "streamed answer: 3 chunks, a usage chunk, [DONE]")
summ = lines[-1]
check(summ.get("type") == "server_summary" and summ["requests"] == 4 and summ["launches"] == 9, "server summary: 4 requests, 9 launches")
t = Truth(T + "/server.truth")
busy = t.busy(spid)
check(len(busy) == 9 and union_ns(t.intervals(spid)) == 69 * MS, "truth: 9 kernels, 69 ms busy (3 x 20 + 9)")
check(t.summary(spid) is not None and t.summary(spid)["launches"] == 9, "SIGTERM: the truth summary is written")
log = [json.loads(l) for l in open(T + "/server.log")]
check(len(log) == 4 and all(x["end_ns"] - x["start_ns"] >= x["gpu_ns"] for x in log), "request log: 4 requests, each no shorter than its GPU time")
EOF

# --------------------------------------------------------------------------
section "cost of a launch (the hot path)"
# On a private copy of the library (its own inode): an infertrace agent running
# on this machine probes every libcuda.so it finds, and a uprobe costs more than
# the fake's whole launch. If the copy is slow, say whether probes were on it.
mkdir -p "$T/hot"
cp "$B/libcuda.so.1" "$T/hot/libcuda.so.1"
workload hot LD_LIBRARY_PATH="$T/hot" -- --launches=20000 --duration=0 --sync-every=1000
workload hot_notruth LD_LIBRARY_PATH="$T/hot" FAKECUDA_TRUTH= -- --launches=20000 --duration=0 --sync-every=1000
probes=$( (bpftool perf list 2>/dev/null || true) | grep -c "uprobe .*$T/hot/libcuda" )
PROBES=$probes pycheck <<'EOF'
probes = int(os.environ["PROBES"])
for name in ("hot", "hot_notruth"):
    w = wl(T + "/%s.out" % name)
    msg = "cuLaunchKernel: median %d ns, mean %d ns per call (truth %s)" % (
        w["launch_call_ns_p50"], w["launch_call_ns_avg"], "on" if name == "hot" else "off")
    if w["launch_call_ns_p50"] >= 3000 and probes:
        msg += " -- %d uprobes of a running agent were on the library: their cost, not the fake's" % probes
    check(w["launch_call_ns_p50"] < 3000 or probes > 0, msg)
    check(open(T + "/%s.rc" % name).read().strip() == "0", "%s: exit status 0" % name)
t = Truth(T + "/hot.truth")
check(len(t.busy(wl(T + "/hot.out")["pid"])) == 20000, "20000 launches written")
EOF

section "failures are reported, not hidden"
FAKECUDA_DEVICES=0 "$B/workload" --launches=1 >/dev/null 2>"$T/nodev.err"
rc=$?
if [ $rc = 2 ] && grep -q 'cuInit: CUresult 100' "$T/nodev.err"; then
	say "ok - FAKECUDA_DEVICES=0: cuInit returns 100 (no device), the workload says so and exits 2"
else
	say "not ok - FAKECUDA_DEVICES=0: rc $rc, $(head -c 200 "$T/nodev.err")"
fi

# --------------------------------------------------------------------------
passed=$(grep -c '^ok' "$LOG")
failed=$(grep -c '^not ok' "$LOG")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/bin/bash
# Facts for the CUDA probes, gathered on a GPU machine (run through the
# device tool with a prebuilt agent in .devcarry/: bin/infertrace and the
# shared libraries it needs in lib/, a test certificate c.pem/k.pem).
# Prints: kernel and BPF support, the real libcuda/NVML entry points and the
# first bytes of each (which instruction a uprobe at the entry would hit),
# whether the agent loads and traces TLS there, and a PyTorch matmul loop's
# kernel time measured with CUDA events (ground truth for later checks).
set -u
OUT=${OUT:-/tmp/gpu-facts}
mkdir -p "$OUT"
echo "== machine"; uname -r; nvidia-smi -L 2>&1 | head -3
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2
echo "== bpf support"; ls -la /sys/kernel/btf/vmlinux 2>&1
[ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing 2>&1
ls /sys/kernel/tracing/events 2>/dev/null | grep -cE "syscalls|sched" ; ls /sys/bus/event_source/devices/ 2>&1 | tr '\n' ' '; echo
echo "== driver libraries"
cuda=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}'); [ -n "$cuda" ] || cuda=$(ls /usr/local/nvidia/lib64/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 2>/dev/null | head -1)
nvml=$(ldconfig -p | awk '/libnvidia-ml\.so\.1 /{print $NF; exit}'); [ -n "$nvml" ] || nvml=$(ls /usr/local/nvidia/lib64/libnvidia-ml.so.1 2>/dev/null | head -1)
echo "libcuda: $cuda -> $(readlink -f "$cuda")"; echo "nvml: $nvml -> $(readlink -f "$nvml")"
python3 tools/gpu/elfsyms.py "$(readlink -f "$cuda")" cu 24 > "$OUT/libcuda-syms.txt" 2>&1
tail -1 "$OUT/libcuda-syms.txt"
grep -E "^(cuLaunch|cuGraphLaunch|cuMemcpy(HtoD|DtoH|DtoD|Async|_|Peer)|cuMemAlloc|cuMemFree|cuStreamSynchronize|cuCtxSynchronize|cuEvent(Synchronize|Query|Record)|cuStreamQuery|cuGetProcAddress|cuCtxGetDevice|cuInit) " "$OUT/libcuda-syms.txt" | cut -c1-120
python3 tools/gpu/elfsyms.py "$(readlink -f "$nvml")" nvmlDeviceGetProcess 8 2>&1 | cut -c1-80
echo "== agent (TLS probes) on this kernel"
export LD_LIBRARY_PATH=$PWD/.devcarry/lib
.devcarry/bin/infertrace agent -o "$OUT/agent.jsonl" -i 1 --comm python3 2> "$OUT/agent.err" &
ap=$!
for i in $(seq 50); do grep -q '"start"' "$OUT/agent.jsonl" 2>/dev/null && break; sleep 0.2; done
python3 - <<'PY'
import socket, ssl, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(".devcarry/c.pem", ".devcarry/k.pem")
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(); port = srv.getsockname()[1]
def serve():
    c, _ = srv.accept(); t = ctx.wrap_socket(c, server_side=True)
    for _ in range(200):
        t.sendall(t.recv(100))
    t.close()
threading.Thread(target=serve, daemon=True).start()
cctx = ssl.create_default_context(); cctx.check_hostname = False; cctx.verify_mode = ssl.CERT_NONE
s = cctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
for _ in range(200):
    s.sendall(b"x" * 100); n = 0
    while n < 100: n += len(s.recv(100 - n))
s.close(); print("tls loop done: 200 x 100 bytes each way")
PY
sleep 1.5; kill -INT $ap; wait $ap; echo "agent exit $?"; cat "$OUT/agent.err"
grep -c '"connection"' "$OUT/agent.jsonl"; grep '"connection"' "$OUT/agent.jsonl" | head -2 | cut -c1-400
echo "== pytorch matmul loop, kernel time by CUDA events"
python3 - <<'PY'
import time, torch
a = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(3): a @ b
torch.cuda.synchronize()
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
t0 = time.perf_counter(); s.record()
for _ in range(200): a @ b
e.record(); torch.cuda.synchronize(); wall = time.perf_counter() - t0
print("200 bf16 4096^3 matmuls: events %.3f ms, wall %.3f ms" % (s.elapsed_time(e), wall * 1e3))
print("torch", torch.__version__, "cuda", torch.version.cuda)
PY

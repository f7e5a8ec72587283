"""Accelerator time from the CUDA driver probes.

Against the fake driver (tools/fakecuda: a real shared library named
libcuda.so.1 with a virtual device that writes its own ground truth of busy
intervals) and against NVIDIA's real libcuda.so 535 from Debian's non-free
component (no GPU here: its calls fail at once, but the probes on its entry
points fire). The agent finds both libraries the way it finds them in
production: in the workload's /proc/PID/maps after the loader mapped them.
"""
import json
import os
import subprocess
import sys
import time
import unittest

from helpers import (ROOT, IntegrationCase, check_eq, check_fields, check_true, free_port, read_line,
                     require_tool, run_client, summarize, wait_for)

sys.path.insert(0, os.path.join(ROOT, "tools", "fakecuda"))
from truth import Truth, union_ns  # noqa: E402

FAKE = os.path.join(ROOT, "build", "fakecuda")
WORKLOAD = os.path.join(FAKE, "workload")
CUDA_CALLS = os.path.join(ROOT, "build", "tools", "cuda_calls")
RECORD_TIMEOUT = 10


def build_fake():
    rc = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "tools", "fakecuda")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if rc.returncode != 0 or not os.path.exists(WORKLOAD):
        raise AssertionError("cannot build tools/fakecuda:\n" + rc.stdout)


def gpu_usage(agent, pid):
    return [r for r in agent.records("usage") if r["pid"] == pid and "gpu.launches" in r]


def wait_final_usage(agent, pid, launches):
    """The GPU usage records of pid once they account for its launches (its
    GPU work may land in an interval record or in its final partial one),
    and one more interval, so that nothing is still to come."""
    def counted():
        recs = gpu_usage(agent, pid)
        return recs if sum(r["gpu.launches"] + r["gpu.graph_launches"] for r in recs) >= launches else None
    wait_for(counted, RECORD_TIMEOUT, "GPU usage records of pid %d with %d launches" % (pid, launches),
             describe=lambda: summarize(agent.records("usage")))
    time.sleep(1.3)
    return gpu_usage(agent, pid)


def totals(recs):
    keys = ("gpu.launches", "gpu.graph_launches", "gpu.memcpy_bytes.htod", "gpu.memcpy_bytes.dtoh",
            "gpu.busy_seconds", "gpu.busy_seconds_ebpf", "gpu.sync_wait_seconds")
    t = {k: sum(r[k] for r in recs) for k in keys}
    t["gpu.mem_peak_bytes"] = max(r["gpu.mem_peak_bytes"] for r in recs)
    t["sources"] = sorted({r["gpu_time_source"] for r in recs})
    return t


class FakeDriver(IntegrationCase):
    SHARED_AGENT_ARGS = ["--nvml-lib", "", "-v"]

    @classmethod
    def setUpClass(cls):
        build_fake()
        super().setUpClass()

    def run_workload(self, args, lib_dir=FAKE, truth=None, env_extra=None):
        """Start the workload, let the agent attach to the library it maps,
        then let it run; returns (pid, its JSON summary, truth path)."""
        truth = truth or os.path.join(self.tmp, "truth-%d.jsonl" % time.monotonic_ns())
        env = dict(os.environ, LD_LIBRARY_PATH=lib_dir, FAKECUDA_TRUTH=truth, **(env_extra or {}))
        p = self.procs.spawn([WORKLOAD, "--wait-stdin"] + args, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(0.8)  # the agent attaches after the mmap of libcuda.so.1
        out, _ = p.communicate("go\n", timeout=60)
        check_eq(p.returncode, 0, "workload exit status (%s)" % " ".join(args))
        return p.pid, json.loads(out.strip().splitlines()[-1]), truth

    def test_counts_exact_and_busy_within_5_percent(self):
        """Launches, copies and memory exactly; busy time within 5% of the
        fake device's own record for a workload that synchronises every 25 ms."""
        pid, w, truth = self.run_workload([
            "--launches=40", "--duration=5000000", "--sync-every=5",
            "--copies=4", "--copy-bytes=1048576", "--copy-dir=htod", "--copy-async",
            "--allocs=3", "--alloc-bytes=1048576", "--alloc-keep"])
        t = totals(wait_final_usage(self.agent, pid, w["launches"]))
        check_eq(t["gpu.launches"], w["launches"], "launches (workload's own count)")
        check_eq(t["gpu.memcpy_bytes.htod"], 4 * 1048576, "host-to-device bytes")
        check_eq(t["gpu.mem_peak_bytes"], w["mem_peak_bytes"], "peak device memory (workload's count)")
        check_eq(t["sources"], ["ebpf-spans"], "gpu_time_source without NVML")
        truth_s = union_ns(Truth(truth).intervals(pid)) / 1e9
        err = abs(t["gpu.busy_seconds"] - truth_s) / truth_s
        check_true(err <= 0.05, "busy seconds within 5%% of the fake device's (%.4f s)" % truth_s,
                   "%.4f s (%.1f%% off)" % (t["gpu.busy_seconds"], err * 100))

    def test_graphs_threads_streams_procaddr(self):
        """Calls through cuGetProcAddress pointers (as the CUDA runtime makes
        them), per-thread default streams, 2 threads x 2 streams, graphs."""
        pid, w, truth = self.run_workload([
            "--calls=procaddr", "--ptsz", "--threads=2", "--streams=2", "--launches=10",
            "--duration=2000000", "--sync-every=2", "--graphs=3", "--graph-nodes=4",
            "--graph-node-ns=1000000"])
        t = totals(wait_final_usage(self.agent, pid, w["launches"] + w["graph_launches"]))
        check_eq(t["gpu.launches"], w["launches"], "launches through cuGetProcAddress pointers")
        check_eq(t["gpu.graph_launches"], w["graph_launches"], "graph launches")
        truth_s = union_ns(Truth(truth).intervals(pid)) / 1e9
        err = abs(t["gpu.busy_seconds"] - truth_s) / truth_s
        check_true(err <= 0.05, "busy seconds within 5%% of the fake device's (%.4f s)" % truth_s,
                   "%.4f s (%.1f%% off)" % (t["gpu.busy_seconds"], err * 100))

    def test_rare_synchronisation_bound(self):
        """Documented bound (docs/schema.md): with a synchronisation only at
        the end, a span runs from the first launch to the synchronisation,
        so the agent never reports less than the device was busy, and never
        more than the wall time from the first launch to the last sync."""
        pid, w, truth = self.run_workload([
            "--launches=30", "--duration=3000000", "--gap=2000000", "--sync-every=0"])
        t = totals(wait_final_usage(self.agent, pid, w["launches"]))
        truth_s = union_ns(Truth(truth).intervals(pid)) / 1e9
        check_true(t["gpu.busy_seconds"] >= truth_s * 0.98,
                   "busy >= the device's %.4f s" % truth_s, t["gpu.busy_seconds"])
        check_true(t["gpu.busy_seconds"] <= w["wall_ns"] / 1e9 * 1.02,
                   "busy <= the workload's wall time %.4f s" % (w["wall_ns"] / 1e9),
                   t["gpu.busy_seconds"])

    def two_processes_share(self, agent, launches, sync_every):
        """Two processes busy at the same time are never given more busy time
        together than the wall time their work covers: time when both were
        busy is split between them, also across interval ends (a span still
        open there is counted up to the end, and the rest when it closes)
        and across the first one's exit (its last record waits for the
        interval's end, when every span the other closed up to then is read)."""
        truth = os.path.join(self.tmp, "truth-two-%d.jsonl" % time.monotonic_ns())
        env = dict(os.environ, LD_LIBRARY_PATH=FAKE, FAKECUDA_TRUTH=truth)
        ps = [self.procs.spawn([WORKLOAD, "--wait-stdin", "--launches=%d" % launches,
                                "--duration=10000000", "--sync-every=%d" % every],
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
              for every in sync_every]
        time.sleep(0.8)
        for p in ps:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in ps:
            p.communicate(timeout=60)
            check_eq(p.returncode, 0, "workload exit status")
        busy = [totals(wait_final_usage(agent, p.pid, launches))["gpu.busy_seconds"] for p in ps]
        tr = Truth(truth)
        wall = union_ns(tr.intervals(ps[0].pid) + tr.intervals(ps[1].pid)) / 1e9
        # 3%: a span runs from the launch call to the synchronisation's
        # return, a little longer than the device's own busy interval
        check_true(sum(busy) <= wall * 1.03,
                   "busy together <= wall time covered by their work (%.4f s) + 3%%" % wall,
                   "%.4f + %.4f s" % tuple(busy))
        check_true(sum(busy) >= wall * 0.95,
                   "busy together >= 95%% of the wall time covered by their work (%.4f s)" % wall,
                   "%.4f + %.4f s" % tuple(busy))
        check_true(min(busy) > 0.3 * wall, "each process got a fair part of the time", busy)

    def test_two_processes_share_the_device(self):
        self.two_processes_share(self.agent, 20, (2, 2))

    def test_two_processes_share_across_interval_ends(self):
        """0.1 s intervals, spans of 20 ms in one process and 30 ms in the
        other: intervals end inside one's span after the other's closed."""
        agent = self.start_agent("--nvml-lib", "", interval=0.1)
        self.two_processes_share(agent, 60, (2, 3))

    def test_exit_in_the_middle_of_a_span(self):
        """A process that exits while its kernel runs still gets its last
        partial interval with its launches."""
        pid, w, truth = self.run_workload([
            "--exit-mid-span=exit", "--launches=4", "--duration=20000000"])
        t = totals(wait_final_usage(self.agent, pid, 4))
        check_eq(t["gpu.launches"], 4, "launches before the exit")

    def test_probe_sites_reported(self):
        """On the 535-shaped stubs the launch probe sits on the je at +10;
        the agent says so."""
        wait_for(lambda: "cuLaunchKernel" in self.agent.stderr_text() or None, RECORD_TIMEOUT,
                 "the agent's report of the CUDA probe sites (-v)")
        line = [l for l in self.agent.stderr_text().splitlines() if "cuLaunchKernel " in l]
        check_true(line and "+10" in line[0] and "je" in line[0],
                   "cuLaunchKernel probed at +10 (je)", line)


class FakeNvml(IntegrationCase):
    """NVML's per-process samples take precedence over the eBPF spans."""

    def test_nvml_samples_are_the_reported_time(self):
        build_fake()
        script = os.path.join(self.tmp, "nvml.txt")
        with open(script, "w") as f:
            f.write('device 0 name="NVIDIA H100 80GB HBM3" uuid=GPU-00000000-1111-2222-3333-444444444444\n')
        os.environ["FAKENVML_SCRIPT"] = script
        try:
            agent = self.start_agent("--nvml-lib", os.path.join(FAKE, "libnvidia-ml.so.1"))
        finally:
            del os.environ["FAKENVML_SCRIPT"]
        env = dict(os.environ, LD_LIBRARY_PATH=FAKE)
        p = self.procs.spawn([WORKLOAD, "--wait-stdin", "--launches=100", "--duration=20000000",
                              "--sync-every=1"], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        tmp = script + ".new"
        with open(tmp, "w") as f:
            f.write('device 0 name="NVIDIA H100 80GB HBM3" uuid=GPU-00000000-1111-2222-3333-444444444444\n'
                    "steady 0 pid=%d sm=50 mem=5 every=100ms from=-1s until=60s\n" % p.pid)
        os.rename(tmp, script)
        time.sleep(0.8)
        p.stdin.write("go\n")
        p.stdin.flush()
        recs = wait_for(lambda: [r for r in gpu_usage(agent, p.pid)
                                 if r["gpu_time_source"] == "nvml"] or None,
                        RECORD_TIMEOUT, "a usage record with gpu_time_source nvml",
                        describe=lambda: summarize(agent.records("usage")))
        r = recs[0]
        check_eq(r["accelerator"], "NVIDIA H100 80GB HBM3", "accelerator name from NVML")
        interval = 1.0
        check_true(abs(r["gpu.busy_seconds"] - 0.5 * interval) <= 0.1,
                   "busy = mean SM utilisation 50% x interval (about 0.5 s)", r["gpu.busy_seconds"])
        p.kill()
        agent.stop()


class RealLibcuda(IntegrationCase):
    """NVIDIA's libcuda.so 535 (Debian non-free), no GPU."""

    def test_real_driver_entry_points(self):
        rc = subprocess.run([os.path.join(ROOT, "tools", "fetch-nvidia.sh")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if rc.returncode != 0:
            raise AssertionError("tools/fetch-nvidia.sh failed (needs Debian's mirror):\n" + rc.stderr)
        lib = rc.stdout.strip().splitlines()[-1]
        agent = self.start_agent("--nvml-lib", "", "-v")
        pid, out, _ = run_client(self.procs, [CUDA_CALLS, lib, "wait-ms", "800", "launches", "100",
                                              "ptsz", "50", "graphs", "7", "htod", "9", "4096",
                                              "syncs", "3", "allocs", "4"], what="cuda_calls")
        t = totals(wait_final_usage(agent, pid, 157))
        check_eq(t["gpu.launches"], 150, "cuLaunchKernel + _ptsz calls")
        check_eq(t["gpu.graph_launches"], 7, "cuGraphLaunch calls")
        check_eq(t["gpu.memcpy_bytes.htod"], 9 * 4096, "cuMemcpyHtoDAsync_v2 bytes (ByteCount argument)")
        agent.stop()
        stop = [r for r in agent.records("agent") if r["event"] == "stop"][0]
        check_eq(stop["cuda_calls"].get("cuLaunchKernel"), 100, "hits on cuLaunchKernel")
        check_eq(stop["cuda_calls"].get("cuLaunchKernel_ptsz"), 50, "hits on cuLaunchKernel_ptsz")
        check_eq(stop["cuda_calls"].get("cuStreamSynchronize"), 3, "hits on cuStreamSynchronize")
        check_eq(stop["cuda_calls"].get("cuMemAlloc_v2"), 4, "hits on cuMemAlloc_v2")
        check_eq(stop["cuda_calls"].get("cuGraphLaunch"), 7, "hits on cuGraphLaunch")
        check_true(stop["cuda_entry_points_absent"] >= 1,
                   "entry points 535 lacks (cuCtxSynchronize_v2) reported absent",
                   stop["cuda_entry_points_absent"])
        check_true(stop["cuda_probes_past_entry"] >= 20,
                   "entry-only probes moved to the je of the 535 stubs", stop["cuda_probes_past_entry"])


if __name__ == "__main__":
    unittest.main()


class InferenceServer(IntegrationCase):
    """A plain-HTTP inference server on the GPU node: its requests come out
    as request records (role server) and its GPU work as busy time."""

    def test_requests_and_gpu_time_of_a_server(self):
        build_fake()
        port = free_port()
        agent = self.start_agent("--nvml-lib", "", "--http-port", str(port))
        env = dict(os.environ, LD_LIBRARY_PATH=FAKE)
        srv = self.procs.spawn([os.path.join(FAKE, "infer_server"), "--port=%d" % port,
                                "--gpu-ns=20000000"], env=env, stdout=subprocess.PIPE, text=True)
        first = json.loads(read_line(srv.stdout, 10, "infer_server's first line"))
        check_eq(first["port"], port, "infer_server port")
        time.sleep(0.8)  # the agent attaches to the libcuda.so.1 it mapped
        curl = require_tool("curl")
        for i in range(5):
            pid, out, _ = run_client(self.procs, [
                curl, "-sS", "--max-time", "20", "-o", "/dev/null",
                "-H", "content-type: application/json", "-H", "x-completion-tokens: 9",
                "-H", "x-prompt-tokens: 31",
                "-d", '{"model":"llama-3-8b","messages":[{"role":"user","content":"hi"}]}',
                "http://127.0.0.1:%d/v1/chat/completions" % port], what="curl %d" % i)
        recs = wait_for(lambda: [r for r in agent.records("request")
                                 if r["pid"] == srv.pid and r["role"] == "server"] or None
                        if len([r for r in agent.records("request") if r["pid"] == srv.pid]) >= 5
                        else None, RECORD_TIMEOUT, "5 request records of the server",
                        describe=lambda: summarize(agent.records("request")))
        for r in recs:
            check_fields(r, {"gen_ai.provider.name": "openai_compatible", "gen_ai.request.model":
                             "llama-3-8b", "gen_ai.usage.input_tokens": 31,
                             "gen_ai.usage.output_tokens": 9, "tls.library": None,
                             "server.port": port}, "server's request record")
        srv.terminate()
        srv.wait(timeout=20)
        t = totals(wait_final_usage(agent, srv.pid, 5))
        check_eq(t["gpu.launches"], 5, "one launch per request")
        check_true(0.1 * 0.95 <= t["gpu.busy_seconds"] <= 0.1 * 1.3,
                   "busy about 5 x 20 ms", t["gpu.busy_seconds"])
        agent.stop()

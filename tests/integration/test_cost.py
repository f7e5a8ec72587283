"""Cost attribution end to end: real clients in two real cgroups.

Workload "team-a" (a cgroup the test creates) runs curl against the mock LLM
API over TLS, as api.openai.com and api.anthropic.com, with token counts the
test chooses; it also calls a self-hosted model. Workload "inference" (a
second cgroup) runs the fake-driver inference server, which holds device
memory like a model's weights and launches GPU work per request. The agent
runs with a price table written here, and the test computes every cost on
its own, from the known tokens, the fake device's ground truth of busy time
and the prices, and compares it with the agent's request, usage and cost
records.
"""
import json
import os
import signal
import subprocess
import time

from helpers import (IntegrationCase, cgroup2_mount, check_eq, check_true, free_port, read_line,
                     require_tool, run_client, summarize, wait_for)
from llmhelpers import MockLLM, chat, curl_cmd, messages
import test_gpu

PRICE_PER_HOUR = 3.60          # the fake device "cuda:0", USD
GPT_MINI = dict(input=0.15, cached=0.075, output=0.60)             # USD per MTok
SONNET = dict(input=3.0, cached=0.30, write5m=3.75, output=15.0)  # USD per MTok

PRICES = {
    "version": "2026-11-27",
    "currency": "USD",
    "models": [
        {"id": "test/gpt-4o-mini", "provider": "openai", "match": {"prefix": "gpt-4o-mini"},
         "input_per_mtok": GPT_MINI["input"], "cache_read_per_mtok": GPT_MINI["cached"],
         "output_per_mtok": GPT_MINI["output"], "source": "test table"},
        {"id": "test/gpt-4o", "provider": "openai", "match": {"prefix": "gpt-4o"},
         "input_per_mtok": 2.5, "output_per_mtok": 10, "source": "test table"},
        {"id": "test/claude-sonnet-4-5", "provider": "anthropic",
         "match": {"regex": "claude-sonnet-4-5(-[0-9]{8})?"},
         "input_per_mtok": SONNET["input"], "cache_read_per_mtok": SONNET["cached"],
         "cache_write_5m_per_mtok": SONNET["write5m"], "cache_write_1h_per_mtok": 6.0,
         "output_per_mtok": SONNET["output"], "source": "test table"},
    ],
    "accelerators": [
        {"id": "test/fake-device", "match": {"exact": "cuda:0"}, "usd_per_hour": PRICE_PER_HOUR,
         "source": "test table"},
        {"id": "default", "usd_per_hour": 99.0, "source": "test table"},
    ],
}


class Cgroup:
    """A cgroup v2 directory under the root of the cgroup2 mount (the ids
    the probes see); processes are started in it through a shell that moves
    itself there and then execs the command (so the pid is the command's)."""

    def __init__(self, name):
        mount = cgroup2_mount()
        if mount is None:
            raise AssertionError("no cgroup2 file system is mounted: the cost test needs it "
                                 "to run workloads in their own cgroups")
        self.name = name
        self.path = os.path.join(mount, name)
        os.makedirs(self.path, exist_ok=True)

    def wrap(self, cmd):
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.path] + cmd

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # its last processes are still exiting


def close(seen, want, rel=1e-6, what=""):
    check_true(abs(seen - want) <= rel * abs(want) + 1e-12,
               "%s: %.9g (within %g relative)" % (what, want, rel), "%.9g" % seen)


class CostEndToEnd(IntegrationCase):

    def make_cgroup(self, suffix):
        cg = Cgroup("infertrace-test-%d-%s" % (os.getpid(), suffix))
        self.addCleanup(cg.remove)
        return cg

    def curl_cmd(self, mock, reqs, host):
        return curl_cmd(self.tmp, mock, reqs, host=host, write_out=False)

    def test_per_request_process_and_workload_cost(self):
        test_gpu.build_fake()
        team, infer = self.make_cgroup("a"), self.make_cgroup("b")
        prices = os.path.join(self.tmp, "prices.json")
        with open(prices, "w") as f:
            json.dump(PRICES, f, indent=1)
        port = free_port()
        agent = self.start_agent(
            "--nvml-lib", "", "--no-default-prices", "--prices", prices, "--http-port", str(port),
            "--label", "workload=team-a:^/%s$" % team.name,
            "--label", "workload=inference:^/%s$" % infer.name,
            "--label", "team=ml:^/infertrace-test-", interval=1)
        mock = MockLLM(self.procs, self.tmp, mode="tls", cert=self.cert, key=self.key)

        # -- the inference server, in its own workload, holding 1 GiB from its
        # first request on
        truth = os.path.join(self.tmp, "truth-server.jsonl")
        env = dict(os.environ, LD_LIBRARY_PATH=test_gpu.FAKE, FAKECUDA_TRUTH=truth)
        srv = self.procs.spawn(infer.wrap([os.path.join(test_gpu.FAKE, "infer_server"),
                                           "--port=%d" % port, "--weights-bytes=1073741824"]),
                               env=env, stdout=subprocess.PIPE, text=True)
        json.loads(read_line(srv.stdout, 10, "infer_server's first line"))
        time.sleep(0.8)  # the agent attaches to the libcuda.so.1 it mapped

        # -- team-a calls the hosted APIs: 3 OpenAI requests (one streamed),
        # 1 Anthropic request with cache reads and writes
        oai = [chat("gpt-4o-mini", input=1000, output=200, cached=400),
               chat("gpt-4o-mini", input=3000, output=50, cached=0),
               chat("gpt-4o-mini", stream=True, usage=True, input=500, output=120, cached=256)]
        anth = [messages("claude-sonnet-4-5-20250929", input=50, cached=2000, cache_write=1000,
                         output=300)]
        pa, _, _ = run_client(self.procs, team.wrap(self.curl_cmd(mock, oai, "api.openai.com")),
                              what="curl (OpenAI)")
        pb, _, _ = run_client(self.procs, team.wrap(self.curl_cmd(mock, anth,
                                                                  "api.anthropic.com")),
                              what="curl (Anthropic)")
        want_api = sum((i - c) * GPT_MINI["input"] + c * GPT_MINI["cached"] + o * GPT_MINI["output"]
                       for i, o, c in ((1000, 200, 400), (3000, 50, 0), (500, 120, 256))) / 1e6
        want_api += (50 * SONNET["input"] + 2000 * SONNET["cached"] + 1000 * SONNET["write5m"]
                     + 300 * SONNET["output"]) / 1e6

        # -- and the self-hosted model: 6 requests, 50 ms of GPU time each
        client_pids = []
        for i in range(6):
            pid, _, _ = run_client(self.procs, team.wrap([
                require_tool("curl"), "-sS", "--max-time", "20", "-o", "/dev/null",
                "-H", "content-type: application/json", "-H", "x-gpu-ns: 50000000",
                "-H", "x-prompt-tokens: %d" % (100 * (i + 1)), "-H", "x-completion-tokens: 20",
                "-d", '{"model":"llama-3-8b","messages":[{"role":"user","content":"hi"}]}',
                "http://127.0.0.1:%d/v1/chat/completions" % port]), what="curl %d" % i)
            client_pids.append(pid)
        wait_for(lambda: len(agent.records("request", {"pid": srv.pid})) >= 6 or None, 15,
                 "the server's 6 request records", describe=lambda: summarize(
                     agent.records("request")))
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=20)
        time.sleep(2.5)  # the server's exit interval, and one more
        check_eq(agent.stop(), 0, "agent exit status")
        recs = agent.records()
        if os.environ.get("KEEP_RECORDS"):  # for the README's examples
            with open(os.environ["KEEP_RECORDS"], "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in recs)

        # -- API requests: each priced from its tokens
        api = [r for r in recs if r["type"] == "request" and r["pid"] in (pa, pb)]
        check_eq(len(api), 4, "request records of the API calls")
        for r in api:
            check_eq(r["price_source"], "table", "price_source of %s" % r["gen_ai.request.model"])
            check_eq(r["workload"], "team-a", "workload of the API client")
            check_eq(r["labels"].get("team"), "ml", "label from a rule")
            check_eq(r["BillingCurrency"], "USD", "currency")
        close(sum(r["ListCost"] for r in api), want_api, what="cost of the 4 API requests")
        keys = sorted(r["x_price_ref"]["key"] for r in api)
        check_eq(keys, ["test/claude-sonnet-4-5"] + ["test/gpt-4o-mini"] * 3, "price entries used")
        # the self-hosted model has no price: never a silent $0
        local = [r for r in recs if r["type"] == "request" and r["pid"] in client_pids]
        check_eq(len(local), 6, "client records of the self-hosted requests")
        check_true(all(r["price_source"] == "missing" and r["ListCost"] is None for r in local),
                   "self-hosted model: price_source missing, ListCost null",
                   summarize(local, 2))
        check_true(any(r["type"] == "agent" and r.get("requests_unpriced", 0) >= 6 for r in recs),
                   "the agent record counts the unpriced requests", "")

        # -- usage records: the API cost per process
        usage_api = sum(r.get("x_api_cost", 0) for r in recs
                        if r["type"] == "usage" and r["pid"] in (pa, pb))
        close(usage_api, want_api, what="x_api_cost of the clients' usage records")

        # -- cost records: per workload and SKU
        cost = [r for r in recs if r["type"] == "cost"]
        team_cost = sum(r["ListCost"] for r in cost if r["x_workload"] == "team-a")
        close(team_cost, want_api, what="team-a's cost records")
        for r in cost:
            check_eq(r["EffectiveCost"], r["ListCost"], "EffectiveCost (no discounts in the table)")
            close(r["ListCost"], r["PricingQuantity"] * r["ListUnitPrice"], 1e-6,
                  "ListCost = PricingQuantity x ListUnitPrice (%s)" % r["SkuMeter"])

        # -- conservation: every interval, the device's price is all accounted for
        by_period = {}
        for r in cost:
            if r["ResourceId"] == "cuda:0":
                by_period.setdefault((r["ChargePeriodStart"], r["ChargePeriodEnd"]), []).append(r)
        check_true(len(by_period) >= 2, "device cost rows in several intervals", len(by_period))
        for (start, end), rows in by_period.items():
            span = iso_seconds(end) - iso_seconds(start)
            close(sum(r["ListCost"] for r in rows), PRICE_PER_HOUR / 3600 * span, 1e-6,
                  "device cost of interval %s" % start)

        # -- the server's GPU time, priced, against the fake device's own record
        truth_busy = test_gpu.union_ns(test_gpu.Truth(truth).intervals(srv.pid)) / 1e9
        busy_cost = sum(r["ListCost"] for r in cost
                        if r["x_workload"] == "inference" and r["SkuMeter"] == "GPU hours")
        check_true(abs(busy_cost / (PRICE_PER_HOUR / 3600) - truth_busy) <= 0.05 * truth_busy,
                   "inference's GPU-hours cost = price x the device's busy time %.4f s (5%%)"
                   % truth_busy, "%.4f s" % (busy_cost / (PRICE_PER_HOUR / 3600)))
        # from its first request on it held its weights: the device's idle
        # time is its cost too
        srv_usage = [r for r in recs if r["type"] == "usage" and r["pid"] == srv.pid]
        srv_total = sum(r["x_gpu_cost"] + r["x_gpu_idle_cost"] for r in srv_usage)
        check_eq(max(r["gpu.mem_peak_bytes"] for r in srv_usage if "gpu.mem_peak_bytes" in r),
                 1 << 30, "the server's weights seen by the probes")
        check_true(sum(r["x_gpu_idle_cost"] for r in srv_usage) > 0,
                   "idle time of the device it holds memory on is the server's cost", srv_total)
        inference_cost = sum(r["ListCost"] for r in cost if r["x_workload"] == "inference")
        close(inference_cost, srv_total, 1e-6, "inference's cost records = its usage records")
        idle_bucket = sum(r["ListCost"] for r in cost if r["x_workload"] == "idle")
        close(inference_cost + idle_bucket,
              sum(PRICE_PER_HOUR / 3600 * (iso_seconds(e) - iso_seconds(s)) for s, e in by_period),
              1e-6, "inference + idle bucket = the device's price over the run")

        # -- served requests: the server's accelerator cost, shared out
        served = [r for r in recs if r["type"] == "request" and r["pid"] == srv.pid]
        check_eq(len(served), 6, "served request records")
        for r in served:
            check_eq(r["role"], "server", "role of the served request")
            check_eq(r["price_source"], "accelerator", "served requests are priced by the GPU")
            check_eq(r["workload"], "inference", "workload of the server")
            check_true(0.05 * 0.9 <= r["x_gpu_seconds"] <= 0.05 * 1.3,
                       "x_gpu_seconds about the request's 50 ms", r["x_gpu_seconds"])
            check_true(r["x_accelerator_cost"] >= r["x_gpu_seconds"] * PRICE_PER_HOUR / 3600 * (1 - 1e-9),
                       "x_accelerator_cost covers at least its busy time", r["x_accelerator_cost"])
        close(sum(r["x_gpu_seconds"] for r in served),
              sum(r["gpu.busy_seconds"] for r in srv_usage if "gpu.busy_seconds" in r), 1e-6,
              "the served requests' GPU seconds = the server's busy seconds")
        check_true(sum(r["x_accelerator_cost"] for r in served) <= srv_total * (1 + 1e-9),
                   "the requests never get more than the server's cost", srv_total)


def iso_seconds(s):
    """RFC 3339 with nanoseconds -> seconds since the epoch (float)."""
    import calendar
    date, frac = s.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


class PriceTables(IntegrationCase):
    """The shipped table prices real model names; a bad table is an error at
    start and is refused (the old one kept) on SIGHUP."""

    def openai_call(self, mock, model, **tokens):
        req = chat(model, **tokens)
        pid, _, _ = run_client(self.procs, CostEndToEnd.curl_cmd(self, mock, [req],
                                                                 "api.openai.com"), what="curl")
        return pid

    def wait_request(self, agent, pid):
        return wait_for(lambda: agent.records("request", {"pid": pid}) or None, 10,
                        "the request record of curl %d" % pid,
                        describe=lambda: summarize(agent.records("request")))[0]

    def test_default_table_prices_a_dated_model(self):
        """With the default table, gpt-4o-mini answered as its dated snapshot
        is priced at the table's figures (read here from the JSON file)."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "prices",
                               "default.json")) as f:
            table = json.load(f)
        agent = self.start_agent("--nvml-lib", "")
        mock = MockLLM(self.procs, self.tmp, mode="tls", cert=self.cert, key=self.key)
        pid = self.openai_call(mock, "gpt-4o-mini", input=2000, output=300, cached=1024,
                               response_model="gpt-4o-mini-2024-07-18")
        r = self.wait_request(agent, pid)
        check_eq(r["gen_ai.response.model"], "gpt-4o-mini-2024-07-18", "response model")
        check_eq(r["price_source"], "table", "price_source")
        entry = [m for m in table["models"] if m["id"] == r["x_price_ref"]["key"]]
        check_eq(len(entry), 1, "the entry named by x_price_ref in prices/default.json")
        e = entry[0]
        check_true("gpt-4o-mini" in e["id"], "a gpt-4o-mini entry", e["id"])
        cached = e.get("cache_read_per_mtok", e["input_per_mtok"])
        want = ((2000 - 1024) * e["input_per_mtok"] + 1024 * cached
                + 300 * e["output_per_mtok"]) / 1e6
        close(r["ListCost"], want, 1e-9, "ListCost from the default table's rates")
        check_eq(r["x_price_ref"]["version"], table["version"], "table version")

    def test_bad_table_at_start_is_an_error(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"version": "2026-11-27", "currency": "USD",\n "models": [\n'
                    '  {"id": "x", "provider": "openai", "match": {"exact": "m"},\n'
                    '   "input_per_mtoks": 1, "output_per_mtok": 2, "source": "t"}]}\n')
        from helpers import AGENT
        p = subprocess.run([AGENT, "agent", "--prices", bad, "-o", os.devnull],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        check_true(p.returncode != 0, "the agent refuses a bad price table", p.returncode)
        check_true("%s:4:" % bad in p.stderr and "input_per_mtoks" in p.stderr,
                   "the error names the file, line 4 and the misspelt key", p.stderr)

    def test_sighup_reloads_and_keeps_the_old_table_when_bad(self):
        table = os.path.join(self.tmp, "p.json")

        def write(price, broken=False):
            doc = json.loads(json.dumps(PRICES))
            doc["models"][0]["input_per_mtok"] = price
            text = json.dumps(doc, indent=1)
            with open(table, "w") as f:
                f.write(text[:-20] if broken else text)

        write(1.0)
        agent = self.start_agent("--nvml-lib", "", "--no-default-prices", "--prices", table)
        mock = MockLLM(self.procs, self.tmp, mode="tls", cert=self.cert, key=self.key)
        r = self.wait_request(agent, self.openai_call(mock, "gpt-4o-mini", input=1000000,
                                                      output=0, cached=0))
        close(r["ListCost"], 1.0, what="priced at $1/MTok")
        write(2.0, broken=True)
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(a.get("prices_reload_errors") == 1 for a in agent.records("agent"))
                 or None, 5, "the agent record counting the refused reload")
        check_true("keeping" in agent.stderr_text(), "the agent says it keeps the old table",
                   agent.stderr_text())
        r = self.wait_request(agent, self.openai_call(mock, "gpt-4o-mini", input=1000000,
                                                      output=0, cached=0))
        close(r["ListCost"], 1.0, what="still $1/MTok after the bad reload")
        write(2.0)
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(a.get("prices_reloads") == 1 for a in agent.records("agent"))
                 or None, 5, "the agent record counting the reload")
        r = self.wait_request(agent, self.openai_call(mock, "gpt-4o-mini", input=1000000,
                                                      output=0, cached=0))
        close(r["ListCost"], 2.0, what="$2/MTok after the good reload")


class PricesCommand(IntegrationCase):
    """`infertrace prices check|show` as an operator runs them."""

    def run_prices(self, *args):
        from helpers import AGENT
        return subprocess.run([AGENT, "prices"] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=30)

    def test_check_lists_every_problem_with_its_line(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"version": "27-11-2026", "currency": "USD",\n'
                    ' "models": [\n'
                    '  {"id": "a", "provider": "openai", "match": {"exact": "m"},\n'
                    '   "input_per_mtok": -1, "output_per_mtok": 2, "source": "s"},\n'
                    '  {"id": "b", "provider": "openai", "match": {"regex": "(["},\n'
                    '   "input_per_mtok": 1, "output_per_mtok": 2}\n'
                    ' ]}\n')
        p = self.run_prices("check", bad)
        check_eq(p.returncode, 1, "exit status of 'prices check' on a bad table")
        out = p.stdout + p.stderr
        for line, word in ((1, "version"), (4, "input_per_mtok"), (5, "regex"), (5, "source")):
            check_true(any(l.startswith("%s:%d:" % (bad, line)) and word in l
                           for l in out.splitlines()),
                       "a problem at line %d about %s" % (line, word), out)
        good = os.path.join(self.tmp, "good.json")
        with open(good, "w") as f:
            json.dump(PRICES, f)
        p = self.run_prices("check", good)
        check_eq(p.returncode, 0, "exit status of 'prices check' on a good table (%s)" % p.stdout)

    def test_show_resolves_like_the_agent(self):
        good = os.path.join(self.tmp, "good.json")
        with open(good, "w") as f:
            json.dump(PRICES, f)
        p = self.run_prices("show", "gpt-4o-mini-2024-07-18", "--provider", "openai",
                            "--prices", good, "--no-default", "-j")
        check_eq(p.returncode, 0, "exit status of 'prices show' (%s)" % p.stderr)
        shown = json.loads(p.stdout)
        text = json.dumps(shown)
        check_true("test/gpt-4o-mini" in text, "the gpt-4o-mini entry, not gpt-4o", text)
        p = self.run_prices("show", "no-such-model", "--prices", good, "--no-default")
        check_eq(p.returncode, 1, "exit status for a model without a price")

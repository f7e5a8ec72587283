"""Prometheus /metrics end to end, read by a real Prometheus server.

The agent runs with --metrics on a loopback port and a price table written
here; Debian's `prometheus` (installed once by the test set-up when missing)
scrapes it every second. A client in its own cgroup (workload
"metrics-test") calls the mock LLM API over TLS as api.openai.com and
api.anthropic.com with token counts the test chooses. The test then asks
Prometheus, through its HTTP API and PromQL, for the requests, tokens and
cost of that workload and compares them with the known figures (the mock's
log, the price table) and with the agent's own JSON lines; and checks that
every scrape worked (target up, no scrape error, nothing Prometheus dropped).
"""
import gzip
import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from helpers import (AGENT, IntegrationCase, check_eq, check_true, free_port, require_tool,
                     run_client, summarize, tail, wait_for)
from llmhelpers import MockLLM, chat, curl_cmd, messages
from test_cost import GPT_MINI, PRICES, SONNET, Cgroup

PROMETHEUS_PKG = "prometheus"
SCRAPE_INTERVAL = "1s"
PROM_START_TIMEOUT = 60    # prometheus: from exec to /-/ready (the first start makes its TSDB)
METRIC_TIMEOUT = 20        # a figure: from the client's end to Prometheus having it
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WORKLOAD = "metrics-test"
ODD_MODEL = 'tuned "q" \\ v2'   # a response model that needs escaping


def promql_string(s):
    """A PromQL string literal (Go's escapes)."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


# --------------------------------------------------------------------------
# Prometheus

_installed = []


def require_prometheus():
    """Debian's prometheus binary; the package is installed (apt-get, once per
    run, root) when missing, as tools/fetch-nvidia.sh fetches the NVIDIA
    libraries: the real server is the point of this test, so its absence is a
    failure that says how to fix it, never a skip."""
    path = shutil.which("prometheus")
    if path or _installed:
        if not path:
            raise AssertionError("prometheus is still missing after apt-get install %s"
                                 % PROMETHEUS_PKG)
        return path
    _installed.append(True)
    if os.geteuid() != 0:
        raise AssertionError("prometheus is missing: apt-get install %s (as root)" % PROMETHEUS_PKG)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", PROMETHEUS_PKG]
    res = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=900)
    if res.returncode != 0:
        # an old package list: refresh it and try once more
        subprocess.run(["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)
        res = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=900)
    path = shutil.which("prometheus")
    if res.returncode != 0 or not path:
        raise AssertionError("cannot install Debian's %s (apt-get exit %d):\n%s" % (
            PROMETHEUS_PKG, res.returncode, res.stderr.decode(errors="replace")[-2000:]))
    return path


def http_get(url, headers=None, method="GET", timeout=10):
    """(status, headers, body bytes) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Prometheus:
    """A prometheus server of our own: generated config scraping the agent,
    TSDB in a temporary directory, web API on a free loopback port."""

    def __init__(self, procs, workdir, target):
        exe = require_prometheus()
        self.port = free_port()
        self.dir = os.path.join(workdir, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "prometheus.yml")
        # JSON is YAML: no YAML writer needed
        with open(self.config, "w") as f:
            json.dump({
                "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                           "evaluation_interval": SCRAPE_INTERVAL},
                "scrape_configs": [{
                    "job_name": "infertrace",
                    "static_configs": [{"targets": [target]}],
                }],
            }, f, indent=1)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        cmd = [exe, "--config.file=" + self.config,
               "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
               "--web.listen-address=127.0.0.1:%d" % self.port,
               "--log.level=warn"]
        with open(self.log_path, "wb") as log:
            self.proc = procs.spawn(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited with status %d\ncommand: %s\nlog:\n%s"
                                     % (self.proc.returncode, " ".join(cmd), tail(self.log_path)))
            try:
                return http_get(self.base + "/-/ready", timeout=2)[0] == 200
            except OSError:
                return False

        wait_for(ready, PROM_START_TIMEOUT, "prometheus to be ready on %s" % self.base,
                 interval=0.2, describe=lambda: "prometheus log:\n" + tail(self.log_path))

    def api(self, path, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        status, _, body = http_get(url)
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise AssertionError("prometheus %s: HTTP %d %s" % (url, status, body[:500]))
        return doc["data"]

    def query(self, promql):
        """An instant query: {frozenset(labels.items()): value}."""
        data = self.api("/api/v1/query", query=promql)
        check_eq(data["resultType"], "vector", "result type of %s" % promql)
        return {frozenset(r["metric"].items()): float(r["value"][1]) for r in data["result"]}

    def scalar(self, promql):
        """The one value of a query whose result is one series; None without one."""
        res = self.query(promql)
        if len(res) > 1:
            raise AssertionError("%s: expected one series, seen %d: %s" % (promql, len(res), res))
        return next(iter(res.values())) if res else None

    def targets(self):
        return self.api("/api/v1/targets", state="active")["activeTargets"]

    def check_metrics_text(self, text, what):
        """promtool's own parser and linter on an exposition text."""
        promtool = shutil.which("promtool")
        if not promtool:
            raise AssertionError("promtool (package %s) is missing" % PROMETHEUS_PKG)
        res = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=30)
        if res.returncode != 0 or res.stdout.strip() or res.stderr.strip():
            raise AssertionError("promtool check metrics on %s: exit %d\n%s%s\ntext:\n%s" % (
                what, res.returncode, res.stdout.decode(errors="replace"),
                res.stderr.decode(errors="replace"), text[:4000]))

    def own_metrics(self):
        """Prometheus's own counters (its /metrics), by name for unlabelled lines."""
        _, _, body = http_get(self.base + "/metrics")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


def close(seen, want, rel=1e-9):
    return seen is not None and abs(seen - want) <= rel * abs(want) + 1e-12


# --------------------------------------------------------------------------
# The tests

class MetricsEndToEnd(IntegrationCase):

    @classmethod
    def setUpClass(cls):
        require_tool("node")
        require_tool("curl")
        # before the agent and the tests' time limits: the install may take minutes
        require_prometheus()
        super().setUpClass()

    def curl_cmd(self, mock, reqs, host):
        return curl_cmd(self.tmp, mock, reqs, host=host, write_out=False)

    def wait_value(self, prom, promql, want, what, rel=1e-9):
        """Poll Prometheus until promql has the value want (the agent writes
        records, then the next scrape takes them)."""
        seen = []

        def ok():
            v = prom.scalar(promql)
            seen[:] = [v]
            return close(v, want, rel)

        wait_for(ok, METRIC_TIMEOUT, "%s: Prometheus to answer %s = %r" % (what, promql, want),
                 interval=0.25, describe=lambda: "last answer: %r" % (seen[0] if seen else None))
        return seen[0]

    def test_prometheus_scrapes_known_traffic(self):
        cg = Cgroup("infertrace-test-%d-metrics" % os.getpid())
        self.addCleanup(cg.remove)
        prices = os.path.join(self.tmp, "prices.json")
        with open(prices, "w") as f:
            json.dump(PRICES, f, indent=1)
        mport = free_port()
        target = "127.0.0.1:%d" % mport
        agent = self.start_agent("--metrics", target, "--no-default-prices", "--prices", prices,
                                 "--label", "workload=%s:^/%s$" % (WORKLOAD, cg.name),
                                 interval=1)

        # -- the endpoint itself, before Prometheus: a failure here is the agent's
        status, headers, body = http_get("http://%s/metrics" % target)
        check_eq(status, 200, "GET /metrics status")
        check_eq(headers.get("Content-Type"), CONTENT_TYPE, "GET /metrics Content-Type")
        text = body.decode()
        for fam, typ in (("infertrace_requests_total", "counter"),
                         ("infertrace_tokens_total", "counter"),
                         ("infertrace_cost_usd_total", "counter"),
                         ("infertrace_agent_rss_bytes", "gauge")):
            check_true("\n# TYPE %s %s\n" % (fam, typ) in "\n" + text,
                       "TYPE line of %s in /metrics" % fam, text[:2000])
        status, headers, zbody = http_get("http://%s/metrics" % target,
                                          headers={"Accept-Encoding": "gzip"})
        check_eq(headers.get("Content-Encoding"), "gzip", "Content-Encoding when asked for gzip")
        check_true(gzip.decompress(zbody).startswith(b"# HELP "), "gzip body is the exposition")
        check_eq(http_get("http://%s/" % target)[0], 404, "GET / status")
        check_eq(http_get("http://%s/metrics" % target, method="POST")[0], 405,
                 "POST /metrics status")

        prom = Prometheus(self.procs, self.tmp, target)
        prom.check_metrics_text(text, "the agent's first /metrics")
        mock = MockLLM(self.procs, self.tmp, mode="tls", cert=self.cert, key=self.key)

        def target_up():
            ts = [t for t in prom.targets() if t["labels"].get("job") == "infertrace"]
            return ts if ts and ts[0]["health"] == "up" else None

        # Prometheus hands new targets to its scrapers every 5 s
        wait_for(target_up, METRIC_TIMEOUT + 10, "the infertrace target to be up in Prometheus",
                 interval=0.25, describe=lambda: json.dumps(prom.targets(), indent=1))

        # -- known traffic: 3 OpenAI calls (one streamed), 1 Anthropic call
        oai = [chat("gpt-4o-mini", input=1000, output=200, cached=400),
               chat("gpt-4o-mini", input=3000, output=50, cached=0),
               chat("gpt-4o-mini", stream=True, usage=True, input=500, output=120, cached=256)]
        anth = [messages("claude-sonnet-4-5-20250929", input=50, cached=2000, cache_write=1000,
                         output=300)]
        run_client(self.procs, cg.wrap(self.curl_cmd(mock, oai, "api.openai.com")),
                   what="curl (OpenAI)")
        run_client(self.procs, cg.wrap(self.curl_cmd(mock, anth, "api.anthropic.com")),
                   what="curl (Anthropic)")
        entries = [mock.entry(r) for r in oai + anth]
        # and one, from outside the workload, whose model name needs escaping in
        # a label value (quotes, a backslash): Prometheus must read it back
        odd = chat("gpt-4o-mini", input=7, output=3, response_model=ODD_MODEL)
        run_client(self.procs, self.curl_cmd(mock, [odd], "api.openai.com"),
                   what="curl (odd model)")
        check_eq(mock.entry(odd)["response_model"], ODD_MODEL, "the odd model in the mock's log")

        # the figures the test knows: tokens from the mock's log (normalised as
        # OpenTelemetry does), cost from the price table
        want_in, want_out, model_of = {}, {}, {}
        for e in entries:
            fam = e["family"]
            want_in[fam] = want_in.get(fam, 0) + e["otel"]["input_tokens"]
            want_out[fam] = want_out.get(fam, 0) + e["otel"]["output_tokens"]
            model_of[fam] = e["response_model"]  # the model label: what the response named
        check_eq(want_in, {"openai": 4500, "anthropic": 3050}, "input tokens in the mock's log")
        check_eq(want_out, {"openai": 370, "anthropic": 300}, "output tokens in the mock's log")
        want_cost = sum((i - c) * GPT_MINI["input"] + c * GPT_MINI["cached"]
                        + o * GPT_MINI["output"]
                        for i, o, c in ((1000, 200, 400), (3000, 50, 0), (500, 120, 256))) / 1e6
        want_cost += (50 * SONNET["input"] + 2000 * SONNET["cached"] + 1000 * SONNET["write5m"]
                      + 300 * SONNET["output"]) / 1e6

        # the agent's records of them (their absence is not a metrics problem)
        def client_records():
            recs = agent.records("request", {"workload": WORKLOAD})
            return recs if len(recs) == 4 else None

        recs = wait_for(client_records, METRIC_TIMEOUT, "the agent's 4 request records of %s"
                        % WORKLOAD, describe=lambda: summarize(agent.records("request")))
        check_eq(sorted((r["gen_ai.provider.name"], r["gen_ai.response.model"]) for r in recs),
                 sorted([("anthropic", model_of["anthropic"])]
                        + [("openai", model_of["openai"])] * 3),
                 "providers and response models of the request records")

        # -- what Prometheus has
        wl = 'workload="%s"' % WORKLOAD
        self.wait_value(prom, "sum(infertrace_requests_total{%s})" % wl, 4, "requests")
        self.wait_value(prom, 'sum(infertrace_requests_total{%s,provider="openai"})' % wl, 3,
                        "OpenAI requests")
        for prov, model in model_of.items():
            self.wait_value(prom, 'sum by (model) (infertrace_tokens_total{%s,model="%s",'
                                  'type="input"})' % (wl, model), want_in[prov],
                            "input tokens of %s" % model)
            self.wait_value(prom, 'sum by (model) (infertrace_tokens_total{%s,model="%s",'
                                  'type="output"})' % (wl, model), want_out[prov],
                            "output tokens of %s" % model)
        by_model = prom.query('sum by (model) (infertrace_tokens_total{%s,type="input"})' % wl)
        check_eq({dict(k)["model"]: v for k, v in by_model.items()},
                 {model_of[p]: float(want_in[p]) for p in model_of},
                 "sum by (model) of the input tokens")
        self.wait_value(prom, 'sum(infertrace_tokens_total{%s,type="cache_read"})' % wl,
                        400 + 256 + 2000, "cache reads")
        # cost rows come at the end of the interval the requests finished in
        self.wait_value(prom, "sum(infertrace_cost_usd_total{%s})" % wl, want_cost, "cost",
                        rel=1e-6)
        agent_cost = sum(r["ListCost"] for r in agent.records("cost")
                         if r.get("x_workload") == WORKLOAD)
        check_true(close(prom.scalar("sum(infertrace_cost_usd_total{%s})" % wl), agent_cost, 1e-9),
                   "Prometheus's cost = the sum of the agent's cost records %.12g" % agent_cost,
                   prom.scalar("sum(infertrace_cost_usd_total{%s})" % wl))

        # every request of every workload and side, as the JSON lines say
        def all_requests():
            n = len([r for r in agent.records("request") if "gen_ai.provider.name" in r])
            v = prom.scalar("sum(infertrace_requests_total)")
            return v is not None and v == n

        wait_for(all_requests, METRIC_TIMEOUT,
                 "sum(infertrace_requests_total) = the agent's request records", interval=0.25,
                 describe=lambda: "Prometheus: %r, records: %d" % (
                     prom.scalar("sum(infertrace_requests_total)"),
                     len(agent.records("request"))))
        self.wait_value(prom, 'sum(infertrace_tokens_total{model=%s,role="client",type="input"})'
                        % promql_string(ODD_MODEL), 7,
                        "input tokens of a model named %r" % ODD_MODEL)
        check_true((prom.scalar("infertrace_agent_rss_bytes") or 0) > 1e6,
                   "infertrace_agent_rss_bytes from the agent's interval record",
                   prom.scalar("infertrace_agent_rss_bytes"))

        # -- the scrapes themselves
        check_eq(prom.scalar('up{job="infertrace"}'), 1.0, 'up{job="infertrace"}')
        check_true((prom.scalar('scrape_samples_scraped{job="infertrace"}') or 0) > 10,
                   "samples per scrape", prom.scalar('scrape_samples_scraped{job="infertrace"}'))
        ts = target_up()
        check_true(ts is not None, "the target is still up", prom.targets())
        check_eq(ts[0]["lastError"], "", "the last scrape's error")
        check_eq(ts[0]["scrapeUrl"], "http://%s/metrics" % target, "scrape URL")
        own = prom.own_metrics()
        for name in ("prometheus_target_scrapes_sample_duplicate_timestamp_total",
                     "prometheus_target_scrapes_sample_out_of_order_total",
                     "prometheus_target_scrapes_sample_out_of_bounds_total",
                     "prometheus_target_scrapes_exceeded_sample_limit_total"):
            check_eq(own.get(name), 0.0, "Prometheus's %s" % name)
        # the text as it is now, every family with samples, through promtool too
        status, _, body = http_get("http://%s/metrics" % target)
        check_eq(status, 200, "GET /metrics status at the end")
        check_true(ODD_MODEL.replace("\\", "\\\\").replace('"', '\\"') in body.decode(),
                   "the odd model, escaped, in /metrics", body.decode()[:3000])
        prom.check_metrics_text(body.decode(), "the agent's /metrics after the traffic")
        agent.check_running()
        check_eq(agent.stop(), 0, "agent exit status")

    def test_port_in_use(self):
        """--metrics on a port another program listens on: the agent says so
        and exits non-zero."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            addr = "127.0.0.1:%d" % s.getsockname()[1]
            proc = self.procs.spawn([AGENT, "agent", "-o", os.path.join(self.tmp, "out.jsonl"),
                                     "--metrics", addr],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError("the agent kept running with --metrics %s in use" % addr)
        err = err.decode(errors="replace")
        check_true(proc.returncode != 0, "exit status of the agent (non-zero)", proc.returncode)
        check_true(addr in err and "Address already in use" in err,
                   "the agent's message names %s and the error" % addr, err)

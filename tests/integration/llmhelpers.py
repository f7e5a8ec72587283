"""Machinery for the request-record tests (test_requests_*.py), on top of
helpers.py: the mock LLM API server (tools/mockllm/server.js) and its log,
clients (curl HTTP/1.1 and HTTP/2, python http.client/urllib, node fetch),
and the comparison of the agent's `request` records with the server's log.

The mock server's log is the ground truth: one JSON line per exchange with
the usage numbers it put in the body (raw and normalised the OpenTelemetry
way), the body sizes on the wire and decoded, the stream events it wrote, the
client port and the timing. Each request carries a unique x-mock-id header
to find its log line, and an Authorization/x-api-key secret that must never
appear in the agent's output.
"""
import json
import os
import subprocess
import time

from helpers import (PYTHON, ROOT, SERVER_TIMEOUT, IntegrationCase, cgroup_id_of,
                     check_eq, comm_of, free_port, own_cgroup_id, parse_time_ns, read_line,
                     require_tool, summarize, tail, unique_token, wait_for)

MOCKLLM_DIR = os.path.join(ROOT, "tools", "mockllm")
MOCK_SERVER = os.path.join(MOCKLLM_DIR, "server.js")
MOCK_PYCLIENT = os.path.join(MOCKLLM_DIR, "pyclient.py")
MOCK_FETCH = os.path.join(MOCKLLM_DIR, "fetch_client.js")

# A request record must be in the agent's output this soon after the client
# saw the end of the response (the spec says 1 s; the wait is a bit longer so
# that a late record fails on the freshness check, which says by how much).
REQUEST_TIMEOUT = 2.0
FRESHNESS_S = 1.0
# Clock tolerance between the agent (kernel monotonic -> wall) and the test
# processes (wall clock, node's in milliseconds).
CLOCK_SLACK_S = 0.05

REQUEST_KEYS = (
    "type", "time", "schema_version", "pid", "comm", "cgroup_id", "role",
    "client.address", "client.port", "server.address", "server.port",
    "network.peer.address", "tls.library", "network.protocol.name",
    "network.protocol.version", "http.request.method", "url.path",
    "http.response.status_code", "gen_ai.provider.name", "gen_ai.operation.name",
    "gen_ai.request.model", "gen_ai.request.stream", "usage_source", "start_time",
    "end_time", "duration_s", "time_to_first_token_s", "stream_events",
    "http.request.body.size", "http.response.body.size", "request_body_decoded_bytes",
    "response_body_decoded_bytes", "http.response.content_encoding", "outcome", "truncated")

# Host names that make the agent name the real provider (the TCP connection
# still goes to the mock on 127.0.0.1: curl --connect-to, or a Host header).
HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gcp.gemini": "generativelanguage.googleapis.com",
    "aws.bedrock": "bedrock-runtime.us-east-1.amazonaws.com",
    "azure.ai.openai": "x.openai.azure.com",
}
PROVIDER_OF_HOST = {v: k for k, v in HOSTS.items()}

# Provider names on a host that is not the provider's (127.0.0.1): the API's
# "_compatible" form, except Ollama, whose API names itself.
COMPATIBLE = {"openai": "openai_compatible", "anthropic": "anthropic_compatible",
              "ollama": "ollama"}

TOKEN_FIELDS = (
    ("gen_ai.usage.input_tokens", "input_tokens"),
    ("gen_ai.usage.output_tokens", "output_tokens"),
    ("gen_ai.usage.cache_read.input_tokens", "cache_read_input_tokens"),
    ("gen_ai.usage.cache_creation.input_tokens", "cache_creation_input_tokens"),
    ("gen_ai.usage.reasoning.output_tokens", "reasoning_output_tokens"),
    ("x_provider_input_tokens", "raw_input_tokens"),
    ("x_provider_output_tokens", "raw_output_tokens"),
)

MOCK_HEADERS = {
    "input": "x-mock-input-tokens", "output": "x-mock-output-tokens",
    "cached": "x-mock-cached-tokens", "cache_write": "x-mock-cache-write-tokens",
    "reasoning": "x-mock-reasoning-tokens", "delay_ms": "x-mock-delay-ms",
    "gap_ms": "x-mock-event-gap-ms", "chunks": "x-mock-chunks",
    "encoding": "x-mock-encoding", "status": "x-mock-status", "cut": "x-mock-cut",
    "response_model": "x-mock-response-model", "headers_first": "x-mock-headers-first",
}


# --------------------------------------------------------------------------
# Requests

class LLMRequest:
    """One request to the mock: path, JSON body, headers (x-mock-* included)."""

    def __init__(self, path, body, headers=None, **mock):
        self.id = unique_token()
        self.secret = "sk-mock-" + unique_token() + unique_token()
        self.path = path
        self.body = body if isinstance(body, str) else json.dumps(body)
        self.headers = {"content-type": "application/json", "x-mock-id": self.id,
                        "user-agent": "infertrace-test/1"}
        if path.startswith("/v1/messages"):
            self.headers["x-api-key"] = self.secret
            self.headers["anthropic-version"] = "2023-06-01"
        elif path.startswith("/openai/deployments/"):
            self.headers["api-key"] = self.secret
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            self.headers["x-goog-api-key"] = self.secret
        else:
            self.headers["authorization"] = "Bearer " + self.secret
        for k, v in mock.items():
            if k not in MOCK_HEADERS:
                raise TypeError("unknown mock option %r (one of %s)" % (k, ", ".join(MOCK_HEADERS)))
            if v is not None:
                self.headers[MOCK_HEADERS[k]] = str(v)
        self.headers.update(headers or {})
        self.delay_ms = int(mock.get("delay_ms") or 0)

    @property
    def url_path(self):
        return self.path.split("?", 1)[0]

    def spec(self, host=None):
        h = dict(self.headers)
        if host:
            h["Host"] = host
        return {"method": "POST", "path": self.path, "headers": h, "body": self.body}


def chat(model="gpt-4o-mini", stream=False, usage=None, **mock):
    """OpenAI chat completions request; usage=True adds stream_options.include_usage."""
    body = {"model": model, "messages": [{"role": "system", "content": "You are terse."},
                                         {"role": "user", "content": "Say hello " + unique_token()}]}
    if stream:
        body["stream"] = True
        if usage:
            body["stream_options"] = {"include_usage": True}
    return LLMRequest("/v1/chat/completions", body, **mock)


def messages(model="claude-sonnet-4-20250514", stream=False, **mock):
    body = {"model": model, "max_tokens": 1024,
            "system": [{"type": "text", "text": "You are terse.",
                        "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Say hello " + unique_token()}]}
    if stream:
        body["stream"] = True
    return LLMRequest("/v1/messages", body, **mock)


# --------------------------------------------------------------------------
# The mock server

class MockLLM:
    """tools/mockllm/server.js in TLS (HTTP/1.1 + h2) or plain mode, and its log."""

    def __init__(self, procs, workdir, mode="tls", cert=None, key=None, port=0):
        node = require_tool("node")
        self.mode = mode
        self.log_path = os.path.join(workdir, "mockllm-%s.jsonl" % unique_token())
        open(self.log_path, "w").close()
        self.err_path = self.log_path[:-len(".jsonl")] + ".stderr"
        cmd = [node, MOCK_SERVER, "--port", str(port), "--log", self.log_path]
        cmd += ["--plain"] if mode == "plain" else ["--tls", "--cert", cert, "--key", key]
        with open(self.err_path, "wb") as err:
            self.proc = procs.spawn(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            ready = json.loads(read_line(self.proc.stdout, SERVER_TIMEOUT,
                                         "the mock LLM server (%s) to listen" % mode))
        except (AssertionError, ValueError) as e:
            self.proc.kill()
            raise AssertionError("%s\nmock server stderr:\n%s" % (e, tail(self.err_path)))
        self.port = ready["port"]
        self.pid = ready["pid"]
        check_eq(self.pid, self.proc.pid, "mock server pid (its own report vs. Popen)")
        self.comm = comm_of(node)
        self.cgroup_id = cgroup_id_of(self.pid)

    @property
    def scheme(self):
        return "http" if self.mode == "plain" else "https"

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def check_running(self):
        if self.proc.poll() is not None:
            raise AssertionError("the mock LLM server exited (%s)\nstderr:\n%s"
                                 % (self.proc.returncode, tail(self.err_path)))

    def entries(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def entry(self, req, timeout=10):
        """The log line of req (by its x-mock-id); fails on a server-side error."""
        def find():
            found = [e for e in self.entries() if e.get("id") == req.id]
            return found[0] if found else None
        e = wait_for(find, timeout, "the mock server's log entry for request %s (%s)"
                     % (req.id, req.path),
                     describe=lambda: "mock log:\n%s\nmock stderr:\n%s" % (
                         summarize(self.entries(), 5), tail(self.err_path, 10)))
        if "error" in e:
            raise AssertionError("the mock server failed on %s: %s\nstderr:\n%s"
                                 % (req.path, e["error"], tail(self.err_path, 10)))
        return e


# --------------------------------------------------------------------------
# Clients. Each returns (pid, t_done, per-request results); t_done is the
# wall time the client was seen done (curl: its exit; others print it).

CURL_FMT = ('{"http_code":%{http_code},"http_version":"%{http_version}",'
            '"local_port":%{local_port},"size_download":%{size_download},'
            '"size_upload":%{size_upload},"num_connects":%{num_connects}}\n')


def run_proc(procs, cmd, what, ok_codes=(0,), env=None, timeout=30):
    proc = procs.spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("%s did not finish within %ds\ncommand: %s\nstderr:\n%s" % (
            what, timeout, " ".join(cmd), err.decode(errors="replace")[-2000:]))
    t_done = time.time()
    if proc.returncode not in ok_codes:
        raise AssertionError("%s exited with status %d (expected %s)\ncommand: %s\nstdout:\n%s\n"
                             "stderr:\n%s" % (what, proc.returncode, ok_codes, " ".join(cmd),
                                              out.decode(errors="replace")[-2000:],
                                              err.decode(errors="replace")[-2000:]))
    return proc.pid, t_done, out.decode(errors="replace"), proc.returncode


def curl_cmd(tmpdir, server, reqs, http="1.1", host=None, exe=None, write_out=True):
    """The command line of one curl for all reqs (joined with --next: the
    connection is reused). http: "1.1" or "2" (TLS only). host: a provider
    host name; curl then connects to the mock with --connect-to, and sends
    Host/:authority host. Bodies go through files in tmpdir."""
    cmd = [exe or require_tool("curl")]
    for n, r in enumerate(reqs):
        bodyfile = os.path.join(tmpdir, "body-%s.json" % r.id)
        with open(bodyfile, "w") as f:
            f.write(r.body)
        if n:
            cmd.append("--next")
        cmd += ["-sS", "-k", "--max-time", "20", "-o", "/dev/null"]
        if write_out:
            cmd += ["-w", CURL_FMT]
        cmd += ["-X", "POST", "--data-binary", "@" + bodyfile,
                "--http1.1" if http == "1.1" else "--http2"]
        for k, v in r.headers.items():
            cmd += ["-H", "%s: %s" % (k, v)]
        if host:
            cmd += ["--connect-to", "%s:443:127.0.0.1:%d" % (host, server.port),
                    "https://%s%s" % (host, r.path)]
        else:
            cmd.append(server.base + r.path)
    return cmd


def curl(case, server, reqs, http="1.1", host=None, ok_codes=(0,)):
    """Run curl_cmd for reqs; returns (pid, t_done, curl's -w reports)."""
    cmd = curl_cmd(case.tmp, server, reqs, http, host)
    pid, t_done, out, rc = run_proc(case.procs, cmd, "curl", ok_codes)
    wouts = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return pid, t_done, wouts


def pyclient(case, server, reqs, mode="keepalive", host=None):
    spec = {"base": server.base, "mode": mode, "requests": [r.spec(host) for r in reqs]}
    path = os.path.join(case.tmp, "pyspec-%s.json" % unique_token())
    with open(path, "w") as f:
        json.dump(spec, f)
    pid, t_done, out, _ = run_proc(case.procs, [PYTHON, MOCK_PYCLIENT, path], "pyclient.py")
    res = [json.loads(line) for line in out.splitlines()]
    return pid, (res[-1]["t_end"] if res else t_done), res


def fetch(case, server, reqs):
    node = require_tool("node")
    spec = {"base": server.base, "requests": [r.spec() for r in reqs]}
    path = os.path.join(case.tmp, "fetchspec-%s.json" % unique_token())
    with open(path, "w") as f:
        json.dump(spec, f)
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=case.cert, NODE_NO_WARNINGS="1")
    pid, t_done, out, _ = run_proc(case.procs, [node, MOCK_FETCH, path], "fetch_client.js", env=env)
    res = [json.loads(line) for line in out.splitlines()]
    return pid, (res[-1]["t_end"] if res else t_done), res


# --------------------------------------------------------------------------
# Finding and checking request records

class OneOf:
    """An expected value that may be any of a few (where the spec leaves room)."""

    def __init__(self, *values):
        self.values = values

    def __repr__(self):
        return "one of " + ", ".join(repr(v) for v in self.values)

    def matches(self, seen):
        return any(_same(seen, v) for v in self.values)


MISSING = "<missing>"


def _same(seen, expected):
    if isinstance(expected, OneOf):
        return expected.matches(seen)
    if expected is None:  # unknown: absent or null
        return seen is None or seen is MISSING
    if isinstance(expected, bool) or isinstance(seen, bool):
        return type(seen) is type(expected) and seen == expected
    return seen == expected


def diff_fields(record, expected):
    """[(key, expected, seen)] for every key whose value is not as expected."""
    bad = []
    for k, v in expected.items():
        seen = record.get(k, MISSING) if k in record else MISSING
        if not _same(seen, v):
            bad.append((k, v, seen))
    return bad


def fail_table(what, bad, record, notes=()):
    width = max([len(k) for k, _, _ in bad] + [10])
    rows = ["  %-*s  expected %-28r seen %r" % (width, k, v, s) for k, v, s in bad]
    raise AssertionError("%s: %d check(s) failed\n%s%s\n  record: %s" % (
        what, len(bad), "\n".join(rows), "".join("\n  note: " + n for n in notes),
        json.dumps(record, sort_keys=True)))


def expected_provider(entry, host):
    fam = entry["family"]
    if host:
        return PROVIDER_OF_HOST[host]
    if fam in COMPATIBLE:
        return COMPATIBLE[fam]
    raise AssertionError("test bug: the %s API needs a provider Host (127.0.0.1 gives no "
                         "provider name the spec defines)" % fam)


# gen_ai.operation.name the agent must give for each API, as the mock names
# them (OpenTelemetry's well-known values). Bedrock InvokeModel carries the
# model's own body: the spec does not say, any non-empty name is accepted.
def expected_operation(entry):
    op = entry["operation"]
    if op == "invoke":
        return OneOf("chat", "text_completion", "generate_content", "invoke_model", "invoke")
    return op


def iso(t):
    """Wall-clock seconds as the agent writes times (to milliseconds here)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class RequestChecker:
    """Waits for and checks the request records of one agent."""

    def __init__(self, agent):
        self.agent = agent

    def describe(self, pid):
        a = self.agent
        reqs = a.records("request")
        mine = [r for r in reqs if r.get("pid") == pid]
        conns = a.records("connection", {"pid": pid})
        return ("request records of pid %d:\n%s\nall request records so far: %d\n"
                "connection records of pid %d:\n%s\n%s" % (
                    pid, summarize(mine, 8), len(reqs), pid, summarize(conns, 5), a.describe()))

    def wait(self, pid, n, role=None, client_port=None, what=None, timeout=REQUEST_TIMEOUT):
        """The n request records of pid (and role, client_port), in output order."""
        where = {"pid": pid}
        if role:
            where["role"] = role
        if client_port is not None:
            where["client.port"] = client_port
        what = what or "%d request record(s) of pid %d%s%s" % (
            n, pid, " role %s" % role if role else "",
            " client.port %s" % client_port if client_port is not None else "")

        def got():
            recs = self.agent.records("request", where)
            return recs if len(recs) >= n else None
        recs = wait_for(got, timeout, what, describe=lambda: self.describe(pid))
        if len(recs) != n:
            raise AssertionError("%s: expected exactly %d, seen %d:\n%s"
                                 % (what, n, len(recs), summarize(recs)))
        return recs

    def check_no_secret(self, reqs):
        with open(self.agent.out_path, errors="replace") as f:
            text = f.read()
        for r in reqs:
            if r.secret in text:
                raise AssertionError("the agent's output contains the API key sent in request %s "
                                     "(%s...): secrets must never be emitted" % (r.path, r.secret[:12]))

    def check(self, rec, entry, req, *, pid, comm, role, host=None, tls="openssl",
              cgroup_id=None, server_port=None, t_done=None, outcome="ok", what=None):
        """Compare one request record with the mock's log entry of the same
        exchange. outcome: "ok", "http_error", or "cut" (only what is known
        before the cut is compared, plus a not-ok mark)."""
        what = what or "request record (%s pid %d, %s, HTTP/%s)" % (role, pid, req.path,
                                                                    entry["http_version"])
        provider = expected_provider(entry, host)
        exp = {
            "type": "request", "schema_version": 1, "pid": pid, "comm": comm, "role": role,
            "client.address": "127.0.0.1", "client.port": entry["client_port"],
            "server.address": host or "127.0.0.1",
            "server.port": server_port,  # from the socket (docs/schema.md), Host or not
            "network.peer.address": "127.0.0.1",
            "tls.library": tls,
            "network.protocol.name": "http", "network.protocol.version": entry["http_version"],
            "http.request.method": "POST", "url.path": req.url_path,
            "gen_ai.provider.name": provider,
            "gen_ai.operation.name": expected_operation(entry),
            "gen_ai.request.model": entry["model"],
            "gen_ai.request.stream": entry["request_stream"],
            "http.request.body.size": entry["request_body_bytes"],
            "request_body_decoded_bytes": entry["request_body_bytes"],
        }
        if cgroup_id is not None:
            exp["cgroup_id"] = cgroup_id
        notes = []
        missing = [(k, "present", MISSING) for k in REQUEST_KEYS if k not in rec]
        if outcome == "cut":
            # docs/schema.md: a connection closed or a stream reset before the
            # response ended is "incomplete"; sizes stay exact; the usage is
            # estimated, a side the provider did report keeping its number
            # (Anthropic's input, from message_start, before the cut).
            exp.update({
                "http.response.status_code": entry["status"],
                "outcome": "incomplete",
                "usage_source": "estimated",
                "http.response.body.size": entry["response_body_bytes"],
                "http.response.content_encoding": entry["content_encoding"],
                "stream_events": entry["stream_events"] if entry["stream"] else OneOf(0, None),
                "x_provider_output_tokens": None,
            })
            estimates = ["gen_ai.usage.output_tokens"]
            if entry["family"] == "anthropic" and entry["stream"]:
                o = entry["otel"]
                exp.update({"gen_ai.usage.input_tokens": o["input_tokens"],
                            "x_provider_input_tokens": o["raw_input_tokens"],
                            "gen_ai.usage.cache_read.input_tokens": o["cache_read_input_tokens"],
                            "gen_ai.usage.cache_creation.input_tokens":
                                o["cache_creation_input_tokens"]})
            else:
                exp["x_provider_input_tokens"] = None
                estimates.append("gen_ai.usage.input_tokens")
            bad = missing + diff_fields(rec, exp)
            for k in estimates:
                v = rec.get(k)
                if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
                    bad.append((k, "an estimate > 0", v if k in rec else MISSING))
            bad += self.check_times(rec, entry, req, t_done)
            bad += self.check_order(rec, entry, pid)
            if bad:
                fail_table(what + " [cut mid-response]", bad, rec, notes)
            return rec

        exp.update({
            "http.response.status_code": entry["status"],
            "gen_ai.response.model": entry["response_model"],
            "http.response.body.size": entry["response_body_bytes"],
            "response_body_decoded_bytes": entry["response_body_decoded_bytes"],
            "http.response.content_encoding": entry["content_encoding"],
            "truncated": False,
        })
        if outcome == "http_error":
            exp["outcome"] = "http_error"
            # docs/schema.md: the provider's error type or code, else the status.
            status = str(entry["status"])
            if entry["family"] == "bedrock":
                # the type is only in the x-amzn-errortype header, which the
                # agent does not read: the status (or that type) then
                cands = [status, entry["error_type"]]
            elif entry["family"] == "ollama":
                cands = [status]  # {"error": "message"} names no type
            else:
                cands = [str(v) for v in (entry["error_type"], entry["error_code"])
                         if v is not None] or [status]
            exp["error.type"] = OneOf(*cands) if len(cands) > 1 else cands[0]
            exp["usage_source"] = "missing"
            for k, _ in TOKEN_FIELDS:
                exp[k] = None
            exp["stream_events"] = OneOf(0, None)
        else:
            exp["outcome"] = "ok"
            exp["error.type"] = None  # absent or null
            otel = entry["otel"]
            if entry["usage"] is None:  # the provider sent no usage: estimated
                exp["usage_source"] = "estimated"
                exp["x_provider_input_tokens"] = None
                exp["x_provider_output_tokens"] = None
            else:
                exp["usage_source"] = "provider"
                for k, o in TOKEN_FIELDS:
                    exp[k] = otel[o]
            exp["stream_events"] = entry["stream_events"] if entry["stream"] else OneOf(0, None)
        bad = missing + diff_fields(rec, exp)
        if exp.get("usage_source") == "estimated":
            for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
                v = rec.get(k)
                if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
                    bad.append((k, "an estimate > 0", v if k in rec else MISSING))
        bad += self.check_times(rec, entry, req, t_done)
        bad += self.check_order(rec, entry, pid)
        if bad:
            fail_table(what, bad, rec, notes)
        return rec

    def check_order(self, rec, entry, pid):
        """docs/schema.md: a request record comes before the record of its
        connection (when that one is written already), except a served one
        (role server), which waits for its share of the accelerator time."""
        if rec.get("role") == "server":
            return []
        allrecs = self.agent.records()
        ri = [i for i, r in enumerate(allrecs) if r is rec]
        ci = [i for i, r in enumerate(allrecs) if r.get("type") == "connection"
              and r.get("pid") == pid and r.get("client.port") == entry["client_port"]]
        if ri and ci and ci[0] < ri[0]:
            return [("(order)", "request record before its connection record",
                     "connection record at line %d, request record at line %d"
                     % (ci[0] + 1, ri[0] + 1))]
        return []

    def check_times(self, rec, entry, req, t_done):
        """start/end/duration/TTFT consistency, the configured delay, and the
        record's freshness (its time vs. the client's completion)."""
        bad = []
        try:
            start = parse_time_ns(rec.get("start_time"), "start_time") / 1e9
            end = parse_time_ns(rec.get("end_time"), "end_time") / 1e9
            made = parse_time_ns(rec.get("time"), "time") / 1e9
        except AssertionError as e:
            return [("times", "RFC 3339 with nanoseconds", str(e))]
        dur = rec.get("duration_s")
        ttft = rec.get("time_to_first_token_s")
        delay = req.delay_ms / 1000.0
        if not isinstance(dur, (int, float)) or isinstance(dur, bool):
            bad.append(("duration_s", "a number", dur))
            return bad
        if abs(dur - (end - start)) > 0.001:
            bad.append(("duration_s", "end_time - start_time = %.6f" % (end - start), dur))
        if dur < delay:
            bad.append(("duration_s", ">= x-mock-delay-ms %.3f" % delay, dur))
        if entry["stream"]:
            if not isinstance(ttft, (int, float)) or isinstance(ttft, bool):
                bad.append(("time_to_first_token_s", "a number (streamed)", ttft))
            elif not (delay <= ttft <= dur + 0.0005):
                bad.append(("time_to_first_token_s", "in [delay %.3f, duration %.6f]" % (delay, dur),
                            ttft))
        elif ttft is not None:
            bad.append(("time_to_first_token_s", "null (not streamed)", ttft))
        if start > entry["t_request"] + CLOCK_SLACK_S:
            bad.append(("start_time", "<= the server's receipt of the request %s" % iso(entry["t_request"]),
                        rec.get("start_time")))
        if start < entry["t_request"] - 5:
            bad.append(("start_time", "within 5 s before the server's receipt %s" % iso(entry["t_request"]),
                        rec.get("start_time")))
        if entry["t_first_content"] is not None and end < entry["t_first_content"] - CLOCK_SLACK_S:
            bad.append(("end_time", ">= when the server wrote the first content event %s "
                        "(end_time is the last response byte)" % iso(entry["t_first_content"]),
                        rec.get("end_time")))
        last = max(entry["t_end"], t_done or 0)
        if end > last + CLOCK_SLACK_S:
            bad.append(("end_time", "<= the exchange's end %s" % iso(last), rec.get("end_time")))
        if made + CLOCK_SLACK_S < end:
            bad.append(("time", ">= end_time", rec.get("time")))
        if t_done is not None and made - t_done > FRESHNESS_S:
            bad.append(("time", "<= %.1f s after the client's completion (%s)" % (FRESHNESS_S, iso(t_done)),
                        "%s (%.3f s after)" % (rec.get("time"), made - t_done)))
        return bad


class LLMCase(IntegrationCase):
    """One agent and one mock server per class (TLS, or plain with the
    agent's --http-port set to the server's port)."""
    SHARED_AGENT_ARGS = []
    MOCK_MODE = "tls"

    @classmethod
    def setUpClass(cls):
        require_tool("node")
        require_tool("curl")
        if cls.MOCK_MODE == "plain":
            cls.plain_port = free_port()
            cls.SHARED_AGENT_ARGS = ["--http-port", str(cls.plain_port)]
        super().setUpClass()
        cls.server = MockLLM(cls.class_procs, cls.class_dir, cls.MOCK_MODE, cls.cert, cls.key,
                             port=cls.plain_port if cls.MOCK_MODE == "plain" else 0)
        cls.rc = RequestChecker(cls.agent)
        cls.own_cgroup = own_cgroup_id()
        cls.curl_comm = comm_of(require_tool("curl"))
        cls.python_comm = comm_of(PYTHON)
        cls.node_comm = comm_of(require_tool("node"))

    def setUp(self):
        super().setUp()
        self.server.check_running()

    @property
    def tls(self):
        return None if self.MOCK_MODE == "plain" else "openssl"

    def expect_client(self, req, pid, comm, *, host=None, t_done=None, outcome="ok", rec=None,
                      what=None):
        """Wait for the client's one record of req and check it."""
        entry = self.server.entry(req)
        if rec is None:
            rec = self.rc.wait(pid, 1, role="client", client_port=entry["client_port"],
                               what=what)[0]
        self.rc.check(rec, entry, req, pid=pid, comm=comm, role="client", host=host, tls=self.tls,
                      cgroup_id=self.own_cgroup, server_port=self.server.port, t_done=t_done,
                      outcome=outcome, what=what)
        self.rc.check_no_secret([req])
        return rec

    def expect_clients(self, reqs, pid, comm, t_dones, *, host=None, outcomes=None):
        """Several exchanges of one client process, possibly sharing
        connections (keep-alive): per connection (client port, from the mock's
        log), exactly one record per exchange, in the order they were made."""
        outcomes = outcomes or ["ok"] * len(reqs)
        by_port = {}
        for n, req in enumerate(reqs):
            by_port.setdefault(self.server.entry(req)["client_port"], []).append(n)
        for port, idx in by_port.items():
            recs = self.rc.wait(pid, len(idx), role="client", client_port=port)
            for rec, n in zip(recs, idx):
                self.expect_client(reqs[n], pid, comm, host=host, t_done=t_dones[n], rec=rec,
                                   outcome=outcomes[n],
                                   what="record #%d of %d (%s, client port %d)"
                                        % (n + 1, len(reqs), reqs[n].path, port))

    def expect_no_request_record(self, urls_and_methods, what):
        """Exchanges that are not inference (model lists, unknown paths): the
        agent sees the traffic (a connection record comes) but must write no
        request record for them. One curl, one connection."""
        exe = require_tool("curl")
        cmd = [exe]
        for n, (method, path) in enumerate(urls_and_methods):
            if n:
                cmd.append("--next")
            cmd += ["-sS", "-k", "--max-time", "20", "-o", "/dev/null", "-X", method,
                    "-H", "authorization: Bearer sk-mock-none", "--http1.1"]
            if method == "POST":
                cmd += ["-H", "content-type: application/json", "--data-binary", "{}"]
            cmd.append(self.server.base + path)
        pid, _, _, _ = run_proc(self.procs, cmd, "curl")
        wait_for(lambda: self.agent.records("connection", {"pid": pid}), REQUEST_TIMEOUT + 3,
                 "the connection record of curl pid %d (%s)" % (pid, what),
                 describe=lambda: self.rc.describe(pid))
        time.sleep(0.3)
        recs = self.agent.records("request", {"pid": pid})
        if recs:
            raise AssertionError("%s: expected no request record for %s, seen %d:\n%s" % (
                what, ", ".join("%s %s" % mp for mp in urls_and_methods), len(recs),
                summarize(recs)))

    def expect_server(self, req, *, host=None, t_done=None, outcome="ok", rec=None):
        """The mock server's own record (role server) of req."""
        entry = self.server.entry(req)
        if rec is None:
            rec = self.rc.wait(self.server.pid, 1, role="server",
                               client_port=entry["client_port"])[0]
        self.rc.check(rec, entry, req, pid=self.server.pid, comm=self.server.comm, role="server",
                      host=host, tls=self.tls, cgroup_id=self.server.cgroup_id,
                      server_port=self.server.port, t_done=t_done, outcome=outcome)
        return rec

    def check_curl_vs_log(self, wouts, reqs, http):
        """curl's own view against the mock's log, so that a broken mock or
        client fails as such before the agent is judged."""
        check_eq(len(wouts), len(reqs), "curl write-out lines (one per request)")
        for w, r in zip(wouts, reqs):
            e = self.server.entry(r)
            check_eq(w["local_port"], e["client_port"], "curl's local port vs. mock log (%s)" % r.path)
            check_eq(str(w["http_version"]), {"1.1": "1.1", "2": "2"}[http],
                     "HTTP version curl used (%s)" % r.path)
            check_eq(e["http_version"], http, "HTTP version the mock saw (%s)" % r.path)
            check_eq(w["size_upload"], e["request_body_bytes"], "request body bytes curl vs. mock")
            if not e["cut"]:
                check_eq(w["size_download"], e["response_body_bytes"],
                         "response body bytes curl received vs. mock's wire count (%s)" % r.path)

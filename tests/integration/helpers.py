"""Shared machinery for the infertrace integration tests (stdlib only).

- Agent: runs `build/infertrace agent` with output to a file, waits for its
  start record, reads its JSON lines, stops it with SIGTERM.
- Server: runs a test HTTP(S) server (httpd.py, or node_server.js) and reads
  its per-connection byte log, the ground truth the agent's counts are
  compared with.
- ProcessSet: every process a test starts, so that all are killed (by pid)
  whatever happens.
- make_cert, free_port, wait_for, and assertion helpers that print what was
  expected next to what was seen, as the kernel's BPF selftests do.
- IntegrationCase: a unittest.TestCase base class tying these together.

Everything is bounded in time: a test that waits for something that never
comes fails with a message saying what it waited for and what it saw.
"""
import calendar
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
AGENT = os.environ.get("INFERTRACE_BIN", os.path.join(ROOT, "build", "infertrace"))
# Debian's python on purpose: it uses the system libssl.so.3 (a pyenv or other
# python on PATH may bring its own OpenSSL build).
PYTHON = "/usr/bin/python3"
HTTPD = os.path.join(HERE, "httpd.py")
PYCLIENT = os.path.join(HERE, "pyclient.py")
HOLDCLIENT = os.path.join(HERE, "holdclient.py")
NODE_SERVER = os.path.join(HERE, "node_server.js")
NODE_CLIENT = os.path.join(HERE, "node_client.js")

DEPS_HINT = "run tools/deps.sh (as root) to install the test dependencies"

# Time limits, in seconds.
START_TIMEOUT = 30     # agent: from exec to its start record
STOP_TIMEOUT = 60      # agent: from SIGTERM to exit (detaching CUDA uprobes is slow
                       # on this kernel: ~0.1-0.4 s per probe, see the GPU issue's notes)
RECORD_TIMEOUT = 10    # a record that should come (connection closed, ...)
CLIENT_TIMEOUT = 30    # one client run (curl, node, gnutls-cli, python)
SERVER_TIMEOUT = 15    # a server: until it listens

# Keys every record type must have (extra keys are allowed).
CONNECTION_KEYS = (
    "type", "time", "schema_version", "pid", "comm", "cgroup_id", "role",
    "client.address", "client.port", "server.address", "server.port",
    "tls.library", "bytes_sent", "bytes_received", "calls", "start_time",
    "end_time", "close_reason")
USAGE_KEYS = (
    "type", "pid", "comm", "cgroup_id", "interval_start", "interval_end",
    "bytes_sent", "bytes_received", "connections", "calls", "partial")
AGENT_START_KEYS = (
    "type", "event", "time", "schema_version", "version", "probes_attached",
    "files_attached")
AGENT_STAT_KEYS = (
    "type", "event", "events", "lost", "truncated", "probes_attached",
    "files_attached", "rss_bytes", "interval_start", "interval_end")

# RFC 3339 with nanoseconds, e.g. 2025-01-02T03:04:05.123456789Z (or +01:00).
RFC3339_NS = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{9})(Z|[+-]\d\d:\d\d)$")


# --------------------------------------------------------------------------
# Small utilities

def require_tool(name):
    """Absolute path of a tool the tests need, or a failure saying how to get it.

    Missing tools are failures, never skips: a suite that silently tests less
    on a machine without node would look green while testing nothing.
    """
    path = shutil.which(name)
    if not path:
        raise AssertionError("required tool '%s' not found on PATH: %s" % (name, DEPS_HINT))
    return path


def require_agent():
    if os.geteuid() != 0:
        raise AssertionError("the integration tests must run as root (they load eBPF programs)")
    if not os.access(AGENT, os.X_OK):
        raise AssertionError("%s is missing or not executable: run 'make' first" % AGENT)


def comm_of(path):
    """The comm the kernel gives a process exec'd from path (basename, 15 chars)."""
    return os.path.basename(path)[:15]


def free_port():
    """A TCP port free on 127.0.0.1 right now (the kernel picks it).

    Used where the port must be known before the server starts (--http-port);
    elsewhere servers bind port 0 themselves and report it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_token():
    return uuid.uuid4().hex[:12]


def wait_for(pred, timeout, what, interval=0.05, describe=None):
    """Poll pred() until it returns something truthy; return that.

    On timeout, fail with `what` and, if given, describe() (the state seen
    last, to tell a missing record from a wrong one).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = "timed out after %gs waiting for %s" % (timeout, what)
            if describe is not None:
                msg += "\n" + describe()
            raise AssertionError(msg)
        time.sleep(interval)


def parse_time_ns(value, what="time"):
    """Nanoseconds since the epoch of an RFC 3339 time with 9 fraction digits."""
    m = RFC3339_NS.match(value) if isinstance(value, str) else None
    if not m:
        raise AssertionError("%s: expected RFC 3339 time with nanoseconds "
                             "(YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ), seen %r" % (what, value))
    y, mo, d, h, mi, s, frac, tz = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs * 10**9 + int(frac)


def cgroup2_mount():
    """Where the cgroup2 file system is mounted (/sys/fs/cgroup, or
    /sys/fs/cgroup/unified on a hybrid host), None without one."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ")[0] == "cgroup2":
                return left.split(" ")[4]
    return None


def cgroup_id_of(pid):
    """cgroup v2 id of a process (what bpf_get_current_cgroup_id() returns):
    the inode number of its cgroup directory in the cgroup2 file system.
    None when no cgroup2 file system is mounted (nothing to compare with)."""
    mount = cgroup2_mount()
    if mount is None:
        return None
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                path = line[3:].strip()
                try:
                    return os.stat(mount + path).st_ino
                except OSError:
                    return None
    return None


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]) or "(empty)\n"
    except OSError as e:
        return "(cannot read %s: %s)\n" % (path, e)


# --------------------------------------------------------------------------
# Assertions that show expected next to seen

def check_eq(seen, expected, what):
    if seen != expected:
        raise AssertionError("%s: expected %r, seen %r" % (what, expected, seen))


def check_true(cond, what, seen=None):
    if not cond:
        raise AssertionError("%s: check failed%s" % (
            what, "" if seen is None else ", seen %r" % (seen,)))


def check_fields(record, expected, what):
    """Compare several keys of a record at once; report every mismatch in a
    table (key, expected, seen) followed by the whole record."""
    bad = [(k, v, record.get(k, "<missing>")) for k, v in expected.items()
           if record.get(k, "<missing>") != v]
    if bad:
        width = max(len(k) for k, _, _ in bad)
        rows = ["  %-*s  expected %-22r seen %r" % (width, k, v, s) for k, v, s in bad]
        raise AssertionError("%s: %d field(s) differ\n%s\n  record: %s" % (
            what, len(bad), "\n".join(rows), json.dumps(record, sort_keys=True)))


def check_keys(record, keys, what):
    missing = [k for k in keys if k not in record]
    if missing:
        raise AssertionError("%s: missing key(s) %s\n  record: %s" % (
            what, ", ".join(missing), json.dumps(record, sort_keys=True)))


def summarize(records, limit=20):
    """A few records, one per line, for failure messages."""
    if not records:
        return "  (none)"
    lines = ["  " + json.dumps(r, sort_keys=True) for r in records[-limit:]]
    if len(records) > limit:
        lines.insert(0, "  ... %d earlier record(s) not shown" % (len(records) - limit))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Processes

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_runner():
    """preexec_fn: the child gets SIGTERM when the test runner dies, even if
    the runner is killed before its cleanups run (e.g. its output piped to
    `head`). A dying agent detaches its probes: nothing is left behind."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ProcessSet:
    """The processes a test started; kill_all() ends them by pid."""

    def __init__(self):
        self.procs = []

    def spawn(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(cmd, preexec_fn=die_with_runner, **kw)
        self.procs.append(proc)
        return proc

    def kill_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 3
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.procs = []


def read_line(stream, timeout, what):
    """One line from a pipe, within timeout (select: never blocks forever)."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %gs waiting for %s (read so far: %r)"
                                 % (timeout, what, buf))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise AssertionError("end of output before %s (read so far: %r)" % (what, buf))
            buf += chunk
    return buf.decode()


def run_client(procs, cmd, timeout=CLIENT_TIMEOUT, what=None, input_data=None, **kw):
    """Run a client to completion. Returns (pid, stdout, stderr) as text; fails
    with its stderr when it exits non-zero or runs past timeout."""
    what = what or os.path.basename(cmd[0])
    proc = procs.spawn(cmd, stdin=subprocess.PIPE if input_data is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    try:
        out, err = proc.communicate(input_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("%s did not finish within %gs\ncommand: %s\nstderr:\n%s" % (
            what, timeout, " ".join(cmd), err.decode(errors="replace")))
    if proc.returncode != 0:
        raise AssertionError("%s exited with status %d\ncommand: %s\nstdout:\n%s\nstderr:\n%s" % (
            what, proc.returncode, " ".join(cmd), out.decode(errors="replace")[-2000:],
            err.decode(errors="replace")[-2000:]))
    return proc.pid, out.decode(errors="replace"), err.decode(errors="replace")


# --------------------------------------------------------------------------
# TLS material

def make_cert(directory):
    """Self-signed certificate and key for 127.0.0.1 and localhost (openssl CLI).
    Returns (cert_path, key_path)."""
    openssl = require_tool("openssl")
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    cmd = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
           "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if res.returncode != 0:
        raise AssertionError("openssl req failed (%d): %s" % (
            res.returncode, res.stderr.decode(errors="replace")))
    return cert, key


# --------------------------------------------------------------------------
# The agent

class Agent:
    """One `infertrace agent` run writing JSON lines to a file."""

    def __init__(self, workdir, args=(), interval=1):
        require_agent()
        self.workdir = workdir
        self.args = list(args)
        self.interval = interval
        tag = unique_token()
        self.out_path = os.path.join(workdir, "agent-%s.jsonl" % tag)
        self.err_path = os.path.join(workdir, "agent-%s.stderr" % tag)
        self.proc = None
        self.returncode = None
        self._records = []
        self._offset = 0
        self.start_record = None

    @property
    def cmd(self):
        return [AGENT, "agent", "-o", self.out_path, "--interval", str(self.interval)] + self.args

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=START_TIMEOUT):
        """Start the agent; return its start record once it is written (all
        probes are attached then, so clients started afterwards are seen)."""
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err,
                                     preexec_fn=die_with_runner)

        def started():
            for r in self.records():
                if r.get("type") == "agent" and r.get("event") == "start":
                    return r
            if self.proc.poll() is not None:
                raise AssertionError(
                    "the agent exited with status %d before its start record\n"
                    "command: %s\nstderr:\n%s" % (self.proc.returncode, " ".join(self.cmd),
                                                  tail(self.err_path)))
            return None

        try:
            self.start_record = wait_for(started, timeout, "the agent's start record",
                                         describe=self.describe)
        except AssertionError:
            self.kill()
            raise
        return self.start_record

    def describe(self):
        state = "running" if self.proc and self.proc.poll() is None else \
            "exited with status %s" % (self.proc.returncode if self.proc else None)
        return "agent (%s) %s\nagent stderr (last lines):\n%s" % (
            " ".join(self.cmd), state, tail(self.err_path, 20))

    def check_running(self):
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError("the agent is not running\n" + self.describe())

    def stderr_text(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def records(self, type=None, where=None):
        """All complete records so far, optionally of one type and with keys
        equal to the values in `where` (a dict: record keys contain dots)."""
        try:
            with open(self.out_path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:  # the agent has not opened it yet
            data = b""
        end = data.rfind(b"\n")
        if end >= 0:
            for n, line in enumerate(data[:end].split(b"\n")):
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise AssertionError("agent output line is not JSON (%s): %r" % (e, line[:500]))
                if not isinstance(rec, dict):
                    raise AssertionError("agent output line is not a JSON object: %r" % line[:500])
                self._records.append(rec)
            self._offset += end + 1
        out = self._records
        if type is not None:
            out = [r for r in out if r.get("type") == type]
        if where:
            out = [r for r in out if all(r.get(k) == v for k, v in where.items())]
        return list(out)

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """SIGTERM (or sig), then wait; returns the exit status. Fails (after
        SIGKILL) when the agent does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("the agent did not exit within %gs of %s\n%s"
                                     % (timeout, signal.Signals(sig).name, self.describe()))
        self.returncode = self.proc.returncode
        self._err.close()
        self.records()  # read the last lines while the file is complete
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        if self.proc is not None:
            self.returncode = self.proc.returncode
            self._err.close()

    # --- connection checks ---------------------------------------------

    def wait_connection(self, pid, client_port, server_port, timeout=RECORD_TIMEOUT, what=None):
        """The one connection record of pid for (client_port, server_port)."""
        what = what or "connection record of pid %d for 127.0.0.1:%d -> 127.0.0.1:%d" % (
            pid, client_port, server_port)
        where = {"pid": pid, "client.port": client_port, "server.port": server_port}

        def describe():
            conns = self.records("connection")
            same_pid = [r for r in conns if r.get("pid") == pid]
            same_ports = [r for r in conns if r.get("client.port") == client_port
                          or r.get("server.port") == client_port]
            return ("connection records of pid %d:\n%s\nconnection records naming port %d:\n%s\n%s"
                    % (pid, summarize(same_pid), client_port, summarize(same_ports),
                       self.describe()))

        wait_for(lambda: self.records("connection", where), timeout, what, describe=describe)
        found = self.records("connection", where)
        if len(found) != 1:
            raise AssertionError("%s: expected exactly 1 record, seen %d:\n%s"
                                 % (what, len(found), summarize(found)))
        return found[0]

    def expect_connection(self, *, pid, comm, role, client_port, server_port, tls,
                          sent, received, cgroup_id=None, what=None,
                          close_reasons=("closed", "exit"), timeout=RECORD_TIMEOUT):
        """Wait for the connection record and check every field we know."""
        rec = self.wait_connection(pid, client_port, server_port, timeout, what)
        what = what or "connection record of %s (pid %d, %s)" % (comm, pid, role)
        check_keys(rec, CONNECTION_KEYS, what)
        expected = {
            "schema_version": 1,
            "pid": pid,
            "comm": comm,
            "role": role,
            "client.address": "127.0.0.1",
            "client.port": client_port,
            "server.address": "127.0.0.1",
            "server.port": server_port,
            "tls.library": tls,
            "bytes_sent": sent,
            "bytes_received": received,
        }
        if cgroup_id is not None:
            expected["cgroup_id"] = cgroup_id
        check_fields(rec, expected, what)
        check_true(rec["close_reason"] in close_reasons,
                   "%s: close_reason in %s" % (what, close_reasons), rec["close_reason"])
        check_true(isinstance(rec["calls"], int) and rec["calls"] >= 1,
                   "%s: calls >= 1" % what, rec["calls"])
        start = parse_time_ns(rec["start_time"], what + ": start_time")
        end = parse_time_ns(rec["end_time"], what + ": end_time")
        check_true(start <= end, "%s: start_time <= end_time" % what,
                   (rec["start_time"], rec["end_time"]))
        return rec


# --------------------------------------------------------------------------
# Test servers

class Server:
    """A test server (httpd.py TLS or plain, or node_server.js) and its log."""

    def __init__(self, procs, workdir, kind="tls", cert=None, key=None, port=0):
        self.kind = kind
        self.log_path = os.path.join(workdir, "server-%s.jsonl" % unique_token())
        open(self.log_path, "w").close()
        if kind == "node":
            node = require_tool("node")
            self.exe = node
            cmd = [node, NODE_SERVER, cert, key, self.log_path]
        else:
            self.exe = PYTHON
            cmd = [PYTHON, HTTPD, "--port", str(port), "--log", self.log_path]
            cmd += ["--plain"] if kind == "plain" else ["--cert", cert, "--key", key]
        # stderr to a file, not a pipe nobody reads: a chatty server must
        # not block on a full pipe.
        self.err_path = self.log_path[:-len(".jsonl")] + ".stderr"
        with open(self.err_path, "wb") as err:
            self.proc = procs.spawn(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            ready = json.loads(read_line(self.proc.stdout, SERVER_TIMEOUT,
                                         "the %s server to listen" % kind))
        except AssertionError as e:
            self.proc.kill()
            raise AssertionError("%s\nserver stderr:\n%s" % (e, tail(self.err_path)))
        self.pid = ready["pid"]
        self.port = ready["port"]
        check_eq(self.pid, self.proc.pid, "server pid (its own report vs. Popen)")
        self.comm = comm_of(self.exe)
        with open("/proc/%d/comm" % self.pid) as f:
            check_eq(f.read().strip(), self.comm, "comm of the %s server" % kind)
        self.cgroup_id = cgroup_id_of(self.pid)

    @property
    def scheme(self):
        return "http" if self.kind == "plain" else "https"

    def url(self, size, token):
        return "%s://127.0.0.1:%d/bytes/%d?id=%s" % (self.scheme, self.port, size, token)

    def entries(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def wait_entry(self, token, timeout=RECORD_TIMEOUT):
        """The server's log entry for the connection whose request had ?id=token."""
        def find():
            found = [e for e in self.entries() if token in (e.get("path") or "")]
            return found[0] if found else None
        entry = wait_for(find, timeout, "the %s server's log entry for request id %s"
                         % (self.kind, token),
                         describe=lambda: "server log:\n" + summarize(self.entries()))
        if "error" in entry:
            raise AssertionError("the test server failed on request %s: %s" % (token, entry["error"]))
        return entry


# --------------------------------------------------------------------------
# Base class

class IntegrationCase(unittest.TestCase):
    """Base class: a temporary directory, a certificate, a process set and
    optionally one agent shared by all tests of the class.

    Set SHARED_AGENT_ARGS to a list of agent options to share one agent per
    class (cheaper: starting the agent attaches every probe); leave it None
    when each test starts its own agent with start_agent().
    """
    SHARED_AGENT_ARGS = None

    @classmethod
    def setUpClass(cls):
        require_agent()
        cls.class_dir = tempfile.mkdtemp(prefix="infertrace-test-")
        cls.addClassCleanup(shutil.rmtree, cls.class_dir, True)
        cls.class_procs = ProcessSet()
        cls.addClassCleanup(cls.class_procs.kill_all)
        cls.cert, cls.key = make_cert(cls.class_dir)
        cls.agent = None
        if cls.SHARED_AGENT_ARGS is not None:
            cls.agent = Agent(cls.class_dir, cls.SHARED_AGENT_ARGS)
            cls.addClassCleanup(cls.agent.kill)
            cls.agent.start()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="t-", dir=self.class_dir)
        self.procs = ProcessSet()
        self.addCleanup(self.procs.kill_all)
        if self.agent is not None:
            self.agent.check_running()

    def start_agent(self, *args, interval=1):
        """An agent for this test only (stopped, or killed, at the end)."""
        agent = Agent(self.tmp, args, interval=interval)
        self.addCleanup(agent.kill)
        agent.start()
        return agent

    def start_server(self, kind="tls", port=0, procs=None):
        return Server(procs or self.procs, self.tmp, kind, self.cert, self.key, port)

    def curl(self, url, *extra, what="curl"):
        """Run curl on url; returns (pid, write-out dict). -w reports curl's own
        view of the bytes, used as a cross-check of the server's log."""
        curl = require_tool("curl")
        fmt = '{"size_request":%{size_request},"size_header":%{size_header},' \
              '"size_download":%{size_download},"local_port":%{local_port},' \
              '"http_code":%{http_code}}'
        pid, out, _ = run_client(self.procs, [curl, "-sS", "-k", "--max-time", "20",
                                              "-o", "/dev/null", "-w", fmt] + list(extra) + [url],
                                 what=what)
        return pid, json.loads(out)

    def expect_pair(self, agent, server, entry, client_pid, client_comm, tls_client,
                    tls_server=None, client_cgroup=None):
        """Both ends of one logged connection: the client's record and the
        server's record, with the bytes the server logged (mirrored for the
        client)."""
        agent.expect_connection(
            pid=client_pid, comm=client_comm, role="client",
            client_port=entry["client_port"], server_port=server.port, tls=tls_client,
            sent=entry["bytes_received"], received=entry["bytes_sent"],
            cgroup_id=client_cgroup, what="client record (%s pid %d)" % (client_comm, client_pid))
        agent.expect_connection(
            pid=server.pid, comm=server.comm, role="server",
            client_port=entry["client_port"], server_port=server.port,
            tls=tls_client if tls_server is None else tls_server,
            sent=entry["bytes_sent"], received=entry["bytes_received"],
            cgroup_id=server.cgroup_id,
            what="server record (%s pid %d)" % (server.comm, server.pid))


def own_cgroup_id():
    """cgroup id of the test runner: the clients it starts inherit its cgroup."""
    return cgroup_id_of(os.getpid())

"""Sinks against real receivers: rsyslog over tcp://, ClickHouse over http://.

The records go through build/tools/sink_send (tools/testprog/sink_send.c),
which drives src/out/sink.c the way the agent does (a poll every 10 ms). Each
test stops its receiver in the middle of the run, starts it again, and checks
at the receiver that every record_id arrived, and arrived once.

The Debian packages rsyslog and clickhouse-server are installed when missing
(root: apt-get), as tools/deps.sh does for the others.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

from helpers import (ROOT, IntegrationCase, ProcessSet, check_eq, check_true, free_port, tail,
                     wait_for)

SINK_SEND = os.environ.get("INFERTRACE_SINK_SEND",
                           os.path.join(ROOT, "build", "tools", "sink_send"))


def ensure_package(pkg, binary):
    """The receiver's binary; apt-get installs its package when missing."""
    path = shutil.which(binary) or (os.path.exists("/usr/sbin/" + binary) and "/usr/sbin/" + binary)
    if path:
        return path
    if os.geteuid() != 0:
        raise AssertionError("%s is missing and installing it needs root" % pkg)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # No service is started: policy-rc.d 101 keeps dpkg from starting one.
    rc = "/usr/sbin/policy-rc.d"
    had_rc = os.path.exists(rc)
    if not had_rc:
        with open(rc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(rc, 0o755)
    try:
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg],
                       env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)
    finally:
        if not had_rc:
            os.unlink(rc)
    path = shutil.which(binary) or "/usr/sbin/" + binary
    if not os.path.exists(path):
        raise AssertionError("apt-get install %s did not provide %s" % (pkg, binary))
    return path


def wait_port(port, timeout, what, proc=None, log=None):
    def up():
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s exited with %s\n%s" % (what, proc.returncode,
                                                             tail(log) if log else ""))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout, "%s listening on 127.0.0.1:%d" % (what, port),
             describe=(lambda: tail(log)) if log else None)


def record(run, i):
    # ListCost: multiples of 0.25 (exact in binary floating point) or null,
    # and a key the table does not have (input_format_skip_unknown_fields).
    cost = None if i % 10 == 0 else (i % 7) * 0.25
    return {"record_id": "%s-%06d" % (run, i), "type": "request", "time": "2025-01-01T00:00:00Z",
            "ListCost": cost, "x_not_in_table": "pad" * 10}


class SinkCase(unittest.TestCase):
    def setUp(self):
        if not os.access(SINK_SEND, os.X_OK):
            raise AssertionError("%s is missing: build it (make, or see docs/sinks.md)" % SINK_SEND)
        self.procs = ProcessSet()
        self.addCleanup(self.procs.kill_all)
        self.dir = tempfile.mkdtemp(prefix="infertrace-sinks.")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.run_id = uuid.uuid4().hex[:8]

    def start_sender(self, url, *opts):
        self.sender_err = open(os.path.join(self.dir, "sink_send.err"), "wb")
        self.addCleanup(self.sender_err.close)
        return self.procs.spawn([SINK_SEND, "--spool", os.path.join(self.dir, "spool")]
                                + list(opts) + [url],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=self.sender_err)

    def send(self, sender, first, last, pace=0.0):
        for i in range(first, last):
            sender.stdin.write((json.dumps(record(self.run_id, i)) + "\n").encode())
            if pace and i % 100 == 99:
                sender.stdin.flush()
                time.sleep(pace)
        sender.stdin.flush()

    def finish(self, sender, timeout=90):
        out, _ = sender.communicate(timeout=timeout)  # closes stdin: end of input
        stats = json.loads(out.decode().splitlines()[-1])
        err = tail(os.path.join(self.dir, "sink_send.err"))
        check_eq(sender.returncode, 0, "sink_send exit status (0: every queue empty)\n"
                 "stats: %s\nstderr:\n%s" % (stats, err))
        return stats, err

    def check_ids(self, ids, n, what):
        want = ["%s-%06d" % (self.run_id, i) for i in range(n)]
        seen = set(ids)
        missing = [i for i in want if i not in seen]
        dups = len(ids) - len(seen)
        if missing or dups:
            raise AssertionError("%s: expected each of %d record_ids once; %d missing "
                                 "(first: %s), %d duplicate(s)" % (what, n, len(missing),
                                                                    missing[:5], dups))


RSYSLOG_CONF = """\
global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="in") {{
  action(type="omfile" file="{out}" template="raw")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="in")
"""


class TestRsyslog(SinkCase):
    """tcp:// to rsyslog (imtcp, newline framing) writing raw messages to a file."""

    def start_rsyslog(self):
        log = os.path.join(self.dir, "rsyslog.log")
        with open(log, "ab") as lf:
            proc = self.procs.spawn([self.rsyslogd, "-n", "-f", self.conf, "-i", self.pidfile],
                                    stdout=lf, stderr=lf)
        wait_port(self.port, 15, "rsyslogd", proc, log)
        return proc

    def out_lines(self):
        try:
            with open(self.out, "rb") as f:
                return [l for l in f.read().split(b"\n") if l]
        except FileNotFoundError:
            return []

    def test_restart_exactly_once(self):
        self.rsyslogd = ensure_package("rsyslog", "rsyslogd")
        self.port = free_port()
        self.out = os.path.join(self.dir, "received.log")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslog.pid")
        with open(self.conf, "w") as f:
            f.write(RSYSLOG_CONF.format(dir=self.dir, out=self.out, port=self.port))
        rs = self.start_rsyslog()
        sender = self.start_sender("tcp://127.0.0.1:%d" % self.port, "--mem", "65536")
        n = 3000
        # 1. a third, all of it received
        self.send(sender, 0, 1000, pace=0.01)
        wait_for(lambda: len(self.out_lines()) >= 1000, 20, "1000 lines at rsyslog",
                 describe=lambda: "seen %d" % len(self.out_lines()))
        # 2. rsyslog stops (SIGTERM: it closes the connection); the sender
        #    keeps getting records, queues them (64 KiB of memory: most go
        #    to the spool) and retries with backoff
        rs.send_signal(signal.SIGTERM)
        rs.wait(timeout=15)
        self.send(sender, 1000, 2000, pace=0.01)
        time.sleep(1.5)
        # 3. rsyslog is back: the backlog, then the rest, in order
        self.start_rsyslog()
        self.send(sender, 2000, n, pace=0.01)
        stats, err = self.finish(sender)
        wait_for(lambda: len(self.out_lines()) >= n, 30, "%d lines at rsyslog" % n,
                 describe=lambda: "seen %d\n%s" % (len(self.out_lines()), err))
        time.sleep(0.5)  # anything extra (a duplicate) would show now
        ids = [json.loads(l)["record_id"] for l in self.out_lines()]
        self.check_ids(ids, n, "rsyslog output")
        check_eq(ids, ["%s-%06d" % (self.run_id, i) for i in range(n)], "order at rsyslog")
        check_eq(stats["written"], n, "records written (sink stats)")
        check_eq(stats["evicted"], 0, "records evicted")
        self.assertGreater(stats["spooled"], 0, "the outage should have spilled to the spool")
        self.assertGreater(stats["errors"], 0, "the outage should count failed deliveries")
        self.assertIn("closed by the receiver", err)


CH_CONFIG = """\
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{dir}/ch-server.log</log>
    <errorlog>{dir}/ch-error.log</errorlog><console>0</console></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/ch-data/</path>
  <tmp_path>{dir}/ch-tmp/</tmp_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>536870912</mark_cache_size>
</yandex>
"""
CH_USERS = """\
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"""


class TestClickHouse(SinkCase):
    """http:// to ClickHouse (JSONEachRow INSERTs), killed with SIGKILL mid-run."""

    def start_ch(self):
        log = os.path.join(self.dir, "ch-console.log")
        with open(log, "ab") as lf:
            proc = self.procs.spawn([self.chserver, "--config-file=" + self.conf],
                                    cwd=self.dir, stdout=lf, stderr=lf)
        wait_port(self.http, 60, "clickhouse-server", proc, os.path.join(self.dir, "ch-error.log"))
        return proc

    def query(self, q):
        url = "http://127.0.0.1:%d/" % self.http
        req = urllib.request.Request(url, data=q.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def test_kill_nothing_lost(self):
        self.chserver = ensure_package("clickhouse-server", "clickhouse-server")
        self.http, tcp = free_port(), free_port()
        self.conf = os.path.join(self.dir, "config.xml")
        with open(self.conf, "w") as f:
            f.write(CH_CONFIG.format(dir=self.dir, http=self.http, tcp=tcp))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(CH_USERS)
        ch = self.start_ch()
        # ReplacingMergeTree keyed by record_id: FINAL keeps one row per id,
        # so a batch sent twice (ClickHouse killed after it stored the batch
        # but before it answered) does not count twice.
        self.query("CREATE TABLE t (record_id String, type String, time String, "
                   "ListCost Nullable(Float64)) ENGINE = ReplacingMergeTree() ORDER BY record_id")
        q = urllib.parse.quote("INSERT INTO t FORMAT JSONEachRow")
        url = ("http://127.0.0.1:%d/?query=%s&input_format_skip_unknown_fields=1"
               % (self.http, q))
        sender = self.start_sender(url, "--batch", "200", "--batch-ms", "50")
        n = 6000
        self.send(sender, 0, 2000, pace=0.02)
        ch.kill()                       # SIGKILL, batches in flight
        ch.wait(timeout=15)
        self.send(sender, 2000, 4000, pace=0.01)
        time.sleep(1)
        self.start_ch()
        self.send(sender, 4000, n, pace=0.01)
        stats, err = self.finish(sender)
        count, uniq, total = self.query(
            "SELECT count(), uniqExact(record_id), sum(ListCost) FROM t FINAL "
            "FORMAT TSV").split()
        raw = int(self.query("SELECT count() FROM t FORMAT TSV"))
        want_sum = sum(r["ListCost"] for r in (record(self.run_id, i) for i in range(n))
                       if r["ListCost"] is not None)
        check_eq(int(uniq), n, "distinct record_ids in ClickHouse")
        check_eq(int(count), n, "rows in ClickHouse (FINAL)")
        check_eq(float(total), want_sum, "sum(ListCost)")
        self.assertGreaterEqual(raw, n)
        check_eq(stats["written"], n, "records written (sink stats)")
        check_eq(stats["rejected"], 0, "records rejected")
        self.assertGreater(stats["errors"], 0, "the outage should count failed deliveries")
        print("\n    clickhouse: %d records, %d rows before FINAL (%d sent twice), %d failed "
              "POSTs during the outage" % (n, raw, raw - n, stats["errors"]))


if __name__ == "__main__":
    unittest.main()


class AgentSinks(IntegrationCase):
    """The agent itself with --sink: a TCP receiver that goes away and comes
    back, and a file, get every record (by record_id) while traffic runs."""

    def test_agent_tcp_receiver_down_and_back(self):
        import socket
        import threading
        port = free_port()
        got, lock = [], threading.Lock()
        stop = threading.Event()

        def receiver():
            srv = socket.socket()
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", port))
            srv.listen(4)
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    continue
                buf = b""
                c.settimeout(0.2)
                while not stop.is_set():
                    try:
                        d = c.recv(65536)
                    except socket.timeout:
                        continue
                    if not d:
                        break
                    buf += d
                    *lines, buf = buf.split(b"\n")
                    with lock:
                        got.extend(json.loads(l) for l in lines if l)
                c.close()
            srv.close()

        t = threading.Thread(target=receiver, daemon=True)
        t.start()
        # -o (the test's record file) with --sink is one more sink: a file
        agent = self.start_agent("--sink", "tcp://127.0.0.1:%d" % port,
                                 "--spool-dir", os.path.join(self.tmp, "spool"),
                                 "--socket", "none", interval=0.5)
        out = agent.out_path
        time.sleep(1.5)
        stop.set()          # the receiver goes away for a while
        t.join()
        time.sleep(2.0)     # intervals go on: records wait
        stop.clear()
        t = threading.Thread(target=receiver, daemon=True)
        t.start()
        time.sleep(2.0)
        agent.proc.send_signal(signal.SIGTERM)
        agent.proc.wait(timeout=120)
        time.sleep(0.5)
        stop.set()
        t.join()
        with open(out) as f:
            in_file = [json.loads(l) for l in f if l.strip()]
        ids_file = [r["record_id"] for r in in_file]
        check_true(len(ids_file) >= 6, "records in the file sink", len(ids_file))
        check_eq(len(set(ids_file)), len(ids_file), "no record twice in the file sink")
        with lock:
            ids_tcp = {r["record_id"] for r in got}
        missing = [i for i in ids_file if i not in ids_tcp]
        check_eq(missing, [], "records the TCP receiver missed while it was down")
        check_true(any(r["type"] == "agent" and r.get("event") == "stop" for r in got),
                   "the stop record reached the TCP receiver", "")


class HttpsSink(IntegrationCase):
    """https:// with the receiver's certificate checked: refused without its
    CA (the records wait), delivered once the sink trusts it (#cacert=)."""

    def receiver(self):
        import http.server
        import ssl
        import threading
        got = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.extend(json.loads(l) for l in body.decode().splitlines() if l)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        return srv.server_address[1], got

    def send(self, url, n):
        lines = "".join(json.dumps({"record_id": "h%04d" % i, "type": "usage"}) + "\n"
                        for i in range(n))
        p = subprocess.run([SINK_SEND, "--spool", os.path.join(self.tmp, "spool"), "--drain-ms", "4000", "--close-ms", "1000", url],
                           input=lines, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        return p

    def test_https_verified_with_cacert(self):
        port, got = self.receiver()
        p = self.send("https://127.0.0.1:%d/ingest#cacert=%s&timeout_ms=2000" % (port, self.cert),
                      50)
        check_eq(p.returncode, 0, "sink_send exit status (%s)" % p.stderr)
        check_eq(sorted(r["record_id"] for r in got), ["h%04d" % i for i in range(50)],
                 "records received over https")
        # without the CA the certificate is refused: nothing is delivered
        port2, got2 = self.receiver()
        p = self.send("https://127.0.0.1:%d/ingest#timeout_ms=2000" % port2, 5)
        check_true(p.returncode != 0 and not got2,
                   "an unverifiable certificate is refused, the records kept",
                   (p.returncode, p.stdout, p.stderr))

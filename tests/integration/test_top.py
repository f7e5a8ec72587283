"""`infertrace top` against a running agent, on a real terminal (tmux).

The agent runs with --socket in a directory the test owns. A known workload
calls the mock LLM API over TLS: two processes of a copy of curl named
"curl-topa" in workload "top-a" (2 and 1 requests) and one of "curl-topb" in
workload "top-b" (5 requests), every token count chosen here and priced from a test table, so
every figure top shows is known. The agent traces only those programs (-c),
so nothing else on the host changes the totals.

top runs in a tmux pane; the test sends keys (tmux send-keys) and reads the
screen (tmux capture-pane -p): rows, header totals, sorting, grouping,
filtering, 80 and 160 columns, a resize, and that every way out (q, SIGINT,
SIGTERM, SIGHUP) gives the terminal back (tmux's own flags: alternate screen
off, cursor visible, keypad mode off; stty settings as before). A second
class runs the fake-driver inference server for the GPU columns and the
device header; a third checks the messages when no agent answers or the
socket is not ours to read.
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.request

from helpers import (AGENT, Agent, IntegrationCase, check_eq, check_true, free_port, read_line,
                     require_tool, run_client, summarize, unique_token, wait_for)
from llmhelpers import MockLLM, chat, curl_cmd
from test_cost import PRICES, Cgroup
import test_gpu

SCREEN_TIMEOUT = 10     # something expected on the screen
DELAY = "0.5"           # top's refresh in these tests (-d)
PROMPT = "PROMPT$ "

GPT_MINI = dict(input=0.15, output=0.60)   # USD per MTok, as in PRICES


def ensure_tmux():
    """tmux, installed from Debian when missing (the tests run as root);
    tools/deps.sh lists it too."""
    if shutil.which("tmux") is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "tmux"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return require_tool("tmux")


def keep_screen(name, text):
    """KEEP_SCREENS=DIR saves what the terminal showed (docs/top.md's captures)."""
    d = os.environ.get("KEEP_SCREENS")
    if d:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + ".txt"), "w") as f:
            f.write(text)


def api_cost(inp, out):
    return (inp * GPT_MINI["input"] + out * GPT_MINI["output"]) / 1e6


# --------------------------------------------------------------------------
# The terminal

class Tmux:
    """A private tmux server (its own socket) with one pane running bash."""

    def __init__(self, workdir, width=80, height=30):
        self.tmux = ensure_tmux()
        self.sock = os.path.join(workdir, "tmux-%s.sock" % unique_token())
        self.cmd(["new-session", "-d", "-x", str(width), "-y", str(height), "-s", "top",
                  "bash --norc --noprofile"])
        self.keys_literal("PS1='%s'; clear" % PROMPT)
        self.keys("Enter")
        self.wait(lambda s: s.strip() == PROMPT.strip(), "a clean prompt")

    def cmd(self, args, check=True):
        res = subprocess.run([self.tmux, "-S", self.sock, "-f", "/dev/null"] + args,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=10)
        if check and res.returncode != 0:
            raise AssertionError("tmux %s failed (%d): %s" % (" ".join(args), res.returncode,
                                                              res.stderr))
        return res.stdout

    def keys(self, *keys):
        self.cmd(["send-keys", "-t", "top"] + list(keys))

    def keys_literal(self, text):
        self.cmd(["send-keys", "-t", "top", "-l", text])

    def run(self, line):
        self.keys_literal(line)
        self.keys("Enter")

    def screen(self):
        return self.cmd(["capture-pane", "-p", "-t", "top"])

    def flags(self):
        """What the terminal is in: alternate screen, cursor shown, keypad modes."""
        out = self.cmd(["display", "-p", "-t", "top",
                        "#{alternate_on} #{cursor_flag} #{keypad_cursor_flag} #{keypad_flag}"])
        a, c, kc, k = out.split()
        return {"alternate_screen": a, "cursor_visible": c, "keypad_cursor": kc, "keypad": k}

    def resize(self, width, height):
        self.cmd(["resize-window", "-t", "top", "-x", str(width), "-y", str(height)])

    def shell_pid(self):
        return int(self.cmd(["display", "-p", "-t", "top", "#{pane_pid}"]))

    def child_pid(self):
        """The command the shell runs in the foreground (top)."""
        pid = self.shell_pid()
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
        return kids[0] if kids else None

    def wait(self, pred, what, timeout=SCREEN_TIMEOUT):
        """Poll the screen until pred(screen text) is truthy; returns its value."""
        last = [""]

        def probe():
            last[0] = self.screen()
            return pred(last[0])
        return wait_for(probe, timeout, what, interval=0.1,
                        describe=lambda: "screen:\n" + last[0])

    def close(self):
        self.cmd(["kill-server"], check=False)


def parse_table(text):
    """(titles, rows) of top's table on a screen or in --once output; a row
    is a dict title -> cell. Cells hold no spaces (names chosen so here), so
    splitting on white space lines them up with the titles."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        f = line.split()
        if f and f[0] in ("PID", "PROCS") and "$/H" in f:
            break
    else:
        return None, []
    titles = line.split()
    rows = []
    for line in lines[i + 1:]:
        if not line.strip() or line.startswith("F1Help") or line.startswith("Filter:"):
            break
        rows.append(dict(zip(titles, line.split())))
    return titles, rows


HEADER = {
    "cost": re.compile(r"^Cost:\s+\$(\S+)/h now, \$(\S+) since start", re.M),
    "requests": re.compile(r"^Requests: (\S+)/s, (\d+) since start", re.M),
    "tokens": re.compile(r"^Tokens:\s+in (\S+)/s, out (\S+)/s; (\d+) in, (\d+) out since start",
                         re.M),
    "agent": re.compile(r"^infertrace top  agent (\S+) pid (\d+)  up \S+  events (\d+)  lost (\d+)",
                        re.M),
}


def header(text):
    out = {}
    for k, rx in HEADER.items():
        m = rx.search(text)
        if not m:
            raise AssertionError("header line '%s' not found on the screen:\n%s" % (k, text))
        out[k] = m.groups()
    return out


def shown_value(cell):
    """A number as top prints it (1.23k, 4.5M, 5e-07) -> (value, half a unit
    of its last digit: how far the real value may be)."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    mult = 1.0
    if cell[-1] in scale:
        mult = scale[cell[-1]]
        cell = cell[:-1]
    if "e" in cell:
        v = float(cell)
        return v * mult, abs(v) * 0.5 * mult
    dec = len(cell.split(".")[1]) if "." in cell else 0
    return float(cell) * mult, 0.5 * 10 ** -dec * mult


def check_shown(cell, want, what):
    v, tol = shown_value(cell)
    check_true(abs(v - want) <= tol * 1.001 + 1e-12, "%s: %r shows %.9g" % (what, cell, want),
               cell)


# --------------------------------------------------------------------------

class TopWithAgent(IntegrationCase):
    """One agent and one workload for the class; each test runs top."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ensure_tmux()
        # a fresh directory under a 0755 parent: the agent creates it (0755)
        cls.sock_parent = tempfile.mkdtemp(prefix="infertrace-top-")
        os.chmod(cls.sock_parent, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.sock_parent, True)
        cls.sock = os.path.join(cls.sock_parent, "run", "agent.sock")
        prices = os.path.join(cls.class_dir, "prices.json")
        with open(prices, "w") as f:
            json.dump(PRICES, f)
        cls.cg_a = Cgroup("infertrace-top-%d-a" % os.getpid())
        cls.cg_b = Cgroup("infertrace-top-%d-b" % os.getpid())
        cls.addClassCleanup(cls.cg_b.remove)
        cls.addClassCleanup(cls.cg_a.remove)
        # curl under names of its own: the agent traces these (-c) and
        # nothing else, whatever else runs on the host meanwhile
        cls.curl_a = os.path.join(cls.class_dir, "curl-topa")
        cls.curl_b = os.path.join(cls.class_dir, "curl-topb")
        for exe in (cls.curl_a, cls.curl_b):
            shutil.copy(require_tool("curl"), exe)
        cls.agent = Agent(cls.class_dir, [
            "--socket", cls.sock, "--socket-group", "nogroup", "--nvml-lib", "",
            "--no-default-prices", "--prices", prices, "-c", "curl-topa", "-c", "curl-topb",
            "--label", "workload=top-a:^/%s$" % cls.cg_a.name,
            "--label", "workload=top-b:^/%s$" % cls.cg_b.name], interval=1)
        cls.addClassCleanup(cls.agent.kill)
        cls.agent.start()
        mock = MockLLM(cls.class_procs, cls.class_dir, mode="tls", cert=cls.cert, key=cls.key)

        # (cgroup, program, requests, input tokens, output tokens)
        plan = [(cls.cg_a, cls.curl_a, 2, 1000, 200),
                (cls.cg_a, cls.curl_a, 1, 1000, 200),
                (cls.cg_b, cls.curl_b, 5, 100, 50)]
        cls.procs_run = []
        for cg, exe, n, inp, out in plan:
            reqs = [chat("gpt-4o-mini", input=inp, output=out) for _ in range(n)]
            cmd = curl_cmd(cls.class_dir, mock, reqs, host="api.openai.com", exe=exe,
                           write_out=False)
            pid, _, _ = run_client(cls.class_procs, cg.wrap(cmd),
                                   what=os.path.basename(exe))
            cls.procs_run.append(dict(pid=pid, comm=os.path.basename(exe),
                                      workload="top-a" if cg is cls.cg_a else "top-b",
                                      requests=n, input=n * inp, output=n * out,
                                      cost=n * api_cost(inp, out)))
        cls.want = {k: sum(p[k] for p in cls.procs_run)
                    for k in ("requests", "input", "output", "cost")}

        # every request and every process's last usage record are in
        def settled():
            reqs = cls.agent.records("request")
            usage = sum(r.get("ListCost", 0) for r in cls.agent.records("usage"))
            return len(reqs) == cls.want["requests"] and abs(usage - cls.want["cost"]) < 1e-9
        wait_for(settled, 15, "the request and usage records of the workload",
                 describe=lambda: summarize(cls.agent.records("request") +
                                            cls.agent.records("usage")))

    # --- helpers -------------------------------------------------------

    def record_totals(self):
        """What the header must say, from the agent's own records."""
        recs = self.agent.records()
        reqs = [r for r in recs if r["type"] == "request" and "gen_ai.provider.name" in r]
        return dict(
            requests=len(reqs),
            input=sum(r.get("gen_ai.usage.input_tokens") or 0 for r in reqs),
            output=sum(r.get("gen_ai.usage.output_tokens") or 0 for r in reqs),
            cost=sum(r.get("ListCost") or 0 for r in recs if r["type"] == "usage"))

    def check_header(self, text):
        h = header(text)
        got = self.record_totals()
        # the records are the workload: nothing else was traced
        for k in ("requests", "input", "output"):
            check_eq(got[k], self.want[k], "%s in the agent's records" % k)
        check_eq(int(h["requests"][1]), got["requests"], "header: requests since start")
        check_eq(int(h["tokens"][2]), got["input"], "header: input tokens since start")
        check_eq(int(h["tokens"][3]), got["output"], "header: output tokens since start")
        check_shown(h["cost"][1], got["cost"], "header: $ since start")
        check_eq(int(h["agent"][1]), self.agent.pid, "header: the agent's pid")
        return h

    def our_rows(self, rows):
        pids = {str(p["pid"]) for p in self.procs_run}
        return [r for r in rows if r.get("PID") in pids]

    def check_rows(self, rows, what):
        """Each process of the workload listed once, with its comm, workload
        and cost since start."""
        by_pid = {r["PID"]: r for r in self.our_rows(rows)}
        for p in self.procs_run:
            r = by_pid.get(str(p["pid"]))
            check_true(r is not None, "%s: a row for %s pid %d" % (what, p["comm"], p["pid"]),
                       rows)
            check_eq(r["COMM"], p["comm"], "%s: COMM of pid %d" % (what, p["pid"]))
            check_eq(r["WORKLOAD"], p["workload"], "%s: WORKLOAD of pid %d" % (what, p["pid"]))
            if "$TOTAL" in r:
                check_shown(r["$TOTAL"], p["cost"], "%s: $TOTAL of pid %d" % (what, p["pid"]))

    def start_top(self, width=80, height=30, args=""):
        t = Tmux(self.tmp, width, height)
        self.addCleanup(t.close)
        self.before_flags = t.flags()
        t.run("stty -g > %s/stty.before; %s top -d %s --socket %s %s; echo EXIT=$?; "
              "stty -g > %s/stty.after" % (self.tmp, AGENT, DELAY, self.sock, args, self.tmp))
        t.wait(lambda s: len(self.our_rows(parse_table(s)[1])) == len(self.procs_run),
               "top's rows for the %d workload processes" % len(self.procs_run))
        return t

    def check_restored(self, t, status):
        """top has exited with status, and the terminal is as before."""
        t.wait(lambda s: ("EXIT=%d" % status) in s and s.rstrip().endswith(PROMPT.strip()),
               "'EXIT=%d' and the shell prompt back" % status)
        screen = t.screen()
        check_eq(t.flags(), self.before_flags, "terminal modes after top (tmux flags)")
        check_true(parse_table(screen)[0] is None, "no table left on the screen", screen)
        with open(os.path.join(self.tmp, "stty.before")) as f:
            before = f.read()
        with open(os.path.join(self.tmp, "stty.after")) as f:
            after = f.read()
        check_eq(after, before, "stty settings after top")

    # --- tests ---------------------------------------------------------

    def test_once_table_80_columns(self):
        res = subprocess.run([AGENT, "top", "--once", "--socket", self.sock], capture_output=True,
                             text=True, timeout=20, env=dict(os.environ, COLUMNS="80"))
        check_eq(res.returncode, 0, "top --once exit status (stderr %r)" % res.stderr)
        for line in res.stdout.splitlines():
            check_true(len(line) <= 80, "--once lines fit 80 columns", line)
        titles, rows = parse_table(res.stdout)
        check_true(titles and titles[:3] == ["PID", "COMM", "WORKLOAD"] and "$/H" in titles,
                   "PID COMM WORKLOAD ... $/H at 80 columns", titles)
        self.check_rows(rows, "top --once")
        self.check_header(res.stdout)
        # the default order: $/H, biggest first, then pid
        keys = [(-shown_value(r["$/H"])[0], int(r["PID"])) for r in rows]
        check_eq(keys, sorted(keys), "rows by $/H descending, pid ascending on ties")

    def test_once_160_columns_and_json(self):
        res = subprocess.run([AGENT, "top", "--once", "--socket", self.sock], capture_output=True,
                             text=True, timeout=20, env=dict(os.environ, COLUMNS="160"))
        check_eq(res.returncode, 0, "top --once exit status")
        titles, rows = parse_table(res.stdout)
        for t in ("REQ/S", "TOKIN/S", "TOKOUT/S", "BYTES/S", "GPU%", "GPUMEM", "$/H", "$TOTAL",
                  "DEVICE", "MODELS"):
            check_true(t in titles, "column %s at 160 columns" % t, titles)
        for r in self.our_rows(rows):
            model = self.agent.records("request", {"pid": int(r["PID"])})[0]["gen_ai.response.model"]
            check_eq(r["MODELS"], model, "the model its requests named, whole, at 160 columns")
        res = subprocess.run([AGENT, "top", "--once", "--json", "--socket", self.sock],
                             capture_output=True, text=True, timeout=20)
        check_eq(res.returncode, 0, "top --once --json exit status")
        check_eq(len(res.stdout.splitlines()), 1, "--json: one line")
        snap = json.loads(res.stdout)
        check_eq(snap["type"], "snapshot", "--json: the snapshot")
        check_eq(snap["totals"]["requests_total"], self.want["requests"], "--json: requests_total")
        procs = {p["pid"]: p for p in snap["processes"]}
        for p in self.procs_run:
            check_true(p["pid"] in procs, "--json lists pid %d" % p["pid"], sorted(procs))
            check_eq(procs[p["pid"]]["workload"], p["workload"], "--json: workload")

    def test_screen_sort_keys(self):
        t = self.start_top(80, 30, "-s pid")
        screen = t.screen()
        keep_screen("top-80", screen)
        self.check_header(screen)
        titles, rows = parse_table(screen)
        self.check_rows(rows, "top at 80 columns")
        check_true("Sort: PID desc" in screen, "-s pid: sorted by PID, biggest first", screen)
        pids = [int(r["PID"]) for r in rows]
        check_eq(pids, sorted(pids, reverse=True), "rows by pid, descending")

        # T: $TOTAL, biggest first: 2 requests, 1 request, then 5 small ones
        want = [str(p["pid"]) for p in sorted(self.procs_run, key=lambda p: -p["cost"])]
        t.keys("T")
        t.wait(lambda s: [r["PID"] for r in self.our_rows(parse_table(s)[1])] == want
               and "Sort: $TOTAL desc" in s, "rows by $TOTAL, biggest first: %s" % want)
        t.keys("I")
        t.wait(lambda s: [r["PID"] for r in self.our_rows(parse_table(s)[1])] == want[::-1]
               and "Sort: $TOTAL asc" in s, "I: rows by $TOTAL, smallest first")
        # > and F6: the next column on screen; < back
        titles = parse_table(t.screen())[0]
        nxt = titles[(titles.index("$TOTAL") + 1) % len(titles)]
        t.keys(">")
        t.wait(lambda s: "Sort: %s " % nxt in s, "'>': sorted by the next column, %s" % nxt)
        t.keys("<")
        t.wait(lambda s: "Sort: $TOTAL " in s, "'<': back to $TOTAL")
        t.keys("F6")
        t.wait(lambda s: "Sort: %s " % nxt in s, "F6: the next column, %s" % nxt)
        # the order stays while data refreshes (equal keys never swap)
        t.keys("N")
        t.wait(lambda s: "Sort: PID desc" in s, "N: by PID")
        for _ in range(3):
            time.sleep(float(DELAY))
            pids = [int(r["PID"]) for r in parse_table(t.screen())[1]]
            check_eq(pids, sorted(pids, reverse=True), "rows stay by pid across refreshes")
        t.keys("q")
        self.check_restored(t, 0)

    def test_group_by_workload_sums(self):
        t = self.start_top(80, 30)
        t.keys("g")
        screen = t.wait(lambda s: "Group: workload" in s and s, "g: grouped by workload")

        def groups(s):
            titles, rows = parse_table(s)
            return {r["WORKLOAD"]: r for r in rows if r.get("WORKLOAD") in ("top-a", "top-b")}
        g = t.wait(lambda s: len(groups(s)) == 2 and groups(s), "rows top-a and top-b")
        keep_screen("top-80-workload", t.screen())
        check_eq(parse_table(screen)[0][0], "PROCS", "grouped: the first column counts processes")
        for wl in ("top-a", "top-b"):
            members = [p for p in self.procs_run if p["workload"] == wl]
            check_eq(int(g[wl]["PROCS"]), len(members), "processes in %s" % wl)
            check_shown(g[wl]["$TOTAL"], sum(p["cost"] for p in members), "$TOTAL of %s" % wl)
        # the group's rate is the sum of its members' (from the same snapshot)
        snap = json.loads(subprocess.run([AGENT, "top", "--once", "--json", "--socket", self.sock],
                                         capture_output=True, text=True, timeout=20).stdout)
        a_cost_h = sum(p["cost_per_hour"] for p in snap["processes"] if p["workload"] == "top-a")
        check_shown(groups(t.screen())["top-a"]["$/H"], a_cost_h, "$/H of top-a = its members'")
        for mode in ("model", "device", "process"):
            t.keys("g")
            t.wait(lambda s: "Group: %s" % mode in s, "g: grouped by %s" % mode)
        t.wait(lambda s: len(self.our_rows(parse_table(s)[1])) == 3, "process rows again")
        t.keys("q")
        self.check_restored(t, 0)

    def test_filter_pause_help(self):
        t = self.start_top(100, 30)
        b = [p for p in self.procs_run if p["comm"] == "curl-topb"][0]
        t.keys("/")
        t.keys_literal("topb")
        t.wait(lambda s: [r["PID"] for r in parse_table(s)[1]] == [str(b["pid"])]
               and "Filter: topb" in s, "only curl-topb while the filter is typed")
        t.keys("Enter")
        t.wait(lambda s: "Filter: topb" in s and "F1Help" in s, "the filter kept after Enter")
        t.keys("/")
        t.keys("Escape")
        t.wait(lambda s: len(parse_table(s)[1]) == 1, "Esc keeps the filter there was")
        t.keys("/")
        for _ in range(len("topb")):
            t.keys("BSpace")
        t.keys("Enter")
        t.wait(lambda s: len(self.our_rows(parse_table(s)[1])) == 3, "filter cleared")
        t.keys("p")
        t.wait(lambda s: "[PAUSED]" in s, "p: paused")
        t.keys("p")
        t.wait(lambda s: "[PAUSED]" not in s, "p: resumed")
        t.keys("h")
        keep_screen("top-help", t.wait(lambda s: "Press any key to return" in s and "$TOTAL" in s
                                       and s, "h: the help"))
        t.keys("x")
        t.wait(lambda s: parse_table(s)[0] is not None, "any key: back to the table")
        t.keys("F10")
        self.check_restored(t, 0)

    def test_resize_80_to_160(self):
        t = self.start_top(80, 30)
        titles = parse_table(t.screen())[0]
        check_true("BYTES/S" not in titles and "DEVICE" not in titles,
                   "80 columns: the least wanted columns are left out", titles)
        t.resize(160, 40)
        titles = t.wait(lambda s: "BYTES/S" in (parse_table(s)[0] or []) and parse_table(s)[0],
                        "the columns of 160 after the resize")
        for c in ("TOKIN/S", "TOKOUT/S", "GPUMEM", "DEVICE", "MODELS"):
            check_true(c in titles, "column %s at 160" % c, titles)
        keep_screen("top-160", t.screen())
        lines = t.screen().splitlines()
        title_line = [l for l in lines if l.split()[:1] == ["PID"]][0]
        check_true(len(title_line.rstrip()) > 80, "the table uses the width", title_line)
        t.resize(80, 30)
        t.wait(lambda s: "BYTES/S" not in (parse_table(s)[0] or ["BYTES/S"]), "back to 80")
        t.keys("q")
        self.check_restored(t, 0)

    def test_signals_restore_the_terminal(self):
        for how, status in (("C-c", 0), (signal.SIGTERM, 128 + signal.SIGTERM),
                            (signal.SIGHUP, 128 + signal.SIGHUP)):
            t = self.start_top(80, 24)
            if how == "C-c":
                t.keys("C-c")
            else:
                os.kill(t.child_pid(), how)
            self.check_restored(t, status)
            t.close()

    def test_socket_group_members_may_read(self):
        """--socket-group nogroup: mode 0660, group nogroup; a process in that
        group reads it, one outside is told what to do."""
        st = os.stat(self.sock)
        check_eq(stat.S_IMODE(st.st_mode), 0o660, "socket mode with --socket-group")
        check_eq(oct(stat.S_IMODE(os.stat(os.path.dirname(self.sock)).st_mode)), oct(0o755),
                 "the directory the agent made")
        setpriv = require_tool("setpriv")
        ok = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", AGENT,
                             "top", "--once", "--socket", self.sock],
                            capture_output=True, text=True, timeout=20)
        check_eq(ok.returncode, 0, "top as nobody:nogroup (stderr %r)" % ok.stderr)
        check_true(parse_table(ok.stdout)[0] is not None, "the table for a group member", ok.stdout)
        no = subprocess.run([setpriv, "--reuid=65534", "--regid=1", "--clear-groups", AGENT,
                             "top", "--once", "--socket", self.sock],
                            capture_output=True, text=True, timeout=20)
        check_eq(no.returncode, 1, "top outside the group: exit status")
        check_true("permission denied" in no.stderr and "--socket-group" in no.stderr
                   and "sudo infertrace top" in no.stderr,
                   "outside the group: says to run as root or join the --socket-group", no.stderr)


class TopGpu(IntegrationCase):
    """The fake-driver inference server under load: the device header line,
    its GPU% and memory, and the rows grouped by device."""

    @staticmethod
    def stop_proc(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def test_gpu_columns_and_device_group(self):
        test_gpu.build_fake()
        ensure_tmux()
        cg = Cgroup("infertrace-top-%d-gpu" % os.getpid())
        self.addCleanup(cg.remove)
        prices = os.path.join(self.tmp, "prices.json")
        with open(prices, "w") as f:
            json.dump(PRICES, f)
        sock = os.path.join(self.tmp, "agent.sock")
        port = free_port()
        self.start_agent("--socket", sock, "--nvml-lib", "", "--no-default-prices", "--prices",
                         prices, "--http-port", str(port), "-c", "infer_server",
                         "--label", "workload=top-gpu:^/%s$" % cg.name, interval=1)
        env = dict(os.environ, LD_LIBRARY_PATH=test_gpu.FAKE,
                   FAKECUDA_TRUTH=os.path.join(self.tmp, "truth.jsonl"))
        srv = self.procs.spawn(cg.wrap([os.path.join(test_gpu.FAKE, "infer_server"),
                                        "--port=%d" % port, "--weights-bytes=1073741824"]),
                               env=env, stdout=subprocess.PIPE, text=True)
        # cleanups run last-registered first: the load stops, then the
        # server, then its cgroup (registered above) can go
        self.addCleanup(self.stop_proc, srv)
        json.loads(read_line(srv.stdout, 10, "infer_server's first line"))
        time.sleep(0.8)  # the agent attaches to the libcuda.so.1 it mapped

        # requests back to back, 100 ms of GPU time each, until the test ends
        stop = threading.Event()

        def load():
            while not stop.is_set():
                req = urllib.request.Request(
                    "http://127.0.0.1:%d/v1/chat/completions" % port, method="POST",
                    data=b'{"model":"llama-3-8b","messages":[{"role":"user","content":"hi"}]}',
                    headers={"content-type": "application/json", "x-gpu-ns": "100000000",
                             "x-prompt-tokens": "100", "x-completion-tokens": "20"})
                try:
                    urllib.request.urlopen(req, timeout=10).read()
                except OSError:
                    time.sleep(0.1)
        th = threading.Thread(target=load, daemon=True)
        th.start()

        def stop_load():
            stop.set()
            th.join(15)
        self.addCleanup(stop_load)

        t = Tmux(self.tmp, 160, 30)
        self.addCleanup(t.close)
        before = t.flags()
        t.run("%s top -d %s --socket %s; echo EXIT=$?" % (AGENT, DELAY, sock))
        dev = re.compile(r"^GPU cuda:0\s+\[\|*\s*([0-9.]+)%\]  mem (\S+)  \$(\S+)/h", re.M)

        def busy_row(s):
            m = dev.search(s)
            rows = [r for r in parse_table(s)[1] if r.get("PID") == str(srv.pid)]
            if m and rows and float(m.group(1)) > 10 and rows[0]["GPU%"] not in ("0", "-"):
                return m, rows[0]
            return None
        m, row = t.wait(busy_row, "the device line busy > 10% and the server's row with its "
                        "GPU%", timeout=20)
        check_eq(m.group(2), "1.0G", "device memory held (the server's 1 GiB of weights)")
        check_eq(row["COMM"], "infer_server", "COMM of the server")
        check_eq(row["WORKLOAD"], "top-gpu", "WORKLOAD of the server")
        check_eq(row["DEVICE"], "cuda:0", "DEVICE of the server")
        check_eq(row["GPUMEM"], "1.0G", "GPUMEM of the server")
        check_true(0 < float(row["GPU%"]) <= 100, "GPU% of the server", row["GPU%"])
        # it holds the device's memory: the whole device's price is its own
        check_shown(row["$/H"], PRICES["accelerators"][0]["usd_per_hour"], "$/H of the server")
        keep_screen("top-gpu", t.screen())
        for mode in ("workload", "model", "device"):
            t.keys("g")
            t.wait(lambda s: "Group: %s" % mode in s, "grouped by %s" % mode)
        g = t.wait(lambda s: [r for r in parse_table(s)[1] if r.get("DEVICE") == "cuda:0"],
                   "the cuda:0 row")[0]
        check_eq(g["PROCS"], "1", "processes on cuda:0")
        check_eq(g["GPUMEM"], "1.0G", "memory held on cuda:0")
        t.keys("q")
        t.wait(lambda s: "EXIT=0" in s, "top quits")
        check_eq(t.flags(), before, "terminal modes after top")


class FakeAgent:
    """A query socket served from the test: snapshot(n) makes the n-th answer.
    For behaviour of top's own (the order held after a key) that needs data
    changing on cue, which a real workload cannot promise."""

    def __init__(self, path, snapshot):
        self.path = path
        self.snapshot = snapshot
        self.count = 0
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                buf = b""
                try:
                    while b"\n" not in buf:
                        data = conn.recv(256)
                        if not data:
                            break
                        buf += data
                    self.count += 1
                    conn.sendall(json.dumps(self.snapshot(self.count)).encode() + b"\n")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def fake_snapshot(procs):
    """A snapshot shaped as src/out/live.h documents, with these processes
    (dicts of pid, comm and cost_per_hour)."""
    full = []
    for p in procs:
        full.append(dict({"workload": "w", "models": ["m"], "providers": ["openai"], "device": "",
                          "requests_per_s": 0, "input_tokens_per_s": 0,
                          "output_tokens_per_s": 0, "bytes_per_s": 0, "gpu_busy_pct": 0,
                          "gpu_mem_bytes": 0, "cost_total": 0, "requests_total": 0,
                          "last_seen": "2026-11-27T10:00:00.000000000Z", "exited": False}, **p))
    return {"type": "snapshot", "schema_version": 1, "time": "2026-11-27T10:00:01.000000000Z",
            "agent": {"pid": 1, "version": "test", "started": "2026-11-27T10:00:00.000000000Z",
                      "interval_s": 1, "events": 0, "lost": 0, "rss_bytes": 0},
            "totals": {"requests_per_s": 0, "input_tokens_per_s": 0, "output_tokens_per_s": 0,
                       "cost_per_hour": 0, "cost_total": 0, "requests_total": 0,
                       "input_tokens_total": 0, "output_tokens_total": 0},
            "devices": [], "processes": full}


class TopHoldStill(IntegrationCase):
    """After a keypress the rows keep their places for about a second (the
    cursor's row must not run away), while their values keep refreshing;
    then the order follows the data again."""

    def test_order_held_after_a_key(self):
        ensure_tmux()
        path = os.path.join(self.tmp, "fake.sock")

        # every answer swaps which of the two costs more per hour
        def snap(n):
            hi, lo = (1.5, 0.5) if n % 2 else (0.5, 1.5)
            return fake_snapshot([{"pid": 1001, "comm": "alpha", "cost_per_hour": hi},
                                  {"pid": 1002, "comm": "beta", "cost_per_hour": lo}])
        fake = FakeAgent(path, snap)
        self.addCleanup(fake.close)
        t = Tmux(self.tmp, 80, 20)
        self.addCleanup(t.close)
        t.run("%s top -d 0.2 --socket %s; echo EXIT=$?" % (AGENT, path))

        def order(s):
            return [r["COMM"] for r in parse_table(s)[1]]

        def sorted_by_data(s):
            rows = parse_table(s)[1]
            costs = [float(r["$/H"]) for r in rows]
            return len(rows) == 2 and costs == sorted(costs, reverse=True)
        # unheld, the order follows the data: both orders come up
        seen = set()
        t.wait(lambda s: sorted_by_data(s) and seen.add(tuple(order(s))) is None
               and len(seen) == 2, "both orders while the data swaps", timeout=10)

        t.keys("Down")
        t0 = time.monotonic()
        first, held_against_data = None, 0
        while time.monotonic() - t0 < 0.8:
            s = t.screen()
            if len(parse_table(s)[1]) == 2:
                first = first or order(s)
                check_eq(order(s), first, "rows in place %.2f s after a key"
                         % (time.monotonic() - t0))
                held_against_data += not sorted_by_data(s)
            time.sleep(0.05)
        check_true(held_against_data > 0, "values refreshed while the order was held "
                   "(a screen whose order is not the data's)", held_against_data)
        time.sleep(0.5)
        seen.clear()
        t.wait(lambda s: sorted_by_data(s) and seen.add(tuple(order(s))) is None
               and len(seen) == 2, "the order follows the data again after the hold",
               timeout=10)
        t.keys("q")
        t.wait(lambda s: "EXIT=0" in s, "top quits")


class TopNoAgent(IntegrationCase):
    """What top says when it cannot read a snapshot."""

    def test_no_agent_message_and_status(self):
        sock = os.path.join(self.tmp, "nobody-here.sock")
        for args in (["--once"], ["--once", "--json"], []):
            res = subprocess.run([AGENT, "top", "--socket", sock] + args, capture_output=True,
                                 text=True, timeout=20, stdin=subprocess.DEVNULL)
            what = "top %s with no agent" % " ".join(args)
            check_eq(res.returncode, 1, what + ": exit status")
            text = json.loads(res.stdout)["error"] if "--json" in args else res.stderr
            check_true("no infertrace agent answers on %s" % sock in text
                       and "sudo infertrace agent" in text and "sudo make run" in text,
                       what + ": says so and how to start one", text)

        # a socket file left by an agent that is gone: the same, in a terminal
        dead = os.path.join(self.tmp, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(dead)
        s.close()
        t = Tmux(self.tmp, 80, 24)
        self.addCleanup(t.close)
        before = t.flags()
        t.run("%s top --socket %s; echo EXIT=$?" % (AGENT, dead))
        screen = t.wait(lambda s: "EXIT=1" in s and s, "top exits 1 with no agent")
        check_true("connection refused" in screen and "sudo infertrace agent" in screen,
                   "the message on the terminal", screen)
        check_eq(t.flags(), before, "the terminal untouched")

    def test_permission_denied(self):
        """A root-only (0600) socket read by another user."""
        d = tempfile.mkdtemp(prefix="infertrace-top-perm-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        sock = os.path.join(d, "agent.sock")
        s = socket.socket(socket.AF_UNIX)
        self.addCleanup(s.close)
        s.bind(sock)
        os.chmod(sock, 0o600)
        s.listen(1)
        res = subprocess.run([require_tool("setpriv"), "--reuid=65534", "--regid=65534",
                              "--clear-groups", AGENT, "top", "--once", "--socket", sock],
                             capture_output=True, text=True, timeout=20)
        check_eq(res.returncode, 1, "exit status")
        check_true("permission denied on %s" % sock in res.stderr
                   and "sudo infertrace top" in res.stderr and "--socket-group" in res.stderr,
                   "says to run as root or be in the --socket-group", res.stderr)

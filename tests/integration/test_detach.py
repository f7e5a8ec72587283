"""After SIGTERM the agent exits 0 and leaves nothing attached.

While the agent runs, its BPF programs are found in `bpftool -j prog show`
(by the names of the programs in build/bpf/*.bpf.o, and by the usual
prefixes), with the links that attach them (`bpftool -j link show`). After
it exits, none of them may remain, nor any legacy uprobe/kprobe event libbpf
would have created for it in tracefs (named libbpf_<pid>_...).
"""
import glob
import json
import os
import shutil
import subprocess
import unittest

from helpers import (ROOT, IntegrationCase, check_eq, check_true, require_tool,
                     summarize, unique_token)

# Prefixes of the agent's program names (tls_enter, enter_read, exit_write,
# proc_exec, sock_state, ...).
PREFIXES = ("tls_", "enter_", "exit_", "proc_", "sock_state")
# The kernel keeps 15 characters of a program's name (BPF_OBJ_NAME_LEN - 1).
KERNEL_NAME_LEN = 15


def object_program_names():
    """Names of the programs in build/bpf/*.bpf.o: function symbols outside
    .text (.text holds subprograms, which are not loaded on their own)."""
    objdump = require_tool("llvm-objdump")
    names = set()
    for obj in glob.glob(os.path.join(ROOT, "build", "bpf", "*.bpf.o")):
        out = subprocess.run([objdump, "-t", obj], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        for line in out.splitlines():
            # 0000000000000000 g     F uprobe	0000000000000300 tls_enter
            parts = line.split()
            if len(parts) >= 6 and parts[2] == "F" and parts[3] != ".text":
                names.add(parts[-1])
    return names


def bpftool_json(*args):
    bpftool = require_tool("bpftool")
    out = subprocess.run([bpftool, "-j"] + list(args), capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return json.loads(out or "[]")


def tracefs_file(name):
    """Contents of a tracefs file. When tracefs is not mounted, it is read
    from a private mount namespace, leaving the system's mounts as they are."""
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        path = os.path.join(d, name)
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
    unshare = shutil.which("unshare")
    check_true(unshare, "unshare(1) to mount tracefs privately (util-linux)")
    res = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c",
                          "mount -t tracefs nodev /sys/kernel/tracing && "
                          "cat /sys/kernel/tracing/" + name],
                         capture_output=True, text=True, timeout=30)
    check_eq(res.returncode, 0, "reading %s from a private tracefs mount (stderr %r)"
             % (name, res.stderr))
    return res.stdout


class Detach(IntegrationCase):

    def test_sigterm_detaches_everything(self):
        names = object_program_names()
        check_true(names, "program names found in build/bpf/*.bpf.o")

        def ours(prog):
            name = prog.get("name", "")
            return name.startswith(PREFIXES) or any(
                name == n or (len(name) == KERNEL_NAME_LEN and n.startswith(name))
                for n in names)

        before = {p["id"] for p in bpftool_json("prog", "show") if ours(p)}
        check_eq(sorted(before), [], "programs named like ours before the agent starts "
                 "(another agent running?)")

        agent = self.start_agent()
        # Some traffic, so that every kind of probe has fired once.
        server = self.start_server("tls")
        token = unique_token()
        self.curl(server.url(100, token))
        server.wait_entry(token)

        progs = [p for p in bpftool_json("prog", "show") if ours(p)]
        check_true(progs, "the agent's programs are listed by `bpftool prog show` while it runs")
        prog_ids = {p["id"] for p in progs}
        links = [link for link in bpftool_json("link", "show") if link.get("prog_id") in prog_ids]
        legacy = "libbpf_%d_" % agent.pid

        check_eq(agent.stop(), 0, "agent exit status after SIGTERM")
        check_eq(agent.records()[-1].get("event"), "stop", "last record is the stop record")

        left = [p for p in bpftool_json("prog", "show") if ours(p) or p["id"] in prog_ids]
        if left:
            raise AssertionError("programs left after the agent exited (%d were loaded):\n%s"
                                 % (len(progs), summarize(left)))
        left_links = [link for link in bpftool_json("link", "show")
                      if link.get("prog_id") in prog_ids
                      or link.get("id") in {l["id"] for l in links}]
        if left_links:
            raise AssertionError("links left after the agent exited (%d were there):\n%s"
                                 % (len(links), summarize(left_links)))
        for name in ("uprobe_events", "kprobe_events"):
            lines = [l for l in tracefs_file(name).splitlines() if legacy in l]
            check_eq(lines, [], "%s lines of agent pid %d after it exited" % (name, agent.pid))


if __name__ == "__main__":
    unittest.main()

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
import tempfile
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
    """Contents of a tracefs file ("" when the kernel has no such file: without
    CONFIG_UPROBE_EVENTS there is no uprobe_events, and no legacy uprobe can
    be left behind). When tracefs is not mounted, it is mounted in a private
    mount namespace, leaving the system's mounts as they are."""
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(os.path.join(d, "README")):  # a mounted tracefs
            path = os.path.join(d, name)
            if not os.path.exists(path):
                return ""
            with open(path) as f:
                return f.read()
    unshare = shutil.which("unshare")
    check_true(unshare, "unshare(1) to mount tracefs privately (util-linux)")
    mnt = tempfile.mkdtemp(prefix="tracefs-")
    try:
        res = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c",
                              'mount -t tracefs nodev "$1" && '
                              '{ [ ! -e "$1/$2" ] || cat "$1/$2"; }', "sh", mnt, name],
                             capture_output=True, text=True, timeout=30)
    finally:
        os.rmdir(mnt)
    check_eq(res.returncode, 0, "reading %s from a private tracefs mount (stderr %r)"
             % (name, res.stderr))
    return res.stdout


def bpf_objects_of(pid):
    """(program ids, link ids) the process holds open, from its fdinfo: the
    agent's own objects, told apart from those of any other agent running
    on the machine at the same time."""
    progs, links = set(), set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
            if not target.startswith("anon_inode:bpf"):
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:  # fd closed meanwhile
            continue
        if target == "anon_inode:bpf-prog" and "prog_id" in info:
            progs.add(int(info["prog_id"]))
        elif target == "anon_inode:bpf_link" and "link_id" in info:
            links.add(int(info["link_id"]))
    return progs, links


def bpf_objects_held():
    """Program and link ids that any live process holds open."""
    progs, links = set(), set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                p, l = bpf_objects_of(int(pid))
            except OSError:  # gone, or a kernel thread
                continue
            progs |= p
            links |= l
    return progs, links


class Detach(IntegrationCase):

    def test_sigterm_detaches_everything(self):
        names = object_program_names()
        check_true(names, "program names found in build/bpf/*.bpf.o")

        def named_like_ours(prog):
            name = prog.get("name", "")
            return name.startswith(PREFIXES) or any(
                name == n or (len(name) == KERNEL_NAME_LEN and n.startswith(name))
                for n in names)

        # Another agent (a developer's) may be running: programs named like
        # ours that exist before this test are not this test's business.
        before = {p["id"] for p in bpftool_json("prog", "show") if named_like_ours(p)}

        agent = self.start_agent()
        # Some traffic, so that the probes have fired.
        server = self.start_server("tls")
        token = unique_token()
        self.curl(server.url(100, token))
        server.wait_entry(token)

        prog_ids, link_ids = bpf_objects_of(agent.pid)
        loaded = [p for p in bpftool_json("prog", "show") if p["id"] in prog_ids]
        check_true(loaded, "the agent holds BPF programs listed by `bpftool prog show`",
                   sorted(prog_ids))
        check_true(all(named_like_ours(p) for p in loaded),
                   "the agent's programs have the names of build/bpf/*.bpf.o",
                   sorted(p.get("name") for p in loaded))
        check_true(link_ids, "the agent holds BPF links while it runs")
        attached = [l for l in bpftool_json("link", "show") if l["id"] in link_ids]
        check_true(attached, "the agent's links are listed by `bpftool link show`",
                   sorted(link_ids))
        legacy = "libbpf_%d_" % agent.pid

        check_eq(agent.stop(), 0, "agent exit status after SIGTERM")
        check_eq(agent.records()[-1].get("event"), "stop", "last record is the stop record")

        # Ours: the ids the agent held, and any other program with one of our
        # names that appeared meanwhile and that no live process holds (one
        # held by a process is another agent's, started meanwhile).
        held, _ = bpf_objects_held()
        left = [p for p in bpftool_json("prog", "show")
                if p["id"] in prog_ids
                or (named_like_ours(p) and p["id"] not in before and p["id"] not in held)]
        if left:
            raise AssertionError("programs left after the agent exited (%d were loaded):\n%s"
                                 % (len(loaded), summarize(left)))
        left_links = [l for l in bpftool_json("link", "show")
                      if l["id"] in link_ids or l.get("prog_id") in prog_ids]
        if left_links:
            raise AssertionError("links left after the agent exited (%d were there):\n%s"
                                 % (len(attached), summarize(left_links)))
        for name in ("uprobe_events", "kprobe_events"):
            lines = [l for l in tracefs_file(name).splitlines() if legacy in l]
            check_eq(lines, [], "%s lines of agent pid %d after it exited" % (name, agent.pid))


if __name__ == "__main__":
    unittest.main()

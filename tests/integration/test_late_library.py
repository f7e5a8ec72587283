"""A TLS library first mapped after the agent started.

A python client started after the agent loads a private copy of libssl.so.3
(LD_LIBRARY_PATH pointing at a temporary directory): a file the agent did
not probe at start. The agent must notice the new mapping and attach to the
copy (within ~100 ms); the client waits 1 s after `import ssl` before doing
TLS, then its connection must be traced with exact counts.
"""
import json
import os
import shutil
import unittest

from helpers import (PYCLIENT, PYTHON, IntegrationCase, check_eq, check_true, comm_of,
                     own_cgroup_id, run_client, summarize, unique_token, wait_for)


def libssl_of(pid):
    """Path of the libssl mapped by a running process."""
    with open("/proc/%d/maps" % pid) as f:
        paths = sorted({line.split()[-1] for line in f if "libssl" in line and "/" in line})
    check_eq(len(paths), 1, "libssl files mapped by pid %d (%s)" % (pid, paths))
    return paths[0]


class LateLibrary(IntegrationCase):

    def test_private_libssl_copy(self):
        agent = self.start_agent()
        files_at_start = agent.start_record.get("files_attached")
        server = self.start_server("tls")

        # Copy the very libssl python uses (seen in the server's maps), under
        # its usual name, into a directory of its own.
        libdir = os.path.join(self.tmp, "lib")
        os.mkdir(libdir)
        src = libssl_of(server.pid)
        copy = os.path.join(libdir, os.path.basename(src))
        shutil.copy2(src, copy)

        token = unique_token()
        env = dict(os.environ, LD_LIBRARY_PATH=libdir)
        pid, out, _ = run_client(self.procs, [PYTHON, PYCLIENT, "--sleep-after-import", "1",
                                              server.url(12345, token)],
                                 what="pyclient.py with a private libssl", env=env)
        lines = [json.loads(line) for line in out.splitlines()]
        check_eq(lines[0]["body_bytes"], 12345, "body bytes pyclient.py read")
        # Else the test would not test a late library at all.
        check_eq(lines[-1]["libssl"], [copy], "libssl mapped by the client")

        entry = server.wait_entry(token)
        self.expect_pair(agent, server, entry, pid, comm_of(PYTHON), "openssl",
                         client_cgroup=own_cgroup_id())

        # The copy is one more probed file: files_attached grows.
        def grown():
            later = [r for r in agent.records("agent") if r.get("event") == "interval"]
            return later and later[-1].get("files_attached", 0) > files_at_start
        wait_for(grown, 5, "an interval record with files_attached > %s (the start's)"
                 % files_at_start,
                 describe=lambda: summarize([r for r in agent.records("agent")]))
        check_true(isinstance(files_at_start, int) and files_at_start > 0,
                   "start record files_attached > 0", files_at_start)


if __name__ == "__main__":
    unittest.main()

"""Connections that end other than by a close seen while the agent runs.

- SIGTERM or SIGINT while a connection is open: the agent reports it with
  close_reason "shutdown" and the exact bytes moved so far, then exits 0.
- --conn-idle: a connection left idle that long is reported with
  close_reason "idle".

The client (holdclient.py) keeps its TLS connection open after reading the
whole response, until the test closes its stdin; the server (/hold/N) keeps
it open too. The client's own counts are the expectation (the server's log
is written only when the connection closes, and is checked afterwards).
"""
import json
import signal
import subprocess
import unittest

from helpers import (HOLDCLIENT, PYTHON, IntegrationCase, check_eq, comm_of, own_cgroup_id,
                     read_line, unique_token)


class ConnectionEnd(IntegrationCase):

    def open_held_connection(self, server, size):
        """Start holdclient.py; return (process, its report) once it has read
        the whole response, the connection still open."""
        token = unique_token()
        proc = self.procs.spawn([PYTHON, HOLDCLIENT, str(server.port),
                                 "/hold/%d?id=%s" % (size, token)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        report = json.loads(read_line(proc.stdout, 15, "holdclient.py's report"))
        return proc, report, token

    def close_and_check_server_log(self, server, proc, report, token):
        proc.stdin.close()
        check_eq(proc.wait(timeout=15), 0, "holdclient.py exit status")
        entry = server.wait_entry(token)
        check_eq((entry["client_port"], entry["bytes_received"], entry["bytes_sent"]),
                 (report["local_port"], report["bytes_sent"], report["bytes_received"]),
                 "server log (client port, received, sent) vs. the client's counts")

    def expect_both(self, agent, server, proc, report, reasons, timeout):
        agent.expect_connection(
            pid=proc.pid, comm=comm_of(PYTHON), role="client", client_port=report["local_port"],
            server_port=server.port, tls="openssl", sent=report["bytes_sent"],
            received=report["bytes_received"], cgroup_id=own_cgroup_id(),
            close_reasons=reasons, timeout=timeout, what="held client record")
        agent.expect_connection(
            pid=server.pid, comm=server.comm, role="server", client_port=report["local_port"],
            server_port=server.port, tls="openssl", sent=report["bytes_received"],
            received=report["bytes_sent"], cgroup_id=server.cgroup_id,
            close_reasons=reasons, timeout=timeout, what="held server record")

    def check_shutdown(self, sig):
        agent = self.start_agent()
        server = self.start_server("tls")
        proc, report, token = self.open_held_connection(server, 4321)
        check_eq(agent.stop(sig=sig), 0, "agent exit status after %s" % signal.Signals(sig).name)
        # Everything is in the file now: no waiting.
        self.expect_both(agent, server, proc, report, ("shutdown",), timeout=0)
        check_eq(agent.records()[-1].get("event"), "stop", "last record is the stop record")
        self.close_and_check_server_log(server, proc, report, token)

    def test_open_connection_at_sigterm(self):
        self.check_shutdown(signal.SIGTERM)

    def test_open_connection_at_sigint(self):
        self.check_shutdown(signal.SIGINT)

    def test_idle_connection(self):
        agent = self.start_agent("--conn-idle", "2")
        server = self.start_server("tls")
        proc, report, token = self.open_held_connection(server, 999)
        # 2 s idle, found at the next 1 s interval at the latest: 15 s is ample.
        self.expect_both(agent, server, proc, report, ("idle",), timeout=15)
        self.close_and_check_server_log(server, proc, report, token)


if __name__ == "__main__":
    unittest.main()

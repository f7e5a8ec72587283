"""--pid and --comm: only the selected processes are reported.

Each test runs its own agent with a filter, makes traffic between a selected
and an unselected process, checks the selected one's record exactly, then
stops the agent (flushing everything) and checks that no connection or usage
record names any other process.
"""
import unittest

from helpers import (IntegrationCase, check_eq, comm_of, own_cgroup_id, require_tool,
                     summarize, unique_token)


class Filters(IntegrationCase):

    def check_only(self, agent, pred, what):
        check_eq(agent.stop(), 0, "agent exit status after SIGTERM")
        others = [r for r in agent.records() if r.get("type") in ("connection", "usage")
                  and not pred(r)]
        if others:
            raise AssertionError("records outside the filter (%s): expected none, seen:\n%s"
                                 % (what, summarize(others)))

    def test_pid_filter(self):
        """--pid SERVER: the server's record, none of curl's."""
        server = self.start_server("tls")  # before the agent: its pid is needed
        agent = self.start_agent("--pid", str(server.pid))
        token = unique_token()
        curl_pid, _ = self.curl(server.url(3000, token))
        entry = server.wait_entry(token)
        agent.expect_connection(
            pid=server.pid, comm=server.comm, role="server", client_port=entry["client_port"],
            server_port=server.port, tls="openssl", sent=entry["bytes_sent"],
            received=entry["bytes_received"], cgroup_id=server.cgroup_id)
        self.check_only(agent, lambda r: r.get("pid") == server.pid,
                        "--pid %d; curl was pid %d" % (server.pid, curl_pid))

    def test_comm_filter(self):
        """--comm curl: curl's record, none of the python server's."""
        curl = require_tool("curl")
        agent = self.start_agent("--comm", comm_of(curl))
        server = self.start_server("tls")
        token = unique_token()
        curl_pid, _ = self.curl(server.url(3000, token))
        entry = server.wait_entry(token)
        agent.expect_connection(
            pid=curl_pid, comm=comm_of(curl), role="client", client_port=entry["client_port"],
            server_port=server.port, tls="openssl", sent=entry["bytes_received"],
            received=entry["bytes_sent"], cgroup_id=own_cgroup_id())
        self.check_only(agent, lambda r: r.get("comm") == comm_of(curl) and r.get("pid") == curl_pid,
                        "--comm %s; the server was pid %d" % (comm_of(curl), server.pid))

    def test_two_pids(self):
        """--pid given twice: both processes (two servers, one curl each)."""
        s1 = self.start_server("tls")
        s2 = self.start_server("tls")
        agent = self.start_agent("-p", str(s1.pid), "-p", str(s2.pid))
        for server in (s1, s2):
            token = unique_token()
            self.curl(server.url(777, token))
            entry = server.wait_entry(token)
            agent.expect_connection(
                pid=server.pid, comm=server.comm, role="server", client_port=entry["client_port"],
                server_port=server.port, tls="openssl", sent=entry["bytes_sent"],
                received=entry["bytes_received"], cgroup_id=server.cgroup_id)
        self.check_only(agent, lambda r: r.get("pid") in (s1.pid, s2.pid),
                        "-p %d -p %d" % (s1.pid, s2.pid))


if __name__ == "__main__":
    unittest.main()

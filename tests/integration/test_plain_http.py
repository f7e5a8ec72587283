"""Plain HTTP (no TLS) on a port given with --http-port: read/write/send/recv
syscalls on the TCP sockets, tls.library null on both sides.

The port must be known before the agent starts, so it is picked with
free_port() rather than by the server.
"""
import unittest

from helpers import (IntegrationCase, check_eq, comm_of, free_port, own_cgroup_id,
                     require_tool, summarize, unique_token)


class PlainHttp(IntegrationCase):

    def test_plain_http_port(self):
        port = free_port()
        agent = self.start_agent("--http-port", str(port))
        server = self.start_server("plain", port=port)
        check_eq(server.port, port, "plain server port")
        token = unique_token()
        pid, wout = self.curl(server.url(70000, token))
        entry = server.wait_entry(token)
        check_eq(wout["size_request"], entry["bytes_received"], "curl's request size vs. server log")
        check_eq(wout["size_header"] + wout["size_download"], entry["bytes_sent"],
                 "curl's received bytes vs. server log")
        self.expect_pair(agent, server, entry, pid, comm_of(require_tool("curl")), None,
                         client_cgroup=own_cgroup_id())

    def test_other_port_not_traced(self):
        """Plain traffic on a port not given with --http-port is not reported."""
        agent = self.start_agent("--http-port", str(free_port()))
        server = self.start_server("plain")  # another port
        token = unique_token()
        pid, _ = self.curl(server.url(5000, token))
        server.wait_entry(token)
        # Stopping the agent flushes whatever it had: nothing may name these.
        check_eq(agent.stop(), 0, "agent exit status")
        ours = [r for r in agent.records("connection")
                if r.get("pid") in (pid, server.pid)
                or server.port in (r.get("server.port"), r.get("client.port"))]
        if ours:
            raise AssertionError("connection records for plain HTTP on port %d, which was not "
                                 "given with --http-port: expected none, seen:\n%s"
                                 % (server.port, summarize(ours)))


if __name__ == "__main__":
    unittest.main()

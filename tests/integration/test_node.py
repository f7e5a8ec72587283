"""node as an HTTPS client and as an HTTPS server.

/usr/bin/node may link OpenSSL statically (upstream builds: the agent probes
SSL_write/SSL_read in the node executable itself) or dynamically (Debian's
nodejs: libssl.so.3). Either way the records must say tls.library "openssl"
and carry exact plaintext counts. node drives OpenSSL through memory BIOs, so
the socket of a TLS object is found differently than for curl.
"""
import json
import unittest

from helpers import (NODE_CLIENT, IntegrationCase, check_eq, comm_of,
                     own_cgroup_id, require_tool, run_client, unique_token)


class Node(IntegrationCase):
    SHARED_AGENT_ARGS = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.node = require_tool("node")

    def test_node_client(self):
        """https.get from node to the python server."""
        server = self.start_server("tls")
        token = unique_token()
        pid, out, _ = run_client(self.procs, [self.node, NODE_CLIENT, server.url(40000, token)],
                                 what="node_client.js")
        report = json.loads(out.splitlines()[-1])
        check_eq(report["body_bytes"], 40000, "body bytes node read")
        entry = server.wait_entry(token)
        check_eq(report["local_port"], entry["client_port"], "node's local port vs. server log")
        self.expect_pair(self.agent, server, entry, pid, comm_of(self.node), "openssl",
                         client_cgroup=own_cgroup_id())

    def test_node_server(self):
        """https.createServer in node, curl as the client."""
        node_server = self.start_server("node")
        token = unique_token()
        pid, wout = self.curl(node_server.url(25000, token))
        entry = node_server.wait_entry(token)
        check_eq(wout["size_request"], entry["bytes_received"], "curl's request size vs. node's log")
        check_eq(wout["size_header"] + wout["size_download"], entry["bytes_sent"],
                 "curl's received bytes vs. node's log")
        self.expect_pair(self.agent, node_server, entry, pid, comm_of(require_tool("curl")),
                         "openssl", client_cgroup=own_cgroup_id())


if __name__ == "__main__":
    unittest.main()

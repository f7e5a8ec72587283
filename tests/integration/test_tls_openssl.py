"""OpenSSL through libssl.so.3: curl and python's urllib as clients, python's
ssl module as the server. One agent is shared by the tests of each class.

Both ends of every connection are checked against the server's own log of
plaintext bytes: the client must have sent exactly what the server received
and received exactly what the server sent. curl (7.88, Debian 12) calls
SSL_write/SSL_read and python's ssl module SSL_write_ex/SSL_read_ex, so
between the two every OpenSSL uprobe is exercised: without the one on
SSL_read, curl's bytes_received is 0; without SSL_read_ex, the python
server's is.
"""
import json
import os
import unittest

from helpers import (PYCLIENT, PYTHON, IntegrationCase, check_eq, comm_of,
                     own_cgroup_id, require_tool, run_client, unique_token)


class CurlToPythonServer(IntegrationCase):
    SHARED_AGENT_ARGS = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.curl_comm = comm_of(require_tool("curl"))

    def fetch_and_check(self, size, *curl_args):
        server = self.start_server("tls")
        token = unique_token()
        pid, wout = self.curl(server.url(size, token), *curl_args)
        entry = server.wait_entry(token)
        # The server's log is the ground truth; check it against curl's own
        # view first, so that a broken server fails as such.
        check_eq(wout["local_port"], entry["client_port"], "curl's local port vs. server log")
        check_eq(wout["size_request"], entry["bytes_received"], "curl's request size vs. server log")
        check_eq(wout["size_header"] + wout["size_download"], entry["bytes_sent"],
                 "curl's received bytes vs. server log")
        self.expect_pair(self.agent, server, entry, pid, self.curl_comm, "openssl",
                         client_cgroup=own_cgroup_id())

    def test_get_small(self):
        """A response that fits in one TLS record."""
        self.fetch_and_check(100)

    def test_get_large(self):
        """A 200 KB response: many SSL_read_ex calls, more than the capture
        size (bytes are counted, not captured)."""
        self.fetch_and_check(200000)

    def test_post_body(self):
        """A 50 KB request body: several SSL_write_ex calls by curl, several
        SSL_read_ex calls by the server."""
        body = os.path.join(self.tmp, "body.bin")
        with open(body, "wb") as f:
            f.write(b"b" * 50000)
        self.fetch_and_check(10, "--data-binary", "@" + body)

    def test_parallel_clients(self):
        """Three curls at once to one server: each connection is kept apart."""
        curl = require_tool("curl")
        server = self.start_server("tls")
        tokens = [unique_token() for _ in range(3)]
        procs = [self.procs.spawn([curl, "-sS", "-k", "--max-time", "20", "-o", "/dev/null",
                                   server.url(1000 * (i + 1), t)])
                 for i, t in enumerate(tokens)]
        for p in procs:
            check_eq(p.wait(timeout=30), 0, "exit status of curl pid %d" % p.pid)
        for p, t in zip(procs, tokens):
            entry = server.wait_entry(t)
            self.expect_pair(self.agent, server, entry, p.pid, self.curl_comm, "openssl",
                             client_cgroup=own_cgroup_id())


class PythonClientToPythonServer(IntegrationCase):
    """python3 (urllib) on both ends: two processes with the same comm."""
    SHARED_AGENT_ARGS = []

    def test_urllib_get(self):
        server = self.start_server("tls")
        token = unique_token()
        pid, out, _ = run_client(self.procs, [PYTHON, PYCLIENT, server.url(30000, token)],
                                 what="pyclient.py")
        check_eq(json.loads(out.splitlines()[0])["body_bytes"], 30000,
                 "body bytes pyclient.py read")
        entry = server.wait_entry(token)
        self.expect_pair(self.agent, server, entry, pid, comm_of(PYTHON), "openssl",
                         client_cgroup=own_cgroup_id())


if __name__ == "__main__":
    unittest.main()

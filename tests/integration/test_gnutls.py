"""GnuTLS: gnutls-cli as the client (gnutls_record_send/gnutls_record_recv),
python's ssl module (OpenSSL) as the server.

gnutls-cli sends what it reads on stdin and prints what it receives. Its
stdin is kept open until it exits: on end of input it would close the session
before the response came. It exits when the server ends the TLS session
(close_notify) after the response.
"""
import subprocess
import unittest

from helpers import (CLIENT_TIMEOUT, IntegrationCase, check_eq, check_true, comm_of,
                     own_cgroup_id, require_tool, unique_token)


class GnutlsCli(IntegrationCase):
    SHARED_AGENT_ARGS = []

    def test_gnutls_cli_client(self):
        gnutls_cli = require_tool("gnutls-cli")
        server = self.start_server("tls")
        token = unique_token()
        request = ("GET /bytes/30000?id=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Connection: close\r\n\r\n" % token).encode()
        proc = self.procs.spawn([gnutls_cli, "--insecure", "--port", str(server.port), "127.0.0.1"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdin.write(request)
        proc.stdin.flush()
        try:
            out, err = proc.communicate(timeout=CLIENT_TIMEOUT)  # closes stdin after exit
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("gnutls-cli did not exit within %ds" % CLIENT_TIMEOUT)
        check_true(out.count(b"x" * 30000) == 1, "gnutls-cli printed the 30000-byte body",
                   out[-300:])

        entry = server.wait_entry(token)
        check_eq(entry["bytes_received"], len(request), "request bytes in the server log")
        self.expect_pair(self.agent, server, entry, proc.pid, comm_of(gnutls_cli), "gnutls",
                         tls_server="openssl", client_cgroup=own_cgroup_id())


if __name__ == "__main__":
    unittest.main()

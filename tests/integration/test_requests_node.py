"""Request records for node's built-in fetch() (undici), the transport of
the OpenAI and Anthropic JavaScript SDKs, to the mock over TLS (HTTP/1.1;
node carries its own OpenSSL). fetch() asks for compressed bodies and
decodes them itself; the agent decodes what it captured.
"""
import unittest

from llmhelpers import LLMCase, chat, fetch, messages
from helpers import check_eq

SDK_HEADERS = {"accept": "application/json", "accept-encoding": "gzip, deflate, br",
               "x-stainless-lang": "js", "x-stainless-runtime": "node"}


class NodeFetchRequests(LLMCase):

    def run_fetch(self, reqs):
        for r in reqs:
            r.headers.update(SDK_HEADERS)
        pid, _, res = fetch(self, self.server, reqs)
        check_eq([r["error"] for r in res], [None] * len(reqs), "fetch errors")
        for r, q in zip(res, reqs):
            e = self.server.entry(q)
            check_eq(r["body_bytes"], e["response_body_decoded_bytes"],
                     "bytes fetch() decoded vs. the mock's decoded body (%s)" % q.path)
            check_eq(e["http_version"], "1.1", "HTTP version fetch() used")
        return pid, res

    def test_fetch_openai_stream_br(self):
        """Streamed chat with include_usage, brotli, 150 ms before the first token."""
        req = chat(stream=True, usage=True, input=256, output=512, cached=128, reasoning=100,
                   encoding="br", delay_ms=150, gap_ms=5, chunks=10)
        pid, res = self.run_fetch([req])
        self.expect_client(req, pid, self.node_comm, t_done=res[0]["t_end"])

    def test_fetch_anthropic_nonstream_gzip(self):
        req = messages(input=15, output=25, cached=600, cache_write=40, encoding="gzip")
        pid, res = self.run_fetch([req])
        self.expect_client(req, pid, self.node_comm, t_done=res[0]["t_end"])

    def test_fetch_two_requests(self):
        """Two fetches in a row (undici keeps the connection): two records."""
        reqs = [messages(stream=True, input=501, output=51, encoding="gzip", delay_ms=60),
                chat(input=502, output=52)]
        pid, res = self.run_fetch(reqs)
        self.expect_clients(reqs, pid, self.node_comm, [r["t_end"] for r in res])


if __name__ == "__main__":
    unittest.main()

"""Request records for the Anthropic Messages API over TLS to the mock.

Anthropic's usage.input_tokens EXCLUDES the cache: the agent's
gen_ai.usage.input_tokens must be input + cache_read + cache_creation (the
OpenTelemetry convention), with the raw input_tokens in
x_provider_input_tokens. Streams carry the input numbers in message_start
(with output_tokens 1) and the final output count in message_delta.
"""
import unittest

from llmhelpers import LLMCase, messages, curl, pyclient
from helpers import check_eq

CUT_CODES = (18, 56, 92)


class AnthropicRequests(LLMCase):

    def one(self, req, http="1.1", host=None, outcome="ok"):
        ok = CUT_CODES if outcome == "cut" else (0,)
        pid, t_done, w = curl(self, self.server, [req], http=http, host=host, ok_codes=ok)
        self.check_curl_vs_log(w, [req], http)
        return self.expect_client(req, pid, self.curl_comm, host=host, t_done=t_done,
                                  outcome=outcome)

    def test_h1_nonstream_cache_compatible(self):
        """127.0.0.1: anthropic_compatible; input 50 + cache read 2000 + cache write 300."""
        self.one(messages(input=50, output=120, cached=2000, cache_write=300))

    def test_h2_stream_anthropic_host_gzip(self):
        """h2 to api.anthropic.com, gzip SSE, 200 ms before the first text
        delta (message_start, content_block_start and ping come first)."""
        self.one(messages(model="claude-opus-4-1-20250805", stream=True, input=12, output=345,
                          cached=4096, cache_write=0, delay_ms=200, gap_ms=15, chunks=7,
                          encoding="gzip"),
                 http="2", host="api.anthropic.com")

    def test_h1_stream_br_cache_write(self):
        """HTTP/1.1 stream, brotli, a cache write and no cache read."""
        self.one(messages(model="claude-3-5-haiku-20241022", stream=True, input=7, output=77,
                          cached=0, cache_write=1500, encoding="br", chunks=5),
                 host="api.anthropic.com")

    def test_h2_nonstream_br(self):
        """Non-streamed over h2, brotli, a snapshot model name in the response."""
        self.one(messages(model="claude-sonnet-4-0", input=3, output=1999, cached=512,
                          cache_write=2048, encoding="br",
                          response_model="claude-sonnet-4-20250514"),
                 http="2", host="api.anthropic.com")

    def test_rate_limited_429(self):
        """429 rate_limit_error (stream asked, JSON error body)."""
        self.one(messages(stream=True, status=429), host="api.anthropic.com",
                 outcome="http_error")

    def test_overloaded_529_h2(self):
        self.one(messages(status=529), http="2", host="api.anthropic.com", outcome="http_error")

    def test_cut_stream_h2(self):
        """Reset after the content, before message_delta: outcome incomplete,
        usage estimated but keeping message_start's input numbers (raw 40,
        normalised 50), exact sizes and events, end_time after the content."""
        self.one(messages(stream=True, input=40, output=90, cached=10, cut=1, chunks=4,
                          delay_ms=150),
                 http="2", host="api.anthropic.com", outcome="cut")

    def test_python_keepalive_mixed(self):
        """python http.client: a stream, a non-stream and a 429 on one
        HTTP/1.1 connection to api.anthropic.com: three records, in order."""
        reqs = [messages(stream=True, input=301, output=31, cached=0, cache_write=64,
                         delay_ms=80),
                messages(input=302, output=32, cached=1024, encoding="gzip"),
                messages(status=429)]
        pid, _, res = pyclient(self, self.server, reqs, mode="keepalive",
                                    host="api.anthropic.com")
        check_eq([r["status"] for r in res], [200, 200, 429], "statuses http.client saw")
        check_eq(len({r["local_port"] for r in res}), 1, "connections http.client used")
        for r, q in zip(res, reqs):
            check_eq(r["body_bytes"], self.server.entry(q)["response_body_bytes"],
                     "body bytes http.client read vs. mock log")
        recs = self.rc.wait(pid, 3, role="client", client_port=res[0]["local_port"])
        for n, (rec, req) in enumerate(zip(recs, reqs)):
            self.expect_client(req, pid, self.python_comm, host="api.anthropic.com",
                               t_done=res[n]["t_end"], rec=rec,
                               outcome="http_error" if n == 2 else "ok",
                               what="keep-alive record #%d" % (n + 1))


if __name__ == "__main__":
    unittest.main()

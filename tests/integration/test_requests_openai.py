"""Request records for the OpenAI APIs (chat completions, completions,
embeddings, responses) and Azure OpenAI, over TLS to the mock LLM server
(tools/mockllm/server.js, node: HTTP/1.1 and h2 by ALPN).

Every usage number is set by the test (x-mock-* headers) and differs per
test, and every record is compared field by field with the mock's own log of
the exchange: tokens (normalised and raw), models, provider and operation,
stream flag, status, body sizes on the wire and decoded, TTFT against the
configured delay, outcome, and the record's freshness (<= 1 s after the
client finished).

On 127.0.0.1 the provider is "openai_compatible"; with curl --connect-to
(Host/:authority api.openai.com or x.openai.azure.com) it is the real one.
"""
import unittest

from llmhelpers import LLMCase, LLMRequest, chat, curl, pyclient
from helpers import check_eq

CUT_CODES = (18, 56, 92)  # curl: partial file, recv failure, HTTP/2 stream not closed cleanly


class OpenAIRequests(LLMCase):

    def one(self, req, http="1.1", host=None, outcome="ok"):
        ok = CUT_CODES if outcome == "cut" else (0,)
        pid, t_done, w = curl(self, self.server, [req], http=http, host=host, ok_codes=ok)
        self.check_curl_vs_log(w, [req], http)
        return self.expect_client(req, pid, self.curl_comm, host=host, t_done=t_done,
                                  outcome=outcome)

    # --- chat completions ---------------------------------------------------

    def test_chat_h1_nonstream_compatible(self):
        """Non-streamed chat on 127.0.0.1: openai_compatible, cached tokens."""
        self.one(chat(input=1234, output=56, cached=1024, reasoning=0))

    def test_chat_h2_stream_openai_host(self):
        """Streamed chat with include_usage over h2 to api.openai.com: the
        usage is in the last chunk (choices: []); TTFT >= the 300 ms the mock
        waits before the first content chunk (the role chunk comes first)."""
        self.one(chat(model="gpt-4o", stream=True, usage=True, input=321, output=87, cached=128,
                      reasoning=40, delay_ms=300, gap_ms=20, chunks=6),
                 http="2", host="api.openai.com")

    def test_chat_h1_stream_gzip(self):
        """Streamed chat, gzip-encoded SSE (flushed per event), chunked HTTP/1.1."""
        self.one(chat(stream=True, usage=True, input=77, output=301, cached=0, reasoning=256,
                      encoding="gzip", delay_ms=100, chunks=8))

    def test_chat_h2_nonstream_br(self):
        """Non-streamed chat, brotli body over h2."""
        self.one(chat(model="o3-mini", input=2048, output=999, cached=1536, reasoning=640,
                      encoding="br"), http="2", host="api.openai.com")

    def test_chat_h2_nonstream_headers_apart(self):
        """Non-streamed over h2 with the HEADERS frame sent 20 ms before the
        DATA frame (Content-Length set), 120 ms after the request."""
        self.one(chat(input=4321, output=8, cached=4096, headers_first=1, delay_ms=120),
                 http="2", host="api.openai.com")

    def test_chat_h2_stream_deflate(self):
        """Streamed chat, deflate (zlib) over h2."""
        self.one(chat(stream=True, usage=True, input=19, output=23, encoding="deflate",
                      chunks=4), http="2")

    def test_chat_h1_stream_raw_deflate(self):
        """"Content-Encoding: deflate" carrying a raw deflate stream (no zlib
        header), as some servers send: still decodable."""
        self.one(chat(stream=True, usage=True, input=31, output=37, encoding="deflate-raw",
                      chunks=4))

    def test_chat_stream_without_usage(self):
        """A stream without stream_options.include_usage has no usage at all:
        usage_source "estimated", no provider numbers."""
        self.one(chat(stream=True, usage=False, chunks=12, gap_ms=5))

    def test_chat_response_model_differs(self):
        """The response's model (a dated snapshot) is kept apart from the request's."""
        self.one(chat(model="gpt-4.1", input=5, output=6, response_model="gpt-4.1-2025-04-14"),
                 host="api.openai.com")

    # --- other OpenAI APIs --------------------------------------------------

    def test_completions_h1_stream(self):
        """Legacy completions, streamed with usage: text_completion."""
        body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time", "max_tokens": 30,
                "stream": True, "stream_options": {"include_usage": True}}
        self.one(LLMRequest("/v1/completions", body, input=4, output=30, chunks=5),
                 host="api.openai.com")

    def test_embeddings_h2(self):
        """Embeddings: input tokens only, no output tokens (null)."""
        body = {"model": "text-embedding-3-small", "input": ["alpha", "beta", "gamma"],
                "encoding_format": "float", "dimensions": 64}
        self.one(LLMRequest("/v1/embeddings", body, input=417), http="2", host="api.openai.com")

    def test_responses_h1_nonstream(self):
        """Responses API: input_tokens/output_tokens and their details; gzip body."""
        body = {"model": "gpt-4o", "input": "Write a haiku", "store": False}
        self.one(LLMRequest("/v1/responses", body, input=812, output=64, cached=512, reasoning=0,
                            encoding="gzip"),
                 host="api.openai.com")

    def test_responses_h2_stream(self):
        """Responses API streamed: named SSE events, usage in response.completed;
        response.created/in_progress/output_item.added come before the delay."""
        body = {"model": "o4-mini", "input": "Write a haiku", "stream": True,
                "reasoning": {"effort": "low"}}
        self.one(LLMRequest("/v1/responses", body, input=90, output=410, cached=0, reasoning=384,
                            delay_ms=250, gap_ms=10, chunks=5), http="2", host="api.openai.com")

    # --- Azure OpenAI -------------------------------------------------------

    def test_azure_h1_nonstream(self):
        """Azure: the deployment in the path is the request model."""
        req = LLMRequest("/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-06-01",
                         {"messages": [{"role": "user", "content": "hi"}]},
                         input=63, output=17, cached=0)
        self.one(req, host="x.openai.azure.com")

    def test_azure_h2_stream(self):
        """Azure streams start with a prompt_filter_results chunk whose model
        is "": the response model must come from the later chunks. gzip."""
        req = LLMRequest("/openai/deployments/chat-mini/chat/completions?api-version=2024-06-01",
                         {"messages": [{"role": "user", "content": "hi"}], "stream": True,
                          "stream_options": {"include_usage": True}},
                         input=45, output=15, cached=0, delay_ms=150, chunks=4, encoding="gzip")
        self.one(req, http="2", host="x.openai.azure.com")

    # --- errors and cuts ----------------------------------------------------

    def test_rate_limited_429(self):
        """429 with an OpenAI error body (JSON although a stream was asked):
        outcome http_error, error.type set, no usage."""
        self.one(chat(stream=True, usage=True, status=429), http="2", host="api.openai.com",
                 outcome="http_error")

    def test_server_error_500_h1(self):
        self.one(chat(status=500), outcome="http_error")

    def test_cut_stream_h1(self):
        """The mock destroys the TCP connection after the last content chunk,
        before the usage chunk: a record must still come, outcome incomplete,
        usage estimated, exact body size and events, end_time (the last
        response byte) after the content, so duration >= the 150 ms delay."""
        self.one(chat(stream=True, usage=True, input=50, output=60, cut=1, chunks=5,
                      delay_ms=150),
                 outcome="cut")

    def test_cut_stream_h2(self):
        """Same over h2: the stream is reset (RST_STREAM)."""
        self.one(chat(stream=True, usage=True, input=51, output=61, cut=1, chunks=5,
                      delay_ms=150), http="2",
                 outcome="cut")

    # --- connections carrying several exchanges -----------------------------

    def test_keepalive_h1_three_requests(self):
        """curl --next: three exchanges on one HTTP/1.1 connection, each its
        own record, in order."""
        reqs = [chat(input=101, output=11),
                chat(stream=True, usage=True, input=102, output=12, encoding="gzip"),
                LLMRequest("/v1/embeddings", {"model": "text-embedding-3-large", "input": "x"},
                           input=103)]
        pid, t_done, w = curl(self, self.server, reqs, http="1.1")
        self.check_curl_vs_log(w, reqs, "1.1")
        check_eq(sum(x["num_connects"] for x in w), 1, "connections curl opened for 3 requests")
        port = w[0]["local_port"]
        recs = self.rc.wait(pid, 3, role="client", client_port=port)
        for rec, req in zip(recs, reqs):
            self.expect_client(req, pid, self.curl_comm, t_done=t_done, rec=rec,
                               what="keep-alive record #%d (%s)" % (reqs.index(req) + 1, req.path))

    def test_keepalive_h2_two_requests(self):
        """Two exchanges on one h2 connection (two streams), each its own record."""
        reqs = [chat(stream=True, usage=True, input=201, output=21, delay_ms=50),
                chat(input=202, output=22, encoding="br")]
        pid, t_done, w = curl(self, self.server, reqs, http="2", host="api.openai.com")
        self.check_curl_vs_log(w, reqs, "2")
        check_eq(sum(x["num_connects"] for x in w), 1, "connections curl opened for 2 requests")
        recs = self.rc.wait(pid, 2, role="client", client_port=w[0]["local_port"])
        for n, (rec, req) in enumerate(zip(recs, reqs)):
            self.expect_client(req, pid, self.curl_comm, host="api.openai.com", t_done=t_done,
                               rec=rec, what="h2 record #%d" % (n + 1))

    def test_not_inference_no_record(self):
        """GET /v1/models and a POST to an unknown path: traffic, no request record."""
        self.expect_no_request_record([("GET", "/v1/models"), ("POST", "/v1/unknown/thing")],
                                      "non-inference exchanges")

    # --- python clients -----------------------------------------------------

    def test_urllib_chat_openai_host(self):
        """python urllib (HTTP/1.1, Connection: close), Host: api.openai.com."""
        req = chat(model="gpt-4o-mini", stream=True, usage=True, input=640, output=128,
                   cached=384, delay_ms=120, chunks=4)
        pid, t_done, res = pyclient(self, self.server, [req], mode="urllib", host="api.openai.com")
        e = self.server.entry(req)
        check_eq(res[0]["status"], 200, "urllib status")
        check_eq(res[0]["local_port"], e["client_port"], "urllib local port vs. mock log")
        check_eq(res[0]["body_bytes"], e["response_body_bytes"], "urllib body bytes vs. mock log")
        self.expect_client(req, pid, self.python_comm, host="api.openai.com", t_done=t_done)

    def test_tls_server_side_record(self):
        """The mock (node, OpenSSL inside) is a TLS server: its side of an h2
        exchange gets a role "server" record with the same numbers."""
        req = chat(stream=True, usage=True, input=606, output=66, delay_ms=100)
        pid, t_done, w = curl(self, self.server, [req], http="2")
        self.expect_client(req, pid, self.curl_comm, t_done=t_done)
        self.expect_server(req, t_done=t_done)


if __name__ == "__main__":
    unittest.main()

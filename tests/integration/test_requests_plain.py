"""Request records for plain HTTP to a self-hosted inference server (the
mock in --plain mode plays Ollama and vLLM on the GPU node). The agent runs
with --http-port set to the server's port and must report BOTH sides of each
exchange: the client's record (role client) and the node server's record
(role server), with the same numbers; tls.library is null.

Ollama streams NDJSON when the request has no "stream" key, so
gen_ai.request.stream is true there; its usage is prompt_eval_count and
eval_count on the final "done": true line.
"""
import unittest

from llmhelpers import LLMCase, LLMRequest, chat, curl, pyclient
from helpers import check_eq

CUT_CODES = (18, 56)


def ollama_chat(model="llama3.2:3b", stream=None, **mock):
    body = {"model": model, "messages": [{"role": "user", "content": "Why is the sky blue?"}]}
    if stream is not None:
        body["stream"] = stream
    return LLMRequest("/api/chat", body, **mock)


def ollama_generate(model="qwen2.5:7b", stream=None, **mock):
    body = {"model": model, "prompt": "Why is the sky blue?", "options": {"num_predict": 64}}
    if stream is not None:
        body["stream"] = stream
    return LLMRequest("/api/generate", body, **mock)


class PlainRequests(LLMCase):
    MOCK_MODE = "plain"

    def both(self, req, outcome="ok"):
        """curl (HTTP/1.1) to the plain server; both records checked."""
        ok = CUT_CODES if outcome == "cut" else (0,)
        pid, t_done, w = curl(self, self.server, [req], http="1.1", ok_codes=ok)
        self.check_curl_vs_log(w, [req], "1.1")
        self.expect_client(req, pid, self.curl_comm, t_done=t_done, outcome=outcome)
        self.expect_server(req, t_done=t_done, outcome=outcome)

    def test_ollama_chat_default_stream(self):
        """/api/chat without "stream": NDJSON stream, 200 ms before the first line."""
        self.both(ollama_chat(input=26, output=298, delay_ms=200, gap_ms=10, chunks=6))

    def test_ollama_generate_nonstream(self):
        """/api/generate with "stream": false: one JSON object."""
        self.both(ollama_generate(stream=False, input=31, output=64))

    def test_ollama_chat_gzip_stream(self):
        """A gzip-encoded NDJSON stream (as behind a compressing proxy)."""
        self.both(ollama_chat(stream=True, input=8, output=16, encoding="gzip", chunks=4))

    def test_vllm_chat_stream_usage(self):
        """vLLM's OpenAI-compatible server: openai_compatible, usage chunk."""
        self.both(chat(model="meta-llama/Llama-3.1-8B-Instruct", stream=True, usage=True,
                       input=1500, output=700, cached=1024, delay_ms=100, chunks=5))

    def test_vllm_completions_nonstream(self):
        body = {"model": "Qwen/Qwen2.5-7B-Instruct", "prompt": "def fib(n):", "max_tokens": 50}
        self.both(LLMRequest("/v1/completions", body, input=5, output=50))

    def test_ollama_busy_503(self):
        self.both(ollama_chat(status=503), outcome="http_error")

    def test_ollama_cut_stream(self):
        """The server drops the connection before the final done line."""
        self.both(ollama_chat(input=9, output=99, cut=1, chunks=4, delay_ms=150), outcome="cut")

    def test_ollama_tags_no_record(self):
        """GET /api/tags (the model list) is not inference: no request record."""
        self.expect_no_request_record([("GET", "/api/tags")], "Ollama model list")

    def test_python_keepalive_both_sides(self):
        """Three exchanges on one plain keep-alive connection (http.client):
        three client records and three server records, in order."""
        reqs = [ollama_chat(stream=False, input=401, output=41),
                chat(model="mistral-7b", stream=True, usage=True, input=402, output=42,
                     delay_ms=50),
                ollama_generate(input=403, output=43, chunks=4)]
        pid, _, res = pyclient(self, self.server, reqs, mode="keepalive")
        check_eq([r["status"] for r in res], [200, 200, 200], "statuses http.client saw")
        check_eq(len({r["local_port"] for r in res}), 1, "connections http.client used")
        port = res[0]["local_port"]
        crecs = self.rc.wait(pid, 3, role="client", client_port=port)
        srecs = self.rc.wait(self.server.pid, 3, role="server", client_port=port)
        for n, req in enumerate(reqs):
            self.expect_client(req, pid, self.python_comm, t_done=res[n]["t_end"], rec=crecs[n],
                               what="client keep-alive record #%d (%s)" % (n + 1, req.path))
            self.expect_server(req, t_done=res[n]["t_end"], rec=srecs[n])


if __name__ == "__main__":
    unittest.main()

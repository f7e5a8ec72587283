"""Request records for Google Gemini and AWS Bedrock over TLS to the mock,
reached as generativelanguage.googleapis.com and
bedrock-runtime.us-east-1.amazonaws.com (curl --connect-to, or a Host header).

Gemini: the model is in the path; promptTokenCount includes the cached
content; thoughtsTokenCount is billed as output but is not part of
candidatesTokenCount, so gen_ai.usage.output_tokens = candidates + thoughts
(x_provider_output_tokens = candidatesTokenCount). Streamed chunks
(?alt=sse, CRLF line ends) each carry usageMetadata with a growing
candidates count: only the last chunk's numbers are the totals.

Bedrock: the model id is in the path, percent-encoded as the AWS SDKs send
it (%3A for ':'); gen_ai.request.model is the decoded id. Converse has usage
in the body (inputTokens excludes cache reads/writes); converse-stream is an
AWS event-stream (binary frames) with usage in the last "metadata" event;
InvokeModel gives the counts only in x-amzn-bedrock-*-token-count headers.
"""
import unittest

from llmhelpers import LLMCase, LLMRequest, curl, pyclient
from helpers import check_eq

GEMINI = "generativelanguage.googleapis.com"
BEDROCK = "bedrock-runtime.us-east-1.amazonaws.com"
CUT_CODES = (18, 56, 92)


def gemini(model, stream=False, **mock):
    path = "/v1beta/models/%s:%s" % (model, "streamGenerateContent?alt=sse" if stream
                                     else "generateContent")
    body = {"contents": [{"role": "user", "parts": [{"text": "Explain eBPF briefly"}]}],
            "generationConfig": {"maxOutputTokens": 256,
                                 "thinkingConfig": {"thinkingBudget": 1024}}}
    return LLMRequest(path, body, **mock)


def converse(model_id, stream=False, **mock):
    path = "/model/%s/%s" % (model_id.replace(":", "%3A"), "converse-stream" if stream else "converse")
    body = {"messages": [{"role": "user", "content": [{"text": "Explain eBPF briefly"}]}],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.5}}
    return LLMRequest(path, body, **mock)


class CloudRequests(LLMCase):

    def one(self, req, http="1.1", host=None, outcome="ok"):
        ok = CUT_CODES if outcome == "cut" else (0,)
        pid, t_done, w = curl(self, self.server, [req], http=http, host=host, ok_codes=ok)
        self.check_curl_vs_log(w, [req], http)
        return self.expect_client(req, pid, self.curl_comm, host=host, t_done=t_done,
                                  outcome=outcome)

    # --- Gemini -------------------------------------------------------------

    def test_gemini_h1_generate_thoughts_cache(self):
        """generateContent: 40 prompt (16 of them cached), 12 candidates + 30 thoughts."""
        self.one(gemini("gemini-2.5-flash", input=40, output=12, cached=16, reasoning=30),
                 host=GEMINI)

    def test_gemini_h2_stream_gzip(self):
        """streamGenerateContent?alt=sse over h2, gzip, 150 ms before the
        first chunk: the totals are the LAST chunk's, not a sum."""
        self.one(gemini("gemini-2.0-flash", stream=True, input=222, output=333, reasoning=0,
                        delay_ms=150, gap_ms=10, chunks=5, encoding="gzip",
                        response_model="gemini-2.0-flash-001"),
                 http="2", host=GEMINI)

    def test_gemini_h1_stream_thoughts(self):
        """Streamed, brotli, thoughts far larger than the candidates."""
        self.one(gemini("gemini-2.5-pro", stream=True, input=18, output=9, reasoning=700,
                        cached=0, chunks=3, encoding="br"), host=GEMINI)

    def test_gemini_429(self):
        self.one(gemini("gemini-2.5-flash", status=429), http="2", host=GEMINI,
                 outcome="http_error")

    # --- Bedrock ------------------------------------------------------------

    def test_bedrock_converse_h1(self):
        self.one(converse("anthropic.claude-3-haiku-20240307-v1:0", input=123, output=45),
                 host=BEDROCK)

    def test_bedrock_converse_cache_h2(self):
        """Converse with cacheReadInputTokens/cacheWriteInputTokens: input
        normalised to inputTokens + both. gzip body."""
        self.one(converse("us.anthropic.claude-sonnet-4-20250514-v1:0", input=20, output=80,
                          cached=3000, cache_write=500, encoding="gzip"), http="2", host=BEDROCK)

    def test_bedrock_converse_stream_h2(self):
        """converse-stream: AWS event-stream frames; usage in the metadata event."""
        self.one(converse("meta.llama3-70b-instruct-v1:0", stream=True, input=64, output=256,
                          delay_ms=200, gap_ms=10, chunks=6), http="2", host=BEDROCK)

    def test_bedrock_invoke_headers_urllib(self):
        """InvokeModel of a Llama model (python urllib, Host header): the
        native body has no usage field the agent knows; the counts are in
        the x-amzn-bedrock-input/output-token-count headers."""
        req = LLMRequest("/model/meta.llama3-8b-instruct-v1%3A0/invoke",
                         {"prompt": "Explain eBPF briefly", "max_gen_len": 128, "temperature": 0.5},
                         input=19, output=127)
        pid, t_done, res = pyclient(self, self.server, [req], mode="urllib", host=BEDROCK)
        check_eq(res[0]["status"], 200, "urllib status")
        self.expect_client(req, pid, self.python_comm, host=BEDROCK, t_done=t_done)

    def test_bedrock_throttled_429(self):
        self.one(converse("anthropic.claude-3-haiku-20240307-v1:0", status=429), host=BEDROCK,
                 outcome="http_error")


if __name__ == "__main__":
    unittest.main()

"""The mock LLM server itself (tools/mockllm/server.js), without the agent:
its log is the ground truth of every other test_requests_* test, so it is
checked first against an independent reading of what it actually sent.

For each API and mode, the raw response (as curl received it, content
encoding intact) is decoded here (gzip/deflate with zlib; br with curl
--compressed, python has no brotli), parsed (JSON, SSE with LF or CRLF,
NDJSON, AWS event-stream frames with their CRCs), its usage read the way
each provider documents it and normalised the OpenTelemetry way; all of that
must equal the log line: tokens, models, event count, body sizes on the wire
and decoded. The configured delay must show in the log's first-content time.
"""
import json
import os
import struct
import unittest
import zlib

from helpers import IntegrationCase, check_eq, check_true, require_tool
from llmhelpers import LLMRequest, MockLLM, chat, curl, messages


def parse_sse(text):
    """[(event, data)] per the WHATWG rules the agent follows (enough of them)."""
    out = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:][1:] if line[5:].startswith(" ") else line[5:])
        if data:
            out.append((event, "\n".join(data)))
    return out


def parse_eventstream(buf):
    out = []
    i = 0
    while i < len(buf):
        total, hlen, pcrc = struct.unpack(">III", buf[i:i + 12])
        if zlib.crc32(buf[i:i + 8]) != pcrc:
            raise AssertionError("event-stream prelude CRC mismatch at offset %d" % i)
        if zlib.crc32(buf[i:i + total - 4]) != struct.unpack(">I", buf[i + total - 4:i + total])[0]:
            raise AssertionError("event-stream message CRC mismatch at offset %d" % i)
        h = buf[i + 12:i + 12 + hlen]
        j = 0
        headers = {}
        while j < len(h):
            n = h[j]
            name = h[j + 1:j + 1 + n].decode()
            vlen = struct.unpack(">H", h[j + 2 + n:j + 4 + n])[0]
            headers[name] = h[j + 4 + n:j + 4 + n + vlen].decode()
            j += 4 + n + vlen
        out.append((headers[":event-type"], buf[i + 12 + hlen:i + total - 4].decode()))
        i += total
    return out


def normalised(family, usage, headers=None):
    """The OTel numbers from a provider's usage object, read independently."""
    n = dict.fromkeys(("input_tokens", "output_tokens", "cache_read_input_tokens",
                       "cache_creation_input_tokens", "reasoning_output_tokens",
                       "raw_input_tokens", "raw_output_tokens"))
    if family in ("openai", "azure"):
        inp = usage.get("prompt_tokens", usage.get("input_tokens"))
        out = usage.get("completion_tokens", usage.get("output_tokens"))
        det = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        odet = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
        n.update(input_tokens=inp, output_tokens=out, raw_input_tokens=inp, raw_output_tokens=out,
                 cache_read_input_tokens=det.get("cached_tokens"),
                 reasoning_output_tokens=odet.get("reasoning_tokens"))
    elif family == "anthropic":
        r, w = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
        n.update(input_tokens=usage["input_tokens"] + r + w, output_tokens=usage["output_tokens"],
                 cache_read_input_tokens=r, cache_creation_input_tokens=w,
                 raw_input_tokens=usage["input_tokens"], raw_output_tokens=usage["output_tokens"])
    elif family == "gemini":
        th = usage.get("thoughtsTokenCount")
        n.update(input_tokens=usage["promptTokenCount"],
                 output_tokens=usage["candidatesTokenCount"] + (th or 0),
                 cache_read_input_tokens=usage.get("cachedContentTokenCount"),
                 reasoning_output_tokens=th, raw_input_tokens=usage["promptTokenCount"],
                 raw_output_tokens=usage["candidatesTokenCount"])
    elif family == "ollama":
        n.update(input_tokens=usage["prompt_eval_count"], output_tokens=usage["eval_count"],
                 raw_input_tokens=usage["prompt_eval_count"], raw_output_tokens=usage["eval_count"])
    elif family == "bedrock" and headers:
        i = int(headers["x-amzn-bedrock-input-token-count"])
        o = int(headers["x-amzn-bedrock-output-token-count"])
        n.update(input_tokens=i, output_tokens=o, raw_input_tokens=i, raw_output_tokens=o)
    elif family == "bedrock":
        r, w = usage.get("cacheReadInputTokens"), usage.get("cacheWriteInputTokens")
        n.update(input_tokens=usage["inputTokens"] + (r or 0) + (w or 0),
                 output_tokens=usage["outputTokens"], cache_read_input_tokens=r,
                 cache_creation_input_tokens=w, raw_input_tokens=usage["inputTokens"],
                 raw_output_tokens=usage["outputTokens"])
    return n


def usage_of(entry, body, headers):
    """(usage object, number of events) from a decoded body, per API."""
    fam, path = entry["family"], entry["path"]
    if entry["status"] >= 400 or not entry["stream"]:
        if fam == "bedrock" and path.endswith("/invoke"):
            return normalised(fam, None, headers), 0
        obj = json.loads(body)
        key = "usageMetadata" if fam == "gemini" else "usage"
        u = obj if fam == "ollama" else obj.get(key)
        return (normalised(fam, u) if u else None), 0
    if fam == "ollama":
        lines = [json.loads(x) for x in body.decode().split("\n") if x]
        last = lines[-1]
        return (normalised(fam, last) if last.get("done") else None), len(lines)
    if fam == "bedrock":
        evs = parse_eventstream(body)
        meta = [json.loads(d) for t, d in evs if t == "metadata"]
        return (normalised(fam, meta[-1]["usage"]) if meta else None), len(evs)
    evs = parse_sse(body.decode())
    usage = None
    if fam == "anthropic":
        u = None
        for t, d in evs:
            o = json.loads(d)
            if t == "message_start":
                u = dict(o["message"]["usage"])
            elif t == "message_delta":
                u["output_tokens"] = o["usage"]["output_tokens"]
        usage = normalised(fam, u) if u else None
    elif fam == "gemini":
        usage = normalised(fam, json.loads(evs[-1][1])["usageMetadata"])
    else:
        for t, d in evs:
            if d == "[DONE]":
                continue
            o = json.loads(d)
            if t == "response.completed":
                usage = normalised(fam, o["response"]["usage"])
            elif o.get("usage"):
                usage = normalised(fam, o["usage"])
    return usage, len(evs)


class MockServerSelfTest(IntegrationCase):
    """No agent: the mock's log vs. what it sent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = MockLLM(cls.class_procs, cls.class_dir, "tls", cls.cert, cls.key)

    def fetch_raw(self, req, http="1.1", compressed=False):
        """(headers dict, raw body bytes as received) with curl."""
        exe = require_tool("curl")
        out = os.path.join(self.tmp, "out-%s" % req.id)
        hdr = os.path.join(self.tmp, "hdr-%s" % req.id)
        body = os.path.join(self.tmp, "body-%s" % req.id)
        with open(body, "w") as f:
            f.write(req.body)
        cmd = [exe, "-sS", "-k", "--max-time", "20", "-o", out, "-D", hdr, "--data-binary",
               "@" + body, "--http1.1" if http == "1.1" else "--http2"]
        if compressed:
            cmd.append("--compressed")
        for k, v in req.headers.items():
            cmd += ["-H", "%s: %s" % (k, v)]
        cmd.append(self.server.base + req.path)
        from llmhelpers import run_proc
        run_proc(self.procs, cmd, "curl")
        headers = {}
        with open(hdr, errors="replace") as f:
            for line in f:
                k, sep, v = line.partition(":")
                if sep:
                    headers[k.strip().lower()] = v.strip()
        with open(out, "rb") as f:
            return headers, f.read()

    def check(self, req, http="1.1"):
        headers, raw = self.fetch_raw(req, http)
        e = self.server.entry(req)
        check_eq(len(raw), e["response_body_bytes"], "wire body bytes vs. log (%s)" % req.path)
        check_eq(headers.get("content-encoding"), e["content_encoding"], "Content-Encoding vs. log")
        enc = e["content_encoding"]
        if enc == "br":
            _, body = self.fetch_raw(LLMRequest(req.path, req.body, headers={
                k: v for k, v in req.headers.items() if k != "x-mock-id"}), http, compressed=True)
            check_eq(len(body), e["response_body_decoded_bytes"], "decoded (curl --compressed) vs. log")
            return e
        if enc == "gzip":
            body = zlib.decompressobj(31).decompress(raw)
        elif enc == "deflate":
            body = zlib.decompressobj(-15 if e["encoding"] == "deflate-raw" else 15).decompress(raw)
        else:
            body = raw
        check_eq(len(body), e["response_body_decoded_bytes"], "decoded bytes vs. log (%s)" % req.path)
        usage, nevents = usage_of(e, body, headers)
        check_eq(nevents, e["stream_events"], "stream events in the body vs. log (%s)" % req.path)
        want = e["otel"] if e["usage"] is not None else None
        if e["usage"] is None and usage is not None:
            want = {k: None for k in usage}
            usage = {k: None for k in usage}
        check_eq(usage, want, "usage read from the body vs. the log's otel numbers (%s)" % req.path)
        if e["stream"] and e["delay_ms"]:
            check_true(e["t_first_content"] - e["t_request"] >= e["delay_ms"] / 1000 - 0.002,
                       "first content event after x-mock-delay-ms",
                       (e["t_request"], e["t_first_content"], e["delay_ms"]))
        return e

    def test_openai_family(self):
        self.check(chat(input=10, output=20, cached=5, reasoning=3))
        self.check(chat(stream=True, usage=True, input=11, output=21, encoding="gzip",
                        delay_ms=100), http="2")
        self.check(chat(stream=True, usage=False, encoding="deflate-raw"))
        self.check(chat(stream=True, usage=True, encoding="br"), http="2")
        self.check(LLMRequest("/v1/completions", {"model": "m", "prompt": "p", "stream": True,
                                                  "stream_options": {"include_usage": True}},
                              input=3, output=4, encoding="deflate"))
        self.check(LLMRequest("/v1/embeddings", {"model": "e", "input": ["a", "b"]}, input=9))
        self.check(LLMRequest("/v1/responses", {"model": "m", "input": "x"}, input=5, output=6,
                              cached=2, reasoning=1))
        self.check(LLMRequest("/v1/responses", {"model": "m", "input": "x", "stream": True},
                              input=7, output=8, delay_ms=50), http="2")
        e = self.check(LLMRequest("/openai/deployments/d1/chat/completions?api-version=2024-06-01",
                                  {"messages": [], "stream": True,
                                   "stream_options": {"include_usage": True}}, input=1, output=2))
        check_eq((e["model"], e["family"]), ("d1", "azure"), "Azure deployment as the request model")
        e = self.check(chat(status=429))
        check_eq((e["status"], e["error_code"]), (429, "rate_limit_exceeded"), "429 in the log")

    def test_anthropic(self):
        self.check(messages(input=10, output=20, cached=30, cache_write=40))
        self.check(messages(stream=True, input=1, output=2, cached=3, cache_write=4,
                            encoding="gzip", delay_ms=80), http="2")
        e = self.check(messages(status=429))
        check_eq(e["error_type"], "rate_limit_error", "Anthropic 429 error type")

    def test_gemini_bedrock_ollama(self):
        self.check(LLMRequest("/v1beta/models/g1:generateContent", {}, input=4, output=5,
                              cached=2, reasoning=6))
        self.check(LLMRequest("/v1beta/models/g1:streamGenerateContent?alt=sse", {}, input=4,
                              output=5, reasoning=6, encoding="gzip", delay_ms=60), http="2")
        e = self.check(LLMRequest("/model/a.b-v1%3A0/converse", {}, input=7, output=8,
                                  cached=9, cache_write=1))
        check_eq(e["model"], "a.b-v1:0", "Bedrock model id, percent-decoded")
        self.check(LLMRequest("/model/a.b-v1%3A0/converse-stream", {}, input=7, output=8), http="2")
        self.check(LLMRequest("/model/meta.llama3-v1%3A0/invoke", {"prompt": "x"}, input=7, output=8))
        e = self.check(LLMRequest("/api/chat", {"model": "l"}, input=3, output=4))
        check_eq(e["request_stream"], True, "Ollama streams when 'stream' is absent")
        self.check(LLMRequest("/api/generate", {"model": "l", "stream": False}, input=3, output=4))

    def test_cut_and_unknown_encoding(self):
        req = chat(stream=True, usage=True, cut=1)
        from llmhelpers import curl as curl_run
        curl_run(self, self.server, [req], http="1.1", ok_codes=(18, 56))
        e = self.server.entry(req)
        check_eq(e["cut"], True, "cut flag in the log")
        check_true(e["stream_events"] < 7, "a cut stream has fewer events than a whole one",
                   e["stream_events"])
        req = chat(encoding="compress")
        _, w = None, curl(self, self.server, [req])[2]
        check_eq(w[0]["http_code"], 400, "an encoding the mock cannot make is refused (400)")


if __name__ == "__main__":
    unittest.main()

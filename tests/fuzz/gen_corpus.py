#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/*/).

    tests/fuzz/gen_corpus.py          (re)write every seed file

The seeds are realistic traffic in each target's input framing (described
at the top of tests/fuzz/fuzz_*.c and in tests/fuzz/README.md), so that
fuzzing starts deep: HTTP/1.1 and HTTP/2 exchanges with JSON, SSE, NDJSON
and AWS event-stream bodies, chunked and compressed (gzip, deflate, br,
zstd), split into calls the way the agent captures them, with gaps.

Needs python3 and the brotli and zstd command-line tools (Debian packages
brotli, zstd). The output is deterministic; the files are committed, so
this is only run when the seeds should change.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"\xff\xfe\xfd\xfc"

ROLE_UNKNOWN, ROLE_CLIENT, ROLE_SERVER = 0, 1, 2
SEND, RECV = 0, 1


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    assert SEP not in data or target != "stream", name
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- compression -----------------------------------------------------------

def gz(b):
    return gzip.compress(b, compresslevel=6, mtime=0)


def zlib_deflate(b):
    return zlib.compress(b, 6)


def raw_deflate(b):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(b) + c.flush()


def tool(args, b):
    return subprocess.run(args, input=b, stdout=subprocess.PIPE, check=True).stdout


def br(b):
    return tool(["brotli", "-q", "9", "-c"], b)


def zstd(b, level=3):
    return tool(["zstd", "-q", "-%d" % level, "-c", "--no-check"], b)


# ---- fuzz_proto framing ------------------------------------------------------

def rec(dir_, payload, first=True, off_mode=0, gap=0, tot_mode=0, extra=0, cap_mode=0, cap=0):
    """One proto_conn_data call: see the top of fuzz_proto.c."""
    flags = dir_ | (0 if first else 2) | off_mode << 2 | tot_mode << 4 | cap_mode << 6
    return bytes([flags, gap]) + struct.pack("<IH", extra, cap) + payload


def call(dir_, data, capture=16384, chunk=16384):
    """One send/recv call moving data, as the agent's records carry it:
    chunks of up to 16 KiB, only the first `capture` bytes captured (the
    rest is a gap the layer learns of from the call's total)."""
    recs = []
    captured = data[:capture]
    cap_mode = {16384: 0, 65536: 1}.get(capture, 2)
    off = 0
    while True:
        piece = captured[off:off + chunk]
        if off == 0:
            recs.append(rec(dir_, piece, first=True, tot_mode=1, extra=len(data) - len(piece),
                            cap_mode=cap_mode, cap=capture if cap_mode == 2 else 0))
        else:
            recs.append(rec(dir_, piece, first=False))
        off += len(piece)
        if off >= len(captured):
            break
    return recs


def conn(role, recs):
    out = [bytes([role])]
    return out[0] + SEP.join(recs)


def calls(dir_, data, sizes):
    """data moved by several calls of the given sizes (the last takes the rest)."""
    recs, off, i = [], 0, 0
    while off < len(data):
        n = sizes[i % len(sizes)]
        recs += call(dir_, data[off:off + n])
        off += n
        i += 1
    return recs


# ---- HTTP/1.1 ----------------------------------------------------------------

def h1_req(method, path, host, headers=(), body=b"", chunked=False):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    lines += ["%s: %s" % h for h in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif body or method in ("POST", "PUT"):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (chunk_encode([body]) if chunked else body)


def h1_resp_head(status, reason, headers=()):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def h1_resp(status, reason, headers=(), body=b""):
    return h1_resp_head(status, reason, list(headers) + [("Content-Length", str(len(body)))]) + body


def chunk_bytes(b, ext=""):
    return b"%x%s\r\n" % (len(b), ext.encode()) + b + b"\r\n"


def chunk_encode(pieces, trailer=b""):
    return b"".join(chunk_bytes(p) for p in pieces if p) + b"0\r\n" + trailer + b"\r\n"


def split(b, n):
    return [b[i:i + n] for i in range(0, len(b), n)]


# ---- bodies ----------------------------------------------------------------------

def j(o):
    return json.dumps(o, separators=(",", ":")).encode()


def sse(events):
    out = b""
    for ev in events:
        if isinstance(ev, tuple):
            name, data = ev
            out += b"event: " + name.encode() + b"\n"
        else:
            data = ev
        if not isinstance(data, bytes):
            data = j(data)
        out += b"data: " + data + b"\n\n"
    return out


OPENAI_REQ = j({"model": "gpt-4o-mini", "messages": [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello in three languages."}], "temperature": 0.2})
OPENAI_REQ_STREAM = j({"model": "gpt-4o-mini", "stream": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "Count to five."}]})
OPENAI_RESP = j({
    "id": "chatcmpl-9x", "object": "chat.completion", "created": 1732670000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, Hola, Bonjour.",
                                          "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 24, "completion_tokens": 7, "total_tokens": 31,
              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0}},
    "system_fingerprint": "fp_1"})


def openai_chunks(words):
    evs = [{"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                         "finish_reason": None}]}]
    for w in words:
        evs.append({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                    "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]})
    evs.append({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    evs.append({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": len(words),
                                         "total_tokens": 12 + len(words)}})
    return evs


OPENAI_SSE = sse(openai_chunks(["One", ",", " two", ",", " three", ",", " four", ",", " five"])
                 + [b"[DONE]"])

ANTH_REQ = j({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": True,
              "system": "Be brief.",
              "messages": [{"role": "user", "content": [{"type": "text", "text": "Name a colour."}]}]})
ANTH_EVENTS = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [], "stop_reason": None,
        "usage": {"input_tokens": 14, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 2048, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "Teal"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": " \u00e9\u00e8 blue."}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                       "usage": {"output_tokens": 6}}),
    ("message_stop", {"type": "message_stop"}),
]
ANTH_SSE = sse(ANTH_EVENTS)
ANTH_BODY = j({"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
               "content": [{"type": "text", "text": "Red."}], "stop_reason": "end_turn",
               "usage": {"input_tokens": 10, "output_tokens": 3,
                         "cache_creation_input_tokens": 5, "cache_read_input_tokens": 0}})

GEMINI_REQ = j({"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}],
                "generationConfig": {"maxOutputTokens": 64}})
GEMINI_CHUNKS = [
    {"candidates": [{"content": {"parts": [{"text": "Rayleigh"}], "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}, "modelVersion": "gemini-2.5-flash"},
    {"candidates": [{"content": {"parts": [{"text": " scattering."}], "role": "model"},
                     "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 4, "totalTokenCount": 30,
                       "thoughtsTokenCount": 19}, "modelVersion": "gemini-2.5-flash"},
]
GEMINI_BODY = j(GEMINI_CHUNKS[1])

OLLAMA_REQ = j({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]})
OLLAMA_LINES = [
    {"model": "llama3.2", "created_at": "2025-01-01T00:00:00Z",
     "message": {"role": "assistant", "content": "Hel"}, "done": False},
    {"model": "llama3.2", "created_at": "2025-01-01T00:00:00Z",
     "message": {"role": "assistant", "content": "lo!"}, "done": False},
    {"model": "llama3.2", "created_at": "2025-01-01T00:00:01Z",
     "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
     "total_duration": 123456, "prompt_eval_count": 26, "eval_count": 3},
]
OLLAMA_NDJSON = b"".join(j(o) + b"\n" for o in OLLAMA_LINES)

CONVERSE_REQ = j({"messages": [{"role": "user", "content": [{"text": "Hello"}]}],
                  "inferenceConfig": {"maxTokens": 100}})
CONVERSE_EVENTS = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " there."}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("messageStop", {"stopReason": "end_turn"}),
    ("metadata", {"usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13,
                            "cacheReadInputTokens": 0}, "metrics": {"latencyMs": 321}}),
]


# ---- AWS event stream -------------------------------------------------------------

def aws_header(name, type_, value):
    n = name.encode()
    out = bytes([len(n)]) + n + bytes([type_])
    if type_ in (6, 7):
        out += struct.pack(">H", len(value)) + value
    elif type_ in (0, 1):
        pass
    else:
        out += value
    return out


def aws_msg(headers, payload):
    hb = b"".join(aws_header(*h) for h in headers)
    total = 16 + len(hb) + len(payload)
    pre = struct.pack(">II", total, len(hb))
    pre += struct.pack(">I", zlib.crc32(pre))
    msg = pre + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def aws_event(event_type, payload):
    return aws_msg([(":event-type", 7, event_type.encode()),
                    (":content-type", 7, b"application/json"),
                    (":message-type", 7, b"event")], payload)


CONVERSE_AWS = b"".join(aws_event(n, j(p)) for n, p in CONVERSE_EVENTS)
AWS_MIXED = (aws_event("contentBlockDelta", j({"delta": {"text": "x"}}))
             + aws_msg([(":message-type", 7, b"exception"),
                        (":exception-type", 7, b"throttlingException"),
                        ("flag", 0, b""), ("n", 4, b"\x00\x00\x00\x07"),
                        ("ts", 8, b"\x00" * 8), ("id", 9, b"\x11" * 16),
                        ("b", 2, b"\x01"), ("s", 3, b"\x00\x02"), ("l", 5, b"\x00" * 8),
                        ("bytes", 6, b"\x00\x01\x02")],
                       j({"message": "Too many requests"}))
             + aws_msg([(":message-type", 7, b"error"), (":error-code", 7, b"InternalFailure"),
                        (":error-message", 7, b"oops")], b""))


# ---- HTTP/2 ------------------------------------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
F_DATA, F_HEADERS, F_PRIORITY, F_RST, F_SETTINGS, F_PUSH, F_PING, F_GOAWAY, F_WU, F_CONT = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 1, 1, 4, 8, 0x20


def frame(type_, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([type_, flags]) + struct.pack(">I", stream) + payload


def hp_int(value, prefix_bits, first):
    m = (1 << prefix_bits) - 1
    if value < m:
        return bytes([first | value])
    out = [first | m]
    value -= m
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hp_str(s):
    if isinstance(s, str):
        s = s.encode()
    return hp_int(len(s), 7, 0) + s


def hp_indexed(i):
    return hp_int(i, 7, 0x80)


def hp_lit_inc(name_or_idx, value):
    """Literal with incremental indexing (goes into the dynamic table)."""
    if isinstance(name_or_idx, int):
        return hp_int(name_or_idx, 6, 0x40) + hp_str(value)
    return b"\x40" + hp_str(name_or_idx) + hp_str(value)


def hp_lit(name_or_idx, value):
    """Literal without indexing."""
    if isinstance(name_or_idx, int):
        return hp_int(name_or_idx, 4, 0x00) + hp_str(value)
    return b"\x00" + hp_str(name_or_idx) + hp_str(value)


def hp_never(name, value):
    return b"\x10" + hp_str(name) + hp_str(value)


# static table: 1 :authority, 2 GET, 3 POST, 4 :path /, 5 :path /index.html, 7 :scheme https,
# 8 :status 200, 14 :status 500, 19 accept, 26 content-encoding, 28 content-length,
# 31 content-type, 58 user-agent, 23 authorization
def h2_settings():
    return frame(F_SETTINGS, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 65535))


def h2_conn_openai():
    c = H2_PREFACE + h2_settings()
    hb = (hp_indexed(3) + hp_indexed(7) + hp_lit_inc(1, "api.openai.com")
          + hp_lit_inc(4, "/v1/chat/completions") + hp_lit_inc(31, "application/json")
          + hp_never("authorization", "Bearer sk-secret") + hp_lit(28, str(len(OPENAI_REQ))))
    req = frame(F_HEADERS, END_HEADERS, 1, hb) + frame(F_DATA, END_STREAM, 1, OPENAI_REQ)
    srv_settings = h2_settings() + frame(F_SETTINGS, ACK, 0, b"")
    rh = hp_indexed(8) + hp_lit_inc(31, "application/json") + hp_lit(28, str(len(OPENAI_RESP)))
    resp = frame(F_HEADERS, END_HEADERS, 1, rh)
    body = [frame(F_DATA, 0, 1, OPENAI_RESP[:100]), frame(F_DATA, END_STREAM, 1, OPENAI_RESP[100:])]
    recs = call(SEND, c) + call(RECV, srv_settings) + call(SEND, frame(F_SETTINGS, ACK, 0, b"") + req)
    recs += call(RECV, resp + body[0]) + call(RECV, body[1])
    return conn(ROLE_CLIENT, recs)


def h2_conn_stream_gzip():
    """Two requests (dynamic table reused), CONTINUATION, PRIORITY, padding,
    a gzip SSE response in many DATA frames, a reset stream, PING,
    WINDOW_UPDATE, GOAWAY."""
    c = H2_PREFACE + h2_settings() + frame(F_WU, 0, 0, struct.pack(">I", 1 << 20))
    hb1 = (b"\x3f\xe1\x1f"  # dynamic table size update 4096
           + hp_indexed(3) + hp_indexed(7) + hp_lit_inc(1, "api.anthropic.com:443")
           + hp_lit_inc(4, "/v1/messages?beta=true") + hp_lit_inc(31, "application/json")
           + hp_lit_inc("anthropic-version", "2023-06-01") + hp_lit_inc(19, "text/event-stream")
           + hp_lit_inc(58, "fuzz-seed/1.0"))
    # HEADERS with PRIORITY and padding, then a CONTINUATION
    prio = struct.pack(">IB", 0, 15)
    pad = 3
    h1 = bytes([pad]) + prio + hb1[:20] + b"\x00" * pad
    req1 = (frame(F_HEADERS, PADDED | PRIO, 1, h1) + frame(F_CONT, END_HEADERS, 1, hb1[20:])
            + frame(F_DATA, PADDED, 1, bytes([2]) + ANTH_REQ[:50] + b"\x00\x00")
            + frame(F_DATA, END_STREAM, 1, ANTH_REQ[50:]))
    # second request: names and values from the dynamic table (62.. newest first)
    hb3 = (hp_indexed(2) + hp_indexed(7) + hp_indexed(67) + hp_lit(4, "/v1/models")
           + hp_indexed(62))
    req3 = frame(F_HEADERS, END_HEADERS | END_STREAM, 3, hb3)
    ping = frame(F_PING, 0, 0, b"12345678")
    gzbody = gz(ANTH_SSE)
    rh1 = (hp_indexed(8) + hp_lit_inc(31, "text/event-stream; charset=utf-8")
           + hp_lit_inc(26, "gzip") + hp_lit("request-id", "req_1"))
    rh3 = hp_indexed(13) + hp_lit(31, "application/json")
    srv = [h2_settings() + frame(F_SETTINGS, ACK, 0, b"") + frame(F_HEADERS, END_HEADERS, 1, rh1),
           frame(F_HEADERS, END_HEADERS, 3, rh3) + frame(F_RST, 0, 3, struct.pack(">I", 8))]
    for i, piece in enumerate(split(gzbody, 90)):
        flags = 0
        if i % 3 == 1:
            srv.append(frame(F_DATA, PADDED, 1, bytes([4]) + piece + b"\x00" * 4))
        else:
            srv.append(frame(F_DATA, flags, 1, piece))
    srv.append(frame(F_PING, ACK, 0, b"12345678") + frame(F_DATA, END_STREAM, 1, b"")
               + frame(F_GOAWAY, 0, 0, struct.pack(">II", 3, 0) + b"bye"))
    recs = call(SEND, c + req1[:40]) + call(SEND, req1[40:] + req3 + ping)
    stream = b"".join(srv)
    recs += calls(RECV, stream, [31, 200, 57, 1024])
    return conn(ROLE_CLIENT, recs)


def h2_conn_gap():
    """A DATA payload partly not captured (capture limit), then more frames;
    and a server-role connection (the preface arrives on recv)."""
    big = sse(openai_chunks(["word%d " % i for i in range(600)]) + [b"[DONE]"])
    c = H2_PREFACE + h2_settings()
    hb = (hp_indexed(3) + hp_indexed(7) + hp_lit_inc(1, "localhost:8000")
          + hp_lit_inc(4, "/v1/chat/completions") + hp_lit(31, "application/json"))
    req = frame(F_HEADERS, END_HEADERS, 1, hb) + frame(F_DATA, END_STREAM, 1, OPENAI_REQ_STREAM)
    rh = hp_indexed(8) + hp_lit(31, "text/event-stream")
    data = frame(F_HEADERS, END_HEADERS, 1, rh) + frame(F_DATA, 0, 1, big)
    # the traced process is the server: requests come in on recv
    recs = call(RECV, c + req) + call(SEND, h2_settings())
    recs += call(SEND, data, capture=2048)  # the rest of the DATA frame is a gap
    recs += call(SEND, frame(F_DATA, END_STREAM, 1, b"data: [DONE]\n\n"))
    return conn(ROLE_SERVER, recs)


# ---- proto seeds ---------------------------------------------------------------------

def proto_seeds():
    s = {}
    # 1. plain JSON chat, one call each way
    s["h1_openai_chat.bin"] = conn(ROLE_CLIENT, call(SEND, h1_req(
        "POST", "/v1/chat/completions", "api.openai.com",
        [("Authorization", "Bearer sk-x"), ("Content-Type", "application/json"),
         ("User-Agent", "OpenAI/Python 1.54.0")], OPENAI_REQ))
        + call(RECV, h1_resp(200, "OK", [("Content-Type", "application/json"),
                                         ("openai-processing-ms", "312")], OPENAI_RESP)))
    # 2. streamed SSE, chunked, one chunk per call, request headers and body in two calls
    req = h1_req("POST", "/v1/chat/completions?x=1", "api.openai.com:443",
                 [("Content-Type", "application/json"), ("Accept", "text/event-stream")],
                 OPENAI_REQ_STREAM)
    hdr_end = req.index(b"\r\n\r\n") + 4
    recs = call(SEND, req[:hdr_end]) + call(SEND, req[hdr_end:])
    recs += call(RECV, h1_resp_head(200, "OK", [("Content-Type", "text/event-stream; charset=utf-8"),
                                               ("Transfer-Encoding", "chunked")]))
    events = OPENAI_SSE.split(b"\n\n")
    for ev in events:
        if ev:
            recs += call(RECV, chunk_bytes(ev + b"\n\n"))
    recs += call(RECV, b"0\r\n\r\n")
    s["h1_openai_sse_chunked.bin"] = conn(ROLE_CLIENT, recs)
    # 3. Anthropic SSE, gzip, chunked with a chunk extension and trailer, odd call sizes
    body = gz(ANTH_SSE)
    resp = h1_resp_head(200, "OK", [("Content-Type", "text/event-stream"),
                                    ("Content-Encoding", "gzip"),
                                    ("Transfer-Encoding", "chunked")])
    resp += b"".join(chunk_bytes(p, ";ext=1" if i == 0 else "") for i, p in enumerate(split(body, 64)))
    resp += b"0\r\nx-trailer: 1\r\n\r\n"
    recs = call(SEND, h1_req("POST", "/v1/messages", "api.anthropic.com",
                             [("x-api-key", "sk-ant"), ("anthropic-version", "2023-06-01"),
                              ("content-type", "application/json")], ANTH_REQ))
    recs += calls(RECV, resp, [100, 7, 333, 1])
    s["h1_anthropic_sse_gzip.bin"] = conn(ROLE_CLIENT, recs)
    # 4. Ollama NDJSON, traced process is the server (requests on recv)
    resp = h1_resp_head(200, "OK", [("Content-Type", "application/x-ndjson"),
                                    ("Transfer-Encoding", "chunked")])
    recs = call(RECV, h1_req("POST", "/api/chat", "localhost:11434", [], OLLAMA_REQ))
    recs += call(SEND, resp)
    for line in OLLAMA_LINES:
        recs += call(SEND, chunk_bytes(j(line) + b"\n"))
    recs += call(SEND, b"0\r\n\r\n")
    s["h1_ollama_ndjson_server.bin"] = conn(ROLE_SERVER, recs)
    # 5. keep-alive and pipelining: GET, HEAD, POST with 100-continue, 204, 404
    emb_req = j({"model": "text-embedding-3-small", "input": ["a", "b"]})
    emb_resp = j({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
                  "model": "text-embedding-3-small", "usage": {"prompt_tokens": 2, "total_tokens": 2}})
    reqs = (h1_req("GET", "/v1/models", "api.openai.com")
            + h1_req("HEAD", "/", "api.openai.com")
            + h1_req("POST", "/v1/embeddings", "api.openai.com",
                     [("Expect", "100-continue"), ("Content-Type", "application/json")], emb_req))
    resps = (h1_resp(404, "Not Found", [("Content-Type", "text/plain")], b"nope")
             + h1_resp_head(200, "OK", [("Content-Length", "12345")])
             + b"HTTP/1.1 100 Continue\r\n\r\n"
             + h1_resp(200, "OK", [("Content-Type", "application/json")], emb_resp))
    recs = call(SEND, reqs) + call(RECV, resps[:150]) + call(RECV, resps[150:])
    recs += call(SEND, h1_req("DELETE", "/v1/files/f1", "api.openai.com"))
    recs += call(RECV, b"HTTP/1.1 204 No Content\r\n\r\n")
    s["h1_pipelined_keepalive.bin"] = conn(ROLE_CLIENT, recs)
    # 6. Gemini JSON, brotli, content-length
    body = br(GEMINI_BODY)
    s["h1_gemini_br.bin"] = conn(ROLE_CLIENT, call(SEND, h1_req(
        "POST", "/v1beta/models/gemini-2.5-flash:generateContent?key=SECRET",
        "generativelanguage.googleapis.com", [("Content-Type", "application/json")], GEMINI_REQ))
        + call(RECV, h1_resp(200, "OK", [("Content-Type", "application/json; charset=UTF-8"),
                                         ("Content-Encoding", "br")], body)))
    # 7. Bedrock ConverseStream: AWS event stream, chunked, split mid-message
    resp = h1_resp_head(200, "OK", [("Content-Type", "application/vnd.amazon.eventstream"),
                                    ("Transfer-Encoding", "chunked"),
                                    ("x-amzn-RequestId", "r-1")])
    resp += chunk_encode(split(CONVERSE_AWS, 150))
    recs = call(SEND, h1_req("POST", "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
                             "bedrock-runtime.us-east-1.amazonaws.com",
                             [("Content-Type", "application/json")], CONVERSE_REQ))
    recs += calls(RECV, resp, [400, 120])
    s["h1_bedrock_converse_stream.bin"] = conn(ROLE_CLIENT, recs)
    # 8. Bedrock InvokeModel: token counts in headers, deflate (zlib) body
    inv = j({"id": "m", "type": "message", "role": "assistant", "model": "claude",
             "content": [{"type": "text", "text": "ok"}],
             "usage": {"input_tokens": 3, "output_tokens": 1}})
    s["h1_bedrock_invoke_deflate.bin"] = conn(ROLE_CLIENT, call(SEND, h1_req(
        "POST", "/model/anthropic.claude-v2/invoke", "bedrock-runtime.eu-west-1.amazonaws.com",
        [("Content-Type", "application/json")], j({"prompt": "hi", "max_tokens": 5})))
        + call(RECV, h1_resp(200, "OK", [("Content-Type", "application/json"),
                                         ("Content-Encoding", "deflate"),
                                         ("X-Amzn-Bedrock-Input-Token-Count", "3"),
                                         ("X-Amzn-Bedrock-Output-Token-Count", "1")],
                             zlib_deflate(inv))))
    # 9. a large zstd SSE stream read in TCP-sized pieces (decoded > 128 KiB)
    big = sse(openai_chunks(["tok%05d " % i for i in range(1500)]) + [b"[DONE]"])
    body = zstd(big, 3)
    resp = h1_resp(200, "OK", [("Content-Type", "text/event-stream"), ("Content-Encoding", "zstd")], body)
    recs = call(SEND, h1_req("POST", "/v1/chat/completions", "llm.internal:8000",
                             [("Content-Type", "application/json")], OPENAI_REQ_STREAM))
    recs += calls(RECV, resp, [1448, 2896, 512])
    s["h1_vllm_sse_zstd.bin"] = conn(ROLE_CLIENT, recs)
    # 10. gaps: request body past the capture limit; a lost middle chunk; a
    # response body past the capture limit (content-length known)
    # (small chunks and capture limits keep the seed small; the layer does not
    # care what size they are)
    big_req = j({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 6000}]})
    big_resp = j({"object": "chat.completion", "model": "gpt-4o",
                  "choices": [{"message": {"content": "y" * 12000}}],
                  "usage": {"prompt_tokens": 1500, "completion_tokens": 3000}})
    recs = call(SEND, h1_req("POST", "/v1/chat/completions", "api.openai.com",
                             [("Content-Type", "application/json")], big_req), capture=1024)
    resp = h1_resp(200, "OK", [("Content-Type", "application/json")], big_resp)
    r = call(RECV, resp, capture=65536, chunk=4096)
    assert len(r) >= 3
    # the second chunk record was lost: the third comes 4 KiB after the first ends
    recs += [r[0], rec(RECV, r[2][8:], first=False, off_mode=2, gap=3)] + r[3:]
    recs += call(SEND, h1_req("POST", "/v1/chat/completions", "api.openai.com",
                              [("Content-Type", "application/json")], OPENAI_REQ))
    recs += call(RECV, h1_resp(200, "OK", [("Content-Type", "application/json")], big_resp),
                 capture=2048)
    s["h1_gaps.bin"] = conn(ROLE_CLIENT, recs)
    # 11. joined late, role unknown: a response first, then a full exchange;
    # raw deflate; a connection-delimited (no length) body
    recs = call(RECV, b"ata\r\n\r\n")
    recs += call(RECV, h1_resp(200, "OK", [("Content-Type", "application/json")], b"{}"))
    recs += call(SEND, h1_req("POST", "/v1/messages", "api.deepseek.com",
                              [("Content-Type", "application/json")], ANTH_REQ.replace(b'"stream":true,', b"")))
    recs += call(RECV, h1_resp(200, "OK", [("Content-Type", "application/json"),
                                         ("Content-Encoding", "deflate")], raw_deflate(ANTH_BODY)))
    recs += call(SEND, h1_req("POST", "/generate", "tgi:8080", [], j({"inputs": "hi"})))
    recs += call(RECV, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
                 + j({"generated_text": "hello", "details": {"generated_tokens": 2, "prefill": [{}]}}))
    s["h1_late_join_unknown_role.bin"] = conn(ROLE_UNKNOWN, recs)
    # 12. an upgrade and an error: 429 with an error body, then CONNECT
    err = j({"error": {"message": "Rate limit", "type": "rate_limit_error", "code": "rate_limit_exceeded"}})
    recs = call(SEND, h1_req("POST", "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
                             "res.openai.azure.com", [("api-key", "k")], OPENAI_REQ))
    recs += call(RECV, h1_resp(429, "Too Many Requests", [("Content-Type", "application/json"),
                                                          ("Retry-After", "1")], err))
    recs += call(SEND, b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n")
    recs += call(RECV, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01\x00\x05hello")
    s["h1_azure_429_connect.bin"] = conn(ROLE_CLIENT, recs)
    # HTTP/2
    s["h2_openai_chat.bin"] = h2_conn_openai()
    s["h2_anthropic_sse_gzip.bin"] = h2_conn_stream_gzip()
    s["h2_server_gap.bin"] = h2_conn_gap()
    return s


# ---- llm seeds ---------------------------------------------------------------------------

def llm(flags, host, path, req=b"", headers=b"", resp=b"", events=(), step=5):
    def b(x):
        return x.encode() if isinstance(x, str) else x
    fields = [b(host), b(path), b(req), b(headers), b(resp)]
    for ev in events:
        if isinstance(ev, tuple):
            name, data = ev
            data = data if isinstance(data, bytes) else j(data)
            fields.append(b(name) + b"\n" + data)
        else:
            fields.append(ev if isinstance(ev, bytes) else j(ev))
    return bytes([flags, step]) + SEP.join(fields)


STREAM = 0x10
ST200, ST400, ST429, ST500 = 0, 4, 8, 12


def llm_seeds():
    s = {}
    s["openai_chat.bin"] = llm(0, "api.openai.com", "/v1/chat/completions", OPENAI_REQ,
                               "openai-processing-ms: 3\n", OPENAI_RESP)
    s["openai_chat_stream.bin"] = llm(STREAM, "api.openai.com:443", "/v1/chat/completions",
                                      OPENAI_REQ_STREAM, "", b"",
                                      [e for e in openai_chunks(["a", "b", "c"])] + [b"[DONE]"])
    s["openai_responses_stream.bin"] = llm(STREAM, "api.openai.com", "/v1/responses",
        j({"model": "o4-mini", "input": "hi", "stream": True, "instructions": "be nice"}), "", b"",
        [("response.created", {"type": "response.created", "response": {"model": "o4-mini", "status": "in_progress"}}),
         ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hel"}),
         ("response.reasoning_summary_text.delta", {"type": "response.reasoning_summary_text.delta", "delta": "hm"}),
         ("response.audio.delta", {"type": "response.audio.delta", "delta": "AAAA"}),
         ("response.completed", {"type": "response.completed", "response": {
             "model": "o4-mini-2025-04-16", "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hello"}]}],
             "usage": {"input_tokens": 8, "output_tokens": 20, "input_tokens_details": {"cached_tokens": 0},
                       "output_tokens_details": {"reasoning_tokens": 16}}}})])
    s["openai_responses_body.bin"] = llm(0, "myres.openai.azure.com", "/openai/v1/responses",
        j({"model": "gpt-4.1", "input": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]}), "",
        j({"object": "response", "model": "gpt-4.1", "output": [{"content": [{"text": "y"}]}],
           "usage": {"input_tokens": 3, "output_tokens": 1}}))
    s["anthropic_stream.bin"] = llm(STREAM, "api.anthropic.com", "/v1/messages", ANTH_REQ, "", b"",
                                    ANTH_EVENTS)
    s["anthropic_body.bin"] = llm(0, "api.anthropic.com", "/v1/messages", ANTH_REQ.replace(b'"stream":true,', b""),
                                  "", ANTH_BODY)
    s["anthropic_error.bin"] = llm(ST500, "api.anthropic.com", "/v1/messages", ANTH_REQ, "",
        j({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    s["gemini_stream.bin"] = llm(STREAM, "generativelanguage.googleapis.com",
                                 "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                                 GEMINI_REQ, "", b"", GEMINI_CHUNKS)
    s["gemini_array_body.bin"] = llm(0, "us-central1-aiplatform.googleapis.com",
        "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent",
        GEMINI_REQ, "", j(GEMINI_CHUNKS)[:-40])
    s["gemini_embed.bin"] = llm(0, "generativelanguage.googleapis.com",
                                "/v1beta/models/text-embedding-004:batchEmbedContents",
                                j({"requests": [{"content": {"parts": [{"text": "a"}]}}]}), "",
                                j({"embeddings": [{"values": [0.1, 0.2]}]}))
    s["vertex_claude.bin"] = llm(STREAM, "aiplatform.googleapis.com",
        "/v1/projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4%405:streamRawPredict",
        j({"anthropic_version": "vertex-2023-10-16", "messages": [{"role": "user", "content": "x"}]}), "", b"",
        ANTH_EVENTS[:2] + ANTH_EVENTS[-2:])
    s["bedrock_converse.bin"] = llm(0, "bedrock-runtime.us-west-2.amazonaws.com",
        "/model/amazon.nova-pro-v1%3A0/converse", CONVERSE_REQ, "x-amzn-requestid: 1\n",
        j({"output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
           "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7,
                                                "cacheReadInputTokenCount": 1}}))
    s["bedrock_converse_stream.bin"] = llm(STREAM, "bedrock-runtime.us-east-1.amazonaws.com",
        "/model/arn:aws:bedrock:us-east-1:123:inference-profile/us.meta.llama3-2-1b-instruct-v1:0/converse-stream",
        CONVERSE_REQ, "", b"", CONVERSE_EVENTS + [("throttlingException", {"message": "slow down"})])
    import base64
    chunks = [("chunk", j({"bytes": base64.b64encode(j(ev[1])).decode()})) for ev in ANTH_EVENTS[:4]]
    chunks.append(("chunk", j({"bytes": base64.b64encode(j({
        "type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 14, "outputTokenCount": 6, "invocationLatency": 1,
            "firstByteLatency": 1}})).decode()})))
    s["bedrock_invoke_stream.bin"] = llm(STREAM, "bedrock-runtime.us-east-1.amazonaws.com",
        "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke-with-response-stream",
        j({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
           "messages": [{"role": "user", "content": "hi"}]}), "", b"", chunks)
    s["bedrock_invoke_headers.bin"] = llm(0, "bedrock-runtime.us-east-1.amazonaws.com",
        "/model/meta.llama3-8b-instruct-v1:0/invoke", j({"prompt": "hi"}),
        "X-Amzn-Bedrock-Input-Token-Count: 12\nX-Amzn-Bedrock-Output-Token-Count: 30\n"
        "x-amzn-bedrock-cache-read-input-token-count: 0\nx-amzn-bedrock-cache-write-input-token-count: 2\n"
        "x-amzn-ErrorType: ValidationException:http://internal/\n",
        j({"generation": "Hello", "prompt_token_count": 12, "generation_token_count": 30,
           "stop_reason": "stop"}))
    s["bedrock_titan_embed.bin"] = llm(0, "bedrock-runtime.us-east-1.amazonaws.com",
        "/model/amazon.titan-embed-text-v2:0/invoke", j({"inputText": "hi"}), "",
        j({"embedding": [0.1], "inputTextTokenCount": 2, "results": [{"tokenCount": 3, "outputText": "x"}]}))
    s["ollama_stream.bin"] = llm(STREAM, "localhost:11434", "/api/chat", OLLAMA_REQ, "", b"",
                                 [("", o) for o in OLLAMA_LINES])
    s["ollama_generate_body.bin"] = llm(0, "127.0.0.1:11434", "/api/generate",
        j({"model": "qwen3", "prompt": "why", "stream": False}), "",
        OLLAMA_NDJSON)
    s["tgi_stream.bin"] = llm(STREAM, "[::1]:8080", "/generate_stream", j({"inputs": "hello"}), "", b"",
        [{"token": {"id": 1, "text": "Hi", "special": False}},
         {"token": {"id": 2, "text": "</s>", "special": True},
          "details": {"generated_tokens": 2, "prefill": [{"id": 0}]}}])
    s["azure_deployment.bin"] = llm(ST429, "res.openai.azure.com",
        "/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21", OPENAI_REQ, "",
        j({"error": {"code": "429", "message": "Rate limit"}}))
    s["deepseek_cache.bin"] = llm(0, "api.deepseek.com", "/chat/completions",
        j({"model": "deepseek-chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}],
           "tools": [{"type": "function", "function": {"name": "f"}}]}), "",
        j({"object": "chat.completion", "model": "deepseek-chat",
           "choices": [{"message": {"content": None, "reasoning_content": "hmm",
                                    "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}}],
           "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 8}}))
    s["proxy_absolute_sse_body.bin"] = llm(0x40 | STREAM | 0x20, "", "http://api.openai.com/v1/completions",
        j({"model": "gpt-3.5-turbo-instruct", "prompt": ["a", "b"], "stream": True}), "",
        b"\xef\xbb\xbf" + sse([{"choices": [{"text": "x", "finish_reason": None}]},
                               ("message", {"choices": [{"text": "y", "finish_reason": "length"}],
                                            "usage": {"prompt_tokens": 2, "completion_tokens": 2}}),
                               b"[DONE]"]).replace(b"\n", b"\r\n", 3),
        [b"data only, no json"])
    s["not_llm_get.bin"] = llm(2, "example.com", "/index.html", "", "", "<html></html>")
    return s


# ---- stream seeds ---------------------------------------------------------------------------

W_SSE, W_NDJSON, W_AWS, W_GZIP, W_DEFLATE, W_BR, W_ZSTD, W_IDENTITY = range(8)


def stream(what, body, sizes=(), limit=0):
    return bytes([what, limit, len(sizes)]) + b"".join(struct.pack("<H", n) for n in sizes) + body


def stream_seeds():
    s = {}
    text_sse = (b"\xef\xbb\xbf: comment\r\nretry: 1000\r\nid: 7\r\nevent: delta\r\ndata: {\"a\":1}\r\n"
                b"data:second line\r\n\r\ndata\n\nevent: x\n\ndata: last\rdata: cr\r\r") + OPENAI_SSE
    s["sse_mixed.bin"] = stream(W_SSE, text_sse, (1, 2, 3, 0, 17))
    s["sse_anthropic_whole.bin"] = stream(W_SSE, ANTH_SSE)
    s["sse_small_limit.bin"] = stream(W_SSE, ANTH_SSE, (64,), limit=40)
    s["ndjson_ollama.bin"] = stream(W_NDJSON, OLLAMA_NDJSON.replace(b"\n", b"\r\n", 1) + b"\n  \n"
                                    + j(OLLAMA_LINES[0]), (5, 1))
    s["ndjson_small_limit.bin"] = stream(W_NDJSON, OLLAMA_NDJSON, (100,), limit=90)
    s["aws_converse.bin"] = stream(W_AWS, CONVERSE_AWS, (11, 1, 100))
    s["aws_mixed.bin"] = stream(W_AWS, AWS_MIXED, (3,))
    s["aws_oversized.bin"] = stream(W_AWS, CONVERSE_AWS, (7, 64), limit=10)
    s["gzip_sse.bin"] = stream(W_GZIP, gz(ANTH_SSE), (1, 9, 100))
    s["gzip_two_members.bin"] = stream(W_GZIP, gz(OPENAI_SSE) + gz(b"second member\n"), (50,))
    s["gzip_small_cap.bin"] = stream(W_GZIP, gz(OPENAI_SSE * 4), (), limit=3)
    s["deflate_zlib.bin"] = stream(W_DEFLATE, zlib_deflate(OPENAI_RESP), (1, 1, 20))
    s["deflate_raw.bin"] = stream(W_DEFLATE, raw_deflate(ANTH_BODY), (1, 30))
    s["br_sse.bin"] = stream(W_BR, br(ANTH_SSE), (2, 40))
    s["br_empty.bin"] = stream(W_BR, br(b""))
    s["zstd_sse.bin"] = stream(W_ZSTD, zstd(OPENAI_SSE), (10, 3))
    s["zstd_two_frames.bin"] = stream(W_ZSTD, zstd(b"frame one\n") + b"\x50\x2a\x4d\x18\x04\x00\x00\x00skip"
                                      + zstd(b"frame two\n"), (4,))
    big = sse(openai_chunks(["tok%05d " % i for i in range(1500)]) + [b"[DONE]"])
    s["zstd_big.bin"] = stream(W_ZSTD, zstd(big, 3), (1448, 2896))
    s["gzip_big.bin"] = stream(W_GZIP, gz(big), (1448,))
    s["identity.bin"] = stream(W_IDENTITY, b"gzip, br", (3,))
    return s


# ---- dictionaries ------------------------------------------------------------------------------

def dict_line(b):
    out = ""
    for ch in b:
        if 0x20 <= ch < 0x7f and ch not in (0x22, 0x5c):
            out += chr(ch)
        else:
            out += "\\x%02X" % ch
    return '"%s"' % out


def write_dict(name, entries, header):
    seen, lines = set(), ["# " + header, "# Written by tests/fuzz/gen_corpus.py."]
    for e in entries:
        if isinstance(e, str):
            e = e.encode()
        if e and e not in seen and len(e) <= 64:
            seen.add(e)
            lines.append(dict_line(e))
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")


def llm_literals():
    """The JSON keys, event names and values llm.c looks for."""
    import re
    src = open(os.path.join(HERE, "..", "..", "src", "proto", "llm.c")).read()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    out = []
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', src):
        lit = m.group(1)
        if "%" in lit or "\\" in lit or len(lit) < 2:
            continue
        out.append(lit)
    return out


def dicts():
    http = ["GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
            " HTTP/1.1\r\n", " HTTP/1.0\r\n", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n", "HTTP/1.0 ", "\r\n", "\r\n\r\n",
            "Host: ", "Content-Length: ", "Transfer-Encoding: chunked\r\n", "Content-Encoding: ",
            "Content-Type: ", "Connection: close\r\n", "Connection: keep-alive\r\n",
            "Upgrade: h2c\r\n", "Expect: 100-continue\r\n", "x-amzn-bedrock-input-token-count: ",
            "x-amzn-bedrock-output-token-count: ", "x-amzn-errortype: ",
            "gzip", "x-gzip", "deflate", "br", "zstd", "identity", "text/event-stream",
            "application/x-ndjson", "application/jsonl", "application/vnd.amazon.eventstream",
            "application/json", "0\r\n\r\n", ";ext=1", "ffffffffffffffff\r\n",
            "data: ", "event: ", "\n\n", "[DONE]", "HEAD", ":authority", ":path", ":method", ":status",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]
    h2 = [b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", b"\x00\x00\x00\x04\x01\x00\x00\x00\x00",
          b"\x01\x04\x00\x00\x00\x01", b"\x01\x05\x00\x00\x00\x01", b"\x00\x01\x00\x00\x00\x01",
          b"\x00\x00\x00\x00\x01\x00\x00\x00\x01", b"\x09\x04\x00\x00\x00\x01", b"\x03\x00\x00\x00\x00\x01",
          b"\x08\x00\x00\x00\x00\x00", b"\x07\x00\x00\x00\x00\x00", b"\x06\x00\x00\x00\x00\x00",
          b"\x05\x04\x00\x00\x00\x01", b"\x00\x08\x00\x00\x00\x01", b"\x01\x2c\x00\x00\x00\x01",
          b"\x82", b"\x83", b"\x84", b"\x87", b"\x88", b"\x8d", b"\x41", b"\x44", b"\x5f", b"\x5a",
          b"\x5c", b"\x3f\xe1\x1f", b"\x20", b"\x10", b"\x00", b"\xbe", b"\xbf"]
    sep = [SEP, SEP + b"\x00\x00\x00\x00\x00\x00\x00\x00", SEP + b"\x01\x00\x00\x00\x00\x00\x00\x00",
           SEP + b"\x02", SEP + b"\x03", SEP + b"\x05", SEP + b"\x09", SEP + b"\x12", SEP + b"\xc1"]
    write_dict("proto.dict", sep + [e.encode() for e in http] + h2 + [b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd", b"\x78\x9c"],
               "fuzz_proto: record separator and headers, HTTP/1 tokens, HTTP/2 frame headers and HPACK bytes")
    lit = llm_literals()
    write_dict("llm.dict", [SEP] + [l.encode() for l in lit]
               + [b'"%s":' % l.encode() for l in lit if l.isidentifier() or l.replace("-", "_").isidentifier()]
               + [b"data:", b"event:", b"[DONE]", b"1e15", b"-1", b"1e308", b"null", b"true", b"false",
                  b"\\u0000", b"\\ud800", b"\xef\xbb\xbf", b"%2F", b"%3A", b"?alt=sse", b"http://", b"https://"],
               "fuzz_llm: field separator, the keys, paths, hosts and event names llm.c knows")
    write_dict("stream.dict", [b"data:", b"data: ", b"event:", b"event: ", b"id:", b"retry:", b": ", b"\r\n",
                               b"\r\n\r\n", b"\n\n", b"\r\r", b"\xef\xbb\xbf", b"{}", b"[DONE]",
                               b"\x1f\x8b\x08\x00", b"\x78\x9c", b"\x78\x01", b"\x78\xda", b"\x28\xb5\x2f\xfd",
                               b"\x50\x2a\x4d\x18", b"\x03\x00\x00\x00", b"\x00\x00\x00\x10", b"\x07\x00",
                               b"\x0b:event-type\x07", b"\x0d:message-type\x07\x00\x05event",
                               b"\x0f:exception-type\x07", b"\x0b:error-code\x07", b"\x0e:error-message\x07",
                               b"\x0d:content-type\x07", b"\x00\x00\x00\x00\x00\x00\x00\x00"],
               "fuzz_stream: SSE fields, BOM, gzip/zlib/zstd magic, AWS event-stream headers")


def main():
    for target, seeds in (("proto", proto_seeds()), ("llm", llm_seeds()), ("stream", stream_seeds())):
        d = os.path.join(HERE, "corpus", target)
        if os.path.isdir(d):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
        for name, data in seeds.items():
            write(target, name, data)
        print("%s: %d seeds, %d bytes" % (target, len(seeds), sum(len(v) for v in seeds.values())))
    dicts()
    return 0


if __name__ == "__main__":
    sys.exit(main())

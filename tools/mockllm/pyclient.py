#!/usr/bin/python3
"""HTTP client for the mock LLM server (python standard library only).

  pyclient.py SPEC.json

SPEC: {"base": "https://127.0.0.1:PORT" | "http://127.0.0.1:PORT",
       "mode": "keepalive" | "urllib",
       "requests": [{"method": "POST", "path": "/v1/...", "headers": {...},
                     "body": "text"}, ...]}

keepalive: one http.client connection for every request, in order (HTTP/1.1
           keep-alive; a Host header in "headers" replaces http.client's own).
urllib:    urllib.request.urlopen, one connection per request
           ("Connection: close").

TLS certificates are not checked (the test's own self-signed one).
Prints one JSON line per request:
  {"i", "status", "local_port", "body_bytes" (as received: still
   content-encoded, without chunked framing), "t_start", "t_end" (wall clock,
   seconds), "error" (null, or why the response was incomplete),
   "content_encoding"}
and exits 0, even for HTTP errors and cut responses (the test judges them).
"""
import http.client
import json
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def emit(i, status, port, nbytes, t0, err, enc):
    print(json.dumps({"i": i, "status": status, "local_port": port, "body_bytes": nbytes,
                      "t_start": t0, "t_end": time.time(), "error": err,
                      "content_encoding": enc}), flush=True)


def keepalive(spec):
    u = urllib.parse.urlsplit(spec["base"])
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=20, context=tls_context())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    conn.connect()
    port = conn.sock.getsockname()[1]
    for i, r in enumerate(spec["requests"]):
        t0 = time.time()
        body = r.get("body")
        conn.request(r.get("method", "POST"), r["path"],
                     body=body.encode() if body is not None else None,
                     headers=r.get("headers", {}))
        resp = conn.getresponse()
        data = b""
        err = None
        try:
            data = resp.read()
        except (http.client.IncompleteRead, OSError) as e:
            err = "%s: %s" % (type(e).__name__, e)
            data = getattr(e, "partial", b"") or b""
        emit(i, resp.status, port, len(data), t0, err, resp.getheader("content-encoding"))
        if err:
            break  # the connection is gone
    conn.close()


def sock_port(resp):
    """Local port of an open urllib response (or HTTPError, which wraps one)."""
    r = resp.fp if isinstance(resp, urllib.error.HTTPError) else resp
    try:
        return r.fp.raw._sock.getsockname()[1]
    except Exception:  # noqa: BLE001 (internals of http.client: best effort)
        return None


def one_urllib(i, base, r, ctx):
    t0 = time.time()
    body = r.get("body")
    req = urllib.request.Request(base + r["path"], data=body.encode() if body is not None else None,
                                 headers=r.get("headers", {}), method=r.get("method", "POST"))
    try:
        resp = urllib.request.urlopen(req, context=ctx, timeout=20)
    except urllib.error.HTTPError as e:
        resp = e
    port = sock_port(resp)
    err = None
    try:
        data = resp.read()
    except (http.client.IncompleteRead, OSError) as e:
        err = "%s: %s" % (type(e).__name__, e)
        data = getattr(e, "partial", b"") or b""
    status = resp.status if hasattr(resp, "status") and resp.status else resp.code
    emit(i, status, port, len(data), t0, err, resp.headers.get("content-encoding"))
    resp.close()


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec.get("mode", "keepalive") == "keepalive":
        keepalive(spec)
    else:
        ctx = tls_context() if spec["base"].startswith("https:") else None
        for i, r in enumerate(spec["requests"]):
            one_urllib(i, spec["base"], r, ctx)


if __name__ == "__main__":
    main()

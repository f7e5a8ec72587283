#!/usr/bin/python3
"""HTTPS client on python's urllib (OpenSSL via the _ssl module), for the
infertrace integration tests.

  pyclient.py [--sleep-after-import S] [--pause S] URL...

Fetches each URL in turn (one connection each), pausing --pause seconds
between them, and prints one JSON line per URL: {"url", "status",
"body_bytes"}, then one line {"libssl": [paths of the libssl files mapped]}.

--sleep-after-import waits after `import ssl` and before any TLS: a test that
gives this process a private copy of libssl.so.3 (LD_LIBRARY_PATH) lets the
agent notice the new mapping and attach to it first.
"""
import argparse
import json
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--sleep-after-import", type=float, default=0.0)
ap.add_argument("--pause", type=float, default=0.0)
ap.add_argument("urls", nargs="+")
args = ap.parse_args()

import ssl  # noqa: E402  (loads libssl.so.3 now, on purpose after argparse)
import urllib.request  # noqa: E402


def mapped_libssl():
    with open("/proc/self/maps") as f:
        return sorted({line.split()[-1] for line in f
                       if "libssl" in line and "/" in line})


time.sleep(args.sleep_after_import)

# The test certificate is self-signed: the traffic is what is tested, not PKI.
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

for i, url in enumerate(args.urls):
    if i:
        time.sleep(args.pause)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        body = resp.read()
        print(json.dumps({"url": url, "status": resp.status,
                          "body_bytes": len(body)}), flush=True)

print(json.dumps({"libssl": mapped_libssl()}), flush=True)
sys.exit(0)

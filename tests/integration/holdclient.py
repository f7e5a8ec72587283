#!/usr/bin/python3
"""TLS client that keeps its connection open, for the infertrace tests of
connections that end other than by a close (agent shutdown, idle timeout).

  holdclient.py PORT PATH

Connects to 127.0.0.1:PORT with TLS (python's ssl: OpenSSL), sends one GET
request for PATH (use /hold/N on httpd.py, which then leaves the connection
open), reads the whole response (Content-Length), and prints one JSON line
{"local_port", "bytes_sent", "bytes_received"} with its exact plaintext
counts. It then waits, connection open, until its stdin is closed, and exits.
"""
import json
import socket
import ssl
import sys

port, path = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # self-signed test certificate

sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
sock.sendall(request)

buf = b""
while b"\r\n\r\n" not in buf:
    data = sock.recv(65536)
    if not data:
        sys.exit("holdclient: connection closed in the response headers")
    buf += data
head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n")
              if line.lower().startswith("content-length:"))
while len(buf) < len(head) + 4 + length:
    data = sock.recv(65536)
    if not data:
        sys.exit("holdclient: connection closed in the response body")
    buf += data

print(json.dumps({"local_port": sock.getsockname()[1], "bytes_sent": len(request),
                  "bytes_received": len(buf)}), flush=True)
sys.stdin.read()  # until the test closes our stdin
sock.close()

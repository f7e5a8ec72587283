#!/usr/bin/python3
"""Minimal HTTP/1.1 test server for the infertrace integration tests (stdlib only).

It serves HTTPS (python's ssl module, i.e. OpenSSL through SSL_read_ex /
SSL_write_ex) or, with --plain, plain HTTP over TCP. Every connection carries
exactly one request and is closed after the response ("Connection: close").

Why a hand-written server and not http.server: the tests need the EXACT number
of plaintext bytes this process read and wrote on every connection, to compare
with the agent's records for both sides. http.server reads through buffered
files and may stop reading before the client's bytes are all consumed; here
every recv() and send() is counted.

Requests (any query string is ignored):
  GET  /bytes/N   -> 200 with a body of N bytes ('x' * N)
  POST /bytes/N   -> same; the request body (Content-Length) is read and counted
  GET  /hold/N    -> same as /bytes/N, but the server then leaves the
                     connection open until the client closes it (up to
                     HOLD_TIMEOUT): for connections still open when the agent
                     stops, or idle ones
  anything else   -> 200 with an empty body

Output:
  stdout  one line {"event": "listening", "pid": ..., "port": ...} once ready
  --log   one JSON line per connection, written once the connection is closed:
          {"client_address", "client_port", "server_port", "bytes_received",
           "bytes_sent", "method", "path", "tls"}
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading

# Read in pieces no bigger than this: the exact size does not matter, every
# piece is counted.
RECV_SIZE = 65536
# A client that stalls must not hang the server (and the test) forever.
IO_TIMEOUT = 10.0
# How long to wait for the peer to close after the response was sent.
CLOSE_TIMEOUT = 3.0
# /hold/N: how long the connection may stay open after the response.
HOLD_TIMEOUT = 60.0


class Conn:
    """Byte-counting wrapper around one accepted (TLS or plain) socket."""

    def __init__(self, sock):
        self.sock = sock
        self.received = 0
        self.sent = 0

    def recv(self):
        data = self.sock.recv(RECV_SIZE)
        self.received += len(data)
        return data

    def sendall(self, data):
        # sendall() on an SSLSocket writes in records of at most 16 KiB; the
        # plaintext total is still len(data).
        self.sock.sendall(data)
        self.sent += len(data)


def read_request(conn):
    """Read one request (headers and Content-Length body); return (method, path)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv()
        if not data:
            raise EOFError("connection closed before the end of the request headers")
        buf += data
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        data = conn.recv()
        if not data:
            raise EOFError("connection closed in the middle of the request body")
        body += data
    return method, path


def response_for(path):
    # The query string is ignored: tests put a unique token there to find
    # their connection in the log.
    path = path.split("?", 1)[0]
    size = 0
    for prefix in ("/bytes/", "/hold/"):
        if path.startswith(prefix):
            size = int(path[len(prefix):])
    body = b"x" * size
    head = ("HTTP/1.1 200 OK\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\n"
            "Connection: close\r\n"
            "\r\n" % size).encode("ascii")
    return head + body


def hold(conn):
    """Keep the connection open until the client closes it (EOF), counting
    anything it sends meanwhile."""
    conn.sock.settimeout(HOLD_TIMEOUT)
    try:
        while conn.recv():
            pass
    except (OSError, ValueError):
        pass


def finish(conn, tls):
    """End the connection after the response without losing the counts.

    TLS: send close_notify (unwrap) so that clients reading until the end of
    the stream (gnutls-cli) exit. Plain: half-close, then read until the
    client closes. Any plaintext read here is counted: it is real traffic the
    agent will see too.
    """
    conn.sock.settimeout(CLOSE_TIMEOUT)
    try:
        if tls:
            conn.sock.unwrap()
        else:
            conn.sock.shutdown(socket.SHUT_WR)
            while conn.recv():
                pass
    except (OSError, ValueError):
        # The client went away first (reset, ragged EOF, timeout): fine.
        pass


def handle(raw, addr, args, ctx, log, lock):
    entry = {"client_address": addr[0], "client_port": addr[1],
             "server_port": args.port_bound, "tls": ctx is not None}
    conn = None
    try:
        raw.settimeout(IO_TIMEOUT)
        sock = ctx.wrap_socket(raw, server_side=True) if ctx else raw
        conn = Conn(sock)
        method, path = read_request(conn)
        entry.update(method=method, path=path)
        conn.sendall(response_for(path))
        if path.startswith("/hold/"):
            hold(conn)
        else:
            finish(conn, ctx is not None)
    except Exception as e:  # logged, so a test shows why its request failed
        entry["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if conn is not None:
            entry.update(bytes_received=conn.received, bytes_sent=conn.sent)
        try:
            (conn.sock if conn else raw).close()
        except OSError:
            pass
        with lock:
            log.write(json.dumps(entry) + "\n")
            log.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--cert", help="PEM certificate (TLS)")
    ap.add_argument("--key", help="PEM private key (TLS)")
    ap.add_argument("--plain", action="store_true", help="plain HTTP, no TLS")
    ap.add_argument("--log", required=True, help="per-connection JSON lines")
    args = ap.parse_args()
    if not args.plain and not (args.cert and args.key):
        ap.error("--cert and --key are required unless --plain")

    ctx = None
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(64)
    args.port_bound = lsock.getsockname()[1]

    log = open(args.log, "a")
    lock = threading.Lock()
    print(json.dumps({"event": "listening", "pid": os.getpid(),
                      "port": args.port_bound}), flush=True)
    # One thread per connection: tests may run clients in parallel. The
    # process is ended by the test with SIGTERM/SIGKILL.
    while True:
        raw, addr = lsock.accept()
        threading.Thread(target=handle, args=(raw, addr, args, ctx, log, lock),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)

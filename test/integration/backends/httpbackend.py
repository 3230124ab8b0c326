#!/usr/bin/env python3
"""A small HTTP/1.1 backend for the reverse-proxy tests (issue 5), python3 standard library only.

Listens on 127.0.0.1 (an ephemeral port unless --port), on a Unix socket (--unix PATH) or with
TLS (--cert/--key, on either), one thread per connection, keep-alive, and prints "PORT n" (or
"UNIX path") on stdout once it accepts connections. Every answer carries "X-Backend: NAME" and
"X-Backend-Method: METHOD".

Endpoints (the query string is ignored unless named; a path is routed from its first segment
that names an endpoint, so "/api/base/status/404" is /status/404, and reported whole):
  /echo              (and any path not named here) JSON: name, method, path, query, version,
                     headers (list of [name, value] in order), body_length, body_sha256,
                     conn (the connection's serial number, from 1), req (the request's
                     number on that connection)
  /upload            reads a body of any framing (Content-Length or chunked): JSON length, sha256
  /big?size=N        N deterministic bytes (big_bytes) with Content-Length
  /bigchunked?size=N the same bytes, chunked, chunks of varying size
  /status/N          status N, body "status N\n" (none for 1xx, 204, 304)
  /respond?status=S&h=Name:Value&h=...&body=B   a response with these extra header fields
                     (&close=1: without Content-Length, the body ended by closing)
  /sleep?ms=N        answers 200 after N ms (JSON as /echo)
  /stall?size=N&after=M  a head with Content-Length N, M bytes of big_bytes(N), then silence
  /never             reads the request and never answers; the connection stays open
  /stats             JSON: accepted (connections), open (now), connections (those that served a
                     counted request), requests (counted ones: all but /stats and /admin/*)
  /admin/reset       sets the counters to 0
  /admin/drop-idle   closes every connection that is waiting for its next request
  /health            200 "up", or 503 "down" after /health/down, 200 again after /health/up
  /malformed/KIND    a raw bad response (see MALFORMED), then the connection is closed
  /ws                a WebSocket echo (RFC 6455): text and binary frames echoed, ping answered,
                     close echoed
HEAD is answered like GET without the body.
"""

import argparse
import base64
import hashlib
import http
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

MAX_HEAD = 256 * 1024
BLOCK = 65536
_BASE = random.Random(5).randbytes(BLOCK)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MARK = b"MALFORMED-MARK"  # in every malformed response; the proxy must never forward it


def big_bytes(size):
    """Yields the deterministic test body of `size` bytes in blocks: each 64 KiB block is a
    fixed random block whose first 8 bytes are the block's index, so shifts show."""
    i = 0
    while size > 0:
        block = struct.pack(">Q", i) + _BASE[8:]
        yield block[:size]
        size -= len(block)
        i += 1


def big_sha256(size):
    h = hashlib.sha256()
    for block in big_bytes(size):
        h.update(block)
    return h.hexdigest()


def _head(status, reason, fields):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % kv for kv in fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _malformed_table():
    ok = b"HTTP/1.1 200 OK\r\n"
    pad = b"".join(b"X-Pad-%05d: %s\r\n" % (i, b"p" * 100) for i in range(700))
    return {
        "status-line": b"HTTP/1.1 2OO OK\r\nContent-Length: 14\r\n\r\n" + MARK,
        "cl-te": ok + b"Content-Length: 14\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"e\r\n" + MARK + b"\r\n0\r\n\r\n",
        "two-cl": ok + b"Content-Length: 14\r\nContent-Length: 15\r\n\r\n" + MARK + b"!",
        "bad-cl": ok + b"Content-Length: +14\r\n\r\n" + MARK,
        "te-not-chunked": ok + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + MARK,
        "cr-in-value": ok + b"X-Evil: a\r" + MARK + b"\r\nContent-Length: 2\r\n\r\nok",
        "lf-in-value": ok + b"X-Evil: a\nX-Injected: " + MARK + b"\r\nContent-Length: 2\r\n\r\nok",
        "nul-in-value": ok + b"X-Evil: a\x00" + MARK + b"\r\nContent-Length: 2\r\n\r\nok",
        "obs-fold": ok + b"X-Evil: a\r\n " + MARK + b"\r\nContent-Length: 2\r\n\r\nok",
        "big-head": ok + pad + b"X-Evil: " + MARK + b"\r\nContent-Length: 2\r\n\r\nok",
        "bad-chunk": ok + b"Transfer-Encoding: chunked\r\n\r\n4\r\nGOOD\r\nzz\r\n" + MARK
        + b"\r\n0\r\n\r\n",
    }


MALFORMED = _malformed_table()
MALFORMED_KINDS = sorted(list(MALFORMED) + ["endless-100"])


ENDPOINTS = {"echo", "upload", "big", "bigchunked", "status", "respond", "sleep", "stall", "never",
             "stats", "admin", "health", "malformed", "ws"}


def route_path(path):
    """The path from its first known endpoint segment on, so that a proxy's location prefix or
    base path ("/loc/base/status/404") reaches the endpoint ("/status/404"); else the path."""
    segs = path.split("/")
    for i, seg in enumerate(segs):
        if seg in ENDPOINTS:
            return "/" + "/".join(segs[i:])
    return path


class Closed(Exception):
    """The peer closed the connection (or it broke) mid-request."""


class Backend:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0  # connections open now
        self.serial = 0
        self.served_conns = set()
        self.requests = 0
        self.healthy = True
        self.idle = set()  # connections waiting for their next request

    def stats(self):
        with self.lock:
            return {"name": self.name, "accepted": self.accepted, "open": self.open,
                    "connections": len(self.served_conns), "requests": self.requests}

    def reset(self):
        with self.lock:
            self.accepted, self.requests = 0, 0
            self.served_conns = set()

    def drop_idle(self):
        with self.lock:
            idle, self.idle = list(self.idle), set()
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(idle)


class Conn:
    """One client connection: a buffered reader plus the request loop."""

    def __init__(self, backend, sock, serial):
        self.b = backend
        self.sock = sock
        self.serial = serial
        self.buf = b""
        self.nreq = 0
        self.method = "-"

    # ---- reading ----

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except (OSError, ssl.SSLError):
            data = b""
        if not data:
            raise Closed()
        self.buf += data

    def _until(self, marker, limit=MAX_HEAD):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise Closed()
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        with self.b.lock:
            self.b.idle.add(self.sock)
        try:
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            raw = self._until(b"\r\n\r\n")
        finally:
            with self.b.lock:
                self.b.idle.discard(self.sock)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append([k, v.strip(" \t")])
        return method, target, version, headers

    def read_body(self, headers):
        """Returns (length, sha256 hex) of the request body, any framing; chunked wins."""
        h = hashlib.sha256()
        n = 0
        te = ",".join(v for k, v in headers if k.lower() == "transfer-encoding").lower()
        if "chunked" in te:
            while True:
                size = int(self._until(b"\r\n")[:-2].split(b";")[0].strip(), 16)
                if size == 0:
                    while self._until(b"\r\n") != b"\r\n":
                        pass
                    break
                h.update(self._take(size))
                n += size
                self._take(2)
        else:
            cl = [v for k, v in headers if k.lower() == "content-length"]
            left = int(cl[0]) if cl else 0
            while left > 0:
                if not self.buf:
                    self._fill()
                piece, self.buf = self.buf[:left], self.buf[left:]
                h.update(piece)
                n += len(piece)
                left -= len(piece)
        return n, h.hexdigest()

    # ---- writing ----

    def send(self, data):
        self.sock.sendall(data)

    def respond(self, status, fields, body=b"", head=False, reason=None):
        fields = [("X-Backend", self.b.name), ("X-Backend-Method", self.method)] + list(fields)
        if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in fields):
            if status >= 200 and status not in (204, 304):
                fields.append(("Content-Length", str(len(body))))
        if reason is None:
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:
                reason = "Other"
        self.send(_head(status, reason, fields) + (b"" if head else body))

    def respond_json(self, obj, head=False, status=200):
        body = (json.dumps(obj, indent=1) + "\n").encode()
        self.respond(status, [("Content-Type", "application/json")], body, head)

    # ---- the loop ----

    def run(self):
        with self.b.lock:
            self.b.open += 1
        try:
            while True:
                method, target, version, headers = self.read_head()
                self.nreq += 1
                if not self.handle(method, target, version, headers):
                    break
                if any(k.lower() == "connection" and "close" in v.lower() for k, v in headers):
                    break
        except (Closed, OSError, ValueError, ssl.SSLError):
            pass
        finally:
            with self.b.lock:
                self.b.open -= 1
            try:
                self.sock.close()
            except OSError:
                pass

    def count(self, path):
        if path == "/stats" or path.startswith("/admin/"):
            return
        with self.b.lock:
            self.b.requests += 1
            self.b.served_conns.add(self.serial)

    def handle(self, method, target, version, headers):
        """Serves one request; False when the connection must end."""
        url = urllib.parse.urlsplit(target)
        path, query = route_path(url.path), urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.method = method
        self.count(path)
        head = method == "HEAD"
        length, digest = self.read_body(headers) if path != "/ws" else (0, "")
        if path.startswith("/malformed/"):
            return self.malformed(path[len("/malformed/"):])
        if path == "/never":
            while True:
                self._fill()  # returns only when the peer goes
        if path == "/ws":
            return self.websocket(headers)
        info = {"name": self.b.name, "method": method, "path": url.path, "query": url.query,
                "version": version, "headers": headers, "body_length": length,
                "body_sha256": digest, "conn": self.serial, "req": self.nreq}
        return self.route(method, path, query, info, head)

    def route(self, method, path, query, info, head):
        size = int(query.get("size", ["0"])[0])
        if path == "/big":
            self.respond(200, [("Content-Type", "application/octet-stream"),
                               ("Content-Length", str(size))], b"", head)
            if not head:
                for block in big_bytes(size):
                    self.send(block)
        elif path == "/bigchunked":
            self.respond(200, [("Content-Type", "application/octet-stream"),
                               ("Transfer-Encoding", "chunked")], b"", head)
            if not head:
                self.send_chunked(size)
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            body = b"" if code < 200 or code in (204, 304) else b"status %d\n" % code
            self.respond(code, [("Content-Type", "text/plain")], body, head)
        elif path == "/respond":
            fields = [(k.strip(), v.strip()) for k, _, v in
                      (h.partition(":") for h in query.get("h", []))]
            body = query.get("body", [""])[0].encode()
            if query.get("close") == ["1"]:  # no framing: the body ends with the connection
                self.send(_head(int(query.get("status", ["200"])[0]), "OK",
                                [("X-Backend", self.b.name)] + fields) + (b"" if head else body))
                return False
            self.respond(int(query.get("status", ["200"])[0]), fields, body, head)
        elif path == "/stall":
            self.respond(200, [("Content-Type", "application/octet-stream"),
                               ("Content-Length", str(size))], b"", head)
            self.send(b"".join(big_bytes(size))[:int(query.get("after", ["0"])[0])])
            while True:
                self._fill()  # returns only when the peer goes
        elif path == "/sleep":
            time.sleep(int(query.get("ms", ["0"])[0]) / 1000.0)
            self.respond_json(info, head)
        elif path == "/stats":
            self.respond_json(self.b.stats(), head)
        elif path == "/admin/reset":
            self.b.reset()
            self.respond_json(self.b.stats(), head)
        elif path == "/admin/drop-idle":
            self.respond_json({"dropped": self.b.drop_idle()}, head)
        elif path in ("/health", "/health/down", "/health/up"):
            if path != "/health":
                self.b.healthy = path == "/health/up"
            up = self.b.healthy
            self.respond(200 if up else 503, [("Content-Type", "text/plain")],
                         b"up\n" if up else b"down\n", head)
        elif path == "/upload":
            self.respond_json({"name": self.b.name, "length": info["body_length"],
                               "sha256": info["body_sha256"]}, head)
        else:
            self.respond_json(info, head)  # /echo, and any other path (a proxied base path)
        return True

    def send_chunked(self, size):
        sizes = [1, 100, 4096, 65536, 7, 30000]
        i = 0
        data = b"".join(big_bytes(size))
        pos = 0
        while pos < len(data):
            piece = data[pos:pos + sizes[i % len(sizes)]]
            self.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            pos += len(piece)
            i += 1
        self.send(b"0\r\n\r\n")

    def malformed(self, kind):
        if kind == "endless-100":
            for _ in range(100000):
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            return False
        data = MALFORMED.get(kind)
        if data is None:
            self.respond(404, [("Content-Type", "text/plain")], b"no such kind\n")
            return True
        self.send(data)
        time.sleep(0.2)  # let the proxy read it all before the close
        return False

    # ---- WebSocket (RFC 6455) ----

    def websocket(self, headers):
        h = {k.lower(): v for k, v in headers}
        key = h.get("sec-websocket-key", "")
        if "websocket" not in h.get("upgrade", "").lower() or not key:
            self.respond(400, [("Content-Type", "text/plain")], b"not a websocket request\n")
            return False
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        self.send(_head(101, "Switching Protocols", [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept), ("X-Backend", self.b.name)]))
        while True:
            fin_op, payload = self.ws_frame()
            op = fin_op & 0x0F
            if op == 0x8:
                self.send(self.ws_encode(0x88, payload[:2]))
                return False
            if op == 0x9:
                self.send(self.ws_encode(0x8A, payload))
            elif op in (0x0, 0x1, 0x2):
                self.send(self.ws_encode(fin_op, payload))

    def ws_frame(self):
        b0, b1 = self._take(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._take(8))[0]
        mask = self._take(4) if b1 & 0x80 else b"\0\0\0\0"
        data = self._take(n)
        if b1 & 0x80:
            m = (mask * (n // 4 + 1))[:n]
            data = (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        return b0, data

    @staticmethod
    def ws_encode(fin_op, payload):
        n = len(payload)
        if n < 126:
            return bytes([fin_op, n]) + payload
        if n < 65536:
            return bytes([fin_op, 126]) + struct.pack(">H", n) + payload
        return bytes([fin_op, 127]) + struct.pack(">Q", n) + payload


def serve(backend, listener, tls):
    while True:
        sock, _ = listener.accept()
        with backend.lock:
            backend.accepted += 1
            backend.serial += 1
            serial = backend.serial
        threading.Thread(target=connection, args=(backend, sock, serial, tls), daemon=True).start()


def connection(backend, sock, serial, tls):
    if sock.family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        try:
            sock.settimeout(10)
            sock = tls.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        except (OSError, ssl.SSLError):
            sock.close()
            return
    Conn(backend, sock, serial).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", default="backend")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--unix")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(args.unix)
        ready = "UNIX %s" % args.unix
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", args.port))
        ready = "PORT %d" % listener.getsockname()[1]
    listener.listen(512)
    print(ready, flush=True)
    try:
        serve(Backend(args.name), listener, tls)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

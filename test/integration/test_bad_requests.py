"""Malformed and hostile requests on a raw socket (RFC 9112 §2-§7, RFC 9110 §5, §7.2).

Each row sends one request and checks the status, whether the server closes the connection
afterwards, the shape of the error page, that neither a file beside wwwroot nor /etc/passwd ever
comes back, and that the server still serves GET /index.html afterwards. Rows whose answer must
close the connection leave out `Connection: close`, so the close is the server's own decision.
"""

import os
import socket

from kzharness import KzTestCase, NoResponse, base_global, write_file

INDEX = b"<p>index</p>\n"
SECRET = b"TOP-SECRET-BESIDE-WWWROOT\n"
H = "Host: localhost\r\n"
CC = "Connection: close\r\n"


def req(line, headers=H, close=False, body=""):
    return line + "\r\n" + headers + (CC if close else "") + "\r\n" + body


def g(target, headers=H):
    return req("GET %s HTTP/1.1" % target, headers)


# (name, request bytes, allowed statuses, must close, may end without a response)
ROWS = [
    # Host (RFC 9112 §3.2)
    ("HTTP/1.1 without Host", "GET /index.html HTTP/1.1\r\n\r\n", {400}, True, False),
    ("two Host headers", g("/index.html", H + H), {400}, True, False),
    ("two different Host headers", g("/index.html", H + "Host: other\r\n"), {400}, True, False),
    ("Host with a space", g("/index.html", "Host: a b\r\n"), {400}, True, False),
    ("Host with a backslash", g("/index.html", "Host: abc\\foo\r\n"), {400}, True, False),
    # version
    ("HTTP/1.11", req("GET / HTTP/1.11"), {400, 505}, True, False),
    ("HTTP/2.0", req("GET / HTTP/2.0"), {400, 505}, True, False),
    ("HTTP/0.9 (no version)", "GET /index.html\r\n", {400}, True, True),
    # method
    ("lowercase method", req("get /index.html HTTP/1.1", close=True), {400, 405, 501}, False,
     False),
    ("unknown method", req("FOO /index.html HTTP/1.1", close=True), {405, 501}, False, False),
    # request line syntax
    ("tab separator", req("GET\t/index.html HTTP/1.1"), {400}, True, False),
    ("two spaces", req("GET  /index.html HTTP/1.1"), {400}, True, False),
    ("CR separator", req("GET\r/index.html HTTP/1.1"), {400}, True, False),
    ("bare LF line ends", "GET /index.html HTTP/1.1\nHost: localhost\n\n", {400}, True, False),
    ("target with a space", req("GET /index .html HTTP/1.1"), {400}, True, False),
    ("target with a control byte", req("GET /ind\x01ex.html HTTP/1.1"), {400}, True, False),
    ("target with DEL", req("GET /ind\x7fex.html HTTP/1.1"), {400}, True, False),
    ("target with a #fragment", req("GET /index.html#frag HTTP/1.1"), {400}, True, False),
    ("target with a raw NUL", req("GET /index.html\x00 HTTP/1.1"), {400}, True, False),
    # percent-encoding
    ("%00 in the path", req("GET /index.html%00 HTTP/1.1", close=True), {400, 404}, False, False),
    ("truncated escape", req("GET /foo% HTTP/1.1", close=True), {400}, False, False),
    ("truncated escape, one digit", req("GET /foo%4 HTTP/1.1", close=True), {400}, False, False),
    ("non-hex escape", req("GET /foo%zz HTTP/1.1", close=True), {400}, False, False),
    # length limits
    ("9000-byte target", req("GET /" + "a" * 8999 + " HTTP/1.1"), {414}, True, False),
    # traversal (CVE-2021-41773 and friends): any refusal, never the file
    ("dot-dot to /etc/passwd", req("GET /../../../../etc/passwd HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    ("encoded dots (CVE-2021-41773)",
     req("GET /.%2e/.%2e/.%2e/.%2e/etc/passwd HTTP/1.1", close=True), {400, 403, 404}, False,
     False),
    ("encoded slashes", req("GET /..%2f..%2f..%2fetc/passwd HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    ("overlong UTF-8 dots", req("GET /%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    ("double decoding (CVE-2021-42013)",
     req("GET /.%%32%65/.%%32%65/.%%32%65/etc/passwd HTTP/1.1", close=True), {400}, False, False),
    ("dot-dot to the file beside wwwroot", req("GET /../secret.txt HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    ("encoded dot-dot to the file beside wwwroot",
     req("GET /%2e%2e/secret.txt HTTP/1.1", close=True), {400, 403, 404}, False, False),
    ("encoded slash to the file beside wwwroot",
     req("GET /..%2fsecret.txt HTTP/1.1", close=True), {400, 403, 404}, False, False),
    ("backslash to the file beside wwwroot", req("GET /..\\secret.txt HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    ("encoded backslash to the file beside wwwroot",
     req("GET /..%5csecret.txt HTTP/1.1", close=True), {400, 403, 404}, False, False),
    ("absolute-form with dot-dot", req("GET http://localhost/../secret.txt HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    ("dot-dot after a directory", req("GET /sub/../../secret.txt HTTP/1.1", close=True),
     {400, 403, 404}, False, False),
    # header syntax (RFC 9112 §5)
    ("space before the colon", g("/index.html", H + "Content-Length : 0\r\n"), {400}, True, False),
    ("obs-fold", g("/index.html", H + "X-Folded: a\r\n  b\r\n"), {400}, True, False),
    ("whitespace before the first header", g("/index.html", " " + H), {400}, True, False),
    ("NUL in a header value", g("/index.html", H + "X-A: a\x00b\r\n"), {400}, True, False),
    ("bare CR in a header value", g("/index.html", H + "X-A: a\rb\r\n"), {400}, True, False),
    ("empty header name", g("/index.html", H + ": x\r\n"), {400}, True, False),
    ("header name with parentheses", g("/index.html", H + "F(o): x\r\n"), {400}, True, False),
    ("header line without a colon", g("/index.html", H + "NoColonHere\r\n"), {400}, True, False),
    # framing (RFC 9112 §6)
    ("Content-Length with chunked",
     g("/index.html", H + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n",
     {400}, True, False),
    ("two Content-Lengths", g("/index.html", H + "Content-Length: 1\r\nContent-Length: 0\r\n"),
     {400}, True, False),
]
ROWS += [
    # more target forms (RFC 9112 §3.2)
    ("target without a leading slash", req("GET index.html HTTP/1.1", close=True), {400}, False,
     False),
    ("asterisk target with GET", req("GET * HTTP/1.1", close=True), {400}, False, False),
    ("absolute-form with another scheme", req("GET ftp://localhost/index.html HTTP/1.1",
                                              close=True), {400}, False, False),
    ("Host with userinfo", g("/index.html", "Host: user@localhost\r\n"), {400}, True, False),
    ("NUL in the method", req("GE\x00T /index.html HTTP/1.1"), {400}, True, False),
    ("five empty lines before the request", "\r\n" * 5 + g("/index.html"), {400}, True, False),
    # transfer codings (RFC 9112 §6.1): smuggling shapes
    ("chunked then another coding", g("/index.html", H + "Transfer-Encoding: chunked\r\n"
                                      "Transfer-Encoding: x\r\n") + "0\r\n\r\n",
     {400, 501}, True, False),
    ("chunked, identity", g("/index.html", H + "Transfer-Encoding: chunked, identity\r\n")
     + "0\r\n\r\n", {400, 501}, True, False),
    ("unknown coding", g("/index.html", H + "Transfer-Encoding: xchunked\r\n") + "0\r\n\r\n",
     {400, 501}, True, False),
    ("Transfer-Encoding in HTTP/1.0", "GET /index.html HTTP/1.0\r\nTransfer-Encoding: chunked"
     "\r\n\r\n0\r\n\r\n", {400}, True, False),
    ("chunk size overflow", g("/index.html", H + "Transfer-Encoding: chunked\r\n") +
     "f" * 20 + "\r\n", {400, 413}, True, False),
]
for _cl in ("+5", "-1", "0x10", "1Z", "1, 1", ""):
    ROWS.append(("Content-Length %r" % _cl, g("/index.html", H + "Content-Length: %s\r\n" % _cl),
                 {400}, True, False))

MARK = "ZQXJMARK"
BIG_ROWS = [
    ("one 10 KB header", g("/index.html", H + "X-Big: " + MARK * 1280 + "\r\n")),
    ("a 64 KB Cookie", g("/index.html", H + "Cookie: a=" + MARK * 8192 + "\r\n")),
    ("20 KB of headers in 1 KB fields", g("/index.html", H + "".join(
        "X-%d: %s\r\n" % (i, MARK * 125) for i in range(20)))),
    ("150 headers", g("/index.html", H + "".join("X-%s-%d: v\r\n" % (MARK, i)
                                                   for i in range(150)))),
]


class BadRequestTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {"global": base_global(root, requestHeaderTimeout=2000, requestBodyTimeout=2000)}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), INDEX)
        write_file(os.path.join(root, "www", "sub", "file.txt"), "sub\n")
        write_file(os.path.join(root, "secret.txt"), SECRET)

    def check_no_leak(self, data):
        self.assertNotIn(b"TOP-SECRET", data)
        self.assertNotIn(b"root:x:0:0", data)

    def run_row(self, data, statuses, must_close, may_drop):
        conn = self.server.connect()
        try:
            conn.send(data)
            try:
                resp = conn.read_response()
            except NoResponse:
                self.check_no_leak(conn.buf)
                self.assertTrue(may_drop, "connection ended without a response")
                return None
            self.check_no_leak(resp.raw_head + resp.body + conn.buf)
            self.assertIn(resp.status, statuses, resp)
            if resp.status >= 400:
                self.assert_error_page(resp)
            if must_close:
                self.assert_closed(conn)
            return resp
        finally:
            conn.close()

    def test_rows(self):
        for name, data, statuses, must_close, may_drop in ROWS:
            with self.subTest(row=name):
                self.run_row(data, statuses, must_close, may_drop)
                self.assert_serving("/index.html", INDEX)

    def test_oversized_heads(self):
        for name, data in BIG_ROWS:
            with self.subTest(row=name):
                resp = self.run_row(data, {400, 431}, True, False)
                self.assertNotIn(MARK.encode(), resp.body, "the error page echoes the header")
                self.assert_serving("/index.html", INDEX)

    def test_nothing_after_a_fatal_error_is_served(self):
        # A request pipelined behind a request the server must refuse is never answered: the
        # framing of whatever follows an error cannot be trusted.
        for bad in (req("GET /index .html HTTP/1.1"), g("/index.html", H + H),
                    g("/index.html", H + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")):
            with self.subTest(bad=bad[:30]):
                conn = self.server.connect()
                with conn:
                    conn.send(bad + g("/index.html"))
                    resp = conn.read_response()
                    self.assertEqual(resp.status, 400)
                    self.assert_closed(conn)

    def test_limits_are_not_off_by_one(self):
        # The 8192-byte request line limit: a target just within it is served (404), not 414.
        line = "GET /" + "a" * (8192 - len("GET / HTTP/1.1") - 1) + " HTTP/1.1"
        self.assertEqual(len(line), 8191)
        resp = self.run_row(req(line, close=True), {404}, False, False)
        self.assertEqual(resp.status, 404)
        # 100 headers (with Host) is the default count limit: accepted.
        hdrs = H + "".join("X-H%d: v\r\n" % i for i in range(98))
        resp = self.run_row(g("/index.html", hdrs + CC), {200}, False, False)
        self.assertEqual(resp.body, INDEX)

    def test_many_garbage_connections_then_serving(self):
        # Random-ish garbage of many shapes, each on its own connection: never a 2xx, never a hang.
        samples = [b"\x00" * 64, b"\xff\xfe\r\n\r\n", b"\r\n" * 10, b"GET", b"GET / HTTP/1.1\r\n",
                   b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                   b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"GET /index.html HTTP/1.1\r\nHost:"]
        for data in samples:
            with self.subTest(data=data[:20]):
                conn = self.server.connect(timeout=4)
                try:
                    conn.send(data)
                    conn.sock.shutdown(socket.SHUT_WR)
                    try:
                        resp = conn.read_response(timeout=4)
                        self.assertGreaterEqual(resp.status, 400, resp)
                    except NoResponse:
                        pass
                finally:
                    conn.close()
        self.assert_serving("/index.html", INDEX)

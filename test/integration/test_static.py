"""Normal traffic on static files (RFC 9110 §9, §15; RFC 9112 §6-§9) with curl, http.client and
raw sockets: methods, content types, index files, redirects, error pages, response headers,
a 5 MB file, keep-alive, HTTP/1.0, pipelining, 100-continue, request bodies, the body size
limit, timeouts and symbolic links.
"""

import email.utils
import os
import random
import re
import socket
import time
import urllib.parse

from kzharness import (
    KzTestCase,
    NoResponse,
    base_global,
    curl,
    read_file,
    sha256,
    wait_for,
    write_file,
)

INDEX = b"<!doctype html><p>index</p>\n"
FILES = {
    "a.txt": b"alpha\n",
    "b.txt": b"bravo!\n",
    "c.txt": b"charlie?\n",
    "style.css": b"p { color: red }\n",
    "data.json": b'{"k": 1}\n',
    "img.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    "app.js": b"console.log(1);\n",
    "page.xhtml": b"<html xmlns='http://www.w3.org/1999/xhtml'/>\n",
    "blob.zzqx": b"unknown extension\n",
    "noextension": b"no extension\n",
    "sp ace.txt": b"space\n",
    "d1/index.html": b"d1 index.html\n",
    "d2/index.htm": b"d2 index.htm\n",
    "d3/index.xhtml": b"d3 index.xhtml\n",
    "d4/index.htm": b"d4 index.htm\n",
    "d4/index.xhtml": b"d4 index.xhtml\n",
    "empty/.keep": b"",
}
SECRET = b"TOP-SECRET-BESIDE-WWWROOT\n"
BIG_SIZE = 5 * 1024 * 1024
DATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$"
)
H = "Host: localhost\r\n"


class StaticTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {
            "global": base_global(
                root,
                serverAdministratorEmail="admin@example.test",
                customHeaders={"X-Custom": "hello world", "Content-Type": "x-custom/never"},
                maximumRequestBodySize=1000,
                requestHeaderTimeout=1000,
                requestBodyTimeout=1000,
                keepAliveTimeout=3000,
            )
        }

    @classmethod
    def populate(cls, root):
        www = os.path.join(root, "www")
        write_file(os.path.join(www, "index.html"), INDEX)
        for name, data in FILES.items():
            write_file(os.path.join(www, name), data)
        rnd = random.Random(20260226)
        cls.big = bytes(rnd.getrandbits(8) for _ in range(4096)) * (BIG_SIZE // 4096)
        write_file(os.path.join(www, "big.bin"), cls.big)
        write_file(os.path.join(root, "secret.txt"), SECRET)
        write_file(os.path.join(root, "outside", "f.txt"), SECRET)
        os.symlink("a.txt", os.path.join(www, "link-in.txt"))
        os.symlink("d1", os.path.join(www, "linkdir-in"))
        os.symlink("../secret.txt", os.path.join(www, "link-out.txt"))
        os.symlink(os.path.join(root, "secret.txt"), os.path.join(www, "link-abs.txt"))
        os.symlink("/etc/passwd", os.path.join(www, "link-passwd"))
        os.symlink("../outside", os.path.join(www, "linkdir-out"))
        os.symlink("../../secret.txt", os.path.join(www, "d1", "up.txt"))

    # ---- helpers ----

    def curl_get(self, path, *extra):
        """Returns (status, {lowercased name: value}, body) of one curl request."""
        hfile = os.path.join(self.root, "curl-headers.txt")
        bfile = os.path.join(self.root, "curl-body.bin")
        for f in (hfile, bfile):
            if os.path.exists(f):
                os.unlink(f)
        res = curl("-D", hfile, "-o", bfile, "-w", "%{http_code}", *extra, self.server.url(path))
        self.assertEqual(res.returncode, 0, res.stderr)
        headers = {}
        for line in read_file(hfile).decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return int(res.stdout), headers, read_file(bfile)

    def one(self, data, head_request=False):
        resp, conn = self.raw(data, head_request)
        conn.close()
        return resp

    # ---- GET and HEAD ----

    def test_get_with_curl(self):
        status, headers, body = self.curl_get("/index.html")
        self.assertEqual(status, 200)
        self.assertEqual(body, INDEX)
        self.assertEqual(headers["content-length"], str(len(INDEX)))
        self.assertEqual(headers["content-type"].split(";")[0], "text/html")
        self.assertEqual(headers["server"], "Karpacz")

    def test_root_serves_index(self):
        resp, body = self.get("/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(body, INDEX)

    def test_head_has_length_but_no_body(self):
        conn = self.server.connect()
        with conn:
            conn.send("HEAD /a.txt HTTP/1.1\r\n" + H + "\r\n")
            resp = conn.read_response(head_request=True)
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Content-Length"), str(len(FILES["a.txt"])))
            self.assertEqual(resp.header("Content-Type").split(";")[0], "text/plain")
            # Any body bytes after the HEAD response would corrupt the next response.
            conn.send("GET /b.txt HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n")
            resp = conn.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, FILES["b.txt"])
            self.assert_closed(conn)

    def test_head_with_curl(self):
        res = curl("-I", self.server.url("/big.bin"))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, rb"(?i)\r\ncontent-length: %d\r\n" % BIG_SIZE)
        self.assertTrue(res.stdout.endswith(b"\r\n\r\n"))

    def test_content_types(self):
        table = {
            "/index.html": "text/html",
            "/a.txt": "text/plain",
            "/style.css": "text/css",
            "/data.json": "application/json",
            "/img.png": "image/png",
            "/app.js": "text/javascript",
            "/page.xhtml": "application/xhtml+xml",
            "/blob.zzqx": "application/octet-stream",
            "/noextension": "application/octet-stream",
            "/big.bin": "application/octet-stream",
        }
        for path, ctype in table.items():
            with self.subTest(path=path):
                resp, body = self.get(path)
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.getheader("Content-Type").split(";")[0], ctype)
                self.assertEqual(len(resp.msg.get_all("Content-Type")), 1)

    def test_file_bodies(self):
        for name, data in FILES.items():
            if name.endswith(".keep"):
                continue
            with self.subTest(name=name):
                resp, body = self.get("/" + urllib.parse.quote(name))
                self.assertEqual(resp.status, 200)
                self.assertEqual(body, data)
                self.assertEqual(resp.getheader("Content-Length"), str(len(data)))

    def test_index_files(self):
        table = {
            "/d1/": b"d1 index.html\n",
            "/d2/": b"d2 index.htm\n",
            "/d3/": b"d3 index.xhtml\n",
            "/d4/": b"d4 index.htm\n",  # index.htm comes before index.xhtml
            "/d1/?q=1": b"d1 index.html\n",
        }
        for path, data in table.items():
            with self.subTest(path=path):
                resp, body = self.get(path)
                self.assertEqual(resp.status, 200)
                self.assertEqual(body, data)
        resp, _ = self.get("/d2/")
        self.assertEqual(resp.getheader("Content-Type").split(";")[0], "text/html")
        resp, _ = self.get("/d3/")
        self.assertEqual(resp.getheader("Content-Type").split(";")[0], "application/xhtml+xml")

    def test_directory_without_slash_redirects(self):
        for path, want in (("/d1", ("/d1/", "")), ("/d1?a=1&b=%20x", ("/d1/", "a=1&b=%20x")),
                           ("/d2", ("/d2/", ""))):
            with self.subTest(path=path):
                resp, body = self.get(path)
                self.assertEqual(resp.status, 301)
                loc = urllib.parse.urlsplit(resp.getheader("Location"))
                self.assertEqual((loc.path, loc.query), want)
                self.assertEqual(resp.getheader("Content-Length"), str(len(body)))
        status, headers, body = self.curl_get("/d1", "-L")
        self.assertEqual((status, body), (200, b"d1 index.html\n"))

    def test_directory_without_index_is_403(self):
        resp, conn = self.raw("GET /empty/ HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n")
        conn.close()
        self.assertEqual(resp.status, 403)
        self.assert_error_page(resp)

    def test_missing_is_404(self):
        for path in ("/nope.html", "/nope/deeper.txt", "/a.txt/extra", "/d1/nope"):
            with self.subTest(path=path):
                resp = self.one("GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (path, H))
                self.assertEqual(resp.status, 404)
                self.assert_error_page(resp)
                self.assertIn(b"<html", resp.body.lower())

    def test_errors_keep_the_connection_and_head_has_no_body(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /missing HTTP/1.1\r\n" + H + "\r\n")
            page = conn.read_response()
            self.assertEqual(page.status, 404)
            conn.send("HEAD /missing HTTP/1.1\r\n" + H + "\r\n")
            head = conn.read_response(head_request=True)
            self.assertEqual(head.status, 404)
            self.assertEqual(head.header("Content-Length"), str(len(page.body)))
            conn.send("HEAD /d1 HTTP/1.1\r\n" + H + "\r\n")
            head = conn.read_response(head_request=True)
            self.assertEqual(head.status, 301)
            conn.send("GET /a.txt HTTP/1.1\r\n" + H + "\r\n")
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["a.txt"]))

    def test_percent_decoding_and_dot_segments(self):
        for path, data in (("/sp%20ace.txt", b"space\n"), ("/a%2etxt", FILES["a.txt"]),
                           ("/%61.txt", FILES["a.txt"]), ("/d1/../a.txt", FILES["a.txt"]),
                           ("/./a.txt", FILES["a.txt"]), ("//a.txt", FILES["a.txt"]),
                           ("/d1//index.html", b"d1 index.html\n")):
            with self.subTest(path=path):
                resp, body = self.get(path)
                self.assertEqual((resp.status, body), (200, data))

    # ---- methods ----

    def test_post_on_a_file_is_405_with_allow(self):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            with self.subTest(method=method):
                resp = self.one("%s /a.txt HTTP/1.1\r\n%sContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n" % (method, H))
                self.assertEqual(resp.status, 405)
                self.assert_error_page(resp)
                allow = [m.strip() for m in (resp.header("Allow") or "").split(",")]
                self.assertIn("GET", allow)
                self.assertIn("HEAD", allow)
                self.assertNotIn(method, allow)

    def test_options(self):
        for target in ("*", "/index.html", "/d1/"):
            with self.subTest(target=target):
                conn = self.server.connect()
                with conn:
                    conn.send("OPTIONS %s HTTP/1.1\r\n%s\r\n" % (target, H))
                    resp = conn.read_response()
                    self.assertEqual(resp.status, 204)
                    self.assertEqual(resp.header("Allow"), "GET, HEAD, POST, OPTIONS")
                    # RFC 9110 §8.6: no Content-Length in a 204; and no body bytes follow.
                    self.assertIsNone(resp.header("Content-Length"))
                    conn.send("GET /a.txt HTTP/1.1\r\n" + H + "\r\n")
                    self.assertEqual(conn.read_response().body, FILES["a.txt"])

    def test_options_star_with_curl(self):
        res = curl("-i", "-X", "OPTIONS", "--request-target", "*", self.server.url(""))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(res.stdout.startswith(b"HTTP/1.1 204 "), res.stdout[:100])
        self.assertIn(b"\r\nAllow: GET, HEAD, POST, OPTIONS\r\n", res.stdout)

    def test_trace_is_405_and_echoes_nothing(self):
        resp = self.one("TRACE /index.html HTTP/1.1\r\n" + H +
                        "X-Trace-Secret: tr4c3me\r\nConnection: close\r\n\r\n")
        self.assertEqual(resp.status, 405)
        self.assertIsNotNone(resp.header("Allow"))
        self.assertNotIn(b"tr4c3me", resp.body)
        self.assertNotIn("TRACE", [m.strip() for m in resp.header("Allow").split(",")])

    def test_unknown_method_and_connect_are_501(self):
        for line in ("BREW /index.html HTTP/1.1", "CONNECT localhost:80 HTTP/1.1",
                     "CONNECT 127.0.0.1:%d HTTP/1.1" % self.port):
            with self.subTest(line=line):
                resp = self.one(line + "\r\n" + H + "Connection: close\r\n\r\n")
                self.assertEqual(resp.status, 501)
                self.assert_error_page(resp)

    # ---- response headers ----

    def test_custom_headers_added_when_absent(self):
        resp, _ = self.get("/a.txt")
        self.assertEqual(resp.getheader("X-Custom"), "hello world")
        types = resp.msg.get_all("Content-Type")
        self.assertEqual(len(types), 1, types)
        self.assertEqual(types[0].split(";")[0], "text/plain")
        resp, _ = self.get("/missing-file")
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.getheader("X-Custom"), "hello world")
        self.assertEqual(resp.msg.get_all("Content-Type"), ["text/html; charset=utf-8"])

    def test_server_and_date_headers(self):
        before = time.time()
        for path in ("/a.txt", "/missing", "/d1"):
            with self.subTest(path=path):
                resp, _ = self.get(path)
                self.assertEqual(resp.msg.get_all("Server"), ["Karpacz"])
                dates = resp.msg.get_all("Date")
                self.assertEqual(len(dates), 1)
                self.assertRegex(dates[0], DATE_RE)
                when = email.utils.parsedate_to_datetime(dates[0]).timestamp()
                self.assertLessEqual(abs(when - before), 5)

    # ---- a large file ----

    def test_big_file_with_curl(self):
        status, headers, body = self.curl_get("/big.bin")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-length"], str(BIG_SIZE))
        self.assertEqual(len(body), BIG_SIZE)
        self.assertEqual(sha256(body), sha256(self.big))

    def test_big_file_with_http_client_twice_on_one_connection(self):
        conn = self.server.http(timeout=10)
        try:
            for _ in range(2):
                conn.request("GET", "/big.bin")
                resp = conn.getresponse()
                body = resp.read()
                self.assertEqual(resp.status, 200)
                self.assertEqual(sha256(body), sha256(self.big))
        finally:
            conn.close()

    def test_big_file_slow_reader(self):
        # A client that reads slowly: the server must wait on the socket, not drop bytes.
        conn = self.server.connect(timeout=15)
        with conn:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            conn.send("GET /big.bin HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n")
            time.sleep(0.5)
            resp = conn.read_response(timeout=15)
            self.assertEqual(resp.status, 200)
            self.assertEqual(sha256(resp.body), sha256(self.big))

    # ---- connections ----

    def test_keep_alive_reuses_the_connection(self):
        conn = self.server.http()
        try:
            conn.request("GET", "/a.txt")
            resp = conn.getresponse()
            self.assertEqual(resp.read(), FILES["a.txt"])
            self.assertFalse(resp.will_close)
            first = conn.sock.getsockname()
            conn.request("GET", "/b.txt")
            resp = conn.getresponse()
            self.assertEqual(resp.read(), FILES["b.txt"])
            self.assertEqual(conn.sock.getsockname(), first)
        finally:
            conn.close()

    def test_http10_closes_without_keep_alive(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /a.txt HTTP/1.0\r\n\r\n")
            resp = conn.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, FILES["a.txt"])
            self.assertNotEqual((resp.header("Connection") or "").lower(), "keep-alive")
            self.assert_closed(conn)

    def test_http10_keep_alive(self):
        conn = self.server.connect()
        with conn:
            for name in ("a.txt", "b.txt"):
                conn.send("GET /%s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % name)
                resp = conn.read_response()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.body, FILES[name])
                self.assertEqual((resp.header("Connection") or "").lower(), "keep-alive")
            conn.send("GET /c.txt HTTP/1.0\r\n\r\n")
            self.assertEqual(conn.read_response().body, FILES["c.txt"])
            self.assert_closed(conn)

    def test_connection_close_is_honoured(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /a.txt HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n")
            resp = conn.read_response()
            self.assertEqual(resp.body, FILES["a.txt"])
            self.assertEqual((resp.header("Connection") or "").lower(), "close")
            self.assert_closed(conn)

    def test_pipelining(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /a.txt HTTP/1.1\r\n" + H + "\r\n" +
                      "HEAD /b.txt HTTP/1.1\r\n" + H + "\r\n" +
                      "GET /b.txt HTTP/1.1\r\n" + H + "\r\n" +
                      "GET /c.txt HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n")
            r1 = conn.read_response()
            r2 = conn.read_response(head_request=True)
            r3 = conn.read_response()
            r4 = conn.read_response()
            self.assertEqual([r.status for r in (r1, r2, r3, r4)], [200] * 4)
            self.assertEqual(r1.body, FILES["a.txt"])
            self.assertEqual(r2.header("Content-Length"), str(len(FILES["b.txt"])))
            self.assertEqual(r3.body, FILES["b.txt"])
            self.assertEqual(r4.body, FILES["c.txt"])
            self.assert_closed(conn)

    def test_pipelining_many_in_small_pieces(self):
        reqs = "".join("GET /%s HTTP/1.1\r\n%s\r\n" % (n, H) for n in ["a.txt", "b.txt"] * 10)
        conn = self.server.connect()
        with conn:
            data = reqs.encode()
            for i in range(0, len(data), 7):  # split across header boundaries
                conn.send(data[i:i + 7])
            for i in range(20):
                resp = conn.read_response()
                self.assertEqual(resp.body, FILES["a.txt" if i % 2 == 0 else "b.txt"])

    def test_pipelined_burst_of_a_thousand(self):
        # 1,000 requests (about 40 KB, more than one read buffer) in one send, answered in order.
        names = ["a.txt", "b.txt", "c.txt"]
        data = "".join("GET /%s HTTP/1.1\r\n%s\r\n" % (names[i % 3], H) for i in range(1000))
        conn = self.server.connect(timeout=15)
        with conn:
            conn.send(data)
            for i in range(1000):
                resp = conn.read_response(timeout=15)
                self.assertEqual((resp.status, resp.body), (200, FILES[names[i % 3]]), i)

    def test_no_descriptor_leak(self):
        fd_dir = "/proc/%d/fd" % self.server.proc.pid
        paths = ["/a.txt", "/missing", "/d1", "/d1/", "/empty/", "/link-out.txt", "/big.bin",
                 "/linkdir-out/f.txt", "/nope/deeper.txt"]
        for p in paths:  # warm any caches first
            self.get(p, method="HEAD")
        before = len(os.listdir(fd_dir))
        conn = self.server.http()
        try:
            for i in range(300):
                conn.request("HEAD" if i % 2 else "GET", paths[i % len(paths)])
                conn.getresponse().read()
        finally:
            conn.close()
        time.sleep(0.2)
        after = len(os.listdir(fd_dir))
        self.assertLess(after - before, 20, "%d descriptors before, %d after" % (before, after))

    def test_error_log_escapes_what_it_quotes(self):
        # A refused symlink is logged with the request path: non-ASCII bytes come out as \xHH,
        # and a path with control bytes (a forged line) is refused before it could be logged.
        forged = "/linkdir-out/x%0a[2026-01-01 00:00:00] [crit] [KZ9999] forged%0d%1b[31m"
        resp = self.one("GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (forged, H))
        self.assertIn(resp.status, (400, 403, 404))
        resp = self.one("GET /linkdir-out/caf%c3%a9%e2%80%a8.txt HTTP/1.1\r\n" + H +
                        "Connection: close\r\n\r\n")
        self.assertEqual(resp.status, 403)
        want = rb"(?i)/linkdir-out/caf\\xc3\\xa9\\xe2\\x80\\xa8\.txt"
        self.assertTrue(wait_for(lambda: re.search(want, self.error_log()), timeout=3),
                        "no escaped path in the error log: %r" % self.error_log()[-1000:])
        log = self.error_log()
        for ch in set(log) - {0x0A}:
            self.assertTrue(0x20 <= ch < 0x7F, "raw byte 0x%02x in the error log" % ch)
        for line in log.split(b"\n")[:-1]:
            self.assertRegex(line, rb"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ")
        self.assertNotRegex(log, rb"(?m)^\[2026-01-01 00:00:00\]")

    # ---- request bodies ----

    def test_expect_100_continue(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /a.txt HTTP/1.1\r\n" + H +
                      "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            interim = conn.read_response(timeout=3)
            self.assertEqual((interim.version, interim.status), ("HTTP/1.1", 100))
            self.assertEqual(interim.raw_head, b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.send("hello")
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["a.txt"]))
            conn.send("GET /b.txt HTTP/1.1\r\n" + H + "\r\n")
            self.assertEqual(conn.read_response().body, FILES["b.txt"])

    def test_expect_100_continue_post(self):
        conn = self.server.connect()
        with conn:
            conn.send("POST /a.txt HTTP/1.1\r\n" + H +
                      "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            first = conn.read_response(timeout=3)
            self.assertIn(first.status, (100, 405))
            if first.status == 100:
                conn.send("hello")
                resp = conn.read_response()
                self.assertEqual(resp.status, 405)
                conn.send("GET /b.txt HTTP/1.1\r\n" + H + "\r\n")
                self.assertEqual(conn.read_response().body, FILES["b.txt"])

    def test_expect_with_http10_gets_no_100(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /a.txt HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            self.assertFalse(conn.closed(0.7))
            self.assertEqual(conn.buf, b"", "RFC 9110 §10.1.1: no 100 to an HTTP/1.0 client")
            conn.send("hello")
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["a.txt"]))

    def test_unknown_expectation_is_417(self):
        resp = self.one("GET /a.txt HTTP/1.1\r\n" + H +
                        "Expect: teapot\r\nConnection: close\r\n\r\n")
        self.assertEqual(resp.status, 417)

    def test_content_length_body_is_consumed(self):
        conn = self.server.connect()
        with conn:
            body = "GET /c.txt HTTP/1.1\r\n"  # a body that looks like a request
            conn.send("POST /a.txt HTTP/1.1\r\n" + H + "Content-Length: %d\r\n\r\n" % len(body) +
                      body + "GET /b.txt HTTP/1.1\r\n" + H + "\r\n")
            self.assertEqual(conn.read_response().status, 405)
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["b.txt"]))

    def test_chunked_body_is_consumed(self):
        body = "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
        conn = self.server.connect()
        with conn:
            conn.send("POST /a.txt HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n" +
                      body + "GET /b.txt HTTP/1.1\r\n" + H + "\r\n" +
                      "GET /c.txt HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n" +
                      "0\r\n\r\n")
            resp = conn.read_response()
            self.assertEqual(resp.status, 405)
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["b.txt"]))
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["c.txt"]))

    def test_chunked_body_in_pieces(self):
        conn = self.server.connect()
        with conn:
            conn.send("GET /a.txt HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n")
            for piece in ("1", "0\r\n0123456789abcdef", "\r\n", "0\r", "\n\r\n"):
                time.sleep(0.05)
                conn.send(piece)
            resp = conn.read_response()
            self.assertEqual((resp.status, resp.body), (200, FILES["a.txt"]))

    def test_bad_chunked_body_is_400_and_close(self):
        for body in ("zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
                     "-5\r\nhello\r\n0\r\n\r\n", "5\nhello\n0\n\n", "0x5\r\nhello\r\n0\r\n\r\n"):
            with self.subTest(body=body):
                conn = self.server.connect()
                with conn:
                    conn.send("POST /a.txt HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n"
                              + body)
                    resp = conn.read_response()
                    self.assertEqual(resp.status, 400)
                    self.assert_closed(conn)

    def test_body_over_the_limit_is_413(self):
        conn = self.server.connect()
        with conn:
            conn.send("POST /a.txt HTTP/1.1\r\n" + H + "Content-Length: 1001\r\n\r\n")
            resp = conn.read_response(timeout=3)
            self.assertEqual(resp.status, 413)
            self.assert_error_page(resp)
            self.assert_closed(conn)

    def test_body_at_the_limit_is_accepted(self):
        resp = self.one("GET /a.txt HTTP/1.1\r\n" + H + "Content-Length: 1000\r\n"
                        "Connection: close\r\n\r\n" + "x" * 1000)
        self.assertEqual((resp.status, resp.body), (200, FILES["a.txt"]))

    def test_chunked_body_over_the_limit_is_413(self):
        conn = self.server.connect()
        with conn:
            conn.send("POST /a.txt HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n" +
                      ("190\r\n" + "y" * 400 + "\r\n") * 3 + "0\r\n\r\n")
            resp = conn.read_response(timeout=3)
            self.assertEqual(resp.status, 413)
            self.assert_closed(conn)

    def test_huge_content_length_is_413_not_400(self):
        resp = self.one("POST /a.txt HTTP/1.1\r\n" + H + "Content-Length: 99999999999\r\n\r\n")
        self.assertEqual(resp.status, 413)
        resp = self.one("POST /a.txt HTTP/1.1\r\n" + H +
                        "Content-Length: 99999999999999999999999999\r\n\r\n")
        self.assertIn(resp.status, (400, 413))

    # ---- timeouts (requestHeaderTimeout and requestBodyTimeout are 1000 ms here) ----

    def test_slow_head_is_408(self):
        conn = self.server.connect()
        with conn:
            began = time.monotonic()
            conn.send("GET /a.txt HTTP/1.1\r\n" + H)
            resp = conn.read_response(timeout=4)
            took = time.monotonic() - began
            self.assertEqual(resp.status, 408)
            self.assert_error_page(resp)
            self.assertGreater(took, 0.7)
            self.assertLess(took, 3.5)
            self.assert_closed(conn)

    def test_slowloris_trickle_is_408(self):
        # One byte every 100 ms never completes a head: the 1 s limit covers the whole head.
        conn = self.server.connect()
        with conn:
            began = time.monotonic()
            data = ("GET /a.txt HTTP/1.1\r\n" + H + "X-Slow: " + "s" * 200).encode()
            got = None
            for i in range(len(data)):
                if time.monotonic() - began > 4:
                    break
                if not conn.send(data[i:i + 1]):
                    break
                time.sleep(0.1)
                try:
                    got = conn.read_response(timeout=0.01)
                    break
                except socket.timeout:
                    continue
                except NoResponse:
                    break
            took = time.monotonic() - began
            self.assertIsNotNone(got, "no answer to a trickled head within %.1fs" % took)
            self.assertEqual(got.status, 408)
            self.assertLess(took, 3.5)

    def test_slow_body_is_408(self):
        conn = self.server.connect()
        with conn:
            conn.send("POST /a.txt HTTP/1.1\r\n" + H + "Content-Length: 100\r\n\r\n" + "z" * 10)
            began = time.monotonic()
            resp = conn.read_response(timeout=4)
            took = time.monotonic() - began
            self.assertEqual(resp.status, 408)
            self.assertGreater(took, 0.7)
            self.assertLess(took, 3.5)
            self.assert_closed(conn)

    def test_silent_connection_is_closed(self):
        conn = self.server.connect()
        with conn:
            began = time.monotonic()
            # Either a 408 or a plain close: both within the header timeout plus slack.
            try:
                resp = conn.read_response(timeout=4)
                self.assertEqual(resp.status, 408)
            except NoResponse:
                pass
            self.assertLess(time.monotonic() - began, 3.5)
            self.assert_closed(conn)

    def test_idle_keep_alive_connection_is_closed(self):
        conn = self.server.connect(timeout=8)
        with conn:
            conn.send("GET /a.txt HTTP/1.1\r\n" + H + "\r\n")
            self.assertEqual(conn.read_response().status, 200)
            began = time.monotonic()
            self.assertFalse(conn.closed(1.5), "closed before keepAliveTimeout (3 s)")
            try:
                conn.read_response(timeout=4)  # a 408 is tolerated, then the close
            except NoResponse:
                pass
            took = time.monotonic() - began
            self.assertGreater(took, 2.5)
            self.assertLess(took, 5.5)

    # ---- symbolic links ----

    def test_symlink_inside_wwwroot_is_served(self):
        for path, data in (("/link-in.txt", FILES["a.txt"]),
                           ("/linkdir-in/index.html", b"d1 index.html\n"),
                           ("/linkdir-in/", b"d1 index.html\n")):
            with self.subTest(path=path):
                resp, body = self.get(path)
                self.assertEqual((resp.status, body), (200, data))

    def test_symlink_leading_outside_is_403(self):
        for path in ("/link-out.txt", "/link-abs.txt", "/link-passwd", "/linkdir-out/f.txt",
                     "/d1/up.txt", "/linkdir-out/", "/linkdir-out"):
            with self.subTest(path=path):
                resp = self.one("GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (path, H))
                self.assertEqual(resp.status, 403, resp)
                self.assertNotIn(b"TOP-SECRET", resp.body)
                self.assertNotIn(b"root:x:0:0", resp.body)

    def test_permission_denied_is_403(self):
        if os.geteuid() == 0:
            self.skipTest("root reads any file")
        path = os.path.join(self.root, "www", "private.txt")
        write_file(path, "private\n")
        os.chmod(path, 0)
        resp, _ = self.get("/private.txt")
        self.assertEqual(resp.status, 403)


class SpecialFileTest(KzTestCase):
    """A FIFO in wwwroot (behaviour spec §4: a special file → 501). Opening one for reading
    blocks until a writer comes, so a server that opens it like a file hangs a whole loop."""

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), INDEX)
        os.mkfifo(os.path.join(root, "www", "fifo"))
        os.mkfifo(os.path.join(root, "www", "fifo.html"))

    def test_fifo_is_501_and_the_server_stays_responsive(self):
        for path in ("/fifo", "/fifo.html"):
            with self.subTest(path=path):
                conn = self.server.connect(timeout=3)
                with conn:
                    conn.send("GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (path, H))
                    resp = conn.read_response(timeout=3)
                    self.assertEqual(resp.status, 501)
                for _ in range(4):  # both workers
                    self.assert_serving("/index.html", INDEX)

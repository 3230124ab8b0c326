"""Error responses beyond the built-in page (issue 3): errorPages files per status and scope,
errorConfig entries that answer an error with another configuration (a web root of error
pages), their fallbacks, and the `{path}` placeholder of customHeaders.
"""

import os
import re
import unittest

from kzharness import KzTestCase, base_global, curl, wait_for, write_file


def read(path):
    with open(path, "rb") as f:
        return f.read()


class ErrorPagesTest(KzTestCase):
    @classmethod
    def config(cls, root):
        g = base_global(root, errorPages=[{"scode": 404, "path": "pages/404.html"},
                                          {"scode": 403, "path": "pages/missing.html"}])
        g["customHeaders"] = {"X-Path": "seen {path} here", "Link": "<{path}>; rel=canonical"}
        return {
            "global": g,
            "hosts": [
                {
                    "domain": "own.test",
                    "errorPages": [{"scode": 404, "path": "pages/own404.html"}],
                },
                {
                    "domain": "rewrite.test",
                    "errorConfig": [{"scode": 404, "wwwroot": "errwww",
                                     "rewriteMap": [{"regex": "^/.*", "replacement": "/404.html"}]}],
                },
                {
                    "domain": "errconf.test",
                    "errorConfig": [{"scode": 404, "wwwroot": "errwww"}],
                    "locations": [
                        {"path": "/loc", "errorConfig": [{"scode": 404, "wwwroot": "locwww"}]}
                    ],
                },
            ],
        }

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "www", "secret", "x.txt"), "x\n")
        write_file(os.path.join(root, "pages", "404.html"), "<p>custom 404</p>\n")
        write_file(os.path.join(root, "pages", "own404.html"), "<p>own 404</p>\n")
        write_file(os.path.join(root, "errwww", "gone.html"), "<p>errwww gone</p>\n")
        write_file(os.path.join(root, "errwww", "404.html"), "<p>one page for every 404</p>\n")
        write_file(os.path.join(root, "locwww", "loc", "gone.html"), "<p>location gone</p>\n")

    def test_error_page_file(self):
        resp, body = self.get("/nope.html")
        self.assertEqual(resp.status, 404)
        self.assertEqual(body, b"<p>custom 404</p>\n")
        self.assertEqual(resp.getheader("Content-Type"), "text/html; charset=utf-8")

    def test_host_overrides_global_page(self):
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: own.test",
                   self.server.url("/nope"))
        self.assertEqual(res.stdout, b"<p>own 404</p>\n404")

    def test_other_statuses_keep_the_built_in_page(self):
        resp, body = self.get("/x", method="TRACE")
        self.assertEqual(resp.status, 405)
        self.assertIn(b"405 Method Not Allowed", body)

    def test_unreadable_page_falls_back_and_is_logged(self):
        # 403 has a page configured whose file does not exist; a directory without an index
        # file (and no listing) is a 403.
        resp, body = self.get("/secret/")
        self.assertEqual(resp.status, 403)
        self.assertIn(b"403 Forbidden", body)
        log = os.path.join(self.root, "error.log")
        self.assertTrue(wait_for(lambda: b"[KZ0210] cannot read the error page" in read(log),
                                 timeout=5))

    def test_error_config_serves_from_its_root_with_the_error_status(self):
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: errconf.test",
                   self.server.url("/gone.html"))
        self.assertEqual(res.stdout, b"<p>errwww gone</p>\n404")

    def test_error_config_rewrites_to_one_page(self):
        # The rerun goes through rewriteMap too: every missing path gets errwww/404.html.
        for path in ("/missing", "/a/b/c.txt?x=1"):
            res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: rewrite.test",
                       self.server.url(path))
            self.assertEqual(res.stdout, b"<p>one page for every 404</p>\n404", path)
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: rewrite.test",
                   self.server.url("/index.html"))
        self.assertEqual(res.stdout, b"<p>index</p>\n200")

    def test_error_config_of_the_location_wins(self):
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: errconf.test",
                   self.server.url("/loc/gone.html"))
        self.assertEqual(res.stdout, b"<p>location gone</p>\n404")

    def test_error_config_that_fails_too_gives_the_page_for_the_first_error(self):
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: errconf.test",
                   self.server.url("/not-in-either.html"))
        self.assertTrue(res.stdout.endswith(b"404"))
        self.assertIn(b"<p>custom 404</p>", res.stdout)  # the global errorPages entry

    def test_success_is_untouched(self):
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "-H", "Host: errconf.test",
                   self.server.url("/index.html"))
        self.assertEqual(res.stdout, b"<p>index</p>\n200")

    def test_path_placeholder_in_custom_headers(self):
        resp, _ = self.get("/index.html")
        self.assertEqual(resp.getheader("X-Path"), "seen /index.html here")
        self.assertEqual(resp.getheader("Link"), "</index.html>; rel=canonical")
        # Encoded, so a header value never carries raw bytes of the path.
        res = curl("-s", "-D", "-", "-o", "/dev/null", self.server.url("/a%20b%C3%B3.txt"))
        self.assertRegex(res.stdout, rb"\r\nX-Path: seen /a%20b%C3%B3\.txt here\r\n")


class ErrorConfigForEveryStatusTest(KzTestCase):
    """An errorConfig entry without scode applies to every error, including those of requests
    that never reached a path: they keep the built-in page (regression: a NULL path crashed)."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, errorConfig=[{"wwwroot": "errwww"}])}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "errwww", "missing.html"), "<p>from errwww</p>\n")

    def test_requests_without_a_path(self):
        for data, status in ((b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
                             (b"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
                             (b"CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n\r\n", 501)):
            resp, conn = self.raw(data)
            self.assertEqual(resp.status, status, data)
            conn.close()
        resp, body = self.get("/missing.html")
        self.assertEqual((resp.status, body), (404, b"<p>from errwww</p>\n"))
        self.assert_serving()


class ErrorPageFifoTest(KzTestCase):
    """Regression (review): an errorPages path that is a FIFO once blocked the event loop in
    open(2) until some writer came; it is now refused like any other unreadable page."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, errorPages=[{"scode": 404, "path": "fifo"}])}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        os.mkfifo(os.path.join(root, "fifo"))

    def test_fifo_page_falls_back_to_the_built_in_page(self):
        res = curl("-s", "-o", "-", "-w", "%{http_code}", "--max-time", "5",
                   self.server.url("/missing.html"))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(res.stdout.endswith(b"404"), res.stdout)
        self.assertIn(b"404 Not Found", res.stdout)
        log = os.path.join(self.root, "error.log")
        self.assertTrue(wait_for(lambda: b"[KZ0210] cannot read the error page" in read(log),
                                 timeout=5))
        resp, body = self.get("/index.html")
        self.assertEqual((resp.status, body), (200, b"<p>index</p>\n"))


class ErrorPagesConfigTest(unittest.TestCase):
    def test_bad_entries_are_refused_with_their_line(self):
        import shutil
        import subprocess
        import tempfile

        from kzharness import binary

        d = tempfile.mkdtemp(prefix="kz-it-ep-")
        self.addCleanup(shutil.rmtree, d, True)
        rows = (
            ("  errorPages:\n    - scode: 200\n      path: a.html\n",
             ":4:7: error: property 'errorPages': scode must be an error status from 400 to 599"),
            ("  errorPages:\n    - scode: 404\n",
             ":4:7: error: property 'errorPages': path must name a file"),
            ("  errorPages:\n    - scode: 404\n      path: a\n      size: 3\n",
             ":4:7: error: property 'errorPages': unknown key 'size' (expected scode and path)"),
        )
        for text, want in rows:
            path = os.path.join(d, "e.yaml")
            write_file(path, "global:\n  port: 0\n" + text)
            res = subprocess.run([binary(), "-t", "-c", path], capture_output=True, timeout=10)
            self.assertEqual(res.returncode, 1, text)
            self.assertIn(path + want, res.stderr.decode(), text)


if __name__ == "__main__":
    unittest.main()

"""The original's request features with curl (karpacz-behaviour.md §1, §2, §4): rewriteMap (a
WordPress-style front controller with isNotFile / isNotDirectory, `last`, chains, a location
chosen for the new path, a result without '/', a regex stopped by its match limit, logging),
a bad regex refused at start with FILE:LINE:COL, enableIPSpoofing (the access log shows the
forwarded address; an invalid one is a 400), wwwredirect (the exact Location) and blocklist
(addresses and CIDR ranges, IPv4 and IPv6, 403), and the order of those stages.
"""

import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from kzharness import (
    curl_get,
    log_line,
    KzTestCase,
    base_global,
    binary,
    curl,
    read_file,
    wait_for,
    write_file,
)

FRONT = b"<p>front controller</p>\n"
INDEX = b"<p>index</p>\n"


class RewriteTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {
            "global": base_global(
                root,
                enableRewriteLogging=True,
                rewriteMap=[
                    {"regex": "^/slow/(a+)+$", "replacement": "/c.txt"},
                    {"regex": "^/noslash$", "replacement": "noslash"},
                    {"regex": "^/old/(.*)$", "replacement": "/new/$1", "last": True},
                    {"regex": "^/new/(.*)$", "replacement": "/newer/$1"},
                    {"regex": "^/a$", "replacement": "/b"},
                    {"regex": "^/b$", "replacement": "/c.txt"},
                    {"regex": "^/search/(?<term>[a-z]+)$", "replacement": "/c.txt?q=${term}"},
                    {
                        "regex": "^/(.*)",
                        "replacement": "/front.html?path=$1",
                        "isNotFile": True,
                        "isNotDirectory": True,
                        "last": True,
                    },
                ],
            ),
            "hosts": [
                {
                    "domain": "loc.test",
                    "rewriteMap": [{"regex": "^/go/(.*)$", "replacement": "/loc/$1"}],
                    "locations": [{"path": "/loc", "wwwroot": "www2"}],
                }
            ],
        }

    @classmethod
    def populate(cls, root):
        www = os.path.join(root, "www")
        write_file(os.path.join(www, "index.html"), INDEX)
        write_file(os.path.join(www, "front.html"), FRONT)
        write_file(os.path.join(www, "style.css"), b"p { color: red }\n")
        write_file(os.path.join(www, "sub", "index.html"), b"sub index\n")
        write_file(os.path.join(www, "new", "page.txt"), b"new page\n")
        write_file(os.path.join(www, "newer", "page.txt"), b"newer page\n")
        write_file(os.path.join(www, "c.txt"), b"c file\n")
        write_file(os.path.join(www, "go", "f.txt"), b"from www\n")
        write_file(os.path.join(root, "www2", "loc", "f.txt"), b"from www2\n")

    # ---- the front controller ----

    def test_existing_file_is_served_as_is(self):
        status, headers, body = curl_get(self.server, "/style.css")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"p { color: red }\n")
        self.assertEqual(headers["content-type"].split(";")[0], "text/css")

    def test_existing_directory_is_served_as_is(self):
        status, _, body = curl_get(self.server, "/sub/")
        self.assertEqual((status, body), (200, b"sub index\n"))
        status, headers, _ = curl_get(self.server, "/sub")
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "/sub/")
        status, _, body = curl_get(self.server, "/")
        self.assertEqual((status, body), (200, INDEX))

    def test_other_paths_go_to_the_front_file(self):
        for path in ("/blog/2024/hello-world", "/missing.css", "/sub/missing", "/x?y=1"):
            status, headers, body = curl_get(self.server, path)
            self.assertEqual((status, body), (200, FRONT), path)
            self.assertEqual(headers["content-type"].split(";")[0], "text/html", path)

    def test_rewrite_is_logged(self):
        status, _, body = curl_get(self.server, "/blog/2024/hello%20world?p=1")
        self.assertEqual((status, body), (200, FRONT))
        line = log_line(self.error_log, b"rewrote /blog/2024/hello%20world?p=1 to ")
        self.assertIsNotNone(line, "no rewrite line: %r" % self.error_log()[-2000:])
        self.assertRegex(
            line.decode(),
            r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[info\] \[KZ0400\] rewrote "
            r"/blog/2024/hello%20world\?p=1 to /front\.html\?path=blog/2024/hello%20world\?p=1$",
        )

    # ---- rules ----

    def test_last_stops_after_a_change(self):
        status, _, body = curl_get(self.server, "/old/page.txt")
        self.assertEqual((status, body), (200, b"new page\n"))
        # Without the `last` rule in the way, the next rule rewrites /new/ further.
        status, _, body = curl_get(self.server, "/new/page.txt")
        self.assertEqual((status, body), (200, b"newer page\n"))

    def test_rules_chain(self):
        status, _, body = curl_get(self.server, "/a")
        self.assertEqual((status, body), (200, b"c file\n"))

    def test_named_group_into_the_query(self):
        status, _, body = curl_get(self.server, "/search/abc")
        self.assertEqual((status, body), (200, b"c file\n"))
        line = log_line(self.error_log, b"rewrote /search/abc to ")
        self.assertIsNotNone(line)
        self.assertTrue(line.endswith(b"rewrote /search/abc to /c.txt?q=abc"), line)

    def test_result_without_slash_is_400(self):
        status, headers, body = curl_get(self.server, "/noslash")
        self.assertEqual(status, 400)
        self.assertIn(b"400", body)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")

    def test_match_limit_stops_a_backtracking_regex(self):
        path = "/slow/" + "a" * 60 + "!"
        status, _, _ = curl_get(self.server, path)
        self.assertEqual(status, 500)
        line = log_line(self.error_log, b"[KZ0401]")
        self.assertIsNotNone(line, "no KZ0401 line: %r" % self.error_log()[-2000:])
        self.assertIn(b"[warn] [KZ0401] rewrite rule 1 (^/slow/(a+)+$) failed on " +
                      path.encode() + b": match limit exceeded", line)
        # A path the same rule matches quickly is rewritten as usual.
        status, _, body = curl_get(self.server, "/slow/aaaa")
        self.assertEqual((status, body), (200, b"c file\n"))
        self.assert_serving("/style.css")

    def test_the_location_is_chosen_for_the_new_path(self):
        # /go/f.txt exists in www, so the front controller lets it pass to the host's rule; the
        # new path /loc/f.txt selects the location whose wwwroot is www2.
        status, _, body = curl_get(self.server, "/go/f.txt", "-H", "Host: loc.test")
        self.assertEqual((status, body), (200, b"from www2\n"))
        status, _, body = curl_get(self.server, "/go/f.txt")
        self.assertEqual((status, body), (200, b"from www\n"))
        # Host rules follow the global ones: the front controller (global, last) wins first for
        # a missing path, so the host rule never sees it.
        status, _, body = curl_get(self.server, "/go/zzz", "-H", "Host: loc.test")
        self.assertEqual((status, body), (200, FRONT))

    def test_dot_segments_are_resolved_before_the_rules(self):
        status, _, body = curl_get(self.server, "/x/../old/page.txt", "--path-as-is")
        self.assertEqual((status, body), (200, b"new page\n"))


class BadRegexTest(unittest.TestCase):
    """A rewriteMap that does not compile stops the start with the file, line and property."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kz-it-rw-")
        os.mkdir(os.path.join(self.dir, "www"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_refused_at_start(self):
        path = os.path.join(self.dir, "karpacz.yaml")
        write_file(
            path,
            "global:\n"
            '  port: "127.0.0.1:0"\n'
            "  wwwroot: www\n"
            "  rewriteMap:\n"
            "    - regex: '^/ok/(.*)'\n"
            "      replacement: '/x/$1'\n"
            "    - regex: '^/(unclosed'\n"
            "      replacement: '/y'\n",
        )
        res = subprocess.run([binary(), "-c", path], capture_output=True, timeout=10,
                             cwd=self.dir)
        self.assertEqual(res.returncode, 1, res.stderr[-2000:])
        self.assertIn(
            ("%s:7:7: error: property 'rewriteMap': invalid regex '^/(unclosed': missing closing "
             "parenthesis at offset 11" % path).encode(),
            res.stderr,
        )
        self.assertNotIn(b"listening", res.stdout)

    def test_unknown_key_refused_by_check(self):
        path = os.path.join(self.dir, "karpacz.yaml")
        write_file(path, "global:\n  rewriteMap:\n    - {regex: a, replacement: /b, Last: true}\n")
        res = subprocess.run([binary(), "-t", "-c", path], capture_output=True, timeout=10,
                             cwd=self.dir)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(("%s:3:7: error: property 'rewriteMap': unknown key 'Last'" % path).encode(),
                      res.stderr)


class SpoofingBlocklistTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {
            "global": base_global(
                root,
                enableIPSpoofing=True,
                wwwredirect=True,
                blocklist=["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"],
            )
        }

    def xff(self, value, path=None, *extra):
        path = path or "/index.html?id=%s" % uuid.uuid4().hex
        return curl_get(self.server, path, "-H", "X-Forwarded-For: %s" % value, *extra)

    def access_line(self, needle):
        return log_line(self.access_log, needle.encode())

    # ---- enableIPSpoofing ----

    def test_forwarded_address_in_the_access_log(self):
        for value, logged in (
            ("203.0.113.5", "203.0.113.5"),
            ("  198.51.99.1 , 10.0.0.1", "198.51.99.1"),
            ("2001:DB9:0::5, 192.0.2.10", "2001:db9::5"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
        ):
            marker = uuid.uuid4().hex
            status, _, body = self.xff(value, "/index.html?m=" + marker)
            self.assertEqual((status, body), (200, INDEX), value)
            line = self.access_line(marker)
            self.assertIsNotNone(line, "no access-log line for %r" % value)
            self.assertTrue(line.startswith(logged.encode() + b" - - ["), line)

    def test_without_the_header_the_peer_is_logged(self):
        marker = uuid.uuid4().hex
        status, _, _ = curl_get(self.server, "/index.html?m=" + marker)
        self.assertEqual(status, 200)
        line = self.access_line(marker)
        self.assertIsNotNone(line)
        self.assertTrue(line.startswith(b"127.0.0.1 - - ["), line)

    def test_invalid_forwarded_address_is_400(self):
        for value in ("not-an-ip", "192.0.2.1:8080", "[2001:db8::1]", "1.2.3", ", 10.0.0.1"):
            marker = uuid.uuid4().hex
            status, _, body = self.xff(value, "/index.html?bad=" + marker)
            self.assertEqual(status, 400, value)
            self.assertIn(b"400", body)
            line = self.access_line(marker)
            self.assertIsNotNone(line)
            self.assertTrue(line.startswith(b"127.0.0.1 - - ["), line)
            self.assertIn(b'" 400 ', line)

    def test_empty_forwarded_value_is_400(self):
        resp, conn = self.raw("GET / HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: \r\n\r\n")
        conn.close()
        self.assertEqual(resp.status, 400)

    # ---- blocklist ----

    def test_blocked_addresses_get_403(self):
        for value in ("192.0.2.10", "198.51.100.0", "198.51.100.77", "198.51.100.255",
                      "2001:db8::1", "2001:DB8:ffff::", "::ffff:192.0.2.10"):
            status, headers, body = self.xff(value)
            self.assertEqual(status, 403, value)
            self.assertIn(b"403", body)
            self.assertEqual(headers["content-type"], "text/html; charset=utf-8")

    def test_other_addresses_are_served(self):
        for value in ("192.0.2.11", "198.51.101.1", "2001:db9::1", "127.0.0.1"):
            status, _, body = self.xff(value)
            self.assertEqual((status, body), (200, INDEX), value)

    # ---- wwwredirect ----

    def test_www_redirect_location(self):
        status, headers, body = curl_get(self.server, "/p/q.html?a=1&b=2", "-H",
                                         "Host: Example.test:8080")
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "http://www.example.test:8080/p/q.html?a=1&b=2")
        self.assertIn(b"301", body)
        status, headers, _ = curl_get(self.server, "/", "-H", "Host: example.test")
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "http://www.example.test/")

    def test_www_redirect_keeps_the_target_as_sent(self):
        status, headers, _ = curl_get(self.server, "/a/../b%20c", "--path-as-is", "-H",
                                      "Host: example.test")
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "http://www.example.test/a/../b%20c")

    def test_no_redirect_for_www_addresses_and_localhost(self):
        for host in ("www.example.test", "127.0.0.1", "localhost", "[::1]:80"):
            status, headers, body = curl_get(self.server, "/index.html", "-H", "Host: " + host)
            self.assertEqual((status, body), (200, INDEX), host)
            self.assertNotIn("location", headers)

    def test_stage_order(self):
        """X-Forwarded-For, then the redirect, then the blocklist (the original's order)."""
        status, headers, _ = self.xff("192.0.2.10", "/x", "-H", "Host: example.test")
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "http://www.example.test/x")
        status, _, _ = self.xff("192.0.2.10", "/x", "-H", "Host: www.example.test")
        self.assertEqual(status, 403)
        status, _, _ = self.xff("bogus", "/x", "-H", "Host: example.test")
        self.assertEqual(status, 400)


class BlockLoopbackTest(KzTestCase):
    """The real peer address is blocked; X-Forwarded-For means nothing without enableIPSpoofing."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, blocklist="127.0.0.1")}

    def test_loopback_is_blocked(self):
        status, _, body = curl_get(self.server, "/index.html")
        self.assertEqual(status, 403)
        self.assertIn(b"403", body)
        status, _, _ = curl_get(self.server, "/index.html", "-H", "X-Forwarded-For: 203.0.113.1")
        self.assertEqual(status, 403)


class BlockRangeTest(KzTestCase):
    """A CIDR range holding loopback blocks it; a host's settings cannot lift a global block."""

    @classmethod
    def config(cls, root):
        return {
            "global": base_global(root, blocklist=["10.0.0.0/8", "127.0.0.0/8"]),
            "hosts": [{"domain": "open.test", "wwwroot": "www"}],
        }

    def test_range_blocks_loopback(self):
        for host in ("localhost", "open.test"):
            status, _, _ = curl_get(self.server, "/index.html", "-H", "Host: " + host)
            self.assertEqual(status, 403, host)


if __name__ == "__main__":
    unittest.main()

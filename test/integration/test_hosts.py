"""Virtual hosts and locations (behaviour spec §1 "Host selection"), the serverHeader property and
maximumKeepAliveRequests: the first host whose domain matches the Host header wins, wildcards,
case and port handling, location wwwroots matched on the sanitized path, per-host settings.
"""

import os

from kzharness import KzTestCase, base_global, curl, write_file

H = "Host: %s\r\n"


class HostRoutingTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {
            "global": base_global(root, wwwroot="www-default", serverHeader="TestServer/9",
                                  maximumKeepAliveRequests=3),
            "hosts": [
                {"domain": "a.test", "wwwroot": "www-a", "customHeaders": {"X-Host": "a"}},
                {
                    "domain": "*.example.com",
                    "wwwroot": "www-ex",
                    "locations": [
                        {"path": "/loc", "wwwroot": "www-loc"},
                        {"path": "/other", "customHeaders": {"X-Loc": "other"}},
                    ],
                },
                {"domain": "b.test", "wwwroot": "www-b"},
                {"domain": "a.test", "wwwroot": "www-b", "customHeaders": {"X-Host": "second"}},
                {"domain": "links.test", "wwwroot": "www-links",
                 "allowSymlinksOutsideWwwroot": True},
                {"domain": "links-a.test", "wwwroot": "www-a",
                 "allowSymlinksOutsideWwwroot": True},
            ],
        }

    @classmethod
    def populate(cls, root):
        files = {
            "www-default/who.txt": "default\n",
            "www-a/who.txt": "a\n",
            "www-b/who.txt": "b\n",
            "www-ex/who.txt": "ex\n",
            "www-ex/loc/who.txt": "ex-loc (shadowed by the location)\n",
            "www-ex/locx/who.txt": "ex-locx\n",
            "www-ex/other/who.txt": "ex-other\n",
            "www-loc/loc/who.txt": "loc\n",
            "www-links/who.txt": "links\n",
            "outside.txt": "outside\n",
        }
        for name, data in files.items():
            write_file(os.path.join(root, name), data)
        os.symlink("../outside.txt", os.path.join(root, "www-links", "out.txt"))
        os.symlink("../outside.txt", os.path.join(root, "www-a", "out.txt"))

    def who(self, host, path="/who.txt"):
        resp, body = self.get(path, {"Host": host} if host is not None else {})
        return resp, body

    def test_host_selection(self):
        table = [
            ("a.test", b"a\n"),
            ("A.TEST", b"a\n"),
            ("a.test:8080", b"a\n"),
            ("b.test", b"b\n"),
            ("example.com", b"ex\n"),
            ("www.example.com", b"ex\n"),
            ("x.y.example.com", b"ex\n"),
            ("WWW.Example.COM:81", b"ex\n"),
            ("notexample.com", b"default\n"),
            ("example.com.evil", b"default\n"),
            ("c.test", b"default\n"),
            ("127.0.0.1", b"default\n"),
        ]
        for host, want in table:
            with self.subTest(host=host):
                resp, body = self.who(host)
                self.assertEqual((resp.status, body), (200, want))

    def test_first_matching_host_wins(self):
        resp, _ = self.who("a.test")
        self.assertEqual(resp.msg.get_all("X-Host"), ["a"])

    def test_http10_without_host_uses_global(self):
        resp, conn = self.raw("GET /who.txt HTTP/1.0\r\n\r\n")
        conn.close()
        self.assertEqual((resp.status, resp.body), (200, b"default\n"))

    def test_absolute_form_authority_wins_over_host(self):
        # RFC 9112 §3.2.2: the target's authority replaces the Host field.
        resp, conn = self.raw("GET http://b.test/who.txt HTTP/1.1\r\nHost: a.test\r\n"
                              "Connection: close\r\n\r\n")
        conn.close()
        self.assertEqual((resp.status, resp.body), (200, b"b\n"))

    def test_location_wwwroot(self):
        table = [
            ("/loc/who.txt", b"loc\n"),
            ("/%6coc/who.txt", b"loc\n"),  # matched on the decoded path
            ("/x/../loc/who.txt", b"loc\n"),  # ... after dot segments are resolved
            ("//loc/who.txt", b"loc\n"),
            ("/locx/who.txt", b"ex-locx\n"),  # /loc is not a parent of /locx
            ("/who.txt", b"ex\n"),
        ]
        for path, want in table:
            with self.subTest(path=path):
                resp, body = self.who("www.example.com", path)
                self.assertEqual((resp.status, body), (200, want))

    def test_location_custom_headers(self):
        resp, body = self.who("www.example.com", "/other/who.txt")
        self.assertEqual((resp.status, body), (200, b"ex-other\n"))
        self.assertEqual(resp.getheader("X-Loc"), "other")
        resp, _ = self.who("www.example.com", "/who.txt")
        self.assertIsNone(resp.getheader("X-Loc"))
        resp, _ = self.who("a.test", "/other/who.txt")
        self.assertIsNone(resp.getheader("X-Loc"))

    def test_location_directory_redirect(self):
        resp, _ = self.who("www.example.com", "/loc")
        self.assertEqual(resp.status, 301)
        self.assertTrue(resp.getheader("Location").endswith("/loc/"), resp.getheader("Location"))

    def test_with_curl_host_header(self):
        res = curl("-H", "Host: b.test", self.server.url("/who.txt"))
        self.assertEqual((res.returncode, res.stdout), (0, b"b\n"))

    def test_symlinks_outside_allowed_per_host(self):
        resp, body = self.who("links.test", "/out.txt")
        self.assertEqual((resp.status, body), (200, b"outside\n"))
        resp, body = self.who("a.test", "/out.txt")
        self.assertEqual(resp.status, 403)

    def test_symlink_rule_not_shared_through_the_file_cache(self):
        # Regression: the open-file cache once keyed entries by root only, so a host allowing
        # escaping links could fill it for another host with the same wwwroot that forbids them.
        for _ in range(3):
            resp, body = self.who("links-a.test", "/out.txt")
            self.assertEqual((resp.status, body), (200, b"outside\n"))
            resp, body = self.who("a.test", "/out.txt")
            self.assertEqual(resp.status, 403)
            self.assertNotIn(b"outside", body)

    def test_server_header_property(self):
        for host in ("a.test", "nothing.test"):
            resp, _ = self.who(host, "/missing")
            self.assertEqual(resp.msg.get_all("Server"), ["TestServer/9"])

    def test_maximum_keep_alive_requests(self):
        conn = self.server.connect()
        with conn:
            for i in range(3):
                conn.send("GET /who.txt HTTP/1.1\r\n" + H % "b.test" + "\r\n")
                resp = conn.read_response()
                self.assertEqual((resp.status, resp.body), (200, b"b\n"))
                if i < 2:
                    self.assertNotEqual((resp.header("Connection") or "").lower(), "close")
            self.assertEqual((resp.header("Connection") or "").lower(), "close")
            self.assert_closed(conn)


class NoServerHeaderTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {"global": base_global(root, serverHeader="")}

    def test_server_header_removed(self):
        for path in ("/index.html", "/missing"):
            with self.subTest(path=path):
                resp, _ = self.get(path)
                self.assertIsNone(resp.getheader("Server"))
                self.assertIsNotNone(resp.getheader("Date"))

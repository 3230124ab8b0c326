"""Directory listings (enableDirectoryListing; behaviour spec §4 "Listing") with curl, http.client
and raw sockets: on and off per host and location, the order (directories first, then by name),
dotfiles hidden, sizes and dates, the parent link, hostile names escaped in text and encoded in
links (every link followed), .maindesc, HTML5 checked with html.parser, HEAD, HTTP/1.0, symbolic
links, a 100,000-entry directory, unreadable directories, and one listing driven in headless
Chromium over the DevTools protocol (a link to a directory and to a file clicked).
"""

import base64
import collections
import hashlib
import html.parser
import http.client
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from kzharness import (
    HOST,
    KzServer,
    KzTestCase,
    base_global,
    curl,
    read_file,
    wait_for,
    write_file,
)

MTIME = 1700000000  # 2023-11-14 22:13:20 UTC
MTIME_TEXT = "2023-11-14 22:13"
HOSTILE = '<b>&"x y#?.txt'
CAFE = "caf\u00e9.txt"
DESC = 'Line one\r\nLine <two> & "three"\n\tindented\n'
DESC_HTML = ('<hr>\n<p class="maindesc">Line one<br>\nLine &lt;two&gt; &amp; &quot;three&quot;'
             "<br>\n\tindented</p>\n")

# name under www/files → content (None: a directory)
FILES = {
    "a.txt": b"alpha\n",
    "A.txt": b"upper alpha\n",
    "b.txt": b"bravo\n",
    "big.bin": b"\0" * 3000,
    HOSTILE: b"HOSTILE\n",
    CAFE: b"cafe\n",
    "colon:name.txt": b"colon\n",
    "100%.txt": b"percent\n",
    "it's.txt": b"apostrophe\n",
    "Zebra": None,
    "apple": None,
    "apple/inner.txt": b"INNER\n",
    ".hidden": b"hidden\n",
    ".hiddendir": None,
    ".hiddendir/x.txt": b"x\n",
}
# The rows of /files/, in order: (text of the link, href, size)
FILES_ROWS = [
    ("Parent directory", "../", "-"),
    ("apple/", "apple/", "-"),
    ("Zebra/", "Zebra/", "-"),
    ("100%.txt", "100%25.txt", "8 B"),
    (HOSTILE, "%3Cb%3E&%22x%20y%23%3F.txt", "8 B"),
    ("A.txt", "A.txt", "12 B"),
    ("a.txt", "a.txt", "6 B"),
    ("b.txt", "b.txt", "6 B"),
    ("big.bin", "big.bin", "2.9 KiB"),
    (CAFE, "caf%C3%A9.txt", "5 B"),
    ("colon:name.txt", "./colon:name.txt", "6 B"),
    ("it's.txt", "it's.txt", "11 B"),
]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
PARENTS = {"tr": {"thead", "tbody"}, "td": {"tr"}, "th": {"tr"}, "thead": {"table"},
           "tbody": {"table"}, "head": {"html"}, "body": {"html"}, "title": {"head"},
           "meta": {"head"}, "style": {"head"}, "li": {"ul", "ol"}}


class Html5Check(html.parser.HTMLParser):
    """Parses a page and records what breaks HTML5 well-formedness as we want it: a doctype
    first, balanced tags (void elements never closed), the required parents of table parts, one
    html/head/body/title, no scripts, event handlers or external resources. Also collects the
    rows of the table body: (tr class, [cell texts], href of the first link)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.errors = []
        self.doctype = None
        self.seen_tag = False
        self.stack = []
        self.counts = collections.Counter()
        self.text = collections.defaultdict(str)  # tag → text of its last occurrence
        self.rows = []
        self._row = None

    def handle_decl(self, decl):
        if self.seen_tag or self.doctype is not None:
            self.errors.append("doctype not first: %r" % decl)
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.seen_tag = True
        self.counts[tag] += 1
        parent = self.stack[-1] if self.stack else None
        if tag in PARENTS and parent not in PARENTS[tag]:
            self.errors.append("<%s> inside <%s>" % (tag, parent))
        if tag != "html" and not self.stack:
            self.errors.append("<%s> outside <html>" % tag)
        for name, value in attrs:
            if name in ("src", "srcset") or name.startswith("on"):
                self.errors.append("attribute %s=%r on <%s>" % (name, value, tag))
            if name == "href" and tag == "a" and re_external(value):
                self.errors.append("external link %r" % value)
        if tag in ("script", "link", "iframe", "img", "object", "embed", "base"):
            self.errors.append("<%s> present" % tag)
        if tag in ("title", "h1"):
            self.text[tag] = ""
        if tag == "tr" and parent == "tbody":
            self._row = (dict(attrs).get("class"), [], [])
            self.rows.append(self._row)
        if tag == "td" and self._row is not None:
            self._row[1].append("")
        if tag == "a" and self._row is not None:
            self._row[2].append(dict(attrs).get("href"))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:
            self.errors.append("self-closed <%s/>" % tag)
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append("end tag of void <%s>" % tag)
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %r" % (tag, self.stack[-1:]))
            return
        self.stack.pop()
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if not self.stack and data.strip():
            self.errors.append("text outside <html>: %r" % data[:40])
        for tag in ("title", "h1"):
            if tag in self.stack:
                self.text[tag] += data
        if self._row is not None and self._row[1] and "td" in self.stack:
            self._row[1][-1] += data

    def finish(self):
        self.close()
        if (self.doctype or "").lower() != "doctype html":
            self.errors.append("doctype %r" % self.doctype)
        if self.stack:
            self.errors.append("unclosed %r" % self.stack)
        for tag in ("html", "head", "body", "title", "h1", "table", "thead", "tbody"):
            if self.counts[tag] != 1:
                self.errors.append("%d <%s>" % (self.counts[tag], tag))
        return self


def re_external(href):
    return bool(urllib.parse.urlsplit(href).scheme) or href.startswith("//")


def parse_page(body):
    """Checks a listing page: strict UTF-8 and HTML5 (raises with the errors found)."""
    text = body.decode("utf-8")  # raises on bytes that are not UTF-8
    page = Html5Check()
    page.feed(text)
    page.finish()
    if page.errors:
        raise AssertionError("invalid HTML5: %s" % "; ".join(page.errors[:10]))
    return page


def set_mtime(path):
    os.utime(path, (MTIME, MTIME), follow_symlinks=False)


class ListingCase(KzTestCase):
    """Helpers shared by the listing tests."""

    def listing(self, path, host=None):
        """GETs a listing; checks status, type and HTML5; returns the parsed page."""
        resp, body = self.get(path, {"Host": host} if host else None)
        self.assertEqual(resp.status, 200, body[:300])
        self.assertEqual(resp.getheader("Content-Type"), "text/html; charset=utf-8")
        page = parse_page(body)
        page.body = body
        return page


class DirListTest(ListingCase):
    @classmethod
    def config(cls, root):
        return {
            "global": base_global(root, enableDirectoryListing=True),
            "hosts": [
                {"domain": "off.test", "enableDirectoryListing": False},
                {"domain": "loc.test",
                 "locations": [{"path": "/files", "enableDirectoryListing": False}]},
                {"domain": "links.test", "allowSymlinksOutsideWwwroot": True},
            ],
        }

    @classmethod
    def populate(cls, root):
        www = os.path.join(root, "www")
        files = os.path.join(www, "files")
        for name, data in FILES.items():
            path = os.path.join(files, name)
            if data is None:
                os.makedirs(path, exist_ok=True)
            else:
                write_file(path, data)
        write_file(os.path.join(files, ".maindesc"), DESC)
        write_file(os.path.join(www, "withindex", "index.html"), "<p>the index</p>\n")
        write_file(os.path.join(www, "withindex", "other.txt"), "other\n")
        os.makedirs(os.path.join(www, "empty"))
        # Names HTML text cannot show as they are (most no URL can reach either).
        odd = os.path.join(www, "odd").encode()
        os.makedirs(odd)
        for name in (b"bad\xff.txt", b"new\nline.txt", b"tab\tname", b"c1\xc2\x85.txt"):
            write_file(os.path.join(odd, name), b"odd\n")
        # Symbolic links: inside, outside, dangling.
        links = os.path.join(www, "links")
        os.makedirs(links)
        write_file(os.path.join(root, "outside.txt"), "outside!\n")
        os.symlink("../files/a.txt", os.path.join(links, "in-link.txt"))
        os.symlink("../files/apple", os.path.join(links, "in-dir"))
        os.symlink("../../outside.txt", os.path.join(links, "out-link.txt"))
        os.symlink("nowhere", os.path.join(links, "dangling"))
        for dirpath, dirnames, filenames in os.walk(www.encode()):
            for name in dirnames + filenames:
                set_mtime(os.path.join(dirpath, name))

    # ---- content ----

    def test_rows_in_order(self):
        page = self.listing("/files/")
        got = [(cells[0], hrefs[0], cells[1]) for _, cells, hrefs in page.rows]
        self.assertEqual(got, FILES_ROWS)
        classes = [cls for cls, _, _ in page.rows]
        self.assertEqual(classes, ["dir"] * 3 + [None] * (len(FILES_ROWS) - 3))

    def test_dates(self):
        page = self.listing("/files/")
        dates = [cells[2] for _, cells, _ in page.rows]
        self.assertEqual(dates, [""] + [MTIME_TEXT] * (len(FILES_ROWS) - 1))

    def test_title_and_heading(self):
        for path in ("/", "/files/", "/files/apple/", "/empty/"):
            with self.subTest(path=path):
                page = self.listing(path)
                self.assertEqual(page.text["title"], "Index of " + path)
                self.assertEqual(page.text["h1"], "Index of " + path)

    def test_dotfiles_hidden(self):
        page = self.listing("/files/")
        shown = [cells[0] for _, cells, _ in page.rows] + [h[0] for _, _, h in page.rows]
        self.assertEqual([n for n in shown if n.startswith(".") and n[:2] not in ("..", "./")], [])
        for name in (b".hidden", b".hiddendir", b"x.txt", b'".maindesc'):
            self.assertNotIn(name, page.body)
        # ... though a dotfile is still served by name.
        resp, body = self.get("/files/.hidden")
        self.assertEqual((resp.status, body), (200, b"hidden\n"))

    def test_parent_link(self):
        root = self.listing("/")
        self.assertNotIn(b"Parent directory", root.body)
        self.assertEqual([cells[0] for _, cells, _ in root.rows],
                         ["empty/", "files/", "links/", "odd/", "withindex/"])
        inner = self.listing("/files/apple/")
        self.assertEqual(inner.rows[0], ("dir", ["Parent directory", "-", ""], ["../"]))
        up = urllib.parse.urljoin("/files/apple/", inner.rows[0][2][0])
        self.assertEqual(up, "/files/")
        self.assertEqual(self.listing(up).text["title"], "Index of /files/")

    def test_hostile_name(self):
        page = self.listing("/files/")
        self.assertIn(b'<a href="%3Cb%3E&amp;%22x%20y%23%3F.txt">&lt;b&gt;&amp;&quot;x y#?.txt</a>',
                      page.body)
        self.assertNotIn(b"<b>", page.body)
        self.assertIn(b'<a href="it&#39;s.txt">it&#39;s.txt</a>', page.body)
        self.assertIn(b'<a href="./colon:name.txt">colon:name.txt</a>', page.body)

    def test_every_link_works(self):
        page = self.listing("/files/")
        for _, cells, hrefs in page.rows[1:]:
            url = urllib.parse.urljoin("/files/", hrefs[0])
            with self.subTest(name=cells[0], url=url):
                resp, body = self.get(url)
                self.assertEqual(resp.status, 200)
                name = cells[0]
                if name.endswith("/"):
                    self.assertEqual(parse_page(body).text["title"], "Index of /files/" + name)
                else:
                    self.assertEqual(body, FILES[name])

    def test_links_with_curl(self):
        # curl takes the href as a browser would (relative to the listing's URL).
        url = self.server.url("/files/") + "%3Cb%3E&%22x%20y%23%3F.txt"
        res = curl(url)
        self.assertEqual((res.returncode, res.stdout), (0, b"HOSTILE\n"), res.stderr)
        res = curl(self.server.url("/files/") + "caf%C3%A9.txt")
        self.assertEqual(res.stdout, b"cafe\n")

    def test_maindesc(self):
        page = self.listing("/files/")
        self.assertTrue(page.body.endswith(b"</table>\n" + DESC_HTML.encode()
                                           + b"</body>\n</html>\n"), page.body[-300:])
        self.assertNotIn(b"maindesc", self.listing("/files/apple/").body.split(b"</style>")[1])

    def test_empty_directory(self):
        page = self.listing("/empty/")
        self.assertEqual(page.rows, [("dir", ["Parent directory", "-", ""], ["../"]),
                                     (None, ["This directory is empty."], [])])

    def test_odd_names_stay_valid(self):
        page = self.listing("/odd/")
        names = [cells[0] for _, cells, _ in page.rows[1:]]
        self.assertEqual(names, ["bad\ufffd.txt", "c1\ufffd.txt", "new\ufffdline.txt",
                                 "tab\ufffdname"])
        hrefs = [h[0] for _, _, h in page.rows[1:]]
        self.assertEqual(hrefs, ["bad%FF.txt", "c1%C2%85.txt", "new%0Aline.txt", "tab%09name"])

    def test_symbolic_links(self):
        page = self.listing("/links/")
        got = [(cells[0], hrefs[0], cells[1]) for _, cells, hrefs in page.rows]
        # Outside the root and dangling: left out, as they could not be served.
        self.assertEqual(got, [("Parent directory", "../", "-"), ("in-dir/", "in-dir/", "-"),
                               ("in-link.txt", "in-link.txt", "6 B")])
        page = self.listing("/links/", host="links.test")
        got = [cells[0] for _, cells, _ in page.rows]
        self.assertEqual(got, ["Parent directory", "in-dir/", "in-link.txt", "out-link.txt"])

    # ---- protocol ----

    def test_head(self):
        with self.server.connect() as conn:
            conn.send("HEAD /files/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      "GET /files/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head = conn.read_response(head_request=True)
            self.assertEqual(head.status, 200)
            self.assertEqual(head.header("Content-Type"), "text/html; charset=utf-8")
            # No body followed the HEAD answer: the next response parses from its first byte.
            nxt = conn.read_response()
            self.assertEqual((nxt.status, nxt.body), (200, b"alpha\n"))
        with self.server.connect() as conn:
            conn.send("GET /files/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            get = conn.read_response()
        self.assertEqual(sorted(k.lower() for k, _ in head.headers),
                         sorted(k.lower() for k, _ in get.headers))

    def test_http10_and_keepalive(self):
        first = self.listing("/files/").body
        with self.server.connect() as conn:
            conn.send("GET /files/ HTTP/1.0\r\n\r\n")
            resp = conn.read_response()
            self.assertEqual(resp.status, 200)
            self.assertIsNone(resp.header("Content-Length"))
            self.assertEqual(resp.body, first)
            self.assert_closed(conn)
        with self.server.connect() as conn:
            for _ in range(3):
                conn.send("GET /files/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
                resp = conn.read_response()
                self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
                self.assertEqual(resp.body, first)

    def test_post_is_refused(self):
        resp, body = self.get("/files/", method="POST", body=b"x")
        self.assertEqual(resp.status, 405)
        self.assertEqual(resp.getheader("Allow"), "GET, HEAD, OPTIONS")

    # ---- on and off ----

    def test_off_per_host_and_location(self):
        for host, path in (("off.test", "/files/"), ("off.test", "/"), ("loc.test", "/files/"),
                           ("loc.test", "/files/apple/")):
            with self.subTest(host=host, path=path):
                resp, body = self.get(path, {"Host": host})
                self.assertEqual(resp.status, 403)
                self.assertNotIn(b"Index of", body)
        self.assertEqual(self.listing("/empty/", host="loc.test").text["h1"], "Index of /empty/")

    def test_index_file_wins(self):
        for host in (None, "off.test"):
            resp, body = self.get("/withindex/", {"Host": host} if host else None)
            self.assertEqual((resp.status, body), (200, b"<p>the index</p>\n"))


class DefaultOffTest(ListingCase):
    """Without enableDirectoryListing, a directory without an index file is refused."""

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "dir", "a.txt"), "a\n")
        write_file(os.path.join(root, "www", "idx", "index.html"), "idx\n")

    def test_off_by_default(self):
        for path in ("/", "/dir/"):
            with self.subTest(path=path):
                resp, conn = self.raw("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
                conn.close()
                self.assertEqual(resp.status, 403)
                self.assert_error_page(resp)
                self.assertNotIn(b"a.txt", resp.body)
        resp, body = self.get("/idx/")
        self.assertEqual((resp.status, body), (200, b"idx\n"))


class ManyEntriesTest(ListingCase):
    """100,000 files and one directory: the first 10,000 rows in order, the rest counted."""

    COUNT = 100000

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, enableDirectoryListing=True)}

    @classmethod
    def populate(cls, root):
        many = os.path.join(root, "www", "many")
        os.makedirs(os.path.join(many, "zz-dir"))
        for i in range(cls.COUNT):
            os.close(os.open(os.path.join(many, "file-%06d.txt" % i), os.O_CREAT | os.O_WRONLY,
                             0o644))

    def test_bounded_listing(self):
        page = self.listing("/many/")
        names = [cells[0] for _, cells, _ in page.rows]
        self.assertEqual(names[:3], ["Parent directory", "zz-dir/", "file-000000.txt"])
        self.assertEqual(len(names), 2 + 9999)
        self.assertEqual(names[2:], ["file-%06d.txt" % i for i in range(9999)])
        self.assertIn(b'<p class="note">90001 more entries are not shown.</p>', page.body)
        self.assertLess(len(page.body), 2 * 1024 * 1024)
        # The server is still well and answers the same again.
        self.assertEqual(self.listing("/many/").body, page.body)


class DroppingServer(KzServer):
    """A KzServer that runs as another user (to meet permissions as root in CI)."""

    def __init__(self, root, config, uid, gid):
        super().__init__(root, config)
        self.uid, self.gid = uid, gid
        self.nofile = resource_limit()

    def _limit(self):
        super()._limit()
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)


def resource_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class UnreadableTest(ListingCase):
    """A directory the server may not read → 403; an unreadable .maindesc is logged and left
    out. As root the server runs as 'nobody', since root reads everything."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, enableDirectoryListing=True)}

    @classmethod
    def populate(cls, root):
        www = os.path.join(root, "www")
        write_file(os.path.join(www, "locked", "a.txt"), "a\n")
        write_file(os.path.join(www, "nolist", "b.txt"), "b\n")
        write_file(os.path.join(www, "desc", "c.txt"), "c\n")
        write_file(os.path.join(www, "desc", ".maindesc"), "secret description\n")
        os.chmod(os.path.join(www, "locked"), 0o000)
        os.chmod(os.path.join(www, "nolist"), 0o311)  # may enter, may not read
        os.chmod(os.path.join(www, "desc", ".maindesc"), 0o000)

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="kz-it-")
        try:
            cls.populate(cls.root)
            config = cls.config(cls.root)
            if os.geteuid() == 0:
                pw = pwd.getpwnam("nobody")
                os.chmod(cls.root, 0o755)
                os.chown(cls.root, pw.pw_uid, pw.pw_gid)  # it writes its logs there
                cls.server = DroppingServer(cls.root, config, pw.pw_uid, pw.pw_gid)
            else:
                cls.server = KzServer(cls.root, config)
            cls.server.start()
            cls.port = cls.server.port
        except BaseException:
            if cls.server:
                cls.server.kill()
            cls._unlock()
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls._unlock()
        super().tearDownClass()

    @classmethod
    def _unlock(cls):
        for d in ("locked", "nolist"):
            path = os.path.join(cls.root, "www", d)
            if os.path.isdir(path):
                os.chmod(path, 0o755)

    def test_unreadable_directory(self):
        for path in ("/locked/", "/nolist/"):
            with self.subTest(path=path):
                resp, body = self.get(path)
                self.assertEqual(resp.status, 403)
                self.assertNotIn(b"Index of", body)
        self.assertEqual(self.listing("/").text["h1"], "Index of /")

    def test_unreadable_maindesc(self):
        page = self.listing("/desc/")
        self.assertEqual([cells[0] for _, cells, _ in page.rows], ["Parent directory", "c.txt"])
        self.assertNotIn(b"secret", page.body)
        self.assertNotIn(b"<hr>", page.body)
        line = wait_for(lambda: [l for l in self.error_log().decode("utf-8", "replace").split("\n")
                                 if "[KZ0306]" in l], timeout=5.0)
        self.assertIsNotNone(line, self.error_log())
        self.assertIn("/desc/.maindesc", line[0])


# ---- a real browser ------------------------------------------------------------------------

BROWSER_TIMEOUT = 30.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class DevTools:
    """A minimal Chrome DevTools protocol client: one WebSocket (RFC 6455) on a plain socket,
    JSON commands by id, events skipped. Every read has a deadline."""

    def __init__(self, ws_url, timeout=10.0):
        u = urllib.parse.urlsplit(ws_url)
        self.timeout = timeout
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        self.buf = b""
        self.next_id = 0
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (u.path, u.hostname, u.port, key)).encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if not head.startswith(b"HTTP/1.1 101") or accept.encode() not in head:
            raise AssertionError("WebSocket handshake failed: %r" % head[:200])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("DevTools: no answer in time")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("DevTools closed the connection")
        self.buf += data

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def _message(self, deadline):
        """The next text message (fragments joined); answers pings."""
        parts = []
        for _ in range(10000):
            b0, b1 = self._take(2, deadline)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8, deadline))[0]
            mask = self._take(4, deadline) if b1 & 0x80 else None
            data = self._take(n, deadline)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 9:
                self._send(10, data)
                continue
            if opcode == 8:
                raise AssertionError("DevTools sent close")
            if opcode in (0, 1, 2):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()
        raise AssertionError("too many frames")

    def call(self, method, params=None):
        self.next_id += 1
        mid = self.next_id
        self._send(1, json.dumps({"id": mid, "method": method, "params": params or {}}).encode())
        deadline = time.monotonic() + self.timeout
        for _ in range(100000):
            msg = json.loads(self._message(deadline))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise AssertionError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
        raise AssertionError("no answer to %s" % method)

    def evaluate(self, expression):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise AssertionError("%s: %s" % (expression, res["exceptionDetails"]))
        return res["result"].get("value")

    def wait_js(self, expression, timeout=10.0):
        """Polls a JavaScript expression until it is truthy; returns it, or None at timeout."""
        def probe():
            try:
                return self.evaluate(expression)
            except AssertionError:
                return None  # between two documents: no context to evaluate in yet

        return wait_for(probe, timeout=timeout, interval=0.1)


@unittest.skipUnless(shutil.which("chromium"),
                     "chromium is not installed (scripts/install-deps.sh --test installs it)")
class BrowserTest(ListingCase):
    """Opens a listing in headless Chromium, clicks a directory, a file and the hostile name."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, enableDirectoryListing=True)}

    @classmethod
    def populate(cls, root):
        files = os.path.join(root, "www", "files")
        write_file(os.path.join(files, "apple", "inner.txt"), "INNER\n")
        write_file(os.path.join(files, "a.txt"), "alpha\n")
        write_file(os.path.join(files, HOSTILE), "HOSTILE\n")
        write_file(os.path.join(files, ".maindesc"), "About <these> files\n")

    def setUp(self):
        self.profile = tempfile.mkdtemp(prefix="kz-chromium-")
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.browser = subprocess.Popen(
            ["chromium", "--headless=new", "--remote-debugging-port=0",
             "--user-data-dir=" + self.profile, "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--proxy-server=direct://", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        self.devtools = None
        self.addCleanup(self._stop_browser)  # runs even when the rest of setUp fails
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        found = wait_for(lambda: os.path.exists(port_file) and read_file(port_file).count(b"\n"),
                         timeout=BROWSER_TIMEOUT)
        if not found:
            self.fail("chromium did not open its DevTools port; log:\n%s"
                      % read_file(self.log.name)[-2000:].decode("utf-8", "replace"))
        port = int(read_file(port_file).split(b"\n")[0])
        targets = wait_for(lambda: [t for t in self._targets(port) if t.get("type") == "page"],
                           timeout=BROWSER_TIMEOUT)
        self.assertTrue(targets, "chromium has no page target")
        self.devtools = DevTools(targets[0]["webSocketDebuggerUrl"])

    @staticmethod
    def _targets(port):
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", "/json/list")
            return json.loads(conn.getresponse().read())
        except (OSError, ValueError, http.client.HTTPException):
            return []
        finally:
            conn.close()

    def _stop_browser(self):
        if self.devtools:
            self.devtools.close()
        if self.browser.poll() is None:
            self.browser.terminate()
            try:
                self.browser.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.browser.pid, signal.SIGKILL)  # its helper processes, by its group
        except ProcessLookupError:
            pass
        if self.browser.poll() is None:
            self.browser.wait(timeout=5)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def at(self, path):
        """Waits until the page at path has loaded; returns document.title."""
        expr = ("document.readyState === 'complete' && location.pathname === %s"
                % json.dumps(path))
        loaded = self.devtools.wait_js(expr)
        self.assertTrue(loaded, "the browser is at %r" % self.devtools.evaluate("location.href"))
        return self.devtools.evaluate("document.title")

    def click(self, selector_js):
        self.assertTrue(self.devtools.evaluate(
            "(() => { const a = %s; if (!a) return false; a.click(); return true; })()"
            % selector_js))

    def test_follow_links(self):
        d = self.devtools
        d.call("Page.navigate", {"url": self.server.url("/files/")})
        self.assertEqual(self.at("/files/"), "Index of /files/")
        # Rendered as meant: the rows, the hostile name as text, the stylesheet applied, no script.
        cells = d.evaluate("[...document.querySelectorAll('tbody tr td:first-child')]"
                           ".map(td => td.textContent)")
        self.assertEqual(cells, ["Parent directory", "apple/", HOSTILE, "a.txt"])
        self.assertEqual(d.evaluate("getComputedStyle(document.querySelector('table'))"
                                    ".borderCollapse"), "collapse")
        self.assertEqual(d.evaluate("document.scripts.length"), 0)
        self.assertEqual(d.evaluate("document.querySelector('.maindesc').textContent"),
                         "About <these> files")

        self.click("document.querySelector('a[href=\"apple/\"]')")
        self.assertEqual(self.at("/files/apple/"), "Index of /files/apple/")

        self.click("[...document.querySelectorAll('a')].find(a => a.textContent === 'inner.txt')")
        self.at("/files/apple/inner.txt")
        self.assertEqual(d.evaluate("document.body.innerText.trim()"), "INNER")

        d.evaluate("history.back()")
        self.at("/files/apple/")
        self.click("[...document.querySelectorAll('a')]"
                   ".find(a => a.textContent === 'Parent directory')")
        self.at("/files/")

        self.click("[...document.querySelectorAll('a')].find(a => a.textContent === %s)"
                   % json.dumps(HOSTILE))
        self.assertTrue(d.wait_js("decodeURIComponent(location.pathname) === %s"
                                  " && document.readyState === 'complete'"
                                  % json.dumps("/files/" + HOSTILE)),
                        d.evaluate("location.href"))
        self.assertEqual(d.evaluate("document.body.innerText.trim()"), "HOSTILE")


if __name__ == "__main__":
    unittest.main()

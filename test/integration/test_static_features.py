"""Static files done right (RFC 9110 §8.8, §12.5.3, §13, §14) with curl, raw sockets and python:
validators and conditional requests (304, 412, If-Range), single and multiple ranges (206,
multipart/byteranges, 416), content codings (br, gzip, zstd) negotiated from Accept-Encoding with
q-values, precompressed siblings, the per-loop cache of compressed output, Content-Type charsets
and extra MIME mappings, enableETag off, and trailing-slash redirects on and off.
"""

import email.utils
import gzip
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import zlib

from kzharness import KzServer, KzTestCase, base_global, curl, read_file, write_file

H = "Host: localhost\r\n"
TEXT = b"".join(b"line %05d: the quick brown fox jumps over the lazy dog\n" % i
                for i in range(400))  # 22 KB: held in memory by the open-file cache
SMALL = b"tiny\n"  # below compressionMinimumSize
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def words(seed, size):
    """Text that compresses well but not trivially (random words from a small vocabulary)."""
    rnd = random.Random(seed)
    vocab = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel",
             b"india", b"juliet", b"kilo", b"lima", b"mike", b"november", b"oscar", b"papa"]
    out, n = [], 0
    while n < size:
        line = b" ".join(rnd.choice(vocab) for _ in range(rnd.randint(3, 12))) + b"\n"
        out.append(line)
        n += len(line)
    return b"".join(out)[:size]


HOT = words(1, 200 * 1024)    # larger than the in-memory limit: compressed as a stream
BIG = words(2, 5 * 1024 * 1024)


def unbrotli(data, tmpdir):
    path = os.path.join(tmpdir, "unbrotli.br")
    write_file(path, data)
    res = subprocess.run(["brotli", "-d", "-c", path], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def unzstd(data, tmpdir):
    path = os.path.join(tmpdir, "unzstd.zst")
    write_file(path, data)
    res = subprocess.run(["zstd", "-q", "-d", "-c", path], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def parse_byteranges(ctype, body):
    """Splits a multipart/byteranges body: [(headers dict lowercased, data)]."""
    m = re.match(r"^multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})$", ctype)
    assert m, ctype
    b = m.group(1).encode()
    first, last = b"--" + b + b"\r\n", b"\r\n--" + b + b"--\r\n"
    assert body.startswith(first), body[:80]
    assert body.endswith(last), body[-80:]
    parts = []
    for chunk in body[len(first):-len(last)].split(b"\r\n--" + b + b"\r\n"):
        head, data = chunk.split(b"\r\n\r\n", 1)
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, data))
    return parts


class StaticFeaturesTest(KzTestCase):
    @classmethod
    def config(cls, root):
        g = base_global(root, extraMimeTypes={"md": "text/markdown",
                                              ".Foo": "application/x-foo; charset=us-ascii"})
        return {
            "global": g,
            "hosts": [
                {"domain": "plain.test", "enableETag": False, "enableCompression": False,
                 "disableTrailingSlashRedirects": True, "defaultCharset": ""},
                {"domain": "latin.test", "defaultCharset": "iso-8859-2",
                 "extraMimeTypes": {"md": "text/x-markdown"}},
                {"domain": "loc.test", "locations": [
                    {"path": "/noetag", "enableETag": False},
                    {"path": "/few", "maximumRanges": 2},
                    {"path": "/pre-off", "enablePrecompressedFiles": False},
                ]},
            ],
        }

    @classmethod
    def populate(cls, root):
        www = os.path.join(root, "www")
        files = {
            "index.html": b"<!doctype html><p>index</p>\n",
            "text.txt": TEXT,
            "small.txt": SMALL,
            "img.png": PNG,
            "style.css": TEXT,
            "hot.js": HOT,
            "head.js": HOT,
            "cached.js": HOT,  # only test_hot_file_served_from_cache asks for it
            "big.txt": BIG,
            "notes.md": b"# notes\n",
            "shared.md": b"# shared\n",  # only test_scopes_sharing_a_file asks for it
            "data.foo": b"foo\n",
            "empty.txt": b"",
            "d1/index.html": b"d1 index\n",
            "noetag/a.txt": TEXT,
            "few/a.txt": TEXT,
            "pre-off/a.css": TEXT,
        }
        for name, data in files.items():
            write_file(os.path.join(www, name), data)
        # Precompressed siblings, made with settings we never use, so their bytes are theirs.
        for name in ("pre.css", "old.css", "gzonly.css", "pre-off/a.css"):
            write_file(os.path.join(www, name), TEXT)
        cls.sibling_br = cls.cli(["brotli", "-q", "11", "-c"], TEXT)
        cls.sibling_gz = gzip.compress(TEXT, compresslevel=1, mtime=0)
        write_file(os.path.join(www, "pre.css.br"), cls.sibling_br)
        write_file(os.path.join(www, "pre.css.gz"), cls.sibling_gz)
        write_file(os.path.join(www, "old.css.br"), cls.sibling_br)
        write_file(os.path.join(www, "gzonly.css.gz"), cls.sibling_gz)
        write_file(os.path.join(www, "pre-off", "a.css.br"), cls.sibling_br)
        now = time.time()
        for name in ("pre.css", "gzonly.css", "pre-off/a.css"):
            os.utime(os.path.join(www, name), (now - 100, now - 100))
        for name in ("pre.css.br", "pre.css.gz", "gzonly.css.gz", "pre-off/a.css.br"):
            os.utime(os.path.join(www, name), (now - 50, now - 50))
        os.utime(os.path.join(www, "old.css.br"), (now - 200, now - 200))  # older than old.css

    @staticmethod
    def cli(argv, data):
        res = subprocess.run(argv, input=data, capture_output=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout

    # ---- helpers ----

    def fetch(self, path, *args, host=None):
        """One curl request: (status, {lowercased name: value}, body)."""
        hfile = os.path.join(self.root, "h.txt")
        bfile = os.path.join(self.root, "b.bin")
        for f in (hfile, bfile):
            if os.path.exists(f):
                os.unlink(f)
        extra = ["-H", "Host: " + host] if host else []
        res = curl("-D", hfile, "-o", bfile, "-w", "%{http_code}", *extra, *args,
                   self.server.url(path))
        self.assertEqual(res.returncode, 0, res.stderr)
        headers = {}
        for line in read_file(hfile).decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                k = k.strip().lower()
                headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
        return int(res.stdout), headers, read_file(bfile)

    def decode(self, encoding, data):
        if encoding == "gzip":
            return zlib.decompress(data, 16 + zlib.MAX_WBITS)
        if encoding == "br":
            return unbrotli(data, self.root)
        if encoding == "zstd":
            return unzstd(data, self.root)
        raise AssertionError("unexpected coding %r" % encoding)

    # ---- validators and conditional requests ----

    def test_validators(self):
        status, h, body = self.fetch("/text.txt")
        self.assertEqual((status, body), (200, TEXT))
        self.assertRegex(h["etag"], r'^"[0-9a-f]+-[0-9a-f]+"$')
        mtime = os.stat(os.path.join(self.root, "www", "text.txt")).st_mtime
        self.assertEqual(email.utils.parsedate_to_datetime(h["last-modified"]).timestamp(),
                         int(mtime))
        self.assertEqual(h["accept-ranges"], "bytes")
        self.assertEqual(h["vary"], "Accept-Encoding")
        # Vary only where the coding could differ.
        status, h, _ = self.fetch("/img.png", "-H", "Accept-Encoding: br, gzip")
        self.assertEqual(status, 200)
        self.assertNotIn("vary", h)
        self.assertNotIn("content-encoding", h)

    def test_if_none_match_is_304(self):
        _, h, _ = self.fetch("/text.txt")
        etag = h["etag"]
        for value in (etag, '"x", ' + etag, "W/" + etag, "*"):
            with self.subTest(value=value):
                status, h2, body = self.fetch("/text.txt", "-H", "If-None-Match: " + value)
                self.assertEqual((status, body), (304, b""))
                self.assertEqual(h2["etag"], etag)
                self.assertEqual(h2["vary"], "Accept-Encoding")
                self.assertNotIn("content-length", h2)
        status, _, body = self.fetch("/text.txt", "-H", 'If-None-Match: "other"')
        self.assertEqual((status, body), (200, TEXT))

    def test_if_modified_since_is_304(self):
        _, h, _ = self.fetch("/text.txt")
        status, h2, body = self.fetch("/text.txt", "-H", "If-Modified-Since: " + h["last-modified"])
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(h2["last-modified"], h["last-modified"])
        # curl's own -z sends If-Modified-Since too.
        status, _, _ = self.fetch("/text.txt", "-z", h["last-modified"])
        self.assertEqual(status, 304)
        status, _, body = self.fetch("/text.txt", "-H",
                                     "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT")
        self.assertEqual((status, body), (200, TEXT))
        # If-None-Match decides when both are sent.
        status, _, _ = self.fetch("/text.txt", "-H", "If-Modified-Since: " + h["last-modified"],
                                  "-H", 'If-None-Match: "other"')
        self.assertEqual(status, 200)

    def test_precondition_failed_is_412(self):
        _, h, _ = self.fetch("/text.txt")
        for hdr in ('If-Match: "nope"', "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT",
                    "If-Match: W/" + h["etag"]):
            with self.subTest(hdr=hdr):
                status, h2, body = self.fetch("/text.txt", "-H", hdr)
                self.assertEqual(status, 412)
                self.assertIn(b"412", body)
                self.assertEqual(h2["content-type"], "text/html; charset=utf-8")
        status, _, body = self.fetch("/text.txt", "-H", "If-Match: " + h["etag"])
        self.assertEqual((status, body), (200, TEXT))

    def test_etag_off(self):
        status, h, body = self.fetch("/noetag/a.txt", host="loc.test")
        self.assertEqual((status, body), (200, TEXT))
        self.assertNotIn("etag", h)
        self.assertIn("last-modified", h)
        _, h2, _ = self.fetch("/text.txt")
        status, _, _ = self.fetch("/noetag/a.txt", "-H", "If-None-Match: " + h2["etag"],
                                  host="loc.test")
        self.assertEqual(status, 200)
        status, _, _ = self.fetch("/noetag/a.txt", "-H", "If-None-Match: *", host="loc.test")
        self.assertEqual(status, 304)
        status, h, _ = self.fetch("/text.txt", host="plain.test")
        self.assertNotIn("etag", h)
        status, h, _ = self.fetch("/text.txt", host="loc.test")  # other paths keep them
        self.assertIn("etag", h)

    def test_etag_per_coding(self):
        tags = set()
        for enc in ("identity", "br", "gzip", "zstd"):
            status, h, body = self.fetch("/style.css", "-H", "Accept-Encoding: " + enc)
            self.assertEqual(status, 200)
            self.assertEqual(h.get("content-encoding", "identity"), enc)
            tags.add(h["etag"])
            # The tag of a coding validates that coding only.
            status, _, _ = self.fetch("/style.css", "-H", "Accept-Encoding: " + enc,
                                      "-H", "If-None-Match: " + h["etag"])
            self.assertEqual(status, 304)
        self.assertEqual(len(tags), 4, tags)
        br_tag = [t for t in tags if t.endswith('-br"')]
        self.assertEqual(len(br_tag), 1, tags)
        status, _, body = self.fetch("/style.css", "-H", "If-None-Match: " + br_tag[0],
                                     "-H", "Accept-Encoding: identity")
        self.assertEqual((status, body), (200, TEXT))

    def test_etag_of_a_coding_is_made_from_the_file_tag(self):
        # The tag of a coding made on the fly is the file's with "-<coding>" inside the quotes;
        # a precompressed sibling's also carries the sibling's own tag, so each version differs.
        _, h, _ = self.fetch("/style.css")
        base = h["etag"]
        self.assertRegex(base, r'^"[0-9a-f]+-[0-9a-f]+"$')
        _, h, _ = self.fetch("/style.css", "-H", "Accept-Encoding: gzip")
        self.assertEqual(h["etag"], base[:-1] + '-gzip"')
        _, h, _ = self.fetch("/pre.css")
        pre = h["etag"]
        _, h, _ = self.fetch("/pre.css.br")
        sibling = h["etag"]
        _, h, _ = self.fetch("/pre.css", "-H", "Accept-Encoding: br")
        self.assertEqual((h.get("content-encoding"), h["etag"]),
                         ("br", pre[:-1] + "-br-" + sibling[1:]))

    # ---- ranges ----

    def test_single_range(self):
        status, h, body = self.fetch("/text.txt", "-r", "100-199")
        self.assertEqual((status, body), (206, TEXT[100:200]))
        self.assertEqual(h["content-range"], "bytes 100-199/%d" % len(TEXT))
        self.assertEqual(h["content-length"], "100")
        status, h, body = self.fetch("/text.txt", "-r", "-10")
        self.assertEqual((status, body), (206, TEXT[-10:]))
        status, h, body = self.fetch("/big.txt", "-r", "4000000-")
        self.assertEqual((status, body), (206, BIG[4000000:]))
        self.assertEqual(h["content-range"], "bytes 4000000-%d/%d" % (len(BIG) - 1, len(BIG)))

    def test_two_ranges_multipart(self):
        # Through a raw socket: exact framing.
        resp, conn = self.raw("GET /big.txt HTTP/1.1\r\n" + H +
                              "Range: bytes=10-19, 3000000-3000099\r\nConnection: close\r\n\r\n")
        conn.close()
        self.assertEqual(resp.status, 206)
        parts = parse_byteranges(resp.header("Content-Type"), resp.body)
        self.assertEqual(len(resp.body), int(resp.header("Content-Length")))
        self.assertEqual([p[1] for p in parts], [BIG[10:20], BIG[3000000:3000100]])
        self.assertEqual([p[0]["content-range"] for p in parts],
                         ["bytes 10-19/%d" % len(BIG), "bytes 3000000-3000099/%d" % len(BIG)])
        self.assertEqual(parts[0][0]["content-type"], "text/plain; charset=utf-8")
        # Through curl: the body it saved splits the same way.
        status, h, body = self.fetch("/text.txt", "-r", "0-9,200-219")
        self.assertEqual(status, 206)
        parts = parse_byteranges(h["content-type"], body)
        self.assertEqual([p[1] for p in parts], [TEXT[0:10], TEXT[200:220]])
        self.assertNotIn("content-range", h)

    def test_overlapping_ranges_are_merged(self):
        status, h, body = self.fetch("/text.txt", "-r", "0-99,50-149,150-199")
        self.assertEqual((status, body), (206, TEXT[0:200]))
        self.assertEqual(h["content-range"], "bytes 0-199/%d" % len(TEXT))
        status, h, body = self.fetch("/text.txt", "-r", ",".join(["0-"] * 10))
        self.assertEqual((status, body), (206, TEXT))

    def test_unsatisfiable_is_416(self):
        for rng in ("%d-" % len(TEXT), "-0", "99999-100000"):
            with self.subTest(rng=rng):
                status, h, body = self.fetch("/text.txt", "-H", "Range: bytes=" + rng)
                self.assertEqual(status, 416)
                self.assertEqual(h["content-range"], "bytes */%d" % len(TEXT))
                self.assertIn(b"416", body)
        status, h, _ = self.fetch("/empty.txt", "-r", "0-")
        self.assertEqual((status, h["content-range"]), (416, "bytes */0"))

    def test_too_many_ranges_refused(self):
        status, h, body = self.fetch("/few/a.txt", "-r", "0-1,3-4", host="loc.test")
        self.assertEqual(status, 206)
        self.assertEqual([p[1] for p in parse_byteranges(h["content-type"], body)],
                         [TEXT[0:2], TEXT[3:5]])
        status, h, _ = self.fetch("/few/a.txt", "-r", "0-1,3-4,6-7", host="loc.test")
        self.assertEqual((status, h["content-range"]), (416, "bytes */%d" % len(TEXT)))

    def test_invalid_range_is_ignored(self):
        for value in ("bytes=5-1", "items=0-1", "bytes=abc"):
            with self.subTest(value=value):
                status, _, body = self.fetch("/text.txt", "-H", "Range: " + value)
                self.assertEqual((status, body), (200, TEXT))

    def test_if_range(self):
        _, h, _ = self.fetch("/text.txt")
        for value, want in ((h["etag"], 206), (h["last-modified"], 206), ('"stale"', 200),
                            ("W/" + h["etag"], 200),
                            ("Sat, 01 Jan 2000 00:00:00 GMT", 200)):
            with self.subTest(value=value):
                status, h2, body = self.fetch("/text.txt", "-r", "0-9", "-H", "If-Range: " + value)
                self.assertEqual(status, want)
                self.assertEqual(body, TEXT[:10] if want == 206 else TEXT)

    def test_ranges_are_never_compressed(self):
        status, h, body = self.fetch("/text.txt", "-r", "0-9", "-H", "Accept-Encoding: br, gzip")
        self.assertEqual((status, body), (206, TEXT[:10]))
        self.assertNotIn("content-encoding", h)

    def test_head_ignores_range(self):
        status, h, _ = self.fetch("/text.txt", "-I", "-r", "0-9")  # curl -I saves the head
        self.assertEqual(status, 200)
        self.assertEqual(h["content-length"], str(len(TEXT)))
        self.assertNotIn("content-range", h)

    # ---- content codings ----

    def test_each_coding_decompresses_to_the_file(self):
        for enc in ("br", "gzip", "zstd"):
            for path, data in (("/text.txt", TEXT), ("/hot.js", HOT)):
                with self.subTest(enc=enc, path=path):
                    status, h, body = self.fetch(path, "-H", "Accept-Encoding: " + enc)
                    self.assertEqual(status, 200)
                    self.assertEqual(h["content-encoding"], enc)
                    self.assertEqual(h["vary"], "Accept-Encoding")
                    self.assertLess(len(body), len(data) // 2)
                    self.assertEqual(self.decode(enc, body), data)

    def test_curl_compressed(self):
        # curl's own decoders (it offers deflate, gzip, br, zstd) agree.
        status, h, body = self.fetch("/style.css", "--compressed")
        self.assertEqual((status, body), (200, TEXT))
        self.assertEqual(h["content-encoding"], "br")

    def test_big_file_compressed(self):
        for enc in ("br", "gzip", "zstd"):
            with self.subTest(enc=enc):
                status, h, body = self.fetch("/big.txt", "-H", "Accept-Encoding: " + enc)
                self.assertEqual(status, 200)
                self.assertEqual(h["content-encoding"], enc)
                self.assertLess(len(body), len(BIG) // 2)
                self.assertEqual(self.decode(enc, body), BIG)

    def test_q_values(self):
        table = (
            ("br;q=0.5, gzip;q=0.9", "gzip"),
            ("gzip;q=0, br", "br"),
            ("gzip;q=0", None),
            ("*", "br"),
            ("*, br;q=0", "zstd"),
            ("identity;q=0, gzip", "gzip"),
            ("br;q=0.4, identity", None),
            ("x-gzip", "gzip"),
            ("deflate", None),
        )
        for accept, want in table:
            with self.subTest(accept=accept):
                status, h, body = self.fetch("/style.css", "-H", "Accept-Encoding: " + accept)
                self.assertEqual(status, 200)
                self.assertEqual(h.get("content-encoding"), want)
                self.assertEqual(self.decode(want, body) if want else body, TEXT)

    def test_not_compressed(self):
        for path, host in (("/small.txt", None), ("/img.png", None), ("/text.txt", "plain.test")):
            with self.subTest(path=path, host=host):
                status, h, _ = self.fetch(path, "-H", "Accept-Encoding: br, gzip, zstd",
                                          host=host)
                self.assertEqual(status, 200)
                self.assertNotIn("content-encoding", h)
        _, h, _ = self.fetch("/small.txt")
        self.assertEqual(h["vary"], "Accept-Encoding")  # a sibling could still differ
        _, h, _ = self.fetch("/text.txt", host="plain.test")
        self.assertNotIn("vary", h)

    def test_precompressed_sibling_served(self):
        status, h, body = self.fetch("/pre.css", "-H", "Accept-Encoding: br")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-encoding"], "br")
        self.assertEqual(body, self.sibling_br)  # its bytes, not ours
        self.assertEqual(h["content-length"], str(len(self.sibling_br)))
        self.assertEqual(unbrotli(body, self.root), TEXT)
        _, dyn, ours = self.fetch("/style.css", "-H", "Accept-Encoding: br")
        self.assertNotEqual(ours, self.sibling_br)
        self.assertNotEqual(h["etag"].split("-br")[0], dyn["etag"].split("-br")[0])
        status, h, body = self.fetch("/pre.css", "-H", "Accept-Encoding: gzip")
        self.assertEqual((h["content-encoding"], body), ("gzip", self.sibling_gz))
        # The last modification of the two counts as the representation's.
        sib = os.stat(os.path.join(self.root, "www", "pre.css.gz")).st_mtime
        self.assertEqual(email.utils.parsedate_to_datetime(h["last-modified"]).timestamp(),
                         int(sib))
        status, h, _ = self.fetch("/pre.css", "-H", "Accept-Encoding: gzip",
                                  "-H", "If-None-Match: " + h["etag"])
        self.assertEqual(status, 304)

    def test_sibling_of_an_acceptable_coding_beats_compressing(self):
        # br is preferred, but only a .gz exists: it is sent rather than compressing to br.
        status, h, body = self.fetch("/gzonly.css", "-H", "Accept-Encoding: br, gzip")
        self.assertEqual((status, h["content-encoding"], body), (200, "gzip", self.sibling_gz))
        status, h, body = self.fetch("/gzonly.css", "-H", "Accept-Encoding: br")
        self.assertEqual(h["content-encoding"], "br")
        self.assertEqual(unbrotli(body, self.root), TEXT)

    def test_older_sibling_ignored(self):
        status, h, body = self.fetch("/old.css", "-H", "Accept-Encoding: br")
        self.assertEqual((status, h["content-encoding"]), (200, "br"))
        self.assertNotEqual(body, self.sibling_br)
        self.assertEqual(unbrotli(body, self.root), TEXT)

    def test_precompressed_off(self):
        status, h, body = self.fetch("/pre-off/a.css", "-H", "Accept-Encoding: br",
                                     host="loc.test")
        self.assertEqual((status, h["content-encoding"]), (200, "br"))
        self.assertNotEqual(body, self.sibling_br)
        self.assertEqual(unbrotli(body, self.root), TEXT)

    def test_hot_file_served_from_cache(self):
        # One connection stays on one loop, whose cache keeps the output of the first request:
        # the first is compressed while it streams (chunked), the second is sent from memory.
        conn = self.server.connect(timeout=15)
        with conn:
            got = []
            for _ in range(3):
                conn.send("GET /cached.js HTTP/1.1\r\n" + H + "Accept-Encoding: br\r\n\r\n")
                got.append(conn.read_response(timeout=15))
        first, second, third = got
        self.assertEqual([r.status for r in got], [200] * 3)
        self.assertEqual(first.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(first.header("Content-Length"))
        for r in (second, third):
            self.assertIsNone(r.header("Transfer-Encoding"))
            self.assertEqual(r.header("Content-Length"), str(len(first.body)))
            self.assertEqual(r.body, first.body)
            self.assertEqual(r.header("ETag"), first.header("ETag"))
        self.assertEqual(unbrotli(first.body, self.root), HOT)

    def test_head_has_the_fields_of_get(self):
        for path, accept in (("/text.txt", "identity"), ("/text.txt", "br"), ("/pre.css", "br"),
                             ("/img.png", "gzip")):
            with self.subTest(path=path, accept=accept):
                s1, get, _ = self.fetch(path, "-H", "Accept-Encoding: " + accept)
                s2, head, _ = self.fetch(path, "-I", "-H", "Accept-Encoding: " + accept)
                self.assertEqual((s1, s2), (200, 200))
                get.pop("date")
                head.pop("date")
                self.assertEqual(head, get)

    def test_head_of_a_large_compressed_file(self):
        # Not compressed just for HEAD: the head says what GET would send (a streamed body).
        conn = self.server.connect()
        with conn:
            conn.send("HEAD /head.js HTTP/1.1\r\n" + H + "Accept-Encoding: zstd\r\n\r\n")
            resp = conn.read_response(head_request=True)
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Content-Encoding"), "zstd")
            self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
            conn.send("GET /small.txt HTTP/1.1\r\n" + H + "\r\n")
            self.assertEqual(conn.read_response().body, SMALL)  # no stray body bytes

    def test_http10_streamed_coding_ends_with_close(self):
        conn = self.server.connect(timeout=15)
        with conn:
            conn.send("GET /hot.js HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
            resp = conn.read_response(timeout=15)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("Content-Encoding"), "gzip")
        self.assertEqual(zlib.decompress(resp.body, 16 + zlib.MAX_WBITS), HOT)

    # ---- content types ----

    def test_charset(self):
        table = {
            "/text.txt": "text/plain; charset=utf-8",
            "/index.html": "text/html; charset=utf-8",
            "/img.png": "image/png",
        }
        for path, want in table.items():
            with self.subTest(path=path):
                _, h, _ = self.fetch(path)
                self.assertEqual(h["content-type"], want)
        _, h, _ = self.fetch("/text.txt", host="latin.test")
        self.assertEqual(h["content-type"], "text/plain; charset=iso-8859-2")
        _, h, _ = self.fetch("/text.txt", host="plain.test")
        self.assertEqual(h["content-type"], "text/plain")

    def test_extra_mime_types(self):
        _, h, body = self.fetch("/notes.md")
        self.assertEqual((h["content-type"], body), ("text/markdown; charset=utf-8", b"# notes\n"))
        _, h, _ = self.fetch("/data.foo")
        self.assertEqual(h["content-type"], "application/x-foo; charset=us-ascii")
        _, h, _ = self.fetch("/notes.md", host="latin.test")  # a host's map wins
        self.assertEqual(h["content-type"], "text/x-markdown; charset=iso-8859-2")

    def test_scopes_sharing_a_file(self):
        # One cached file served in turn by hosts whose settings differ: the Content-Type the
        # cache entry keeps is the first host's, and never leaks into another's answer.
        table = [
            (None, "text/markdown; charset=utf-8", "Accept-Encoding"),
            ("latin.test", "text/x-markdown; charset=iso-8859-2", "Accept-Encoding"),
            ("plain.test", "text/markdown", None),
        ]
        for _ in range(3):
            for host, want, vary in table:
                with self.subTest(host=host):
                    status, h, body = self.fetch("/shared.md", host=host)
                    self.assertEqual((status, h["content-type"], h.get("vary"), body),
                                     (200, want, vary, b"# shared\n"))

    # ---- trailing slashes ----

    def test_trailing_slash_redirect(self):
        status, h, _ = self.fetch("/d1")
        self.assertEqual((status, h["location"]), (301, "/d1/"))
        status, h, body = self.fetch("/d1", host="plain.test")
        self.assertEqual((status, body), (200, b"d1 index\n"))
        self.assertNotIn("location", h)
        status, _, body = self.fetch("/d1/", host="plain.test")
        self.assertEqual((status, body), (200, b"d1 index\n"))


class BadPropertiesTest(unittest.TestCase):
    """The new properties are validated at load: a bad value is an error naming the property."""

    def check_refused(self, extra, prop):
        root = tempfile.mkdtemp(prefix="kz-it-")
        server = None
        try:
            write_file(os.path.join(root, "www", "index.html"), "x")
            server = KzServer(root, {"global": base_global(root, **extra)})
            with self.assertRaises(AssertionError):
                server.start()
            self.assertRegex(server.stderr(), r"error: property '%s': \S" % prop)
        finally:
            if server:
                server.stop()  # by pid, also when it started after all
            shutil.rmtree(root, ignore_errors=True)

    def test_bad_values(self):
        self.check_refused({"extraMimeTypes": {"md": "markdown"}}, "extraMimeTypes")
        self.check_refused({"extraMimeTypes": {"a/b": "text/plain"}}, "extraMimeTypes")
        self.check_refused({"defaultCharset": "utf 8"}, "defaultCharset")
        self.check_refused({"maximumRanges": 0}, "maximumRanges")
        self.check_refused({"compressionCacheSize": -1}, "compressionCacheSize")

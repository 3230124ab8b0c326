"""nonStandardCodes with curl (karpacz-behaviour.md §1, §4): every redirect code with its
Location (url mode appends the query, regex mode expands captures), fixed statuses, HTTP Basic
authentication (RFC 7617) accepted for Argon2id, PBKDF2 and scrypt users (the user in the access
log) and refused (401 with the WWW-Authenticate challenge), 429 after 10 failures from one
address while other addresses still pass, disableBruteProtection, userList, `users` address
limits (client addresses set through enableIPSpoofing), the walk going on after a passed 401,
karpacz-passwd (--stdin output pasted into the configuration, errors), and bad entries refused
at start with FILE:LINE:COL. Password verifications run off the event loop: other requests of
the same loop stay fast while Argon2 runs, and a request whose `timeout` passes during a
verification (or a server stopping then) is answered 504 / stops cleanly.
"""

import base64
import http.client
import os
import re
import selectors
import shutil
import socket
import subprocess
import statistics
import tempfile
import threading
import time
import unittest
import uuid

from kzharness import (
    curl_get,
    log_line,
    KzTestCase,
    HOST,
    KzServer,
    base_global,
    binary,
    curl,
    read_file,
    to_yaml,
    wait_for,
    write_file,
)

SALT = "a2FycGFjei1zYWx0LTE2Yg"
BOB_PASS = "$pbkdf2-sha256$i=1000,l=32$%s$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8" % SALT
CAROL_PASS = "$scrypt$ln=10,r=8,p=1$%s$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY" % SALT
HORSE = "correct horse"  # bob's and carol's password
ALICE_PW = "wonder:land ü"  # alice's, hashed by karpacz-passwd (a ':' and UTF-8 on purpose)
CHALLENGE = 'Basic realm="Private \\"area\\"", charset="UTF-8"'
DEFAULT_CHALLENGE = 'Basic realm="Karpacz HTTP Basic Authorization", charset="UTF-8"'
PHC_ARGON2ID = re.compile(
    r"^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")

CODES = [
    {"scode": 301, "url": "/old", "location": "/new.txt"},
    {"scode": 302, "url": "/found", "location": "http://example.com/found"},
    {"scode": 307, "regex": "^/temp/(.*)$", "location": "/t/$1"},
    {"scode": 308, "regex": "^/perm/([a-z]+)/(\\d+)", "location": "/p/$2/$1"},
    {"scode": 403, "regex": "\\.git(/|$)"},
    {"scode": 418, "url": "/teapot"},
    {"scode": 401, "regex": "^/private(/|$)", "realm": 'Private "area"'},
    {"scode": 410, "url": "/private/gone.txt"},
    {"scode": 401, "url": "/bobonly.txt", "userList": ["bob"]},
    {"scode": 401, "url": "/open.txt", "disableBruteProtection": True},
    {"scode": 403, "url": "/lan.txt", "users": ["10.0.0.0/8", "2001:db8::/32"]},
    {"scode": 451, "url": "/nolan.txt", "users": "192.0.2.0/24"},
]

FILES = {
    "index.html": b"<p>index</p>\n",
    "new.txt": b"new place\n",
    "private/doc.txt": b"private document\n",
    "private/gone.txt": b"never served\n",
    "bobonly.txt": b"for bob\n",
    "open.txt": b"open with a password\n",
    "lan.txt": b"not for the LAN\n",
    "nolan.txt": b"not for TEST-NET-1\n",
}


def passwd_tool():
    return os.path.join(os.path.dirname(binary()), "karpacz-passwd")


def run_passwd(stdin, *args):
    return subprocess.run([passwd_tool()] + list(args), input=stdin, capture_output=True,
                          timeout=30)


class AuthTest(KzTestCase):
    @classmethod
    def config(cls, root):
        res = run_passwd(ALICE_PW.encode() + b"\n", "--stdin", "alice")
        if res.returncode != 0:
            raise AssertionError("karpacz-passwd failed: %r" % res.stderr)
        cls.alice_entry = res.stdout.decode()
        g = base_global(root, enableIPSpoofing=True, nonStandardCodes=CODES)
        g["users"] = [{"name": "bob", "pass": BOB_PASS}, {"name": "carol", "pass": CAROL_PASS}]
        text = to_yaml({"global": g}) + "\n"
        # The tool's output pasted as it is, as a user would, below the other users.
        indented = "".join("    " + line + "\n" for line in cls.alice_entry.splitlines())
        assert text.count("\n  users:\n") == 1
        return text.replace("\n  users:\n", "\n  users:\n" + indented, 1)

    @classmethod
    def populate(cls, root):
        for name, data in FILES.items():
            write_file(os.path.join(root, "www", name), data)

    def get(self, path, *extra):
        return curl_get(self.server, path, *extra)

    def from_ip(self, ip):
        return ("-H", "X-Forwarded-For: %s" % ip)

    # ---- redirects and fixed statuses ----

    def test_redirect_codes(self):
        cases = [
            ("/old", 301, "/new.txt"),
            ("/old?a=1&b=two", 301, "/new.txt?a=1&b=two"),
            ("/found", 302, "http://example.com/found"),
            ("/temp/x/y.html?q=1", 307, "/t/x/y.html?q=1"),
            ("/perm/abc/42/rest", 308, "/p/42/abc"),
            ("/temp/a%20b", 307, "/t/a%20b"),
        ]
        for path, code, location in cases:
            status, headers, body = self.get(path)
            self.assertEqual(status, code, path)
            self.assertEqual(headers.get("location"), location, path)
            self.assertIn(str(code).encode(), body)

    def test_redirect_followed(self):
        res = curl("-L", "-w", "%{http_code} %{num_redirects}", "-o", "/dev/null",
                   self.server.url("/old?x=1"))
        self.assertEqual(res.stdout, b"200 1")
        self.assertEqual(curl("-L", self.server.url("/old")).stdout, b"new place\n")

    def test_url_is_exact(self):
        self.assertEqual(self.get("/old/")[0], 404)
        self.assertEqual(self.get("/older")[0], 404)

    def test_fixed_status(self):
        status, headers, body = self.get("/teapot")
        self.assertEqual(status, 418)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertIn(b"418", body)
        self.assertEqual(self.get("/repo/.git/config")[0], 403)
        self.assertEqual(self.get("/repo/.git")[0], 403)
        self.assertEqual(self.get("/repo/.gitignore")[0], 404)

    # ---- Basic authentication ----

    def test_accepted_argon2_from_the_tool(self):
        self.assertRegex(self.alice_entry, r"^- name: alice\n  pass: \$argon2id\$")
        status, _, body = self.get("/private/doc.txt", "-u", "alice:" + ALICE_PW,
                                   *self.from_ip("192.0.2.101"))
        self.assertEqual(status, 200)
        self.assertEqual(body, FILES["private/doc.txt"])
        line = log_line(self.access_log, b'"GET /private/doc.txt HTTP/1.1" 200')
        self.assertIsNotNone(line, self.access_log()[-2000:])
        self.assertTrue(line.startswith(b"192.0.2.101 - alice ["), line)

    def test_accepted_pbkdf2_and_scrypt(self):
        for user in ("bob", "carol"):
            path = "/private/doc.txt?u=%s" % user
            status, _, body = self.get(path, "-u", "%s:%s" % (user, HORSE))
            self.assertEqual(status, 200, user)
            self.assertEqual(body, FILES["private/doc.txt"])
            line = log_line(self.access_log, ('"GET %s HTTP/1.1" 200' % path).encode())
            self.assertIsNotNone(line)
            self.assertIn((" - %s [" % user).encode(), line)

    def test_refused_without_credentials(self):
        for path in ("/private", "/private/doc.txt", "/private/nothing-here"):
            status, headers, body = self.get(path)
            self.assertEqual(status, 401, path)
            self.assertEqual(headers.get("www-authenticate"), CHALLENGE)
            self.assertIn(b"401", body)
            self.assertNotIn(b"private document", body)
        status, headers, _ = self.get("/bobonly.txt")
        self.assertEqual((status, headers.get("www-authenticate")), (401, DEFAULT_CHALLENGE))

    def test_refused_wrong_password(self):
        status, headers, body = self.get("/private/doc.txt", "-u", "bob:wrong",
                                         *self.from_ip("192.0.2.102"))
        self.assertEqual(status, 401)
        self.assertEqual(headers.get("www-authenticate"), CHALLENGE)
        self.assertNotIn(b"private document", body)
        line = log_line(self.error_log, b'authentication failed for user "bob" from 192.0.2.102')
        self.assertIsNotNone(line, self.error_log()[-2000:])
        status, _, _ = self.get("/private/doc.txt", "-u", "nobody:" + HORSE,
                                *self.from_ip("192.0.2.102"))
        self.assertEqual(status, 401)

    def test_walk_goes_on_after_authentication(self):
        self.assertEqual(self.get("/private/gone.txt")[0], 401)
        self.assertEqual(self.get("/private/gone.txt", "-u", "bob:" + HORSE)[0], 410)

    def test_user_list(self):
        status, headers, _ = self.get("/bobonly.txt", "-u", "carol:" + HORSE)
        self.assertEqual((status, headers.get("www-authenticate")), (401, DEFAULT_CHALLENGE))
        status, _, body = self.get("/bobonly.txt", "-u", "bob:" + HORSE)
        self.assertEqual((status, body), (200, FILES["bobonly.txt"]))

    def test_brute_force_then_429(self):
        attacker, other = self.from_ip("198.51.100.7"), self.from_ip("198.51.100.8")
        for i in range(10):
            status, headers, _ = self.get("/private/doc.txt?try=%d" % i, "-u", "bob:guess%d" % i,
                                          *attacker)
            self.assertEqual(status, 401, "attempt %d" % i)
            self.assertEqual(headers.get("www-authenticate"), CHALLENGE)
        # Blocked now: even the right password, even without credentials, is answered 429.
        status, headers, body = self.get("/private/doc.txt", "-u", "bob:" + HORSE, *attacker)
        self.assertEqual(status, 429)
        # RFC 6585 §4: when to come back, at most the 300 s window after the last failure.
        self.assertTrue(295 <= int(headers.get("retry-after", "0")) <= 300, headers)
        self.assertNotIn("www-authenticate", headers)
        self.assertNotIn(b"private document", body)
        self.assertEqual(self.get("/private/doc.txt", *attacker)[0], 429)
        self.assertIsNotNone(log_line(
            self.error_log, b"too many failed authentication attempts from 198.51.100.7"))
        # Other addresses and unprotected paths are not affected.
        self.assertEqual(self.get("/private/doc.txt", "-u", "bob:" + HORSE, *other)[0], 200)
        self.assertEqual(self.get("/index.html", *attacker)[0], 200)

    def test_disable_brute_protection(self):
        client = self.from_ip("198.51.100.9")
        for i in range(12):
            status, headers, _ = self.get("/open.txt?try=%d" % i, "-u", "bob:guess%d" % i,
                                          *client)
            self.assertEqual(status, 401, "attempt %d" % i)
            self.assertEqual(headers.get("www-authenticate"), DEFAULT_CHALLENGE)
        status, _, body = self.get("/open.txt", "-u", "bob:" + HORSE, *client)
        self.assertEqual((status, body), (200, FILES["open.txt"]))
        # Those failures were not counted against the address elsewhere either.
        self.assertEqual(self.get("/private/doc.txt", "-u", "bob:" + HORSE, *client)[0], 200)

    # ---- `users`: client addresses ----

    def test_users_address_limits(self):
        cases = [
            ("/lan.txt", None, 200),
            ("/lan.txt", "10.1.2.3", 403),
            ("/lan.txt", "2001:db8::1", 403),
            ("/lan.txt", "11.1.2.3", 200),
            ("/nolan.txt", None, 200),
            ("/nolan.txt", "192.0.2.55", 451),
            ("/nolan.txt", "192.0.3.55", 200),
        ]
        for path, ip, expect in cases:
            extra = self.from_ip(ip) if ip else ()
            self.assertEqual(self.get(path, *extra)[0], expect, "%s from %s" % (path, ip))


def basic(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


def measure_burst(socks, request):
    """Sends request on every socket at once, then reads each response (Content-Length framed)
    as it comes; returns the latencies (send to whole response) and the raw responses."""
    sel = selectors.DefaultSelector()
    bufs, sent, took = {}, {}, {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    for s in socks:
        sent[s] = time.monotonic()
        if s.send(request) != len(request):  # a few dozen bytes on an idle socket
            raise AssertionError("short send")
    deadline = time.monotonic() + 10
    while len(took) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            data = s.recv(65536)
            bufs[s] += data
            head, sep, body = bufs[s].partition(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if not data or (sep and m and len(body) >= int(m.group(1))):
                took[s] = time.monotonic() - sent[s]
                sel.unregister(s)
    sel.close()
    if len(took) < len(socks):
        raise AssertionError("%d of %d responses missing" % (len(socks) - len(took), len(socks)))
    return [took[s] for s in socks], [bufs[s] for s in socks]


# As costly as a hash may be (128 MiB, 10 passes: about a second, longer than `timeout` plus
# the loop's half-second timeout sweep): a wrong password costs all of it.
SLOW_PASS = ("$argon2id$v=19$m=131072,t=10,p=1$%s$"
             "c2xvdy1oYXNoLW5vYm9keS1rbm93cy10aGUtcGFzc3c" % SALT)


class OffLoopTest(KzTestCase):
    """One loop (workers: 1): a verification must not stall the loop's other connections."""

    @classmethod
    def config(cls, root, **extra):
        res = run_passwd(ALICE_PW.encode() + b"\n", "--stdin", "alice")
        if res.returncode != 0:
            raise AssertionError("karpacz-passwd failed: %r" % res.stderr)
        codes = [{"scode": 401, "url": "/private.txt", "disableBruteProtection": True},
                 {"scode": 401, "url": "/slow.txt", "userList": ["slow"]}]
        settings = {"workers": 1, "nonStandardCodes": codes}
        settings.update(extra)
        g = base_global(root, **settings)
        g["users"] = [{"name": "slow", "pass": SLOW_PASS}]
        text = to_yaml({"global": g}) + "\n"
        indented = "".join("    " + line + "\n" for line in res.stdout.decode().splitlines())
        return text.replace("\n  users:\n", "\n  users:\n" + indented, 1)

    @classmethod
    def populate(cls, root):
        for name in ("index.html", "private.txt", "slow.txt"):
            write_file(os.path.join(root, "www", name), "%s body\n" % name)

    def attack(self, results, started):
        """20 wrong passwords pipelined on one connection: the loop gets them back to back."""
        heads = []
        for i in range(20):
            auth = basic("alice", "guess%d" % i)["Authorization"]
            heads.append("GET /private.txt?i=%d HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n"
                         % (i, auth))
        with self.server.connect(timeout=20) as conn:
            conn.send("".join(heads).encode())
            started.set()
            for _ in range(20):
                results.append(conn.read_response().status)

    def test_loop_not_stalled_by_argon2(self):
        n = 50
        socks = [socket.create_connection((HOST, self.port), timeout=10) for _ in range(n)]
        statuses, started = [], threading.Event()
        attacker = threading.Thread(target=self.attack, args=(statuses, started))
        try:
            time.sleep(0.05)  # the connections are accepted while the loop is free
            attacker.start()
            self.assertTrue(started.wait(10))
            time.sleep(0.03)  # a verification is under way
            latencies, bodies = measure_burst(socks, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
            overlapped = len(statuses) < 20  # the burst was answered while verifications ran
        finally:
            attacker.join(30)
            for s in socks:
                s.close()
        self.assertEqual(statuses, [401] * 20)
        for body in bodies:
            self.assertTrue(body.startswith(b"HTTP/1.1 200 OK\r\n"), body[:200])
            self.assertTrue(body.endswith(b"\r\n\r\nindex.html body\n"), body[-200:])
        median = statistics.median(latencies)
        # Inline verification stalls the burst for 700 ms or more; off the loop it takes a few
        # ms. 100 ms keeps the test meaningful on a loaded machine under ASan.
        self.assertLess(median, 0.100, "median %.1f ms, max %.1f ms"
                        % (median * 1000, max(latencies) * 1000))
        self.assertTrue(overlapped, "the verifications ended before the burst was answered")
        # Still right afterwards: the right password passes (and then from the login cache).
        for _ in range(2):
            resp, body = self.get("/private.txt", basic("alice", ALICE_PW))
            self.assertEqual((resp.status, body), (200, b"private.txt body\n"))
        resp, _ = self.get("/private.txt", basic("alice", "nope"))
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.getheader("WWW-Authenticate"), DEFAULT_CHALLENGE)


class SlowVerifyTest(KzTestCase):
    """A verification outlasting the request: `timeout` passes, or the server stops."""

    @classmethod
    def config(cls, root, **extra):
        settings = {"timeout": 100}
        settings.update(extra)
        return OffLoopTest.config(root, **settings)

    @classmethod
    def populate(cls, root):
        OffLoopTest.populate(root)

    def test_timeout_during_verification(self):
        t0 = time.monotonic()
        resp, body = self.get("/slow.txt?t=1", basic("slow", "wrong"))
        self.assertEqual(resp.status, 504)
        self.assertNotIn(b"slow.txt body", body)
        self.assertLess(time.monotonic() - t0, 3.0)
        # The abandoned verification ends on its own; the server goes on serving meanwhile.
        self.assert_serving(expect=b"index.html body\n")
        resp, body = self.get("/private.txt", basic("alice", ALICE_PW))
        self.assertEqual((resp.status, body), (200, b"private.txt body\n"))

    def test_stop_during_verification(self):
        root = tempfile.mkdtemp(prefix="kz-auth-stop-")
        try:
            self.populate(root)
            config = self.config(root, timeout=20000, gracefulShutdownTimeout=100)
            server = KzServer(root, config).start()
            conns = []
            try:
                for i in range(2):
                    c = http.client.HTTPConnection(HOST, server.port, timeout=10)
                    c.request("GET", "/slow.txt?s=%d" % i, headers=basic("slow", "x%d" % i))
                    conns.append(c)
                time.sleep(0.2)  # taken by the loop, verifications running or queued
            finally:
                rc, secs = server.stop()
                for c in conns:
                    c.close()
            self.assertEqual(rc, 0, server.stderr()[-3000:])
            self.assertIsNone(server.sanitizer_report())
        finally:
            shutil.rmtree(root, ignore_errors=True)


class PasswdToolTest(unittest.TestCase):
    def test_stdin_output(self):
        res = run_passwd(b"s3cret\n", "--stdin", "alice")
        self.assertEqual(res.returncode, 0, res.stderr)
        lines = res.stdout.decode().split("\n")
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[0], "- name: alice")
        self.assertEqual(lines[2], "")
        self.assertTrue(lines[1].startswith("  pass: "), lines[1])
        self.assertRegex(lines[1][len("  pass: "):], PHC_ARGON2ID)
        again = run_passwd(b"s3cret\n", "--stdin", "alice").stdout
        self.assertNotEqual(again, res.stdout)  # a fresh salt each time

    def test_quoted_name(self):
        res = run_passwd(b"pw\n", "--stdin", "--", 'Jo "J" Doe')
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(res.stdout.startswith(b'- name: "Jo \\"J\\" Doe"\n'), res.stdout)

    def test_errors(self):
        cases = [
            (b"\n", ["--stdin", "alice"], b"karpacz-passwd: the password is empty\n"),
            (b"", ["--stdin", "alice"], b"karpacz-passwd: the password is empty\n"),
            (b"pw\n", ["--stdin", "a:b"], b"karpacz-passwd: the user name must not contain ':'\n"),
            (b"pw\n", ["--stdin", ""], b"karpacz-passwd: the user name is empty\n"),
            (b"x" * 5000 + b"\n", ["--stdin", "bob"],
             b"karpacz-passwd: the password line is too long\n"),
        ]
        for stdin, args, message in cases:
            res = run_passwd(stdin, *args)
            self.assertEqual(res.returncode, 1, args)
            self.assertEqual(res.stdout, b"")
            self.assertEqual(res.stderr, message)
        for args in ([], ["--stdin"], ["a", "b"], ["--bogus", "a"]):
            res = run_passwd(b"pw\n", *args)
            self.assertEqual(res.returncode, 1, args)
            self.assertTrue(res.stderr.startswith(b"usage: karpacz-passwd"), args)


class BadConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kz-auth-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, text):
        path = os.path.join(self.dir, "karpacz.yaml")
        write_file(path, text)
        res = subprocess.run([binary(), "-t", "-c", path], capture_output=True, timeout=10,
                             cwd=self.dir)
        self.assertEqual(res.returncode, 1, res.stderr[-2000:])
        return path, res.stderr

    def test_bad_entries_refused(self):
        path, err = self.check(
            "global:\n"
            "  nonStandardCodes:\n"
            "    - {scode: 403, url: /ok}\n"
            "    - scode: 302\n"
            "      regex: '^/(a'\n"
            "      location: /b\n"
        )
        self.assertIn(("%s:4:7: error: property 'nonStandardCodes': 'regex' (line 5): missing "
                       "closing parenthesis at offset 4" % path).encode(), err)
        path, err = self.check("global:\n  nonStandardCodes:\n    - {scode: 301, url: /a}\n")
        self.assertIn(("%s:3:7: error: property 'nonStandardCodes': 'scode' (line 3): a redirect "
                       "needs 'location'" % path).encode(), err)
        path, err = self.check("global:\n  nonStandardCodes:\n"
                               "    - {scode: 403, url: /a, users: [10.0.0.0/40]}\n")
        self.assertIn(("%s:3:7: error: property 'nonStandardCodes': 'users' (line 3): invalid "
                       "prefix length in '10.0.0.0/40' (0 to 32)" % path).encode(), err)

    def test_bad_users_refused(self):
        path, err = self.check("hosts:\n  - domain: example.com\n    users:\n"
                               "      - name: admin\n"
                               "        pass: '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi'\n")
        self.assertIn(("%s:4:9: error: property 'users': 'pass' (line 5): bcrypt hashes are not "
                       "supported; create an Argon2 hash with karpacz-passwd" % path).encode(), err)


if __name__ == "__main__":
    unittest.main()

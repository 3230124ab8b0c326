"""The command line: -t (check the configuration, every problem as FILE:LINE:COL: error:
property 'x': message), -v, -h, -p, a bad configuration at start-up, and `include`.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from kzharness import KzTestCase, base_global, binary, to_yaml, wait_for, write_file

GOOD = """\
global:
  port: "127.0.0.1:0"
  wwwroot: www
  maximumRequestBodySize: 2048
  customHeaders:
    X-Test: "yes"
hosts:
  - domain: "*.example.com"
    wwwroot: www
    locations:
      - path: /x
        wwwroot: www
"""

BAD = """\
global:
  port: "127.0.0.1:0"
  wwwroot: www
  maximumConnections: -1
  serverHeader:
    - a
  requestHeaderTimeout: "soon"
hosts:
  - wwwroot: www
  - domain: x.test
    port: 8081
"""


def run(*args, cwd=None):
    return subprocess.run([binary()] + list(args), capture_output=True, timeout=10, cwd=cwd)


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kz-it-cfg-")
        os.mkdir(os.path.join(self.dir, "www"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        write_file(path, text)
        return path

    def assert_no_sanitizer(self, res):
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error"):
            self.assertNotIn(marker.encode(), res.stderr, res.stderr[-3000:])

    def test_version(self):
        res = run("-v")
        self.assertEqual(res.returncode, 0)
        self.assertRegex(res.stdout.decode(), r"^Karpacz \d+\.\d+\.\d+\n$")

    def test_help(self):
        res = run("-h")
        self.assertEqual(res.returncode, 0)
        out = res.stdout.decode()
        for opt in ("-c", "-t", "-v", "-p"):
            self.assertIn(opt, out)

    def test_unknown_option(self):
        res = run("-Z")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(b"-c", res.stderr + res.stdout)

    def test_property_table(self):
        res = run("-p")
        self.assertEqual(res.returncode, 0)
        lines = res.stdout.decode().splitlines()
        for name, default in (("maximumRequestBodySize", "10485760"),
                              ("requestHeaderTimeout", "20000"),
                              ("maximumRequestHeaderCount", "100"), ("serverHeader", "Karpacz")):
            with self.subTest(name=name):
                row = [l for l in lines if re.search(r"\b%s\b" % name, l)]
                self.assertTrue(row, "no row for %s" % name)
                self.assertIn(default, row[0])

    def test_check_good_file(self):
        path = self.write("good.yaml", GOOD)
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertNotIn(b"error", res.stderr)
        self.assert_no_sanitizer(res)

    def test_check_bad_file_reports_every_error_with_position(self):
        path = self.write("bad.yaml", BAD)
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        err = res.stderr.decode()
        f = re.escape(path)
        self.assertRegex(err, r"(?m)^%s:4:\d+: error: property 'maximumConnections': \S" % f)
        self.assertRegex(err, r"(?m)^%s:[56]:\d+: error: property 'serverHeader': \S" % f)
        self.assertRegex(err, r"(?m)^%s:7:\d+: error: property 'requestHeaderTimeout': \S" % f)
        self.assertRegex(err, r"(?m)^%s:9:\d+: error: " % f)  # a host without domain or ip
        self.assertRegex(err, r"(?m)^%s:11:\d+: error: property 'port': \S" % f)  # global only
        self.assert_no_sanitizer(res)

    def test_check_yaml_syntax_error(self):
        path = self.write("syntax.yaml", "global:\n  port: [unclosed\n  wwwroot: www\n")
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        self.assertRegex(res.stderr.decode(), r"(?m)^%s:\d+:\d+: error: " % re.escape(path))
        self.assert_no_sanitizer(res)

    def test_check_missing_file(self):
        path = os.path.join(self.dir, "does-not-exist.yaml")
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        self.assertIn(path.encode(), res.stderr)

    def test_check_error_in_included_file(self):
        inc = self.write("conf.d/extra.yaml", "global:\n  maximumConnections: -5\n")
        path = self.write("main.yaml", GOOD + "include:\n  - conf.d/*.yaml\n")
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        want = r"(?m)^%s:2:\d+: error: property 'maximumConnections': \S" % re.escape(inc)
        self.assertRegex(res.stderr.decode(), want)

    def test_bad_file_at_start_up_exits_1(self):
        path = self.write("bad.yaml", BAD)
        res = run("-c", path)
        self.assertEqual(res.returncode, 1, res.stderr[-3000:])
        self.assertNotIn(b"listening", res.stdout)
        self.assertIn(b"maximumConnections", res.stderr)
        self.assert_no_sanitizer(res)

    def test_port_in_use_at_start_up_exits_1(self):
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            path = self.write("busy.yaml", to_yaml({"global": {"port": "127.0.0.1:%d" % port,
                                                               "wwwroot": "www"}}) + "\n")
            res = run("-c", path)
            self.assertEqual(res.returncode, 1, res.stderr[-3000:])
            self.assertNotIn(b"listening", res.stdout)
            self.assertIn(str(port).encode(), res.stderr)
            self.assert_no_sanitizer(res)
        finally:
            holder.close()


class IncludeTest(KzTestCase):
    """`include` merges other files (globs relative to the configuration's directory)."""

    @classmethod
    def config(cls, root):
        # A relative path in an included file is taken from that file's directory (config.c).
        hosts = [{"domain": "inc.test", "wwwroot": os.path.join(root, "www-inc")},
                 {"domain": "rel.test", "wwwroot": "www-rel"}]
        write_file(os.path.join(root, "conf.d", "10-host.yaml"), to_yaml({"hosts": hosts}) + "\n")
        write_file(os.path.join(root, "conf.d", "20-headers.yaml"),
                   to_yaml({"global": {"customHeaders": {"X-Included": "1"}}}) + "\n")
        return {"global": base_global(root), "include": ["conf.d/*.yaml"]}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "who.txt"), "main\n")
        write_file(os.path.join(root, "www-inc", "who.txt"), "included\n")
        write_file(os.path.join(root, "conf.d", "www-rel", "who.txt"), "relative\n")

    def test_included_host_and_global(self):
        resp, body = self.get("/who.txt", {"Host": "inc.test"})
        self.assertEqual((resp.status, body), (200, b"included\n"))
        self.assertEqual(resp.getheader("X-Included"), "1")
        resp, body = self.get("/who.txt", {"Host": "rel.test"})
        self.assertEqual((resp.status, body), (200, b"relative\n"))
        resp, body = self.get("/who.txt", {"Host": "other.test"})
        self.assertEqual((resp.status, body), (200, b"main\n"))


class MissingWwwrootTest(KzTestCase):
    """A wwwroot that cannot be opened is reported at start (KZ0009) and its requests get 404;
    the server still starts and serves."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, wwwroot=os.path.join(root, "no-such-dir"))}

    def test_warned_and_404(self):
        resp, _ = self.get("/index.html")
        self.assertEqual(resp.status, 404)
        log = os.path.join(self.root, "error.log")
        pattern = re.compile(r"\[warn\] \[KZ0009\] wwwroot .*no-such-dir cannot be opened")
        self.assertTrue(wait_for(lambda: os.path.exists(log) and pattern.search(
            open(log, encoding="utf-8", errors="replace").read()), timeout=5),
            "no KZ0009 warning in the error log")


class ReadmePropertiesTest(unittest.TestCase):
    """The README's property table is `karpacz -p`'s output: every row printed is in it."""

    def test_readme_lists_every_property(self):
        res = run("-p")
        self.assertEqual(res.returncode, 0)
        rows = [l for l in res.stdout.decode().splitlines() if l.startswith("| `")]
        self.assertGreater(len(rows), 80)
        readme_path = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
        with open(readme_path, encoding="utf-8") as f:
            readme = f.read()
        missing = [r for r in rows if r not in readme]
        self.assertEqual(missing, [], "README.md is out of date: regenerate it with karpacz -p")

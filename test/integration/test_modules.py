"""Modules loaded at run time (issue 4): the example module on /hello, module order and the
reverse order of response hooks, a module that suspends and resumes (timer and another thread)
under 200 concurrent requests, statuses from modules, CONNECT and Upgrade hooks, the request
timeout of a suspended request, each kind of broken library refused with its message, and
module properties validated with their line.
"""

import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from kzharness import KzTestCase, base_global, binary, curl, to_yaml, wait_for, write_file


def modules_dir():
    return os.path.join(os.path.dirname(binary()), "modules")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run(*args):
    return subprocess.run([binary()] + list(args), capture_output=True, timeout=10)


class ExampleModuleTest(KzTestCase):
    @classmethod
    def config(cls, root):
        return {
            "global": base_global(root, loadModules=["example"]),
            "hosts": [
                {
                    "domain": "greet.test",
                    "exampleGreeting": "Czesc!",
                    "locations": [{"path": "/sub", "exampleGreeting": "unused here"}],
                }
            ],
        }

    def test_hello(self):
        resp, body = self.get("/hello")
        self.assertEqual(resp.status, 200)
        self.assertEqual(body, b"Hello World!")
        self.assertEqual(resp.getheader("Content-Type"), "text/plain")
        self.assertEqual(resp.getheader("Content-Length"), "12")

    def test_head_hello(self):
        resp, body = self.get("/hello", method="HEAD")
        self.assertEqual(resp.status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(resp.getheader("Content-Length"), "12")

    def test_other_paths_reach_static_files(self):
        resp, body = self.get("/index.html")
        self.assertEqual((resp.status, body), (200, b"<p>index</p>\n"))
        resp, _ = self.get("/hello/there")
        self.assertEqual(resp.status, 404)

    def test_property_per_host(self):
        res = curl("-H", "Host: greet.test", self.server.url("/hello"))
        self.assertEqual(res.stdout, b"Czesc!")
        res = curl("-H", "Host: other.test", self.server.url("/hello"))
        self.assertEqual(res.stdout, b"Hello World!")


class ModuleOrderTest(unittest.TestCase):
    """The loadModules order decides which module answers; response hooks run in reverse."""

    def serve(self, modules):
        from kzharness import KzServer

        root = tempfile.mkdtemp(prefix="kz-it-mod-")
        self.addCleanup(shutil.rmtree, root, True)
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        server = KzServer(root, {"global": base_global(root, loadModules=modules)}).start()
        self.addCleanup(server.stop)
        return server

    def hooks(self, server, path):
        res = curl("-D", "-", "-o", "/dev/null", server.url(path))
        return re.findall(rb"(?im)^X-Hook: (\S+)\r$", res.stdout)

    def test_first_listed_answers(self):
        for modules, want in ((["kztest", "kzorder"], b"kztest says hello"),
                              (["kzorder", "kztest"], b"kzorder says hello"),
                              (["kzorder", "example"], b"kzorder says hello"),
                              (["example", "kzorder"], b"Hello World!")):
            server = self.serve(modules)
            self.assertEqual(curl(server.url("/hello")).stdout, want, modules)

    def test_response_hooks_in_reverse(self):
        server = self.serve(["kztest", "kzorder"])
        # Both ran (both declined /index.html): kzorder's hook first, then kztest's.
        self.assertEqual(self.hooks(server, "/index.html"), [b"kzorder", b"kztest"])
        # kztest answered /hello: kzorder never ran, so only kztest's hook.
        self.assertEqual(self.hooks(server, "/hello"), [b"kztest"])


class SuspendResumeTest(KzTestCase):
    @classmethod
    def config(cls, root):
        g = base_global(root, loadModules=["kztest"], kztestDelay=200, timeout=1000)
        return {"global": g}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")
        write_file(os.path.join(root, "www", "kztest", "decline-later"), "static after all\n")

    def test_200_concurrent_timer_requests(self):
        def one(i):
            resp, body = self.server.request("GET", "/kztest/sleep?n=%d" % i, timeout=30)
            return resp.status, body

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
            results = list(pool.map(one, range(200)))
        elapsed = time.monotonic() - started
        for i, (status, body) in enumerate(results):
            self.assertEqual(status, 200)
            self.assertEqual(body, b"slept for /kztest/sleep?n=%d" % i)
        # 200 waits of 200 ms on 2 loops would take 20 s if a wait blocked its loop.
        self.assertLess(elapsed, 10.0)

    def test_resume_from_another_thread(self):
        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda i: self.get("/kztest/thread"), range(50)))
        for resp, body in results:
            self.assertEqual((resp.status, body), (200, b"done on another thread"))

    def test_decline_after_waiting_reaches_static_files(self):
        resp, body = self.get("/kztest/decline-later")
        self.assertEqual((resp.status, body), (200, b"static after all\n"))

    def test_keep_alive_and_pipelining_around_a_suspended_request(self):
        conn = self.server.http()
        for path, want in (("/kztest/sleep", b"slept for /kztest/sleep?"),
                           ("/index.html", b"<p>index</p>\n")) * 2:
            conn.request("GET", path)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, want))
        conn.close()
        resp, conn = self.raw(b"GET /kztest/sleep HTTP/1.1\r\nHost: a\r\n\r\n"
                              b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(resp.body, b"slept for /kztest/sleep?")
        self.assertEqual(conn.read_response().body, b"<p>index</p>\n")
        conn.close()

    def test_status_from_a_module_keeps_its_fields(self):
        resp, body = self.get("/kztest/status")
        self.assertEqual(resp.status, 503)
        self.assertEqual(resp.getheader("Retry-After"), "7")
        self.assertIn(b"503 Service Unavailable", body)

    def test_invalid_return_value_is_a_500_and_logged(self):
        resp, _ = self.get("/kztest/bad")
        self.assertEqual(resp.status, 500)
        log = os.path.join(self.root, "error.log")
        self.assertTrue(wait_for(lambda: b"[KZ0203] module 'kztest' returned 42" in
                                 read(log), timeout=5))

    def test_never_answering_request_times_out(self):
        started = time.monotonic()
        resp, body = self.get("/kztest/never")
        self.assertEqual(resp.status, 504)
        self.assertLess(time.monotonic() - started, 3.0)
        self.assert_serving()

    def test_connect_hook(self):
        resp, conn = self.raw(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        self.assertEqual(resp.status, 403)
        conn.close()
        log = os.path.join(self.root, "error.log")
        self.assertTrue(wait_for(lambda: b"[KZ1900] kztest saw CONNECT example.com:443" in
                                 read(log), timeout=5))

    def test_upgrade_hook(self):
        res = curl("-H", "Connection: upgrade", "-H", "Upgrade: kztest",
                   self.server.url("/anything"))
        self.assertEqual(res.stdout, b"upgrade hook saw kztest")
        # An upgrade no module takes is a plain request.
        res = curl("-H", "Connection: upgrade", "-H", "Upgrade: h2c",
                   self.server.url("/index.html"))
        self.assertEqual(res.stdout, b"<p>index</p>\n")


class NoConnectModuleTest(KzTestCase):
    def test_connect_without_a_module_is_501(self):
        resp, conn = self.raw(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        self.assertEqual(resp.status, 501)
        conn.close()


class BrokenModuleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kz-it-broken-")
        os.mkdir(os.path.join(self.dir, "www"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, global_extra, name="k.yaml"):
        g = {"port": "127.0.0.1:0", "wwwroot": "www"}
        g.update(global_extra)
        path = os.path.join(self.dir, name)
        write_file(path, to_yaml({"global": g}))
        return path

    def test_each_broken_library_stops_the_start(self):
        rows = (
            ("missing", r"module 'missing': no library mod_missing\.so in "),
            ("nosymbol", r"module 'nosymbol': \S+mod_nosymbol\.so does not export the symbol "
                         r"'kz_module_nosymbol'"),
            ("badmagic", r"module 'badmagic' is not a Karpacz module \(bad magic 0x12345678\)"),
            ("badabi", r"module 'badabi' was built for module ABI 999; this server has ABI 1"),
            ("badname", r"module 'badname' calls itself 'othername'"),
        )
        for name, message in rows:
            path = self.write({"loadModules": ["example", name]})
            want = re.escape(path) + r":\d+:\d+: error: property 'loadModules': " + message
            for args in (("-t", "-c", path), ("-c", path)):
                res = run(*args)
                self.assertEqual(res.returncode, 1, (name, args, res.stderr))
                self.assertRegex(res.stderr.decode(), want, (name, args))

    def test_module_directory_property(self):
        libs = os.path.join(self.dir, "libs")
        os.mkdir(libs)
        shutil.copy(os.path.join(modules_dir(), "mod_example.so"), libs)
        path = self.write({"loadModules": ["example"], "moduleDirectory": "libs"})
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 0, res.stderr)
        path = self.write({"loadModules": ["kztest"], "moduleDirectory": "libs"})
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        self.assertIn("no library mod_kztest.so in %s" % libs, res.stderr.decode())

    def test_module_property_validated_with_its_line(self):
        path = os.path.join(self.dir, "p.yaml")
        write_file(path, "global:\n  port: 0\n  wwwroot: www\n  loadModules: [example, kztest]\n"
                         "hosts:\n  - domain: a.test\n    kztestDelay: 99999\n"
                         "  - domain: b.test\n    exampleGreeting: ''\n")
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        err = res.stderr.decode()
        self.assertRegex(err, re.escape(path) + r":7:18: error: property 'kztestDelay': ")
        self.assertIn(path + ":9:22: error: property 'exampleGreeting': must not be empty", err)

    def test_property_of_a_module_not_loaded_is_reported(self):
        path = os.path.join(self.dir, "q.yaml")
        write_file(path, "global:\n  port: 0\n  wwwroot: www\n  exampleGreeting: hi\n"
                         "  proxyTo: http://127.0.0.1:1/\n")
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 0, res.stderr)
        err = res.stderr.decode()
        self.assertIn(path + ":4:3: warning: property 'exampleGreeting': unknown property", err)
        self.assertIn(path + ":5:3: warning: property 'proxyTo': not supported by this build yet",
                      err)

    def test_invalid_module_name(self):
        path = self.write({"loadModules": ["../evil"]})
        res = run("-t", "-c", path)
        self.assertEqual(res.returncode, 1)
        self.assertIn("invalid module name '../evil'", res.stderr.decode())


class ReloadDropsModuleTest(KzTestCase):
    """A module dropped from loadModules on reload: its property is reported, not ignored."""

    @classmethod
    def config(cls, root):
        return {"global": base_global(root, loadModules=["example"])}

    def test_reload_without_the_module(self):
        self.assertEqual(curl(self.server.url("/hello")).stdout, b"Hello World!")
        g = base_global(self.root, exampleGreeting="still here")
        self.server.write_config({"global": g})
        self.server.send_signal(signal.SIGHUP)
        log = os.path.join(self.root, "error.log")
        self.assertTrue(wait_for(lambda: b"reloaded" in read(log), timeout=5))
        text = read(log)
        self.assertIn(b"property 'exampleGreeting': belongs to module 'example', which "
                      b"loadModules does not list; ignored", text)
        self.assertTrue(wait_for(lambda: curl(self.server.url("/hello")).stdout.startswith(
            b"<!DOCTYPE html>"), timeout=5))


if __name__ == "__main__":
    unittest.main()

"""Daemon mode (karpacz -d) and the packages (issue 6, Unix half).

Each DaemonTest starts its own `karpacz -d` in a fresh directory: the command returns once the
server answers, the supervisor detaches (its parent becomes PID 1, which reaps it lazily, so
"gone" means no such process or a zombie), and every process is stopped by its pid at the end.
The package tests build a .deb and a .tar.gz from this source tree with CPack in a scratch build
directory, list them, unpack the .deb into a scratch root with `dpkg -x` (no maintainer scripts
run: they would create a system user on this machine) and check the unit with systemd-analyze.
"""

import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from kzharness import (HOST, REPO, SANITIZER_MARKERS, KzServer, base_global, binary, read_file,
                       wait_for, write_file)

DAEMON_START_TIMEOUT = 30
STOP_TIMEOUT = 20.0
LISTEN_RE = re.compile(r"Karpacz listening on (\S+):(\d+)")


# ---- processes through /proc -----------------------------------------------------------------


def proc_status(pid):
    """The fields of /proc/PID/status as a dict, or None when there is no such process."""
    try:
        text = read_file("/proc/%d/status" % pid).decode("utf-8", "replace")
    except OSError:
        return None
    if not text:
        return None  # read_file() reads a missing file as empty
    fields = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


def alive(pid):
    st = proc_status(pid)
    return st is not None and not st.get("State", "").startswith("Z")


def children(pid):
    """Live processes whose parent is pid."""
    found = []
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = read_file(path).decode("utf-8", "replace")
        except OSError:
            continue
        rest = text[text.rfind(")") + 2:].split()
        if len(rest) > 1 and int(rest[1]) == pid:
            child = int(path.split("/")[2])
            if alive(child):
                found.append(child)
    return sorted(found)


def kill_if_alive(pid):
    if alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(port, path="/index.html", timeout=5.0):
    """(status, body) of one GET on a new connection (Connection: close)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def refused(port):
    try:
        socket.create_connection((HOST, port), timeout=1.0).close()
        return False
    except ConnectionRefusedError:
        return True


# ---- one daemon ------------------------------------------------------------------------------


class Daemon(KzServer):
    """`karpacz -d` in directory root; self.pid is the supervisor's, from the pid file. The
    configuration file and the clients are KzServer's; starting and stopping are its own."""

    def __init__(self, root, config):
        super().__init__(root, config)
        self.pid_path = os.path.join(root, "karpacz.pid")
        self.error_path = os.path.join(root, "error.log")
        self.pid = None

    def run(self):
        """Runs `karpacz -d`; returns the CompletedProcess (text)."""
        return subprocess.run([binary(), "-d", "-c", self.config_path], cwd=self.root,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=DAEMON_START_TIMEOUT)

    def start(self):
        res = self.run()
        if res.returncode != 0:
            raise AssertionError("karpacz -d failed (%d): %s%s\nerror.log: %s"
                                 % (res.returncode, res.stdout, res.stderr, self.error_log()))
        self.pid = int(read_file(self.pid_path))
        m = LISTEN_RE.search(self.error_log())
        if not m:
            raise AssertionError("no listener line in error.log: " + self.error_log())
        self.port = int(m.group(2))
        return res

    def error_log(self):
        try:
            return read_file(self.error_path).decode("utf-8", "replace")
        except OSError:
            return ""

    def serving(self):
        """The serving process's pid (one child of the supervisor that is not draining)."""
        kids = children(self.pid)
        return kids[-1] if kids else None

    def wait_serving_other_than(self, old, timeout=5.0):
        def new_one():
            kids = [k for k in children(self.pid) if k != old]
            return kids[-1] if kids else None
        return wait_for(new_one, timeout=timeout)

    def wait_log(self, needle, count=1, timeout=10.0):
        return wait_for(lambda: self.error_log().count(needle) >= count, timeout=timeout)

    def stop(self):
        """SIGTERM to the supervisor, bounded; SIGKILL to whatever is left. True if graceful."""
        if not self.pid or not alive(self.pid):
            return True
        kids = children(self.pid)
        os.kill(self.pid, signal.SIGTERM)
        graceful = bool(wait_for(lambda: not alive(self.pid), timeout=STOP_TIMEOUT))
        for pid in [self.pid] + kids + children(self.pid):
            kill_if_alive(pid)
        return graceful

    def kill_all(self):
        if self.pid and alive(self.pid):
            for pid in children(self.pid) + [self.pid]:
                kill_if_alive(pid)


class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="kz-daemon-")
        os.chmod(self.root, 0o755)  # the user-drop test's serving process reads it as nobody
        write_file(os.path.join(self.root, "www", "index.html"), "<p>daemon</p>\n")
        os.chmod(os.path.join(self.root, "www"), 0o755)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.kill_all()
        logs = "".join(d.error_log() for d in self.daemons)
        shutil.rmtree(self.root, ignore_errors=True)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, logs, "sanitizer report in error.log:\n" + logs[-6000:])

    def config(self, **extra):
        g = base_global(self.root, pidFile="karpacz.pid")
        g.update(extra)
        return {"global": g}

    def daemon(self, root=None, **extra):
        d = Daemon(root or self.root, self.config(**extra))
        self.daemons.append(d)
        return d

    def started(self, **extra):
        d = self.daemon(**extra)
        d.start()
        return d

    def assert_stops(self, d):
        self.assertTrue(d.stop(), "the supervisor did not stop on SIGTERM")
        self.assertFalse(os.path.exists(d.pid_path), "the pid file was not removed")


class TestDaemonLife(DaemonTest):
    def test_start_answers_and_pid_file_names_supervisor(self):
        d = self.daemon()
        res = d.start()
        self.assertEqual(res.returncode, 0)
        self.assertIn("started in the background (supervisor pid %d)" % d.pid, res.stdout)
        self.assertEqual(read_file(d.pid_path), b"%d\n" % d.pid)
        st = proc_status(d.pid)
        self.assertNotEqual(st["PPid"], str(os.getpid()), "the supervisor is not detached")
        self.assertEqual(st["Tgid"], str(d.pid))
        cmdline = read_file("/proc/%d/cmdline" % d.pid).split(b"\0")
        self.assertIn(b"-d", cmdline)
        kids = children(d.pid)
        self.assertEqual(len(kids), 1, "expected one serving process, got %r" % kids)
        self.assertEqual(http_get(d.port), (200, b"<p>daemon</p>\n"))
        # A new session (setsid), not the test's, and the working directory is /.
        self.assertNotEqual(os.getsid(d.pid), os.getsid(0))
        self.assertEqual(os.readlink("/proc/%d/cwd" % d.pid), "/")
        self.assertEqual(os.readlink("/proc/%d/fd/0" % d.pid), "/dev/null")
        self.assertEqual(os.readlink("/proc/%d/fd/2" % d.pid), d.error_path)
        self.assert_stops(d)
        self.assertFalse(alive(kids[0]), "the serving process outlived the supervisor")
        self.assertIn("supervisor: stopped", d.error_log())
        self.assertIn("[KZ0008] stopped", d.error_log())

    def test_stale_pid_file_is_ignored(self):
        dead = subprocess.Popen(["true"])
        dead.wait(timeout=5)
        d = self.daemon()
        write_file(d.pid_path, "%d\n" % dead.pid)
        d.start()
        self.assertNotEqual(d.pid, dead.pid)
        self.assertEqual(read_file(d.pid_path), b"%d\n" % d.pid)
        self.assertEqual(http_get(d.port)[0], 200)
        self.assert_stops(d)

    def test_live_pid_file_is_refused(self):
        first = self.started()
        second_root = os.path.join(self.root, "second")
        os.makedirs(os.path.join(second_root, "www"))
        second = Daemon(second_root, self.config(pidFile=first.pid_path))
        self.daemons.append(second)
        res = second.run()
        self.assertEqual(res.returncode, 1)
        self.assertIn("karpacz: pid file %s names the running process %d" % (first.pid_path,
                                                                             first.pid), res.stderr)
        self.assertEqual(read_file(first.pid_path), b"%d\n" % first.pid)
        self.assertEqual(http_get(first.port)[0], 200)
        self.assert_stops(first)

    def test_failed_start_reports_and_leaves_no_pid_file(self):
        d = self.daemon(user="kz-no-such-user")
        if os.geteuid() != 0:
            self.skipTest("needs root to switch users")
        res = d.run()
        self.assertEqual(res.returncode, 1)
        self.assertIn("the server did not start", res.stderr)
        self.assertFalse(os.path.exists(d.pid_path))
        self.assertIn("user 'kz-no-such-user' does not exist", d.error_log())
        self.assertTrue(wait_for(lambda: "supervisor: stopped" in d.error_log(), timeout=10))

    def test_user_drop_to_nobody(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to switch users")
        d = self.started(user="nobody")
        child = d.serving()
        st = proc_status(child)
        self.assertEqual(st["Uid"].split(), ["65534"] * 4)
        self.assertEqual(st["Gid"].split(), ["65534"] * 4)
        self.assertEqual(proc_status(d.pid)["Uid"].split()[0], "0")  # binds new ports on reload
        self.assertEqual(http_get(d.port)[0], 200)
        self.assert_stops(d)


class TestSupervisor(DaemonTest):
    def test_restart_after_kill_9_within_2s(self):
        d = self.started()
        old = d.serving()
        began = time.monotonic()
        os.kill(old, signal.SIGKILL)
        new = d.wait_serving_other_than(old, timeout=5)
        self.assertTrue(new, "no new serving process")
        self.assertTrue(wait_for(lambda: http_get(d.port)[0] == 200, timeout=5))
        took = time.monotonic() - began
        self.assertLess(took, 2.0, "serving again after %.2fs" % took)
        self.assertIn("serving process %d was killed by signal 9" % old, d.error_log())
        self.assert_stops(d)

    def test_backoff_while_it_keeps_dying_at_start(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: the failing start is a user switch that cannot work")
        d = self.started()
        good = read_file(d.config_path)
        d.write_config(self.config(user="kz-no-such-user"))  # the restarts re-read the file
        os.kill(d.serving(), signal.SIGKILL)
        self.assertTrue(d.wait_log("restarting in 500 ms (2 failures in a row)", timeout=10),
                        d.error_log())
        self.assertTrue(d.wait_log("restarting in 1000 ms (3 failures in a row)", timeout=10),
                        d.error_log())
        write_file(d.config_path, good)
        self.assertTrue(wait_for(lambda: d.serving() is not None, timeout=10))
        self.assertTrue(wait_for(lambda: http_get(d.port)[0] == 200, timeout=5))
        self.assertTrue(alive(d.pid))
        self.assert_stops(d)

    def test_bad_configuration_on_hup_keeps_serving(self):
        d = self.started()
        old = d.serving()
        d.write_config("global:\n  port: [unclosed\n")
        os.kill(d.pid, signal.SIGHUP)
        self.assertTrue(d.wait_log("the running configuration stays"), d.error_log())
        self.assertEqual(children(d.pid), [old])
        self.assertEqual(http_get(d.port), (200, b"<p>daemon</p>\n"))
        self.assert_stops(d)

    def test_hup_moves_to_a_new_port(self):
        d = self.started()
        old, old_port = d.serving(), d.port
        new_port = free_port()
        d.write_config(self.config(port="%s:%d" % (HOST, new_port)))
        os.kill(d.pid, signal.SIGHUP)
        self.assertTrue(d.wait_log("loaded by the new serving process"), d.error_log())
        self.assertEqual(http_get(new_port), (200, b"<p>daemon</p>\n"))
        self.assertTrue(wait_for(lambda: not alive(old), timeout=10))
        self.assertTrue(wait_for(lambda: refused(old_port), timeout=5),
                        "the old port still accepts after its last user stopped")
        self.assert_stops(d)

    def test_usr1_reopens_the_logs(self):
        d = self.started()
        os.rename(d.error_path, d.error_path + ".1")
        os.kill(d.pid, signal.SIGUSR1)
        self.assertTrue(wait_for(lambda: os.path.exists(d.error_path), timeout=5))
        os.kill(d.pid, signal.SIGHUP)
        self.assertTrue(d.wait_log("supervisor: reloading"), "the supervisor kept the old file")
        self.assertTrue(d.wait_log("loaded by the new serving process"))
        self.assert_stops(d)


class TestZeroDowntimeReload(DaemonTest):
    def test_wrk_across_three_reloads_has_no_errors(self):
        if not shutil.which("wrk"):
            self.skipTest("wrk is not installed (scripts/install-deps.sh --test)")
        d = self.started(workers=2)
        wrk = subprocess.Popen(["wrk", "-t2", "-c32", "-d6s", "http://%s:%d/index.html"
                                % (HOST, d.port)], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            for i in range(3):
                before = d.serving()
                os.kill(d.pid, signal.SIGHUP)
                self.assertTrue(d.wait_log("loaded by the new serving process", count=i + 1),
                                d.error_log())
                self.assertNotEqual(d.wait_serving_other_than(before), before)
                time.sleep(1.2)
            out, _ = wrk.communicate(timeout=30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait(timeout=5)
        total = int(re.search(r"(\d+) requests in", out).group(1))
        self.assertGreater(total, 1000, out)
        self.assertNotIn("Socket errors", out, "connections failed across the reloads:\n" + out)
        self.assertNotIn("Non-2xx", out, out)
        self.assertEqual(d.error_log().count("loaded by the new serving process"), 3)
        self.assert_stops(d)

    def test_download_across_reload_is_byte_exact(self):
        size = 20 * 1024 * 1024
        data = os.urandom(size)
        write_file(os.path.join(self.root, "www", "big.bin"), data)
        d = self.started()
        old = d.serving()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # so the sender must wait
        s.settimeout(10)
        s.connect((HOST, d.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        got, hupped, new, began = bytearray(), False, None, time.monotonic()
        deadline = began + 30
        while time.monotonic() < deadline:
            chunk = s.recv(64 * 1024)
            if not chunk:
                break
            got += chunk
            if not hupped and len(got) > 2 * 1024 * 1024:
                os.kill(d.pid, signal.SIGHUP)
                hupped = True
            if hupped and new is None and len(got) > 8 * 1024 * 1024:
                new = d.serving()  # the reload happened while this download ran
                self.assertTrue(alive(old), "the old process quit before its download ended")
            time.sleep(0.008)  # about 7 MB/s: some 3 s for the whole
        s.close()
        head, _, body = bytes(got).partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
        self.assertIn(b"Content-Length: %d" % size, head)
        self.assertEqual(len(body), size)
        self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(data).hexdigest())
        self.assertIsNotNone(new)
        self.assertNotEqual(new, old)
        self.assertTrue(wait_for(lambda: not alive(old), timeout=10))
        self.assert_stops(d)


# ---- packages --------------------------------------------------------------------------------


DEB_FILES = [
    "./usr/sbin/karpacz", "./usr/bin/karpacz-passwd", "./etc/karpacz/karpacz.yaml",
    "./etc/karpacz/mime.types", "./var/www/karpacz/index.html", "./var/log/karpacz/",
    "./usr/lib/karpacz/modules/mod_example.so", "./lib/systemd/system/karpacz.service",
    "./etc/logrotate.d/karpacz",
]


@unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-deb"),
                     "cpack and dpkg-deb are needed (cmake, dpkg)")
class TestPackages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kz-pkg-")
        build = os.path.join(cls.tmp, "build")
        steps = [
            ["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DKZ_TESTS=OFF",
             "-DCMAKE_INSTALL_PREFIX=/usr", "-DCMAKE_INSTALL_LIBDIR=lib"],
            ["cmake", "--build", build, "-j2"],
            ["cpack", "-G", "DEB"],
            ["cpack", "-G", "TGZ"],
        ]
        for cmd in steps:
            res = subprocess.run(cmd, cwd=build if cmd[0] == "cpack" else cls.tmp,
                                 capture_output=True, text=True, timeout=900)
            if res.returncode != 0:
                shutil.rmtree(cls.tmp, ignore_errors=True)
                raise AssertionError("%s failed:\n%s%s" % (" ".join(cmd), res.stdout[-3000:],
                                                            res.stderr[-3000:]))
        cls.deb = glob.glob(os.path.join(build, "karpacz_*_*.deb"))[0]
        cls.tgz = glob.glob(os.path.join(build, "karpacz-*.tar.gz"))[0]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_ok(self, *cmd):
        res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)
        self.assertEqual(res.returncode, 0, "%s: %s" % (" ".join(cmd), res.stderr))
        return res.stdout

    def test_deb_contents(self):
        listing = self.run_ok("dpkg-deb", "-c", self.deb)
        paths = [line.split()[-1] for line in listing.splitlines()]
        for f in DEB_FILES:
            self.assertIn(f, paths)
        # The source tree's sample layout must not leak into the system one.
        self.assertFalse([p for p in paths if p.startswith("./usr/etc")], paths)
        mode = [line.split()[0] for line in listing.splitlines() if line.endswith("/usr/sbin/karpacz")]
        self.assertEqual(mode, ["-rwxr-xr-x"])

    def test_deb_control(self):
        fields = self.run_ok("dpkg-deb", "-f", self.deb, "Package", "Depends", "Section")
        self.assertIn("Package: karpacz", fields)
        for dep in ("adduser", "libapr1", "libaprutil1", "libssl3", "libyaml-0-2", "libargon2-1",
                    "libpcre2-8-0", "libzstd1", "libbrotli1", "zlib1g"):
            self.assertRegex(fields, r"Depends:.*\b%s\b" % re.escape(dep))
        ctl = os.path.join(self.tmp, "control")
        self.run_ok("dpkg-deb", "-e", self.deb, ctl)
        self.assertEqual(read_file(os.path.join(ctl, "conffiles")).decode().split(),
                         ["/etc/karpacz/karpacz.yaml", "/etc/karpacz/mime.types",
                          "/etc/logrotate.d/karpacz"])
        postinst = read_file(os.path.join(ctl, "postinst")).decode()
        self.assertIn("adduser --system --ingroup karpacz", postinst)
        self.assertIn("chown karpacz:adm /var/log/karpacz", postinst)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctl, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            self.run_ok("sh", "-n", path)

    def test_deb_unpacked_into_scratch_root(self):
        root = os.path.join(self.tmp, "root")
        self.run_ok("dpkg", "-x", self.deb, root)
        exe = os.path.join(root, "usr/sbin/karpacz")
        self.assertIn("Karpacz", self.run_ok(exe, "-v"))
        conf = os.path.join(root, "etc/karpacz/karpacz.yaml")
        self.assertIn("is valid", self.run_ok(exe, "-t", "-c", conf))
        text = read_file(conf).decode()
        for line in ("wwwroot: /var/www/karpacz", "pidFile: /run/karpacz/karpacz.pid",
                     "user: karpacz", "errorLogFilePath: /var/log/karpacz/error.log"):
            self.assertIn(line, text)
        self.assertIn(b"Karpacz", read_file(os.path.join(root, "var/www/karpacz/index.html")))
        rotate = read_file(os.path.join(root, "etc/logrotate.d/karpacz")).decode()
        self.assertIn('kill -USR1 "$(cat /run/karpacz/karpacz.pid)"', rotate)

    def test_unit_verifies(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed (package systemd)")
        root = os.path.join(self.tmp, "unitroot")
        self.run_ok("dpkg", "-x", self.deb, root)
        unit = read_file(os.path.join(root, "lib/systemd/system/karpacz.service")).decode()
        for line in ("Type=forking", "ExecStart=/usr/sbin/karpacz -d -c /etc/karpacz/karpacz.yaml",
                     "ExecReload=/bin/kill -HUP $MAINPID", "PIDFile=/run/karpacz/karpacz.pid",
                     "AmbientCapabilities=CAP_NET_BIND_SERVICE", "Restart=on-failure"):
            self.assertIn(line, unit)
        # verify wants the commands to exist: point them at the unpacked binary.
        copy = os.path.join(self.tmp, "karpacz.service")
        write_file(copy, unit.replace("/usr/sbin/karpacz", os.path.join(root, "usr/sbin/karpacz")))
        res = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual((res.returncode, res.stdout + res.stderr), (0, ""))

    def test_tgz_contents(self):
        res = subprocess.run(["tar", "tzf", self.tgz], capture_output=True, text=True, timeout=60)
        names = res.stdout.split()
        top = names[0].split("/")[0]
        for f in ("sbin/karpacz", "bin/karpacz-passwd", "lib/karpacz/modules/mod_example.so",
                  "share/karpacz/installer/karpacz.service",
                  "share/karpacz/installer/karpacz-package.yaml"):
            self.assertIn("%s/%s" % (top, f), names)


if __name__ == "__main__":
    unittest.main()

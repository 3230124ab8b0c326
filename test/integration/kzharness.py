"""Harness for the integration tests: runs the real karpacz binary on 127.0.0.1 and talks to it.

KzServer starts one server (config written from a Python dict, stdout/stderr to files, the
listening port read from the "Karpacz listening on HOST:PORT" line) and stops it by its pid.
RawConn is a socket with a read buffer that parses HTTP/1.1 responses byte-exactly, for requests
no regular client would send. KzTestCase runs one server per test class. Every wait is bounded.

The binary is $KZ_BINARY, else build/karpacz in the repository.
"""

import hashlib
import http.client
import json
import resource
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
IO_TIMEOUT = 5.0
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error", "UndefinedBehavior")
LISTEN_RE = re.compile(r"^Karpacz listening on (\S+):(\d+)\s*$", re.M)


def binary():
    path = os.environ.get("KZ_BINARY") or os.path.join(REPO, "build", "karpacz")
    if not os.access(path, os.X_OK):
        raise RuntimeError("karpacz binary not found: set KZ_BINARY (tried %s)" % path)
    return os.path.abspath(path)


# ---- YAML ----------------------------------------------------------------------------------


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Emits block-style YAML for nested dicts/lists/scalars (enough for our configs)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, _yaml_scalar(k) if ":" in str(k) else k))
                lines.append(to_yaml(v, indent + 2))
            else:
                empty = "{}" if isinstance(v, dict) else "[]" if isinstance(v, list) else None
                lines.append("%s%s: %s" % (pad, k, empty or _yaml_scalar(v)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                sub = to_yaml(item, indent + 2).split("\n")
                lines.append("%s- %s" % (pad, sub[0].lstrip()))
                lines.extend(sub[1:])
            else:
                lines.append("%s- %s" % (pad, _yaml_scalar(item)))
    else:
        lines.append(pad + _yaml_scalar(value))
    return "\n".join(lines)


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def wait_for(predicate, timeout=5.0, interval=0.05):
    """Polls predicate until it returns a true value (returned) or timeout passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- the server process --------------------------------------------------------------------


class KzServer:
    """One karpacz process in directory `root` (config at root/karpacz.yaml)."""

    def __init__(self, root, config, nofile=None):
        self.root = root
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) for the server, or None
        self.config_path = os.path.join(root, "karpacz.yaml")
        self.stdout_path = os.path.join(root, "stdout.txt")
        self.stderr_path = os.path.join(root, "stderr.txt")
        self.proc = None
        self.port = None
        self.write_config(config)

    def write_config(self, config):
        text = config if isinstance(config, str) else to_yaml(config) + "\n"
        write_file(self.config_path, text)

    def start(self):
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [binary(), "-c", self.config_path],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            preexec_fn=self._limit if self.nofile else None,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(read_file(self.stdout_path).decode("utf-8", "replace"))
            if m:
                if m.group(1) != HOST:
                    raise AssertionError("listening on %s, expected %s" % (m.group(1), HOST))
                self.port = int(m.group(2))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        rc = self.proc.poll()
        if rc is None:
            self.kill()
        raise AssertionError(
            "karpacz did not report a listener within %ss (exit %s)\nstdout: %s\nstderr: %s"
            % (START_TIMEOUT, rc, self.stdout(), self.stderr())
        )

    def _limit(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def stdout(self):
        return read_file(self.stdout_path).decode("utf-8", "replace")

    def stderr(self):
        return read_file(self.stderr_path).decode("utf-8", "replace")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """SIGTERM (or sig), then SIGKILL after timeout. Returns (exit code, seconds taken)."""
        if self.proc is None:
            return None, 0.0
        began = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
                self._close_files()
                return "killed after %ss" % timeout, time.monotonic() - began
        self._close_files()
        return self.proc.returncode, time.monotonic() - began

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    def sanitizer_report(self, limit=6000):
        """The first sanitizer report in stderr (from its first line, at most limit chars)."""
        err = self.stderr()
        hits = [err.find(m) for m in SANITIZER_MARKERS if m in err]
        if not hits:
            return None
        start = err.rfind("\n", 0, min(hits)) + 1
        return err[start:start + limit]

    # -- clients --

    def connect(self, timeout=IO_TIMEOUT):
        return RawConn(self.port, timeout)

    def http(self, timeout=IO_TIMEOUT):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=IO_TIMEOUT):
        """One request on a fresh http.client connection; returns (response, body)."""
        conn = self.http(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp, data
        finally:
            conn.close()

    def url(self, path):
        return "http://%s:%d%s" % (HOST, self.port, path)


# ---- raw HTTP ------------------------------------------------------------------------------


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<Response %s %s %r body=%d bytes>" % (
            self.status,
            self.reason,
            self.headers,
            len(self.body),
        )


class NoResponse(Exception):
    """The connection ended (closed or reset) before a complete response head arrived."""


class RawConn:
    """A client socket with a buffer; every operation has a deadline."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Sends everything; returns False if the peer closed or reset the connection first."""
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data.encode("latin-1") if isinstance(data, str) else data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline):
        """Reads more bytes into buf; False at EOF or reset. Raises socket.timeout at deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_until(self, marker, deadline, limit=1 << 20):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (marker, limit))
            if not self._fill(deadline):
                raise NoResponse("connection closed; got %r" % self.buf[:200])
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise AssertionError("closed after %d of %d body bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False, timeout=None):
        """Reads one response (a 1xx interim one too). Raises NoResponse if the connection ends
        before a head, socket.timeout when nothing complete arrives in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = self._take_until(b"\r\n\r\n", deadline)
        lines = raw[:-4].split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise AssertionError("bad header line %r" % line)
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        resp = Response(m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"),
                        headers, b"", raw)
        if head_request or resp.status < 200 or resp.status in (204, 304):
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            resp.body = self._read_chunked(deadline)
        elif cl is not None:
            resp.body = self._take(int(cl), deadline)
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def _read_chunked(self, deadline):
        body = b""
        for _ in range(1 << 20):
            size = int(self._take_until(b"\r\n", deadline)[:-2].split(b";")[0], 16)
            if size == 0:
                while self._take_until(b"\r\n", deadline) != b"\r\n":
                    pass
                return body
            body += self._take(size, deadline)
            self._take(2, deadline)
        raise AssertionError("too many chunks")

    def closed(self, timeout=2.0):
        """True when the peer closes (or resets) within timeout with no further bytes."""
        if self.buf:
            return False
        if self.eof:
            return True
        try:
            return not self._fill(time.monotonic() + timeout)
        except socket.timeout:
            return False


def exchange(port, data, head_request=False, timeout=IO_TIMEOUT):
    """Sends data on a new connection and reads one response; returns (response, conn)."""
    conn = RawConn(port, timeout)
    conn.send(data)
    return conn.read_response(head_request=head_request), conn


def curl(*args, timeout=15):
    """Runs curl (quiet, bounded); returns the CompletedProcess (bytes)."""
    cmd = ["curl", "-sS", "--max-time", "10", "--noproxy", "*"] + list(args)
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def curl_get(server, path, *extra):
    """Returns (status, {lowercased name: value}, body) of one curl request."""
    hfile = os.path.join(server.root, "curl-headers-%s.txt" % uuid.uuid4().hex)
    bfile = os.path.join(server.root, "curl-body-%s.bin" % uuid.uuid4().hex)
    res = curl("-D", hfile, "-o", bfile, "-w", "%{http_code}", *extra, server.url(path))
    if res.returncode != 0:
        raise AssertionError("curl failed: %r" % res.stderr)
    headers = {}
    for line in read_file(hfile).decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = read_file(bfile)
    for f in (hfile, bfile):
        if os.path.exists(f):
            os.unlink(f)
    return int(res.stdout), headers, body


def log_line(read, needle, timeout=3.0):
    """The first line of a log (read() returns its bytes) holding needle, waiting for the flush."""

    def find():
        for line in read().split(b"\n"):
            if needle in line:
                return line
        return None

    return wait_for(find, timeout=timeout)


# ---- test cases ----------------------------------------------------------------------------


def base_global(root, **extra):
    g = {
        "port": "%s:0" % HOST,
        "wwwroot": "www",
        "logFilePath": os.path.join(root, "access.log"),
        "errorLogFilePath": os.path.join(root, "error.log"),
        "workers": 2,
    }
    g.update(extra)
    return g


class KzTestCase(unittest.TestCase):
    """One server per class: override config(root) and populate(root)."""

    server = None
    nofile = None  # a descriptor limit for the server process

    @classmethod
    def config(cls, root):
        return {"global": base_global(root)}

    @classmethod
    def populate(cls, root):
        write_file(os.path.join(root, "www", "index.html"), "<p>index</p>\n")

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="kz-it-")
        try:
            cls.populate(cls.root)
            cls.server = KzServer(cls.root, cls.config(cls.root), cls.nofile).start()
            cls.port = cls.server.port
        except BaseException:
            if cls.server:
                cls.server.kill()
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        server, cls.server = cls.server, None
        if server is None:
            return
        rc, secs = server.stop()
        report = server.sanitizer_report()
        stderr = server.stderr()
        shutil.rmtree(cls.root, ignore_errors=True)
        if report:
            raise AssertionError("sanitizer report in stderr:\n" + report)
        if rc != 0:
            raise AssertionError("karpacz exited with %s after SIGTERM (%.1fs); stderr:\n%s"
                                 % (rc, secs, stderr[-4000:]))

    # -- helpers for tests --

    def raw(self, data, head_request=False, timeout=IO_TIMEOUT):
        return exchange(self.port, data, head_request, timeout)

    def get(self, path, headers=None, method="GET", body=None):
        return self.server.request(method, path, headers, body)

    def assert_serving(self, path="/index.html", expect=None):
        resp, body = self.get(path)
        self.assertEqual(resp.status, 200, "the server no longer serves %s" % path)
        if expect is not None:
            self.assertEqual(body, expect)

    def assert_closed(self, conn, timeout=2.0):
        self.assertTrue(conn.closed(timeout), "the server kept the connection open")

    def assert_error_page(self, resp):
        """The common shape of an error response: HTML page, length, Date, Server."""
        self.assertEqual(resp.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(resp.header("Content-Length"), str(len(resp.body)))
        self.assertIsNotNone(resp.header("Date"))
        self.assertEqual(resp.header("Server"), "Karpacz")
        self.assertIn(str(resp.status).encode(), resp.body)

    def access_log(self):
        return read_file(os.path.join(self.root, "access.log"))

    def error_log(self):
        return read_file(os.path.join(self.root, "error.log"))

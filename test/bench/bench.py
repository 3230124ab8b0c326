#!/usr/bin/env python3
"""Side-by-side static-file benchmark: Karpacz against nginx and h2o.

Each server gets its own generated configuration in a temporary directory and its own
127.0.0.1 port, and serves the same generated files; wrk measures each in turn. A second part
opens many idle keep-alive connections to each server and reports the memory they cost.
This is a measurement, not a test: nothing here asserts on speed.

Environment (all optional):
  BENCH_DURATION     seconds per wrk run (default 10)
  BENCH_WARMUP       seconds of unmeasured wrk before each run (default 1; 0 = none)
  BENCH_THREADS      wrk threads (default 2)
  BENCH_CONNECTIONS  wrk connections (default 64)
  BENCH_ROUNDS       repeat every run this many times, interleaved, and report the median
                     (default 1)
  BENCH_IDLE_CONNS   idle keep-alive connections for the memory test (default 10000; 0 = skip)
  BENCH_IDLE_PEERS   1 = also run the memory test against nginx and h2o (default 1)
  SKIP_KARPACZ, SKIP_NGINX, SKIP_H2O   1 = leave that server out
  KZ_BINARY          the karpacz binary (default build/karpacz)
  NGINX, H2O, WRK    the peer binaries (default /usr/sbin/nginx, /usr/bin/h2o, wrk on PATH)
  BENCH_KEEP         1 = keep the temporary directory (configurations, error logs)
  BENCH_JSON         write the results to this file as JSON
"""

import errno
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKERS = 2

# (row label, file name, extra wrk arguments)
SCENARIOS = [
    ("1 KB", "1k.html", []),
    ("100 KB", "100k.bin", []),
    ("10 MB", "10m.bin", []),
    ("1 KB, Connection: close", "1k.html", ["-H", "Connection: close"]),
    # Compression on, as each server is usually set up: Karpacz keeps the gzip output of a hot
    # file in memory; nginx (gzip on) and h2o (compress: ON) compress every response.
    ("20 KB CSS, gzip", "20k.css", ["-H", "Accept-Encoding: gzip"]),
]
FILES = {"1k.html": 1024, "100k.bin": 100 * 1024, "10m.bin": 10 * 1024 * 1024}


def env_int(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        sys.exit(f"bench: {name} must be an integer, not {value!r}")


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "no", "false")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- files and ports


def make_files(www):
    os.makedirs(www)
    # 1 KB of printable HTML-ish text; the larger files are raw random bytes.
    head = b"<!DOCTYPE html>\n<title>bench</title>\n<p>"
    filler = os.urandom(1024).hex().encode()
    body = head + filler[: 1024 - len(head) - 5] + b"</p>\n"
    assert len(body) == 1024
    with open(os.path.join(www, "1k.html"), "wb") as f:
        f.write(body)
    # 20 KB of CSS-like text: repetitive enough to compress about 5:1, as real stylesheets do.
    rules = []
    for i in range(400):
        rules.append(f".c{i} {{ margin: {i % 7}px; color: #{(i * 2654435761) % 0xFFFFFF:06x}; }}\n")
    css = "".join(rules).encode()[: 20 * 1024]
    with open(os.path.join(www, "20k.css"), "wb") as f:
        f.write(css)
    for name, size in FILES.items():
        if name.endswith(".bin"):
            with open(os.path.join(www, name), "wb") as f:
                f.write(os.urandom(size))


def free_port():
    # Bind-then-close leaves a tiny race with other programs; fine on a bench machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    want = min(want, 1 << 20)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- server configurations


def karpacz_config(tmp, port, www, extra=""):
    path = os.path.join(tmp, "karpacz.yaml")
    with open(path, "w") as f:
        f.write(
            "global:\n"
            f'  port: "127.0.0.1:{port}"\n'
            f"  wwwroot: {json.dumps(www)}\n"
            f"  workers: {WORKERS}\n"
            "  maximumKeepAliveRequests: 0\n" + extra
        )
    return path


def nginx_config(tmp, port, www, nofile):
    path = os.path.join(tmp, "nginx.conf")
    # The temp paths would otherwise default to /var/lib/nginx; -e and pid keep /var/log and
    # /run untouched. As root the workers would drop to nobody, who cannot read the 0700
    # temporary directory, so they stay root like the other servers in this run.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(
        f'    {kind}_temp_path "{tmp}/nginx-{kind}";\n'
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    with open(path, "w") as f:
        f.write(
            f"{user}worker_processes {WORKERS};\n"
            f"worker_rlimit_nofile {nofile};\n"
            "daemon off;\n"
            f'pid "{tmp}/nginx.pid";\n'
            f'error_log "{tmp}/nginx-error.log" warn;\n'
            f"events {{ worker_connections {nofile}; }}\n"
            "http {\n"
            "    types { text/html html; text/css css; application/octet-stream bin; }\n"
            "    gzip on;\n"
            "    gzip_types text/css;\n"
            "    gzip_comp_level 6;\n"
            "    default_type application/octet-stream;\n"
            "    access_log off;\n"
            "    sendfile on;\n"
            "    tcp_nopush on;\n"
            "    keepalive_timeout 120s;\n"
            "    keepalive_requests 100000;\n"
            "    open_file_cache max=1000 inactive=60s;\n"
            f"{temps}"
            f'    server {{\n        listen 127.0.0.1:{port};\n        root "{www}";\n    }}\n'
            "}\n"
        )
    return path


def h2o_config(tmp, port, www, nofile):
    path = os.path.join(tmp, "h2o.conf")
    user = "user: root\n" if os.geteuid() == 0 else ""
    with open(path, "w") as f:
        f.write(
            f"{user}"
            "listen:\n"
            "  host: 127.0.0.1\n"
            f"  port: {port}\n"
            f"num-threads: {WORKERS}\n"
            f"max-connections: {nofile}\n"
            f"pid-file: {json.dumps(tmp + '/h2o.pid')}\n"
            f"error-log: {json.dumps(tmp + '/h2o-error.log')}\n"
            "http1-request-timeout: 120\n"
            "compress: ON\n"
            "hosts:\n"
            '  "default":\n'
            "    paths:\n"
            "      /:\n"
            f"        file.dir: {json.dumps(www)}\n"
        )
    return path


# ---------------------------------------------------------------- process control


class Server:
    """One server process, started in its own session so that it can be stopped as a group."""

    def __init__(self, name, argv, port, tmp):
        self.name, self.argv, self.port = name, argv, port
        self.out_path = os.path.join(tmp, f"{name}.out")
        self.out = None
        self.proc = None

    def start(self):
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path, size, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}")
            try:
                status, length = http_get("127.0.0.1", self.port, path)
                if status == 200 and length == size:
                    return
                raise RuntimeError(f"{self.name}: GET {path} gave {status}, {length} bytes")
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer on port {self.port}")

    def stop(self):
        if self.proc is None:
            return
        pid, self.proc, proc = self.proc.pid, None, self.proc
        if proc.poll() is None:
            try:
                os.kill(pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log(f"bench: {self.name} (pid {pid}) ignored SIGTERM; killing it")
            except ProcessLookupError:
                pass
        # Whatever is left in the process group this harness made for the server (pgid == pid),
        # such as nginx workers whose master died, goes too.
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        self.out.close()


def http_get(host, port, path):
    """One GET on a fresh connection; returns (status, body length)."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else 0), len(body)


def descendants(pid):
    """pid and all its descendants, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kb(pid):
    """VmRSS in KB, summed over the process tree (nginx has a master and workers)."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- wrk


def parse_size(text):
    m = re.match(r"([\d.]+)([KMGT]?)B", text)
    if not m:
        return 0.0
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2)]
    return float(m.group(1)) * scale


def parse_wrk(out):
    result = {"rps": None, "bytes_per_s": 0.0, "non2xx": 0, "socket_errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        result["rps"] = float(m.group(1))
    m = re.search(r"Transfer/sec:\s+(\S+)", out)
    if m:
        result["bytes_per_s"] = parse_size(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        result["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["socket_errors"] = sum(int(x) for x in m.groups())
        result["socket_detail"] = "connect %s, read %s, write %s, timeout %s" % m.groups()
    return result


def run_wrk(wrk, url, seconds, extra, threads, conns):
    # A 10 MB answer to 64 clients can take longer than wrk's default 2 s latency timeout.
    argv = [wrk, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", *extra, url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        return {"rps": None, "error": (done.stderr or done.stdout).strip()[:200]}
    result = parse_wrk(done.stdout)
    result["output"] = done.stdout
    return result


# ---------------------------------------------------------------- idle keep-alive connections


class IdleClient:
    """Opens connections that each make one keep-alive request and then stay open."""

    BATCH = 256

    def __init__(self, port, path):
        self.addr = ("127.0.0.1", port)
        self.request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self.sel = selectors.DefaultSelector()
        self.open = []
        self.failed = 0

    def run(self, count, timeout):
        deadline = time.monotonic() + timeout
        started = pending = 0
        while (started < count or pending) and time.monotonic() < deadline:
            while started < count and pending < self.BATCH:
                started += 1
                pending += self._connect()
            for key, events in self.sel.select(timeout=0.2):
                pending -= self._step(key.fileobj, key.data, events)
        for key in list(self.sel.get_map().values()):
            self._fail(key.fileobj)
        return len(self.open)

    def _connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            self.failed += 1
            s.close()
            return 0
        self.sel.register(s, selectors.EVENT_WRITE, bytearray())
        return 1

    def _fail(self, s):
        self.sel.unregister(s)
        s.close()
        self.failed += 1

    def _step(self, s, buf, events):
        """Advances one connection; returns 1 when it left the pending set."""
        try:
            if events & selectors.EVENT_WRITE:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    self._fail(s)
                    return 1
                s.send(self.request)  # a few dozen bytes always fit a fresh socket buffer
                self.sel.modify(s, selectors.EVENT_READ, buf)
                return 0
            chunk = s.recv(1 << 16)
        except OSError:
            self._fail(s)
            return 1
        if not chunk:
            self._fail(s)
            return 1
        buf += chunk
        if not response_complete(buf):
            return 0
        self.sel.unregister(s)
        self.open.append(s)
        return 1

    def still_open(self):
        """How many connections the server has not closed (no EOF or error pending)."""
        alive = 0
        for s in self.open:
            try:
                data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                alive += 1
                continue
            except OSError:
                continue
            alive += 1 if data else 0  # b"" is EOF: the server closed it
        return alive

    def close(self):
        for s in self.open:
            s.close()
        self.open = []
        self.sel.close()


def response_complete(buf):
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", bytes(buf[:end]), re.IGNORECASE)
    return m is None or len(buf) - end - 4 >= int(m.group(1))


# ---------------------------------------------------------------- the benchmark


class Settings:
    def __init__(self):
        self.duration = env_int("BENCH_DURATION", 10)
        self.warmup = env_int("BENCH_WARMUP", 1)
        self.threads = env_int("BENCH_THREADS", 2)
        self.conns = env_int("BENCH_CONNECTIONS", 64)
        self.rounds = max(1, env_int("BENCH_ROUNDS", 1))
        self.idle = env_int("BENCH_IDLE_CONNS", 10000)
        self.idle_peers = os.environ.get("BENCH_IDLE_PEERS", "1") not in ("0", "no", "false")
        self.keep = env_flag("BENCH_KEEP")
        self.json = os.environ.get("BENCH_JSON", "")
        self.bins = {
            "karpacz": os.environ.get("KZ_BINARY", os.path.join(ROOT, "build", "karpacz")),
            "nginx": os.environ.get("NGINX", "/usr/sbin/nginx"),
            "h2o": os.environ.get("H2O", "/usr/bin/h2o"),
        }
        self.wrk = os.environ.get("WRK", "") or shutil.which("wrk") or ""
        self.servers = [n for n in ("karpacz", "nginx", "h2o") if self._wanted(n)]

    def _wanted(self, name):
        if env_flag(f"SKIP_{name.upper()}"):
            return False
        path = self.bins[name]
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return True
        log(f"bench: {name} not found at {path}; leaving it out (set SKIP_{name.upper()}=1)")
        return False


def make_server(name, settings, tmp, www, nofile, phase):
    home = os.path.join(tmp, f"{name}-{phase}")
    os.makedirs(home)
    port = free_port()
    binary = settings.bins[name]
    if name == "karpacz":
        extra = f"  keepAliveTimeout: 120000\n  maximumConnections: {nofile}\n"
        argv = [binary, "-c", karpacz_config(home, port, www, extra)]
    elif name == "nginx":
        conf = nginx_config(home, port, www, nofile)
        argv = [binary, "-p", home + "/", "-e", os.path.join(home, "nginx-error.log"), "-c", conf]
    else:
        argv = [binary, "-c", h2o_config(home, port, www, nofile)]
    return Server(name, argv, port, home)


def start(server, live):
    live.append(server)
    server.start()
    try:
        server.wait_ready("/1k.html", 1024)
        return True
    except RuntimeError as e:
        log(f"bench: {e}; its output:")
        server.stop()
        with open(server.out_path, "rb") as f:
            log(f.read()[-2000:].decode(errors="replace"))
        return False


def measure(settings, server, label, path, extra):
    """One wrk run (after an unmeasured warm-up) against one server."""
    if server.proc.poll() is not None:
        return {"rps": None, "status": f"exited ({server.proc.returncode})"}
    url = f"http://127.0.0.1:{server.port}/{path}"
    args = (settings.threads, settings.conns)
    if settings.warmup > 0:
        run_wrk(settings.wrk, url, settings.warmup, extra, *args)
    log(f"bench: {label:<24} {server.name:<8} {settings.duration}s ...")
    r = run_wrk(settings.wrk, url, settings.duration, extra, *args)
    if server.proc.poll() is not None:
        log(f"bench: {server.name} exited with status {server.proc.returncode} during the run")
        return {"rps": None, "status": f"exited ({server.proc.returncode})"}
    if r.get("error"):
        log(f"bench: wrk failed: {r['error']}")
    elif r["rps"] is None:
        log(f"bench: could not read wrk's output:\n{r['output']}")
    return r


def throughput(settings, tmp, www, nofile, live):
    servers = [make_server(n, settings, tmp, www, nofile, "rps") for n in settings.servers]
    up = [s for s in servers if start(s, live)]
    results = {}
    for s in servers:
        if s not in up:
            for label, _, _ in SCENARIOS:
                results[(label, s.name)] = {"rps": None, "status": "did not start"}
    runs = {}
    for r in range(settings.rounds):
        # The order rotates every round, so no server always runs first (or last) in a row.
        order = up[r % len(up):] + up[:r % len(up)] if up else up
        for label, path, extra in SCENARIOS:
            for s in order:
                runs.setdefault((label, s.name), []).append(
                    measure(settings, s, label, path, extra))
    for s in servers:
        s.stop()
    for key, rs in runs.items():
        results[key] = median_run(rs)
    return results


def median_run(runs):
    """The run with the median req/s (a failed run wins, so failures show)."""
    for r in runs:
        if r.get("rps") is None:
            return r
    ordered = sorted(runs, key=lambda r: r["rps"])
    pick = dict(ordered[(len(ordered) - 1) // 2])
    pick["all_rps"] = [r["rps"] for r in runs]
    return pick


def idle_memory(name, settings, tmp, www, nofile, live):
    server = make_server(name, settings, tmp, www, nofile, "idle")
    if not start(server, live):
        return {"status": "did not start"}
    for _ in range(20):
        http_get("127.0.0.1", server.port, "/1k.html")
    time.sleep(0.5)
    before = rss_kb(server.proc.pid)
    client = IdleClient(server.port, "/1k.html")
    log(f"bench: opening {settings.idle} idle keep-alive connections to {name} ...")
    opened = client.run(settings.idle, timeout=max(60.0, settings.idle / 100.0))
    time.sleep(1.0)
    rc = server.proc.poll()
    if rc is not None:
        client.close()
        log(f"bench: {name} exited with status {rc} under idle connections")
        server.stop()
        return {"status": f"exited ({rc})"}
    during = rss_kb(server.proc.pid)
    alive = client.still_open()
    client.close()
    time.sleep(1.0)
    after = rss_kb(server.proc.pid)
    server.stop()
    per_conn = (during - before) / opened if opened else None
    return {"before_kb": before, "idle_kb": during, "after_close_kb": after, "opened": opened,
            "failed": client.failed, "still_open": alive, "kb_per_conn": per_conn}


# ---------------------------------------------------------------- report


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = " | ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), "-+-".join("-" * w for w in widths)]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def rps_cell(r):
    if r is None:
        return "-"
    if r.get("rps") is None:
        return r.get("status", "wrk failed")
    return f"{r['rps']:,.0f} [{r['non2xx']}|{r['socket_errors']}]"


def ratio_cell(results, label, names):
    mine = results.get((label, "karpacz"), {}).get("rps")
    peers = [results.get((label, n), {}).get("rps") for n in names if n != "karpacz"]
    peers = [p for p in peers if p]
    if not mine or not peers:
        return "-"
    return f"{mine / max(peers):.2f}x"


def report_throughput(settings, results):
    names = settings.servers
    header = ["file"] + [f"{n} req/s" for n in names] + ["karpacz/best peer"]
    rows = [[label] + [rps_cell(results.get((label, n))) for n in names]
            + [ratio_cell(results, label, names)] for label, _, _ in SCENARIOS]
    rounds = f", median of {settings.rounds} rounds" if settings.rounds > 1 else ""
    print(f"\nThroughput: wrk -t{settings.threads} -c{settings.conns} -d{settings.duration}s, "
          f"{WORKERS} server workers, 127.0.0.1{rounds}")
    print(table(header, rows))
    print("[a|b] = wrk's non-2xx/3xx responses | socket errors (connect+read+write+timeout)")
    mb = [[label] + [mbps_cell(results.get((label, n))) for n in names]
          for label, _, _ in SCENARIOS]
    print("\nTransfer (MB/s, as wrk reports it)")
    print(table(["file"] + [f"{n} MB/s" for n in names], mb))
    for (label, name), r in results.items():
        if r.get("socket_detail") and r["socket_errors"]:
            print(f"  {name}, {label}: socket errors: {r['socket_detail']}")


def mbps_cell(r):
    if not r or r.get("rps") is None:
        return "-"
    return f"{r['bytes_per_s'] / (1 << 20):,.1f}"


def report_memory(settings, memory):
    header = ["server", "RSS before", "RSS with idle conns", "KB/conn", "opened", "failed",
              "still open", "RSS after close"]
    rows = []
    for name, m in memory.items():
        if "status" in m:
            rows.append([name, m["status"], "", "", "", "", "", ""])
            continue
        per = f"{m['kb_per_conn']:.2f}" if m["kb_per_conn"] is not None else "-"
        rows.append([name, f"{m['before_kb']:,} KB", f"{m['idle_kb']:,} KB", per, m["opened"],
                     m["failed"], m["still_open"], f"{m['after_close_kb']:,} KB"])
    print(f"\nMemory: {settings.idle} idle keep-alive connections, one GET /1k.html each "
          "(VmRSS of the server's process tree; kernel socket buffers not included)")
    print(table(header, rows))


def versions(settings):
    out = []
    for name in settings.servers:
        try:
            done = subprocess.run([settings.bins[name], "-v"], capture_output=True, text=True,
                                  timeout=10)
            text = (done.stdout + done.stderr).strip().splitlines()
            out.append(f"{name}: {text[0] if text else '?'}")
        except (OSError, subprocess.TimeoutExpired):
            out.append(f"{name}: ?")
    return out


# ---------------------------------------------------------------- main


class Stop(Exception):
    pass


def on_signal(signum, frame):
    # A second Ctrl-C must not cut the cleanup short.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Stop(f"signal {signum}")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    settings = Settings()
    if not settings.wrk:
        sys.exit("bench: wrk not found (scripts/install-deps.sh --test installs it)")
    if not settings.servers:
        sys.exit("bench: no server to benchmark")
    nofile = raise_nofile()
    if settings.idle + 64 > nofile:
        log(f"bench: RLIMIT_NOFILE is {nofile}; lowering idle connections to {nofile - 64}")
        settings.idle = max(0, nofile - 64)
    return run_guarded(run, settings, nofile, "kz-bench-")


def run_guarded(run_fn, settings, nofile, prefix):
    """Runs run_fn(settings, tmp, nofile, live) in a fresh temporary directory; every server
    added to `live` is stopped at the end, also after Ctrl-C or a signal."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    tmp = tempfile.mkdtemp(prefix=prefix)
    live = []
    try:
        return run_fn(settings, tmp, nofile, live)
    except (KeyboardInterrupt, Stop) as e:
        log(f"bench: interrupted ({e or 'Ctrl-C'}); stopping servers")
        return 130
    finally:
        for s in live:
            s.stop()
        if settings.keep:
            log(f"bench: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(settings, tmp, nofile, live):
    www = os.path.join(tmp, "www")
    make_files(www)
    print("Karpacz static-file benchmark")
    print(f"  {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}, "
          f"RLIMIT_NOFILE {nofile}")
    for line in versions(settings):
        print(f"  {line}")
    results = throughput(settings, tmp, www, nofile, live)
    memory = {}
    if settings.idle > 0:
        names = settings.servers if settings.idle_peers else ["karpacz"]
        for name in [n for n in names if n in settings.servers]:
            memory[name] = idle_memory(name, settings, tmp, www, nofile, live)
    report_throughput(settings, results)
    if memory:
        report_memory(settings, memory)
    if settings.json:
        dump = {"throughput": [{"file": k[0], "server": k[1],
                                **{x: y for x, y in v.items() if x != "output"}}
                               for k, v in results.items()], "memory": memory}
        with open(settings.json, "w") as f:
            json.dump(dump, f, indent=2)
    broken = [v for v in list(results.values()) + list(memory.values()) if "status" in v]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Side-by-side reverse-proxy benchmark (issue 5): Karpacz, nginx and h2o in front of one backend.

The backend is nginx with one worker serving generated files from its own port (1 KB of HTML and
100 KB of random bytes, open_file_cache, sendfile); in front of it, each on its own port:
  Karpacz  proxyTo (the rproxy module), 2 workers
  nginx    proxy_pass to an upstream block with keepalive 64, proxy_http_version 1.1,
           proxy_set_header Connection "", X-Forwarded-For/-Proto/-Host set like Karpacz's
  h2o      proxy.reverse.url (upstream keep-alive is on by default), 2 threads
wrk measures each in turn (wrk -t2 -c64 -d10s by default), rounds interleaved with the order
rotated, and the median run is reported with the ratio of Karpacz to the best peer. The backend
alone is measured too, as the ceiling. This is a measurement, not a test.

Environment (all optional): BENCH_DURATION (10), BENCH_WARMUP (1), BENCH_THREADS (2),
BENCH_CONNECTIONS (64), BENCH_ROUNDS (3), SKIP_KARPACZ / SKIP_NGINX / SKIP_H2O, SKIP_DIRECT
(1 = do not measure the backend alone), KZ_BINARY, NGINX, H2O, WRK, BENCH_KEEP, BENCH_JSON.
"""

import json
import os
import sys

import bench
from bench import Server, env_flag, env_int, free_port, log, run_wrk, table

SCENARIOS = [("1 KB", "1k.html", 1024), ("100 KB", "100k.bin", 100 * 1024)]
FRONTS = ("karpacz", "nginx", "h2o")


class Settings(bench.Settings):
    def __init__(self):
        super().__init__()
        self.rounds = max(1, env_int("BENCH_ROUNDS", 3))
        self.direct = not env_flag("SKIP_DIRECT")
        # The backend is nginx even when nginx is left out as a front.
        self.backend_bin = self.bins["nginx"]


def make_files(www):
    os.makedirs(www)
    head = b"<!DOCTYPE html>\n<title>bench</title>\n<p>"
    filler = os.urandom(1024).hex().encode()
    with open(os.path.join(www, "1k.html"), "wb") as f:
        f.write(head + filler[: 1024 - len(head) - 5] + b"</p>\n")
    with open(os.path.join(www, "100k.bin"), "wb") as f:
        f.write(os.urandom(100 * 1024))


def nginx_common(home, workers, nofile):
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(f'    {k}_temp_path "{home}/t-{k}";\n'
                    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes {workers};\nworker_rlimit_nofile {nofile};\ndaemon off;\n"
            f'pid "{home}/nginx.pid";\nerror_log "{home}/nginx-error.log" warn;\n'
            f"events {{ worker_connections {nofile}; }}\n"
            "http {\n    access_log off;\n    keepalive_timeout 120s;\n"
            "    keepalive_requests 1000000;\n"
            "    types { text/html html; application/octet-stream bin; }\n" + temps)


def backend_config(home, port, www, nofile):
    path = os.path.join(home, "nginx.conf")
    with open(path, "w") as f:
        f.write(nginx_common(home, 1, nofile)
                + "    sendfile on;\n    tcp_nopush on;\n"
                "    open_file_cache max=100 inactive=60s;\n"
                f'    server {{\n        listen 127.0.0.1:{port};\n        root "{www}";\n'
                "    }\n}\n")
    return path


def nginx_proxy_config(home, port, backend_port, nofile):
    path = os.path.join(home, "nginx.conf")
    with open(path, "w") as f:
        f.write(nginx_common(home, bench.WORKERS, nofile)
                + f"    upstream backend {{\n        server 127.0.0.1:{backend_port};\n"
                "        keepalive 64;\n    }\n"
                f"    server {{\n        listen 127.0.0.1:{port};\n"
                "        location / {\n"
                "            proxy_pass http://backend;\n"
                "            proxy_http_version 1.1;\n"
                '            proxy_set_header Connection "";\n'
                "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                "            proxy_set_header X-Forwarded-Proto $scheme;\n"
                "            proxy_set_header X-Forwarded-Host $http_host;\n"
                "        }\n    }\n}\n")
    return path


def h2o_proxy_config(home, port, backend_port, nofile):
    path = os.path.join(home, "h2o.conf")
    user = "user: root\n" if os.geteuid() == 0 else ""
    with open(path, "w") as f:
        f.write(f"{user}listen:\n  host: 127.0.0.1\n  port: {port}\n"
                f"num-threads: {bench.WORKERS}\nmax-connections: {nofile}\n"
                f"pid-file: {json.dumps(home + '/h2o.pid')}\n"
                f"error-log: {json.dumps(home + '/h2o-error.log')}\n"
                "http1-request-timeout: 120\n"
                "proxy.timeout.keepalive: 60000\n"
                'hosts:\n  "default":\n    paths:\n      /:\n'
                f"        proxy.reverse.url: http://127.0.0.1:{backend_port}/\n")
    return path


def karpacz_proxy_config(home, port, backend_port, nofile):
    path = os.path.join(home, "karpacz.yaml")
    with open(path, "w") as f:
        f.write("global:\n"
                f'  port: "127.0.0.1:{port}"\n'
                f"  workers: {bench.WORKERS}\n"
                "  loadModules: [rproxy]\n"
                f'  proxyTo: "http://127.0.0.1:{backend_port}"\n'
                "  proxyKeepaliveConnections: 64\n"
                "  maximumKeepAliveRequests: 0\n"
                "  keepAliveTimeout: 120000\n"
                f"  maximumConnections: {nofile}\n")
    return path


def make_front(name, settings, tmp, backend_port, nofile):
    home = os.path.join(tmp, name)
    os.makedirs(home)
    port = free_port()
    binary = settings.bins[name]
    if name == "karpacz":
        argv = [binary, "-c", karpacz_proxy_config(home, port, backend_port, nofile)]
    elif name == "nginx":
        conf = nginx_proxy_config(home, port, backend_port, nofile)
        argv = [binary, "-p", home + "/", "-e", os.path.join(home, "nginx-error.log"), "-c", conf]
    else:
        argv = [binary, "-c", h2o_proxy_config(home, port, backend_port, nofile)]
    return Server(name, argv, port, home)


def start_backend(settings, tmp, www, nofile, live):
    home = os.path.join(tmp, "backend")
    os.makedirs(home)
    port = free_port()
    conf = backend_config(home, port, www, nofile)
    server = Server("backend", [settings.backend_bin, "-p", home + "/", "-e",
                                os.path.join(home, "nginx-error.log"), "-c", conf], port, home)
    return server if bench.start(server, live) else None


def measure(settings, server, label, path):
    if server.proc.poll() is not None:
        return {"rps": None, "status": f"exited ({server.proc.returncode})"}
    url = f"http://127.0.0.1:{server.port}/{path}"
    args = (settings.threads, settings.conns)
    if settings.warmup > 0:
        run_wrk(settings.wrk, url, settings.warmup, [], *args)
    log(f"bench: {label:<8} {server.name:<8} {settings.duration}s ...")
    r = run_wrk(settings.wrk, url, settings.duration, [], *args)
    if server.proc.poll() is not None:
        return {"rps": None, "status": f"exited ({server.proc.returncode})"}
    if r.get("error"):
        log(f"bench: wrk failed: {r['error']}")
    return r


def run(settings, tmp, nofile, live):
    www = os.path.join(tmp, "www")
    make_files(www)
    print("Karpacz reverse-proxy benchmark")
    print(f"  {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}")
    for line in bench.versions(settings):
        print(f"  {line}")
    backend = start_backend(settings, tmp, www, nofile, live)
    if backend is None:
        log("bench: the backend (nginx) did not start")
        return 1
    fronts = [make_front(n, settings, tmp, backend.port, nofile) for n in settings.servers]
    up = [s for s in fronts if bench.start(s, live)]
    measured = up + ([backend] if settings.direct else [])
    runs = {}
    for r in range(settings.rounds):
        order = measured[r % len(measured):] + measured[:r % len(measured)]
        for label, path, _ in SCENARIOS:
            for s in order:
                runs.setdefault((label, s.name), []).append(measure(settings, s, label, path))
    results = {k: bench.median_run(v) for k, v in runs.items()}
    for s in fronts:
        if s not in up:
            for label, _, _ in SCENARIOS:
                results[(label, s.name)] = {"rps": None, "status": "did not start"}
    report(settings, results)
    if settings.json:
        with open(settings.json, "w") as f:
            json.dump([{"file": k[0], "server": k[1],
                        **{x: y for x, y in v.items() if x != "output"}}
                       for k, v in results.items()], f, indent=2)
    broken = [v for v in results.values() if "status" in v]
    return 1 if broken else 0


def report(settings, results):
    names = list(settings.servers) + (["backend"] if settings.direct else [])
    header = (["body"] + [f"{n} req/s" for n in names if n != "backend"]
              + (["backend alone"] if settings.direct else []) + ["karpacz/best peer"])
    rows = []
    for label, _, _ in SCENARIOS:
        rows.append([label] + [bench.rps_cell(results.get((label, n))) for n in names]
                    + [bench.ratio_cell(results, label, settings.servers)])
    rounds = f", median of {settings.rounds} rounds" if settings.rounds > 1 else ""
    print(f"\nProxy throughput: wrk -t{settings.threads} -c{settings.conns} "
          f"-d{settings.duration}s, {bench.WORKERS} proxy workers, backend nginx with 1 worker, "
          f"127.0.0.1{rounds}")
    print(table(header, rows))
    print("[a|b] = wrk's non-2xx/3xx responses | socket errors (connect+read+write+timeout)")
    for (label, name), r in sorted(results.items()):
        if r.get("all_rps"):
            print(f"  {label:<7} {name:<8} every round: "
                  + ", ".join(f"{x:,.0f}" for x in r["all_rps"]))


def main():
    sys.stdout.reconfigure(line_buffering=True)
    settings = Settings()
    if not settings.wrk:
        sys.exit("bench: wrk not found (scripts/install-deps.sh --test installs it)")
    if not (os.path.isfile(settings.backend_bin) and os.access(settings.backend_bin, os.X_OK)):
        sys.exit(f"bench: the backend needs nginx ({settings.backend_bin})")
    nofile = bench.raise_nofile()
    return bench.run_guarded(run, settings, nofile, "kz-bench-proxy-")


if __name__ == "__main__":
    sys.exit(main())

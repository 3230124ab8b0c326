#!/usr/bin/env bash
# Runs the side-by-side benchmark (test/bench/bench.py): Karpacz, nginx and h2o on 127.0.0.1.
# Builds build/karpacz (Release) first when it is missing, and raises the open-file limit so
# the servers and the idle-connection client can hold 10,000 connections.
#
# Usage: test/bench/run.sh        (environment variables: see test/bench/README.md)
#        test/bench/run.sh proxy  the reverse-proxy benchmark (bench_proxy.py) instead
#   e.g. BENCH_DURATION=2 SKIP_KARPACZ=1 test/bench/run.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

if [ "${SKIP_KARPACZ:-0}" != 1 ] && [ -z "${KZ_BINARY:-}" ]; then
    if [ ! -x build/karpacz ]; then
        echo "bench: building build/karpacz (Release)" >&2
        cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >&2
        cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target karpacz >&2
    fi
    build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' build/CMakeCache.txt 2>/dev/null || true)
    if [ "$build_type" != Release ]; then
        echo "bench: warning: build/ is a '${build_type:-?}' build, not Release" >&2
    fi
    if grep -q '^KZ_SANITIZE:BOOL=ON' build/CMakeCache.txt 2>/dev/null; then
        echo "bench: warning: build/ has sanitizers on; the numbers will mean little" >&2
    fi
fi

# As many descriptors as allowed, up to 65536: 10,000 idle connections plus headroom.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then
    want=65536
else
    want=$hard
fi
ulimit -n "$want" 2>/dev/null || echo "bench: could not raise ulimit -n to $want" >&2

if [ "${1:-}" = proxy ]; then
    shift
    exec python3 test/bench/bench_proxy.py "$@"
fi
exec python3 test/bench/bench.py "$@"

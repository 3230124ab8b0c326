#!/usr/bin/env bash
# The Windows test: builds the libraries (scripts/windows-deps.sh, reused when present),
# cross-compiles the tree with mingw-w64, then under wine (a scratch WINEPREFIX, no display):
# the CUnit unit tests, the server answering a Linux curl on 127.0.0.1, /hello from
# mod_example.dll, the service installed, started, answering, stopped and uninstalled, and the
# NSIS installer run silently, checked, then its uninstaller. Every step prints PASS or FAIL
# with what it checked; the exit status is non-zero when anything failed.
#
# Usage: scripts/test-windows.sh     (env: KZ_WIN_PREFIX as for windows-deps.sh; KZ_WIN_BUILD,
#        the build directory, default /tmp/kz-win-build; KZ_WIN_KEEP=1 keeps the scratch dir)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export KZ_WIN_PREFIX=${KZ_WIN_PREFIX:-$HOME/.cache/karpacz/win64}
BUILD=${KZ_WIN_BUILD:-/tmp/kz-win-build}
SCRATCH=$(mktemp -d /tmp/kz-wintest.XXXXXX)
export WINEPREFIX=$SCRATCH/wine WINEDEBUG=-all WINEARCH=win64 DISPLAY= WINEDLLOVERRIDES="mscoree,mshtml="
PASSED=0
FAILED=0
PIDS=()
FG_PID=
START=$(date +%s)

pass() {
    echo "PASS: $*"
    PASSED=$((PASSED + 1))
}
fail() {
    echo "FAIL: $*"
    FAILED=$((FAILED + 1))
}
# check DESCRIPTION COMMAND...: PASS when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    # Only this test's wine prefix: its server and services go with it.
    [ -d "$WINEPREFIX" ] && wineserver -k 2>/dev/null
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    if [ "${KZ_WIN_KEEP:-0}" = 1 ]; then
        echo "scratch directory kept: $SCRATCH"
    else
        rm -rf "$SCRATCH"
    fi
}
trap cleanup EXIT

finish() {
    echo "windows test: $(($(date +%s) - START)) s"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
    exit $?
}

# A TCP port nothing listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The Windows form of a Linux path (wine maps / to drive Z:).
winpath() { echo "Z:${1//\//\\}"; }

# wait_http URL PATTERN SECONDS: true once URL answers with a body matching PATTERN.
wait_http() {
    local deadline=$(($(date +%s) + $3))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if curl -fsS --max-time 2 "$1" 2>/dev/null | grep -q "$2"; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# refused URL: true when nothing answers at URL (connection refused).
refused() { ! curl -sS --max-time 2 -o /dev/null "$1" 2>/dev/null; }

# wait_until SECONDS COMMAND...: polls the command every half second.
wait_until() {
    local deadline=$(($(date +%s) + $1))
    shift
    while [ "$(date +%s)" -lt "$deadline" ]; do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

state_is() { [ "$(service_state)" = "$1" ]; }

# expect_state STATE DESCRIPTION: PASS when `sc query` shows STATE (polled up to 10 s).
expect_state() {
    local got
    wait_until 10 state_is "$1"
    got=$(service_state)
    check "$2 (sc query Karpacz: $got)" [ "$got" = "$1" ]
}

# service_state: the state `sc query Karpacz` reports (RUNNING, STOPPED...), or "none".
service_state() {
    local out
    out=$(wine sc query Karpacz 2>/dev/null | tr -d '\r')
    if echo "$out" | grep -q 'STATE'; then
        echo "$out" | awk '/STATE/ {print $4}'
    else
        echo none
    fi
}

step_build() {
    local t0=$(date +%s)
    if ! "$ROOT/scripts/windows-deps.sh"; then
        fail "dependencies: scripts/windows-deps.sh built the libraries into $KZ_WIN_PREFIX"
        finish
    fi
    pass "dependencies in $KZ_WIN_PREFIX ($(($(date +%s) - t0)) s)"
    t0=$(date +%s)
    # A build directory configured from another checkout cannot be reused.
    if [ -f "$BUILD/CMakeCache.txt" ] &&
        ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT" "$BUILD/CMakeCache.txt"; then
        rm -rf "$BUILD"
    fi
    if cmake -S "$ROOT" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw64.cmake" \
        -DKZ_WIN_PREFIX="$KZ_WIN_PREFIX" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$SCRATCH/cmake.log" 2>&1 &&
        cmake --build "$BUILD" -j"$(nproc)" >>"$SCRATCH/cmake.log" 2>&1; then
        pass "cross-build: karpacz.exe, kz_unit.exe, modules/mod_example.dll ($(($(date +%s) - t0)) s)"
    else
        tail -30 "$SCRATCH/cmake.log"
        fail "cross-build with mingw-w64 (log above)"
        finish
    fi
    for f in karpacz.exe karpacz-passwd.exe karpacz-core.dll kz_unit.exe modules/mod_example.dll; do
        [ -f "$BUILD/$f" ] || fail "built file $f is missing"
    done
}

step_unit() {
    local log=$SCRATCH/unit.log
    wine "$BUILD/kz_unit.exe" >"$log" 2>&1
    local rc=$?
    tr -d '\r' <"$log" | sed -n '/Run Summary/,$p'
    cat "$BUILD/kz_unit_skipped.txt" 2>/dev/null
    if [ "$rc" = 0 ] && grep -q 'asserts' "$log"; then
        pass "unit tests under wine: kz_unit.exe exit 0, $(tr -d '\r' <"$log" | awk '/^ +tests/ {print $3 " tests, " $5 " failed"}')"
    else
        tr -d '\r' <"$log" | grep -B2 -A4 -E 'FAILED|Test: .*\.\.\.FAILED' | head -60
        fail "unit tests under wine: kz_unit.exe exit $rc (failures above)"
    fi
}

# A configuration and web root in DIR, listening on PORT; extra global lines follow.
write_site() {
    local dir=$1 port=$2 marker=$3
    shift 3
    mkdir -p "$dir/www"
    echo "<p>$marker</p>" >"$dir/www/index.html"
    {
        echo "global:"
        echo "  port: 127.0.0.1:$port"
        echo "  wwwroot: www"
        echo "  workers: 2"
        echo "  errorLogFilePath: error.log"
        for line in "$@"; do echo "  $line"; done
    } >"$dir/karpacz.yaml"
}

step_server() {
    local port url
    port=$(free_port)
    url=http://127.0.0.1:$port
    write_site "$SCRATCH/fg" "$port" "karpacz-foreground" "loadModules: [example]"
    # Wine shows Linux symbolic links to Windows programs as links: one leaving the root.
    echo "secret-outside" >"$SCRATCH/outside.txt"
    ln -s "$SCRATCH/outside.txt" "$SCRATCH/fg/www/out.txt"
    ln -s index.html "$SCRATCH/fg/www/in.html"
    head -c 5000000 /dev/urandom >"$SCRATCH/fg/www/big.bin"
    (cd "$SCRATCH/fg" && exec wine "$BUILD/karpacz.exe" -c karpacz.yaml >"$SCRATCH/fg/stdout.log" 2>&1) &
    FG_PID=$!
    PIDS+=("$FG_PID")
    if wait_http "$url/" karpacz-foreground 60; then
        pass "server under wine answers curl on $url/ with the index page"
    else
        cat "$SCRATCH/fg/stdout.log" "$SCRATCH/fg/error.log" 2>/dev/null | tail -20
        fail "server under wine answers curl on $url/ (log above)"
        return
    fi
    local hello
    hello=$(curl -sS --max-time 5 "$url/hello")
    check "GET /hello answered by mod_example.dll: '$hello'" [ "$hello" = "Hello World!" ]
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/nul.txt")
    check "GET /nul.txt (a Windows device name) is 404, got $code" [ "$code" = 404 ]
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/out.txt")
    check "GET /out.txt (a link leaving the web root) is refused: 403, got $code" [ "$code" = 403 ]
    check "GET /in.html (a link inside the web root) is served" \
        eval 'curl -fsS --max-time 5 "$url/in.html" | grep -q karpacz-foreground'
    local want got
    want=$(sha256sum <"$SCRATCH/fg/www/big.bin" | cut -c1-16)
    got=$(curl -fsS --max-time 60 "$url/big.bin" | sha256sum | cut -c1-16)
    check "GET /big.bin (5 MB) arrives byte-exact: sha256 $got, file $want" [ "$got" = "$want" ]
    want=$(tail -c +1000001 "$SCRATCH/fg/www/big.bin" | head -c 2000000 | sha256sum | cut -c1-16)
    got=$(curl -fsS --max-time 60 -r 1000000-2999999 "$url/big.bin" | sha256sum | cut -c1-16)
    check "GET /big.bin bytes 1000000-2999999 arrive byte-exact: sha256 $got, file $want" \
        [ "$got" = "$want" ]
}

# Needs a wine process alive meanwhile (the foreground server): wine stops every service when
# the last ordinary wine process exits.
step_service() {
    local port url out
    port=$(free_port)
    url=http://127.0.0.1:$port
    write_site "$SCRATCH/svc" "$port" "karpacz-service"
    out=$(wine "$BUILD/karpacz.exe" -k install -c "$(winpath "$SCRATCH/svc/karpacz.yaml")" 2>&1 | tr -d '\r')
    echo "  $out"
    expect_state STOPPED "karpacz -k install registers the service"
    out=$(wine "$BUILD/karpacz.exe" -k start 2>&1 | tr -d '\r')
    echo "  $out"
    expect_state RUNNING "karpacz -k start starts it"
    if wait_http "$url/" karpacz-service 30; then
        pass "the service answers curl on $url/"
    else
        tail -20 "$SCRATCH/svc/error.log" 2>/dev/null
        fail "the service answers curl on $url/"
    fi
    out=$(wine "$BUILD/karpacz.exe" -k stop 2>&1 | tr -d '\r')
    echo "  $out"
    expect_state STOPPED "karpacz -k stop stops it"
    check "the stopped service no longer answers on $url/" wait_until 10 refused "$url/"
    check "the service logged its graceful stop (error.log: stopped)" grep -q stopped "$SCRATCH/svc/error.log"
    out=$(wine "$BUILD/karpacz.exe" -k uninstall 2>&1 | tr -d '\r')
    echo "  $out"
    expect_state none "karpacz -k uninstall removes it"
}

# Wine turns SIGINT into the console's CTRL_C_EVENT: the foreground server stops gracefully.
step_ctrl_c() {
    local rc
    [ -n "${FG_PID:-}" ] || return
    kill -INT "$FG_PID"
    if wait_until 20 eval '! kill -0 "$FG_PID" 2>/dev/null'; then
        wait "$FG_PID"
        rc=$?
        check "Ctrl+C stops the foreground server (exit $rc, error.log: stopping, stopped)" \
            eval '[ "$rc" = 0 ] && grep -q stopped "$SCRATCH/fg/error.log"'
    else
        fail "Ctrl+C stops the foreground server within 20 s"
    fi
}

installed_gone() {
    [ ! -e "$1/karpacz.exe" ] && [ "$(service_state)" = none ]
}

step_installer() {
    local installer dir="$WINEPREFIX/drive_c/Program Files/Karpacz" port_free=1
    if ! (cd "$BUILD" && cpack -G NSIS >"$SCRATCH/cpack.log" 2>&1); then
        tail -20 "$SCRATCH/cpack.log"
        fail "cpack -G NSIS builds the installer (log above)"
        return
    fi
    installer=$(ls "$BUILD"/karpacz-*-win64.exe 2>/dev/null | head -n1)
    check "cpack -G NSIS built $(basename "${installer:-none}")" [ -n "$installer" ]
    [ -n "$installer" ] || return
    refused http://127.0.0.1:8080/ || port_free=0
    wine "$installer" /S
    local missing=0
    for f in karpacz.exe karpacz-passwd.exe karpacz-core.dll libapr-1.dll modules/mod_example.dll \
        karpacz.yaml www/index.html Uninstall.exe; do
        [ -f "$dir/$f" ] || {
            echo "  missing: $dir/$f"
            missing=1
        }
    done
    check "installer /S put karpacz.exe, the DLLs, modules\\mod_example.dll, karpacz.yaml, www\\ in Program Files\\Karpacz" [ "$missing" = 0 ]
    expect_state RUNNING "the installer registered and started the service"
    if [ "$port_free" = 1 ]; then
        check "installed service answers curl on http://127.0.0.1:8080/ (the default configuration)" \
            wait_http http://127.0.0.1:8080/ '[Kk]arpacz' 30
    else
        echo "SKIP: port 8080 (the default configuration's) is taken on this machine: no curl of the installed service"
    fi
    wine "$dir/Uninstall.exe" /S
    # The uninstaller copies itself elsewhere and returns at once: poll for its end.
    check "uninstaller /S removed the files and the service" wait_until 90 installed_gone "$dir"
    if [ "$port_free" = 1 ]; then
        check "nothing answers on 8080 after the uninstall" refused http://127.0.0.1:8080/
    fi
}

main() {
    step_build
    # Let the prefix's first-time setup finish (and its registry reach the disk) before any
    # service is registered: a still-running setup would write over it.
    wineboot --init >/dev/null 2>&1
    wineserver -w
    check "wine prefix ready ($WINEPREFIX)" [ -f "$WINEPREFIX/system.reg" ]
    step_unit
    step_server
    step_service
    step_installer
    step_ctrl_c
    finish
}

main

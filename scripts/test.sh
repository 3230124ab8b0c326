#!/usr/bin/env bash
# The full check CI runs: installs what is missing, checks C formatting, then builds two trees
# and runs the unit and integration tests in each:
#   build/       Release, as shipped
#   build-asan/  Debug with AddressSanitizer + UndefinedBehaviorSanitizer (-DKZ_SANITIZE=ON)
# Every step runs even after an earlier one failed, so the summary is complete. The last line
# is "N passed, N failed" (one count per step); the exit status is non-zero if any step failed.
#
# Then the Windows side: scripts/test-windows.sh cross-builds with mingw-w64 and runs the tests
# under wine.
#
# Usage: scripts/test.sh [--no-deps] [--no-asan] [--no-windows]
#   --no-deps     do not run scripts/install-deps.sh --test
#   --no-asan     skip the sanitizer tree (quicker local runs; CI runs everything)
#   --no-windows  skip the Windows cross-build and wine tests
# Environment: JOBS (parallel build jobs, default: number of cores); BUILD_TIMEOUT,
# UNIT_TIMEOUT, INTEGRATION_TIMEOUT, WINDOWS_TIMEOUT (seconds per step, defaults 900, 300, 900,
# 1800).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

with_deps=1
with_asan=1
with_windows=1
for arg in "$@"; do
    case "$arg" in
        --no-deps) with_deps=0 ;;
        --no-asan) with_asan=0 ;;
        --no-windows) with_windows=0 ;;
        -h | --help)
            sed -n '2,/^set /{/^#/p}' "$root/scripts/test.sh" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "test.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

# Ctrl-C (or TERM) stops the whole run, not only the step in progress: steps run in the
# background so that `wait` returns at once and the trap can stop the step by its pid.
step_pid=
interrupted() {
    echo "test.sh: interrupted" >&2
    if [ -n "$step_pid" ]; then
        kill -TERM "$step_pid" 2>/dev/null || true
        wait "$step_pid" 2>/dev/null || true
    fi
    exit 130
}
trap interrupted INT TERM

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# Upper bounds per step (seconds), so a hung test cannot stall CI. A normal run takes about
# 5 minutes, plus about 13 the first time the Windows libraries are built.
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
INTEGRATION_TIMEOUT=${INTEGRATION_TIMEOUT:-900}
# The first Windows run builds OpenSSL, APR and the rest for mingw (~11 min on 2 cores).
WINDOWS_TIMEOUT=${WINDOWS_TIMEOUT:-1800}

passed=0
failed=0
results=()

# run_step NAME COMMAND...: runs one step, records PASS or FAIL and never stops the script.
run_step() {
    local name=$1 start rc
    shift
    printf '\n===== %s =====\n' "$name"
    start=$(date +%s)
    rc=0
    "$@" || rc=$?
    local secs=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        results+=("PASS  $name (${secs}s)")
    else
        failed=$((failed + 1))
        local why="exit $rc"
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            why="timed out"
        fi
        results+=("FAIL  $name ($why, ${secs}s)")
    fi
    printf '===== %s: %s =====\n' "$name" "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED ($rc)")"
    return 0
}

# not_run NAME WHY: a step that could not run because an earlier one failed counts as failed.
not_run() {
    failed=$((failed + 1))
    results+=("FAIL  $1 (not run: $2)")
}

skip() {
    results+=("SKIP  $1 ($2)")
}

# bounded SECONDS COMMAND...: runs COMMAND with a time limit (timeout passes TERM on to it).
bounded() {
    local secs=$1 rc=0
    shift
    timeout --kill-after=30 "$secs" "$@" &
    step_pid=$!
    wait "$step_pid" || rc=$?
    step_pid=
    return "$rc"
}

check_format() {
    local files=() f bad=0
    while IFS= read -r -d '' f; do
        files+=("$f")
    done < <(find runtime unix win32 server modules test -type f \( -name '*.c' -o -name '*.h' \) \
        -print0 2>/dev/null | sort -z)
    echo "clang-format: checking ${#files[@]} files"
    if [ "${#files[@]}" -gt 0 ]; then
        clang-format --dry-run -Werror "${files[@]}" || bad=1
    fi
    return "$bad"
}

build_tree() {
    local dir=$1
    shift
    bounded 300 cmake -S . -B "$dir" "$@" &&
        bounded "$BUILD_TIMEOUT" cmake --build "$dir" -j"$JOBS"
}

# Individual tests, counted from each runner's own summary for the closing line.
tests_passed=0
tests_failed=0
tests_skipped=0
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# CUnit's "tests  TOTAL RAN PASSED FAILED INACTIVE" row.
count_cunit() {
    local row
    row=$(awk '$1 == "tests" && NF >= 5 {print $3, $5}' "$1" | tail -n 1)
    if [ -z "$row" ]; then
        tests_failed=$((tests_failed + 1))
        return
    fi
    set -- $row
    tests_passed=$((tests_passed + $1 - $2))
    tests_failed=$((tests_failed + $2))
}

# unittest's "Ran N tests" and "OK (skipped=S)" / "FAILED (failures=F, errors=E, skipped=S)".
count_unittest() {
    local ran bad skipped
    ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$1" | tail -n 1)
    if [ -z "$ran" ]; then
        tests_failed=$((tests_failed + 1))
        return
    fi
    bad=$(grep -E '^FAILED \(' "$1" | grep -oE '(failures|errors|unexpected successes)=[0-9]+' |
        awk -F= '{s += $2} END {print s + 0}')
    skipped=$(grep -E '^(OK|FAILED) \(' "$1" | grep -oE 'skipped=[0-9]+' | cut -d= -f2 | tail -n 1)
    skipped=${skipped:-0}
    tests_failed=$((tests_failed + bad))
    tests_skipped=$((tests_skipped + skipped))
    tests_passed=$((tests_passed + ran - bad - skipped))
}

run_unit() {
    local log="$logdir/unit-$(basename "$1").log" rc=0
    bounded "$UNIT_TIMEOUT" "$1/kz_unit" >"$log" 2>&1 || rc=$?
    cat "$log"
    count_cunit "$log"
    return "$rc"
}

run_integration() {
    local log="$logdir/integration-$(basename "$1").log" rc=0
    KZ_BINARY="$root/$1/karpacz" bounded "$INTEGRATION_TIMEOUT" \
        python3 -m unittest discover -s test/integration -p 'test_*.py' -v >"$log" 2>&1 || rc=$?
    cat "$log"
    count_unittest "$log"
    return "$rc"
}

have_integration_tests() {
    compgen -G 'test/integration/test_*.py' >/dev/null
}

# test_tree LABEL DIR CMAKE-ARGS...: build one tree, then its unit and integration tests.
test_tree() {
    local label=$1 dir=$2
    shift 2
    run_step "$label: build" build_tree "$dir" "$@"
    if [ ! -x "$dir/karpacz" ] || [ ! -x "$dir/kz_unit" ] ||
        [[ ${results[-1]} == FAIL* ]]; then
        not_run "$label: unit tests" "build failed"
        not_run "$label: integration tests" "build failed"
        return 0
    fi
    run_step "$label: unit tests" run_unit "$dir"
    if have_integration_tests; then
        run_step "$label: integration tests" run_integration "$dir"
    else
        skip "$label: integration tests" "no test/integration/test_*.py yet"
    fi
}

began=$(date +%s)
if [ "$with_deps" = 1 ]; then
    run_step "install dependencies" bounded 1200 bash scripts/install-deps.sh --test
fi
run_step "clang-format" check_format

test_tree "release" build -DCMAKE_BUILD_TYPE=Release

if [ "$with_asan" = 1 ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    test_tree "asan+ubsan" build-asan -DKZ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    unset ASAN_OPTIONS UBSAN_OPTIONS
else
    skip "asan+ubsan" "--no-asan"
fi

# Windows: cross-built with mingw-w64 and tested under wine (scripts/test-windows.sh; the
# library prefix it builds once is reused, so a repeat run takes about a minute).
run_windows() {
    local log="$logdir/windows.log" rc=0 row
    bounded "$WINDOWS_TIMEOUT" bash scripts/test-windows.sh >"$log" 2>&1 || rc=$?
    cat "$log"
    row=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$log" | tail -n 1)
    if [ -z "$row" ]; then
        tests_failed=$((tests_failed + 1))
    else
        set -- $row
        tests_passed=$((tests_passed + $1))
        tests_failed=$((tests_failed + $2))
    fi
    return "$rc"
}
if [ "$with_windows" = 1 ]; then
    run_step "windows: cross-build, unit tests, server, service, installer under wine" run_windows
else
    skip "windows" "--no-windows"
fi

printf '\n===== summary (%ss) =====\n' "$(($(date +%s) - began))"
printf '%s\n' "${results[@]}"
echo "steps: $passed passed, $failed failed"
# The closing line counts individual tests (unit and integration, in both trees); a step that
# failed outside any test (dependencies, formatting, a build) counts as one failed test more.
other_failed=$((failed - $(printf '%s\n' "${results[@]}" | grep -cE '^FAIL .*(unit|integration) tests' || true)))
echo "$tests_passed passed, $((tests_failed + other_failed)) failed, $tests_skipped skipped"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang (ASan + UBSan, UB fatal) and runs them.
# Usage: test/fuzz/run.sh [TARGET|all|build]   (default: all; `build` only builds)
# Each target runs for FUZZ_SECONDS (default 60) on its own corpus under FUZZ_OUT (default
# /tmp/kz-fuzz), seeded with a few valid inputs; crash inputs go to FUZZ_OUT/artifacts.
# The targets link the kzcore library, built with clang in FUZZ_OUT/build (instrumented for
# coverage, not linked with libFuzzer's main). Not part of the test suite: run it by hand.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${FUZZ_OUT:-/tmp/kz-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=(http_parse range accept_encoding conditional ipset passwd ncodes rewrite upstream_http)
sanitize='-fsanitize=address,undefined -fno-sanitize-recover=undefined'

want=${1:-all}
if [[ $want != all && $want != build && ! " ${targets[*]} " =~ " $want " ]]; then
    echo "usage: $0 [all|build|$(IFS='|'; echo "${targets[*]}")]" >&2
    exit 2
fi

mkdir -p "$out"
# The server's code as a static library, instrumented for libFuzzer's coverage.
cmake -S "$root" -B "$out/build" -DCMAKE_C_COMPILER=clang -DKZ_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $sanitize" \
    >"$out/cmake.log"
cmake --build "$out/build" --target kzcore -j"$(nproc)" >"$out/build.log"

pc_libs="apr-util-1 apr-1 openssl yaml-0.1 zlib libbrotlienc libzstd libpcre2-8 libargon2"
build_target() {
    clang -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $sanitize \
        -Wall -Wextra -Werror -Wno-unused-parameter \
        -I"$root/server" -I"$root/server/include" -I"$root/runtime" -I"$root/test/fuzz" \
        $(pkg-config --cflags $pc_libs) "$root/test/fuzz/fuzz_$1.c" \
        "$out/build/libkzcore.a" -o "$out/fuzz_$1" $(pkg-config --libs $pc_libs) -lpthread
}

# A few valid inputs per target (printf formats: the first byte of most is a selector).
seed() {
    local dir="$out/corpus/$1" i=0
    shift
    mkdir -p "$dir"
    for s in "$@"; do
        printf "$s" >"$dir/seed$((i++))"
    done
}
seed_all() {
    seed http_parse 'GET /a%%20b?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
    seed range '\004\020bytes=0-99' '\005\020bytes=0-0,-1, 5-9,10-' '\003\002BYTES=2-,-5' \
        '\360\001\377\377\377\377\377\377\377\377\007bytes=9223372036854775806-'
    seed accept_encoding 'gzip, deflate, br;q=0.9, zstd;q=0.95' '*;q=0, identity;q=0.5' \
        'x-gzip;q=1.000, br;Q=0.001;foo="a\\\\\\"b"' 'text/html; charset=utf-8'
    seed conditional '\000\002"a", W/"b"\n*\nSun, 06 Nov 1994 08:49:37 GMT\nSunday, 06-Nov-94 08:49:37 GMT\nW/"b"\n"a"' \
        '\100\002\n"x"\nSun Nov  6 08:49:37 1994\n\n"a"\n"a"' \
        '\003\004\n\n\nThu, 01 Jan 1970 00:00:01 GMT\nSun, 06 Nov 1994 08:49:37 GMT\nW/"x"'
    seed ipset '10.1.2.3' '::ffff:192.168.1.1' '2001:db8:0:0:1:0:0:1' '[fe80::1%%eth0]' \
        '1.2.3.4/31' '::0.2.0.3' ' 203.0.113.255 , 10.0.0.1'
    seed passwd '$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$9E3rHwNHd0Pl+6xrbuVPiw\nsecret' \
        '$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA\npw' \
        '$pbkdf2-sha512$i=8,l=16$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA\n' '$2b$12$abc'
    seed ncodes '\000Basic YWxpY2U6c2VjcmV0\n/admin\n' '\013Basic Ym9iOng=\n/blog/42/a%%20b\nk=v' \
        '\002basic   YWxpY2U6\n/p/x\n' '\010Bearer x\n/q\nx=1'
    seed rewrite '\002/old/a/b\nx=1\nexample.com:8080' '\000/abc/42\n\nExample.COM' \
        '\003/up/%%2E%%2E//x\nq\n[::1]' '\002/s\nq=%%41\nwww.example.com' \
        '\000/front/x\n\nlocalhost' '\002/z/abc\n\nhttp://x@y'
    seed upstream_http '\000HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: X-A, close\r\nX-A: 1\r\n\r\nhello' \
        '\000HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' \
        '\001HTTP/1.0 304 Not Modified\r\nETag: "x"\r\nConnection: keep-alive\r\n\r\n' \
        '\002HTTP/1.1 200 Connection Established\r\n\r\n' \
        '\010HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' \
        '\024HTTP/1.1 404\r\nContent-Length: 0\r\nX-Name: caf\303\251\t\377\r\n\r\n'
}

run_target() {
    mkdir -p "$out/artifacts"
    local max_len=4096
    [[ $1 == http_parse ]] && max_len=20000
    [[ $1 == upstream_http ]] && max_len=10000
    "$out/fuzz_$1" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
        -artifact_prefix="$out/artifacts/$1-" -print_final_stats=1 "$out/corpus/$1"
}

seed_all
for t in "${targets[@]}"; do
    [[ $want == all || $want == build || $want == "$t" ]] && build_target "$t"
done
[[ $want == build ]] && exit 0
failed=()
for t in "${targets[@]}"; do
    if [[ $want == all || $want == "$t" ]]; then
        echo "== fuzz_$t for ${seconds}s" >&2
        run_target "$t" || failed+=("$t")
    fi
done
if ((${#failed[@]})); then
    echo "failed: ${failed[*]} (inputs in $out/artifacts)" >&2
    exit 1
fi

#!/usr/bin/env bash
# Builds the libFuzzer target for the HTTP parser and URL sanitizer with clang (ASan + UBSan)
# and runs it for FUZZ_SECONDS (default 60). Not part of the test suite: run it by hand.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${FUZZ_OUT:-/tmp/kz-fuzz}
mkdir -p "$out/corpus"
clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$root/server" \
    $(pkg-config --cflags apr-1) "$root/test/fuzz/fuzz_http_parse.c" \
    "$root/server/http_parse.c" "$root/server/url.c" -o "$out/fuzz_http_parse" \
    $(pkg-config --libs apr-1)
printf 'GET /a%%20b?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' \
    > "$out/corpus/seed1"
exec "$out/fuzz_http_parse" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=20000 "$out/corpus"

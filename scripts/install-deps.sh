#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Karpacz needs to build and run; with --test, also the
# peers and tools the tests and benchmarks use. Idempotent: installs only what is missing,
# and runs `apt-get update` only when something is missing.
#
# Usage: scripts/install-deps.sh [--test]
set -euo pipefail

BUILD_PACKAGES=(build-essential cmake pkg-config libapr1-dev libaprutil1-dev libssl-dev
    libyaml-dev zlib1g-dev libbrotli-dev libzstd-dev libpcre2-dev libargon2-dev libcunit1-dev
    curl python3)
TEST_PACKAGES=(nginx-light h2o wrk clang-format brotli zstd chromium python3-websockets systemd dpkg-dev
    openssl)

usage() {
    echo "usage: $0 [--test]" >&2
    echo "  --test  also install the peers, clients and tools the tests use (nginx-light, h2o, wrk," >&2
    echo "          clang-format, brotli, zstd, chromium, python3-websockets, systemd (for" >&2
    echo "          systemd-analyze), dpkg-dev, openssl)" >&2
}

with_test=0
for arg in "$@"; do
    case "$arg" in
        --test) with_test=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage
            exit 2
            ;;
    esac
done

wanted=("${BUILD_PACKAGES[@]}")
if [ "$with_test" = 1 ]; then
    wanted+=("${TEST_PACKAGES[@]}")
fi

is_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: no dpkg here; install these yourself: ${wanted[*]}" >&2
    exit 1
fi

missing=()
for pkg in "${wanted[@]}"; do
    if ! is_installed "$pkg"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#wanted[@]} packages present"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
        exit 1
    fi
fi

# Installing nginx or h2o would start their services on port 80. A policy-rc.d that exits
# 101 tells invoke-rc.d not to start anything; it is removed afterwards only if we made it.
POLICY=/usr/sbin/policy-rc.d
made_policy=0
remove_policy() {
    if [ "$made_policy" = 1 ]; then
        "${SUDO[@]}" rm -f "$POLICY"
        made_policy=0
    fi
}
trap remove_policy EXIT
trap 'exit 130' INT TERM

if [ ! -e "$POLICY" ]; then
    made_policy=1
    printf '#!/bin/sh\n# Temporary, from Karpacz scripts/install-deps.sh\nexit 101\n' |
        "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
echo "install-deps: done"

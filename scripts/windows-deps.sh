#!/usr/bin/env bash
# Builds every library Karpacz needs for 64-bit Windows (x86_64-w64-mingw32) into a prefix, from
# Debian's source packages only: APR, APR-util (+Expat), OpenSSL 3.0, libyaml, zlib, brotli,
# zstd, PCRE2, libargon2 and CUnit. Each library has a stamp (its source tarball, our recipe
# revision and the hash of its patch in win32/patches/), so a repeat run only checks them.
#
# Usage: scripts/windows-deps.sh [--force]   (prefix: $KZ_WIN_PREFIX, default
#        ~/.cache/karpacz/win64; sources and build trees go to $KZ_WIN_PREFIX.work)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${KZ_WIN_PREFIX:-$HOME/.cache/karpacz/win64}
WORK=${KZ_WIN_WORK:-$PREFIX.work}
PATCHES=$ROOT/win32/patches
HOST=x86_64-w64-mingw32
JOBS=$(nproc 2>/dev/null || echo 2)
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

# wine runs the generators some builds compile (APR's gen_test_char) in a private prefix.
export WINEPREFIX=$WORK/wine WINEDEBUG=-all WINEARCH=win64 DISPLAY=
export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig

log() { printf 'windows-deps: %s\n' "$*"; }
die() {
    printf 'windows-deps: error: %s\n' "$*" >&2
    exit 1
}

ensure_tools() {
    local missing=() tool
    local -A need=([x86_64-w64-mingw32-gcc]=gcc-mingw-w64-x86-64
        [x86_64-w64-mingw32-g++]=g++-mingw-w64-x86-64
        [x86_64-w64-mingw32-windres]=binutils-mingw-w64-x86-64 [wine]=wine
        [makensis]=nsis [dpkg-source]=dpkg-dev [cmake]=cmake [make]=make [perl]=perl
        [pkg-config]=pkg-config [curl]=curl)
    for tool in "${!need[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("${need[$tool]}")
    done
    [ -e /usr/x86_64-w64-mingw32/include/windows.h ] || missing+=(mingw-w64-x86-64-dev)
    [ -e /usr/lib/wine/wine64 ] || missing+=(wine64)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages (install them as root): ${missing[*]}"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# apt-get source needs deb-src lines: add a copy of the system's deb822 sources if there are none.
ensure_deb_src() {
    if grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    local src=/etc/apt/sources.list.d/debian.sources
    [ -f "$src" ] || die "no deb-src entry and no $src to copy one from"
    [ "$(id -u)" = 0 ] || die "add a deb-src entry to APT's sources (needs root)"
    log "adding deb-src entries (karpacz-deb-src.sources)"
    sed 's/^Types: deb$/Types: deb-src/' "$src" >/etc/apt/sources.list.d/karpacz-deb-src.sources
    apt-get update -qq
}

# fetch PKG: downloads the source package into $WORK/src (the current release, then the base
# suite when the security mirror lacks a file) and prints the path of its .orig tarball.
fetch() {
    local pkg=$1 codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    mkdir -p "$WORK/src"
    # A source already downloaded is reused: the prefix stays as built until --force.
    if [ "$FORCE" = 0 ] && orig_of "$pkg"; then
        return 0
    fi
    (
        cd "$WORK/src"
        apt-get source --download-only "$pkg" >"$pkg.fetch.log" 2>&1 ||
            apt-get source --download-only "$pkg/$codename" >>"$pkg.fetch.log" 2>&1 || true
    )
    orig_of "$pkg"
}

# orig_of PKG: prints the .orig tarball of the newest downloaded .dsc of PKG that has one.
orig_of() {
    local dsc orig
    for dsc in $(ls -t "$WORK/src/$1"_*.dsc 2>/dev/null); do
        orig=$(awk '/^Files:/{f=1;next} f&&/^ /{print $3} f&&!/^ /{f=0}' "$dsc" |
            grep -E '\.orig\.tar\.[a-z0-9]+$' | head -n1)
        if [ -n "$orig" ] && [ -f "$WORK/src/$orig" ]; then
            echo "$WORK/src/$orig"
            return 0
        fi
    done
    return 1
}

# unpack TARBALL NAME: a fresh tree at $WORK/build/NAME (the tarball's top directory).
unpack() {
    local tarball=$1 name=$2 top
    rm -rf "$WORK/build/$name" "$WORK/build/$name.tmp"
    mkdir -p "$WORK/build/$name.tmp"
    tar xf "$tarball" -C "$WORK/build/$name.tmp"
    top=$(ls "$WORK/build/$name.tmp")
    mv "$WORK/build/$name.tmp/$top" "$WORK/build/$name"
    rmdir "$WORK/build/$name.tmp"
    if [ -f "$PATCHES/$name.patch" ]; then
        patch -d "$WORK/build/$name" -p1 -s <"$PATCHES/$name.patch"
    fi
    echo "$WORK/build/$name"
}

# stamp_id NAME TARBALL REV: what a build of NAME is (source, recipe revision, patch hash);
# is_built NAME ID: true when the stamp of NAME says ID was built (and --force is not given).
stamp_id() {
    local name=$1 tarball=$2 rev=$3 phash=none
    [ -f "$PATCHES/$name.patch" ] && phash=$(sha256sum <"$PATCHES/$name.patch" | cut -c1-16)
    echo "$(basename "$tarball") recipe=$rev patch=$phash"
}
is_built() { [ "$FORCE" = 0 ] && [ "$(cat "$PREFIX/stamps/$1" 2>/dev/null)" = "$2" ]; }
mark_built() {
    mkdir -p "$PREFIX/stamps"
    echo "$2" >"$PREFIX/stamps/$1"
}

cmake_build() {
    local src=$1 bld=$2
    shift 2
    rm -rf "$bld"
    cmake -S "$src" -B "$bld" -G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw64.cmake" \
        -DKZ_WIN_PREFIX="$PREFIX" -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$PREFIX" "$@" >"$bld.log" 2>&1 || die "configure failed: $bld.log"
    cmake --build "$bld" -j"$JOBS" >>"$bld.log" 2>&1 || die "build failed: $bld.log"
    cmake --install "$bld" >>"$bld.log" 2>&1 || die "install failed: $bld.log"
}

# pc NAME VERSION LIBS [CFLAGS]: a pkg-config file for a library, so the tree's CMake finds it.
pc() {
    mkdir -p "$PREFIX/lib/pkgconfig"
    cat >"$PREFIX/lib/pkgconfig/$1.pc" <<EOF
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $1
Description: $1 for $HOST (scripts/windows-deps.sh)
Version: $2
Libs: -L\${libdir} $3
Cflags: -I\${includedir} ${4:-}
EOF
}

# build NAME DEBIAN-PACKAGE RECIPE-REVISION: fetch, skip when stamped, else run build_NAME.
build() {
    local name=$1 pkg=$2 rev=$3 tarball id src start
    tarball=$(fetch "$pkg") || {
        declare -F "fallback_$name" >/dev/null || die "cannot fetch the source of $pkg"
        tarball=$("fallback_$name")
    }
    id=$(stamp_id "$name" "$tarball" "$rev")
    if is_built "$name" "$id"; then
        log "$name: up to date ($id)"
        return 0
    fi
    start=$(date +%s)
    log "$name: building from $(basename "$tarball")"
    src=$(unpack "$tarball" "$name")
    "build_$name" "$src" "$WORK/build/$name-build"
    mark_built "$name" "$id"
    # Installed: the trees go (OpenSSL's is large), the build log stays.
    rm -rf "$src" "$WORK/build/$name-build"
    log "$name: done in $(($(date +%s) - start)) s"
}

# Debian's zlib source lacks win32/ (the DLL's resource file): a static library of our own.
build_zlib() {
    cmake_build "$ROOT/win32/deps/zlib" "$2" -DZLIB_SRC="$1"
    pc zlib 1.2.13 -lz
}

build_expat() {
    cmake_build "$1/expat" "$2" -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_TOOLS=OFF \
        -DEXPAT_BUILD_EXAMPLES=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_SHARED_LIBS=ON
}

build_apr() {
    cmake_build "$1" "$2" -DAPR_INSTALL_PRIVATE_H=OFF -DAPR_BUILD_TESTAPR=OFF
    pc apr-1 1.7.2 "-lapr-1 -lws2_32 -lmswsock -lrpcrt4"
}

build_apr_util() {
    cmake_build "$1" "$2" -DAPR_INCLUDE_DIR="$PREFIX/include" \
        -DAPR_LIBRARIES="$PREFIX/lib/libapr-1.dll.a" -DAPU_HAVE_ODBC=OFF -DAPR_HAS_LDAP=OFF \
        -DAPU_HAVE_CRYPTO=OFF -DAPR_BUILD_TESTAPR=OFF -DEXPAT_INCLUDE_DIR="$PREFIX/include" \
        -DEXPAT_LIBRARY="$PREFIX/lib/libexpat.dll.a"
    pc apr-util-1 1.6.3 -laprutil-1
}

build_openssl() {
    (
        cd "$1"
        ./Configure mingw64 --cross-compile-prefix=$HOST- --prefix="$PREFIX" --libdir=lib \
            no-tests shared >"$2.log" 2>&1 &&
            make -j"$JOBS" >>"$2.log" 2>&1 && make install_sw >>"$2.log" 2>&1
    ) || die "OpenSSL failed to build: $2.log"
}

build_yaml() {
    cmake_build "$1" "$2" -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF
    pc yaml-0.1 0.2.5 -lyaml -DYAML_DECLARE_STATIC
}

build_brotli() {
    cmake_build "$1" "$2" -DBROTLI_DISABLE_TESTS=ON
    pc libbrotlienc 1.0.9 "-lbrotlienc -lbrotlicommon"
}

build_zstd() {
    cmake_build "$1/build/cmake" "$2" -DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_TESTS=OFF \
        -DZSTD_BUILD_STATIC=OFF -DZSTD_BUILD_SHARED=ON -DZSTD_MULTITHREAD_SUPPORT=OFF
    pc libzstd 1.5.4 -lzstd
}

build_pcre2() {
    cmake_build "$1" "$2" -DBUILD_SHARED_LIBS=ON -DPCRE2_BUILD_PCRE2GREP=OFF \
        -DPCRE2_BUILD_TESTS=OFF -DPCRE2_SUPPORT_JIT=OFF
    pc libpcre2-8 10.42 -lpcre2-8
}

# argon2 and CUnit have no CMake build of their own: compile their few sources with ours.
build_argon2() {
    local dir=$1
    [ -d "$dir/lib/crypto_backend/argon2" ] && dir=$dir/lib/crypto_backend/argon2
    [ -d "$dir/src" ] && [ -d "$dir/include" ] && dir=$dir/src
    cmake_build "$ROOT/win32/deps/argon2" "$2" -DARGON2_SRC="$dir"
    pc libargon2 20171227 -largon2
}

# The reference argon2 sources, as cryptsetup's source package bundles them, when the mirror
# has argon2's own tarball missing (Debian ships the same upstream release in both).
fallback_argon2() {
    log "argon2: source tarball unavailable, using the copy bundled in cryptsetup's" >&2
    fetch cryptsetup
}

build_cunit() {
    cmake_build "$ROOT/win32/deps/cunit" "$2" -DCUNIT_SRC="$1/CUnit"
    pc cunit 2.1-3 -lcunit
}

main() {
    local start
    start=$(date +%s)
    ensure_tools
    ensure_deb_src
    mkdir -p "$PREFIX" "$WORK/build"
    build zlib zlib 1
    build expat expat 1
    build apr apr 1
    build apr_util apr-util 1
    build yaml libyaml 1
    build brotli brotli 1
    build zstd libzstd 1
    build pcre2 pcre2 1
    build argon2 argon2 1
    build cunit cunit 1
    build openssl openssl 1
    # The wine prefix that ran APR's generator is large and quick to make again.
    if [ -d "$WINEPREFIX" ]; then
        wineserver -k 2>/dev/null || true
        rm -rf "$WINEPREFIX"
    fi
    log "prefix $PREFIX ready in $(($(date +%s) - start)) s"
}

main "$@"

#!/usr/bin/env bash
# Builds Lua 5.4.4 with musl-gcc as a dynamic executable (target/musl-lua/lua)
# for the fast-libc tests. The source is $LUA_TARBALL if set, else Debian's
# source package (needs a deb-src entry, which .ci/setup adds); its sha256 is
# checked. Nothing is built if the executable is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/target/musl-lua
LUA_SHA256=164c7849653b80ae67bec4b7473b884bf5cc8d2dca05653475ec2ed27b9ebf61
[ -x "$OUT/lua" ] && { echo "musl lua: $OUT/lua is up to date"; exit 0; }
mkdir -p "$OUT"
tarball=$OUT/lua-5.4.4.tar.gz
if [ -n "${LUA_TARBALL:-}" ]; then
    cp "$LUA_TARBALL" "$tarball"
else
    (cd "$OUT" && apt-get source --download-only -qq lua5.4 >/dev/null 2>&1) || true
    cp "$OUT"/lua5.4_5.4.4.orig.tar.gz "$tarball" 2>/dev/null || true
fi
if [ ! -f "$tarball" ] || [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$LUA_SHA256" ]; then
    echo "musl lua: cannot get Lua 5.4.4 (sha256 $LUA_SHA256): set LUA_TARBALL, or add a deb-src entry" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$OUT"
cd "$OUT/lua-5.4.4/src"
musl-gcc -O2 -DLUA_USE_LINUX -o "$OUT/lua" $(ls ./*.c | grep -v '/luac.c$') -lm
echo "musl lua: built $OUT/lua"

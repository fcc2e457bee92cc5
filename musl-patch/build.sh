#!/usr/bin/env bash
# Builds hx's fast libc: musl at a pinned version, its syscall call sites
# rewritten by the semantic patches in coccinelle/, the hand-written patches
# in musl-patch/patches/, installed (libc.so, headers, crt files) into sysroot/.
#
# musl comes from, in order: the tarball named by $MUSL_TARBALL; a copy cached
# by an earlier run; Debian's source package (apt-get source, which needs a
# deb-src entry: .ci/setup adds one); the official download. Its sha256 is
# checked whatever the source. A second run with nothing changed does nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MUSL_VERSION=1.2.3
MUSL_DEBIAN_VERSION=1.2.3-1
MUSL_SHA256=7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4
WORK=${HX_MUSL_WORK:-$ROOT/target/musl}
SYSROOT=${HX_SYSROOT:-$ROOT/sysroot}
TARBALL=$WORK/musl-$MUSL_VERSION.tar.gz
mkdir -p "$WORK"

inputs_hash() {
    cat "$0" "$ROOT"/coccinelle/*.cocci "$ROOT"/musl-patch/patches/*.patch | sha256sum | cut -d' ' -f1
}
stamp=$(inputs_hash)
if [ -f "$SYSROOT/lib/libc.so" ] && [ "$(cat "$SYSROOT/.hx-stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "musl-patch: sysroot/lib/libc.so is up to date"
    exit 0
fi

verify() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$MUSL_SHA256" ]; }

fetch() {
    if [ -n "${MUSL_TARBALL:-}" ]; then
        verify "$MUSL_TARBALL" || { echo "musl-patch: \$MUSL_TARBALL=$MUSL_TARBALL is missing or not musl $MUSL_VERSION (sha256 $MUSL_SHA256)" >&2; exit 1; }
        cp "$MUSL_TARBALL" "$TARBALL"; echo "musl-patch: musl from \$MUSL_TARBALL"; return
    fi
    if verify "$TARBALL"; then echo "musl-patch: musl from the cache ($TARBALL)"; return; fi
    local apt="$WORK/apt"; rm -rf "$apt"; mkdir -p "$apt"
    if (cd "$apt" && apt-get source --download-only -qq "musl=$MUSL_DEBIAN_VERSION" >/dev/null 2>&1) \
        && verify "$apt/musl_$MUSL_VERSION.orig.tar.gz"; then
        cp "$apt/musl_$MUSL_VERSION.orig.tar.gz" "$TARBALL"; echo "musl-patch: musl from Debian's source package"; return
    fi
    if command -v curl >/dev/null && curl -fsSL -o "$TARBALL.part" "https://musl.libc.org/releases/musl-$MUSL_VERSION.tar.gz" \
        && verify "$TARBALL.part"; then
        mv "$TARBALL.part" "$TARBALL"; echo "musl-patch: musl from the official download"; return
    fi
    rm -f "$TARBALL.part"
    cat >&2 <<MSG
musl-patch: cannot obtain musl $MUSL_VERSION (sha256 $MUSL_SHA256). Tried:
  1. \$MUSL_TARBALL (unset): point it at musl-$MUSL_VERSION.tar.gz
  2. apt-get source musl=$MUSL_DEBIAN_VERSION: needs a deb-src entry for Debian bookworm
  3. https://musl.libc.org/releases/musl-$MUSL_VERSION.tar.gz: no network?
MSG
    exit 1
}

fetch
SRC=$WORK/musl-$MUSL_VERSION
rm -rf "$SRC"
tar -xzf "$TARBALL" -C "$WORK"
for p in "$ROOT"/musl-patch/patches/*.patch; do
    patch -d "$SRC" -p1 -s < "$p"
    echo "musl-patch: applied $(basename "$p")"
done

# Each rule family: how many call sites it rewrote (new macro uses in the diff).
# syscall.h itself defines the mechanism: its macros are not call sites.
mv "$SRC/src/internal/syscall.h" "$WORK/syscall.h.keep"
declare -A token=([raw]='__hx_syscall[0-6]?\(' [errno]='__syscall_ret\(__hx_syscall\(' [cancellable]='__hx_syscall_cp\(' [open]='__hx_sys_open(_cp)?\(')
total=0
for rule in raw errno cancellable open; do
    diff=$(cd "$SRC" && for d in src ldso; do
        spatch --sp-file "$ROOT/coccinelle/$rule.cocci" --dir "$d" --include-headers --in-place --very-quiet 2>/dev/null
    done)
    added=$(printf '%s\n' "$diff" | grep '^+[^+]' | grep -oE "${token[$rule]}" | wc -l || true)
    removed=$(printf '%s\n' "$diff" | grep '^-[^-]' | grep -oE "${token[$rule]}" | wc -l || true)
    n=$((added - removed))
    total=$((total + n))
    printf 'musl-patch: rule %-12s rewrote %4d call sites\n' "$rule" "$n"
done
mv "$WORK/syscall.h.keep" "$SRC/src/internal/syscall.h"
echo "musl-patch: $total call sites rewritten in all"

# No C call site may be left on the syscall instruction.
LEFT='(^|[^_a-zA-Z0-9])(__syscall|syscall|__syscall_cp|syscall_cp|__sys_open|sys_open|__sys_open_cp|sys_open_cp|__syscall[0-6]|__syscall_cp[0-6])[[:space:]]*\('
left=$(cd "$SRC" && grep -rnE "$LEFT" src ldso --include=*.c --include=*.h \
    | grep -v '^src/internal/syscall.h:' | grep -vE '^[^:]+:[0-9]+:\s*(long|int|hidden|static|#|/\*|\*|//)' || true)
if [ -n "$left" ]; then
    echo "musl-patch: call sites the semantic patches left untouched:" >&2
    echo "$left" >&2
    exit 1
fi
echo "musl-patch: no C call site left on the syscall instruction"

(cd "$SRC" && ./configure --prefix="$SYSROOT" --syslibdir="$SYSROOT/lib" CC=gcc CFLAGS=-O2 >/dev/null)
make -C "$SRC" -j"$(nproc)" >/dev/null
make -C "$SRC" install >/dev/null
echo "musl-patch: installed $(ls "$SYSROOT"/lib/libc.so) and headers, crt files into $SYSROOT"

# Every syscall instruction left in libc.so, by function: fallbacks behind a
# test of __hx_vector, and the assembly files the patches do not cover yet.
echo "musl-patch: syscall instructions remaining in libc.so, by function:"
objdump -d --no-show-raw-insn "$SYSROOT/lib/libc.so" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn) }
    $2 == "syscall" { count[fn]++ }
    END { n = 0; for (f in count) { n += count[f]; printf "  %s %d\n", f, count[f] | "sort" } close("sort"); printf "musl-patch: %d syscall instructions in %d functions\n", n, length(count) }'
echo "$stamp" > "$SYSROOT/.hx-stamp"

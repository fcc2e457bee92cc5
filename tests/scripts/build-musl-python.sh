#!/usr/bin/env bash
# Builds CPython 3.11.2 (Debian bookworm's python3.11) with musl-gcc as a
# dynamic executable for the fast-libc tests, with the C libraries of the
# stdlib's extension modules built from Debian's source packages as static PIC
# archives and linked into those modules: the interpreter and every module
# need only musl's libc.so (hx-run --fast-libc substitutes the patched one).
#
#   tests/scripts/build-musl-python.sh      ->  target/musl-python/bin/python3.11
#
# Installed under ${XDG_CACHE_HOME:-~/.cache}/hx/musl-python-<hash of this
# script and the toolchain>/ (the libraries' archives and headers too, so the
# prefix can build C extensions), with target/musl-python a symlink to it. A
# second run with nothing changed does nothing. Each source is the tarball
# named by its variable below if set (PYTHON_TARBALL, ZLIB_TARBALL...), else a
# copy cached in ~/.cache/hx/sources, else the orig tarball of Debian's source
# package (needs a deb-src entry, which .ci/setup adds); its sha256 is checked.
# Needs musl-tools, linux-libc-dev, make, perl (OpenSSL) and tclsh (SQLite's
# canonical source generates its amalgamation with it). HX_BUILD_JOBS sets the
# parallelism (default: nproc).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hx
JOBS=${HX_BUILD_JOBS:-$(nproc)}

# Pinned sources: variable, Debian source package, orig tarball, sha256.
SOURCES=(
  "PYTHON_TARBALL   python3.11 python3.11_3.11.2.orig.tar.gz   2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"
  "ZLIB_TARBALL     zlib       zlib_1.2.13.dfsg.orig.tar.bz2   71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"
  "BZIP2_TARBALL    bzip2      bzip2_1.0.8.orig.tar.gz         ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269"
  "XZ_TARBALL       xz-utils   xz-utils_5.4.1.orig.tar.xz      5d9827aa1875b21c288f78864bb26d2650b436ea8d2cad364e4921eb6266a5a5"
  "SQLITE_TARBALL   sqlite3    sqlite3_3.40.1.orig.tar.xz      aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655"
  "LIBFFI_TARBALL   libffi     libffi_3.4.4.orig.tar.gz        d66c56ad259a82cf2a9dfc408b32bf5da52371500b84745f7fb8b645712df676"
  "OPENSSL_TARBALL  openssl    openssl_3.0.20.orig.tar.gz      c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f"
  "NCURSES_TARBALL  ncurses    ncurses_6.4.orig.tar.gz         6931283d9ac87c5073f30b6290c4c75f21632bb4fc3603ac8100812bed248159"
  "READLINE_TARBALL readline   readline_8.2.orig.tar.gz        3feb7171f16a84ee82ca18a36d7b9be109a52c04f492a053331d7d1095007c35"
)
# pyexpat uses CPython's bundled expat (2.5.0) and _decimal its bundled libmpdec.

# Extension modules that must import, else the build fails.
REQUIRED=(
  _json _struct math cmath _datetime _decimal _pickle _random _bisect _heapq
  _csv array binascii unicodedata _zoneinfo _asyncio _queue _contextvars
  _md5 _sha1 _sha256 _sha512 _sha3 _blake2 _hashlib _ssl
  zlib _bz2 _lzma _sqlite3 _ctypes pyexpat _elementtree _multibytecodec
  _socket select _posixsubprocess fcntl mmap termios resource grp
  _multiprocessing _posixshmem readline _curses _curses_panel
)
# Missing, because we build no library for them (none is needed by the tests):
#   _gdbm, _dbm: GNU dbm / Berkeley DB (dbm falls back to dbm.dumb)
#   _uuid: util-linux's libuuid (uuid falls back to pure Python)
#   _tkinter: Tcl/Tk and X11
#   nis: libnsl/libtirpc (deprecated since 3.11)
#   _crypt: Debian's musl has no crypt() (no crypt.h, and its libc.so lacks
#     the symbol; hx's patched libc.so has it); deprecated since 3.11

# The prefix is named by this script and the toolchain it builds with.
musl_libc=$(musl-gcc -print-file-name=libc.a)
HASH=$( { cat "$0"; musl-gcc --version | head -1; sha256sum "$musl_libc"; } | sha256sum | cut -c1-16)
PREFIX=$CACHE/musl-python-$HASH
LINK=$ROOT/target/musl-python

for tool in musl-gcc make perl tclsh readelf flock; do
    command -v "$tool" >/dev/null || { echo "musl python: needs $tool" >&2; exit 1; }
done
[ -d /usr/include/linux ] || { echo "musl python: needs the Linux UAPI headers (linux-libc-dev)" >&2; exit 1; }

# One build at a time.
mkdir -p "$CACHE"
exec 9>"$CACHE/musl-python.lock"
flock 9
if [ -f "$PREFIX/.complete" ]; then
    ln -sfn "$PREFIX" "$LINK"
    echo "musl python: $PREFIX is up to date (target/musl-python)"
    exit 0
fi

# What an interrupted build left is removed.
for d in "$CACHE"/musl-python-*; do
    if [ -d "$d" ] && [ ! -f "${d%.build}/.complete" ]; then rm -rf "$d"; fi
done
BUILD=$PREFIX.build
LOGS=$BUILD/logs
mkdir -p "$PREFIX" "$LOGS" "$CACHE/sources"

# fetch VAR PACKAGE FILE SHA256: print the path of the verified tarball.
verify() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
fetch() {
    local var=$1 pkg=$2 file=$3 sha=$4 cached=$CACHE/sources/$3
    if [ -n "${!var:-}" ]; then
        verify "${!var}" "$sha" || { echo "musl python: \$$var=${!var} is not $file (sha256 $sha)" >&2; return 1; }
        echo "${!var}"; return
    fi
    if ! verify "$cached" "$sha"; then
        local apt=$BUILD/apt-$pkg
        mkdir -p "$apt"
        (cd "$apt" && apt-get source --download-only -qq "$pkg" >/dev/null 2>&1) || true
        if ! verify "$apt/$file" "$sha"; then
            echo "musl python: cannot get $file (sha256 $sha) from Debian's source package $pkg" \
                 "(got: $(cd "$apt" && ls ./*.orig.tar.* 2>/dev/null | tr '\n' ' ')): set \$$var, or add a deb-src entry" >&2
            return 1
        fi
        mv "$apt/$file" "$cached"
    fi
    echo "$cached"
}
# unpack NAME FILE: extract into $BUILD/src/NAME and print the source directory.
unpack() {
    local dir=$BUILD/src/$1
    mkdir -p "$dir" && tar -xf "$2" -C "$dir"
    if [ "$(ls "$dir" | wc -l)" = 1 ] && [ -d "$dir/$(ls "$dir")" ]; then echo "$dir/$(ls "$dir")"; else echo "$dir"; fi
}

# step NAME COMMAND...: run with the output in $LOGS/NAME.log, timed.
TIMES=()
step() {
    local name=$1 start=$SECONDS; shift
    echo "musl python: $name"
    set +e
    ( set -e; "$@" ) >"$LOGS/$name.log" 2>&1
    local rc=$?
    set -e
    if [ $rc != 0 ]; then
        tail -n 40 "$LOGS/$name.log" >&2
        echo "musl python: $name failed (log: $LOGS/$name.log)" >&2
        exit 1
    fi
    TIMES+=("$(printf '%-14s %4ds' "$name" $((SECONDS - start)))")
}
total_start=$SECONDS

declare -A TARBALL
for s in "${SOURCES[@]}"; do
    read -r var pkg file sha <<<"$s"
    if [ "$var" = OPENSSL_TARBALL ]; then
        # Debian's stable updates move OpenSSL to new upstream releases (a new
        # orig tarball): without the pinned one, build without _ssl/_hashlib
        # (hashlib keeps its builtin digests) rather than not at all.
        TARBALL[$var]=$(fetch "$var" "$pkg" "$file" "$sha") || {
            echo "musl python: WARNING: building without OpenSSL (no _ssl, _hashlib): set \$OPENSSL_TARBALL to $file" >&2
            mapfile -t REQUIRED < <(printf '%s\n' "${REQUIRED[@]}" | grep -vx -e _ssl -e _hashlib)
        }
        continue
    fi
    TARBALL[$var]=$(fetch "$var" "$pkg" "$file" "$sha")
done
TIMES+=("$(printf '%-14s %4ds' sources $((SECONDS - total_start)))")

# The compiler: musl-gcc plus the kernel's UAPI headers (linux/, asm/,
# asm-generic/ only, never glibc's), answering x86_64-linux-musl to
# -print-multiarch (CPython's configure compares it with its platform triplet)
# and dropping the -I/-L into the host's glibc trees that CPython's setup.py
# adds (/usr/include/<multiarch>, /usr/include/ncursesw, /usr/local). It stays
# in the prefix: sysconfig names it as the compiler for C extensions.
TOOLS=$PREFIX/lib/hx-musl-cc
mkdir -p "$TOOLS/include"
ln -s /usr/include/linux /usr/include/asm-generic "$TOOLS/include/"
ln -s /usr/include/x86_64-linux-gnu/asm "$TOOLS/include/asm"
cat >"$TOOLS/cc" <<EOF
#!/bin/sh
# musl-gcc with the Linux UAPI headers and without the host's glibc trees.
for a; do
    case \$a in -print-multiarch|--print-multiarch) echo x86_64-linux-musl; exit 0 ;; esac
done
n=\$#
for a; do
    case \$a in
        -I/usr/include|-I/usr/include/*|-I/usr/local/*|-L/usr/local/*|-L/usr/lib/x86_64-linux-gnu*|-L/lib/x86_64-linux-gnu*) ;;
        *) set -- "\$@" "\$a" ;;
    esac
done
shift \$n
exec musl-gcc -idirafter "$TOOLS/include" "\$@"
EOF
chmod +x "$TOOLS/cc"
export CC=$TOOLS/cc CFLAGS="-O2 -fPIC" CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib"
export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig PKG_CONFIG_PATH=
unset CXX LIBS

# The libraries: static PIC archives, headers and .pc files in the prefix.
build_zlib() {
    cd "$(unpack zlib "${TARBALL[ZLIB_TARBALL]}")"
    ./configure --static --prefix="$PREFIX"
    make -j"$JOBS" libz.a && make install
}
build_bzip2() {
    cd "$(unpack bzip2 "${TARBALL[BZIP2_TARBALL]}")"
    make -j"$JOBS" libbz2.a CC="$CC" CFLAGS="$CFLAGS -D_FILE_OFFSET_BITS=64"
    install -m644 libbz2.a "$PREFIX/lib/" && install -m644 bzlib.h "$PREFIX/include/"
}
build_xz() {
    cd "$(unpack xz "${TARBALL[XZ_TARBALL]}")"
    ./configure --prefix="$PREFIX" --disable-shared --enable-static --with-pic --disable-nls \
        --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
        --disable-scripts --disable-doc
    make -j"$JOBS" -C src/liblzma && make -C src/liblzma install
}
build_sqlite() {
    cd "$(unpack sqlite "${TARBALL[SQLITE_TARBALL]}")"
    CFLAGS="$CFLAGS -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 \
        -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA \
        -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_SECURE_DELETE -DSQLITE_ENABLE_UNLOCK_NOTIFY" \
    ./configure --prefix="$PREFIX" --disable-shared --enable-static --with-pic --disable-tcl \
        --disable-readline --enable-threadsafe
    make -j"$JOBS" libsqlite3.la sqlite3.h sqlite3.pc && make lib_install
    install -m644 sqlite3.h src/sqlite3ext.h "$PREFIX/include/"
    install -Dm644 sqlite3.pc "$PREFIX/lib/pkgconfig/sqlite3.pc"
}
build_libffi() {
    cd "$(unpack libffi "${TARBALL[LIBFFI_TARBALL]}")"
    ./configure --prefix="$PREFIX" --disable-shared --enable-static --with-pic --disable-docs \
        --disable-multi-os-directory
    make -j"$JOBS" && make install
}
build_openssl() {
    [ -n "${TARBALL[OPENSSL_TARBALL]:-}" ] || return 0
    cd "$(unpack openssl "${TARBALL[OPENSSL_TARBALL]}")"
    # The configuration and the CA certificates are the host's (Debian's /etc/ssl).
    ./Configure linux-x86_64 --prefix="$PREFIX" --libdir=lib --openssldir=/etc/ssl \
        no-shared no-module no-tests no-afalgeng no-engine -fPIC
    make -j"$JOBS" build_libs && make install_dev
}
build_ncurses() {
    cd "$(unpack ncurses "${TARBALL[NCURSES_TARBALL]}")"
    # The terminfo database is the host's.
    ./configure --prefix="$PREFIX" --without-shared --with-normal --without-debug --without-cxx \
        --without-cxx-binding --without-ada --without-progs --without-tests --without-manpages \
        --enable-widec --enable-overwrite --enable-pc-files --with-pkg-config-libdir="$PREFIX/lib/pkgconfig" \
        --disable-db-install --with-default-terminfo-dir=/usr/share/terminfo \
        --with-terminfo-dirs=/etc/terminfo:/lib/terminfo:/usr/share/terminfo
    make -j"$JOBS" && make install
    ln -sfn . "$PREFIX/include/ncursesw"
}
build_readline() {
    cd "$(unpack readline "${TARBALL[READLINE_TARBALL]}")"
    ./configure --prefix="$PREFIX" --disable-shared --enable-static --with-curses --disable-install-examples
    make -j"$JOBS" static && make install-static
}
# CPython with its own optimization flags (-O3); setup.py would add $CFLAGS.
build_python() {
    unset CFLAGS
    cd "$(unpack python "${TARBALL[PYTHON_TARBALL]}")"
    local lib=$PREFIX/lib
    local ssl=(--with-openssl="$PREFIX" --with-openssl-rpath=no)
    # Without it, configure finds no OpenSSL (musl-gcc never looks in /usr/include).
    [ -n "${TARBALL[OPENSSL_TARBALL]:-}" ] || ssl=()
    ./configure --build=x86_64-pc-linux-musl --prefix="$PREFIX" --without-ensurepip "${ssl[@]}" --with-readline \
        ZLIB_CFLAGS= ZLIB_LIBS="$lib/libz.a" BZIP2_CFLAGS= BZIP2_LIBS="$lib/libbz2.a" \
        LIBLZMA_CFLAGS= LIBLZMA_LIBS="$lib/liblzma.a" \
        LIBSQLITE3_CFLAGS= LIBSQLITE3_LIBS="$lib/libsqlite3.a"
    make -j"$JOBS"
}
install_python() { unset CFLAGS; cd "$BUILD"/src/python/*/ && make install; }
for lib in zlib bzip2 xz sqlite libffi openssl ncurses readline python; do
    step "$lib" build_$lib
done
step python-install install_python

# CPython's own summary of the modules it could not build (its last one:
# setup.py runs more than once).
awk '/^The necessary bits/ { out = "" }
     /^The necessary bits|^Failed to build|could not be imported:$/ { grab = 1 }
     grab { out = out $0 "\n" }
     /^$/ { grab = 0 }
     END { printf "%s", out }' "$LOGS/python.log"

# Every module required imports; python and every module need only libc.so.
PY=$PREFIX/bin/python3.11
missing=$("$PY" - "${REQUIRED[@]}" <<'EOF'
import importlib, sys
for m in sys.argv[1:]:
    try:
        importlib.import_module(m)
    except ImportError as e:
        print(f"{m} ({e})")
EOF
)
if [ -n "$missing" ]; then
    echo "musl python: required modules missing:" >&2; echo "$missing" >&2; exit 1
fi
bad=0
for f in "$PY" "$PREFIX"/lib/python3.11/lib-dynload/*.so; do
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -vx 'libc.so' || true)
    [ -z "$needed" ] || { echo "musl python: $f needs $needed" >&2; bad=1; }
done
[ "$bad" = 0 ] || exit 1

mkdir -p "$PREFIX/share/hx-build-logs" && cp "$LOGS"/*.log "$PREFIX/share/hx-build-logs/"
rm -rf "$BUILD"
touch "$PREFIX/.complete"
ln -sfn "$PREFIX" "$LINK"
echo "musl python: built $PREFIX (target/musl-python) in $((SECONDS - total_start))s:"
printf '  %s\n' "${TIMES[@]}"

#!/bin/sh
# Builds the kernel by hand (vmm/build.rs does the same for `cargo build`).
set -e
cd "$(dirname "$0")"
RUSTFLAGS="-C relocation-model=static -C code-model=kernel -C link-arg=-nostartfiles -C link-arg=-nostdlib -C link-arg=-static -C link-arg=-Wl,-T,$PWD/link.ld -C link-arg=-Wl,--build-id=none" \
  cargo build --release --target x86_64-unknown-linux-gnu --target-dir "${TARGET_DIR:-target}" "$@"

//! Builds the guest kernel (`kernel/`) as a freestanding static ELF with the
//! installed stable toolchain, in its own target directory so its link flags
//! never reach the host crates, and hands its path to `hx-run`, which embeds it.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let kernel = manifest.parent().unwrap().join("kernel");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for watched in
        ["src", "abi/src", "abi/build.rs", "abi/uapi.h", "abi/Cargo.toml", "Cargo.toml", "Cargo.lock", "link.ld"]
    {
        println!("cargo:rerun-if-changed={}", kernel.join(watched).display());
    }
    let linker_script = kernel.join("link.ld");
    let flags = [
        "-C",
        "relocation-model=static",
        "-C",
        "code-model=kernel",
        "-C",
        "link-arg=-nostartfiles",
        "-C",
        "link-arg=-nostdlib",
        "-C",
        "link-arg=-static",
        "-C",
        "link-arg=-Wl,--build-id=none",
        "-C",
        &format!("link-arg=-Wl,-T,{}", linker_script.display()),
    ]
    .join("\x1f");
    let target_dir = out.join("kernel-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "x86_64-unknown-linux-gnu", "--manifest-path"])
        .arg(kernel.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags and wrappers (clippy, coverage) are not the kernel's.
    for var in ["RUSTFLAGS", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags);
    let status = cmd.status().expect("running cargo to build the guest kernel");
    assert!(status.success(), "building the guest kernel failed");
    let elf = target_dir.join("x86_64-unknown-linux-gnu/release/hx-kernel");
    let dest = out.join("hx-kernel.elf");
    copy(&elf, &dest);
    println!("cargo:rustc-env=HX_KERNEL_ELF={}", dest.display());
    build_vdso(&manifest.join("vdso"), &out);
}

/// The vDSO hx-run maps into every program: a tiny position-independent
/// shared object with no relocations, in one read+execute segment.
fn build_vdso(src: &Path, out: &Path) {
    println!("cargo:rerun-if-changed={}", src.display());
    let so = out.join("hx-vdso.so");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O2", "-nostdlib", "-fno-stack-protector", "-fno-asynchronous-unwind-tables"])
        .args(["-Wl,-soname=linux-vdso.so.1", "-Wl,--hash-style=both", "-Wl,-z,max-page-size=4096"])
        .args(["-Wl,-z,noexecstack", "-Wl,--build-id=none"])
        .arg(format!("-Wl,--version-script={}", src.join("vdso.lds").display()))
        .arg(format!("-Wl,-T,{}", src.join("vdso-layout.lds").display()))
        .arg("-o")
        .arg(&so)
        .arg(src.join("vdso.c"))
        .status()
        .expect("running the C compiler to build the vDSO");
    assert!(status.success(), "building the vDSO failed");
    println!("cargo:rustc-env=HX_VDSO_SO={}", so.display());
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}

//! The sandbox: a guest reaches host files only inside its mounts, whatever
//! path, symlink or `/proc` trick it tries.
mod common;

use common::*;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::process::Command;

struct Jail {
    _dir: tempfile::TempDir,
    outside: std::path::PathBuf,
    inside: std::path::PathBuf,
    secret: std::path::PathBuf,
}

fn jail() -> Jail {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let inside = dir.path().join("inside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir(&inside).unwrap();
    let secret = outside.join("secret.txt");
    std::fs::write(&secret, "SECRET").unwrap();
    symlink(&secret, inside.join("abs_link")).unwrap();
    symlink("../outside/secret.txt", inside.join("rel_link")).unwrap();
    symlink("/", inside.join("root_link")).unwrap();
    symlink("loop_b", inside.join("loop_a")).unwrap();
    symlink("loop_a", inside.join("loop_b")).unwrap();
    std::fs::write(inside.join("ok.txt"), "visible").unwrap();
    Jail { outside, inside, secret, _dir: dir }
}

/// Runs the escape program inside hx with only `inside` mounted (at /work, rw).
fn run_jailed(j: &Jail, args: &[&[u8]]) -> std::process::Output {
    let prog = build("escape", Flavor::GlibcStatic, &[]);
    let mut cmd = Command::new(HX_RUN);
    cmd.arg("--no-default-mounts")
        .arg("--mount")
        .arg(format!("{}:/work:rw", j.inside.display()))
        .arg(&prog)
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .current_dir(&j.inside);
    cmd.output().unwrap()
}

#[test]
fn no_path_reaches_a_host_file_outside_the_mounts() {
    let j = jail();
    let secret = j.secret.as_os_str().as_bytes().to_vec();
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    let long: Vec<u8> = cat(b"/work/", &b"a/".repeat(3000));
    let dotdots: Vec<u8> = cat(&b"../".repeat(30), &secret);
    let paths: Vec<Vec<u8>> = vec![
        secret.clone(),
        b"/work/../outside/secret.txt".to_vec(),
        dotdots,
        b"/work/abs_link".to_vec(),
        b"/work/rel_link".to_vec(),
        b"rel_link".to_vec(),
        cat(b"/work/root_link", &secret),
        cat(b"/proc/self/root", &secret),
        b"/proc/self/cwd/../outside/secret.txt".to_vec(),
        b"/work/loop_a".to_vec(),
        long,
        b"/work/\xff\xfe/../../outside/secret.txt".to_vec(),
        b"/work/ok.txt".to_vec(),
    ];
    let args: Vec<&[u8]> = paths.iter().map(|p| p.as_slice()).collect();
    let out = run_jailed(&j, &args);
    let stdout = text(&out.stdout);
    assert_eq!(status_code(&out), 0, "{stdout} {}", text(&out.stderr));
    assert!(!stdout.contains("SECRET"), "a path escaped the sandbox:\n{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), paths.len(), "{stdout}");
    assert!(lines[9].contains("Too many levels of symbolic links"), "{}", lines[9]);
    assert!(lines[10].contains("File name too long"), "{}", lines[10]);
    assert!(lines[12].contains("[visible]"), "the mount itself works: {}", lines[12]);
    for l in &lines[..12] {
        assert!(l.starts_with("open "), "{l}");
    }
}

#[test]
fn symlinks_links_and_renames_cannot_write_outside_the_mounts() {
    let j = jail();
    let prog_inside = j.inside.join("ok.txt");
    let _ = prog_inside;
    let secret = j.secret.as_os_str().as_bytes().to_vec();
    let out = run_jailed(&j, &[b"write", &secret, b"/work/ok.txt", &secret]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("symlink: 0"), "{stdout}");
    assert!(stdout.contains("write through planted link: No such file or directory"), "{stdout}");
    assert!(stdout.contains("rename out of the mount: No such file or directory"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&j.secret).unwrap(), "SECRET");
    assert_eq!(std::fs::read_dir(&j.outside).unwrap().count(), 1);
}

#[test]
fn read_only_mounts_refuse_every_kind_of_write() {
    let j = jail();
    let prog = build("escape", Flavor::GlibcStatic, &[]);
    let out = Command::new(HX_RUN)
        .arg("--no-default-mounts")
        .arg("--mount")
        .arg(format!("{}:/work:ro", j.inside.display()))
        .arg(&prog)
        .args(["write", "/anything", "/work/ok.txt", "/work/renamed"])
        .current_dir(&j.inside)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("symlink: -1"), "{stdout}");
    assert!(stdout.contains("hard link out of the mount: Read-only file system"), "{stdout}");
    assert_eq!(std::fs::read_dir(&j.inside).unwrap().count(), 6, "nothing created");
}

/// A new name in a directory hx makes up (`/`, `/dev`, the levels above a
/// mount) is EROFS, as Linux says on a read-only file system (Python's
/// `os.makedirs` of a home directory that is not mounted stops there); a
/// name under a directory that is missing stays ENOENT.
/// `$HOME` where no mount holds it is a private, empty, writable directory
/// (as a container's image gives one) that never reaches the host, through
/// which mounts below it stay reachable; a home inside a mount is that mount's.
#[test]
fn an_unmounted_home_is_private_and_writable() {
    let home = "/hx-test-home-that-the-host-lacks";
    let script =
        "test -z \"$(ls -A $HOME)\" && mkdir -p $HOME/.cache && echo kept > $HOME/.cache/f && cat $HOME/.cache/f";
    let out = Command::new(HX_RUN).env("HOME", home).args(["/bin/sh", "-c", script]).output().unwrap();
    assert_eq!(text(&out.stdout), "kept\n", "{}", text(&out.stderr));
    assert!(!std::path::Path::new(home).exists(), "the guest's home reached the host");
    // A mount below the private home stays reachable through it.
    let inside = tempfile::tempdir().unwrap();
    std::fs::write(inside.path().join("f"), "below\n").unwrap();
    let spec = format!("{}:{home}/sub/dir", inside.path().display());
    let out = Command::new(HX_RUN)
        .env("HOME", home)
        .args(["--mount", &spec, "/bin/sh", "-c", "cat $HOME/sub/dir/f && ls $HOME"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "below\nsub\n", "{}", text(&out.stderr));
    // A home in the (mounted) working directory is the host's.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(HX_RUN)
        .env("HOME", dir.path())
        .args(["/bin/sh", "-c", "echo mine > $HOME/f"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("f")).unwrap(), "mine\n");
}

#[test]
fn new_names_in_made_up_directories_are_read_only() {
    let script = "import os\n\
        def errno(f):\n    try:\n        f()\n        return 0\n    except OSError as e:\n        return e.errno\n\
        print(errno(lambda: os.makedirs('/hx-home/.local/lib')), errno(lambda: open('/new-file', 'w')),\n\
        errno(lambda: os.mkdir('/dev/new-dir')), errno(lambda: os.mkfifo('/new-fifo')),\n\
        errno(lambda: os.mkdir('/missing/new-dir')), errno(lambda: os.stat('/missing')))";
    let out = Command::new(HX_RUN).args(["/usr/bin/python3", "-c", script]).output().unwrap();
    assert_eq!(text(&out.stdout), "30 30 30 30 2 2\n", "{}", text(&out.stderr));
}

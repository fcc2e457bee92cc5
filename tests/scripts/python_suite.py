#!/usr/bin/env python3
"""CPython's regression tests, module by module, natively and inside hx.

Runs every module of CPython's test suite (or those named) with
`python -m test -W MODULE`, each in a fresh working directory, in four ways
(kinds):

    native       Debian's python3 (3.11) and its libpython3.11-testsuite
    hx           the same under `hx-run` (the trap path)
    musl-native  the musl CPython 3.11.2 (target/musl-python, built by
                 tests/scripts/build-musl-python.sh) and its own test package
    fast         the same under `hx-run --fast-libc` (every syscall a call)

and writes docs/python-tests.md: each module's four results and, for a module
that passes natively but not in hx, the tests that failed there and what
hx-run reported. Each hx run is compared with the native run of the same
interpreter (hx with native, fast with musl-native): a module can differ
between Debian's build and the musl build (modules the musl build lacks:
_dbm, _gdbm, _uuid, _tkinter, nis, _crypt).

    tests/scripts/python_suite.py [--hx target/release/hx-run]
        [--musl-python target/musl-python] [--jobs 2] [--only KIND]...
        [--results results.json] [--output docs/python-tests.md] [MODULE...]

Results accumulate in --results (JSON, a module's results keyed by kind), so
an interrupted run resumes where it stopped and a rerun of a few modules
(named on the command line) keeps the others'. --only (repeatable) runs only
those kinds. Exit status 1 if a module passing natively fails in hx (either
comparison).
"""
import argparse
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
NATIVE_LIMIT = 900  # seconds; a module slower than this natively counts as a timeout
HX_FACTOR, HX_EXTRA = 4, 120  # hx may take 4x native + 2 min

KINDS = ["native", "hx", "musl-native", "fast"]
# Each run in hx and the native run it is compared with.
BASELINE = {"hx": "native", "fast": "musl-native"}
# How the summary after a run names a regression of each comparison.
REGRESSION = {"hx": "pass natively, not in hx", "fast": "pass natively with musl, not under --fast-libc"}


# Why a module that passes natively does not pass in hx (or fails more of
# its tests there), where the cause is known (the table shows the failing
# tests either way): on the trap path...
HOME_EROFS = ("the home directory (/root) is not mounted in the guest: makedirs of ~/.local gets EROFS, as on a"
              " read-only home (`--mount $HOME:$HOME:rw` gives it one)")
REASONS = {
    "test_fcntl": "F_NOTIFY (dnotify) is EINVAL, as on a Linux built without CONFIG_DNOTIFY",
    "test_mmap": "a shared mapping of a file takes guest RAM for its whole length at mmap: a 4 GiB sparse file"
                 " does not fit the default 2 GiB guest (Linux maps it lazily)",
    "test_site": HOME_EROFS,
    "test_asyncio": "in the whole module's run, test_subprocess's FastChildWatcher test of a child killed as it"
                    " starts hangs (its SIGCHLD is not seen); test_subprocess alone passes (17 s), as every other"
                    " sub-module does",
    "test_largefile": "TestSocketSendfile hangs: a sendfile of 2.5 GB to a TCP socket that another thread of the"
                      " process reads stops once the socket buffers are full (about 10 MB): the sending and the"
                      " receiving thread both wait and are never woken, one vCPU spins, SIGTERM does not end it."
                      " sendall() of 30 MB hangs the same way; with --rewrite-syscalls=off it passes (100 MB in"
                      " 0.5 s), as it did before rewriting became the default",
    "test_cppext": "pkg_resources extracts into its egg cache under ~/.cache: EROFS, /root is not mounted in the"
                   " guest (as test_site)",
}
# ... and under --fast-libc (the musl CPython).
FAST_REASONS = {
    "test_fcntl": REASONS["test_fcntl"],
    "test_mmap": REASONS["test_mmap"],
    "test_site": HOME_EROFS,
    "test_ctypes": "find_library('c') is None under --fast-libc: every read-only open of a file named libc.so"
                   " gets the patched musl, glibc's linker script /usr/lib/x86_64-linux-gnu/libc.so too (it reads"
                   " as ELF while stat gives the script's 283 bytes), so gcc's and ld's answer is taken for a"
                   " library and objdump finds no SONAME in it",
}
# Why the musl CPython differs from Debian's natively (musl, not hx).
MUSL_REASONS = {
    "test__locale": "musl's locales: every name is accepted and LC_NUMERIC stays \".\"",
    "test_locale": "musl has no collation: strcoll/strxfrm compare code points",
    "test_re": "musl has no ISO-8859-1 locale: re.LOCALE matches bytes as in C",
    "test_c_locale_coercion": "musl's C locale is UTF-8 already: CPython does not coerce it",
    "test_os": "musl's pathconf answers PC_NAME_MAX without checking the descriptor",
    "test_ctypes": "musl's dlopen takes any libc.so.N for its own libc (test_load_version)",
    "test__xxsubinterpreters": "SIGSEGV in tearDown's clean_up_interpreters (interpreters.destroy) when run with -W;"
                               " it passes with -v, and under --fast-libc",
}


def find_modules(python):
    out = subprocess.run(
        [python, "-c", "import test.libregrtest.runtest as r; print('\\n'.join(r.findtests()))"],
        capture_output=True, text=True, check=True)
    return out.stdout.split()


def classify(status, out):
    """pass, skip, fail, timeout or crash, from regrtest's summary."""
    if status == "timeout":
        return "timeout"
    if "Tests result: SUCCESS" in out:
        # regrtest reports a skipped module as a success with "1 test skipped".
        return "skip" if re.search(r"^1 test skipped:", out, re.M) or " skipped -- " in out else "pass"
    if "Tests result: NO TESTS RAN" in out:
        return "skip"
    # NO TEST RUN: the module's setup failed before any test.
    if any(f"Tests result: {r}" in out for r in ("FAILURE", "ENV CHANGED", "NO TEST RUN")):
        return "fail"
    return "crash"


def details(out):
    """What went wrong: failing tests, then hx-run's own messages."""
    failed = re.findall(r"^(?:FAIL|ERROR): (\S+) \(([\w.]+)\)", out, re.M)
    # Python 3.11 shows the test's whole id in parentheses (module.Class.test).
    names = [f"{cls.removesuffix('.' + name).rsplit('.', 1)[-1]}.{name}" for name, cls in failed]
    seen = []
    for n in names:
        if n not in seen:
            seen.append(n)
    hx = []
    for line in out.splitlines():
        if line.startswith("hx-run:") and line not in hx:
            hx.append(line.strip())
    skip = re.search(r" skipped -- (.*)", out)
    return {"failed": seen[:12], "failed_count": len(seen), "hx": hx[:6],
            "skip_reason": skip.group(1).strip() if skip else "",
            "tail": out.strip().splitlines()[-6:]}


def run_one(module, argv, limit):
    """Runs `argv` (an interpreter, maybe under hx-run) on `module`."""
    with tempfile.TemporaryDirectory(prefix="pysuite-") as cwd:
        argv = argv + ["-m", "test", "-W", module]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", TMPDIR=cwd, LANG="C.UTF-8")
        start = time.monotonic()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            raw, _ = p.communicate(timeout=limit)
            status = p.returncode
        except subprocess.TimeoutExpired:
            # The whole session: regrtest's own children too.
            os.killpg(p.pid, 9)
            raw, _ = p.communicate()
            status = "timeout"
        out = raw.decode("utf-8", "replace")
        seconds = time.monotonic() - start
    result = {"result": classify(status, out), "status": status, "seconds": round(seconds, 1)}
    result.update(details(out))
    return result


def regressions(results, kind):
    """Modules passing natively (the kind's baseline) that do not pass in `kind`."""
    base = BASELINE[kind]
    return sorted(m for m, r in results.items()
                  if r.get(base, {}).get("result") == "pass" and r.get(kind, {}).get("result") not in (None, "pass"))


def main():
    # A background job starts with SIGINT ignored, which its children keep:
    # the suite's tests of Ctrl-C need its default action.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    here = os.path.dirname(__file__)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hx", default=os.path.join(here, "../../target/release/hx-run"))
    ap.add_argument("--musl-python", default=os.path.join(here, "../../target/musl-python"),
                    help="the musl CPython's prefix (tests/scripts/build-musl-python.sh)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--results", default="python-tests.json")
    ap.add_argument("--output", default=None, help="write the markdown table here")
    ap.add_argument("--only", choices=KINDS, action="append",
                    help="run only this kind (repeatable): native, hx (trap path), musl-native, fast (--fast-libc)")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    hx = os.path.abspath(args.hx)
    kinds = [k for k in KINDS if k in args.only] if args.only else KINDS
    # The guest sees the musl prefix (its standard library and tests) at the same path.
    prefix = os.path.realpath(args.musl_python)
    musl_python = os.path.join(prefix, "bin/python3.11")
    if any(k in ("musl-native", "fast") for k in kinds) and not os.path.isfile(musl_python):
        sys.exit(f"{musl_python} is missing: run tests/scripts/build-musl-python.sh (or --only native --only hx)")
    commands = {
        "native": [PYTHON],
        # The suite binds and connects to ports of its choosing: the host's
        # network, as a native run has (hx's default publishes none).
        "hx": [hx, "--net", "host", PYTHON],
        "musl-native": [musl_python],
        "fast": [hx, "--fast-libc", "--net", "host", "--mount", f"{prefix}:{prefix}", musl_python],
    }
    results = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            results = json.load(f)
    named = bool(args.modules)
    if named:
        modules = args.modules
    else:
        pythons = {PYTHON if k in ("native", "hx") else musl_python for k in kinds}
        modules = sorted(set().union(*(find_modules(p) for p in pythons)))

    def save():
        with open(args.results + ".tmp", "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
        os.replace(args.results + ".tmp", args.results)

    def todo(kind):
        return [m for m in modules if named or kind not in results.get(m, {})]

    for kind in kinds:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            def job(m):
                if kind not in BASELINE:
                    return run_one(m, commands[kind], NATIVE_LIMIT)
                native = results.get(m, {}).get(BASELINE[kind], {}).get("seconds", 60)
                return run_one(m, commands[kind], native * HX_FACTOR + HX_EXTRA)
            futures = {pool.submit(job, m): m for m in todo(kind)}
            for fut in concurrent.futures.as_completed(futures):
                m = futures[fut]
                r = fut.result()
                results.setdefault(m, {})[kind] = r
                save()
                print(f"{kind:11} {m:40} {r['result']:8} {r['seconds']:7.1f} s "
                      f"{' '.join(r['failed'][:3])}", flush=True)
    if args.output:
        write_table(results, args.output)
    failed = False
    for kind in BASELINE:
        bad = regressions(results, kind)
        for m in bad:
            h = results[m][kind]
            print(f"--- {m}: {h['result']} {'in hx' if kind == 'hx' else 'under --fast-libc'}"
                  f" (status {h['status']}, {h['seconds']} s)")
            for line in h["failed"] + h["hx"] + h["tail"]:
                print("    " + line)
        if bad:
            print(f"{REGRESSION[kind]}:", " ".join(bad))
            failed = True
    return 1 if failed else 0


def test_name(t):
    """A failing test's name: results of older runs hold `test_x.test_x` (the method twice)."""
    first, _, rest = t.partition(".")
    return first if first == rest else t


def why(r, kind, reasons, module):
    """What failed in `kind`: the known cause, the failing tests, hx-run's messages."""
    h = r[kind]
    parts = []
    if h.get("failed"):
        parts.append(", ".join(map(test_name, h["failed"][:4]))
                     + (f" (+{h['failed_count'] - 4} more)" if h["failed_count"] > 4 else ""))
    parts += [x.replace("|", "\\|") for x in h.get("hx", [])[:2]]
    if h.get("result") == "timeout":
        parts.append(f"timed out after {h['seconds']} s")
    elif h.get("result") == "crash":
        parts.append(f"crashed (exit status {h['status']})")
    elif not parts and h.get("tail"):
        parts.append(h["tail"][-1].replace("|", "\\|")[:160])
    return "; ".join(([reasons[module]] if module in reasons else []) + parts)


def write_table(results, path):
    rows = sorted(results.items())
    count = lambda kind, res: sum(1 for _, r in rows if r.get(kind, {}).get("result") == res)

    def summary(kind):
        return (f"{count(kind, 'pass')} pass, {count(kind, 'skip')} skipped, {count(kind, 'fail')} fail,"
                f" {count(kind, 'timeout')} time out, {count(kind, 'crash')} crash")

    def passing(kind):
        base = [m for m, r in rows if r.get(BASELINE[kind], {}).get("result") == "pass"]
        return base, [m for m in base if results[m].get(kind, {}).get("result") == "pass"]

    native_pass, both = passing("hx")
    musl_pass, both_fast = passing("fast")
    lines = [
        "# CPython's regression tests inside hx",
        "",
        "Every module of CPython's regression suite run on its own (`python -m test -W MODULE`, fresh working",
        "directory, `PYTHONDONTWRITEBYTECODE=1`) by two interpreters, each natively and inside hx:",
        "",
        "- Debian's python3 (3.11) and its test suite (`libpython3.11-testsuite`): natively, then under",
        "  `hx-run --net host` (the suite listens on ports of its choosing): the trap path, with the default",
        "  `--rewrite-syscalls` turning the `syscall` instructions that keep trapping into calls;",
        "- the musl CPython 3.11.2 (`target/musl-python`, built by `tests/scripts/build-musl-python.sh`) and its own",
        "  test package: natively, then under `hx-run --fast-libc --net host --mount PREFIX:PREFIX` (every syscall",
        "  a function call into hx's kernel). Each hx run is compared with the native run of the same interpreter:",
        "  the musl build lacks a few modules (_dbm, _gdbm, _uuid, _tkinter, nis, _crypt).",
        "",
        "Generated by `tests/scripts/python_suite.py --jobs 2 --output docs/python-tests.md`; times are seconds,",
        "in the columns' order (native / hx / musl native / --fast-libc), two modules at a time on a shared",
        "2-CPU machine: indicative only.",
        "",
        f"- modules: {len(rows)}",
        f"- Debian's python3 natively: {summary('native')}; in hx (trap path): {summary('hx')}",
        f"- **{len(both)} of the {len(native_pass)} modules that pass natively pass in hx (trap path)**",
        f"- musl CPython natively: {summary('musl-native')}; in hx --fast-libc: {summary('fast')}",
        f"- **{len(both_fast)} of the {len(musl_pass)} modules that pass natively with musl pass in hx --fast-libc**",
        "",
        "| module | native | hx (trap path) | musl native | hx --fast-libc (musl) | times | why it differs |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, r in rows:
        n, h, mn, f = (r.get(k, {}) for k in KINDS)
        parts, hx_why = [], {}
        for kind, label, reasons in (("hx", "trap path", REASONS), ("fast", "--fast-libc", FAST_REASONS)):
            base, got = r.get(BASELINE[kind], {}), r.get(kind, {})
            if base.get("result") == "pass" and got.get("result") not in (None, "pass"):
                hx_why[label] = why(r, kind, reasons, m)
            elif base.get("result") == "fail" and got.get("result") == "fail":
                # Fails either way, but more of its tests in hx.
                more = [test_name(t) for t in got.get("failed", []) if t not in base.get("failed", [])]
                if more:
                    cause = f": {reasons[m]}" if m in reasons else ""
                    parts.append(f"{label} also fails {', '.join(more[:4])}{cause}")
        if len(hx_why) == 2 and len(set(hx_why.values())) == 1:
            parts.insert(0, "trap path and --fast-libc: " + hx_why["trap path"])
        else:
            parts[:0] = [f"{label}: {text}" for label, text in hx_why.items()]
        if n.get("result") == "pass" and mn.get("result") in ("fail", "timeout", "crash"):
            parts.append("the musl build, natively: " + why(r, "musl-native", MUSL_REASONS, m))
        if n.get("result") == "skip":
            parts.append(n.get("skip_reason", "")[:120])
        elif mn.get("result") == "skip":
            parts.append("musl build: " + mn.get("skip_reason", "")[:120])
        times = " / ".join(str(x.get("seconds", "–")) for x in (n, h, mn, f))
        lines.append(f"| {m} | {n.get('result', '–')} | {h.get('result', '–')} | {mn.get('result', '–')} |"
                     f" {f.get('result', '–')} | {times} | {'; '.join(parts)} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

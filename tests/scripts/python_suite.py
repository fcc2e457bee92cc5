#!/usr/bin/env python3
"""CPython's regression tests, module by module, natively and inside hx.

Runs every module of Debian's libpython3.11-testsuite (or those named) with
`python3 -m test`, each in a fresh working directory: natively, then under
`hx-run` (the trap path), and writes docs/python-tests.md: each module's
result in both runs and, for a module that passes natively but not in hx,
the tests that failed there and what hx-run reported.

    tests/scripts/python_suite.py [--hx target/release/hx-run] [--jobs 2]
        [--results results.json] [--output docs/python-tests.md] [MODULE...]

Results accumulate in --results (JSON), so an interrupted run resumes where
it stopped and a rerun of a few modules (named on the command line) keeps
the others'. Exit status 1 if a module passing natively fails in hx.
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


# Why a module that passes natively does not pass in hx, where the cause is
# known (the table shows the failing tests either way).
REASONS = {
    "test_fcntl": "F_NOTIFY (dnotify) is EINVAL, as on a Linux built without CONFIG_DNOTIFY",
    "test_mmap": "a shared mapping of a file takes guest RAM for its whole length at mmap: a 4 GiB sparse file"
                 " does not fit the default 2 GiB guest (Linux maps it lazily)",
    "test_site": "the home directory (/root) is not mounted in the guest: makedirs of ~/.local gets EROFS, as on a"
                 " read-only home (`--mount $HOME:$HOME:rw` gives it one)",
    "test_asyncio": "in the whole module's run, test_subprocess's FastChildWatcher test of a child killed as it"
                    " starts hangs (its SIGCHLD is not seen); test_subprocess alone passes (17 s), as every other"
                    " sub-module does",
}


def all_modules():
    out = subprocess.run(
        [PYTHON, "-c", "import test.libregrtest.runtest as r; print('\\n'.join(r.findtests()))"],
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
    names = [f"{cls.rsplit('.', 1)[-1]}.{name}" for name, cls in failed]
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


def run_one(module, hx, limit):
    with tempfile.TemporaryDirectory(prefix="pysuite-") as cwd:
        argv = [PYTHON, "-m", "test", "-W", module]
        if hx:
            # The suite binds and connects to ports of its choosing: the
            # host's network, as a native run has (hx's default publishes none).
            argv = [hx, "--net", "host"] + argv
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


def main():
    # A background job starts with SIGINT ignored, which its children keep:
    # the suite's tests of Ctrl-C need its default action.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hx", default=os.path.join(os.path.dirname(__file__), "../../target/release/hx-run"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--results", default="python-tests.json")
    ap.add_argument("--output", default=None, help="write the markdown table here")
    ap.add_argument("--only", choices=["native", "hx"], help="run only natively, or only in hx")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    hx = os.path.abspath(args.hx)
    results = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            results = json.load(f)
    named = bool(args.modules)
    modules = args.modules or all_modules()

    def save():
        with open(args.results + ".tmp", "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
        os.replace(args.results + ".tmp", args.results)

    def todo(kind):
        return [m for m in modules if named or kind not in results.get(m, {})]

    for kind in [args.only] if args.only else ["native", "hx"]:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            def job(m):
                if kind == "native":
                    return run_one(m, None, NATIVE_LIMIT)
                native = results.get(m, {}).get("native", {}).get("seconds", 60)
                return run_one(m, hx, native * HX_FACTOR + HX_EXTRA)
            futures = {pool.submit(job, m): m for m in todo(kind)}
            for fut in concurrent.futures.as_completed(futures):
                m = futures[fut]
                r = fut.result()
                results.setdefault(m, {})[kind] = r
                save()
                print(f"{kind:6} {m:40} {r['result']:8} {r['seconds']:7.1f} s "
                      f"{' '.join(r['failed'][:3])}", flush=True)
    if args.output:
        write_table(results, args.output)
    regressions = [m for m, r in results.items()
                   if r.get("native", {}).get("result") == "pass" and r.get("hx", {}).get("result") not in (None, "pass")]
    for m in sorted(regressions):
        h = results[m]["hx"]
        print(f"--- {m}: {h['result']} in hx (status {h['status']}, {h['seconds']} s)")
        for line in h["failed"] + h["hx"] + h["tail"]:
            print("    " + line)
    if regressions:
        print("pass natively, not in hx:", " ".join(sorted(regressions)))
    return 1 if regressions else 0


def write_table(results, path):
    rows = sorted(results.items())
    count = lambda kind, res: sum(1 for _, r in rows if r.get(kind, {}).get("result") == res)
    native_pass = [m for m, r in rows if r.get("native", {}).get("result") == "pass"]
    both = [m for m in native_pass if results[m].get("hx", {}).get("result") == "pass"]
    lines = [
        "# CPython's regression tests inside hx",
        "",
        "Debian's python3 (3.11) and its test suite (`libpython3.11-testsuite`), every module run on its own",
        "(`python3 -m test -W MODULE`, fresh working directory, `PYTHONDONTWRITEBYTECODE=1`): natively, then",
        "under `hx-run --net host` on the trap path (the suite listens on ports of its choosing). Generated by `tests/scripts/python_suite.py --output docs/python-tests.md`.",
        "The musl CPython on the fast libc is not built yet (issue 14): no column for it.",
        "",
        f"- modules: {len(rows)}; natively: {count('native', 'pass')} pass, {count('native', 'skip')} skipped,"
        f" {count('native', 'fail')} fail, {count('native', 'timeout') + count('native', 'crash')} time out or crash",
        f"- in hx: {count('hx', 'pass')} pass, {count('hx', 'skip')} skipped, {count('hx', 'fail')} fail,"
        f" {count('hx', 'timeout')} time out, {count('hx', 'crash')} crash",
        f"- **{len(both)} of the {len(native_pass)} modules that pass natively pass in hx**",
        "",
        "| module | native | hx (trap path) | native s | hx s | why it differs |",
        "|---|---|---|---|---|---|",
    ]
    for m, r in rows:
        n, h = r.get("native", {}), r.get("hx", {})
        why = ""
        if n.get("result") == "pass" and h.get("result") not in (None, "pass"):
            parts = []
            if h.get("failed"):
                parts.append(", ".join(h["failed"][:4]) + (f" (+{h['failed_count'] - 4} more)" if h["failed_count"] > 4 else ""))
            parts += [x.replace("|", "\\|") for x in h.get("hx", [])[:2]]
            if not parts and h.get("tail"):
                parts.append(h["tail"][-1].replace("|", "\\|")[:160])
            why = "; ".join(([REASONS[m]] if m in REASONS else []) + parts)
        elif n.get("result") == "skip":
            why = n.get("skip_reason", "")[:120]
        lines.append(f"| {m} | {n.get('result', '–')} | {h.get('result', '–')} | {n.get('seconds', '')} |"
                     f" {h.get('seconds', '')} | {why} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

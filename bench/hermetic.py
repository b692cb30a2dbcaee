#!/usr/bin/env python3
"""Builds with the host's compilers and image tools hidden give the same bytes.

    python3 -u bench/hermetic.py [--target T ...] [--kernel] [--keep]

In two scratch copies of this checkout (bench.py's `scratch_copy`), builds
the targets (default: `tests/formats:formats`, every output format; `--kernel`
adds the source kernel for amd64, bench.py's `//kernel:bench-amd64`, added to
each copy with `//kernel:linux`'s config) with `--no-pantsd --no-local-cache`,
so that every step runs:

1. in the first copy, as the machine is (its named caches: ccache and the
   kernel's kept build directories);
2. in the second copy, inside a bubblewrap whose view of the host is the same
   except that each of HIDDEN (gcc, cc, make, ld, as, qemu-img, mksquashfs...)
   is replaced by an empty, non-executable file, so a step that ran a host
   tool would fail; with an empty named-caches directory of its own, so the
   kernel compiles from nothing (no ccache hit, no kept object).

It prints a table of every output's sha256 from both runs, the hidden tools
(and what running each gave inside the second run's view), the wall times,
and the toolchain roots' sizes (files and bytes, from the build's own
report). Prints figures, asserts nothing; the scratch copy is deleted unless
--keep.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import KERNEL, KERNEL_TARGET, scratch_copy  # noqa: E402  (bench/bench.py, beside this script)

HIDDEN = (
    "gcc", "cc", "cpp", "gcc-12", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-gcc-12",
    "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-gcc-12", "aarch64-linux-gnu-ld",
    "make", "ld", "ld.bfd", "as", "x86_64-linux-gnu-ld", "x86_64-linux-gnu-as",
    "flex", "bison", "bc", "ccache", "qemu-img", "mksquashfs",
)  # fmt: skip
BIN_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/sbin")


def hidden_paths() -> list[str]:
    return [
        os.path.join(d, t) for t in HIDDEN for d in BIN_DIRS if os.path.lexists(os.path.join(d, t))
    ]


def hiding_bwrap(paths: list[str]) -> list[str]:
    """An outer bwrap: the whole host as it is, each path covered by /dev/null."""
    argv = ["bwrap", "--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc"]
    for real in sorted({os.path.realpath(p) for p in paths}):
        argv += ["--ro-bind", "/dev/null", real]
    return argv + ["--"]


def probe(prefix: list[str], tool: str) -> str:
    """Whether `tool` starts: a shell says 126 (not executable) or 127 (not found)
    when it cannot; any other status is the tool's own answer to --version."""
    r = subprocess.run([*prefix, "sh", "-c", f"{tool} --version"], capture_output=True, text=True)
    return f"hidden (exit {r.returncode})" if r.returncode in (126, 127) else "runs"


def build(repo: Path, prefix: list[str], targets: list[str], *options: str) -> tuple[float, dict[str, str], str]:
    dist = repo / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    argv = [
        *prefix, "./pants", "--no-pantsd", "--no-local-cache", "--no-dynamic-ui",
        "--level=info", *options, "package", *targets,
    ]  # fmt: skip
    start = time.monotonic()
    r = subprocess.run(argv, cwd=repo, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{r.stderr[-4000:]}")
    sums = {}
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        sums[str(path.relative_to(dist))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return elapsed, sums, r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", action="append", default=[])
    ap.add_argument("--kernel", action="store_true", help="also the source kernel for amd64 (a full compile)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    targets = args.target or ["tests/formats:formats"]
    if args.kernel:
        targets.append(KERNEL)
    repo, other = scratch_copy(), scratch_copy()
    if args.kernel:
        for copy in (repo, other):
            with open(copy / "kernel" / "BUILD", "a") as f:
                f.write(KERNEL_TARGET)
    caches = other.parent / "named_caches"
    caches.mkdir()
    try:
        paths = hidden_paths()
        outer = hiding_bwrap(paths)
        print(f"# Hermetic toolchain: {', '.join(targets)}\n")
        print("| host tool | on the host | in the hiding sandbox |\n|---|---|---|")
        for tool in sorted({os.path.basename(p) for p in paths}):
            print(f"| {tool} | {probe([], tool)} | {probe(outer, tool)} |")
        t1, plain, _ = build(repo, [], targets)
        t2, hidden, log = build(other, outer, targets, f"--named-caches-dir={caches}")
        print("\n| output | sha256, host tools present | host tools hidden | same |\n|---|---|---|---|")
        for name in sorted(set(plain) | set(hidden)):
            a, b = plain.get(name, "-"), hidden.get(name, "-")
            print(f"| {name} | {a[:16]} | {b[:16]} | {'yes' if a == b else 'NO'} |")
        print(
            f"\nwall time: {t1:.0f} s with the host tools and the machine's named caches,"
            f" {t2:.0f} s hidden with empty named caches (both --no-local-cache)"
        )
        for line in log.splitlines():
            if "Unpacking toolchain" in line and "Completed" in line:
                print(line.split("[INFO] ")[-1])
    finally:
        if args.keep:
            print(f"kept: {repo}, {other}")
        else:
            shutil.rmtree(repo.parent, ignore_errors=True)
            shutil.rmtree(other.parent, ignore_errors=True)


if __name__ == "__main__":
    main()

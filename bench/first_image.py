#!/usr/bin/env python3
"""A new user's first image: a fresh clone, an empty HOME, then the README's first command.

    python3 -u bench/first_image.py [--ref HEAD] [--target //images:sshd] [--keep]

Clones this checkout at `--ref` into a temporary directory, sets HOME to a new
empty directory (no Pants venv, no Pants store, no named caches: no ccache, no
.deb downloads), runs `./pants --version` (the bootstrap: the Pants venv) and
then `./pants --no-pantsd --no-dynamic-ui package TARGET`, and prints the wall
time with its split by what Pants logged as running (.deb downloads, kernel,
packages, image), each as the span from its first start to its last end (they
overlap where Pants runs them in parallel). PYENV_ROOT, PATH and the machine's
apt and pip configuration are kept: they are the machine, not caches. Prints
figures, asserts nothing; the temporary clone and HOME are deleted unless --keep.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (label, regex on the text after "Starting: " / "Completed: ")
PHASES = [
    ("downloads (.deb, kernel packages)", r"[Ff]etch|[Dd]ownload"),
    ("kernel", r"[Kk]ernel"),
    ("packages", r"LinuxKit package"),
    ("image", r"LinuxKit image"),
]
LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d\d) \[INFO\] (Starting|Completed): (.+)$", re.M)


def seconds(stamp: str) -> float:
    t = datetime.strptime(stamp, "%H:%M:%S.%f")
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--target", default="//images:sshd")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lkr-first-"))
    home, repo = work / "home", work / "repo"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANTS_", "LKR_"))}
    env["HOME"] = str(home)
    env.setdefault("PYENV_ROOT", str(Path.home() / ".pyenv"))
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
        subprocess.run(["git", "checkout", "-q", args.ref], cwd=repo, check=True)
        t0 = time.monotonic()
        boot = subprocess.run(["./pants", "--no-pantsd", "--version"], cwd=repo, env=env,
                              capture_output=True, text=True)
        t1 = time.monotonic()
        if boot.returncode != 0:
            print(boot.stderr[-3000:])
            return 1
        build = subprocess.run(["./pants", "--no-pantsd", "--no-dynamic-ui", "package", args.target],
                               cwd=repo, env=env, capture_output=True, text=True)
        t2 = time.monotonic()
        (work.parent / f"{work.name}.log").write_text(build.stderr)
        if build.returncode != 0:
            print(build.stderr[-3000:])
            return 1
        print(f"target {args.target} at {args.ref}; log: {work.parent / (work.name + '.log')}")
        print("| step | wall time |")
        print("|---|---|")
        print(f"| bootstrap (`./pants --version`: Pants venv) | {t1 - t0:.0f} s |")
        print(f"| `./pants package {args.target}` | {t2 - t1:.0f} s |")
        events = LINE.findall(build.stderr)
        for label, rx in PHASES:
            times = [seconds(s) for s, _, what in events if re.search(rx, what)]
            if times:
                print(f"| - {label}: first start to last end | {max(times) - min(times):.0f} s |")
        print(f"| total | {t2 - t0:.0f} s |")
        print("\nwhat ran (Starting lines):")
        for s, kind, what in events:
            if kind == "Starting":
                print(f"  {s} {what}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

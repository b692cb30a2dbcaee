#!/usr/bin/env python3
"""Affected-only CI: package and test what a change since a base git ref affects.

    build-support/affected.py --base origin/main          # package + test
    build-support/affected.py --base origin/main --list   # print the selection only

Targets are selected by Pants (`--changed-since=BASE
--changed-dependents=transitive`). Targets do not depend on the plugin code
that defines them, nor on the Debian lock as a file, so a change to any
path in EVERYTHING_PATHS selects every target (`::`).

--list prints `mode: all` or `mode: affected`, then one address per line.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A change under one of these rebuilds and retests everything.
EVERYTHING_PATHS = ("linuxkit_rules/", "3rdparty/", "build-support/", "pants", "pants.toml", ".ci/", "BUILD")


def changed_files(base: str) -> list[str]:
    """Files that differ between `base` and the work tree (committed or not), plus untracked ones."""
    diff = subprocess.run(
        ["git", "diff", "--name-only", base], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    return sorted(set(diff) | set(untracked))


def needs_everything(paths: list[str]) -> list[str]:
    """The changed paths that force a full build."""
    return [
        p for p in paths
        if any(p == e or (e.endswith("/") and p.startswith(e)) for e in EVERYTHING_PATHS)
    ]


def affected_targets(base: str) -> list[str]:
    """Targets changed since `base` (work-tree changes included) and their transitive
    dependents. A `linuxkit_package` owns its build.yml and rootfs/ files through its
    one `sources` field, so an edit under pkg/NAME/rootfs/ selects the package."""
    changed = pants(
        "--no-pantsd", f"--changed-since={base}", "--changed-dependents=transitive", "list", capture=True
    ).stdout.split()
    return sorted(set(changed))


def pants(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["./pants", *args], cwd=ROOT, check=True, text=True,
        capture_output=capture, env={**os.environ, "NO_SCIE_WARNING": "1"},
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    parser.add_argument("--list", action="store_true", help="only print the selected targets")
    parser.add_argument("--goals", default="package,test", help="comma-separated Pants goals (default: package,test)")
    args = parser.parse_args(argv)
    paths = changed_files(args.base)
    forcing = needs_everything(paths)
    if forcing:
        print(f"mode: all (changed: {', '.join(forcing[:5])}{' ...' if len(forcing) > 5 else ''})", flush=True)
        selection = ["::"]
        if args.list:
            selection = pants("--no-pantsd", "list", "::", capture=True).stdout.split()
    else:
        print("mode: affected", flush=True)
        selection = affected_targets(args.base)
    if args.list:
        sys.stdout.write("".join(f"{t}\n" for t in selection))
        return 0
    if not selection:
        print("nothing is affected")
        return 0
    goals = [g for g in args.goals.split(",") if g]
    return pants("--no-pantsd", *goals, *selection).returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode or 1)

#!/usr/bin/env python3
"""The kernel matrix report: one table, kernels as rows, checks as columns.

    python3 bench/kernel_matrix.py [--out dist/kernel-matrix] [TEST_TARGET ...]

Runs `pants test --test-output=all` on the matrix tests (default: every
`tests/kernels:matrix-boot` parametrization). Pants re-runs only the tests
whose image changed (a kernel, a check) and shows the others' output from its
cache, so after one kernel changed only that kernel boots again. Kernel facts
(source or prebuilt, suite, flavour) come from `pants peek`; the version is the
guest's `uname -r`. Writes OUT.md, OUT.json and OUT.log (Pants' output) and prints the Markdown with the
run time. Not a test: a failed check is a cell, the script exits 0 unless Pants
could not run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linuxkit_rules.core.reports.kernel_matrix import (  # noqa: E402
    KernelRow,
    flavour_of,
    parse_test_output,
    render_json,
    render_markdown,
)

TESTS = "tests/kernels:matrix-boot"


def pants(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_SCIE_WARNING": "1"}
    return subprocess.run(
        ["./pants", "--no-pantsd", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def peek(addresses: list[str]) -> dict[str, dict]:
    got = pants("peek", *addresses)
    if got.returncode != 0:
        sys.exit(f"pants peek failed:\n{got.stderr[-3000:]}")
    return {t["address"]: t for t in json.loads(got.stdout)}


def absolute(address: str, owner: str) -> str:
    """A field's address as `peek` keys it: ":x" is relative to the owner's directory."""
    address = address.lstrip("/")
    return owner.split(":")[0] + address if address.startswith(":") else address


def describe(rows: dict[str, KernelRow], main_suite: str) -> None:
    """Fill kernel, arch, kind, release and flavour of each row from its targets."""
    tests = peek([f"{TESTS}@image={key}" for key in rows])
    image_of = {a: absolute(t["image"], a) for a, t in tests.items()}
    images = peek(sorted(set(image_of.values())))
    for address, image_address in image_of.items():
        image = images[image_address]
        row = rows[address.split("@image=")[1]]
        row.kernel = absolute(image.get("kernel") or "", image_address)
        row.arch = image.get("arch") or "amd64"
    kernels = peek(sorted({r.kernel for r in rows.values() if r.kernel}))
    config_of = {
        a: absolute(k["config"], a)
        for a, k in kernels.items()
        if k.get("target_type") == "linux_kernel"
    }
    configs = peek(sorted(set(config_of.values()))) if config_of else {}
    for row in rows.values():
        kernel = kernels.get(row.kernel, {})
        if kernel.get("target_type") == "linux_kernel":
            row.kind = "source"
            config = configs.get(config_of.get(row.kernel, ""), {})
            row.release = config.get("suite") or main_suite
            row.flavour = f"{config.get('base', '')} + fragments"
        else:
            row.kind = "prebuilt"
            row.release = kernel.get("suite") or main_suite
            row.flavour = flavour_of(kernel.get("package", "").replace("{arch}", row.arch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="dist/kernel-matrix", help="OUT.md and OUT.json")
    parser.add_argument("tests", nargs="*", default=[TESTS])
    args = parser.parse_args()
    start = time.monotonic()
    run = pants("test", "--test-output=all", *args.tests)
    seconds = time.monotonic() - start
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".log").write_text(run.stdout + run.stderr)
    rows = parse_test_output(run.stdout + run.stderr)
    if not rows:
        sys.exit(f"no matrix results in the pants output:\n{run.stderr[-3000:]}")
    with open(ROOT / "pants.toml", "rb") as f:
        main_suite = tomllib.load(f).get("debian", {}).get("suite", "bookworm")
    describe(rows, main_suite)
    ordered = [rows[k] for k in sorted(rows, key=lambda k: (rows[k].arch, k))]
    out.with_suffix(".md").write_text(render_markdown(ordered))
    out.with_suffix(".json").write_text(render_json(ordered))
    print(render_markdown(ordered))
    print(f"pants test: {seconds:.0f} s (exit {run.returncode}); wrote {args.out}.md and .json")


if __name__ == "__main__":
    main()

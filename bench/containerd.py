#!/usr/bin/env python3
"""What containerd in `init:` costs: //images:sshd with and without it.

    python3 bench/containerd.py [--runs 3]

Builds `//images:sshd` and `//bench:sshd-containerd` (the same
YAML plus `linuxkit/containerd` in `init:`) in this checkout, then boots
each `--runs` times as the boot tests do (QEMU TCG, 1 GiB, kernel+initrd)
and times QEMU start to "linuxkit-rules: services started" on the console.
Prints a markdown table (initrd size, boot medians). Not a test.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linuxkit_rules.core.boot.boottest import BootTestManifest, boot_config  # noqa: E402
from linuxkit_rules.core.boot.qemu import Vm  # noqa: E402

IMAGES = {"runc (no containerd)": ("//images:sshd", "sshd"),
          "containerd in init": ("//bench:sshd-containerd", "sshd-containerd")}  # fmt: skip


def boot_seconds(name: str) -> float:
    work = Path(tempfile.mkdtemp(prefix="lkr-bench-containerd-"))
    try:
        dist = ROOT / "dist"
        m = BootTestManifest(
            media="kernel", format="kernel+initrd", memory=1024,
            kernel=str(dist / f"{name}-kernel"), initrd=str(dist / f"{name}-initrd.img"),
            cmdline_file=str(dist / f"{name}-cmdline"), image_file=None,
        )  # fmt: skip
        with Vm(boot_config(m, str(work), None), log_path=str(work / "console.log")) as vm:
            vm.wait_for("linuxkit-rules: services started", timeout=600)
            return vm.elapsed()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    targets = [t for t, _ in IMAGES.values()]
    subprocess.run([str(ROOT / "pants"), "--no-pantsd", "package", *targets], cwd=ROOT, check=True)
    rows = []
    for label, (_, name) in IMAGES.items():
        size = (ROOT / "dist" / f"{name}-initrd.img").stat().st_size
        times = [boot_seconds(name) for _ in range(args.runs)]
        print(f"{label}: {[round(t, 1) for t in times]}", file=sys.stderr, flush=True)
        rows.append((label, size, statistics.median(times), min(times), max(times)))
    print("| //images:sshd | initrd | QEMU start to services started (median, min-max) |")
    print("|---|---|---|")
    for label, size, med, lo, hi in rows:
        print(f"| {label} | {size / 1e6:.1f} MB | {med:.1f} s ({lo:.1f}-{hi:.1f}) |")
    print(f"\ncontainerd adds {(rows[1][1] - rows[0][1]) / 1e6:.1f} MB to the initrd.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where the boot of the sshd test image goes: a console timeline per variant, then a table.

    python3 bench/boot.py [--runs N] [--variants gzip-1cpu,none-1cpu,gzip-2cpu,none-2cpu]

Builds `//tests:sshd-test@arch=amd64` (the sshd image with the test key; the
kernel built from source) in this checkout, boots it under QEMU (TCG) from the
uncompressed vmlinux (PVH), and times, on the host clock from QEMU's start, the
console milestones and the first SSH login. Variants: the initrd as built
(gzip) or gunzipped (`none`: the kernel copies the cpio without inflating it),
with one or two vCPUs. Prints figures, asserts nothing.
"""
from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linuxkit_rules.core.boot.qemu import QemuConfig, Vm, extract_vmlinux, free_port, wait_for_ssh  # noqa: E402

IMAGE = "//tests:sshd-test@arch=amd64"
# (label, console regex), in the order they appear.
MILESTONES = [
    ("kernel starts", r"Linux version"),
    ("initramfs unpacked", r"Freeing initrd memory|Trying to unpack rootfs"),
    ("/init runs", r"Run /init as init process"),
    ("services started", r"linuxkit-rules: services started"),
]


def boot_once(kernel: Path, initrd: Path, cmdline: str, key: Path, cpus: int, log: Path) -> dict[str, float]:
    port = free_port()
    cfg = QemuConfig(kernel=str(kernel), initrd=str(initrd), cmdline=cmdline, ssh_port=port, cpus=cpus)
    times: dict[str, float] = {}
    with Vm(cfg, log_path=str(log)) as vm:
        start = vm.started_at
        offset = 0
        for label, pattern in MILESTONES:
            try:
                m = vm.wait_for(pattern, timeout=240, start=offset)
            except Exception:  # a milestone the kernel does not print: leave it out
                continue
            times[label] = time.monotonic() - start
            offset = m.end()
        wait_for_ssh(port, str(key), timeout=240)
        times["first SSH login"] = time.monotonic() - start
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default="gzip-1cpu,none-1cpu,gzip-2cpu,none-2cpu")
    args = parser.parse_args()

    subprocess.run(["./pants", "--no-dynamic-ui", "package", IMAGE], cwd=ROOT, check=True, capture_output=True)
    dist = ROOT / "dist"
    work = Path(tempfile.mkdtemp(prefix="lkr-bootbench-"))
    try:
        key = work / "id"
        shutil.copy(ROOT / "tests" / "keys" / "test_ed25519", key)
        key.chmod(0o600)
        bz = (dist / "sshd-test-kernel").read_bytes()
        kernel = work / "vmlinux"
        kernel.write_bytes(extract_vmlinux(bz) or bz)
        initrds = {"gzip": dist / "sshd-test-initrd.img", "none": work / "initrd.cpio"}
        initrds["none"].write_bytes(gzip.decompress(initrds["gzip"].read_bytes()))
        cmdline = (dist / "sshd-test-cmdline").read_text().strip()
        print(f"initrd: gzip {initrds['gzip'].stat().st_size / 1e6:.2f} MB, "
              f"uncompressed {initrds['none'].stat().st_size / 1e6:.2f} MB")

        table = []
        for variant in args.variants.split(","):
            comp, cpus = variant.split("-")
            runs = [boot_once(kernel, initrds[comp], cmdline, key, int(cpus[0]), work / "console.log")
                    for _ in range(args.runs)]
            print(f"\n{variant}: seconds from QEMU start (median of {args.runs})")
            med = {}
            for label in runs[0]:
                vals = [r[label] for r in runs if label in r]
                med[label] = statistics.median(vals)
                print(f"  {med[label]:6.2f}  {label}  ({min(vals):.2f}-{max(vals):.2f})")
            table.append((variant, med))

        print("\n| variant | /init | services started | SSH login | SSH / /init |")
        print("|---|---|---|---|---|")
        for variant, med in table:
            init, ssh = med.get("/init runs", 0.0), med["first SSH login"]
            ratio = f"{ssh / init:.2f}" if init else "-"
            print(f"| {variant} | {init:.2f} s | {med.get('services started', 0.0):.2f} s | {ssh:.2f} s | {ratio} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where the boot of the sshd test image goes: a console timeline per variant, then a table.

    python3 bench/boot.py [--runs N] [--variants gzip-1,none-1,lz4-2,zstd-2] [--image TARGET]

Builds `--image` (default `//tests:sshd-test@arch=amd64`: the sshd image with
the test key, on the kernel built from source) in this checkout, boots it
under QEMU (TCG) from the uncompressed vmlinux (PVH) and times, on the host
clock from QEMU's start, every console line and the first SSH login. A
variant is the initrd's compression (`gzip` as built; `none`, `lz4` (the
kernel's legacy lz4 format) or `zstd`: the same cpio recompressed here) and
the number of vCPUs. Prints, per variant, the milestones of its first run
(with the load average at its start), then the medians as a table. Prints
figures, asserts nothing.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linuxkit_rules.core.boot.qemu import (  # noqa: E402
    BootTimeout,
    QemuConfig,
    Vm,
    extract_vmlinux,
    free_port,
    wait_for_ssh,
)

# (label, console regex), in the order they appear; the table's columns.
MILESTONES = [
    ("kernel starts", r"Linux version"),
    ("initramfs unpack", r"Trying to unpack rootfs|Unpacking initramfs"),
    ("/init", r"Run /init as init process"),
    ("onboot done", r"linuxkit-rules: onboot done"),
    ("services started", r"linuxkit-rules: services started"),
]
# Console lines worth a place in the timeline besides the milestones.
TIMELINE = re.compile(
    r"Linux version|Freeing initrd|Freeing unused kernel|Run /init|linuxkit-rules:|dhcpcd|leased|"
    r"Initramfs unpacking failed|Kernel panic|virtio_net|Unpacking initramfs|Trying to unpack"
)
COMPRESSORS = {
    "none": None,
    "lz4": ["lz4", "-l", "-9", "-c"],  # the kernel reads lz4's legacy frame format only
    "zstd": ["zstd", "-19", "-c"],
}


def replace_in_cpio(cpio: bytes, name: str, data: bytes) -> bytes:
    """`cpio` (newc) with the regular file `name` holding `data` instead."""
    out, pos = bytearray(), 0
    while pos < len(cpio):
        head = cpio[pos : pos + 110]
        namesize, filesize = int(head[94:102], 16), int(head[54:62], 16)
        name_end = pos + 110 + namesize
        data_start = (name_end + 3) & ~3
        data_end = data_start + filesize
        entry = cpio[pos:name_end].decode("latin-1").rstrip("\0")[110:]
        if entry == name:
            head = head[:54] + b"%08X" % len(data) + head[62:]
            out += head + cpio[pos + 110 : data_start] + data + bytes(-len(data) % 4)
        else:
            out += cpio[pos : (data_end + 3) & ~3]
        pos = (data_end + 3) & ~3
        if entry == "TRAILER!!!":
            out += cpio[pos:]
            break
    return bytes(out)


def load() -> str:
    return "%.2f/%.2f/%.2f" % os.getloadavg()


def boot_once(kernel: Path, initrd: Path, cmdline: str, key: Path, cpus: int, log: Path) -> tuple[dict[str, float], list[tuple[float, str]]]:
    port = free_port()
    cfg = QemuConfig(kernel=str(kernel), initrd=str(initrd), cmdline=cmdline, ssh_port=port, cpus=cpus)
    lines: list[tuple[float, str]] = []
    stop = threading.Event()
    with Vm(cfg, log_path=str(log)) as vm:
        start = vm.started_at

        def watch() -> None:  # stamps each console line with the host clock on arrival
            seen = 0
            while not stop.is_set():
                text = vm.console
                end = text.rfind("\n") + 1
                if end > seen:
                    now = time.monotonic() - start
                    lines.extend((now, line) for line in text[seen:end].splitlines())
                    seen = end
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        wait_for_ssh(port, str(key), timeout=240)
        ssh = time.monotonic() - start
        time.sleep(0.1)
        stop.set()
        watcher.join()
    times: dict[str, float] = {}
    for label, pattern in MILESTONES:
        rx = re.compile(pattern)
        hit = next((t for t, line in lines if rx.search(line)), None)
        if hit is not None:
            times[label] = hit
    times["SSH login"] = ssh
    return times, [(t, line) for t, line in lines if TIMELINE.search(line)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default="gzip-1,none-1,lz4-1,zstd-1,gzip-2,none-2,lz4-2,zstd-2")
    parser.add_argument("--image", default="//tests:sshd-test@arch=amd64")
    parser.add_argument("--no-build", action="store_true", help="boot what dist/ holds")
    parser.add_argument("--init", help="a stage-1 script to put in place of the image's /init "
                        "(e.g. an earlier pkg/init/rootfs/init from git), for a before/after")
    args = parser.parse_args()

    if not args.no_build:
        subprocess.run(["./pants", "--no-dynamic-ui", "package", args.image], cwd=ROOT, check=True, capture_output=True)
    name = args.image.split(":")[-1].split("@")[0]
    dist = ROOT / "dist"
    work = Path(tempfile.mkdtemp(prefix="lkr-bootbench-"))
    try:
        key = work / "id"
        shutil.copy(ROOT / "tests" / "keys" / "test_ed25519", key)
        key.chmod(0o600)
        bz = (dist / f"{name}-kernel").read_bytes()
        kernel = work / "vmlinux"
        kernel.write_bytes(extract_vmlinux(bz) or bz)
        cpio = gzip.decompress((dist / f"{name}-initrd.img").read_bytes())
        initrds = {"gzip": dist / f"{name}-initrd.img", "none": work / "initrd.cpio"}
        if args.init:
            cpio = replace_in_cpio(cpio, "init", Path(args.init).read_bytes())
            initrds["gzip"] = work / "initrd.cpio.gz"
            initrds["gzip"].write_bytes(gzip.compress(cpio, 6))
        initrds["none"].write_bytes(cpio)
        for comp, argv in COMPRESSORS.items():
            if argv and any(v.startswith(comp + "-") for v in args.variants.split(",")):
                initrds[comp] = work / f"initrd.cpio.{comp}"
                initrds[comp].write_bytes(subprocess.run(argv, input=cpio, capture_output=True, check=True).stdout)
        cmdline = (dist / f"{name}-cmdline").read_text().strip()
        print(f"{args.image}; initrd: " + ", ".join(f"{c} {p.stat().st_size / 1e6:.2f} MB" for c, p in initrds.items()))

        table = []
        for variant in args.variants.split(","):
            comp, cpus = variant.split("-")
            runs, loads = [], []
            for i in range(args.runs):
                loads.append(load())
                try:
                    times, timeline = boot_once(kernel, initrds[comp], cmdline, key, int(cpus), work / "console.log")
                except BootTimeout as e:  # reported, and the other runs go on
                    tail = (work / "console.log").read_text(errors="replace").splitlines()[-5:]
                    print(f"\n{variant} run {i + 1}: {e}; console ends:\n  " + "\n  ".join(tail))
                    continue
                runs.append(times)
                if len(runs) == 1:
                    print(f"\n{variant}: console timeline of run {i + 1} (host clock from QEMU start; load {loads[-1]})")
                    for t, line in timeline:
                        print(f"  {t:6.2f}  {line.strip()[:100]}")
            if not runs:
                print(f"{variant}: no run reached SSH")
                continue
            print(f"{variant}: medians of {len(runs)} runs (min-max); load at each start: {', '.join(loads)}")
            med = {}
            for label in runs[0]:
                vals = [r[label] for r in runs if label in r]
                med[label] = statistics.median(vals)
                print(f"  {med[label]:6.2f}  {label}  ({min(vals):.2f}-{max(vals):.2f})")
            table.append((variant, med, loads))

        cols = [label for label, _ in MILESTONES] + ["SSH login"]
        print(f"\nMedians of {args.runs} runs, seconds from QEMU start:\n")
        print("| initrd, vCPUs | " + " | ".join(cols) + " | SSH / /init | load (1 min) at starts |")
        print("|---" * (len(cols) + 3) + "|")
        for variant, med, loads in table:
            init, ssh = med.get("/init"), med["SSH login"]
            ratio = f"{ssh / init:.2f}" if init else "-"
            cells = [f"{med[c]:.2f}" if c in med else "-" for c in cols]
            load1 = ", ".join(lo.split("/")[0] for lo in loads)
            print(f"| {variant.replace('-', ', ')} | " + " | ".join(cells) + f" | {ratio} | {load1} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Size, build time and boot-to-SSH time of every output format of //images:sshd.

    python3 bench/formats.py [--formats iso-bios,raw-efi,...] [--no-boot] [--json bench/formats.json]

Works in a scratch copy of this checkout (bench/bench.py's), where
images/BUILD's `sshd` target is rewritten to build one format at a time and
the test key (tests/keys) is written to images/authorized_keys so the bench
can log in. Not a test: it prints a markdown table and writes JSON.

- build: the packages and kernel are built once first (warm cache). For each
  format, a comment appended to images/sshd.yml changes the image step's
  inputs (and nothing else), `pants package //images:sshd` runs with pantsd,
  and the time of a second, fully cached run of the same command (Pants'
  own overhead) is subtracted. Each figure includes assembling the root
  filesystem from the packages.
- size: the bytes of the format's output files (the SBOM excluded).
- boot: QEMU (TCG, 1 GiB, 1 CPU) started as the boot tests start it
  (linuxkit_rules/core/boot/boottest.py; EFI with the host's /usr/share/OVMF), then
  seconds until the console says "services started" and until an SSH login
  as root succeeds. One QEMU at a time.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import Pants, machine, scratch_copy  # noqa: E402

from linuxkit_rules.core.boot.boottest import BootTestManifest, boot_config  # noqa: E402
from linuxkit_rules.core.media.formats import FORMAT_NAMES, Format  # noqa: E402
from linuxkit_rules.core.boot.qemu import Vm, free_port, wait_for_ssh  # noqa: E402

OVMF = Path("/usr/share/OVMF")


def pants_package(pants: Pants) -> float:
    """`pants package //images:sshd` with pantsd; seconds. A pantsd that does not
    come up within Pants' 60 s on a loaded machine gets two more tries."""
    for attempt in range(3):
        try:
            return pants.run("package", "//images:sshd", pantsd=True)[0]
        except SystemExit as e:
            if "waiting for pantsd to start" not in str(e) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def set_format(repo: Path, fmt: str) -> None:
    build = repo / "images" / "BUILD"
    text = build.read_text()
    start = text.index('linuxkit_image(name="sshd"')
    end = text.index(")", start) + 1
    build.write_text(text[:start] + f'linuxkit_image(name="sshd", source="sshd.yml", formats=["{fmt}"])' + text[end:])


def touch_yaml(repo: Path, n: int) -> None:
    with open(repo / "images" / "sshd.yml", "a", encoding="utf-8") as f:
        f.write(f"# bench/formats.py run {n} {time.time()}\n")


def output_sizes(repo: Path, fmt: Format) -> dict[str, int]:
    return {name: (repo / "dist" / name).stat().st_size for name in fmt.outputs("sshd")}


def boot(repo: Path, fmt: Format, key: Path) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="lkr-bench-boot-"))
    try:
        files = {k: str(repo / "dist" / v) for k, v in fmt.boot_files("sshd").items()}
        m = BootTestManifest(
            media=fmt.boot_media(), format=fmt.value, memory=1024,
            kernel=files.get("kernel"), initrd=files.get("initrd"),
            cmdline_file=files.get("cmdline"), image_file=files.get("image"),
        )  # fmt: skip
        port = free_port()
        cfg = boot_config(m, str(work), port)
        if fmt.firmware() == "efi":
            vars_copy = work / "vars.fd"
            shutil.copyfile(OVMF / "OVMF_VARS_4M.fd", vars_copy)
            cfg = replace(cfg, efi_code=str(OVMF / "OVMF_CODE_4M.fd"), efi_vars=str(vars_copy))
        with Vm(cfg, log_path=str(work / "console.log")) as vm:
            vm.wait_for("linuxkit-rules: services started", timeout=600)
            services = vm.elapsed()
            wait_for_ssh(port, str(key), timeout=300)
            return {"services_s": round(services, 1), "ssh_s": round(vm.elapsed(), 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default=",".join(FORMAT_NAMES))
    parser.add_argument("--no-boot", action="store_true")
    parser.add_argument("--json", default=str(ROOT / "bench" / "formats.json"))
    args = parser.parse_args()
    formats = [Format.parse(f, "--formats") for f in args.formats.split(",")]
    repo = scratch_copy()
    pants = Pants(repo)
    key = repo.parent / "id"
    shutil.copyfile(repo / "tests" / "keys" / "test_ed25519", key)
    key.chmod(0o600)
    shutil.copyfile(repo / "tests" / "keys" / "test_ed25519.pub", repo / "images" / "authorized_keys")
    results: dict[str, dict[str, Any]] = {}
    try:
        set_format(repo, "kernel+initrd")
        pants_package(pants)  # packages and kernel: warm
        for n, fmt in enumerate(formats):
            set_format(repo, fmt.value)
            touch_yaml(repo, n)
            wall = pants_package(pants)
            noop = pants_package(pants)
            sizes = output_sizes(repo, fmt)
            row: dict[str, Any] = {"build_s": round(wall - noop, 1), "pants_noop_s": round(noop, 1), "sizes": sizes}
            if not args.no_boot and fmt.boot_media() != "none" and (fmt.firmware() != "efi" or OVMF.is_dir()):
                row.update(boot(repo, fmt, key))
            results[fmt.value] = row
            print(f"{fmt.value}: {row}", file=sys.stderr, flush=True)
    finally:
        pants.stop_pantsd()
        shutil.rmtree(repo.parent, ignore_errors=True)
    print(f"Machine: {machine()}\n")
    print("| format | output | size | build (warm packages) | boot to services | boot to SSH login |")
    print("|---|---|---|---|---|---|")
    for name, row in results.items():
        files = ", ".join(f"`{f}` {s / 1e6:.1f} MB" for f, s in row["sizes"].items())
        total = sum(row["sizes"].values()) / 1e6
        boot_s = f"{row['services_s']} s" if "services_s" in row else "-"
        ssh_s = f"{row['ssh_s']} s" if "ssh_s" in row else "-"
        print(f"| `{name}` | {files} | {total:.1f} MB | {row['build_s']} s | {boot_s} | {ssh_s} |")
    Path(args.json).write_text(json.dumps({"machine": machine(), "formats": results}, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Boots an image in QEMU, waits until it is up, runs a check script against it.

Run by `pants test` through `tool.py boottest`; also `python -m
linuxkit_rules.core.boot.boottest wait-console REGEX [SECONDS]`, which check
scripts call as `$WAIT_CONSOLE` to wait for a line on the serial console.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping

from linuxkit_rules.core.arch import DEFAULT_ARCH, Arch
from linuxkit_rules.core.boot.disk_size import make_blank_disk, parse_size
from linuxkit_rules.core.boot.lifetime import Reaper, kill_group, start_child, stop_on_signals
from linuxkit_rules.core.boot.qemu import (
    QemuConfig,
    Vm,
    extract_vmlinux,
    free_port,
    scsi_disk_args,
    ssh_argv,
    wait_for_ssh,
)
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.manifest import Manifest
from linuxkit_rules.core.media.firmware import extract_ovmf
from linuxkit_rules.core.media.formats import SQUASHFS_ROOT

CONSOLE = "console.log"


@dataclass(frozen=True)
class BootTestManifest(Manifest):
    """`tool boottest`: which files boot (paths in the sandbox), how, and the check."""

    command = "boottest"

    format: str
    media: str  # Format.boot_media(): kernel, squashfs, cdrom, disk or gcp
    memory: int  # MiB
    firmware: str = "bios"  # or efi, which needs `ovmf_deb`
    kernel: str | None = None
    initrd: str | None = None
    cmdline_file: str | None = None
    image_file: str | None = None
    ovmf_deb: str | None = None
    arch: str = DEFAULT_ARCH.value
    script: str = ""
    ssh_key: str | None = None
    ready: str = ""  # console regex that says the guest is up
    disk_size: int | None = None  # bytes of a blank scratch disk
    disk_interface: str = "virtio"  # the scratch disk's: virtio (/dev/vda) or scsi (/dev/sda)
    boots: int = 1
    qemu: str = ""
    ssh: str = ""
    timeout: float = 600.0


class BootTestFailed(LinuxkitError):
    pass


def _private_key(path: str, workdir: str) -> str:
    """ssh refuses a key others can read; the sandbox copy may be 0644."""
    dest = os.path.join(workdir, "id")
    shutil.copyfile(path, dest)
    os.chmod(dest, 0o600)
    return dest


def _unpack_gcp(path: str, workdir: str) -> str:
    """The `disk.raw` of a GCE image tarball."""
    with tarfile.open(path, "r:gz") as tf:
        member = tf.getmember("disk.raw")
        src = tf.extractfile(member)
        assert src is not None
        dest = os.path.join(workdir, "disk.raw")
        with open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    return dest


def _file(m: BootTestManifest, name: str) -> str:
    path = getattr(m, name)
    if not path:
        raise BootTestFailed(f"format {m.format!r}: the boot test has no {name}")
    return os.path.abspath(path)


def boot_config(m: BootTestManifest, workdir: str, port: int | None) -> QemuConfig:
    """The QEMU configuration that boots the image as its format says (`media`, `firmware`)."""
    media = m.media
    efi_code = efi_vars = ""
    if m.firmware == "efi":
        efi_code, efi_vars = extract_ovmf(_file(m, "ovmf_deb"), workdir)
    arch = Arch.parse(m.arch or DEFAULT_ARCH.value, "boot test")
    common: dict[str, Any] = dict(
        arch=arch, memory_mb=int(m.memory), ssh_port=port, efi_code=efi_code, efi_vars=efi_vars
    )
    if media in ("kernel", "squashfs"):
        with open(_file(m, "cmdline_file"), encoding="utf-8") as f:
            cmdline = f.read().strip()
        kernel = _file(m, "kernel")
        disks: tuple[str, ...] = ()
        extra: tuple[str, ...] = ()
        if media == "squashfs":
            # As `linuxkit run qemu` boots it, but from the first virtio disk.
            cmdline = f"{cmdline} root={SQUASHFS_ROOT}"
            disks, extra = (_file(m, "image_file"),), ("-snapshot",)
        return QemuConfig(
            # arm64's kernel output is already the uncompressed Image.
            kernel=_fast_kernel(kernel, workdir) if arch is Arch.AMD64 else kernel,
            initrd=_file(m, "initrd"),
            cmdline=cmdline,
            disks=disks,
            extra=extra,
            **common,
        )
    image = _file(m, "image_file")
    if media == "cdrom":
        return QemuConfig(cdrom=image, **common)
    if media == "gcp":
        image = _unpack_gcp(image, workdir)
    elif media != "disk":
        raise BootTestFailed(f"format {m.format!r} does not boot by itself")
    # -snapshot: the guest's writes go to a temporary file, never to the output.
    return QemuConfig(disks=(image,), extra=("-snapshot",), **common)


def run_boot_test(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """Boot, check, repeat. Stopped by a signal or killed, it leaves no QEMU, no
    check script and no scratch directory behind (core/boot/lifetime.py)."""
    m = BootTestManifest.from_json(manifest)
    reaper = Reaper()  # first, before any thread or child exists
    try:
        with stop_on_signals():
            return _run_boot_test(m, reaper)
    finally:
        reaper.close()


def _run_boot_test(m: BootTestManifest, reaper: Reaper) -> Mapping[str, Any]:
    deadline = time.monotonic() + float(m.timeout)
    workdir = tempfile.mkdtemp(prefix="lkr-boottest-")
    reaper.path(workdir)
    try:
        key = _private_key(m.ssh_key, workdir) if m.ssh_key else None
        port = free_port() if key else None
        cfg = boot_config(m, workdir, port)
        if m.disk_size:
            # A blank raw disk, new for every test run, after any boot disk.
            scratch = os.path.join(workdir, "scratch.raw")
            make_blank_disk(scratch, parse_size(str(m.disk_size), "disk_size"))
            if m.disk_interface == "scsi":
                cfg = replace(cfg, extra=cfg.extra + scsi_disk_args(scratch))
            else:
                cfg = replace(cfg, disks=cfg.disks + (scratch,))
        report: dict[str, Any] = {}
        boots = m.boots or 1
        for boot in range(1, boots + 1):
            if boot > 1:
                # Keep the earlier boot's console; $CONSOLE is always the current boot's.
                os.replace(CONSOLE, f"console-boot{boot - 1}.log")
            _boot_once(m, cfg, key, port, boot, boots, deadline, report, reaper)
        print(f"{m.script} passed")
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _boot_once(
    m: BootTestManifest,
    cfg: QemuConfig,
    key: str | None,
    port: int | None,
    boot: int,
    boots: int,
    deadline: float,
    report: dict[str, Any],
    reaper: Reaper | None = None,
) -> None:
    """One boot: wait for `ready` (and SSH), run the script with $BOOT set; on all
    but the last boot the script powers the guest off and QEMU must exit."""
    start = time.monotonic()
    suffix = f"_{boot}" if boots > 1 else ""
    with Vm(cfg, qemu=m.qemu, log_path=os.path.abspath(CONSOLE), reaper=reaper) as vm:
        vm.wait_for(m.ready, timeout=deadline - time.monotonic())
        report["ready_s" + suffix] = round(time.monotonic() - start, 2)
        print(f"boot {boot}: guest ready after {report['ready_s' + suffix]} s")
        env = dict(os.environ)
        env["BOOT"] = str(boot)
        env["ARCH"] = m.arch or DEFAULT_ARCH.value  # the image's: amd64 or arm64
        env["CONSOLE"] = os.path.abspath(CONSOLE)
        env[
            "WAIT_CONSOLE"
        ] = f"{shlex.quote(sys.executable)} -m linuxkit_rules.core.boot.boottest wait-console"
        env["PYTHONPATH"] = os.path.abspath(".")
        if key and port:
            try:
                wait_for_ssh(
                    port,
                    key,
                    timeout=min(_ssh_budget(m), deadline - time.monotonic()),
                    ssh=m.ssh,
                )
            except LinuxkitError as e:
                raise BootTestFailed(f"{e}; console:\n" + _tail(CONSOLE, 40)) from None
            report["ssh_s" + suffix] = round(time.monotonic() - start, 2)
            print(f"boot {boot}: ssh login after {report['ssh_s' + suffix]} s")
            env["SSH"] = " ".join(shlex.quote(a) for a in ssh_argv(port, key, "", ssh=m.ssh)[:-1])
        returncode = run_check(["/bin/sh", "-eu", m.script], env, deadline, reaper)
        if returncode != 0:
            raise BootTestFailed(
                f"{m.script} exited {returncode} on boot {boot}; console:\n" + _tail(CONSOLE, 40)
            )
        if boot < boots:
            try:
                vm.wait_exit(min(120.0, max(1.0, deadline - time.monotonic())))
            except LinuxkitError as e:
                raise BootTestFailed(
                    f"boot {boot} of {boots}: the script must power the guest off: {e}"
                ) from None


def run_check(
    argv: list[str], env: Mapping[str, str], deadline: float, reaper: Reaper | None = None
) -> int:
    """Run the check script in its own process group; at the deadline, or when
    this process is stopped, the whole group (ssh clients included) is killed."""
    proc = start_child(argv, env=dict(env))
    if reaper is not None:
        reaper.group(proc.pid)
    try:
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise BootTestFailed(
            f"{argv[-1]} still running at the test's deadline; it and its children were stopped"
        ) from None
    finally:
        kill_group(proc, timeout=2)


def _ssh_budget(m: BootTestManifest) -> float:
    """Seconds to wait for SSH after the console says ready: emulating arm64 on an
    x86 host is several times slower than amd64 under TCG (sshd's first start
    makes its host keys)."""
    return 180.0 if (m.arch or DEFAULT_ARCH.value) == Arch.AMD64.value else 480.0


def _fast_kernel(bzimage: str, workdir: str) -> str:
    """The uncompressed vmlinux, which QEMU boots through PVH in half the time."""
    with open(bzimage, "rb") as f:
        vmlinux = extract_vmlinux(f.read())
    if vmlinux is None:
        return bzimage
    path = os.path.join(workdir, "vmlinux")
    with open(path, "wb") as f:
        f.write(vmlinux)
    return path


def _tail(path: str, n: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no console output)"


def wait_console(pattern: str, seconds: float, path: str) -> bool:
    regex = re.compile(pattern)
    deadline = time.monotonic() + seconds
    while True:
        with open(path, encoding="utf-8", errors="replace") as f:
            if regex.search(f.read()):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "wait-console":
        secs = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
        ok = wait_console(sys.argv[2], secs, os.environ.get("CONSOLE", CONSOLE))
        if not ok:
            print(f"console did not match {sys.argv[2]!r} within {secs} s", file=sys.stderr)
        sys.exit(0 if ok else 1)
    print(
        "usage: python -m linuxkit_rules.core.boot.boottest wait-console REGEX [SECONDS]",
        file=sys.stderr,
    )
    sys.exit(64)

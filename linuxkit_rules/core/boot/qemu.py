"""Run a LinuxKit image in QEMU (TCG), watch its serial console, log in by SSH.

Pure Python plus subprocess: boot tests and the `run` goal call this; it never
imports Pants.
"""
from __future__ import annotations

import lzma
import os
import re
import socket
import subprocess
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import IO, Deque, Sequence

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.core.boot.lifetime import Reaper, kill_group, start_child
from linuxkit_rules.core.errors import LinuxkitError

__all__ = ["Arch", "BootTimeout", "QemuConfig", "Vm", "qemu_argv"]


class BootTimeout(LinuxkitError):
    """The console did not show what was awaited in time (or QEMU exited)."""


@dataclass(frozen=True)
class QemuConfig:
    kernel: str = ""  # empty: boot from firmware (cdrom or the first disk)
    initrd: str = ""
    cmdline: str = ""
    arch: Arch = Arch.AMD64
    memory_mb: int = 1024
    cpus: int = 1
    accel: str = "tcg"
    ssh_port: int | None = None  # host 127.0.0.1:PORT -> guest :22
    disks: tuple[str, ...] = ()  # raw, qcow2, VHD or VMDK files as virtio disks
    extra: tuple[str, ...] = ()
    cdrom: str = ""  # an ISO on the CD drive
    # UEFI: OVMF code (read-only) and a writable copy of its variable store;
    # empty: SeaBIOS, QEMU's default.
    efi_code: str = ""
    efi_vars: str = ""


def _disk_format(path: str) -> str:
    """QEMU's name for a disk file's format, from its magic numbers: a dynamic VHD
    starts with its footer's cookie, a fixed one ends with it."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head == b"QFI\xfb":
            return "qcow2"
        if head == b"KDMV":
            return "vmdk"
        if head + f.read(4) == b"conectix":
            return "vpc"
        size = os.fstat(f.fileno()).st_size
        if size >= 1024:
            f.seek(size - 512)
            if f.read(8) == b"conectix":
                return "vpc"
    return "raw"


def _format_by_name(path: str) -> str:
    """For a disk not yet in place (`pants run` writes the command line first)."""
    for suffix, fmt in ((".qcow2", "qcow2"), (".vhd", "vpc"), (".vmdk", "vmdk")):
        if path.endswith(suffix):
            return fmt
    return "raw"


def scsi_disk_args(path: str) -> tuple[str, ...]:
    """A raw disk on a virtio-scsi controller: the guest's first SCSI disk, /dev/sda."""
    return (
        "-device",
        "virtio-scsi-pci,id=scsi0",
        "-drive",
        f"file={path},format=raw,if=none,id=scsidisk0",
        "-device",
        "scsi-hd,drive=scsidisk0,bus=scsi0.0",
    )


def qemu_argv(cfg: QemuConfig, qemu: str | None = None) -> list[str]:
    """The QEMU command line: no display, serial console on stdio, exit on reboot,
    user networking (virtio-net) with SSH forwarded from 127.0.0.1 only."""
    argv = [qemu or cfg.arch.qemu_binary()]
    argv += cfg.arch.machine_args()
    argv += ["-accel", cfg.accel, "-m", str(cfg.memory_mb), "-smp", str(cfg.cpus)]
    # -nographic: first serial port (and the monitor, muxed) on stdio
    argv += ["-nographic", "-no-reboot"]
    if cfg.efi_code:
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={cfg.efi_code}"]
        argv += ["-drive", f"if=pflash,format=raw,unit=1,file={cfg.efi_vars}"]
    if cfg.kernel:
        argv += ["-kernel", cfg.kernel]
    if cfg.cdrom:
        argv += cfg.arch.cdrom_args(cfg.cdrom)
    if cfg.initrd:
        argv += ["-initrd", cfg.initrd]
    if cfg.cmdline:
        argv += ["-append", cfg.cmdline]
    netdev = "user,id=net0"
    if cfg.ssh_port is not None:
        netdev += f",hostfwd=tcp:127.0.0.1:{cfg.ssh_port}-:22"
    argv += ["-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"]
    argv += ["-device", "virtio-rng-pci"]
    for i, disk in enumerate(cfg.disks):
        fmt = _disk_format(disk) if os.path.exists(disk) else _format_by_name(disk)
        argv += ["-drive", f"file={disk},format={fmt},if=virtio,index={i}"]
    argv += list(cfg.extra)
    return argv


class Vm:
    """A running QEMU; use as a context manager so QEMU never outlives it.

    The console (QEMU's stdout+stderr) is read by a thread into a log file and
    a buffer that `wait_for` searches."""

    def __init__(
        self, cfg: QemuConfig, log_path: str, qemu: str | None = None, reaper: Reaper | None = None
    ) -> None:
        self.cfg = cfg
        self.reaper = reaper
        self.argv = qemu_argv(cfg, qemu)
        self.log_path = log_path
        self.started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._text = ""
        self._lines: Deque[str] = deque(maxlen=50)
        self._partial = ""
        self._cond = threading.Condition()
        self._eof = False
        self._reader: threading.Thread | None = None
        self._log: IO[str] | None = None

    def __enter__(self) -> Vm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")
        self.started_at = time.monotonic()
        try:
            # Its own process group, killed by the kernel if this process dies.
            self._proc = start_child(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            if self.reaper is not None:
                self.reaper.group(self._proc.pid)
        except FileNotFoundError:
            self._log.close()
            raise LinuxkitError(
                f"{self.argv[0]}: not found; install QEMU (Debian: {self.cfg.arch.qemu_package()})"
            ) from None
        self._reader = threading.Thread(target=self._read, name="qemu-console", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            text = chunk.decode("utf-8", errors="replace").replace("\r", "")
            with self._cond:
                if self._log is not None:
                    self._log.write(text)
                    self._log.flush()
                self._text += text
                parts = (self._partial + text).split("\n")
                self._partial = parts.pop()
                self._lines.extend(parts)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def console(self) -> str:
        with self._cond:
            return self._text

    def elapsed(self) -> float:
        """Seconds since QEMU was started."""
        return time.monotonic() - self.started_at

    def tail(self) -> str:
        with self._cond:
            lines = list(self._lines) + ([self._partial] if self._partial else [])
        return "\n".join(lines[-50:])

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """Wait until `pattern` (a regex) appears in the console after offset `start`."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._text, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "QEMU exited" if self._eof else f"not seen after {timeout:.0f}s"
                    rc = None
                    if self._eof and self._proc is not None:
                        try:  # stdout closed: QEMU is exiting, get its status
                            rc = self._proc.wait(5)
                        except subprocess.TimeoutExpired:
                            pass
                    raise BootTimeout(
                        f"console pattern {pattern!r}: {why}"
                        + (f" (exit status {rc})" if rc is not None else "")
                        + f"; log: {self.log_path}; last console lines:\n{self.tail_locked()}"
                    )
                self._cond.wait(min(left, 1.0))

    def tail_locked(self) -> str:
        lines = list(self._lines) + ([self._partial] if self._partial else [])
        return "\n".join(lines[-50:])

    def wait_exit(self, timeout: float) -> int:
        """Wait for QEMU to exit by itself (poweroff, reboot with -no-reboot)."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BootTimeout(
                f"QEMU still running {timeout:.0f}s after shutdown; last console lines:\n{self.tail()}"
            ) from None

    def close(self) -> None:
        proc = self._proc
        if proc is not None:
            kill_group(proc, timeout=0)
        if self._reader is not None:
            self._reader.join(5)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        with self._cond:
            if self._log is not None:
                self._log.close()
                self._log = None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ssh_argv(port: int, key: str, command: str, ssh: str = "ssh") -> list[str]:
    """Non-interactive root login on 127.0.0.1:port with `key`; host keys are
    made at first boot, so they are neither checked nor remembered."""
    return [
        ssh,
        "-p", str(port),
        "-i", key,
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=5",
        "root@127.0.0.1",
        command,
    ]  # fmt: skip


def wait_for_ssh(
    port: int, key: str, timeout: float, command: str = "true", ssh: str = "ssh"
) -> float:
    """Retry an SSH login until `command` exits 0; seconds it took. Raises
    BootTimeout with the last SSH error when `timeout` passes."""
    start = time.monotonic()
    last = ""
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            raise BootTimeout(
                f"ssh root@127.0.0.1 -p {port} {command!r}: no success in {timeout:.0f}s: {last}"
            )
        try:
            r = subprocess.run(
                ssh_argv(port, key, command, ssh),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=max(1.0, min(left, 30.0)),
            )
        except subprocess.TimeoutExpired:
            last = "timed out"
            continue
        if r.returncode == 0:
            return time.monotonic() - start
        last = (r.stderr.decode(errors="replace").strip() or f"exit status {r.returncode}")[-500:]
        time.sleep(0.5)


_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _decompress_xz(data: bytes) -> bytes | None:
    try:
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    except lzma.LZMAError:
        return None


def _decompress_gzip(data: bytes) -> bytes | None:
    try:
        # the stream is followed by the rest of the bzImage: stop at its end
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data)
    except zlib.error:
        return None


def _decompress_zstd(data: bytes) -> bytes | None:
    try:
        import zstandard  # type: ignore[import]
    except ImportError:
        return None
    try:
        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    except zstandard.ZstdError:
        return None


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """The uncompressed ELF vmlinux inside a bzImage (xz or gzip; zstd when the
    `zstandard` module is there), or None. QEMU boots it with `-kernel` through
    PVH, which skips the kernel's own decompression (slow under TCG)."""
    for magic, decompress in (
        (_XZ_MAGIC, _decompress_xz),
        (_GZIP_MAGIC, _decompress_gzip),
        (_ZSTD_MAGIC, _decompress_zstd),
    ):
        pos = bzimage.find(magic)
        while pos != -1:
            out = decompress(bzimage[pos:])
            if out is not None and out[:4] == b"\x7fELF":
                return out
            pos = bzimage.find(magic, pos + 1)
    return None


_SUPERVISOR = r"""
size=$1 disk=$2
shift 2
if [ -n "$disk" ]; then truncate -s "$size" "$disk" || exit 1; fi
parent=$PPID
child=
stop() {
    [ -n "$child" ] || return 0
    kill -TERM "$child" 2>/dev/null
    i=0
    while kill -0 "$child" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$child" 2>/dev/null
}
finish() { if [ -n "$disk" ]; then rm -f "$disk"; fi; }
# The traps come before the child exists, so no signal finds the shell without them.
trap 'stop; finish; exit 143' TERM
trap 'stop; finish; exit 130' INT
trap 'stop; finish; exit 129' HUP
exec 3<&0
"$@" <&3 3<&- &
child=$!
while kill -0 "$child" 2>/dev/null; do
    # Field 4 of /proc/self/stat is the current parent: it changes when ours dies.
    read -r _ _ _ now _ </proc/$$/stat
    if [ "$now" != "$parent" ]; then stop; break; fi
    sleep 1
done
wait "$child"
status=$?
finish
exit $status
"""


def supervised(argv: Sequence[str], blank_disk: tuple[str, int] | None = None) -> list[str]:
    """`argv` (QEMU) under a small sh supervisor, for `pants run`: it first makes
    the sparse blank disk (`(path, size)`, whose directory exists only once the
    run starts), stops QEMU when it gets SIGTERM, SIGINT or SIGHUP or when its
    parent (Pants) dies, even by SIGKILL, and removes the blank disk when QEMU
    ends. QEMU keeps the terminal: it gets the supervisor's stdin."""
    path, size = blank_disk if blank_disk else ("", 0)
    return ["/bin/sh", "-c", _SUPERVISOR, "lkr-supervisor", str(size), path, *argv]

from __future__ import annotations

import glob
import gzip
import lzma
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linuxkit_rules.core.boot.qemu import (
    Arch,
    BootTimeout,
    QemuConfig,
    Vm,
    extract_vmlinux,
    free_port,
    qemu_argv,
    scsi_disk_args,
    ssh_argv,
    supervised,
    wait_for_ssh,
)

# The hand-assembled prototype (helper D); boot tests skip when it is absent.
PROTO = Path("/tmp/proto/out")
VMLINUZ = sorted(glob.glob(str(PROTO / "vmlinuz-*")))
INITRD = PROTO / "initrd.img"
KEY = Path("/tmp/proto/key")

FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 64


def _option(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_qemu_argv_amd64_defaults() -> None:
    argv = qemu_argv(QemuConfig(kernel="k", initrd="i", cmdline="console=ttyS0"))
    assert argv[0] == "qemu-system-x86_64"
    assert _option(argv, "-accel") == ["tcg"]
    assert _option(argv, "-m") == ["1024"]
    assert _option(argv, "-smp") == ["1"]
    assert _option(argv, "-kernel") == ["k"]
    assert _option(argv, "-initrd") == ["i"]
    assert _option(argv, "-append") == ["console=ttyS0"]
    assert "-nographic" in argv and "-no-reboot" in argv
    assert _option(argv, "-netdev") == ["user,id=net0"]
    assert "hostfwd" not in " ".join(argv)


def test_qemu_argv_ssh_forward_is_loopback_only() -> None:
    argv = qemu_argv(QemuConfig(kernel="k", ssh_port=2222))
    assert _option(argv, "-netdev") == ["user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22"]


def test_qemu_argv_omits_empty_initrd_and_cmdline_and_keeps_extra_last() -> None:
    argv = qemu_argv(QemuConfig(kernel="k", extra=("-s", "-S")), qemu="/opt/q")
    assert argv[0] == "/opt/q"
    assert "-initrd" not in argv and "-append" not in argv
    assert argv[-2:] == ["-s", "-S"]


def test_qemu_argv_arm64_and_disks(tmp_path: Path) -> None:
    raw = tmp_path / "a.img"
    raw.write_bytes(b"\0" * 512)
    qcow = tmp_path / "b.qcow2"
    qcow.write_bytes(b"QFI\xfb" + b"\0" * 508)
    argv = qemu_argv(
        QemuConfig(
            kernel="k",
            arch=Arch.ARM64,
            memory_mb=512,
            cpus=2,
            accel="kvm",
            disks=(str(raw), str(qcow)),
        )
    )
    assert argv[0] == "qemu-system-aarch64"
    assert _option(argv, "-machine") == ["virt"] and _option(argv, "-cpu") == ["cortex-a57"]
    assert (
        _option(argv, "-accel") == ["kvm"]
        and _option(argv, "-m") == ["512"]
        and _option(argv, "-smp") == ["2"]
    )
    assert _option(argv, "-drive") == [
        f"file={raw},format=raw,if=virtio,index=0",
        f"file={qcow},format=qcow2,if=virtio,index=1",
    ]


def test_scsi_disk_is_one_drive_on_a_virtio_scsi_controller() -> None:
    args = list(scsi_disk_args("/tmp/d.raw"))
    assert args[0::2] == ["-device", "-drive", "-device"]
    controller, drive, disk = args[1::2]
    assert controller == "virtio-scsi-pci,id=scsi0"
    assert "file=/tmp/d.raw" in drive and "if=none" in drive and "format=raw" in drive
    drive_id = dict(kv.split("=", 1) for kv in drive.split(","))["id"]
    assert disk == f"scsi-hd,drive={drive_id},bus=scsi0.0"


def test_arch_values() -> None:
    assert Arch("amd64") is Arch.AMD64 and Arch.AMD64.console() == "ttyS0"
    assert (
        Arch("arm64").qemu_binary() == "qemu-system-aarch64" and Arch.ARM64.console() == "ttyAMA0"
    )


def test_extract_vmlinux_xz_and_gzip_after_decoys() -> None:
    header = b"MZ" + b"\0" * 100 + b"\xfd7zXZ\x00garbage" + b"\x1f\x8b\x08broken"
    xz = (
        header + lzma.compress(FAKE_ELF, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32) + b"trailer"
    )
    assert extract_vmlinux(xz) == FAKE_ELF
    gz = header + gzip.compress(FAKE_ELF, mtime=0) + b"\0" * 64
    assert extract_vmlinux(gz) == FAKE_ELF


def test_extract_vmlinux_rejects_non_elf_and_empty() -> None:
    assert extract_vmlinux(b"MZ" + lzma.compress(b"not an elf", format=lzma.FORMAT_XZ)) is None
    assert extract_vmlinux(b"") is None


@pytest.mark.skipif(not VMLINUZ, reason="no Debian vmlinuz under /tmp/proto/out")
def test_extract_vmlinux_from_debian_kernel() -> None:
    data = Path(VMLINUZ[0]).read_bytes()
    vmlinux = extract_vmlinux(data)
    assert vmlinux is not None
    assert vmlinux[:4] == b"\x7fELF" and vmlinux[4] == 2  # 64-bit ELF
    assert len(vmlinux) > 3 * len(data)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_ssh_argv() -> None:
    argv = ssh_argv(2200, "/k", "uname -a", ssh="/usr/bin/ssh")
    assert argv[0] == "/usr/bin/ssh"
    assert argv[-2:] == ["root@127.0.0.1", "uname -a"]
    assert _option(argv, "-p") == ["2200"] and _option(argv, "-i") == ["/k"]
    assert "BatchMode=yes" in _option(argv, "-o")


def _fake_qemu(tmp_path: Path, body: str) -> str:
    """A stand-in for QEMU: a Python script that prints a console."""
    script = tmp_path / "fake-qemu"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_vm_wait_for_and_log(tmp_path: Path) -> None:
    qemu = _fake_qemu(
        tmp_path,
        "print('booting\\r', flush=True)\ntime.sleep(0.2)\nprint('linuxkit-rules: services started', flush=True)\n"
        "time.sleep(60)",
    )
    log = tmp_path / "console.log"
    with Vm(QemuConfig(kernel="k"), str(log), qemu=qemu) as vm:
        m = vm.wait_for(r"services (\w+)", timeout=10)
        assert m.group(1) == "started"
        proc = vm._proc
        assert proc is not None
    assert proc.poll() is not None  # killed on exit
    assert "booting\nlinuxkit-rules: services started\n" == log.read_text()


def test_vm_timeout_shows_last_lines(tmp_path: Path) -> None:
    qemu = _fake_qemu(tmp_path, "for i in range(80): print('line', i, flush=True)\ntime.sleep(60)")
    with Vm(QemuConfig(kernel="k"), str(tmp_path / "log"), qemu=qemu) as vm:
        with pytest.raises(BootTimeout) as e:
            vm.wait_for("never", timeout=1)
    msg = str(e.value)
    assert "line 79" in msg and "line 30" in msg and "line 29\n" not in msg


def test_vm_qemu_exit_ends_wait_early(tmp_path: Path) -> None:
    qemu = _fake_qemu(tmp_path, "print('Kernel panic', flush=True)\nsys.exit(3)")
    start = time.monotonic()
    with Vm(QemuConfig(kernel="k"), str(tmp_path / "log"), qemu=qemu) as vm:
        with pytest.raises(BootTimeout, match=r"(?s)QEMU exited \(exit status 3\).*Kernel panic"):
            vm.wait_for("services started", timeout=30)
    assert time.monotonic() - start < 10


def test_vm_missing_qemu_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not found"):
        with Vm(QemuConfig(kernel="k"), str(tmp_path / "log"), qemu=str(tmp_path / "nope")):
            pass


BOOTABLE = (
    bool(VMLINUZ)
    and INITRD.exists()
    and KEY.exists()
    and shutil.which("qemu-system-x86_64") is not None
)


@pytest.mark.skipif(not BOOTABLE, reason="prototype initramfs, key or QEMU missing")
@pytest.mark.parametrize("kernel_kind", ["bzImage", "vmlinux"])
def test_boot_prototype_sshd(tmp_path: Path, kernel_kind: str) -> None:
    kernel = VMLINUZ[0]
    if kernel_kind == "vmlinux":
        vmlinux = extract_vmlinux(Path(kernel).read_bytes())
        assert vmlinux is not None
        kernel = str(tmp_path / "vmlinux")
        Path(kernel).write_bytes(vmlinux)
    port = free_port()
    cfg = QemuConfig(kernel=kernel, initrd=str(INITRD), cmdline="console=ttyS0", ssh_port=port)
    log = tmp_path / "console.log"
    with Vm(cfg, str(log)) as vm:
        vm.wait_for(r"^linuxkit-rules: services started", timeout=240)
        started = vm.elapsed()
        # the prototype holds a failing onboot container (001-fail) on purpose
        assert "linuxkit-rules: onboot fail exited 1" in vm.console
        wait_for_ssh(port, str(KEY), timeout=120, command="true")
        ssh_ok = vm.elapsed()
        pos = len(vm.console)
        assert wait_for_ssh(port, str(KEY), timeout=30, command="poweroff") >= 0
        vm.wait_for(r"linuxkit-rules-test: onshutdown ran", timeout=60, start=pos)
        assert vm.wait_exit(60) == 0
    print(
        f"\n{kernel_kind}: services started {started:.1f}s, ssh ok {ssh_ok:.1f}s after QEMU start"
    )
    if os.environ.get("LINUXKIT_QEMU_KEEP_LOG"):
        shutil.copy(log, f"/tmp/proto/out/boot-{kernel_kind}.log")


def test_firmware_boot_modes() -> None:
    argv = qemu_argv(QemuConfig(cdrom="x.iso", efi_code="code.fd", efi_vars="vars.fd"))
    assert "-kernel" not in argv
    assert "if=pflash,format=raw,unit=0,readonly=on,file=code.fd" in argv
    assert "if=pflash,format=raw,unit=1,file=vars.fd" in argv
    assert "file=x.iso,format=raw,media=cdrom,readonly=on" in argv
    bios = qemu_argv(QemuConfig(disks=("d.img",)))
    assert not any("pflash" in a for a in bios) and "-kernel" not in bios


def test_supervised_makes_the_blank_disk_runs_and_removes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    disk = tmp_path / "blank.raw"
    out = tmp_path / "args"
    script = 'echo "$@" > "$0"; stat -c "%s %b" ' + str(disk) + ' >> "$0"; exit 3'
    argv = supervised(["/bin/sh", "-c", script, str(out), "a b", "c"], (str(disk), 2 * 1024**3))
    assert subprocess.run(argv).returncode == 3  # the child's status
    args, stat = out.read_text().splitlines()
    assert args == "a b c"
    assert stat == f"{2 * 1024**3} 0"  # sparse: nothing written
    assert not disk.exists()  # scratch: removed when QEMU ends


def _pids_with(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                pids.append(int(entry))
        except OSError:
            pass
    return pids


def _wait_gone(marker: str, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pids_with(marker):
        time.sleep(0.2)
    return not _pids_with(marker)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGHUP", "parent SIGKILL", "parent SIGTERM"])
def test_supervised_child_never_outlives_the_run(tmp_path, how: str) -> None:  # type: ignore[no-untyped-def]
    """The supervised child (standing for QEMU) ends when the supervisor is told
    to stop, or when the process that started it (standing for `pants
    --no-pantsd run`) dies without a word; the blank disk goes with it."""
    marker = f"lkr-fake-qemu-{os.getpid()}-{time.monotonic_ns()}"
    disk = tmp_path / "blank.raw"
    argv = supervised(["/bin/sh", "-c", "sleep 300", marker], (str(disk), 1 << 20))
    # The "pants" process: starts the supervisor and waits, as Pants does.
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])", *argv],
        start_new_session=True,
        # As from a terminal: under nohup SIGHUP would be ignored, and a shell
        # cannot trap a signal that was ignored when it started.
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 20
        while not (_pids_with(marker) and disk.exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert disk.exists()
        supervisors = [p for p in _pids_with("lkr-supervisor") if p != parent.pid]
        supervisor = next(
            p for p in supervisors if marker.encode() in Path(f"/proc/{p}/cmdline").read_bytes()
        )
        if how.startswith("parent"):
            parent.send_signal(signal.SIGKILL if how.endswith("SIGKILL") else signal.SIGTERM)
        else:
            os.kill(supervisor, getattr(signal, how))
        assert _wait_gone(marker), f"the child outlived the run ({how})"
        assert not disk.exists()
    finally:
        for pid in _pids_with(marker):
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_qemu_argv_reads_vhd_and_vmdk(tmp_path: Path) -> None:
    import io

    from linuxkit_rules.core.media.vmdisk import write_dynamic_vhd, write_fixed_vhd, write_vmdk

    raw = b"\1" * 4096
    disks = []
    for name, writer in (
        ("fixed.vhd", lambda out: write_fixed_vhd(raw, out, 0)),
        ("dynamic.vhd", lambda out: write_dynamic_vhd(raw, out, 0)),
        ("disk.vmdk", lambda out: write_vmdk(raw, out, "disk.vmdk")),
    ):
        buf = io.BytesIO()
        writer(buf)
        # a suffix that says nothing: the content decides
        path = tmp_path / (name + ".img")
        path.write_bytes(buf.getvalue())
        disks.append(str(path))
    argv = qemu_argv(QemuConfig(disks=(*disks, "later.vhd", "later.vmdk", "later.img")))
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert [d.split(",")[1] for d in drives] == [
        "format=vpc", "format=vpc", "format=vmdk", "format=vpc", "format=vmdk", "format=raw",
    ]  # fmt: skip

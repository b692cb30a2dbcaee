from __future__ import annotations

import gzip

import pytest

from linuxkit_rules.core.arch import (
    ARCH_NAMES,
    DEFAULT_ARCH,
    Arch,
    UnsupportedArch,
    check_formats,
    check_listed,
    for_arch,
    host_arch,
)
from linuxkit_rules.core.boot.qemu import QemuConfig, qemu_argv


def test_parse_names_what_is_supported() -> None:
    assert Arch.parse("arm64", "x") is Arch.ARM64
    with pytest.raises(
        UnsupportedArch,
        match=r"pkg/a/build.yml: arches: architecture 'riscv64' is not supported; supported: amd64, arm64",
    ):
        Arch.parse("riscv64", "pkg/a/build.yml: arches")
    assert ARCH_NAMES == ("amd64", "arm64")


def test_a_package_without_the_arch_is_an_error_naming_its_arches() -> None:
    check_listed("arm64", ("amd64", "arm64"), "package //pkg/a")
    with pytest.raises(
        UnsupportedArch, match=r"package //pkg/a is not built for arm64: its arches are amd64$"
    ):
        check_listed("arm64", ("amd64",), "package //pkg/a")


def test_output_suffix_names_only_the_other_architecture() -> None:
    other = Arch.ARM64 if DEFAULT_ARCH is Arch.AMD64 else Arch.AMD64
    assert DEFAULT_ARCH.suffix() == "" and other.suffix() == f"-{other.value}"


def test_default_arch_is_the_build_machines() -> None:
    assert host_arch("x86_64") is Arch.AMD64 and host_arch("AMD64") is Arch.AMD64
    assert host_arch("aarch64") is Arch.ARM64 and host_arch("arm64") is Arch.ARM64
    assert DEFAULT_ARCH is host_arch()


def test_kernel_package_template() -> None:
    assert for_arch("linux-image-6.1.0-56-{arch}", "arm64") == "linux-image-6.1.0-56-arm64"
    assert for_arch("linux-image-6.1.0-56-amd64", "arm64") == "linux-image-6.1.0-56-amd64"


def test_arm64_kernel_is_decompressed_for_qemu() -> None:
    image = (
        b"MZ" + b"\0" * 62 + b"ARM\x64" + b"x" * 1000
    )  # an arm64 Image header's magic at 0x38 is enough here
    assert Arch.ARM64.bootable_kernel(gzip.compress(image)) == image
    assert Arch.ARM64.bootable_kernel(image) == image  # already uncompressed
    bz = gzip.compress(image)
    assert Arch.AMD64.bootable_kernel(bz) == bz  # a bzImage decompresses itself


def test_formats_per_arch() -> None:
    check_formats(Arch.AMD64, ("iso-bios", "raw-efi"), "x")
    check_formats(
        Arch.ARM64, ("kernel+initrd", "tar", "tar-kernel-initrd", "raw-efi", "iso-efi"), "x"
    )
    with pytest.raises(
        UnsupportedArch,
        match=r"//images:a: formats: format 'iso-bios' is not built for arm64; arm64 formats: kernel\+initrd, tar, tar-kernel-initrd",
    ):
        check_formats(Arch.ARM64, ("kernel+initrd", "iso-bios"), "//images:a: formats")


def test_arm64_qemu_command_line() -> None:
    argv = qemu_argv(QemuConfig(kernel="k", initrd="i", cmdline="console=ttyAMA0", arch=Arch.ARM64))
    assert argv[:5] == ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57"]
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert Arch.ARM64.qemu_package() == "qemu-system-arm"


def test_arm64_cdrom_is_scsi_and_firmware_is_aavmf() -> None:
    argv = qemu_argv(QemuConfig(cdrom="/x.iso", arch=Arch.ARM64, efi_code="c", efi_vars="v"))
    assert (
        "scsi-cd,drive=cd0" in argv
        and "if=none,id=cd0,file=/x.iso,format=raw,media=cdrom,readonly=on" in argv
    )
    assert "file=/x.iso,format=raw,media=cdrom,readonly=on" in qemu_argv(QemuConfig(cdrom="/x.iso"))
    assert (
        Arch.ARM64.efi_firmware_package() == "qemu-efi-aarch64"
        and Arch.AMD64.efi_firmware_package() == "ovmf"
    )


def test_esp_has_the_loader_of_its_architecture() -> None:
    from linuxkit_rules.core.media.boot_media import BootInputs, esp_files

    arm = esp_files(
        BootInputs(b"k", b"i", "console=ttyAMA0", {"systemd-bootaa64.efi": b"AA"}, 0, "x-arm64")
    )
    assert arm["EFI/BOOT/BOOTAA64.EFI"] == b"AA" and "EFI/BOOT/BOOTX64.EFI" not in arm
    x86 = esp_files(BootInputs(b"k", b"i", "console=ttyS0", {"systemd-bootx64.efi": b"X"}, 0, "x"))
    assert x86["EFI/BOOT/BOOTX64.EFI"] == b"X"


def test_arm64_kernels_cross_compile_to_an_uncompressed_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from linuxkit_rules.core.kernels.source_build import _env

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    env = _env(Arch.ARM64)
    assert (env["ARCH"], env["CROSS_COMPILE"]) == ("arm64", "aarch64-linux-gnu-")
    assert env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"  # the toolchain root's, in the sandbox
    assert _env(Arch.AMD64)["CROSS_COMPILE"] == ""
    assert Arch.ARM64.kernel_target() == ("Image", "arch/arm64/boot/Image")
    # the cross tools and the Debian packages (in //toolchain:kernel) that hold them
    assert Arch.ARM64.cross_tools() == {
        "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
        "aarch64-linux-gnu-ld": "binutils-aarch64-linux-gnu",
    }
    assert Arch.AMD64.cross_tools() == {}

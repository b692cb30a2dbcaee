"""Target architectures: what differs between amd64 and arm64, in one place."""
from __future__ import annotations

import enum
import gzip
import platform
from typing import Iterable

from linuxkit_rules.core.errors import LinuxkitError


class UnsupportedArch(LinuxkitError):
    """An architecture name this project does not build for (or a package does not list)."""


class Arch(enum.Enum):
    AMD64 = "amd64"
    ARM64 = "arm64"

    @classmethod
    def parse(cls, value: str, where: str) -> Arch:
        """`value` as an Arch; an unknown name is an error naming `where` and what is allowed."""
        try:
            return cls(value)
        except ValueError:
            raise UnsupportedArch(
                f"{where}: architecture {value!r} is not supported; supported: {', '.join(ARCH_NAMES)}"
            ) from None

    def qemu_binary(self) -> str:
        return {Arch.AMD64: "qemu-system-x86_64", Arch.ARM64: "qemu-system-aarch64"}[self]

    def qemu_package(self) -> str:
        """The Debian package holding `qemu_binary()`."""
        return {Arch.AMD64: "qemu-system-x86", Arch.ARM64: "qemu-system-arm"}[self]

    def machine_args(self) -> list[str]:
        if self is Arch.AMD64:
            return ["-machine", "q35"]
        return ["-machine", "virt", "-cpu", "cortex-a57"]

    def console(self) -> str:
        """The kernel's name for the first serial port."""
        return {Arch.AMD64: "ttyS0", Arch.ARM64: "ttyAMA0"}[self]

    def efi_firmware_package(self) -> str:
        """The Debian package with QEMU's UEFI firmware (code and variable store)."""
        return {Arch.AMD64: "ovmf", Arch.ARM64: "qemu-efi-aarch64"}[self]

    def cdrom_args(self, path: str) -> list[str]:
        """QEMU options for a read-only CD: IDE on q35; virt has no IDE, so SCSI over virtio."""
        drive = f"file={path},format=raw,media=cdrom,readonly=on"
        if self is Arch.AMD64:
            return ["-drive", drive]
        return [
            "-device",
            "virtio-scsi-pci,id=scsi0",
            "-drive",
            f"if=none,id=cd0,{drive}",
            "-device",
            "scsi-cd,drive=cd0",
        ]

    def suffix(self) -> str:
        """Appended to output names so that every architecture's outputs can sit in one
        directory; empty for amd64, the default, whose names stay as LinuxKit writes them."""
        return "" if self is DEFAULT_ARCH else f"-{self.value}"

    def oci_platform(self) -> dict[str, str]:
        """The OCI `platform` of an image index entry (LinuxKit's `linux/arm64` has no variant)."""
        return {"architecture": self.value, "os": "linux"}

    def kernel_arch(self) -> str:
        """The kernel's `ARCH=` for this architecture."""
        return {Arch.AMD64: "x86_64", Arch.ARM64: "arm64"}[self]

    def cross_compile(self) -> str:
        """The kernel's `CROSS_COMPILE=` prefix on this (amd64) build machine: Debian's
        cross toolchain for arm64 (gcc-aarch64-linux-gnu), none for amd64."""
        return {Arch.AMD64: "", Arch.ARM64: "aarch64-linux-gnu-"}[self]

    def cross_tools(self) -> dict[str, str]:
        """The cross toolchain's binaries -> their Debian packages (empty for amd64)."""
        if self is Arch.AMD64:
            return {}
        prefix = self.cross_compile()
        return {f"{prefix}gcc": f"gcc-{prefix[:-1]}", f"{prefix}ld": f"binutils-{prefix[:-1]}"}

    def kernel_target(self) -> tuple[str, str]:
        """The kernel's make target for a bootable image and the file it writes: the
        self-decompressing bzImage on amd64; on arm64 the uncompressed `Image`,
        which QEMU's `-kernel` and UEFI (through its PE header) start directly."""
        return {
            Arch.AMD64: ("bzImage", "arch/x86/boot/bzImage"),
            Arch.ARM64: ("Image", "arch/arm64/boot/Image"),
        }[self]

    def bootable_kernel(self, kernel: bytes) -> bytes:
        """The kernel file QEMU's `-kernel` and an EFI loader start. Debian's arm64
        `vmlinuz` is a gzip'd `Image` that nothing decompresses for them (the
        uncompressed Image carries the EFI stub's PE header); amd64's bzImage
        decompresses itself."""
        if self is Arch.ARM64 and kernel[:2] == b"\x1f\x8b":
            return gzip.decompress(kernel)
        return kernel


def host_arch(machine: str | None = None) -> Arch:
    """The build machine's architecture (`platform.machine()` unless given): arm64 on
    aarch64/arm64, amd64 on anything else (x86_64 is the only other host known here)."""
    machine = (platform.machine() if machine is None else machine).lower()
    return Arch.ARM64 if machine in ("aarch64", "arm64") else Arch.AMD64


# What an image, a package or a boot test builds for when it names no architecture:
# the build machine's, as `linuxkit build` does.
DEFAULT_ARCH = host_arch()
ARCH_NAMES: tuple[str, ...] = tuple(a.value for a in Arch)


def check_listed(arch: str, listed: Iterable[str], what: str) -> None:
    """`arch` must be one of `listed` (a package's build.yml `arches`)."""
    listed = tuple(listed)
    if arch not in listed:
        raise UnsupportedArch(f"{what} is not built for {arch}: its arches are {', '.join(listed)}")


def for_arch(template: str, arch: str) -> str:
    """A Debian package name with `{arch}` replaced, e.g. `linux-image-6.1.0-56-{arch}`."""
    return template.replace("{arch}", arch)


# Formats built for each architecture (the BIOS formats carry x86 isolinux;
# `docker` is not yet done for arm64: docs/limitations.md).
_FORMATS = {
    Arch.ARM64: ("kernel+initrd", "tar", "tar-kernel-initrd", "iso-efi", "raw-efi"),
}


def check_formats(arch: Arch, formats: Iterable[str], where: str) -> None:
    """Every format must be built for `arch`."""
    allowed = _FORMATS.get(arch)
    if allowed is None:
        return
    for f in formats:
        if f not in allowed:
            raise UnsupportedArch(
                f"{where}: format {f!r} is not built for {arch.value}; {arch.value} formats: {', '.join(allowed)}"
            )

"""Output formats of an image, with what each one writes and how it boots."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping

from linuxkit_rules.core.errors import LinuxkitError


class UnknownFormat(LinuxkitError):
    pass


class Format(enum.Enum):
    KERNEL_INITRD = "kernel+initrd"
    TAR = "tar"
    TAR_KERNEL_INITRD = "tar-kernel-initrd"
    ISO_BIOS = "iso-bios"
    ISO_EFI = "iso-efi"
    RAW_BIOS = "raw-bios"
    RAW_EFI = "raw-efi"
    QCOW2_BIOS = "qcow2-bios"
    QCOW2_EFI = "qcow2-efi"
    KERNEL_SQUASHFS = "kernel+squashfs"
    GCP = "gcp"
    DOCKER = "docker"
    VHD = "vhd"
    DYNAMIC_VHD = "dynamic-vhd"
    VMDK = "vmdk"
    AWS = "aws"
    AZURE = "azure"

    @classmethod
    def parse(cls, value: str, where: str = "formats") -> Format:
        try:
            return cls(value)
        except ValueError:
            raise UnknownFormat(
                f"{where}: unknown format {value!r}; valid formats: {', '.join(FORMAT_NAMES)}"
            ) from None

    @property
    def spec(self) -> FormatSpec:
        return FORMATS[self]

    def outputs(self, name: str) -> tuple[str, ...]:
        """File names this format writes for an image called `name`, as `linuxkit build` does."""
        return tuple(name + suffix for suffix, _ in self.spec.outputs)

    def needs_kernel(self) -> bool:
        return self.spec.needs_kernel

    def boot_loader_packages(self) -> tuple[str, ...]:
        """Locked Debian packages whose boot loader files this format embeds."""
        return _LOADERS[self.spec.firmware] if self.spec.loaders else ()

    def needs_qemu_img(self) -> bool:
        return self.spec.tool == "qemu-img"

    def needs_mksquashfs(self) -> bool:
        return self.spec.tool == "mksquashfs"

    def is_bios_disk_container(self) -> bool:
        """The `raw-bios` disk in a cloud's or hypervisor's container (VHD, VMDK, S3 raw)."""
        return self.spec.container

    def qemu_drive_format(self) -> str:
        """QEMU's `-drive format=` for a disk format (`raw`, `qcow2`, `vpc`, `vmdk`)."""
        return self.spec.drive

    def firmware(self) -> str:
        """`bios` (SeaBIOS) or `efi` (OVMF): what the format boots with."""
        return self.spec.firmware

    def boot_media(self) -> str:
        """How QEMU boots it: `kernel` (-kernel/-initrd), `squashfs` (-kernel, the
        loader as -initrd, the squashfs as the first virtio disk), `cdrom`, `disk`,
        `gcp` (unpack disk.raw, then disk) or `none` (not bootable by itself)."""
        return self.spec.boot_media

    def bootable(self) -> bool:
        """A boot test can boot it."""
        return self.spec.boot_media != "none"

    def runnable(self) -> bool:
        """`pants run` can boot it straight from its output files."""
        return self.spec.boot_media in ("kernel", "squashfs", "cdrom", "disk")

    def boot_files(self, name: str) -> dict[str, str]:
        """Which outputs a boot uses: `kernel`, `initrd`, `cmdline` (a file) and
        `image` (the ISO or disk); only the ones the format has."""
        return {role: name + suffix for suffix, role in self.spec.outputs}


@dataclass(frozen=True)
class FormatSpec:
    """What a format writes and how it boots. `outputs` are (suffix after the image
    name, role in a boot: kernel, initrd, cmdline or image)."""

    outputs: tuple[tuple[str, str], ...]
    boot_media: str = "none"
    firmware: str = "bios"
    loaders: bool = False  # embeds the boot loader of its firmware
    needs_kernel: bool = True
    tool: str = ""  # a host tool its writer runs: qemu-img or mksquashfs
    drive: str = "raw"  # QEMU's -drive format= when it boots as a disk
    container: bool = False  # the raw-bios disk wrapped for a cloud or hypervisor


_LOADERS = {"bios": ("isolinux", "syslinux-common"), "efi": ("systemd-boot-efi",)}
_KERNEL_CMDLINE = (("-kernel", "kernel"), ("-initrd.img", "initrd"), ("-cmdline", "cmdline"))

# Every format, once; core/media/image_build.py has the writer of each.
FORMATS: Mapping[Format, FormatSpec] = {
    Format.KERNEL_INITRD: FormatSpec(_KERNEL_CMDLINE, "kernel"),
    Format.TAR: FormatSpec(((".tar", "image"),), needs_kernel=False),
    Format.TAR_KERNEL_INITRD: FormatSpec((("-initrd.tar", "image"),)),
    Format.ISO_BIOS: FormatSpec(((".iso", "image"),), "cdrom", loaders=True),
    Format.ISO_EFI: FormatSpec((("-efi.iso", "image"),), "cdrom", "efi", loaders=True),
    Format.RAW_BIOS: FormatSpec((("-bios.img", "image"),), "disk", loaders=True),
    Format.RAW_EFI: FormatSpec((("-efi.img", "image"),), "disk", "efi", loaders=True),
    Format.QCOW2_BIOS: FormatSpec(
        ((".qcow2", "image"),), "disk", loaders=True, tool="qemu-img", drive="qcow2"
    ),
    Format.QCOW2_EFI: FormatSpec(
        (("-efi.qcow2", "image"),), "disk", "efi", loaders=True, tool="qemu-img", drive="qcow2"
    ),
    # LinuxKit's three files, plus the loader initramfs that mounts the squashfs
    # when the kernel has its drivers as modules (core/media/squashfs.py).
    Format.KERNEL_SQUASHFS: FormatSpec(
        (
            ("-kernel", "kernel"),
            ("-squashfs.img", "image"),
            ("-cmdline", "cmdline"),
            ("-squashfs-initrd.img", "initrd"),
        ),
        "squashfs",
        tool="mksquashfs",
    ),
    Format.GCP: FormatSpec(((".img.tar.gz", "image"),), "gcp", loaders=True),
    Format.DOCKER: FormatSpec((("-docker.tar", "image"),), needs_kernel=False),
    # The raw-bios disk as Azure and Hyper-V (fixed VHD), VirtualBox and VMware
    # (VMDK) and EC2's snapshot import (raw) take it (core/media/vmdisk.py).
    Format.VHD: FormatSpec(((".vhd", "image"),), "disk", loaders=True, drive="vpc", container=True),
    Format.DYNAMIC_VHD: FormatSpec(
        (("-dynamic.vhd", "image"),), "disk", loaders=True, drive="vpc", container=True
    ),
    Format.VMDK: FormatSpec(
        ((".vmdk", "image"),), "disk", loaders=True, drive="vmdk", container=True
    ),
    Format.AWS: FormatSpec(((".raw", "image"),), "disk", loaders=True, container=True),
    Format.AZURE: FormatSpec(
        (("-azure.vhd", "image"),), "disk", loaders=True, drive="vpc", container=True
    ),
}
assert set(FORMATS) == set(Format)


# The kernel's root= for `kernel+squashfs`: the squashfs is the first virtio disk.
SQUASHFS_ROOT = "/dev/vda"

FORMAT_NAMES: tuple[str, ...] = tuple(f.value for f in Format)
BOOTABLE_FORMAT_NAMES: tuple[str, ...] = tuple(f.value for f in Format if f.bootable())
RUNNABLE_FORMAT_NAMES: tuple[str, ...] = tuple(f.value for f in Format if f.runnable())

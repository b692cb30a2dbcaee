"""Output formats of an image, with what each one writes and how it boots."""
from __future__ import annotations

import enum

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

    def outputs(self, name: str) -> tuple[str, ...]:
        """File names this format writes for an image called `name`, as `linuxkit build` does."""
        if self is Format.KERNEL_INITRD:
            return (f"{name}-kernel", f"{name}-initrd.img", f"{name}-cmdline")
        if self is Format.KERNEL_SQUASHFS:
            # LinuxKit's three files, plus the loader initramfs that mounts the
            # squashfs when the kernel has its drivers as modules (core/squashfs.py).
            return (
                f"{name}-kernel",
                f"{name}-squashfs.img",
                f"{name}-cmdline",
                f"{name}-squashfs-initrd.img",
            )
        return (
            {
                Format.TAR: f"{name}.tar",
                Format.TAR_KERNEL_INITRD: f"{name}-initrd.tar",
                Format.ISO_BIOS: f"{name}.iso",
                Format.ISO_EFI: f"{name}-efi.iso",
                Format.RAW_BIOS: f"{name}-bios.img",
                Format.RAW_EFI: f"{name}-efi.img",
                Format.QCOW2_BIOS: f"{name}.qcow2",
                Format.QCOW2_EFI: f"{name}-efi.qcow2",
                Format.GCP: f"{name}.img.tar.gz",
                Format.DOCKER: f"{name}-docker.tar",
                Format.VHD: f"{name}.vhd",
                Format.DYNAMIC_VHD: f"{name}-dynamic.vhd",
                Format.VMDK: f"{name}.vmdk",
                Format.AWS: f"{name}.raw",
                Format.AZURE: f"{name}-azure.vhd",
            }[self],
        )

    def needs_kernel(self) -> bool:
        return self not in (Format.TAR, Format.DOCKER)

    def boot_loader_packages(self) -> tuple[str, ...]:
        """Locked Debian packages whose boot loader files this format embeds."""
        if self in (Format.ISO_BIOS, Format.RAW_BIOS, Format.QCOW2_BIOS, Format.GCP):
            return ("isolinux", "syslinux-common")
        if self.is_bios_disk_container():
            return ("isolinux", "syslinux-common")
        if self in (Format.ISO_EFI, Format.RAW_EFI, Format.QCOW2_EFI):
            return ("systemd-boot-efi",)
        return ()

    def needs_qemu_img(self) -> bool:
        return self in (Format.QCOW2_BIOS, Format.QCOW2_EFI)

    def is_bios_disk_container(self) -> bool:
        """The `raw-bios` disk in a cloud's or hypervisor's container (VHD, VMDK, S3 raw)."""
        return self in (Format.VHD, Format.DYNAMIC_VHD, Format.VMDK, Format.AWS, Format.AZURE)

    def qemu_drive_format(self) -> str:
        """QEMU's `-drive format=` for a disk format (`raw`, `qcow2`, `vpc`, `vmdk`)."""
        if self in (Format.VHD, Format.DYNAMIC_VHD, Format.AZURE):
            return "vpc"
        if self is Format.VMDK:
            return "vmdk"
        if self in (Format.QCOW2_BIOS, Format.QCOW2_EFI):
            return "qcow2"
        return "raw"

    def needs_mksquashfs(self) -> bool:
        return self is Format.KERNEL_SQUASHFS

    def firmware(self) -> str:
        """`bios` (SeaBIOS) or `efi` (OVMF): what the format boots with."""
        return "efi" if self in (Format.ISO_EFI, Format.RAW_EFI, Format.QCOW2_EFI) else "bios"

    def boot_media(self) -> str:
        """How QEMU boots it: `kernel` (-kernel/-initrd), `squashfs` (-kernel, the
        loader as -initrd, the squashfs as the first virtio disk), `cdrom`, `disk`,
        `gcp` (unpack disk.raw, then disk) or `none` (not bootable by itself)."""
        return {
            Format.KERNEL_INITRD: "kernel",
            Format.KERNEL_SQUASHFS: "squashfs",
            Format.ISO_BIOS: "cdrom",
            Format.ISO_EFI: "cdrom",
            Format.RAW_BIOS: "disk",
            Format.RAW_EFI: "disk",
            Format.QCOW2_BIOS: "disk",
            Format.QCOW2_EFI: "disk",
            Format.GCP: "gcp",
            Format.VHD: "disk",
            Format.DYNAMIC_VHD: "disk",
            Format.VMDK: "disk",
            Format.AWS: "disk",
            Format.AZURE: "disk",
        }.get(self, "none")

    def boot_files(self, name: str) -> dict[str, str]:
        """Which outputs a boot uses: `kernel`, `initrd`, `cmdline` (a file) and
        `image` (the ISO or disk); only the ones the format has."""
        outs = self.outputs(name)
        if self is Format.KERNEL_INITRD:
            return {"kernel": outs[0], "initrd": outs[1], "cmdline": outs[2]}
        if self is Format.KERNEL_SQUASHFS:
            return {"kernel": outs[0], "image": outs[1], "cmdline": outs[2], "initrd": outs[3]}
        return {"image": outs[0]}


# The kernel's root= for `kernel+squashfs`: the squashfs is the first virtio disk.
SQUASHFS_ROOT = "/dev/vda"

FORMAT_NAMES: tuple[str, ...] = tuple(f.value for f in Format)

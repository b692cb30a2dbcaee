from __future__ import annotations

import pytest

from linuxkit_rules.core.media.formats import FORMAT_NAMES, Format, UnknownFormat


def test_output_names_follow_linuxkit() -> None:
    assert Format.ISO_BIOS.outputs("sshd") == ("sshd.iso",)
    assert Format.ISO_EFI.outputs("sshd") == ("sshd-efi.iso",)
    assert Format.RAW_BIOS.outputs("sshd") == ("sshd-bios.img",)
    assert Format.RAW_EFI.outputs("sshd") == ("sshd-efi.img",)
    assert Format.GCP.outputs("sshd") == ("sshd.img.tar.gz",)
    assert Format.TAR.outputs("sshd") == ("sshd.tar",)
    assert Format.KERNEL_INITRD.outputs("sshd") == (
        "sshd-kernel",
        "sshd-initrd.img",
        "sshd-cmdline",
    )
    assert Format.QCOW2_EFI.outputs("sshd") == ("sshd-efi.qcow2",)
    assert Format.KERNEL_SQUASHFS.outputs("sshd") == (
        "sshd-kernel", "sshd-squashfs.img", "sshd-cmdline", "sshd-squashfs-initrd.img",
    )  # fmt: skip
    # Only kernel+initrd and kernel+squashfs share files (the same kernel and cmdline).
    names = [o for f in Format if f is not Format.KERNEL_SQUASHFS for o in f.outputs("x")]
    assert len(names) == len(set(names))
    shared = set(Format.KERNEL_SQUASHFS.outputs("x")) & set(names)
    assert shared == {"x-kernel", "x-cmdline"}


def test_unknown_format_lists_valid_ones() -> None:
    with pytest.raises(
        UnknownFormat, match=r"unknown format 'iso'; valid formats: kernel\+initrd, tar, .*docker"
    ):
        Format.parse("iso")
    assert "qcow2-bios" in FORMAT_NAMES


def test_boot_behaviour() -> None:
    assert Format.ISO_EFI.firmware() == "efi" and Format.ISO_EFI.boot_media() == "cdrom"
    assert Format.RAW_BIOS.firmware() == "bios" and Format.RAW_BIOS.boot_media() == "disk"
    assert Format.DOCKER.boot_media() == "none" and not Format.DOCKER.needs_kernel()
    assert Format.RAW_EFI.boot_loader_packages() == ("systemd-boot-efi",)
    assert Format.QCOW2_EFI.firmware() == "efi" and Format.QCOW2_EFI.needs_qemu_img()
    assert (
        Format.KERNEL_SQUASHFS.boot_media() == "squashfs"
        and Format.KERNEL_SQUASHFS.needs_mksquashfs()
    )
    assert Format.KERNEL_SQUASHFS.boot_files("s") == {
        "kernel": "s-kernel", "image": "s-squashfs.img", "cmdline": "s-cmdline", "initrd": "s-squashfs-initrd.img",
    }  # fmt: skip
    assert Format.ISO_BIOS.boot_files("s") == {"image": "s.iso"}


def test_cloud_and_hypervisor_disks() -> None:
    assert Format.VHD.outputs("s") == ("s.vhd",)
    assert Format.DYNAMIC_VHD.outputs("s") == ("s-dynamic.vhd",)
    assert Format.VMDK.outputs("s") == ("s.vmdk",)
    assert Format.AWS.outputs("s") == ("s.raw",)
    assert Format.AZURE.outputs("s") == ("s-azure.vhd",)
    for fmt in (Format.VHD, Format.DYNAMIC_VHD, Format.VMDK, Format.AWS, Format.AZURE):
        assert fmt.boot_media() == "disk" and fmt.firmware() == "bios"
        assert fmt.boot_loader_packages() == ("isolinux", "syslinux-common")
    assert [f.qemu_drive_format() for f in (Format.VHD, Format.DYNAMIC_VHD, Format.VMDK, Format.AWS)] == [
        "vpc", "vpc", "vmdk", "raw",
    ]  # fmt: skip

from __future__ import annotations

import pytest

from linuxkit_rules.core.formats import FORMAT_NAMES, Format, UnknownFormat


def test_output_names_follow_linuxkit() -> None:
    assert Format.ISO_BIOS.outputs("sshd") == ("sshd.iso",)
    assert Format.ISO_EFI.outputs("sshd") == ("sshd-efi.iso",)
    assert Format.RAW_BIOS.outputs("sshd") == ("sshd-bios.img",)
    assert Format.RAW_EFI.outputs("sshd") == ("sshd-efi.img",)
    assert Format.GCP.outputs("sshd") == ("sshd.img.tar.gz",)
    assert Format.TAR.outputs("sshd") == ("sshd.tar",)
    assert Format.KERNEL_INITRD.outputs("sshd") == ("sshd-kernel", "sshd-initrd.img", "sshd-cmdline")
    names = [o for f in Format for o in f.outputs("x")]
    assert len(names) == len(set(names))


def test_unknown_format_lists_valid_ones() -> None:
    with pytest.raises(UnknownFormat, match=r"unknown format 'iso'; valid formats: kernel\+initrd, tar, .*docker"):
        Format.parse("iso")
    assert "qcow2-bios" in FORMAT_NAMES


def test_boot_behaviour() -> None:
    assert Format.ISO_EFI.firmware() == "efi" and Format.ISO_EFI.boot_media() == "cdrom"
    assert Format.RAW_BIOS.firmware() == "bios" and Format.RAW_BIOS.boot_media() == "disk"
    assert Format.DOCKER.boot_media() == "none" and not Format.DOCKER.needs_kernel()
    assert Format.RAW_EFI.boot_loader_packages() == ("systemd-boot-efi",)

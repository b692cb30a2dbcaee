"""Writers of bootable media, on synthetic kernels and loaders (the real ones
boot in tests/formats)."""
from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest

from linuxkit_rules.core.media.boot_media import BootInputs, iso_bios, iso_efi, raw_bios, raw_efi
from linuxkit_rules.core.media.disk import DiskTooSmall

# isolinux.bin's hybrid signature sits at offset 0x40
ISOLINUX = b"\0" * 0x40 + b"\xfb\xc0\x78\x70" + b"\x90" * 4000
INPUTS = BootInputs(
    kernel=b"K" * 300000,
    initrd=b"I" * 200000,
    cmdline="console=ttyS0",
    loaders={
        "isolinux.bin": ISOLINUX,
        "ldlinux.c32": b"L" * 1000,
        "systemd-bootx64.efi": b"MZ" + b"E" * 1000,
    },
    mtime=1704067200,
    name="t",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "writer", [iso_bios, iso_efi, lambda i: raw_bios(i, None), lambda i: raw_efi(i, None)]
)
def test_reproducible_across_directories_and_time_zones(writer, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = writer(INPUTS)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    assert _sha(writer(INPUTS)) == _sha(first)
    assert os.environ["TZ"] == "Asia/Tokyo"


def test_iso_bios_is_hybrid() -> None:
    data = iso_bios(INPUTS)
    assert data[510:512] == b"\x55\xaa" and data[0x8001:0x8006] == b"CD001"


def test_raw_efi_is_gpt_and_sized() -> None:
    data = raw_efi(INPUTS, 64 << 20)
    assert len(data) == 64 << 20 and data[512:520] == b"EFI PART"


@pytest.mark.parametrize("writer", [raw_bios, raw_efi])
def test_disk_too_small_says_how_much(writer) -> None:
    with pytest.raises(
        DiskTooSmall,
        match=r"disk size 1048576 bytes \(1 MiB\) is too small; the content needs at least \d+ bytes \(\d+ MiB\)",
    ):
        writer(dataclasses.replace(INPUTS, kernel=b"K" * (3 << 20)), 1 << 20)

"""Bootable media from a kernel, an initrd and a command line: ISO (pycdlib),
raw disks (hand-written MBR/GPT/FAT), with boot loaders from Debian packages.

- BIOS: isolinux in an El Torito ISO, made hybrid (an MBR whose code loads
  isolinux), so the same bytes boot as a CD and as a disk.
- EFI: systemd-boot on a FAT32 EFI system partition that also holds the
  kernel and initrd; on a GPT disk, or as the El Torito EFI image of an ISO.
"""
from __future__ import annotations

import io
import os
import tarfile
import time
from dataclasses import dataclass
from typing import Iterable, Mapping
from unittest import mock

from linuxkit_rules.core.archive.deb import read_deb
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.media.disk import (
    ALIGN,
    SECTOR,
    DiskTooSmall,
    gpt_disk,
    gpt_overhead_sectors,
    pad_disk,
)
from linuxkit_rules.core.media.fat import min_size, write_fat32

# Files each boot loader package provides: package -> {path in the .deb: name}
LOADER_FILES: dict[str, dict[str, str]] = {
    "isolinux": {"usr/lib/ISOLINUX/isolinux.bin": "isolinux.bin"},
    "syslinux-common": {"usr/lib/syslinux/modules/bios/ldlinux.c32": "ldlinux.c32"},
    # amd64's package has the x64 loader, arm64's the aa64 one.
    "systemd-boot-efi": {
        "usr/lib/systemd/boot/efi/systemd-bootx64.efi": "systemd-bootx64.efi",
        "usr/lib/systemd/boot/efi/systemd-bootaa64.efi": "systemd-bootaa64.efi",
    },
}
_MBR_ID = 0x4C4B5246


@dataclass(frozen=True)
class BootInputs:
    kernel: bytes
    initrd: bytes
    cmdline: str
    loaders: Mapping[str, bytes]  # file name (see LOADER_FILES) -> bytes
    mtime: int
    name: str


def extract_loader_files(debs: Iterable[str]) -> dict[str, bytes]:
    """The boot loader files in the given .debs (by file name, see LOADER_FILES)."""
    wanted = {path: name for files in LOADER_FILES.values() for path, name in files.items()}
    out: dict[str, bytes] = {}
    for path in debs:
        with open(path, "rb") as f:
            deb = read_deb(f)
        with tarfile.open(fileobj=io.BytesIO(deb.data), mode="r:*") as tf:
            for member in tf:
                key = member.name.lstrip("./")
                if key in wanted and member.isreg():
                    data = tf.extractfile(member)
                    assert data is not None
                    out[wanted[key]] = data.read()
    return out


def _need(inputs: BootInputs, name: str) -> bytes:
    try:
        return inputs.loaders[name]
    except KeyError:
        raise LinuxkitError(
            f"boot loader file {name} missing from the boot loader packages"
        ) from None


def isolinux_cfg(cmdline: str) -> bytes:
    return (
        "SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\n"
        f"LABEL linux\n  KERNEL /kernel\n  INITRD /initrd.img\n  APPEND {cmdline}\n"
    ).encode()


class _FixedClock:
    """pycdlib stamps `time.time()` into every record: pin it (and UTC)."""

    def __init__(self, mtime: int) -> None:
        self.mtime = mtime

    def __enter__(self) -> None:
        self._tz = os.environ.get("TZ")
        os.environ["TZ"] = "UTC"
        time.tzset()
        self._patch = mock.patch("time.time", return_value=float(self.mtime))
        self._patch.start()

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()
        if self._tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = self._tz
        time.tzset()


def _iso(
    files: list[tuple[str, bytes]], label: str, mtime: int, boot: str, efi_image: bytes = b""
) -> bytes:
    import pycdlib

    with _FixedClock(mtime):
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=3, vol_ident=label, sys_ident="LINUX", rock_ridge="1.09")
        dirs = sorted({p.rsplit("/", 1)[0] for p, _ in files if p.count("/") > 1})
        for d in dirs:
            iso.add_directory(d.upper(), rr_name=d.rsplit("/", 1)[1])
        for path, data in files:
            iso.add_fp(
                io.BytesIO(data), len(data), path.upper() + ";1", rr_name=path.rsplit("/", 1)[1]
            )
        if boot == "bios":
            iso.add_eltorito(
                "/ISOLINUX/ISOLINUX.BIN;1", bootcatfile="/ISOLINUX/BOOT.CAT;1", rr_bootcatname="boot.cat",
                boot_load_size=4, boot_info_table=True,
            )  # fmt: skip
            iso.add_isohybrid(mbr_id=_MBR_ID)
        else:
            # The catalog counts 512-byte sectors in 16 bits; a count below 2
            # makes UEFI firmware use the rest of the medium instead.
            sectors = len(efi_image) // 512
            iso.add_eltorito(
                "/EFI.IMG;1", bootcatfile="/BOOT.CAT;1", rr_bootcatname="boot.cat", efi=True,
                boot_load_size=sectors if sectors <= 0xFFFF else 1,
            )  # fmt: skip
        out = io.BytesIO()
        iso.write_fp(out)
        iso.close()
    return out.getvalue()


def iso_bios(inputs: BootInputs) -> bytes:
    files = [
        ("/isolinux/isolinux.bin", _need(inputs, "isolinux.bin")),
        ("/isolinux/ldlinux.c32", _need(inputs, "ldlinux.c32")),
        ("/isolinux/isolinux.cfg", isolinux_cfg(inputs.cmdline)),
        ("/kernel", inputs.kernel),
        ("/initrd.img", inputs.initrd),
    ]
    return _iso(files, "LINUXKIT", inputs.mtime, "bios")


def esp_files(inputs: BootInputs) -> dict[str, bytes]:
    """An EFI system partition's files: systemd-boot (at the removable-media path of the
    loader's architecture: the arm64 lock's package has the aa64 one), its one entry,
    kernel and initrd."""
    if "systemd-bootaa64.efi" in inputs.loaders:
        loader = ("EFI/BOOT/BOOTAA64.EFI", _need(inputs, "systemd-bootaa64.efi"))
    else:
        loader = ("EFI/BOOT/BOOTX64.EFI", _need(inputs, "systemd-bootx64.efi"))
    return {
        loader[0]: loader[1],
        "loader/loader.conf": b"timeout 0\ndefault linuxkit.conf\n",
        "loader/entries/linuxkit.conf": (
            f"title LinuxKit {inputs.name}\nlinux /kernel\ninitrd /initrd.img\noptions {inputs.cmdline}\n"
        ).encode(),
        "kernel": inputs.kernel,
        "initrd.img": inputs.initrd,
    }


def iso_efi(inputs: BootInputs) -> bytes:
    esp = write_fat32(esp_files(inputs), inputs.mtime)
    return _iso([("/efi.img", esp)], "LINUXKIT", inputs.mtime, "efi", efi_image=esp)


def raw_bios(inputs: BootInputs, size: int | None) -> bytes:
    """A disk that SeaBIOS boots: the hybrid isolinux image, grown to `size`."""
    return pad_disk(iso_bios(inputs), size, f"{inputs.name}-bios.img")


def raw_efi(inputs: BootInputs, size: int | None) -> bytes:
    """A GPT disk with one EFI system partition (FAT32) filling it."""
    files = esp_files(inputs)
    overhead = gpt_overhead_sectors() * SECTOR
    volume = None
    if size is not None:
        needed = min_size(files) + overhead
        if size < needed:
            raise DiskTooSmall(
                f"{inputs.name}-efi.img: disk size {size} bytes ({size >> 20} MiB) is too small; "
                f"the content needs at least {needed} bytes ({-(-needed >> 20)} MiB)"
            )
        volume = (size - overhead) // SECTOR * SECTOR
    esp = write_fat32(files, inputs.mtime, size=volume, hidden_sectors=ALIGN)
    return gpt_disk(esp, inputs.name)

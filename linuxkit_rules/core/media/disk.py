"""Partition tables: MBR and GPT, reproducible (fixed disk ids and GUIDs)."""
from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass

from linuxkit_rules.core.errors import LinuxkitError

SECTOR = 512
ALIGN = 2048  # first partition at 1 MiB, as partitioning tools do
ESP_TYPE = uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
_GPT_ENTRIES = 128
_GPT_ENTRY_SIZE = 128
_GPT_ENTRY_SECTORS = _GPT_ENTRIES * _GPT_ENTRY_SIZE // SECTOR
# GUIDs are name-based (uuid5) so that the same image always gets the same ones.
_NAMESPACE = uuid.UUID("5b0e4d7c-3d2a-4b58-9a43-6c696e75786b")


@dataclass(frozen=True)
class Partition:
    start: int  # LBA
    sectors: int
    mbr_type: int = 0x0C  # FAT32 (LBA)
    bootable: bool = False


def stable_guid(*parts: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def _chs(lba: int) -> bytes:
    # Geometry 255 heads x 63 sectors; past 1024 cylinders CHS is "maxed out".
    c, rem = divmod(lba, 255 * 63)
    if c > 1023:
        return b"\xfe\xff\xff"
    h, s = divmod(rem, 63)
    return bytes([h, ((s + 1) & 0x3F) | ((c >> 2) & 0xC0), c & 0xFF])


def mbr(partitions: list[Partition], boot_code: bytes = b"", disk_id: int = 0x4C4B5246) -> bytes:
    """Sector 0 of a disk: up to 440 bytes of boot code, the disk id and 4 entries."""
    if len(partitions) > 4:
        raise LinuxkitError(f"an MBR holds 4 partitions, not {len(partitions)}")
    if len(boot_code) > 440:
        raise LinuxkitError(f"MBR boot code is {len(boot_code)} bytes; at most 440 fit")
    out = bytearray(SECTOR)
    out[: len(boot_code)] = boot_code
    struct.pack_into("<I", out, 440, disk_id)
    for i, p in enumerate(partitions):
        last = p.start + p.sectors - 1
        entry = (
            bytes([0x80 if p.bootable else 0]) + _chs(p.start) + bytes([p.mbr_type]) + _chs(last)
        )
        entry += struct.pack("<II", p.start, p.sectors)
        out[446 + 16 * i : 462 + 16 * i] = entry
    out[510:512] = b"\x55\xaa"
    return bytes(out)


def gpt_overhead_sectors() -> int:
    """Sectors a GPT disk needs besides its partitions (alignment + backup table)."""
    return ALIGN + _GPT_ENTRY_SECTORS + 1


def gpt_disk(
    volume: bytes, name: str, part_name: str = "EFI System", part_type: uuid.UUID = ESP_TYPE
) -> bytes:
    """A GPT disk with one partition at 1 MiB holding `volume` (padded to sectors)."""
    if len(volume) % SECTOR:
        volume += b"\0" * (SECTOR - len(volume) % SECTOR)
    start = ALIGN
    sectors = len(volume) // SECTOR
    total = start + sectors + _GPT_ENTRY_SECTORS + 1
    last_usable = total - _GPT_ENTRY_SECTORS - 2
    entry = bytearray(_GPT_ENTRY_SIZE)
    entry[0:16] = part_type.bytes_le
    entry[16:32] = stable_guid(name, "partition", part_name).bytes_le
    struct.pack_into("<QQQ", entry, 32, start, start + sectors - 1, 0)
    label = part_name.encode("utf-16-le")[:72]
    entry[56 : 56 + len(label)] = label
    entries = bytes(entry) + b"\0" * (_GPT_ENTRY_SIZE * (_GPT_ENTRIES - 1))
    entries_crc = zlib.crc32(entries)
    disk_guid = stable_guid(name, "disk")

    def header(my_lba: int, other_lba: int, entries_lba: int) -> bytes:
        h = bytearray(92)
        struct.pack_into(
            "<8sIIIIQQQQ16sQIII", h, 0, b"EFI PART", 0x00010000, 92, 0, 0, my_lba, other_lba,
            34, last_usable, disk_guid.bytes_le, entries_lba, _GPT_ENTRIES, _GPT_ENTRY_SIZE, entries_crc,
        )  # fmt: skip
        struct.pack_into("<I", h, 16, zlib.crc32(bytes(h)))
        return bytes(h) + b"\0" * (SECTOR - 92)

    protective = mbr([Partition(1, min(total - 1, 0xFFFFFFFF), mbr_type=0xEE)], disk_id=0)
    out = bytearray(total * SECTOR)
    out[0:SECTOR] = protective
    out[SECTOR : 2 * SECTOR] = header(1, total - 1, 2)
    out[2 * SECTOR : 2 * SECTOR + len(entries)] = entries
    out[start * SECTOR : start * SECTOR + len(volume)] = volume
    backup_entries = total - 1 - _GPT_ENTRY_SECTORS
    out[backup_entries * SECTOR : backup_entries * SECTOR + len(entries)] = entries
    out[(total - 1) * SECTOR :] = header(total - 1, 1, backup_entries)
    return bytes(out)


def pad_disk(image: bytes, size: int | None, what: str) -> bytes:
    """`image` grown with zeros to `size` bytes; an error naming the minimum if it is larger."""
    if size is None:
        return image
    if size < len(image):
        raise DiskTooSmall(
            f"{what}: disk size {size} bytes ({size >> 20} MiB) is too small; the content needs "
            f"at least {len(image)} bytes ({-(-len(image) >> 20)} MiB)"
        )
    return image + b"\0" * (size - len(image))


class DiskTooSmall(LinuxkitError):
    pass

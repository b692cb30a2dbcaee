"""Virtual disk containers for a raw disk: VHD (fixed and dynamic) and VMDK.

Every field that tools usually fill with the time or a random number (the VHD
timestamp and unique id, the VMDK content id) is derived from the disk's bytes
and SOURCE_DATE_EPOCH, so equal disks give equal files.

- Fixed VHD: the raw disk, padded to a whole number of MiB (Azure requires
  it, Hyper-V accepts it), then the 512-byte footer.
- Dynamic VHD: footer copy, dynamic header, block allocation table, then
  2 MiB blocks (each a sector bitmap and the data) for the blocks holding any
  non-zero byte, and the footer.
- VMDK: a monolithic sparse extent (VMware's hosted format, as VirtualBox and
  QEMU read it): header, embedded descriptor, grain directory, grain tables,
  then 64 KiB grains for the grains holding any non-zero byte.
"""
from __future__ import annotations

import hashlib
import struct
from typing import BinaryIO

from linuxkit_rules.core.errors import LinuxkitError

SECTOR = 512
MIB = 1 << 20
# VHD times count from 2000-01-01 00:00:00 UTC.
VHD_EPOCH = 946684800
VHD_BLOCK = 2 * MIB
# `qem2` tells QEMU (and tools that follow its table) to take the size from
# the footer's current size rather than from the CHS geometry, which can only
# describe multiples of its sectors-per-track.
VHD_CREATOR = b"qem2"
VHD_FIXED = 2
VHD_DYNAMIC = 3
VMDK_GRAIN_SECTORS = 128  # 64 KiB
VMDK_GT_ENTRIES = 512
VMDK_DESCRIPTOR_SECTORS = 20


class VirtualDiskError(LinuxkitError):
    pass


def mib_size(size: int) -> int:
    """`size` rounded up to a whole number of MiB."""
    return -(-size // MIB) * MIB


def chs_geometry(size: int) -> tuple[int, int, int]:
    """(cylinders, heads, sectors per track) as the VHD specification computes them."""
    total = min(size // SECTOR, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cyl_heads = total // spt
    else:
        spt = 17
        cyl_heads = total // spt
        heads = max((cyl_heads + 1023) // 1024, 4)
        if cyl_heads >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cyl_heads = total // spt
        if cyl_heads >= heads * 1024:
            spt, heads = 63, 16
            cyl_heads = total // spt
    return cyl_heads // heads, heads, spt


def _checksum(data: bytes) -> int:
    return (~sum(data)) & 0xFFFFFFFF


def _unique_id(raw: bytes, kind: bytes) -> bytes:
    return hashlib.sha256(kind + hashlib.sha256(raw).digest()).digest()[:16]


def vhd_footer(size: int, disk_type: int, data_offset: int, mtime: int, unique_id: bytes) -> bytes:
    cylinders, heads, spt = chs_geometry(size)
    fields = struct.pack(
        ">8sIIQI4sI4sQQHBBI",
        b"conectix",
        2,  # features: reserved bit, always set
        0x00010000,
        data_offset,
        max(mtime - VHD_EPOCH, 0) & 0xFFFFFFFF,
        VHD_CREATOR,
        0x00050003,
        b"Wi2k",
        size,
        size,
        cylinders,
        heads,
        spt,
        disk_type,
    )
    body = fields + b"\0\0\0\0" + unique_id + b"\0"
    body += b"\0" * (SECTOR - len(body))
    checksum = _checksum(body)
    return fields + struct.pack(">I", checksum) + body[len(fields) + 4 :]


def write_fixed_vhd(raw: bytes, out: BinaryIO, mtime: int) -> int:
    """The raw disk padded to whole MiB, then the footer. Returns the virtual size."""
    size = mib_size(len(raw))
    out.write(raw)
    out.write(b"\0" * (size - len(raw)))
    out.write(vhd_footer(size, VHD_FIXED, 0xFFFFFFFFFFFFFFFF, mtime, _unique_id(raw, b"vhd")))
    return size


def _nonzero(chunk: bytes) -> bool:
    return chunk.count(0) != len(chunk)


def write_dynamic_vhd(raw: bytes, out: BinaryIO, mtime: int) -> int:
    """A dynamic VHD holding only the 2 MiB blocks with data. Returns the virtual size."""
    size = mib_size(len(raw))
    blocks = -(-size // VHD_BLOCK)
    bat_offset = 3 * SECTOR
    bat_bytes = -(-blocks * 4 // SECTOR) * SECTOR
    bitmap = -(-(VHD_BLOCK // SECTOR // 8) // SECTOR) * SECTOR
    footer = vhd_footer(size, VHD_DYNAMIC, SECTOR, mtime, _unique_id(raw, b"dynamic-vhd"))
    header = struct.pack(
        ">8sQQIII", b"cxsparse", 0xFFFFFFFFFFFFFFFF, bat_offset, 0x00010000, blocks, VHD_BLOCK
    )
    rest = b"\0" * (1024 - len(header) - 4)
    header += struct.pack(">I", _checksum(header + b"\0\0\0\0" + rest)) + rest
    bat = []
    sector = (bat_offset + bat_bytes) // SECTOR
    used = []
    for i in range(blocks):
        chunk = raw[i * VHD_BLOCK : (i + 1) * VHD_BLOCK]
        if _nonzero(chunk):
            bat.append(sector)
            used.append(i)
            sector += (bitmap + VHD_BLOCK) // SECTOR
        else:
            bat.append(0xFFFFFFFF)
    out.write(footer)
    out.write(header)
    table = struct.pack(f">{blocks}I", *bat)
    out.write(table + b"\xff" * (bat_bytes - len(table)))
    for i in used:
        chunk = raw[i * VHD_BLOCK : (i + 1) * VHD_BLOCK]
        out.write(
            b"\xff" * (VHD_BLOCK // SECTOR // 8) + b"\0" * (bitmap - VHD_BLOCK // SECTOR // 8)
        )
        out.write(chunk + b"\0" * (VHD_BLOCK - len(chunk)))
    out.write(footer)
    return size


def vmdk_descriptor(name: str, sectors: int, cid: int) -> bytes:
    cylinders = min(sectors // (16 * 63), 16383)
    text = (
        "# Disk DescriptorFile\n"
        "version=1\n"
        f"CID={cid:08x}\n"
        "parentCID=ffffffff\n"
        'createType="monolithicSparse"\n'
        "\n"
        "# Extent description\n"
        f'RW {sectors} SPARSE "{name}"\n'
        "\n"
        "# The Disk Data Base\n"
        "#DDB\n"
        "\n"
        'ddb.virtualHWVersion = "4"\n'
        f'ddb.geometry.cylinders = "{cylinders}"\n'
        'ddb.geometry.heads = "16"\n'
        'ddb.geometry.sectors = "63"\n'
        'ddb.adapterType = "ide"\n'
    ).encode()
    if len(text) > VMDK_DESCRIPTOR_SECTORS * SECTOR:
        raise VirtualDiskError(f"{name}: the VMDK descriptor does not fit (file name too long)")
    return text + b"\0" * (VMDK_DESCRIPTOR_SECTORS * SECTOR - len(text))


def write_vmdk(raw: bytes, out: BinaryIO, name: str) -> int:
    """A monolithic sparse VMDK named `name` (the descriptor names its own file).
    Returns the virtual size."""
    size = mib_size(len(raw))
    sectors = size // SECTOR
    grain = VMDK_GRAIN_SECTORS * SECTOR
    grains = -(-sectors // VMDK_GRAIN_SECTORS)
    tables = -(-grains // VMDK_GT_ENTRIES)
    gd_sector = 1 + VMDK_DESCRIPTOR_SECTORS
    gd_sectors = -(-tables * 4 // SECTOR)
    gt_sector = gd_sector + gd_sectors
    gt_sectors = VMDK_GT_ENTRIES * 4 // SECTOR
    overhead = -(-(gt_sector + tables * gt_sectors) // VMDK_GRAIN_SECTORS) * VMDK_GRAIN_SECTORS
    entries = []
    used = []
    next_sector = overhead
    for i in range(grains):
        if _nonzero(raw[i * grain : (i + 1) * grain]):
            entries.append(next_sector)
            used.append(i)
            next_sector += VMDK_GRAIN_SECTORS
        else:
            entries.append(0)
    entries += [0] * (tables * VMDK_GT_ENTRIES - grains)
    cid = int.from_bytes(_unique_id(raw, b"vmdk")[:4], "big")
    header = struct.pack(
        "<4sIIQQQQIQQQB4cH",
        b"KDMV",
        1,
        1,  # flags: newline-detection bytes are valid
        sectors,
        VMDK_GRAIN_SECTORS,
        1,
        VMDK_DESCRIPTOR_SECTORS,
        VMDK_GT_ENTRIES,
        0,  # no redundant grain directory
        gd_sector,
        overhead,
        0,
        b"\n",
        b" ",
        b"\r",
        b"\n",
        0,
    )
    out.write(header + b"\0" * (SECTOR - len(header)))
    out.write(vmdk_descriptor(name, sectors, cid))
    gd = struct.pack(f"<{tables}I", *(gt_sector + t * gt_sectors for t in range(tables)))
    out.write(gd + b"\0" * (gd_sectors * SECTOR - len(gd)))
    out.write(struct.pack(f"<{len(entries)}I", *entries))
    written = (gt_sector + tables * gt_sectors) * SECTOR
    out.write(b"\0" * (overhead * SECTOR - written))
    for i in used:
        chunk = raw[i * grain : (i + 1) * grain]
        out.write(chunk + b"\0" * (grain - len(chunk)))
    return size

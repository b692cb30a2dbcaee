"""A reproducible FAT32 file system writer (for EFI system partitions).

`write_fat32(files, mtime)` lays out the given files (paths with `/`, any
depth) in one pass: directories first, in sorted order, then file data, each
contiguous. Long names get VFAT long-name entries; short names are derived
deterministically. The volume id is fixed, every timestamp is `mtime`.
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Mapping

from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.media.disk import DiskTooSmall

SECTOR = 512
RESERVED_SECTORS = 32
NUM_FATS = 2
MIN_CLUSTERS = 65525  # fewer clusters than this is FAT16 by definition
_EOC = 0x0FFFFFFF
_ATTR_DIR = 0x10
_ATTR_ARCHIVE = 0x20
_ATTR_LFN = 0x0F
_SHORT_OK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$%'-_@~`!(){}^#&")


@dataclass
class _Dir:
    children: dict[str, _Dir | bytes] = field(default_factory=dict)
    cluster: int = 0
    entries: bytes = b""


def dos_datetime(mtime: int) -> tuple[int, int]:
    """(date, time) in FAT encoding for a Unix time (UTC), clamped to 1980."""
    t = time.gmtime(max(mtime, 315532800))
    date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    tod = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return date, tod


def _short_name(name: str, taken: set[bytes]) -> tuple[bytes, bool]:
    """An 11-byte 8.3 name and whether a long-name entry is needed."""
    base, dot, ext = name.rpartition(".")
    if not dot:
        base, ext = name, ""
    if (
        name == name.upper()
        and 0 < len(base) <= 8
        and len(ext) <= 3
        and all(c in _SHORT_OK for c in base + ext)
    ):
        short = base.ljust(8).encode() + ext.ljust(3).encode()
        if short not in taken:
            return short, False
    clean_base = "".join(c for c in base.upper() if c in _SHORT_OK) or "X"
    clean_ext = "".join(c for c in ext.upper() if c in _SHORT_OK)[:3]
    for n in range(1, 1000000):
        tail = f"~{n}"
        short = (clean_base[: 8 - len(tail)] + tail).ljust(8).encode() + clean_ext.ljust(3).encode()
        if short not in taken:
            return short, True
    raise AssertionError(name)


def _checksum(short: bytes) -> int:
    s = 0
    for c in short:
        s = (((s & 1) << 7) + (s >> 1) + c) & 0xFF
    return s


def _lfn_entries(name: str, short: bytes) -> bytes:
    units = name.encode("utf-16-le")
    units += b"\0\0"
    if len(units) % 26:
        units += b"\xff" * (26 - len(units) % 26)
    chunks = [units[i : i + 26] for i in range(0, len(units), 26)]
    if len(name.encode("utf-16-le")) % 26 == 0:
        chunks = chunks[:-1] if len(chunks) > 1 and chunks[-1] == b"\0\0" + b"\xff" * 24 else chunks
    csum = _checksum(short)
    out = b""
    for i in range(len(chunks), 0, -1):
        c = chunks[i - 1]
        order = i | (0x40 if i == len(chunks) else 0)
        out += struct.pack(
            "<B10sBBB12sH4s", order, c[0:10], _ATTR_LFN, 0, csum, c[10:22], 0, c[22:26]
        )
    return out


def _dirent(short: bytes, attr: int, cluster: int, size: int, mtime: int) -> bytes:
    date, tod = dos_datetime(mtime)
    return struct.pack(
        "<11sBBBHHHHHHHI",
        short,
        attr,
        0,
        0,
        tod,
        date,
        date,
        cluster >> 16,
        tod,
        date,
        cluster & 0xFFFF,
        size,
    )


def _tree(files: Mapping[str, bytes]) -> _Dir:
    root = _Dir()
    for path in sorted(files):
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise LinuxkitError(f"FAT: empty file path {path!r}")
        d = root
        for p in parts[:-1]:
            child = d.children.setdefault(p, _Dir())
            if not isinstance(child, _Dir):
                raise LinuxkitError(f"FAT: {path!r}: {p!r} is a file")
            d = child
        d.children[parts[-1]] = files[path]
    return root


def _dirs(d: _Dir) -> list[_Dir]:
    out = [d]
    for name in sorted(d.children):
        c = d.children[name]
        if isinstance(c, _Dir):
            out.extend(_dirs(c))
    return out


def _entry_count(d: _Dir, is_root: bool) -> int:
    n = 0 if is_root else 2
    taken: set[bytes] = set()
    for name in sorted(d.children):
        short, lfn = _short_name(name, taken)
        taken.add(short)
        n += 1 + (len(_lfn_entries(name, short)) // 32 if lfn else 0)
    return n


@dataclass(frozen=True)
class Layout:
    total_sectors: int
    sectors_per_cluster: int
    fat_sectors: int

    @property
    def data_start(self) -> int:
        return RESERVED_SECTORS + NUM_FATS * self.fat_sectors

    @property
    def clusters(self) -> int:
        return (self.total_sectors - self.data_start) // self.sectors_per_cluster


def _layout(total_sectors: int, spc: int) -> Layout:
    fat = 1
    while True:
        clusters = (total_sectors - RESERVED_SECTORS - NUM_FATS * fat) // spc
        need = -(-(clusters + 2) * 4 // SECTOR)
        if need <= fat:
            return Layout(total_sectors, spc, fat)
        fat = need


def clusters_needed(files: Mapping[str, bytes], spc: int = 1) -> int:
    csize = spc * SECTOR
    root = _tree(files)
    n = 0
    for i, d in enumerate(_dirs(root)):
        n += max(1, -(-_entry_count(d, i == 0) * 32 // csize))
        n += sum(-(-len(c) // csize) for c in d.children.values() if isinstance(c, bytes))
    return n


def min_size(files: Mapping[str, bytes]) -> int:
    """Smallest FAT32 volume (bytes, whole MiB) that holds `files`."""
    clusters = max(MIN_CLUSTERS + 16, clusters_needed(files) + 16)
    fat = -(-(clusters + 2) * 4 // SECTOR)
    sectors = RESERVED_SECTORS + NUM_FATS * fat + clusters
    mib = 1 << 20
    return -(-sectors * SECTOR // mib) * mib


def _dir_entries(d: _Dir, parent: int | None, clusters: Mapping[str, int], mtime: int) -> bytes:
    """The entries of directory `d`: `.` and `..` (`parent`'s cluster; None for the
    root, which has neither), then its children by name, long names before their
    short ones. `clusters` gives each child file's first cluster (0 when empty)."""
    out = b""
    if parent is not None:
        out += _dirent(b".          ", _ATTR_DIR, d.cluster, 0, mtime)
        out += _dirent(b"..         ", _ATTR_DIR, parent, 0, mtime)
    taken: set[bytes] = set()
    for name in sorted(d.children):
        c = d.children[name]
        short, lfn = _short_name(name, taken)
        taken.add(short)
        if lfn:
            out += _lfn_entries(name, short)
        if isinstance(c, _Dir):
            out += _dirent(short, _ATTR_DIR, c.cluster, 0, mtime)
        else:
            out += _dirent(short, _ATTR_ARCHIVE, clusters[name], len(c), mtime)
    return out


def _boot_sectors(
    layout: Layout, hidden_sectors: int, volume_id: int, free: int, next_cluster: int
) -> tuple[bytes, bytes]:
    """The FAT32 boot sector and FSInfo sector (written twice: at 0 and in the backup at 6)."""
    boot = bytearray(SECTOR)
    boot[0:3] = b"\xeb\x58\x90"
    struct.pack_into(
        "<8sHBHBHHBHHHII", boot, 3, b"LKRULES ", SECTOR, layout.sectors_per_cluster, RESERVED_SECTORS,
        NUM_FATS, 0, 0, 0xF8, 0, 32, 64, hidden_sectors, layout.total_sectors,
    )  # fmt: skip
    struct.pack_into("<IHHIHH", boot, 36, layout.fat_sectors, 0, 0, 2, 1, 6)
    struct.pack_into("<BBBI11s8s", boot, 64, 0x80, 0, 0x29, volume_id, b"NO NAME    ", b"FAT32   ")
    boot[510:512] = b"\x55\xaa"
    info = bytearray(SECTOR)
    struct.pack_into("<I", info, 0, 0x41615252)
    struct.pack_into("<III", info, 484, 0x61417272, free, next_cluster)
    struct.pack_into("<I", info, 508, 0xAA550000)
    return bytes(boot), bytes(info)


def write_fat32(
    files: Mapping[str, bytes],
    mtime: int,
    size: int | None = None,
    hidden_sectors: int = 0,
    volume_id: int = 0x4C4B5246,
) -> bytes:
    """A FAT32 volume of `size` bytes (default: the smallest that fits, see
    `min_size`) holding `files` ({"EFI/BOOT/BOOTX64.EFI": data, ...}).
    `hidden_sectors` is the volume's start LBA in its disk (0 on an ISO)."""
    minimum = min_size(files)
    size = minimum if size is None else size
    if size < minimum:
        raise DiskTooSmall(
            f"FAT volume of {size} bytes is too small for its {len(files)} files: "
            f"at least {minimum} bytes ({minimum >> 20} MiB) are needed"
        )
    if size % SECTOR:
        raise LinuxkitError(f"FAT volume size {size} is not a multiple of {SECTOR}")
    layout = _layout(size // SECTOR, 1)
    csize = layout.sectors_per_cluster * SECTOR
    root = _tree(files)
    fat = [0x0FFFFFF8, _EOC] + [0] * layout.clusters
    next_cluster = 2
    chains: dict[int, int] = {}

    def allocate(nbytes: int) -> int:
        nonlocal next_cluster
        count = max(1, -(-nbytes // csize))
        first = next_cluster
        for c in range(first, first + count):
            fat[c] = c + 1
        fat[first + count - 1] = _EOC
        next_cluster += count
        chains[first] = count
        return first

    dirs = _dirs(root)
    for i, d in enumerate(dirs):
        d.cluster = allocate(_entry_count(d, i == 0) * 32)
    data = bytearray(size)
    file_clusters: dict[tuple[int, str], int] = {}
    for d in dirs:
        for name in sorted(d.children):
            c = d.children[name]
            if isinstance(c, bytes) and c:
                first = file_clusters[(id(d), name)] = allocate(len(c))
                start = (layout.data_start + (first - 2) * layout.sectors_per_cluster) * SECTOR
                data[start : start + len(c)] = c

    parent: dict[int, int] = {}
    for d in dirs:
        for c in d.children.values():
            if isinstance(c, _Dir):
                parent[id(c)] = 0 if d is root else d.cluster
    for d in dirs:
        clusters = {name: file_clusters.get((id(d), name), 0) for name in d.children}
        out = _dir_entries(d, None if d is root else parent[id(d)], clusters, mtime)
        start = (layout.data_start + (d.cluster - 2) * layout.sectors_per_cluster) * SECTOR
        data[start : start + len(out)] = out

    free = layout.clusters - (next_cluster - 2)
    boot, info = _boot_sectors(layout, hidden_sectors, volume_id, free, next_cluster)
    for base in (0, 6):
        data[base * SECTOR : (base + 1) * SECTOR] = boot
        data[(base + 1) * SECTOR : (base + 2) * SECTOR] = info
        data[(base + 2) * SECTOR + 510 : (base + 2) * SECTOR + 512] = b"\x55\xaa"
    table = struct.pack(f"<{len(fat)}I", *fat)
    for n in range(NUM_FATS):
        start = (RESERVED_SECTORS + n * layout.fat_sectors) * SECTOR
        data[start : start + len(table)] = table
    return bytes(data)

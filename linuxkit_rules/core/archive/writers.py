"""Deterministic archive writers: PAX tar, newc cpio (initramfs) and gzip.

Every writer is a pure function of its entries and the `mtime` the caller passes
(SOURCE_DATE_EPOCH): uid/gid come from the entries, user and group names are
empty, and nothing from the host (time, names, inode numbers) reaches the output.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import stat
import tarfile
from typing import BinaryIO, Iterable

from linuxkit_rules.core.archive.tree import Entry, _check_entry, normalize_path
from linuxkit_rules.core.errors import ArchiveError

_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}

_S_IFMT = {
    "file": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "char": stat.S_IFCHR,
    "block": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}


def _prepare(entries: Iterable[Entry]) -> tuple[list[Entry], dict[str, list[str]]]:
    """Validate entries and group hard links.

    Returns the entries (paths normalised) and, for every file that hard links point
    at, the paths of the file and its links in output order."""
    items = [_check_entry(e) for e in entries]
    by_path: dict[str, Entry] = {}
    for e in items:
        if e.path in by_path:
            raise ArchiveError(f"{e.path}: appears twice in the archive")
        by_path[e.path] = e
    canonical: dict[str, str] = {}
    for e in items:
        if e.kind != "hardlink":
            continue
        seen = {e.path}
        target = normalize_path(e.target)
        while True:
            t = by_path.get(target)
            if t is None:
                raise ArchiveError(f"{e.path}: hard link target {e.target!r} is not in the archive")
            if t.kind == "file":
                break
            if t.kind != "hardlink":
                raise ArchiveError(
                    f"{e.path}: hard link target {e.target!r} is a {t.kind}, not a file"
                )
            if target in seen:
                raise ArchiveError(f"{e.path}: hard link loop through {target!r}")
            seen.add(target)
            target = normalize_path(t.target)
        canonical[e.path] = target
    targets = set(canonical.values())
    groups: dict[str, list[str]] = {}
    for e in items:
        key = canonical.get(e.path) or (e.path if e.path in targets else None)
        if key is not None:
            groups.setdefault(key, []).append(e.path)
    return items, groups


def _check_mtime(mtime: int) -> None:
    if not isinstance(mtime, int) or mtime < 0:
        raise ArchiveError(
            f"mtime {mtime!r} is not allowed; a non-negative integer (SOURCE_DATE_EPOCH)"
        )


def write_tar(entries: Iterable[Entry], fileobj: BinaryIO, mtime: int) -> None:
    """Write a deterministic PAX tar of `entries`, in the order given.

    Every member gets `mtime`, empty user/group names and the entry's uid/gid.
    Hard-linked files are written the way tar readers need them: the first member
    of a link group (in output order) carries the data and the others link to it,
    whichever of them was the link in the tree."""
    _check_mtime(mtime)
    items, groups = _prepare(entries)
    by_path = {e.path: e for e in items}
    member_of = {p: key for key, paths in groups.items() for p in paths}
    written = 0
    for e in items:
        key = member_of.get(e.path)
        data = b""
        if key is not None:
            source = by_path[key]
            first = groups[key][0]
            ti = _tarinfo(dataclasses.replace(source, path=e.path), mtime)
            if e.path == first:
                data = source.data
                ti.size = len(data)
            else:
                ti.type = tarfile.LNKTYPE
                ti.linkname = first
                ti.size = 0
        else:
            ti = _tarinfo(e, mtime)
            data = e.data
        header = ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        fileobj.write(header)
        written += len(header)
        if data:
            fileobj.write(data)
            pad = -len(data) % tarfile.BLOCKSIZE
            fileobj.write(b"\0" * pad)
            written += len(data) + pad
    end = 2 * tarfile.BLOCKSIZE
    written += end
    end += -written % tarfile.RECORDSIZE
    fileobj.write(b"\0" * end)


def _tarinfo(e: Entry, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(e.path)
    ti.type = _TAR_TYPES[e.kind]
    ti.mode = e.mode
    ti.uid = e.uid
    ti.gid = e.gid
    ti.uname = ""
    ti.gname = ""
    ti.mtime = mtime
    if e.kind == "file":
        ti.size = len(e.data)
    elif e.kind in ("symlink", "hardlink"):
        ti.linkname = e.target
    elif e.kind in ("char", "block"):
        ti.devmajor = e.devmajor
        ti.devminor = e.devminor
    return ti


def _newc_header(
    ino: int, mode: int, e: Entry, nlink: int, mtime: int, size: int, name: bytes
) -> bytes:
    fields = (
        ino,
        mode,
        e.uid,
        e.gid,
        nlink,
        mtime,
        size,
        0,
        0,
        e.devmajor,
        e.devminor,
        len(name) + 1,
        0,
    )
    for value in fields:
        if value >= 1 << 32:
            raise ArchiveError(f"{e.path}: value {value} does not fit a cpio newc header (32 bits)")
    header = b"070701" + b"".join(b"%08X" % v for v in fields) + name + b"\0"
    return header + b"\0" * (-len(header) % 4)


def link_duplicates(entries: Iterable[Entry], min_size: int = 64 * 1024) -> list[Entry]:
    """`entries` with every regular file of at least `min_size` bytes whose data,
    mode and owner equal an earlier file's turned into a hard link to that file.

    An initramfs holds each container's root file system whole, so the same
    busybox or libc appears once per container; a compressor sees each copy anew
    (gzip's window is 32 KiB), a hard link costs one header. Order is kept; the
    first file of a group (in the order given) keeps its data. Small files are
    left alone: a container that appends to a shared file in place would change
    the other containers' copy too, and config files are where that happens."""
    first: dict[tuple[bytes, int, int, int], str] = {}
    out = []
    for e in entries:
        if e.kind == "file" and len(e.data) >= min_size:
            key = (hashlib.sha256(e.data).digest(), e.mode, e.uid, e.gid)
            target = first.setdefault(key, e.path)
            if target != e.path:
                e = Entry(e.path, "hardlink", e.mode, e.uid, e.gid, target=target)
        out.append(e)
    return out


def write_cpio_newc(entries: Iterable[Entry], fileobj: BinaryIO, mtime: int) -> None:
    """Write a newc ("070701") cpio archive, the format of a Linux initramfs.

    Entries are written in the order given (parents must come first; use
    Tree.entries()). Inode numbers are assigned from 1 in that order; dirs have
    nlink 2, others 1. Hard links are kept as links, as the kernel and GNU cpio
    expect: every member of a link group has the same inode and nlink equal to the
    group size, and only the last member carries the data (the others have size 0).
    Ends with "TRAILER!!!" and zero padding to a 512-byte boundary."""
    _check_mtime(mtime)
    items, groups = _prepare(entries)
    by_path = {e.path: e for e in items}
    member_of = {p: key for key, paths in groups.items() for p in paths}
    group_ino: dict[str, int] = {}
    next_ino = 1
    written = 0
    for e in items:
        key = member_of.get(e.path)
        name = e.path.encode("utf-8", "surrogateescape")
        if key is not None:
            source = by_path[key]
            if key not in group_ino:
                group_ino[key] = next_ino
                next_ino += 1
            ino = group_ino[key]
            members = groups[key]
            data = source.data if e.path == members[-1] else b""
            meta = dataclasses.replace(source, path=e.path)
            header = _newc_header(
                ino, stat.S_IFREG | source.mode, meta, len(members), mtime, len(data), name
            )
        else:
            ino = next_ino
            next_ino += 1
            if e.kind == "symlink":
                data = e.target.encode("utf-8", "surrogateescape")
            else:
                data = e.data
            nlink = 2 if e.kind == "dir" else 1
            header = _newc_header(ino, _S_IFMT[e.kind] | e.mode, e, nlink, mtime, len(data), name)
        fileobj.write(header)
        written += len(header)
        if data:
            pad = -len(data) % 4
            fileobj.write(data)
            fileobj.write(b"\0" * pad)
            written += len(data) + pad
    trailer = _newc_header(0, 0, Entry("TRAILER!!!", "file", 0), 1, 0, 0, b"TRAILER!!!")
    written += len(trailer)
    fileobj.write(trailer + b"\0" * (-written % 512))


def gzip_writer(fileobj: BinaryIO, level: int = 6) -> gzip.GzipFile:
    """A gzip stream over `fileobj` with a fixed header: mtime 0 and no file name.
    Close it to flush (closing it does not close `fileobj`). Output bytes depend
    only on the input, `level` and the zlib version."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=fileobj, compresslevel=level, mtime=0)

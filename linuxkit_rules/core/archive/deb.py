"""Debian `.deb` files: reading their parts, unpacking their data into a tree."""
from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from linuxkit_rules.core.archive.tree import Tree, normalize_prefix
from linuxkit_rules.core.errors import ArchiveError


@dataclass(frozen=True)
class DebArchive:
    """The parts of a .deb a build needs: `control` (the control file's bytes) and
    `data`, the data.tar member still compressed as `data_name` says."""

    control: bytes
    data: bytes
    data_name: str


_DEB_COMPRESSIONS = ("", ".gz", ".xz", ".bz2")


def _read_exact(fileobj: BinaryIO, n: int, what: str) -> bytes:
    buf = fileobj.read(n)
    if len(buf) != n:
        raise ArchiveError(f"{what}: truncated .deb (wanted {n} bytes, got {len(buf)})")
    return buf


def _check_compression(member: str, stem: str, where: str) -> None:
    suffix = member[len(stem) :]
    if suffix == ".zst":
        raise ArchiveError(
            f"{where}: member {member!r} is zstd-compressed, which the Python standard library "
            "cannot read; use a package compressed with xz, gzip or bzip2"
        )
    if suffix not in _DEB_COMPRESSIONS:
        raise ArchiveError(
            f"{where}: member {member!r} has an unknown compression; allowed: "
            + ", ".join(stem + s for s in _DEB_COMPRESSIONS)
        )


def read_deb(fileobj: BinaryIO) -> DebArchive:
    """Parse a .deb (an ar archive): return the `control` file and the raw,
    still-compressed data.tar member. Raises ArchiveError for a malformed package
    or an unsupported compression (zstd)."""
    where = str(getattr(fileobj, "name", "<deb>"))
    if fileobj.read(8) != b"!<arch>\n":
        raise ArchiveError(f"{where}: not a Debian package (no ar magic)")
    version = control_tar = data = None
    control_name = data_name = ""
    while True:
        header = fileobj.read(60)
        if not header:
            break
        if len(header) != 60 or header[58:60] != b"`\n":
            raise ArchiveError(f"{where}: malformed ar member header")
        name = header[:16].decode("ascii", "replace").rstrip(" ").rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ArchiveError(f"{where}: member {name!r} has a bad size field") from None
        body = _read_exact(fileobj, size, where)
        if size % 2:
            fileobj.read(1)
        if name == "debian-binary":
            version = body
        elif name.startswith("control.tar"):
            _check_compression(name, "control.tar", where)
            control_name, control_tar = name, body
        elif name.startswith("data.tar"):
            _check_compression(name, "data.tar", where)
            data_name, data = name, body
    if version is None or not version.startswith(b"2."):
        raise ArchiveError(f"{where}: missing or unsupported debian-binary (want format 2.x)")
    if control_tar is None or data is None:
        missing = "control.tar.*" if control_tar is None else "data.tar.*"
        raise ArchiveError(f"{where}: missing member {missing}")
    control = None
    try:
        with tarfile.open(fileobj=io.BytesIO(control_tar), mode="r:*") as tf:
            for m in tf:
                if m.isreg() and normalize_prefix(m.name) == "control":
                    f = tf.extractfile(m)
                    control = f.read() if f is not None else b""
                    break
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArchiveError(f"{where}: {control_name} is not a readable tar: {e}") from None
    if control is None:
        raise ArchiveError(f"{where}: {control_name} has no control file")
    return DebArchive(control=control, data=data, data_name=data_name)


def add_deb(tree: Tree, fileobj: BinaryIO) -> None:
    """Unpack a .deb's data into `tree` with dpkg's semantics for directory
    symlinks: a path under a symlinked directory (e.g. lib -> usr/lib on a
    merged-/usr system) lands at the symlink's target, and a directory member
    never replaces a symlink."""
    deb = read_deb(fileobj)
    tree._add_tar(io.BytesIO(deb.data), "", oci_whiteouts=False, follow_symlinks=True)

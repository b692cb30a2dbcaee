"""Blank disks for boot tests and `pants run`: sizes as LinuxKit writes them."""
from __future__ import annotations

import re

from linuxkit_rules.core.errors import LinuxkitError

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
# A blank disk is a sparse file, but the guest may fill it: the bound keeps a
# typo ("2T" for "2G") from filling the host's disk.
MAX_DISK_BYTES = 256 * 1024**3


class BadDiskSize(LinuxkitError):
    pass


def parse_size(text: str, what: str = "disk size") -> int:
    """ "2G", "512M", "4096K" or plain bytes -> bytes (a multiple of 512, from 1M to 256G)."""
    m = re.fullmatch(r"\s*([0-9]+)\s*([KMGT]?)i?B?\s*", text.upper()) if text else None
    if not m:
        raise BadDiskSize(
            f'{what} {text!r} is not a size; use bytes or a number with K, M, G or T (e.g. "2G")'
        )
    size = int(m.group(1)) * _UNITS[m.group(2)]
    if size < 1024**2 or size % 512:
        raise BadDiskSize(f"{what} {text!r} must be at least 1M and a multiple of 512 bytes")
    if size > MAX_DISK_BYTES:
        raise BadDiskSize(f"{what} {text!r} is more than the 256G allowed")
    return size


def make_blank_disk(path: str, size: int) -> None:
    """A sparse raw file of `size` bytes: a new, empty disk."""
    with open(path, "wb") as f:
        f.truncate(size)

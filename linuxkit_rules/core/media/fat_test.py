from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from linuxkit_rules.core.media.disk import DiskTooSmall
from linuxkit_rules.core.media.fat import MIN_CLUSTERS, min_size, write_fat32

MTIME = 1704067200
FILES = {
    "EFI/BOOT/BOOTX64.EFI": b"MZ" + b"\x01" * 5000,
    "loader/entries/linuxkit.conf": b"title x\n",
    "loader/loader.conf": b"timeout 0\n",
    "a-very-long-file-name-that-needs-lfn.txt": b"long\n",
    "empty": b"",
    "kernel": os.urandom(0) + bytes(range(256)) * 4000,
}


def test_reproducible_and_sized() -> None:
    a = write_fat32(FILES, MTIME)
    b = write_fat32(dict(reversed(list(FILES.items()))), MTIME)
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    assert len(a) == min_size(FILES) and len(a) % (1 << 20) == 0
    assert a[510:512] == b"\x55\xaa" and a[82:90] == b"FAT32   "
    assert (len(a) // 512 - 32) > MIN_CLUSTERS


def test_too_small_says_how_much() -> None:
    with pytest.raises(DiskTooSmall, match=r"at least \d+ bytes \(\d+ MiB\)"):
        write_fat32(FILES, MTIME, size=1 << 20)


@pytest.mark.skipif(
    shutil.which("fsck.fat") is None or shutil.which("mcopy") is None, reason="dosfstools/mtools"
)
def test_fsck_and_mtools_read_it(tmp_path) -> None:
    image = tmp_path / "esp.img"
    image.write_bytes(write_fat32(FILES, MTIME, size=40 << 20))
    fsck = subprocess.run(["fsck.fat", "-n", "-v", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for path, data in FILES.items():
        out = tmp_path / "out"
        subprocess.run(
            ["mcopy", "-n", "-o", "-i", str(image), "::" + path, str(out)], check=True, env=env
        )
        assert out.read_bytes() == data, path
    listing = subprocess.run(
        ["mdir", "-i", str(image), "::loader/entries"], capture_output=True, text=True, env=env
    )
    assert "linuxkit.conf" in listing.stdout

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linuxkit_rules.core.boot.disk_size import BadDiskSize, make_blank_disk, parse_size


@pytest.mark.parametrize(
    "text,size",
    [
        ("2G", 2 * 1024**3),
        ("512M", 512 * 1024**2),
        ("1048576", 1024**2),
        ("4096k", 4 * 1024**2),
        ("256G", 256 * 1024**3),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "2X", "G", "-1G", "1.5G", "1000", "257G", "2T"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(BadDiskSize) as e:
        parse_size(text)
    assert repr(text) in str(e.value)


def test_blank_disk_is_sparse(tmp_path: Path) -> None:
    path = tmp_path / "d.raw"
    make_blank_disk(str(path), 1024**3)
    st = os.stat(path)
    assert st.st_size == 1024**3 and st.st_blocks * 512 < 1024**2

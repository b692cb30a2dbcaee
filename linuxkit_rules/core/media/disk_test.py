from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from linuxkit_rules.core.media.disk import ALIGN, DiskTooSmall, Partition, gpt_disk, mbr, pad_disk


def test_mbr_entries() -> None:
    sector = mbr([Partition(2048, 4096, mbr_type=0x0C, bootable=True)], boot_code=b"\xfa" * 10)
    assert sector[:10] == b"\xfa" * 10 and sector[510:] == b"\x55\xaa"
    assert sector[446] == 0x80 and sector[450] == 0x0C
    assert int.from_bytes(sector[454:458], "little") == 2048
    assert int.from_bytes(sector[458:462], "little") == 4096


def test_pad_disk_too_small() -> None:
    assert len(pad_disk(b"x" * 512, 4 << 20, "d")) == 4 << 20
    with pytest.raises(
        DiskTooSmall,
        match=r"d: disk size 1048576 bytes \(1 MiB\) is too small; the content needs at least 3145728 bytes \(3 MiB\)",
    ):
        pad_disk(b"x" * (3 << 20), 1 << 20, "d")


@pytest.mark.skipif(shutil.which("sfdisk") is None, reason="fdisk")
def test_sfdisk_reads_gpt(tmp_path) -> None:
    image = tmp_path / "d.img"
    data = gpt_disk(b"\x01" * (1 << 20), "test")
    assert data == gpt_disk(b"\x01" * (1 << 20), "test")
    image.write_bytes(data)
    r = subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True)
    assert r.returncode == 0 and "warn" not in r.stderr.lower(), r.stderr
    table = json.loads(r.stdout)["partitiontable"]
    assert table["label"] == "gpt"
    (part,) = table["partitions"]
    assert part["start"] == ALIGN and part["size"] == 2048
    assert part["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    verify = subprocess.run(["sfdisk", "--verify", str(image)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from linuxkit_rules.core.media.vmdisk import (
    MIB,
    _checksum,
    chs_geometry,
    mib_size,
    write_dynamic_vhd,
    write_fixed_vhd,
    write_vmdk,
)

QEMU_IMG = shutil.which("qemu-img") or "/usr/bin/qemu-img"
needs_qemu_img = pytest.mark.skipif(not Path(QEMU_IMG).exists(), reason="qemu-utils")


def sample_disk() -> bytes:
    """5 MiB + 3 sectors: data at the start, a zero gap of several blocks, data at the end."""
    raw = bytearray(5 * MIB + 3 * 512)
    raw[0:512] = bytes(range(256)) * 2
    raw[70_000:70_010] = b"0123456789"
    raw[-700:-600] = b"\xaa" * 100
    return bytes(raw)


def write(tmp_path: Path, name: str, writer, raw: bytes) -> Path:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    size = writer(raw, buf)
    assert size == mib_size(len(raw)) == 6 * MIB
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


WRITERS = {
    "fixed.vhd": (lambda raw, out: write_fixed_vhd(raw, out, 1700000000), "vpc"),
    "dynamic.vhd": (lambda raw, out: write_dynamic_vhd(raw, out, 1700000000), "vpc"),
    "disk.vmdk": (lambda raw, out: write_vmdk(raw, out, "disk.vmdk"), "vmdk"),
}


@needs_qemu_img
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_qemu_reads_the_same_disk(tmp_path: Path, name: str) -> None:
    writer, fmt = WRITERS[name]
    raw = sample_disk()
    path = write(tmp_path, name, writer, raw)
    info = json.loads(
        subprocess.run(
            [QEMU_IMG, "info", "-f", fmt, "--output=json", str(path)],
            check=True,
            capture_output=True,
        ).stdout
    )
    assert info["format"] == fmt
    assert info["virtual-size"] == 6 * MIB
    back = tmp_path / "back.raw"
    subprocess.run(
        [QEMU_IMG, "convert", "-f", fmt, "-O", "raw", str(path), str(back)],
        check=True,
        capture_output=True,
    )
    assert back.read_bytes() == raw + b"\0" * (6 * MIB - len(raw))
    if fmt == "vmdk":  # qemu-img has no check for vpc
        check = subprocess.run([QEMU_IMG, "check", "-f", fmt, str(path)], capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_sparse_formats_skip_zero_blocks(tmp_path: Path) -> None:
    raw = sample_disk()
    dynamic = write(tmp_path, "d.vhd", WRITERS["dynamic.vhd"][0], raw).stat().st_size
    vmdk = write(tmp_path, "d.vmdk", WRITERS["disk.vmdk"][0], raw).stat().st_size
    # two 2 MiB blocks hold data (the first and the third)
    assert 2 * 2 * MIB < dynamic < 3 * 2 * MIB
    # three 64 KiB grains hold data, after the 64 KiB of metadata
    assert vmdk == 4 * 64 * 1024


def test_fixed_vhd_footer() -> None:
    raw = sample_disk()
    buf = io.BytesIO()
    write_fixed_vhd(raw, buf, 946684800 + 1000)
    data = buf.getvalue()
    assert len(data) == 6 * MIB + 512
    footer = data[-512:]
    assert footer[:8] == b"conectix"
    (timestamp,) = struct.unpack(">I", footer[24:28])
    assert timestamp == 1000
    (current,) = struct.unpack(">Q", footer[48:56])
    assert current == 6 * MIB
    (disk_type, checksum) = struct.unpack(">II", footer[60:68])
    assert disk_type == 2
    assert checksum == _checksum(footer[:64] + b"\0\0\0\0" + footer[68:])


def test_outputs_depend_only_on_content_and_time() -> None:
    raw = sample_disk()
    for writer, _ in WRITERS.values():
        one, two = io.BytesIO(), io.BytesIO()
        writer(raw, one)
        writer(raw, two)
        assert one.getvalue() == two.getvalue()
    changed = raw[:-1] + b"\1"
    one, two = io.BytesIO(), io.BytesIO()
    write_fixed_vhd(raw, one, 0)
    write_fixed_vhd(changed, two, 0)
    assert one.getvalue()[-512:] != two.getvalue()[-512:]  # the unique id follows the content


def test_chs_geometry_follows_the_specification() -> None:
    assert chs_geometry(6 * MIB) == (180, 4, 17)
    assert chs_geometry(1 << 30) == (2080, 16, 63)
    assert chs_geometry(200 << 30) == (65535, 16, 255)

"""The tar, cpio and gzip writers, checked against tarfile and GNU tar and cpio."""
from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.tree_test import LONG, MTIME, cpio_bytes, sample_tree, tar_bytes
from linuxkit_rules.core.archive.writers import (
    gzip_writer,
    link_duplicates,
    write_cpio_newc,
    write_tar,
)
from linuxkit_rules.core.errors import ArchiveError


def test_tar_round_trip_with_tarfile() -> None:
    data = tar_bytes(sample_tree())
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name.rstrip("/"): m for m in tf.getmembers()}
        assert all(m.mtime == MTIME and m.uname == "" and m.gname == "" for m in members.values())
        assert members["bin/busybox"].mode == 0o4755 and members["bin/busybox"].isreg()
        assert tf.extractfile("bin/busybox").read().startswith(b"\x7fELF")  # type: ignore[union-attr]
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["usr/bin/ls"].islnk() and members["usr/bin/ls"].linkname == "bin/busybox"
        assert members["dev/console"].ischr() and (
            members["dev/console"].devmajor,
            members["dev/console"].devminor,
        ) == (5, 1)
        assert members["dev/sda"].isblk() and members["dev/sda"].gid == 6
        assert members["run/fifo"].isfifo()
        assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
        assert members["home/user/.profile"].uid == 1000
        assert tf.extractfile(LONG).read() == b"long\n"  # type: ignore[union-attr]
        assert members["lib/long-link"].linkname == "/" + LONG
        assert tf.extractfile("etc/motd-\u00fcnicode").read() == "gr\u00fc\u00dfe".encode()  # type: ignore[union-attr]
        assert len(LONG) > 100
    back = Tree()
    back.add_tar(io.BytesIO(data))
    assert back.entries() == sample_tree().entries()


def test_tar_moves_data_to_first_member_of_a_link_group() -> None:
    t = Tree()
    t.add(Entry("z/real", "file", 0o700, data=b"payload"))
    t.add(Entry("a/link", "hardlink", target="z/real"))  # sorts before its target
    data = tar_bytes(t)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        first, second = [m for m in tf.getmembers() if not m.isdir()]
        assert (first.name, first.isreg(), first.mode) == ("a/link", True, 0o700)
        assert (second.name, second.islnk(), second.linkname) == ("z/real", True, "a/link")
        assert tf.extractfile(first).read() == b"payload"  # type: ignore[union-attr]
    back = Tree()
    back.add_tar(io.BytesIO(data))
    assert back.get("a/link").data == b"payload"  # type: ignore[union-attr]


def test_tar_rejects_dangling_hardlink_and_duplicates() -> None:
    with pytest.raises(ArchiveError, match="not in the archive"):
        write_tar([Entry("a", "hardlink", target="b")], io.BytesIO(), MTIME)
    with pytest.raises(ArchiveError, match="twice"):
        write_tar([Entry("a", "file"), Entry("/a", "file")], io.BytesIO(), MTIME)


def test_outputs_are_deterministic_across_runs_and_insertion_order() -> None:
    forward = sample_tree()
    backward = Tree()
    for e in reversed(forward.entries()):
        if e.kind != "hardlink":
            backward.add(e)
    for e in forward.entries():
        if e.kind == "hardlink":
            backward.add(e)
    assert tar_bytes(forward) == tar_bytes(sample_tree()) == tar_bytes(backward)
    assert cpio_bytes(forward) == cpio_bytes(sample_tree()) == cpio_bytes(backward)
    assert tar_bytes(forward) != tar_bytes(forward, MTIME + 1)


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar is not installed")
def test_gnu_tar_extracts(tmp_path: Path) -> None:
    t = sample_tree()
    t.remove("dev")
    t.add(Entry("a/first", "hardlink", target="bin/busybox"))  # a link sorting before its file
    (tmp_path / "x.tar").write_bytes(tar_bytes(t))
    (tmp_path / "out").mkdir()
    subprocess.run(
        ["tar", "-xpf", str(tmp_path / "x.tar"), "-C", str(tmp_path / "out")], check=True
    )
    out = tmp_path / "out"
    assert os.path.samefile(out / "a/first", out / "bin/busybox")
    assert os.path.samefile(out / "a/first", out / "usr/bin/ls")
    assert (out / "a/first").read_bytes() == t.get("bin/busybox").data  # type: ignore[union-attr]
    assert os.readlink(out / "lib/long-link") == "/" + LONG
    assert stat.S_ISFIFO((out / "run/fifo").lstat().st_mode)
    assert int((out / LONG).stat().st_mtime) == MTIME
    on_disk = Tree()
    on_disk.add_directory(out)
    assert [e.path for e in on_disk.entries()] == [e.path for e in t.entries()]


def parse_newc(data: bytes) -> list[dict[str, Any]]:
    """A small independent newc reader for the tests."""
    out: list[dict[str, Any]] = []
    pos = 0
    names = (
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "mtime",
        "size",
        "devmajor",
        "devminor",
        "rdevmajor",
        "rdevminor",
        "namesize",
        "check",
    )
    while True:
        assert data[pos : pos + 6] == b"070701", pos
        fields = {n: int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i, n in enumerate(names)}
        name_start = pos + 110
        name = data[name_start : name_start + fields["namesize"] - 1].decode()
        assert data[name_start + fields["namesize"] - 1] == 0
        pos = name_start + fields["namesize"]
        pos += -pos % 4
        body = data[pos : pos + fields["size"]]
        pos += fields["size"]
        pos += -pos % 4
        if name == "TRAILER!!!":
            assert set(data[pos:]) <= {0} and len(data) % 512 == 0
            return out
        out.append({"name": name, "data": body, **fields})


def test_cpio_parses_back() -> None:
    records = parse_newc(cpio_bytes(sample_tree()))
    by_name = {r["name"]: r for r in records}
    assert [r["name"] for r in records] == [e.path for e in sample_tree().entries()]
    non_links = [r["ino"] for r in records if r["name"] not in ("bin/busybox", "usr/bin/ls")]
    assert sorted(non_links + [by_name["bin/busybox"]["ino"]]) == list(range(1, len(records)))
    assert all(r["mtime"] == MTIME for r in records)
    assert by_name["etc"]["mode"] == stat.S_IFDIR | 0o755 and by_name["etc"]["nlink"] == 2
    assert by_name["tmp"]["mode"] == stat.S_IFDIR | 0o1777
    assert (
        by_name["bin/sh"]["mode"] == stat.S_IFLNK | 0o777
        and by_name["bin/sh"]["data"] == b"busybox"
    )
    assert by_name["dev/console"]["mode"] == stat.S_IFCHR | 0o600
    assert (by_name["dev/console"]["rdevmajor"], by_name["dev/console"]["rdevminor"]) == (5, 1)
    assert by_name["run/fifo"]["mode"] == stat.S_IFIFO | 0o600
    busybox, ls = by_name["bin/busybox"], by_name["usr/bin/ls"]
    assert busybox["ino"] == ls["ino"] and busybox["nlink"] == ls["nlink"] == 2
    assert busybox["size"] == 0 and ls["data"] == sample_tree().get("bin/busybox").data  # type: ignore[union-attr]
    assert ls["mode"] == stat.S_IFREG | 0o4755
    assert by_name["home/user/.profile"]["uid"] == 1000


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio is not installed")
def test_cpio_extracts_with_gnu_cpio(tmp_path: Path) -> None:
    t = sample_tree()
    t.remove("dev")  # device nodes need privileges the test should not rely on
    t.remove("run/fifo")
    subprocess.run(
        ["cpio", "-idm", "--no-absolute-filenames", "--quiet"],
        input=cpio_bytes(t),
        cwd=tmp_path,
        check=True,
    )
    on_disk = Tree()
    on_disk.add_directory(tmp_path)
    assert [e.path for e in on_disk.entries()] == [e.path for e in t.entries()]
    busybox, ls = tmp_path / "bin/busybox", tmp_path / "usr/bin/ls"
    assert busybox.read_bytes() == t.get("bin/busybox").data  # type: ignore[union-attr]
    assert os.path.samefile(busybox, ls) and busybox.stat().st_nlink == 2
    assert stat.S_IMODE(busybox.stat().st_mode) == 0o4755 or os.geteuid() != 0
    assert os.readlink(tmp_path / "bin/sh") == "busybox"
    assert (tmp_path / LONG).read_bytes() == b"long\n"
    assert int((tmp_path / "etc/passwd").stat().st_mtime) == MTIME


def duplicate_tree() -> Tree:
    big = bytes(range(256)) * 512  # 128 KiB
    t = Tree()
    t.add(Entry("a/bin/busybox", "file", 0o755, data=big))
    t.add(Entry("b/bin/busybox", "file", 0o755, data=big))
    t.add(Entry("b/bin/other", "file", 0o755, data=big[:-1] + b"x"))
    t.add(Entry("c/bin/busybox", "file", 0o700, data=big))  # another mode: its own inode
    t.add(Entry("c/bin/ls", "hardlink", target="c/bin/busybox"))
    t.add(Entry("d/bin/busybox", "file", 0o755, data=big))
    t.add(Entry("d/etc/passwd", "file", data=b"root:x:0:0::/root:/bin/sh\n"))
    t.add(Entry("e/etc/passwd", "file", data=b"root:x:0:0::/root:/bin/sh\n"))
    return t


def test_link_duplicates_links_large_equal_files_only() -> None:
    linked = {e.path: e for e in link_duplicates(duplicate_tree().entries())}
    assert linked["a/bin/busybox"].kind == "file"
    assert linked["b/bin/busybox"] == Entry(
        "b/bin/busybox", "hardlink", 0o755, target="a/bin/busybox"
    )
    assert linked["d/bin/busybox"].target == "a/bin/busybox"
    assert linked["b/bin/other"].kind == "file"  # other data
    assert linked["c/bin/busybox"].kind == "file"  # other mode
    assert linked["c/bin/ls"].kind == "hardlink" and linked["c/bin/ls"].target == "c/bin/busybox"
    assert linked["e/etc/passwd"].kind == "file"  # small files stay copies


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio is not installed")
def test_linked_cpio_extracts_to_shared_inodes(tmp_path: Path) -> None:
    t = duplicate_tree()
    plain, linked = io.BytesIO(), io.BytesIO()
    write_cpio_newc(t.entries(), plain, MTIME)
    write_cpio_newc(link_duplicates(t.entries()), linked, MTIME)
    assert len(linked.getvalue()) <= len(plain.getvalue()) - 2 * 128 * 1024 + 512
    subprocess.run(["cpio", "-idm", "--quiet"], input=linked.getvalue(), cwd=tmp_path, check=True)
    for path in ("a/bin/busybox", "b/bin/busybox", "d/bin/busybox", "c/bin/busybox"):
        assert (tmp_path / path).read_bytes() == t.get(path).data  # type: ignore[union-attr]
    assert os.path.samefile(tmp_path / "a/bin/busybox", tmp_path / "d/bin/busybox")
    assert (tmp_path / "a/bin/busybox").stat().st_nlink == 3
    assert not os.path.samefile(tmp_path / "a/bin/busybox", tmp_path / "c/bin/busybox")
    assert (tmp_path / "e/etc/passwd").stat().st_nlink == 1


def test_gzip_header_is_fixed() -> None:
    class Named(io.BytesIO):
        name = "/host/path/secret.tar"

    out = Named()
    with gzip_writer(out, level=9) as gz:
        gz.write(b"hello" * 100)
    data = out.getvalue()
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[3] == 0  # FLG: no FNAME, no FCOMMENT, no FEXTRA
    assert data[4:8] == b"\0\0\0\0"  # MTIME 0
    assert b"secret" not in data
    assert gzip.decompress(data) == b"hello" * 100
    again = Named()
    with gzip_writer(again, level=9) as gz:
        gz.write(b"hello" * 100)
    assert again.getvalue() == data

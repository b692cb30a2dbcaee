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

from linuxkit_rules.core.archive.tree import (
    Entry,
    Tree,
    add_deb,
    gzip_writer,
    normalize_path,
    read_deb,
    write_cpio_newc,
    write_tar,
)
from linuxkit_rules.core.errors import ArchiveError

MTIME = 1700000000
LONG = "usr/share/" + "/".join(["d" * 40] * 3) + "/file-with-a-long-name.txt"  # > 100 chars


def sample_tree() -> Tree:
    t = Tree()
    t.add(Entry("etc", "dir", 0o755))
    t.add(Entry("etc/passwd", "file", 0o644, data=b"root:x:0:0::/root:/bin/sh\n"))
    t.add(Entry("bin/busybox", "file", 0o4755, data=b"\x7fELF" + bytes(range(256)) * 3))
    t.add(Entry("bin/sh", "symlink", 0o777, target="busybox"))
    t.add(Entry("usr/bin/ls", "hardlink", target="bin/busybox"))
    t.add(Entry("dev/console", "char", 0o600, devmajor=5, devminor=1))
    t.add(Entry("dev/sda", "block", 0o660, gid=6, devmajor=8, devminor=0))
    t.add(Entry("run/fifo", "fifo", 0o600))
    t.add(Entry("tmp", "dir", 0o1777))
    t.add(Entry("home/user/.profile", "file", 0o600, uid=1000, gid=1000, data=b"export A=1\n"))
    t.add(Entry(LONG, "file", data=b"long\n"))
    t.add(Entry("var/empty", "file", data=b""))
    t.add(Entry("lib/long-link", "symlink", 0o777, target="/" + LONG))
    t.add(Entry("etc/motd-\u00fcnicode", "file", data="gr\u00fc\u00dfe".encode()))
    return t


def tar_bytes(tree: Tree, mtime: int = MTIME) -> bytes:
    buf = io.BytesIO()
    write_tar(tree.entries(), buf, mtime)
    return buf.getvalue()


def cpio_bytes(tree: Tree, mtime: int = MTIME) -> bytes:
    buf = io.BytesIO()
    write_cpio_newc(tree.entries(), buf, mtime)
    return buf.getvalue()


# -- paths and tree ------------------------------------------------------------


def test_normalize_path() -> None:
    assert normalize_path("/usr//bin/./ls") == "usr/bin/ls"
    assert normalize_path("./etc/") == "etc"
    for bad in ("", "/", ".", "a/../b", "../etc", "a/\0b"):
        with pytest.raises(ArchiveError):
            normalize_path(bad)


def test_dotdot_rejected_in_entries_and_tars() -> None:
    with pytest.raises(ArchiveError, match=r"'\.\.'"):
        Tree().add(Entry("a/../../etc/passwd", "file"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("../escape")
        tf.addfile(ti, io.BytesIO(b""))
    buf.seek(0)
    with pytest.raises(ArchiveError, match=r"\.\./escape"):
        Tree().add_tar(buf)


def test_add_creates_parents_and_sorts_by_bytes() -> None:
    t = Tree()
    t.add(Entry("a/b/c", "file", data=b"x"))
    t.add(Entry("a-b", "file"))
    assert [e.path for e in t.entries()] == ["a", "a-b", "a/b", "a/b/c"]
    assert t.get("a") == Entry("a", "dir", 0o755)
    assert "a/b" in t and "/a/b/" in t and "nope" not in t
    assert len(t) == 4 and t.file_bytes() == 1


def test_overlay_rules() -> None:
    t = Tree()
    t.add(Entry("d/x", "file", data=b"1"))
    t.add(Entry("d", "dir", 0o700, uid=5))
    assert "d/x" in t and t.get("d") == Entry("d", "dir", 0o700, uid=5)
    t.add(Entry("d", "symlink", target="elsewhere"))
    assert "d/x" not in t and t.get("d").kind == "symlink"  # type: ignore[union-attr]
    t.add(Entry("d/y", "file"))  # a non-dir in the way of a parent becomes a dir
    assert t.get("d").kind == "dir"  # type: ignore[union-attr]
    t.add(Entry("d/y", "file", data=b"new"))
    assert t.get("d/y").data == b"new"  # type: ignore[union-attr]
    t.remove("d")
    t.remove("never/there")
    assert len(t) == 0


def test_invalid_entries() -> None:
    t = Tree()
    with pytest.raises(ArchiveError, match="kind"):
        t.add(Entry("x", "socket"))
    with pytest.raises(ArchiveError, match="mode"):
        t.add(Entry("x", "file", stat.S_IFREG | 0o644))
    with pytest.raises(ArchiveError, match="not in the tree"):
        t.add(Entry("x", "hardlink", target="missing"))


def test_hardlink_survives_removal_of_its_target() -> None:
    t = Tree()
    t.add(Entry("bin/a", "file", 0o755, data=b"A"))
    t.add(Entry("bin/b", "hardlink", target="/bin/a"))
    t.add(Entry("bin/c", "hardlink", target="bin/b"))  # a link to a link
    assert t.get("bin/c") == Entry("bin/c", "hardlink", 0o755, target="bin/a")  # takes the file's mode
    t.remove("bin/a")
    assert t.get("bin/b") == Entry("bin/b", "file", 0o755, data=b"A")
    assert t.get("bin/c") == Entry("bin/c", "hardlink", 0o755, target="bin/b")
    t.add(Entry("bin/b", "file", data=b"replaced"))  # overlay replaces one name only
    assert t.get("bin/c") == Entry("bin/c", "file", 0o755, data=b"A")
    t.add(Entry("bin/s", "symlink", target="bin/c"))
    t.add(Entry("bin/s", "hardlink", target="bin/c"))  # replaces a symlink whose target string matches
    assert t.get("bin/s") == Entry("bin/s", "hardlink", 0o755, target="bin/c")
    t.add(Entry("bin/s", "hardlink", target="/bin/s"))  # a link to itself changes nothing
    assert t.get("bin/s") == Entry("bin/s", "hardlink", 0o755, target="bin/c")


def test_remove_globs() -> None:
    t = Tree()
    for p in ("usr/share/doc/a/copyright", "usr/share/doc/b", "usr/lib/x.pyc", "x.pyc", "usr/lib/x.py", "etc/a[1]"):
        t.add(Entry(p, "file"))
    n = t.remove_globs(["/usr/share/doc/**", "**/*.pyc", "etc/a[[]1]"])
    assert n == 6  # doc/a, doc/a/copyright, doc/b, two .pyc, etc/a[1]
    assert sorted(e.path for e in t.entries()) == ["etc", "usr", "usr/lib", "usr/lib/x.py", "usr/share", "usr/share/doc"]
    t.add(Entry("usr/a/b/c/x.py", "file"))
    assert t.remove_globs(["usr/**/c/*.py"]) == 1 and "usr/a/b/c" in t
    assert t.remove_globs(["usr/*"]) == 7
    assert t.remove_globs(["*/nothing?"]) == 0


def test_copy_subtree_moves_internal_hardlinks() -> None:
    t = Tree()
    t.add(Entry("outside", "file", data=b"o"))
    t.add(Entry("src/f", "file", data=b"f"))
    t.add(Entry("src/a/link", "hardlink", target="src/f"))
    t.add(Entry("src/out", "hardlink", target="outside"))
    t.copy_subtree("src", "dst/copy")
    assert t.get("dst/copy/a/link") == Entry("dst/copy/a/link", "hardlink", target="dst/copy/f")
    assert t.get("dst/copy/out") == Entry("dst/copy/out", "hardlink", target="outside")
    assert t.get("dst/copy/f").data == b"f"  # type: ignore[union-attr]
    with pytest.raises(ArchiveError):
        t.copy_subtree("missing", "x")


def test_add_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(tmp_path / "sub" / "run.sh", 0o700)
    (tmp_path / "data").write_bytes(b"d")
    os.chmod(tmp_path / "data", 0o600)
    os.symlink("sub/run.sh", tmp_path / "link")
    t = Tree()
    t.add_directory(tmp_path, prefix="/opt/x")
    assert [(e.path, e.kind, oct(e.mode)) for e in t.entries()] == [
        ("opt", "dir", "0o755"),
        ("opt/x", "dir", "0o755"),
        ("opt/x/data", "file", "0o644"),
        ("opt/x/link", "symlink", "0o777"),
        ("opt/x/sub", "dir", "0o755"),
        ("opt/x/sub/run.sh", "file", "0o755"),
    ]
    assert t.get("opt/x/link").target == "sub/run.sh"  # type: ignore[union-attr]


# -- tar -----------------------------------------------------------------------


def test_tar_round_trip_with_tarfile() -> None:
    data = tar_bytes(sample_tree())
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name.rstrip("/"): m for m in tf.getmembers()}
        assert all(m.mtime == MTIME and m.uname == "" and m.gname == "" for m in members.values())
        assert members["bin/busybox"].mode == 0o4755 and members["bin/busybox"].isreg()
        assert tf.extractfile("bin/busybox").read().startswith(b"\x7fELF")  # type: ignore[union-attr]
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["usr/bin/ls"].islnk() and members["usr/bin/ls"].linkname == "bin/busybox"
        assert members["dev/console"].ischr() and (members["dev/console"].devmajor, members["dev/console"].devminor) == (5, 1)
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


def test_add_tar_prefix_and_compression_autodetect() -> None:
    raw = tar_bytes(sample_tree())
    gz = io.BytesIO()
    with gzip_writer(gz) as w:
        w.write(raw)
    for blob in (raw, gz.getvalue()):
        t = Tree()
        t.add_tar(io.BytesIO(blob), prefix="/containers/onboot/000-x/rootfs/")
        assert t.get("containers/onboot/000-x/rootfs/usr/bin/ls") == Entry(
            "containers/onboot/000-x/rootfs/usr/bin/ls",
            "hardlink",
            0o4755,
            target="containers/onboot/000-x/rootfs/bin/busybox",
        )
    with pytest.raises(ArchiveError):
        Tree().add_tar(io.BytesIO(b"this is not a tar archive" * 40))


def layer(*entries: Entry) -> io.BytesIO:
    buf = io.BytesIO()
    write_tar(entries, buf, MTIME)
    buf.seek(0)
    return buf


def test_oci_whiteouts() -> None:
    t = Tree()
    t.add_tar(layer(Entry("etc/a", "file"), Entry("etc/b", "file"), Entry("opt/x/old", "file"), Entry("opt/x/sub/old", "file")))
    t.add_tar(
        layer(
            Entry("etc/.wh.a", "file"),
            Entry("opt/x/sub/new", "file"),  # same layer as the opaque marker: kept
            Entry("opt/x/.wh..wh..opq", "file"),
            Entry("opt/x/.wh.sub", "file"),  # a whiteout never hides its own layer
        ),
        oci_whiteouts=True,
    )
    assert sorted(e.path for e in t.entries()) == ["etc", "etc/b", "opt", "opt/x", "opt/x/sub", "opt/x/sub/new"]
    plain = Tree()
    plain.add_tar(layer(Entry("etc/.wh.a", "file")))
    assert "etc/.wh.a" in plain


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar is not installed")
def test_gnu_tar_extracts(tmp_path: Path) -> None:
    t = sample_tree()
    t.remove("dev")
    t.add(Entry("a/first", "hardlink", target="bin/busybox"))  # a link sorting before its file
    (tmp_path / "x.tar").write_bytes(tar_bytes(t))
    (tmp_path / "out").mkdir()
    subprocess.run(["tar", "-xpf", str(tmp_path / "x.tar"), "-C", str(tmp_path / "out")], check=True)
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


# -- cpio ----------------------------------------------------------------------


def parse_newc(data: bytes) -> list[dict[str, Any]]:
    """A small independent newc reader for the tests."""
    out: list[dict[str, Any]] = []
    pos = 0
    names = ("ino", "mode", "uid", "gid", "nlink", "mtime", "size", "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check")
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
    assert by_name["bin/sh"]["mode"] == stat.S_IFLNK | 0o777 and by_name["bin/sh"]["data"] == b"busybox"
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


# -- gzip ----------------------------------------------------------------------


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


# -- Debian packages -----------------------------------------------------------


def build_deb(tmp_path: Path, compression: str = "xz") -> Path:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: hello\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example.invalid>\nDescription: test\n"
    )
    (root / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (root / "lib" / "x86_64-linux-gnu" / "libhello.so.1").write_bytes(b"\x7fELF lib")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "hello").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "usr" / "bin" / "hello", 0o755)
    os.symlink("hello", root / "usr" / "bin" / "hi")
    out = tmp_path / "hello.deb"
    subprocess.run(
        ["dpkg-deb", f"-Z{compression}", "--root-owner-group", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
@pytest.mark.parametrize("compression", ["xz", "gzip", "none"])
def test_read_real_deb(tmp_path: Path, compression: str) -> None:
    deb_path = build_deb(tmp_path, compression)
    with open(deb_path, "rb") as f:
        deb = read_deb(f)
    assert b"Package: hello" in deb.control
    assert deb.data_name == {"xz": "data.tar.xz", "gzip": "data.tar.gz", "none": "data.tar"}[compression]
    t = Tree()
    with open(deb_path, "rb") as f:
        add_deb(t, f)
    hello = t.get("usr/bin/hello")
    assert hello is not None and hello.mode == 0o755 and hello.data == b"#!/bin/sh\necho hi\n"
    assert t.get("usr/bin/hi") == Entry("usr/bin/hi", "symlink", 0o777, target="hello")
    assert t.get("lib/x86_64-linux-gnu/libhello.so.1").data == b"\x7fELF lib"  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_add_deb_follows_merged_usr_symlinks(tmp_path: Path) -> None:
    t = Tree()
    t.add(Entry("usr/lib", "dir", 0o755))
    t.add(Entry("lib", "symlink", 0o777, target="usr/lib"))
    with open(build_deb(tmp_path), "rb") as f:
        add_deb(t, f)
    assert t.get("lib") == Entry("lib", "symlink", 0o777, target="usr/lib")
    assert t.get("usr/lib/x86_64-linux-gnu/libhello.so.1").data == b"\x7fELF lib"  # type: ignore[union-attr]


def ar(*members: tuple[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, body in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{0o100644:<8o}{len(body):<10}`\n".encode() + body
        if len(body) % 2:
            out += b"\n"
    return out


def test_zstd_deb_gives_a_clear_error() -> None:
    control = io.BytesIO()
    with tarfile.open(fileobj=control, mode="w:gz") as tf:
        ti = tarfile.TarInfo("./control")
        ti.size = 4
        tf.addfile(ti, io.BytesIO(b"x: y"))
    deb = ar(("debian-binary", b"2.0\n"), ("control.tar.gz", control.getvalue()), ("data.tar.zst", b"\x28\xb5\x2f\xfd"))
    with pytest.raises(ArchiveError, match=r"data\.tar\.zst.*zstd"):
        read_deb(io.BytesIO(deb))
    ok = ar(("debian-binary", b"2.0\n"), ("control.tar.gz", control.getvalue()), ("data.tar", tar_bytes(Tree())))
    assert read_deb(io.BytesIO(ok)).control == b"x: y"
    with pytest.raises(ArchiveError, match="ar magic"):
        read_deb(io.BytesIO(b"PK\x03\x04"))
    with pytest.raises(ArchiveError, match="data.tar"):
        read_deb(io.BytesIO(ar(("debian-binary", b"2.0\n"), ("control.tar.gz", control.getvalue()))))

"""The in-memory tree: paths, overlay rules, hard links, adding directories and tars."""
from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from linuxkit_rules.core.archive.tree import Entry, Tree, normalize_path
from linuxkit_rules.core.archive.writers import gzip_writer, write_cpio_newc, write_tar
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
    assert t.get("bin/c") == Entry(
        "bin/c", "hardlink", 0o755, target="bin/a"
    )  # takes the file's mode
    t.remove("bin/a")
    assert t.get("bin/b") == Entry("bin/b", "file", 0o755, data=b"A")
    assert t.get("bin/c") == Entry("bin/c", "hardlink", 0o755, target="bin/b")
    t.add(Entry("bin/b", "file", data=b"replaced"))  # overlay replaces one name only
    assert t.get("bin/c") == Entry("bin/c", "file", 0o755, data=b"A")
    t.add(Entry("bin/s", "symlink", target="bin/c"))
    t.add(
        Entry("bin/s", "hardlink", target="bin/c")
    )  # replaces a symlink whose target string matches
    assert t.get("bin/s") == Entry("bin/s", "hardlink", 0o755, target="bin/c")
    t.add(Entry("bin/s", "hardlink", target="/bin/s"))  # a link to itself changes nothing
    assert t.get("bin/s") == Entry("bin/s", "hardlink", 0o755, target="bin/c")


def test_remove_globs() -> None:
    t = Tree()
    for p in (
        "usr/share/doc/a/copyright",
        "usr/share/doc/b",
        "usr/lib/x.pyc",
        "x.pyc",
        "usr/lib/x.py",
        "etc/a[1]",
    ):
        t.add(Entry(p, "file"))
    n = t.remove_globs(["/usr/share/doc/**", "**/*.pyc", "etc/a[[]1]"])
    assert n == 6  # doc/a, doc/a/copyright, doc/b, two .pyc, etc/a[1]
    assert sorted(e.path for e in t.entries()) == [
        "etc",
        "usr",
        "usr/lib",
        "usr/lib/x.py",
        "usr/share",
        "usr/share/doc",
    ]
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
    t.add_tar(
        layer(
            Entry("etc/a", "file"),
            Entry("etc/b", "file"),
            Entry("opt/x/old", "file"),
            Entry("opt/x/sub/old", "file"),
        )
    )
    t.add_tar(
        layer(
            Entry("etc/.wh.a", "file"),
            Entry("opt/x/sub/new", "file"),  # same layer as the opaque marker: kept
            Entry("opt/x/.wh..wh..opq", "file"),
            Entry("opt/x/.wh.sub", "file"),  # a whiteout never hides its own layer
        ),
        oci_whiteouts=True,
    )
    assert sorted(e.path for e in t.entries()) == [
        "etc",
        "etc/b",
        "opt",
        "opt/x",
        "opt/x/sub",
        "opt/x/sub/new",
    ]
    plain = Tree()
    plain.add_tar(layer(Entry("etc/.wh.a", "file")))
    assert "etc/.wh.a" in plain

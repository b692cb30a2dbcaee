"""Reading .deb files built by dpkg-deb, and by hand for the error cases."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from linuxkit_rules.core.archive.deb import add_deb, read_deb
from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.tree_test import tar_bytes
from linuxkit_rules.core.errors import ArchiveError


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
    assert (
        deb.data_name
        == {"xz": "data.tar.xz", "gzip": "data.tar.gz", "none": "data.tar"}[compression]
    )
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
        out += (
            f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{0o100644:<8o}{len(body):<10}`\n".encode() + body
        )
        if len(body) % 2:
            out += b"\n"
    return out


def test_zstd_deb_gives_a_clear_error() -> None:
    control = io.BytesIO()
    with tarfile.open(fileobj=control, mode="w:gz") as tf:
        ti = tarfile.TarInfo("./control")
        ti.size = 4
        tf.addfile(ti, io.BytesIO(b"x: y"))
    deb = ar(
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", control.getvalue()),
        ("data.tar.zst", b"\x28\xb5\x2f\xfd"),
    )
    with pytest.raises(ArchiveError, match=r"data\.tar\.zst.*zstd"):
        read_deb(io.BytesIO(deb))
    ok = ar(
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", control.getvalue()),
        ("data.tar", tar_bytes(Tree())),
    )
    assert read_deb(io.BytesIO(ok)).control == b"x: y"
    with pytest.raises(ArchiveError, match="ar magic"):
        read_deb(io.BytesIO(b"PK\x03\x04"))
    with pytest.raises(ArchiveError, match="data.tar"):
        read_deb(
            io.BytesIO(ar(("debian-binary", b"2.0\n"), ("control.tar.gz", control.getvalue())))
        )

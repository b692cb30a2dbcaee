"""Toolchain roots from .debs built by dpkg-deb: merged /usr, alternatives, files on disk."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.debian.toolchain import (
    add_alternatives,
    build_toolchain,
    toolchain_tree,
    write_directory,
)

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb")


def deb(tmp_path: Path, name: str, files: dict[str, bytes]) -> str:
    root = tmp_path / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.invalid>\n"
        "Description: test\n"
    )
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        os.chmod(root / path, 0o755)
    out = tmp_path / f"{name}.deb"
    subprocess.run(
        ["dpkg-deb", "-Zxz", "--root-owner-group", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
    )
    return str(out)


def test_the_root_is_merged_usr_with_alternatives(tmp_path: Path) -> None:
    debs = [
        deb(tmp_path, "dash", {"bin/dash": b"#!dash"}),
        deb(tmp_path, "gcc", {"usr/bin/gcc": b"#!gcc"}),
        deb(tmp_path, "libc", {"lib/x86_64-linux-gnu/libc.so.6": b"\x7fELF"}),
    ]
    tree = toolchain_tree(debs)
    assert tree.get("bin") == Entry("bin", "symlink", 0o777, target="usr/bin")
    assert tree.get("usr/bin/dash") is not None and tree.get("usr/lib/x86_64-linux-gnu/libc.so.6")
    assert tree.get("usr/bin/cc") == Entry("usr/bin/cc", "symlink", 0o777, target="gcc")
    assert tree.get("usr/bin/sh") == Entry("usr/bin/sh", "symlink", 0o777, target="dash")
    assert tree.get("usr/bin/awk") is None  # no awk in the root: no dangling link


def test_a_link_a_package_ships_is_kept() -> None:
    tree = Tree()
    tree.add(Entry("usr/bin/mawk", "file", 0o755, data=b"m"))
    tree.add(Entry("usr/bin/gawk", "file", 0o755, data=b"g"))
    tree.add(Entry("usr/bin/sh", "symlink", 0o777, target="bash"))
    made = add_alternatives(tree)
    assert tree.get("usr/bin/awk").target == "gawk"  # type: ignore[union-attr]
    assert tree.get("usr/bin/sh").target == "bash"  # type: ignore[union-attr]
    assert "usr/bin/sh" not in made


def test_write_directory_keeps_links_and_exec_bits(tmp_path: Path) -> None:
    tree = Tree()
    tree.add(Entry("usr/bin/tool", "file", 0o4755, data=b"tool"))
    tree.add(Entry("usr/share/a", "file", 0o600, data=b"a"))
    tree.add(Entry("usr/bin/link", "symlink", 0o777, target="tool"))
    tree.add(Entry("usr/bin/alias", "hardlink", 0o755, target="usr/bin/tool"))
    size = write_directory(tree.entries(), str(tmp_path / "root"))
    root = tmp_path / "root"
    assert os.stat(root / "usr/bin/tool").st_mode & 0o7777 == 0o755  # no setuid
    assert os.stat(root / "usr/share/a").st_mode & 0o777 == 0o644
    assert os.readlink(root / "usr/bin/link") == "tool"
    assert (root / "usr/bin/alias").read_bytes() == b"tool"
    assert size == len(b"tool") * 2 + 1


def test_build_toolchain_writes_the_root(tmp_path: Path) -> None:
    debs = [deb(tmp_path, "make", {"usr/bin/make": b"#!make"})]
    report = build_toolchain({"target": "//t:t", "debs": debs, "output": str(tmp_path / "out")})
    assert (tmp_path / "out/usr/bin/make").read_bytes() == b"#!make"
    assert report["size"] == len(b"#!make")

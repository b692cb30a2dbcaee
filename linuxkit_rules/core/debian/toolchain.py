"""`tool toolchain`: a toolchain root directory unpacked from locked .debs.

The root is merged-/usr (`bin`, `sbin`, `lib*` are symlinks into `usr/`), as
Debian 12 installs it, so that a package's `/bin/sh` and `/usr/bin/make` land
where every other package expects them. Maintainer scripts do not run: what
they would have made and the build tools need (the `update-alternatives`
links such as `cc` and `awk`) is made here from a fixed table; a link is made
only when its target is in the root.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from linuxkit_rules.core.archive.deb import add_deb
from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.errors import ArchiveError
from linuxkit_rules.core.manifest import Manifest

MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

# link -> candidates, the first present wins: what the alternatives system
# (or a package's postinst) would point the link at on an installed system.
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "usr/bin/cc": ("gcc",),
    "usr/bin/c++": ("g++",),
    "usr/bin/cpp": ("cpp-12",),
    "usr/bin/awk": ("gawk", "mawk"),
    "usr/bin/nawk": ("gawk", "mawk"),
    "usr/bin/yacc": ("bison.yacc", "byacc"),
    "usr/bin/lex": ("flex",),
    "usr/bin/sh": ("dash", "bash"),
    "usr/bin/ld": ("ld.bfd",),
    "usr/bin/lzma": ("xz",),
}


@dataclass(frozen=True)
class ToolchainManifest(Manifest):
    """`tool toolchain`: unpack `debs` (in order) into the directory `output`."""

    command = "toolchain"

    target: str  # the debian_toolchain address, for errors
    debs: tuple[str, ...]
    output: str


def toolchain_tree(debs: Iterable[str]) -> Tree:
    """The merged-/usr root of `debs` with the alternatives links."""
    tree = Tree()
    for name, target in MERGED_USR.items():
        tree.add(Entry(target, "dir", 0o755))
        tree.add(Entry(name, "symlink", 0o777, target=target))
    for deb in debs:
        with open(deb, "rb") as f:
            try:
                add_deb(tree, f)
            except ArchiveError as e:
                raise ArchiveError(f"{deb}: {e}") from None
    add_alternatives(tree)
    return tree


def add_alternatives(tree: Tree) -> list[str]:
    """Make each ALTERNATIVES link that is absent and has a candidate in the tree;
    returns the links made."""
    made = []
    for link, candidates in sorted(ALTERNATIVES.items()):
        if tree.get(link) is not None:
            continue
        directory = posixpath.dirname(link)
        for candidate in candidates:
            if tree.get(posixpath.join(directory, candidate)) is not None:
                tree.add(Entry(link, "symlink", 0o777, target=candidate))
                made.append(link)
                break
    return made


def write_directory(entries: Iterable[Entry], root: str) -> int:
    """Write `entries` (parents first, as `Tree.entries()` gives them) under `root`.
    Files keep only their executable bit (as a content digest does), hard links
    become copies, devices and fifos are skipped (a toolchain has no use for them).
    Returns the bytes of file data written."""
    os.makedirs(root, exist_ok=True)
    written = 0
    entries = list(entries)
    files = {e.path: e.data for e in entries if e.kind == "file"}
    for e in entries:
        path = os.path.join(root, e.path)
        if e.kind == "dir":
            os.makedirs(path, exist_ok=True)
        elif e.kind == "symlink":
            os.symlink(e.target, path)
        elif e.kind in ("file", "hardlink"):
            data = e.data if e.kind == "file" else files[e.target]
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o755 if e.mode & 0o111 else 0o644)
            written += len(data)
    return written


def build_toolchain(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = ToolchainManifest.from_json(manifest)
    tree = toolchain_tree(m.debs)
    size = write_directory(tree.entries(), m.output)
    return {"files": len(tree), "size": size}

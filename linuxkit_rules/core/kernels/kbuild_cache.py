"""A kernel source tree and build directories kept between compiles.

Layout under a root directory (a Pants named cache, or a fresh directory):

    ROOT/<source>.lock          taken while the tree is checked or unpacked
    ROOT/<source>/              the unpacked source; `.lkr-complete` once whole
    ROOT/<source>/o-<key>-<n>/  a build directory (`make O=`), slot n
    ROOT/<source>/o-<key>-<n>.lock

`<source>` is the sha256 of the `linux-source` .deb: a new source is a new
tree. `<key>` hashes what a build directory belongs to (a kernel target and
an architecture, and the toolchain). A build directory sits directly inside
its tree, so Kbuild names the tree `..` (a relative path) and no absolute
path of this cache reaches the kernel; a build in a fresh root gives the same
bytes.

Each build directory holds `.lkr-state`: "building" from before `make` runs
until it succeeds, then "valid". A directory found in any other state, or
recorded for another identity, is wiped before use, so a build killed in the
middle never leaves its half-written objects to the next one. A build holds
its slot's lock (`flock`) for its whole run: a second build of the same key
at the same time takes the next free slot, and waits for slot 0 when all
`SLOTS` are taken; two builds never share a directory.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping

SLOTS = 2
COMPLETE = ".lkr-complete"
STATE = ".lkr-state"


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_key(identity: Mapping[str, str]) -> str:
    """A short name for a build directory's identity (target, arch, toolchain)."""
    text = json.dumps(dict(identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def _locked(path: str, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive `flock` on `path` (created if missing); yields False,
    holding nothing, when `blocking` is False and another process has it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def source_tree(root: str, source_sha256: str, unpack: Callable[[str], None]) -> str:
    """The unpacked tree of the source whose .deb has `source_sha256`, unpacked
    by `unpack(dest)` unless a complete one is there already."""
    os.makedirs(root, exist_ok=True)
    tree = os.path.join(root, source_sha256)
    with _locked(tree + ".lock"):
        if _read(os.path.join(tree, COMPLETE)) != source_sha256:
            # Missing, or left half-unpacked by a killed build: start again.
            shutil.rmtree(tree, ignore_errors=True)
            os.makedirs(tree)
            unpack(tree)
            _write(os.path.join(tree, COMPLETE), source_sha256)
    return tree


class BuildDir:
    """A build directory held (locked) by this build; `path` is inside the tree."""

    def __init__(self, path: str, identity: Mapping[str, str], reused: bool) -> None:
        self.path = path
        self.identity = dict(identity)
        self.reused = reused  # False: wiped or new, the build is cold

    def building(self) -> None:
        """Mark the directory in progress: from here until `valid`, a kill poisons nothing."""
        _write(os.path.join(self.path, STATE), json.dumps({"state": "building", **self.identity}))

    def valid(self) -> None:
        _write(os.path.join(self.path, STATE), json.dumps({"state": "valid", **self.identity}))


@contextmanager
def build_dir(tree: str, identity: Mapping[str, str]) -> Iterator[BuildDir]:
    """A build directory of `tree` for `identity`, locked for the `with` block."""
    key = build_key(identity)
    slots = [os.path.join(tree, f"o-{key}-{n}") for n in range(SLOTS)]
    for slot in slots:
        with _locked(slot + ".lock", blocking=False) as held:
            if held:
                yield _prepare(slot, identity)
                return
    with _locked(slots[0] + ".lock"):
        yield _prepare(slots[0], identity)


def _prepare(path: str, identity: Mapping[str, str]) -> BuildDir:
    """Keep `path` if its state says a build for `identity` finished there; else wipe it."""
    state = _read(os.path.join(path, STATE))
    try:
        recorded = json.loads(state) if state else None
    except ValueError:
        recorded = None
    if recorded == {"state": "valid", **identity}:
        return BuildDir(path, identity, reused=True)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return BuildDir(path, identity, reused=False)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    """Replace `path` atomically (a kill leaves the old text or the new one)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

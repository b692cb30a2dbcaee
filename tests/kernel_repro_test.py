"""A kernel compiled in a fresh build directory and one compiled incrementally
in a kept one (after an option was toggled off and on again) are the same bytes.

`linux_kernel` keeps its build directory in a named cache that is no part of
the process's cache key, so this is what makes the kept directory safe: the
output depends on the inputs only.

The kernel is the repository's own (`:config`, amd64), with one option to
toggle that a single file reads (CONFIG_VETH), so that CI can afford its three
compiles: the test runs after Pants built `//kernel:linux`
(`runtime_package_dependencies`), and the compiler cache is this machine's.

It runs `./pants` in a scratch copy of the repository (tests/pantsrun.py) with
its own named-caches directory: the build-directory cache starts empty, while
the compiler cache is a link to this machine's, so the cold build is cold for
`make` (every object compiled or taken from ccache, nothing kept) and the
incremental ones are `make` in the kept directory. `--no-local-cache` makes
each compile run even when the store has its result from an earlier run.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.pantsrun import copy_repo, pants

SANDBOX = Path.cwd()
KBUILD_CACHE = "linuxkit_kernel_build"
TARGETS = """
linux_kernel(name="repro", config=":config", arches=["amd64"])
"""
# drivers/net/veth.c alone reads it (an option in a widely included header, such
# as CONFIG_EVENTFD in sched.h, would make the toggle recompile most of the tree).
FRAGMENT = "base.config"
ON = "CONFIG_VETH=y\n"
OFF = "# CONFIG_VETH is not set\n"


def _named_caches(tmp_path: Path) -> Path:
    """A named-caches directory whose entries link to this machine's, except an
    empty build-directory cache."""
    shared = Path(os.environ["HOME"]) / ".cache" / "pants" / "named_caches"
    caches = tmp_path / "named_caches"
    caches.mkdir()
    for name in ("linuxkit_kernel_ccache",):
        (shared / name).mkdir(parents=True, exist_ok=True)
        (caches / name).symlink_to(shared / name)
    (caches / KBUILD_CACHE).mkdir()
    return caches


def _build(repo: Path, caches: Path) -> dict[str, bytes]:
    pants(repo, f"--named-caches-dir={caches}", "--no-local-cache", "package", "//kernel:repro")
    out = repo / "dist" / "kernel" / "repro"
    return {name: (out / name).read_bytes() for name in ("kernel", "System.map", "config")}


def _build_dirs(caches: Path) -> list[Path]:
    return sorted(p for p in (caches / KBUILD_CACHE).glob("*/o-*") if p.is_dir())


def test_cold_and_incremental_builds_give_the_same_kernel(tmp_path: Path) -> None:
    repo = copy_repo(SANDBOX, tmp_path / "repo")
    with open(repo / "kernel" / "BUILD", "a") as f:
        f.write(TARGETS)
    caches = _named_caches(tmp_path)
    try:
        _check(repo, caches)
    finally:
        # the unpacked source alone is 1.5 GB; pytest keeps its temporary directories
        shutil.rmtree(caches / KBUILD_CACHE, ignore_errors=True)


def _check(repo: Path, caches: Path) -> None:
    fragment = repo / "kernel" / "fragments" / FRAGMENT
    text = fragment.read_text()
    assert text.count(ON) == 1, f"kernel/fragments/{FRAGMENT} no longer sets {ON.strip()}"
    cold = _build(repo, caches)
    [build_dir] = _build_dirs(caches)
    fragment.write_text(text.replace(ON, OFF))
    toggled = _build(repo, caches)
    fragment.write_text(text)
    incremental = _build(repo, caches)

    # All three compiles ran in the one kept directory, which ended valid.
    assert _build_dirs(caches) == [build_dir]
    state = json.loads((build_dir / ".lkr-state").read_text())
    assert state["state"] == "valid" and state["build"] == "kernel:repro", state
    # The toggle reached the kernel; toggled back, the bytes are the cold build's.
    assert ON.strip() not in toggled["config"].decode()
    assert ON.strip() in cold["config"].decode()
    assert toggled["kernel"] != cold["kernel"]
    assert incremental["config"] == cold["config"]
    assert incremental["System.map"] == cold["System.map"]
    assert incremental["kernel"] == cold["kernel"]

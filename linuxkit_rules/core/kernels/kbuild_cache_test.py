from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linuxkit_rules.core.kernels.kbuild_cache import (
    COMPLETE,
    STATE,
    build_dir,
    build_key,
    source_tree,
)

SHA = "ab" * 32
ID = {"build": "kernel:linux", "arch": "amd64", "toolchain": "t1"}


def _unpacker(calls: list[str]):
    def unpack(dest: str) -> None:
        calls.append(dest)
        Path(dest, "Makefile").write_text("# kernel\n")

    return unpack


def test_source_tree_is_unpacked_once(tmp_path: Path) -> None:
    calls: list[str] = []
    tree = source_tree(str(tmp_path), SHA, _unpacker(calls))
    assert tree == str(tmp_path / SHA)
    assert source_tree(str(tmp_path), SHA, _unpacker(calls)) == tree
    assert len(calls) == 1
    # a new source is a new tree
    other = source_tree(str(tmp_path), "cd" * 32, _unpacker(calls))
    assert other != tree and len(calls) == 2


def test_half_unpacked_tree_is_unpacked_again(tmp_path: Path) -> None:
    def killed(dest: str) -> None:
        Path(dest, "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        source_tree(str(tmp_path), SHA, killed)
    calls: list[str] = []
    tree = source_tree(str(tmp_path), SHA, _unpacker(calls))
    assert len(calls) == 1
    assert sorted(os.listdir(tree)) == [COMPLETE, "Makefile"]


def test_valid_build_dir_is_reused(tmp_path: Path) -> None:
    with build_dir(str(tmp_path), ID) as d:
        assert not d.reused
        d.building()
        Path(d.path, "vmlinux.o").write_text("obj")
        d.valid()
    with build_dir(str(tmp_path), ID) as again:
        assert again.reused and again.path == d.path
        assert Path(again.path, "vmlinux.o").read_text() == "obj"


def test_build_dir_killed_mid_build_is_wiped(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with build_dir(str(tmp_path), ID) as d:
            d.building()
            Path(d.path, "half.o").write_text("partial")
            raise RuntimeError("make failed")
    with build_dir(str(tmp_path), ID) as again:
        assert again.path == d.path and not again.reused
        assert os.listdir(again.path) == []


@pytest.mark.parametrize(
    "state",
    [None, "not json", json.dumps({"state": "valid", **ID, "toolchain": "t0"})],
    ids=["no-state", "garbage", "other-identity"],
)
def test_unknown_build_dir_is_wiped(tmp_path: Path, state: str | None) -> None:
    path = tmp_path / f"o-{build_key(ID)}-0"
    path.mkdir()
    (path / "stale.o").write_text("x")
    if state is not None:
        (path / STATE).write_text(state)
    with build_dir(str(tmp_path), ID) as d:
        assert d.path == str(path) and not d.reused
        assert os.listdir(d.path) == []


def test_identity_picks_the_directory(tmp_path: Path) -> None:
    with build_dir(str(tmp_path), ID) as a:
        pass
    with build_dir(str(tmp_path), {**ID, "arch": "arm64"}) as b:
        pass
    with build_dir(str(tmp_path), {**ID, "build": "kernel:other"}) as c:
        pass
    assert len({a.path, b.path, c.path}) == 3


HOLDER = textwrap.dedent(
    """
    import sys, time
    from linuxkit_rules.core.kernels.kbuild_cache import build_dir
    with build_dir(sys.argv[1], {"build": "kernel:linux", "arch": "amd64", "toolchain": "t1"}) as d:
        print(d.path, flush=True)
        time.sleep(60)
    """
)


def test_concurrent_builds_never_share_a_directory(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert holder.stdout is not None
        held = holder.stdout.readline().strip()
        with build_dir(str(tmp_path), ID) as d:
            assert d.path != held and d.path.endswith("-1")
    finally:
        holder.kill()
        holder.wait()
    # its lock went with the process: slot 0 is free again
    with build_dir(str(tmp_path), ID) as d:
        assert d.path == held

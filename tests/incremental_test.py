"""A second build with no change runs no build step; an edit in pkg/sshd re-runs
only that package and the image, once per architecture (`//images:sshd` is
amd64, `//images:sshd-arm64` arm64); an edit in a core module that only the image step runs
re-runs the images and no package. Read from Pants' own counters (`--stats-log`)
and its log of the processes that ran locally (tests/pantsrun.py).

The test copies the repository (its files are this test's dependencies) into a
scratch directory and runs `./pants` there, sharing this machine's Pants store.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from tests.pantsrun import copy_repo, pants

SANDBOX = Path.cwd()
IMAGE = {"amd64": "images:sshd", "arm64": "images:sshd-arm64"}
IMAGES = [f"//{address}" for address in IMAGE.values()]


def test_noop_and_one_package_edit(tmp_path: Path) -> None:
    repo = copy_repo(SANDBOX, tmp_path / "repo")
    assert (repo / "pants").exists() and (repo / "images" / "sshd.yml").exists()
    pants(repo, "package", *IMAGES)  # warm: may build, or hit the shared store

    noop = pants(repo, "package", *IMAGES)
    assert noop.build_steps == [], noop.build_steps
    assert noop.started == [], noop.started
    # Every cacheable step was a cache hit; the misses are the host-tool probes.
    assert noop.counters["local_cache_requests_cached"] > 0, noop.counters
    assert noop.counters["local_cache_requests_uncached"] == len(noop.local_runs), noop.counters

    # A content no earlier run has built: the shared store would answer it otherwise.
    (repo / "pkg" / "sshd" / "rootfs" / "etc" / "motd").write_text(f"edited {uuid.uuid4()}\n")
    edit = pants(repo, "package", *IMAGES)
    ran = sorted(edit.build_steps)
    assert len(ran) == 4, ran
    for arch in ("amd64", "arm64"):
        assert any(
            r.startswith("Building LinuxKit package linuxkit/sshd:") and r.endswith(f"({arch})")
            for r in ran
        ), ran
        assert f"Assembling LinuxKit image {IMAGE[arch]}" in ran, ran
    assert not any(
        "linuxkit/init" in r or "linuxkit/runc" in r or "kernel" in r.lower() for r in ran
    ), ran

    # Package tags name the code of the package step only: a change to the
    # FAT writer (image step) renames no package and rebuilds none.
    with open(repo / "linuxkit_rules" / "core" / "media" / "fat.py", "a") as f:
        f.write(f"# edited {uuid.uuid4()}\n")
    core_edit = pants(repo, "package", *IMAGES)
    ran = sorted(core_edit.build_steps)
    assert not any(r.startswith("Building LinuxKit package") for r in ran), ran
    for arch in ("amd64", "arm64"):
        assert f"Assembling LinuxKit image {IMAGE[arch]}" in ran, ran

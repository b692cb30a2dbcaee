"""A second build with no change runs no process; an edit in pkg/sshd re-runs only
that package and the image. Read from Pants' own counters (`--stats-log`).

The test copies the repository (its files are this test's dependencies) into a
scratch directory and runs `./pants` there, sharing this machine's Pants store.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

SANDBOX = Path.cwd()


def pants(repo: Path, *args: str) -> tuple[dict[str, int], str]:
    result = subprocess.run(
        ["./pants", "--no-pantsd", "--stats-log", "--no-dynamic-ui", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_SCIE_WARNING": "1"},
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    counters = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\s+(\w+): (\d+)$", result.stderr, re.MULTILINE)
    }
    assert "local_execution_requests" in counters, result.stderr[-2000:]
    return counters, result.stderr


def started(log: str) -> list[str]:
    return re.findall(r"Starting: (.+)$", log, re.MULTILINE)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(SANDBOX, dest, symlinks=True, ignore=shutil.ignore_patterns(".*", "dist", "*.pex", "__pycache__", "tests"))
    assert (dest / "pants").exists() and (dest / "images" / "sshd.yml").exists()
    return dest


def test_noop_and_one_package_edit(repo: Path) -> None:
    pants(repo, "package", "//images:sshd")  # warm: may build, or hit the shared store

    # Every cacheable process is a cache hit, and none ran. (Pants' host-tool
    # lookups, such as the kernel toolchain's `--version` probes, are cached per
    # Pants process, not in the store, so they run again without pantsd; they
    # are not cache lookups and not build steps.)
    counters, log = pants(repo, "package", "//images:sshd")
    assert counters.get("local_cache_requests_uncached", 0) == 0, started(log)
    assert counters["local_cache_requests_cached"] > 0, counters
    assert started(log) == []

    # A content no earlier run has built: the shared store would answer it otherwise.
    (repo / "pkg" / "sshd" / "rootfs" / "etc" / "motd").write_text(f"edited {uuid.uuid4()}\n")
    counters, log = pants(repo, "package", "//images:sshd")
    ran = started(log)
    assert counters["local_cache_requests_uncached"] == 2, ran
    assert len(ran) == 2, ran
    assert any(r.startswith("Building LinuxKit package linuxkit/sshd:") for r in ran), ran
    assert any(r.startswith("Assembling LinuxKit image images:sshd") for r in ran), ran
    assert not any("linuxkit/init" in r or "linuxkit/runc" in r or "kernel" in r.lower() for r in ran), ran

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

    counters, log = pants(repo, "package", "//images:sshd")
    assert counters["local_execution_requests"] == 0, started(log)

    # A content no earlier run has built: the shared store would answer it otherwise.
    (repo / "pkg" / "sshd" / "rootfs" / "etc" / "motd").write_text(f"edited {uuid.uuid4()}\n")
    counters, log = pants(repo, "package", "//images:sshd")
    ran = started(log)
    assert counters["local_execution_requests"] == 2, ran
    assert any(r.startswith("Building LinuxKit package linuxkit/sshd:") for r in ran), ran
    assert any(r.startswith("Assembling LinuxKit image images:sshd") for r in ran), ran
    assert not any("linuxkit/init" in r or "linuxkit/runc" in r or "Extracting kernel" in r for r in ran), ran

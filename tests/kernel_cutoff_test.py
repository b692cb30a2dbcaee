"""Early cutoff: a kernel fragment edit that leaves the resolved `.config` the
same (a comment, a reordering) re-runs the config resolution and no compile.
Read from Pants' own log of the processes it started (`Starting: ...`).

Like incremental_test.py, it copies the repository into a scratch directory
and runs `./pants` there, sharing this machine's Pants store.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

SANDBOX = Path.cwd()


def pants(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["./pants", "--no-pantsd", "--no-dynamic-ui", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_SCIE_WARNING": "1"},
        timeout=3000,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stderr


def started(log: str) -> list[str]:
    return re.findall(r"Starting: (.+)$", log, re.MULTILINE)


def test_comment_only_fragment_edit_compiles_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(
        SANDBOX, repo, symlinks=True, ignore=shutil.ignore_patterns(".*", "dist", "*.pex", "__pycache__", "tests")
    )
    pants(repo, "package", "//kernel:linux")  # warm: may compile, or hit the shared store

    fragment = repo / "kernel" / "fragments" / "devicemapper.config"
    lines = fragment.read_text().splitlines()
    settings = [line for line in lines if line.startswith("CONFIG_")]
    comments = [line for line in lines if not line.startswith("CONFIG_")]
    # Same settings, reversed, under a new comment.
    fragment.write_text("\n".join(["# edited by kernel_cutoff_test", *comments, *reversed(settings)]) + "\n")
    log = pants(repo, "package", "//kernel:linux")
    ran = started(log)
    assert any(r.startswith("Resolving kernel config kernel:config") for r in ran), ran
    assert not any(r.startswith("Compiling kernel") for r in ran), ran

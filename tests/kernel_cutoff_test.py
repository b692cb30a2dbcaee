"""Early cutoff: a kernel fragment edit that leaves the resolved `.config` the
same (a comment, a reordering) re-runs the config resolution and no compile.

Proven from Pants' own counters (`--stats-log`): after the edit exactly one
process misses the cache and runs (the config resolution), and the compile is
a cache hit. The
log of started processes names which one ran.

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


def pants(repo: Path, *args: str) -> tuple[dict[str, int], list[str]]:
    result = subprocess.run(
        ["./pants", "--no-pantsd", "--stats-log", "--no-dynamic-ui", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_SCIE_WARNING": "1"},
        timeout=3000,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    counters = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\s+(\w+): (\d+)$", result.stderr, re.MULTILINE)
    }
    assert "local_execution_requests" in counters, result.stderr[-2000:]
    return counters, re.findall(r"Starting: (.+)$", result.stderr, re.MULTILINE)


def test_comment_only_fragment_edit_compiles_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(
        SANDBOX, repo, symlinks=True, ignore=shutil.ignore_patterns(".*", "dist", "*.pex", "__pycache__", "tests")
    )
    pants(repo, "package", "//kernel:linux")  # warm: compiles, or hits the shared store

    fragment = repo / "kernel" / "fragments" / "devicemapper.config"
    lines = fragment.read_text().splitlines()
    settings = [line for line in lines if line.startswith("CONFIG_")]
    comments = [line for line in lines if not line.startswith("CONFIG_")]
    # Same settings, reversed, under a new comment.
    fragment.write_text("\n".join(["# edited by kernel_cutoff_test", *comments, *reversed(settings)]) + "\n")
    counters, ran = pants(repo, "package", "//kernel:linux")
    # One cache miss, the config resolution; the compile is a hit. (Host-tool
    # lookups are cached per Pants process, not looked up in the store.)
    assert counters["local_cache_requests_uncached"] == 1, ran
    assert any(r.startswith("Resolving kernel config kernel:config") for r in ran), ran
    assert not any(r.startswith("Compiling kernel") for r in ran), ran
    assert counters.get("local_cache_requests_cached", 0) >= 1, counters


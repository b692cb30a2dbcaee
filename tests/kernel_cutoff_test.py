"""Early cutoff: a kernel fragment edit that leaves the resolved `.config` the
same (a comment, a reordering) re-runs the config resolution and no compile.

Proven from Pants' own counters and its log of the processes that ran locally
(tests/pantsrun.py): after the edit the only build steps are the config
resolutions, one per architecture (`//kernel:linux` is amd64 and arm64), and
both compiles are cache hits.

Like incremental_test.py, it copies the repository into a scratch directory
and runs `./pants` there, sharing this machine's Pants store.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from tests.pantsrun import copy_repo, pants

SANDBOX = Path.cwd()


def test_comment_only_fragment_edit_compiles_nothing(tmp_path: Path) -> None:
    repo = copy_repo(SANDBOX, tmp_path / "repo")
    pants(repo, "package", "//kernel:linux")  # warm: compiles, or hits the shared store

    fragment = repo / "kernel" / "fragments" / "devicemapper.config"
    lines = fragment.read_text().splitlines()
    settings = [line for line in lines if line.startswith("CONFIG_")]
    comments = [line for line in lines if not line.startswith("CONFIG_")]
    # Same settings, reversed, under a comment no earlier run has written (the
    # shared store would answer the config resolution otherwise).
    comment = f"# edited by kernel_cutoff_test {uuid.uuid4()}"
    fragment.write_text("\n".join([comment, *comments, *reversed(settings)]) + "\n")
    run = pants(repo, "package", "//kernel:linux")
    assert sorted(run.build_steps) == [
        "Resolving kernel config kernel:config (amd64)",
        "Resolving kernel config kernel:config (arm64)",
    ], run.build_steps
    assert not any(s.startswith("Compiling kernel") for s in run.started), run.started
    # The compiles were looked up and found: the resolved file is their only config input.
    assert run.counters["local_cache_requests_cached"] >= 2, run.counters

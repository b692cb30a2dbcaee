"""Run `./pants` in a scratch copy of the repository and report what it ran.

Shared by the nested-Pants tests. Pants' own counters (`--stats-log`) count
every process; `--keep-sandboxes=always` logs each process that ran locally
by its description, which separates build steps from Pants' host-tool probes
(`Searching for ... on PATH`, `Test binary ...`): those are cached per Pants
process, not in the store, so without pantsd they run on every invocation.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HOST_PROBE = re.compile(
    r"^(Searching for `[^`]*` on PATH=|Test binary /|[A-Za-z0-9._+-]+ version$)"
)


@dataclass(frozen=True)
class PantsRun:
    counters: dict[str, int]
    local_runs: list[str]  # descriptions of the processes that ran locally
    started: list[str]  # INFO-level work units started (build steps, as the console shows them)
    stderr: str

    @property
    def build_steps(self) -> list[str]:
        """The processes that ran locally, host-tool probes left out."""
        return [r for r in self.local_runs if not HOST_PROBE.match(r)]


def copy_repo(source: Path, dest: Path) -> Path:
    shutil.copytree(
        source,
        dest,
        symlinks=True,
        # the sandbox's dot files stay behind; the lint configuration comes along
        ignore=lambda d, names: {
            n
            for n in names
            if (n.startswith(".") and n != ".flake8")
            or n in ("dist", "__pycache__", "tests")
            or n.endswith(".pex")
        },
    )
    return dest


def pants(repo: Path, *args: str, timeout: int = 3000) -> PantsRun:
    with tempfile.TemporaryDirectory(prefix="lkr-sandboxes-") as sandboxes:
        result = subprocess.run(
            [
                "./pants",
                "--no-pantsd",
                "--stats-log",
                "--no-dynamic-ui",
                "--keep-sandboxes=always",
                f"--local-execution-root-dir={sandboxes}",
                *args,
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            env={**os.environ, "NO_SCIE_WARNING": "1"},
            timeout=timeout,
        )
    assert result.returncode == 0, result.stderr[-4000:]
    counters = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\s+(\w+): (\d+)$", result.stderr, re.MULTILINE)
    }
    assert "local_execution_requests" in counters, result.stderr[-2000:]
    local_runs = re.findall(
        r"Preserving local process execution dir \S+ for (.+)$", result.stderr, re.MULTILINE
    )
    # Every local execution is accounted for by name.
    assert counters["local_execution_requests"] == len(local_runs), (counters, local_runs)
    started = re.findall(r"Starting: (.+)$", result.stderr, re.MULTILINE)
    return PantsRun(counters, local_runs, started, result.stderr)

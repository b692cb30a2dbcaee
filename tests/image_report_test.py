"""build-support/image-report.py between two commits of a scratch repository.

The repository's files (this test's dependencies) become a git repository with
two commits: the second changes the sshd image's cmdline. Both sides build
(mostly from the shared Pants store); the report must name the cmdline and the
changed outputs, and no package change.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

SANDBOX = Path.cwd()


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def test_report_between_two_commits(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(
        SANDBOX,
        repo,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "dist", "*.pex", "__pycache__", "tests"),
    )
    (repo / ".gitignore").write_text(
        "__pycache__/\n/.pants.d/\n/dist/\n/.pids/\n/.pants.workdir.file_lock*\n"
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    yml = repo / "images" / "sshd.yml"
    yml.write_text(yml.read_text().replace('console=ttyAMA0"', 'console=ttyAMA0 quiet"'))
    git(repo, "commit", "-qam", "quiet")
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            "python3",
            "build-support/image-report.py",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--json",
            str(out),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(out.read_text())["images"]
    # images/sshd.yml builds //images:sshd (the build machine's architecture) and
    # //images:sshd-arm64: both are affected, each reported under its own output names.
    names = {"images:sshd": "sshd", "images:sshd-arm64": "sshd-arm64"}
    assert {k.lstrip("/") for k in report} == set(names), report.keys()
    for key, sshd in report.items():
        name = names[key.lstrip("/")]
        assert sshd["status"] == "changed"
        assert sshd["cmdline"] == {
            "before": "console=ttyS0 console=ttyAMA0",
            "after": "console=ttyS0 console=ttyAMA0 quiet",
        }
        assert sshd["packages"] == {"added": {}, "removed": {}, "changed": {}}
        assert sshd["kernel_config"] == {}
        assert set(sshd["digests"]) == {f"{name}-cmdline"}, sshd["digests"]
    assert "cmdline" in result.stdout and "console=ttyAMA0 quiet" in result.stdout

"""build-support/affected.py selects the images a change affects.

The repository's files (this test's dependencies) become a git repository in
a scratch directory, with a second image that does not use sshd; a clone of
it gets one change at a time, and the script's --list mode says which images
it would package and test.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SANDBOX = Path.cwd()
MINIMAL = """kernel:
  image: //kernel:debian
  cmdline: "console=ttyS0"
init:
  - linuxkit/init:latest
  - linuxkit/runc:latest
services:
  - name: getty
    image: linuxkit/getty:latest
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("affected")
    origin = tmp / "origin"
    shutil.copytree(
        SANDBOX,
        origin,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "dist", "*.pex", "__pycache__", "tests"),
    )
    (origin / "images" / "minimal.yml").write_text(MINIMAL)
    with open(origin / "images" / "BUILD", "a") as f:
        f.write('linuxkit_image(name="minimal", source="minimal.yml")\n')
    (origin / ".gitignore").write_text(
        "__pycache__/\n/.pants.d/\n/dist/\n/.pids/\n/.pants.workdir.file_lock*\n"
    )
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "base")
    work = tmp / "clone"
    git(tmp, "clone", "-q", str(origin), str(work))
    return work


def selected(repo: Path) -> tuple[str, set[str]]:
    result = subprocess.run(
        ["bash", "build-support/affected.sh", "--base", "origin/main", "--list"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    mode = result.stdout.splitlines()[0].split()[1]
    images = set(re.findall(r"^(?://)?images:([\w-]+)(?:@arch=\w+)?$", result.stdout, re.MULTILINE))
    return mode, images


def targets_of(repo: Path, *ymls: str) -> set[str]:
    """The images/BUILD targets built from these YAMLs (sshd.yml: sshd and sshd-arm64)."""
    build = (repo / "images" / "BUILD").read_text()
    return {
        name
        for name, source in re.findall(r'name="([\w-]+)", source="([\w.-]+)"', build)
        if source in ymls
    }


def test_change_selects_affected_images(clone: Path) -> None:
    with open(clone / "pkg" / "sshd" / "rootfs" / "etc" / "nsswitch.conf", "a") as f:
        f.write("# changed\n")
    assert selected(clone) == ("affected", targets_of(clone, "sshd.yml"))
    assert "sshd" in targets_of(clone, "sshd.yml")
    git(clone, "checkout", "-q", "--", ".")
    git(clone, "clean", "-qfd")

    with open(clone / "pkg" / "getty" / "rootfs" / "etc" / "motd", "a") as f:
        f.write("changed\n")
    git(clone, "commit", "-qam", "getty motd")  # committed changes count too
    # Every image whose YAML runs getty, and only those.
    getty_ymls = [
        p.name for p in (clone / "images").glob("*.yml") if "linuxkit/getty" in p.read_text()
    ]
    getty_users = targets_of(clone, *getty_ymls)
    assert {"sshd", "minimal"} <= getty_users
    assert selected(clone) == ("affected", getty_users)
    git(clone, "reset", "-q", "--hard", "origin/main")

    with open(clone / "images" / "minimal.yml", "a") as f:
        f.write("# a comment\n")
    assert selected(clone) == ("affected", {"minimal"})
    git(clone, "checkout", "-q", "--", ".")


def test_changed_since_itself_sees_a_rootfs_only_edit(clone: Path) -> None:
    # No help from affected.py: the package's one sources field owns rootfs/.
    with open(clone / "pkg" / "sshd" / "rootfs" / "etc" / "ssh" / "sshd_config", "a") as f:
        f.write("# changed\n")
    git(clone, "commit", "-qam", "sshd_config")

    def pants_list(*args: str) -> set[str]:
        result = subprocess.run(
            ["./pants", "--no-pantsd", "--changed-since=origin/main", *args, "list"],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        # Leave out the root `files` target's per-file targets (`//path:../../repo`).
        return {t for t in result.stdout.split() if not t.startswith("//")}

    assert pants_list() == {"pkg/sshd:sshd"}
    dependents = pants_list("--changed-dependents=transitive")
    assert {"pkg/sshd:sshd", "images:sshd", "images:sshd-arm64"} <= dependents
    assert "images:minimal" not in dependents
    git(clone, "reset", "-q", "--hard", "origin/main")


def test_plugin_or_lock_change_selects_everything(clone: Path) -> None:
    with open(clone / "linuxkit_rules" / "core" / "formats.py", "a") as f:
        f.write("# a comment\n")
    mode, images = selected(clone)
    assert mode == "all" and {"sshd", "minimal"} <= images
    git(clone, "checkout", "-q", "--", ".")

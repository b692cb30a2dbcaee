"""`pants run` and `pants test` stopped from outside leave no QEMU and no scratch file.

Real Pants in a scratch copy of the repository (sharing this machine's Pants
store), real QEMU (TCG). Each case starts the goal, waits until QEMU runs and
its blank disk exists, sends the signal to the `pants` process, and asserts
that QEMU and the blank disk are gone. Every sandbox of the nested Pants sits
under a directory of this test (`--local-execution-root-dir`), so QEMU
processes and disks of other runs on the machine are never counted.

Without pantsd the signal reaches Pants itself; with pantsd it reaches the
client, and pantsd ends the run. A `pants` killed with SIGKILL cannot remove
its own sandbox directory (Pants' to remove, docs/security.md); the blank disk
in it is removed all the same.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.pantsrun import copy_repo

SANDBOX = Path.cwd()

# An image on Debian's prebuilt kernel (nothing to compile), and a boot test of
# it whose check script never ends.
BUILD = """\
linuxkit_image(name="img", source="stop.yml", kernel="//kernel:debian")
linuxkit_image_test(name="hang", image=":img", source="hang.sh", disk_size="64M", timeout=900)
"""
YAML = """\
kernel:
  image: linuxkit/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - linuxkit/init:v1
  - linuxkit/runc:v1
services:
  - name: getty
    image: linuxkit/getty:v1
    env:
      - INSECURE=true
"""


def qemus_under(root: Path) -> dict[int, str]:
    """QEMU processes whose command line names a path under `root`: pid -> cmdline."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in argv[0] and str(root).encode() in b" ".join(argv):
            found[int(entry)] = b" ".join(argv).decode(errors="replace")
    return found


def scratch_disks(cmdlines: dict[int, str]) -> list[Path]:
    """The blank disks a QEMU command line attaches (`pants run`'s and a boot test's)."""
    return [
        Path(p)
        for c in cmdlines.values()
        for p in re.findall(r"file=([^,\s]*(?:blank-disk|scratch)\.raw)", c)
    ]


def wait_until(check: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return bool(check())


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo = copy_repo(SANDBOX, tmp_path_factory.mktemp("stop") / "repo")
    (repo / "stoptest").mkdir()
    (repo / "stoptest" / "BUILD").write_text(BUILD)
    (repo / "stoptest" / "stop.yml").write_text(YAML)
    (repo / "stoptest" / "hang.sh").write_text("sleep 3600\n")
    # Built once, so each case below only boots.
    build = subprocess.run(
        ["./pants", "--no-pantsd", "--no-dynamic-ui", "package", "stoptest:img"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    try:
        yield repo
    finally:
        subprocess.run(["./pants", "--no-dynamic-ui", "kill-pantsd"], cwd=repo, capture_output=True)


GOALS = {
    "run": ["run", "--linuxkit-run-blank-disk=64M", "stoptest:img"],
    "test": ["test", "--force", "stoptest:hang"],
}


@pytest.mark.parametrize("pantsd", [False, True], ids=["no-pantsd", "pantsd"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("goal", sorted(GOALS))
def test_stopped_goal_leaves_no_qemu_and_no_disk(
    repo: Path, tmp_path: Path, goal: str, sig: signal.Signals, pantsd: bool
) -> None:
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()
    argv = [
        "./pants",
        "--pantsd" if pantsd else "--no-pantsd",
        "--no-dynamic-ui",
        f"--local-execution-root-dir={sandboxes}",
        *GOALS[goal],
    ]
    log = tmp_path / "pants.log"
    with open(log, "wb") as out:
        # stdin from /dev/null: `pants run` hands QEMU the terminal's stdin.
        pants = subprocess.Popen(
            argv, cwd=repo, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        started = wait_until(lambda: scratch_disks(qemus_under(sandboxes)), 600)
        assert started, f"QEMU did not start with its disk:\n{log.read_text()[-3000:]}"
        running = qemus_under(sandboxes)
        disks = scratch_disks(running)
        assert wait_until(lambda: all(d.exists() for d in disks), 60), disks
        assert pants.poll() is None, log.read_text()[-3000:]

        pants.send_signal(sig)
        pants.wait(timeout=120)

        assert wait_until(
            lambda: not qemus_under(sandboxes), 60
        ), f"QEMU outlived `pants {goal}` ({sig.name}): {qemus_under(sandboxes)}"
        # A boot test's disk sits in a scratch directory of its own, removed with it.
        left = [d for d in disks] + [
            d.parent for d in disks if d.parent.name.startswith("lkr-boottest-")
        ]
        assert wait_until(
            lambda: not any(p.exists() for p in left), 30
        ), f"scratch files left after `pants {goal}` ({sig.name}): {[p for p in left if p.exists()]}"
    finally:
        if pants.poll() is None:
            pants.kill()
            pants.wait()
        for pid in qemus_under(sandboxes):
            os.kill(pid, signal.SIGKILL)

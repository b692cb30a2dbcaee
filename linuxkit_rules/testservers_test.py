"""A test process that dies, even by SIGKILL, takes its registry with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linuxkit_rules.testservers import find_binary


def pids_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_registry_dies_with_its_test_process(tmp_path: Path, sig: signal.Signals) -> None:
    find_binary("docker-registry", "docker-registry")
    work = tmp_path / f"registry-{sig.name}"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from linuxkit_rules.testservers import docker_registry\n"
        f"with docker_registry(Path({str(work)!r})) as address:\n"
        "    print(address, flush=True)\n"
        "    time.sleep(300)\n"
    )
    test = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    try:
        assert test.stdout is not None and test.stdout.readline().startswith(b"127.0.0.1:")
        marker = str(work / "registry.yml")
        assert pids_with(marker)
        test.send_signal(sig)
        test.wait(30)
        deadline = time.monotonic() + 20
        while pids_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pids_with(marker), "docker-registry outlived its test process"
    finally:
        test.kill()
        test.wait()
        for pid in pids_with(str(work / "registry.yml")):
            os.kill(pid, signal.SIGKILL)

"""Real servers on 127.0.0.1 for tests: Debian's docker-registry and dockerd.

Each is started in a private temporary directory, in its own process group,
and stopped (the whole group) when the `with` block ends; if the test process
dies first, even by SIGKILL, the kernel sends the server SIGTERM
(PR_SET_PDEATHSIG), so no registry or dockerd outlives its test. A missing binary skips the test with the Debian
package to install (`./pants` installs both as root, from build-support/host-tools.txt).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from linuxkit_rules.core.boot.lifetime import die_with_parent, kill_group

_SEARCH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_binary(name: str, package: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":" + _SEARCH)
    if path is None:
        pytest.skip(f"{name} not found: install the Debian package {package}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            # SIGTERM, not SIGKILL: dockerd then stops its containerd too.
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    kill_group(proc, timeout=30)


def _wait(check, what: str, log: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up in {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def docker_registry(tmp: Path) -> Iterator[str]:
    """A registry (distribution 2.x) with filesystem storage under `tmp`; yields `127.0.0.1:PORT`."""
    binary = find_binary("docker-registry", "docker-registry")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = tmp / "registry.log"
    proc = _start([binary, "serve", str(config)], log)
    try:
        _wait(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).status == 200,
            "docker-registry",
            log,
            proc,
        )
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


@contextmanager
def dockerd(tmp: Path) -> Iterator[str]:
    """A Docker engine on a private socket with no networking set-up; yields its DOCKER_HOST."""
    binary = find_binary("dockerd", "docker.io")
    tmp.mkdir(parents=True, exist_ok=True)
    sock = tmp / "docker.sock"
    log = tmp / "dockerd.log"
    argv = [
        binary,
        f"--host=unix://{sock}",
        f"--data-root={tmp / 'data'}",
        f"--exec-root={tmp / 'exec'}",
        f"--pidfile={tmp / 'dockerd.pid'}",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--storage-driver=overlay2",
    ]
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":" + _SEARCH}
    proc = _start(argv, log, env)

    def ping() -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in s.recv(4096)

    try:
        _wait(ping, "dockerd", log, proc, timeout=120)
        yield f"unix://{sock}"
    finally:
        _stop(proc)

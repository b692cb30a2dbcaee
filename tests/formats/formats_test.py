"""Every output format is byte-reproducible, and the docker one loads.

The image is built twice, in two copies of the repository at different paths
and times, with Pants' process cache off (`--no-local-cache`) so that every
step really runs twice; then each output's sha256 is compared. The docker
tarball is loaded into a real Docker engine that the test starts on a private
socket and stops.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SANDBOX = Path.cwd()
TARGET = "tests/formats:formats"
EXPECTED = {
    "formats-kernel", "formats-initrd.img", "formats-cmdline", "formats.tar", "formats-initrd.tar",
    "formats.iso", "formats-efi.iso", "formats-bios.img", "formats-efi.img", "formats.qcow2",
    "formats.img.tar.gz", "formats-docker.tar", "formats.spdx.json",
    "formats-efi.qcow2", "formats-squashfs.img", "formats-squashfs-initrd.img",
    "formats.vhd", "formats-dynamic.vhd", "formats.vmdk", "formats.raw", "formats-azure.vhd",
}  # fmt: skip


def _ignore(directory: str, names: list[str]) -> set[str]:
    """The sandbox's own dot files stay behind; the lint configuration comes along."""
    return {
        n for n in names if (n.startswith(".") and n != ".flake8") or n in ("dist", "__pycache__")
    }


def build(dest: Path) -> dict[str, str]:
    shutil.copytree(SANDBOX, dest, symlinks=True, ignore=_ignore)
    result = subprocess.run(
        ["./pants", "--no-pantsd", "--no-local-cache", "--no-dynamic-ui", "package", TARGET],
        cwd=dest,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_SCIE_WARNING": "1"},
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (dest / "dist").iterdir()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict[str, str]]]:
    out = []
    for where in ("one/repo", "second-checkout/somewhere/else"):
        dest = tmp_path_factory.mktemp("repro") / where
        out.append((dest, build(dest)))
        time.sleep(2)  # a different wall-clock second for the second build
    return out


def test_every_format_is_byte_reproducible(builds: list[tuple[Path, dict[str, str]]]) -> None:
    (_, first), (_, second) = builds
    assert set(first) == EXPECTED
    differ = sorted(name for name in EXPECTED if first[name] != second[name])
    assert not differ, differ


@pytest.mark.skipif(shutil.which("dockerd") is None, reason="docker.io is not installed")
def test_docker_tarball_loads(builds: list[tuple[Path, dict[str, str]]]) -> None:
    tarball = builds[0][0] / "dist" / "formats-docker.tar"
    root = Path(tempfile.mkdtemp(prefix="lkr-docker-", dir="/tmp"))  # short: unix socket paths
    sock = f"unix://{root}/docker.sock"
    daemon = subprocess.Popen(
        [
            "dockerd", "--host", sock, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "docker.pid"), "--iptables=false", "--ip-forward=false",
            "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2",
        ],
        stdout=open(root / "dockerd.log", "wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        docker = ["docker", "--host", sock]
        deadline = time.monotonic() + 60
        while subprocess.run([*docker, "info"], capture_output=True).returncode != 0:
            assert daemon.poll() is None and time.monotonic() < deadline, (
                root / "dockerd.log"
            ).read_text()[-2000:]
            time.sleep(0.5)
        load = subprocess.run([*docker, "load", "-i", str(tarball)], capture_output=True, text=True)
        assert load.returncode == 0, load.stderr
        assert "Loaded image: formats:latest" in load.stdout
        listed = subprocess.run(
            [*docker, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
            capture_output=True,
            text=True,
        )
        assert "formats:latest" in listed.stdout.split()
        ls = subprocess.run(
            [*docker, "create", "formats:latest"], capture_output=True, text=True
        )  # the root filesystem is a usable container image
        assert ls.returncode == 0, ls.stderr
    finally:
        daemon.terminate()
        daemon.wait(60)
        shutil.rmtree(root, ignore_errors=True)

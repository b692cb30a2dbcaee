"""Fetches one locked .deb through the machine's own apt, and verifies it.

Run as a build process whose cache key is the lock entry (pool path, sha256,
size), not the mirror: two machines with different mirrors share the result.
apt finds the mirror for the package's suite in the machine's sources and
downloads with its own configuration (proxies included).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.debian.index import INDEXTARGETS_FORMAT, mirror_uris
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.manifest import Manifest

APT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/apt"


def _apt(tool: str) -> str:
    found = shutil.which(tool, path=APT_PATH)
    if not found:
        raise DebianError(
            f"{tool} not found on {APT_PATH}: Debian packages are fetched through apt"
        )
    return found


def machine_mirrors(architecture: str) -> dict[str, str]:
    """suite -> archive URI, from the machine's apt sources (no index download needed)."""
    listed = subprocess.run(
        [
            _apt("apt-get"),
            "-o",
            f"APT::Architecture={architecture}",
            "-o",
            "Dir::State::Lists=apt-lists",
            "-o",
            "Dir::State::status=/dev/null",
            "indextargets",
            "--no-release-info",
            "--format",
            INDEXTARGETS_FORMAT,
        ],
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        raise DebianError(f"apt-get indextargets failed: {listed.stderr.strip()}")
    return mirror_uris(listed.stdout)


def mirror_for(suite: str, mirrors: Mapping[str, str]) -> str | None:
    """The archive URI serving `suite`: the machine's own entry for it, else the
    archive that serves another suite of the same kind (a `-security` suite from
    the security archive, any other from the main archive), as one Debian
    archive's pool serves every release of it."""
    if suite in mirrors:
        return mirrors[suite]
    security = suite.endswith("-security")
    for listed in sorted(mirrors):
        if listed.endswith("-security") == security:
            return mirrors[listed]
    return None


def sha256_file(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@dataclass(frozen=True)
class FetchManifest(Manifest):
    """`tool fetch`: one locked package, downloaded from the machine's mirror for
    its suite and checked against the lock."""

    command = "fetch"

    lockfile: str  # the lock that names it, for messages
    architecture: str
    name: str
    version: str
    suite: str
    filename: str  # its path in the archive's pool
    sha256: str
    size: int
    output: str


def fetch_deb(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = FetchManifest.from_json(manifest)
    where = f"{m.lockfile}: {m.name} {m.version}"
    mirrors = machine_mirrors(m.architecture)
    base = mirror_for(m.suite, mirrors)
    if base is None:
        raise DebianError(
            f"{where} comes from suite {m.suite!r}, which this machine's apt sources do not "
            f"list (they list: {', '.join(sorted(mirrors)) or 'none'})"
        )
    url = base + m.filename
    out = m.output
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    got = subprocess.run(
        [
            _apt("apt-helper"),
            "-o",
            "Debug::NoLocking=1",
            "download-file",
            url,
            os.path.abspath(out),
        ],
        capture_output=True,
        text=True,
    )
    if got.returncode != 0 or not os.path.exists(out):
        raise DebianError(
            f"{where}: downloading {url} failed: {got.stderr.strip() or got.stdout.strip()}"
        )
    sha256, size = sha256_file(out)
    if (sha256, size) != (m.sha256, m.size):
        os.unlink(out)
        raise DebianError(
            f"{where}: {url} has sha256 {sha256} ({size} bytes) but the lock says "
            f"{m.sha256} ({m.size} bytes); nothing was cached. If the archive really "
            f"changed, re-lock with `pants generate-lockfiles`"
        )
    return {"url": url, "size": size}

"""`pants generate-lockfiles` for Debian: apt fetches the indexes, `resolver.resolve` locks."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.debian.index import INDEXTARGETS_FORMAT, parse_indextargets, read_packages
from linuxkit_rules.core.debian.lock import dump_lock
from linuxkit_rules.core.debian.resolver import resolve
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.manifest import Manifest


def apt_options(state: str, architecture: str) -> list[str]:
    """apt-get options for a private state: the machine's sources, nothing of its dpkg state."""
    opts = {
        "Dir::State::Lists": f"{state}/lists",
        "Dir::State::status": f"{state}/status",
        "Dir::Cache": f"{state}/cache",
        "APT::Architecture": architecture,
        "APT::Architectures": architecture,
        "Acquire::GzipIndexes": "false",
        "Acquire::Languages": "none",
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root",
    }
    out: list[str] = []
    for k, v in opts.items():
        out += ["-o", f"{k}={v}"]
    return out


def suites_for(suite: str) -> set[str]:
    """The suite and its update channels, as a Debian release is served."""
    return {suite, f"{suite}-updates", f"{suite}-security"}


@dataclass(frozen=True)
class LockManifest(Manifest):
    """`tool lock`: resolve `roots` against the machine's apt sources into a lock file."""

    command = "lock"

    apt_get: str
    suite: str
    architecture: str
    roots: tuple[str, ...]
    output: str


def generate_lock(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = LockManifest.from_json(manifest)
    state = os.path.abspath("apt-state")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    open(os.path.join(state, "status"), "w").close()
    opts = apt_options(state, m.architecture)
    update = subprocess.run([m.apt_get, *opts, "-q", "update"], capture_output=True, text=True)
    if update.returncode != 0:
        raise DebianError(f"apt-get update failed:\n{update.stderr.strip()}")
    listed = subprocess.run(
        [m.apt_get, *opts, "indextargets", "--format", INDEXTARGETS_FORMAT],
        capture_output=True,
        text=True,
        check=True,
    )
    wanted = suites_for(m.suite)
    targets = [t for t in parse_indextargets(listed.stdout, m.architecture) if t.suite in wanted]
    if not targets:
        raise DebianError(
            f"the machine's apt sources list no {m.suite} indexes for {m.architecture}"
        )
    lock = resolve(list(m.roots), read_packages(targets), m.architecture, m.suite)
    os.makedirs(os.path.dirname(m.output) or ".", exist_ok=True)
    with open(m.output, "w", encoding="utf-8") as f:
        f.write(dump_lock(lock))
    return {"packages": len(lock.packages)}

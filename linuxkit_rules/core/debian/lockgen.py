"""`pants generate-lockfiles` for Debian: apt fetches the indexes, `resolver.resolve` locks."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Mapping

from linuxkit_rules.core.debian.fetch import machine_mirrors, mirror_for
from linuxkit_rules.core.debian.index import INDEXTARGETS_FORMAT, parse_indextargets, read_packages
from linuxkit_rules.core.debian.lock import close_matches, dump_lock
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
    """The suites a lock of `suite` is resolved from: a release with its update
    channels; a backports suite with its release's (backports depend on them)."""
    release, dash, channel = suite.partition("-")
    if dash and channel == "backports":
        return {suite} | suites_for(release)
    if dash:
        return {suite}
    return {suite, f"{suite}-updates", f"{suite}-security"}


def private_sources(suite: str, mirrors: Mapping[str, str]) -> str:
    """A deb822 sources file for `suite` (and what `suites_for` adds) on the
    machine's own mirrors; apt checks the Release files with its trusted keys."""
    by_uri: dict[str, list[str]] = {}
    for name in sorted(suites_for(suite)):
        uri = mirror_for(name, mirrors)
        if uri is None:
            continue
        by_uri.setdefault(uri, []).append(name)
    if not by_uri:
        raise DebianError(
            f"suite {suite}: the machine's apt sources name no Debian archive to find it on "
            f"(they list: {', '.join(sorted(mirrors)) or 'none'})"
        )
    return "\n".join(
        f"Types: deb\nURIs: {uri}\nSuites: {' '.join(names)}\nComponents: main\n"
        for uri, names in sorted(by_uri.items())
    )


@dataclass(frozen=True)
class LockManifest(Manifest):
    """`tool lock`: resolve `roots` against the machine's apt sources into a lock file."""

    command = "lock"

    apt_get: str
    suite: str
    architecture: str
    roots: tuple[str, ...]
    output: str
    # Who asks for each root ("//kernel:trixie"), for errors.
    owners: Mapping[str, str] = field(default_factory=dict)
    # A suite besides the machine's own: apt reads a private sources file for it.
    private: bool = False


def generate_lock(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = LockManifest.from_json(manifest)
    state = os.path.abspath("apt-state")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    open(os.path.join(state, "status"), "w").close()
    opts = apt_options(state, m.architecture)
    if m.private:
        parts = os.path.join(state, "sources.list.d")
        os.makedirs(parts, exist_ok=True)
        with open(os.path.join(parts, "lock.sources"), "w", encoding="utf-8") as f:
            f.write(private_sources(m.suite, machine_mirrors(m.architecture)))
        opts += ["-o", "Dir::Etc::sourcelist=/dev/null", "-o", f"Dir::Etc::sourceparts={parts}"]
    update = subprocess.run([m.apt_get, *opts, "-q", "update"], capture_output=True, text=True)
    # apt-get update exits 0 with only a warning when a suite has no Release file.
    failed = [
        line
        for line in update.stderr.splitlines()
        if line.startswith("E:") or "does not have a Release file" in line
    ]
    if update.returncode != 0 or (m.private and failed):
        asked = ", ".join(sorted(set(m.owners.values()))) or "the lock"
        raise DebianError(
            f"{asked}: suite {m.suite}: the machine's apt mirrors cannot serve it "
            f"(apt-get update failed):\n{chr(10).join(failed) or update.stderr.strip()}"
        )
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
    index = read_packages(targets)
    names = {p.name for p in index}
    for root in m.roots:
        if root not in names and root in m.owners:
            raise DebianError(
                f"{m.owners[root]}: package {root!r} is not in suite {m.suite} for "
                f"{m.architecture} (searched: {', '.join(sorted(wanted))})"
                + close_matches(root, sorted(names))
            )
    lock = resolve(list(m.roots), index, m.architecture, m.suite)
    os.makedirs(os.path.dirname(m.output) or ".", exist_ok=True)
    with open(m.output, "w", encoding="utf-8") as f:
        f.write(dump_lock(lock))
    return {"packages": len(lock.packages)}

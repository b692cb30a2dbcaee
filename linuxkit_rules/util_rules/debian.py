"""Debian inputs: reading the lock, finding mirrors, fetching verified .debs."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths, BinaryPathTest
from pants.engine.fs import (
    AddPrefix,
    Digest,
    DigestContents,
    DownloadFile,
    FileDigest,
    MergeDigests,
    PathGlobs,
)
from pants.engine.internals.native_engine import EMPTY_DIGEST
from pants.engine.internals.selectors import MultiGet
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.debian import (
    INDEXTARGETS_FORMAT,
    DebianLock,
    LockedPackage,
    load_lock,
    mirror_uris,
)
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.subsystems.debian import DebianSubsystem


@dataclass(frozen=True)
class DebianLockRequest:
    architecture: str


@dataclass(frozen=True)
class DebianLockfile:
    path: str
    lock: DebianLock


@rule(desc="Read the Debian lock", level=LogLevel.DEBUG)
async def read_debian_lock(request: DebianLockRequest, debian: DebianSubsystem) -> DebianLockfile:
    path = debian.lockfile(request.architecture)
    contents = await Get(DigestContents, PathGlobs([path]))
    if not contents:
        raise DebianError(
            f"{path}: no Debian lock for {debian.suite}/{request.architecture}; create it with "
            f"`pants generate-lockfiles --resolve={debian.resolve_name(request.architecture)}`"
        )
    return DebianLockfile(path, load_lock(contents[0].content.decode(), path))


@dataclass(frozen=True)
class AptGet:
    path: str


@rule(desc="Find apt-get", level=LogLevel.DEBUG)
async def find_apt_get() -> AptGet:
    paths = await Get(
        BinaryPaths,
        BinaryPathRequest(
            binary_name="apt-get",
            search_path=("/usr/bin", "/bin", "/usr/local/bin"),
            test=BinaryPathTest(["--version"]),
        ),
    )
    first = paths.first_path
    if first is None:
        raise DebianError("apt-get not found: Debian inputs are fetched through apt (install `apt`)")
    return AptGet(first.path)


@dataclass(frozen=True)
class DebianMirrorsRequest:
    architecture: str


@dataclass(frozen=True)
class DebianMirrors:
    """Suite -> archive base URI, from the machine's own apt sources."""

    uris: tuple[tuple[str, str], ...]

    def url(self, package: LockedPackage, lockfile: str) -> str:
        base = dict(self.uris).get(package.suite)
        if base is None:
            known = ", ".join(sorted(dict(self.uris))) or "none"
            raise DebianError(
                f"{lockfile}: {package.name} {package.version} comes from suite "
                f"{package.suite!r}, which this machine's apt sources do not list (they list: {known})"
            )
        return base + package.filename


@rule(desc="Read the machine's apt sources", level=LogLevel.DEBUG)
async def find_debian_mirrors(request: DebianMirrorsRequest, apt_get: AptGet) -> DebianMirrors:
    result = await Get(
        ProcessResult,
        Process(
            argv=(
                apt_get.path,
                "-o", f"APT::Architecture={request.architecture}",
                "-o", "Dir::State::Lists=lists",
                "-o", "Dir::State::status=/dev/null",
                "indextargets", "--no-release-info", "--format", INDEXTARGETS_FORMAT,
            ),
            input_digest=EMPTY_DIGEST,
            description="Read the machine's apt sources",
            # The sources are machine configuration, not a build input: read
            # them once per run. Downloads are verified against the lock anyway.
            cache_scope=ProcessCacheScope.PER_SESSION,
            level=LogLevel.DEBUG,
        ),
    )
    return DebianMirrors(tuple(mirror_uris(result.stdout.decode()).items()))


@dataclass(frozen=True)
class FetchDebsRequest:
    packages: tuple[LockedPackage, ...]
    lockfile: str
    architecture: str
    prefix: str = "debs"


@dataclass(frozen=True)
class FetchedDebs:
    """The .deb files under `prefix/`, in the request's order by file name."""

    digest: Digest
    files: tuple[str, ...]


@rule(desc="Fetch Debian packages", level=LogLevel.DEBUG)
async def fetch_debs(request: FetchDebsRequest) -> FetchedDebs:
    mirrors = await Get(DebianMirrors, DebianMirrorsRequest(request.architecture))
    downloads = [
        DownloadFile(mirrors.url(p, request.lockfile), FileDigest(p.sha256, p.size))
        for p in request.packages
    ]
    try:
        digests = await MultiGet(Get(Digest, DownloadFile, d) for d in downloads)
    except Exception as e:  # the engine reports a digest mismatch as a bare failure
        raise DebianError(
            f"{request.lockfile}: fetching a Debian package failed; every .deb must match the "
            f"lock's sha256 and size (a mismatch means the mirror serves other bytes than were "
            f"locked: run `pants generate-lockfiles` to re-lock).\n{e}"
        ) from None
    merged = await Get(Digest, MergeDigests(digests))
    digest = await Get(Digest, AddPrefix(merged, request.prefix))
    files = tuple(
        f"{request.prefix}/{os.path.basename(p.filename)}" for p in request.packages
    )
    return FetchedDebs(digest, files)


def rules():
    return collect_rules()

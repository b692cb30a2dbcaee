"""Debian inputs: reading the lock and fetching verified .debs."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths, BinaryPathTest
from pants.engine.fs import AddPrefix, Digest, DigestContents, MergeDigests, PathGlobs
from pants.engine.internals.native_engine import EMPTY_DIGEST
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.debian.fetch import APT_PATH, FetchManifest
from linuxkit_rules.core.debian.lock import DebianLock, LockedPackage, load_lock
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult


@dataclass(frozen=True)
class DebianLockRequest:
    architecture: str
    suite: str | None = None  # None: `[debian].suite`


@dataclass(frozen=True)
class DebianLockfile:
    path: str
    lock: DebianLock


@rule(desc="Read the Debian lock", level=LogLevel.DEBUG)
async def read_debian_lock(request: DebianLockRequest, debian: DebianSubsystem) -> DebianLockfile:
    suite = request.suite or debian.suite
    if suite not in debian.suites:
        raise DebianError(
            f"suite {suite!r} has no lock: the locked suites are {', '.join(debian.suites)} "
            f"(`[debian].suite` and `[debian].extra_suites` in pants.toml)"
        )
    path = debian.lockfile(request.architecture, suite)
    contents = await Get(DigestContents, PathGlobs([path]))
    if not contents:
        raise DebianError(
            f"{path}: no Debian lock for {suite}/{request.architecture}; create it with "
            f"`pants generate-lockfiles --resolve={debian.resolve_name(request.architecture, suite)}`"
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
            search_path=tuple(APT_PATH.split(":")),
            test=BinaryPathTest(["--version"]),
        ),
    )
    if paths.first_path is None:
        raise DebianError(
            "apt-get not found: Debian inputs are resolved through apt (install `apt`)"
        )
    return AptGet(paths.first_path.path)


@dataclass(frozen=True)
class FetchDebRequest:
    package: LockedPackage
    lockfile: str
    architecture: str


@dataclass(frozen=True)
class FetchedDeb:
    digest: Digest  # the .deb at its pool file name, at the digest's root


@rule(desc="Fetch a Debian package", level=LogLevel.DEBUG)
async def fetch_deb(request: FetchDebRequest) -> FetchedDeb:
    p = request.package
    name = os.path.basename(p.filename)
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            FetchManifest(
                lockfile=request.lockfile,
                architecture=request.architecture,
                name=p.name,
                version=p.version,
                suite=p.suite,
                filename=p.filename,
                sha256=p.sha256,
                size=p.size,
                output=name,
            ),
            EMPTY_DIGEST,
            f"Fetching {p.name} {p.version}",
            output_files=[name],
            env={"PATH": APT_PATH},
            level=LogLevel.DEBUG,
        ),
    )
    return FetchedDeb(result.output_digest)


@dataclass(frozen=True)
class FetchDebsRequest:
    packages: tuple[LockedPackage, ...]
    lockfile: str
    architecture: str
    prefix: str = "debs"


@dataclass(frozen=True)
class FetchedDebs:
    """The .deb files under `prefix/`, in the request's order."""

    digest: Digest
    files: tuple[str, ...]
    sha256s: tuple[str, ...] = ()  # the lock's sha256 of each file, same order

    def checks(self) -> dict[str, str]:
        """{file: the lock's sha256}: a process that unpacks these files takes this
        as its manifest's `verify_sha256`, so core re-checks each .deb where it is
        read, not only where it was fetched (a poisoned cache entry stops there)."""
        return dict(zip(self.files, self.sha256s))


@rule(desc="Fetch Debian packages", level=LogLevel.DEBUG)
async def fetch_debs(request: FetchDebsRequest) -> FetchedDebs:
    fetched = await MultiGet(
        Get(FetchedDeb, FetchDebRequest(p, request.lockfile, request.architecture))
        for p in request.packages
    )
    merged = await Get(Digest, MergeDigests(f.digest for f in fetched))
    digest = await Get(Digest, AddPrefix(merged, request.prefix))
    files = tuple(f"{request.prefix}/{os.path.basename(p.filename)}" for p in request.packages)
    return FetchedDebs(digest, files, tuple(p.sha256 for p in request.packages))


def sbom_deb(p: LockedPackage) -> dict[str, str]:
    """A locked package as core/reports/sbom.py's `SbomDeb` JSON."""
    return {
        "name": p.name,
        "version": p.version,
        "architecture": p.architecture,
        "sha256": p.sha256,
        "source": p.source,
        "suite": p.suite,
    }


def rules():
    return collect_rules()

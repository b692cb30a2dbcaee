"""`pants generate-lockfiles` for Debian: one resolve per suite and architecture."""
from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.generate_lockfiles import (
    GenerateLockfile,
    GenerateLockfileResult,
    KnownUserResolveNames,
    KnownUserResolveNamesRequest,
    RequestedUserResolveNames,
    UserGenerateLockfiles,
    WrappedGenerateLockfile,
)
from pants.engine.internals.native_engine import EMPTY_DIGEST
from pants.engine.internals.selectors import MultiGet
from pants.engine.process import ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import AllTargets, Target
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import for_arch
from linuxkit_rules.core.debian.lockgen import LockManifest
from linuxkit_rules.kernel.target_types import (
    DebianKernelArchesField,
    DebianKernelPackageField,
    KernelConfigSourcePackageField,
    KernelSuiteField,
)
from linuxkit_rules.package.rules import LinuxkitPackageFieldSet, PackageBuildYml
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.target_types import (
    DebianToolchainArchesField,
    DebianToolchainPackagesField,
    LinuxkitPackageBuildYmlField,
    LinuxkitPackageDebianPackagesField,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult
from linuxkit_rules.util_rules.debian import AptGet


@dataclass(frozen=True)
class GenerateDebianLockfile(GenerateLockfile):
    suite: str
    architecture: str
    roots: tuple[str, ...]
    owners: FrozenDict[str, str]  # root -> the targets that ask for it
    private: bool  # a suite of `extra_suites`


@dataclass(frozen=True)
class PackageArches:
    """Each linuxkit_package's build.yml `arches`, by address."""

    by_address: FrozenDict[str, tuple[str, ...]]


class RequestedDebianResolveNames(RequestedUserResolveNames):
    pass


class KnownDebianResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


@rule
def known_debian_resolves(
    _: KnownDebianResolveNamesRequest, debian: DebianSubsystem
) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=tuple(debian.resolve_name(a, s) for s in debian.suites for a in debian.architectures),
        option_name="[debian].architectures and [debian].extra_suites",
        requested_resolve_names_cls=RequestedDebianResolveNames,
    )


def debian_roots(
    all_targets: AllTargets,
    extra: tuple[str, ...],
    arch: str,
    package_arches: dict[str, tuple[str, ...]],
    suite: str | None = None,
) -> dict[str, set[str]]:
    """The packages the `arch` lock of `suite` (None: the main suite) is resolved from,
    each with the addresses asking for it. The main lock: `extra`, the Debian
    packages of every package (by its build.yml `arches`, keyed by address) and of
    every toolchain (by its `arches`); every lock: the kernels (by their `arches`)
    and kernel sources whose `suite` names it."""
    roots: dict[str, set[str]] = {name: set() for name in (extra if suite is None else ())}

    def add(name: str, tgt: Target) -> None:
        roots.setdefault(name, set()).add(str(tgt.address))

    for tgt in all_targets:
        if suite is None and tgt.has_field(DebianToolchainPackagesField):
            if arch in (tgt[DebianToolchainArchesField].value or ()):
                for name in tgt[DebianToolchainPackagesField].value or ():
                    add(name, tgt)
        if suite is None and tgt.has_field(LinuxkitPackageDebianPackagesField):
            if arch in package_arches.get(str(tgt.address), ()):
                for name in tgt[LinuxkitPackageDebianPackagesField].value or ():
                    add(name, tgt)
        target_suite = tgt[KernelSuiteField].value if tgt.has_field(KernelSuiteField) else None
        if target_suite != suite:
            continue
        if tgt.has_field(DebianKernelPackageField):
            if arch in (tgt[DebianKernelArchesField].value or ()):
                add(for_arch(tgt[DebianKernelPackageField].value or "", arch), tgt)
        if tgt.has_field(KernelConfigSourcePackageField):
            source_package = tgt[KernelConfigSourcePackageField].value
            if source_package:
                add(source_package, tgt)
    return roots


@rule(desc="Read the build.yml arches of every package", level=LogLevel.DEBUG)
async def package_arches(all_targets: AllTargets) -> PackageArches:
    targets = [
        t
        for t in all_targets
        if t.has_field(LinuxkitPackageDebianPackagesField)
        and t.has_field(LinuxkitPackageBuildYmlField)
    ]
    build_ymls = await MultiGet(
        Get(PackageBuildYml, LinuxkitPackageFieldSet, LinuxkitPackageFieldSet.create(t))
        for t in targets
    )
    return PackageArches(
        FrozenDict({str(t.address): b.build_yml.arches for t, b in zip(targets, build_ymls)})
    )


@rule
async def setup_debian_lockfiles(
    requested: RequestedDebianResolveNames, all_targets: AllTargets, debian: DebianSubsystem
) -> UserGenerateLockfiles:
    arches = await Get(PackageArches)
    by_name = {
        debian.resolve_name(a, s): (s, a) for s in debian.suites for a in debian.architectures
    }
    locks = []
    for name in requested:
        suite, arch = by_name[name]
        main = suite == debian.suite
        roots = debian_roots(
            all_targets,
            debian.extra_packages_for(arch),
            arch,
            dict(arches.by_address),
            None if main else suite,
        )
        # A kernel naming the main suite explicitly belongs to the main lock too.
        if main:
            for root, owners in debian_roots(
                all_targets, (), arch, dict(arches.by_address), suite
            ).items():
                roots.setdefault(root, set()).update(owners)
        locks.append(
            GenerateDebianLockfile(
                resolve_name=name,
                lockfile_dest=debian.lockfile(arch, suite),
                diff=False,
                suite=suite,
                architecture=arch,
                roots=tuple(sorted(roots)),
                owners=FrozenDict({r: ", ".join(sorted(o)) for r, o in sorted(roots.items()) if o}),
                private=not main,
            )
        )
    return UserGenerateLockfiles(locks)


@rule
def wrap_debian_lockfile(request: GenerateDebianLockfile) -> WrappedGenerateLockfile:
    return WrappedGenerateLockfile(request)


@rule(desc="Resolve Debian packages")
async def generate_debian_lockfile(
    request: GenerateDebianLockfile, apt_get: AptGet
) -> GenerateLockfileResult:
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            LockManifest(
                apt_get=apt_get.path,
                suite=request.suite,
                architecture=request.architecture,
                roots=tuple(request.roots),
                output=request.lockfile_dest,
                owners=dict(request.owners),
                private=request.private,
            ),
            EMPTY_DIGEST,
            f"Resolving {len(request.roots)} Debian packages for {request.suite}/{request.architecture}",
            output_files=[request.lockfile_dest],
            # apt runs its helpers (gpgv, the http method) from PATH.
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            # Resolving reads the live archive: never reuse an earlier answer.
            cache_scope=ProcessCacheScope.PER_SESSION,
            timeout_seconds=1800,
        ),
    )
    return GenerateLockfileResult(result.output_digest, request.resolve_name, request.lockfile_dest)


def rules():
    return [
        *collect_rules(),
        UnionRule(GenerateLockfile, GenerateDebianLockfile),
        UnionRule(KnownUserResolveNamesRequest, KnownDebianResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedDebianResolveNames),
    ]

"""`kernel_config` and `linux_kernel`: kernels compiled from the locked Debian source.

Two processes: `kconfig` resolves the fragments into a `.config`; `linux`
compiles that file. The compile's inputs are the source .deb and the resolved
file only, so a fragment edit that resolves to the same bytes is a cache hit
(early cutoff).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Addresses, UnparsedAddressInputs
from pants.engine.fs import (
    Digest,
    DigestSubset,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
    Snapshot,
)
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    FieldSet,
    HydratedSources,
    HydrateSourcesRequest,
    InferDependenciesRequest,
    InferredDependencies,
    InvalidFieldException,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import DEFAULT_ARCH, Arch, check_listed
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.kernels.source_build import TOOLCHAIN_ENV, KconfigManifest, LinuxManifest
from linuxkit_rules.kernel.rules import (
    BuiltKernel,
    KernelBuildRequest,
    kernel_artifacts,
    kernel_output_dir,
)
from linuxkit_rules.kernel.target_types import (
    KernelConfigArchFragmentsField,
    KernelConfigBaseField,
    KernelConfigFragmentsField,
    KernelConfigSourcePackageField,
    KernelConfigTarget,
    KernelSuiteField,
    LinuxKernelArchesField,
    LinuxKernelConfigField,
)
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.toolchain.rules import BuiltToolchain, ToolchainRequest
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
)

CCACHE_NAME = "linuxkit_kernel_ccache"
CCACHE_PATH = ".cache/ccache"
# Unpacked kernel sources and build directories kept between compiles
# (core/kernels/kbuild_cache.py). Not part of any cache key: a compile's
# output depends only on its inputs, whatever state the directory is in.
KBUILD_NAME = "linuxkit_kernel_build"
KBUILD_PATH = ".cache/kbuild"


@dataclass(frozen=True)
class KernelToolchain:
    """The toolchain kernel builds run from, and its fingerprint (the root's digest
    and the sandbox launcher's version): a kept build directory belongs to one."""

    built: BuiltToolchain
    fingerprint: str

    def manifest(self) -> dict[str, Any]:
        return self.built.manifest()


@dataclass(frozen=True)
class KernelToolchainRequest:
    arch: Arch


@rule(desc="Find the kernel build toolchain", level=LogLevel.DEBUG)
async def find_kernel_toolchain(
    request: KernelToolchainRequest, linuxkit: LinuxkitSubsystem
) -> KernelToolchain:
    # The toolchain runs on the build machine; `request.arch` is the kernel's,
    # which the toolchain's cross compilers serve.
    built = await Get(
        BuiltToolchain,
        ToolchainRequest(linuxkit.kernel_toolchain, "[linuxkit].kernel_toolchain"),
    )
    digest = hashlib.sha256(
        f"{built.digest.fingerprint} {built.bwrap.fingerprint}".encode()
    ).hexdigest()
    return KernelToolchain(built, digest)


@dataclass(frozen=True)
class KernelConfigFieldSet(PackageFieldSet):
    required_fields = (KernelConfigFragmentsField,)

    base: KernelConfigBaseField
    fragments: KernelConfigFragmentsField
    arch_fragments: KernelConfigArchFragmentsField
    source_package: KernelConfigSourcePackageField
    suite: KernelSuiteField

    def arches(self) -> tuple[Arch, ...]:
        """What `pants package` resolves: amd64 and every architecture with its own fragments."""
        names = {DEFAULT_ARCH.value, *(self.arch_fragments.value or {})}
        return tuple(a for a in Arch if a.value in names)

    def fragments_for(self, arch: Arch, files: Sequence[str]) -> tuple[str, ...]:
        """Of `fragments`' files: the shared ones (in no `arch_fragments` list), then `arch`'s own.
        A file named in `arch_fragments` must be one of `fragments`' files."""
        per_arch = {
            a: self.arch_fragments.files(self.address, a) for a in (self.arch_fragments.value or {})
        }
        for a, listed in per_arch.items():
            for f in listed:
                if f not in files:
                    raise InvalidFieldException(
                        f"{self.address}: arch_fragments: {a}: {f!r} is not one of the files of `fragments` "
                        f"({', '.join(files)}); list it there too"
                    )
        special = {f for listed in per_arch.values() for f in listed}
        return (*(f for f in files if f not in special), *per_arch.get(arch.value, ()))


@dataclass(frozen=True)
class KernelConfigRequest:
    """Resolve a `kernel_config` for one architecture."""

    field_set: KernelConfigFieldSet
    arch: Arch


@dataclass(frozen=True)
class KernelSource:
    """The locked linux-source .deb, at `deb` in `digest`."""

    digest: Digest
    deb: str
    version: str
    sha256: str = ""

    def checks(self) -> dict[str, str]:
        return {self.deb: self.sha256} if self.sha256 else {}


@dataclass(frozen=True)
class KernelSourceRequest:
    package: str
    origin: str
    suite: str | None = None


@rule(desc="Fetch the kernel source", level=LogLevel.DEBUG)
async def fetch_kernel_source(
    request: KernelSourceRequest, debian: DebianSubsystem
) -> KernelSource:
    arch = debian.architectures[0]
    try:
        lockfile = await Get(DebianLockfile, DebianLockRequest(arch, request.suite))
        package = lockfile.lock.get(request.package)
    except DebianError as e:
        raise DebianError(f"{request.origin}: source_package: {e}") from None
    debs = await Get(
        FetchedDebs, FetchDebsRequest((package,), lockfile.path, arch, prefix="kernel-source")
    )
    return KernelSource(debs.digest, debs.files[0], package.version, package.sha256)


@dataclass(frozen=True)
class ResolvedKernelConfig:
    """The resolved `.config` at `path` in `digest`, and the source it belongs to."""

    digest: Digest
    path: str
    source: KernelSource


@rule(desc="Resolve a kernel config", level=LogLevel.DEBUG)
async def resolve_kernel_config(request: KernelConfigRequest) -> ResolvedKernelConfig:
    field_set, arch = request.field_set, request.arch
    base_file = field_set.base.file(field_set.address)
    toolchain, fragments, base, source = await MultiGet(
        Get(KernelToolchain, KernelToolchainRequest(arch)),
        Get(HydratedSources, HydrateSourcesRequest(field_set.fragments)),
        Get(
            Snapshot,
            PathGlobs(
                [base_file] if base_file else [],
                glob_match_error_behavior=GlobMatchErrorBehavior.error,
                description_of_origin=f"{field_set.address}'s `base` field",
            ),
        ),
        Get(
            KernelSource,
            KernelSourceRequest(
                field_set.source_package.value or "",
                str(field_set.address),
                field_set.suite.value,
            ),
        ),
    )
    files = field_set.fragments_for(arch, fragments.snapshot.files)
    # Only this architecture's files are inputs: an arm64 fragment edit leaves amd64 alone.
    used = await Get(Digest, DigestSubset(fragments.snapshot.digest, PathGlobs(files)))
    out = f"{kernel_output_dir(field_set.address, arch)}/config"
    inputs = await Get(Digest, MergeDigests([used, base.digest, source.digest]))
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            KconfigManifest(
                deb=source.deb,
                arch=arch.value,
                base=field_set.base.value or "",
                base_file=base_file or "",
                fragments=tuple(files),
                toolchain=toolchain.manifest(),
                kbuild_dir=KBUILD_PATH,
                output=out,
            ),
            inputs,
            f"Resolving kernel config {field_set.address} ({arch.value})",
            verify_sha256=source.checks(),
            output_files=[out],
            env={TOOLCHAIN_ENV: toolchain.fingerprint},
            host_tools=toolchain.built.keys(),
            immutable_input_digests=toolchain.built.immutable_inputs(),
            append_only_caches={KBUILD_NAME: KBUILD_PATH},
        ),
    )
    return ResolvedKernelConfig(result.output_digest, out, source)


@rule
async def package_kernel_config(field_set: KernelConfigFieldSet) -> BuiltPackage:
    """amd64 and each architecture in `arch_fragments`: `DIR/NAME/config`, `DIR/NAME-ARCH/config`."""
    resolved = await MultiGet(
        Get(ResolvedKernelConfig, KernelConfigRequest(field_set, a)) for a in field_set.arches()
    )
    merged = await Get(Digest, MergeDigests(r.digest for r in resolved))
    return BuiltPackage(merged, tuple(BuiltPackageArtifact(r.path) for r in resolved))


@dataclass(frozen=True)
class LinuxKernelFieldSet(PackageFieldSet):
    required_fields = (LinuxKernelConfigField,)

    config: LinuxKernelConfigField
    arches: LinuxKernelArchesField


@dataclass(frozen=True)
class LinuxKernelRequest(KernelBuildRequest):
    """Compile a `linux_kernel` for one architecture (one not in its `arches` is an error)."""

    field_set_type = LinuxKernelFieldSet

    field_set: LinuxKernelFieldSet
    arch: Arch


@dataclass(frozen=True)
class KernelConfigOfKernel:
    """The `kernel_config` a `linux_kernel` names."""

    field_set: KernelConfigFieldSet


@dataclass(frozen=True)
class LinuxKernelDependenciesFieldSet(FieldSet):
    required_fields = (LinuxKernelConfigField,)

    config: LinuxKernelConfigField


class InferLinuxKernelDependencies(InferDependenciesRequest):
    infer_from = LinuxKernelDependenciesFieldSet


@rule(desc="Parse a kernel's config address", level=LogLevel.DEBUG)
async def kernel_config_address(field_set: LinuxKernelDependenciesFieldSet) -> Addresses:
    return await Get(
        Addresses,
        UnparsedAddressInputs(
            [field_set.config.value or ""],
            owning_address=field_set.address,
            description_of_origin=f"the `config` field of {field_set.address}",
        ),
    )


@rule(desc="Infer a kernel's config target", level=LogLevel.DEBUG)
async def infer_linux_kernel_dependencies(
    request: InferLinuxKernelDependencies,
) -> InferredDependencies:
    return InferredDependencies(
        await Get(Addresses, LinuxKernelDependenciesFieldSet, request.field_set)
    )


@rule(desc="Find a kernel's config target", level=LogLevel.DEBUG)
async def kernel_config_of(field_set: LinuxKernelFieldSet) -> KernelConfigOfKernel:
    addresses = await Get(
        Addresses,
        LinuxKernelDependenciesFieldSet,
        LinuxKernelDependenciesFieldSet(field_set.address, field_set.config),
    )
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(
            addresses[0], description_of_origin=f"the `config` field of {field_set.address}"
        ),
    )
    if not isinstance(wrapped.target, KernelConfigTarget):
        raise InvalidFieldException(
            f"{field_set.address}: config: {field_set.config.value!r} is a `{wrapped.target.alias}`, "
            "not a `kernel_config` target"
        )
    return KernelConfigOfKernel(KernelConfigFieldSet.create(wrapped.target))


@rule(desc="Build a kernel from source", level=LogLevel.DEBUG)
async def build_linux_kernel(request: LinuxKernelRequest) -> BuiltKernel:
    field_set, arch = request.field_set, request.arch
    check_listed(arch.value, field_set.arches.value or (), f"kernel {field_set.address}")
    config_of, toolchain = await MultiGet(
        Get(KernelConfigOfKernel, LinuxKernelFieldSet, field_set),
        Get(KernelToolchain, KernelToolchainRequest(arch)),
    )
    resolved = await Get(ResolvedKernelConfig, KernelConfigRequest(config_of.field_set, arch))
    inputs = await Get(Digest, MergeDigests([resolved.digest, resolved.source.digest]))
    out = kernel_output_dir(field_set.address, arch)
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            LinuxManifest(
                deb=resolved.source.deb,
                arch=arch.value,
                config=resolved.path,
                toolchain=toolchain.manifest(),
                ccache_dir=CCACHE_PATH,
                kbuild_dir=KBUILD_PATH,
                # one build directory per target and architecture
                build_id=str(field_set.address),
                jobs=0,
                output=out,
            ),
            inputs,
            f"Compiling kernel {field_set.address} ({arch.value}, {resolved.source.version})",
            verify_sha256=resolved.source.checks(),
            output_directories=[out],
            env={TOOLCHAIN_ENV: toolchain.fingerprint},
            host_tools=toolchain.built.keys(),
            immutable_input_digests=toolchain.built.immutable_inputs(),
            append_only_caches={CCACHE_NAME: CCACHE_PATH, KBUILD_NAME: KBUILD_PATH},
        ),
    )
    report = json.loads(result.stdout.decode())
    return BuiltKernel(result.output_digest, out, report["version"])


@rule
async def package_linux_kernel(field_set: LinuxKernelFieldSet) -> BuiltPackage:
    """Every architecture in `arches`; amd64 in `DIR/NAME/`, others in `DIR/NAME-ARCH/`."""
    built = await MultiGet(
        Get(BuiltKernel, LinuxKernelRequest(field_set, a)) for a in field_set.arches.parsed()
    )
    merged = await Get(Digest, MergeDigests(b.digest for b in built))
    return BuiltPackage(merged, kernel_artifacts(built))


def rules():
    return [
        *collect_rules(),
        UnionRule(PackageFieldSet, KernelConfigFieldSet),
        UnionRule(PackageFieldSet, LinuxKernelFieldSet),
        UnionRule(KernelBuildRequest, LinuxKernelRequest),
        UnionRule(InferDependenciesRequest, InferLinuxKernelDependencies),
    ]

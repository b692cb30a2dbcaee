"""`debian_kernel`: a locked linux-image .deb -> LinuxKit's kernel layout."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar, Iterable

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address
from pants.engine.environment import EnvironmentName
from pants.engine.fs import Digest, MergeDigests
from pants.engine.internals.selectors import Get, MultiGet
from pants.engine.rules import collect_rules, rule
from pants.engine.target import FieldSet, Target
from pants.engine.unions import UnionMembership, UnionRule, union
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import Arch, UnsupportedArch, check_listed, for_arch
from linuxkit_rules.core.debian.lock import LockedPackage
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.kernels.debian_kernel import KernelManifest
from linuxkit_rules.kernel.target_types import (
    DebianKernelArchesField,
    DebianKernelModulesField,
    DebianKernelPackageField,
    DebianKernelRequiredOptionsField,
    KernelSuiteField,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult, CoreToolError
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
    sbom_deb,
)
from linuxkit_rules.util_rules.outputs import output_folder

KERNEL_FILES = ("kernel", "kernel.tar", "System.map", "config")


def kernel_output_dir(address: Address, arch: Arch) -> str:
    """Where a kernel target's files go: amd64 in `DIR/NAME`, other architectures in `DIR/NAME-ARCH`."""
    return f"{output_folder(address)}/{address.target_name}{arch.suffix()}"


def kernel_artifacts(built: Iterable[BuiltKernel]) -> tuple[BuiltPackageArtifact, ...]:
    """`pants package`'s artifacts for kernels built for one or more architectures."""
    return tuple(
        BuiltPackageArtifact(f"{b.directory}/{name}") for b in built for name in KERNEL_FILES
    )


@dataclass(frozen=True)
class DebianKernelFieldSet(PackageFieldSet):
    required_fields = (DebianKernelPackageField,)

    package: DebianKernelPackageField
    modules: DebianKernelModulesField
    required_options: DebianKernelRequiredOptionsField
    arches: DebianKernelArchesField
    suite: KernelSuiteField

    def package_for(self, arch: Arch) -> str:
        """The Debian package for `arch`; an architecture not in `arches` is an error."""
        arches = self.arches.value or ()
        check_listed(arch.value, arches, f"kernel {self.address}")
        package = self.package.value or ""
        if len(arches) > 1 and "{arch}" not in package:
            raise UnsupportedArch(
                f"{self.address}: package: {package!r} has no `{{arch}}` but arches lists "
                f"{', '.join(arches)}; write e.g. 'linux-image-6.1.0-56-{{arch}}'"
            )
        return for_arch(package, arch.value)


# Kernel builds run processes in the caller's environment.
@union(in_scope_types=[EnvironmentName])
@dataclass(frozen=True)
class KernelBuildRequest:
    """Build one kernel target for one architecture: the union of every kernel kind.

    Each kind subclasses it, names its field set in `field_set_type`, has a rule
    from its request to `BuiltKernel`, and registers `UnionRule(KernelBuildRequest,
    ItsRequest)`; images then ask for any kernel without knowing the kinds.
    """

    field_set_type: ClassVar[type[FieldSet]]

    field_set: FieldSet
    arch: Arch


def kernel_build_request(
    target: Target, arch: Arch, union_membership: UnionMembership
) -> KernelBuildRequest | None:
    """The build request for `target` if it is a kernel of some kind, else None."""
    for kind in union_membership.get(KernelBuildRequest):
        if kind.field_set_type.is_applicable(target):
            return kind(kind.field_set_type.create(target), arch)
    return None


def is_kernel(target: Target, union_membership: UnionMembership) -> bool:
    return any(
        kind.field_set_type.is_applicable(target)
        for kind in union_membership.get(KernelBuildRequest)
    )


@dataclass(frozen=True)
class DebianKernelRequest(KernelBuildRequest):
    """Build a `debian_kernel` for one architecture."""

    field_set_type = DebianKernelFieldSet

    field_set: DebianKernelFieldSet
    arch: Arch


@dataclass(frozen=True)
class BuiltKernel:
    """`kernel`, `kernel.tar`, `System.map` and `config` under `directory` in `digest`."""

    digest: Digest
    directory: str
    version: str
    package: LockedPackage | None = None  # the locked linux-image package

    def sbom_component(self, address: str) -> dict:
        """This kernel as an SBOM component (see core/reports/sbom.py)."""
        debs = [sbom_deb(self.package)] if self.package is not None else []
        name = self.package.name if self.package else address
        return {
            "kind": "kernel",
            "address": address,
            "name": name,
            "version": self.version,
            "debs": debs,
        }


@rule(desc="Build a Debian kernel", level=LogLevel.DEBUG)
async def build_debian_kernel(request: DebianKernelRequest) -> BuiltKernel:
    field_set, arch = request.field_set, request.arch
    name = field_set.package_for(arch)
    suite = field_set.suite.value
    try:
        lockfile = await Get(DebianLockfile, DebianLockRequest(arch.value, suite))
    except DebianError as e:
        raise DebianError(f"{field_set.address}: suite: {e}") from None
    try:
        package = lockfile.lock.get(name)
    except DebianError as e:
        raise DebianError(f"{field_set.address}: package: {e}") from None
    debs = await Get(FetchedDebs, FetchDebsRequest((package,), lockfile.path, arch.value))
    out = kernel_output_dir(field_set.address, arch)
    process = CoreProcessRequest.for_manifest(
        KernelManifest(
            deb=debs.files[0],
            name=str(field_set.address),
            arch=arch.value,
            modules=tuple(field_set.modules.value or ()),
            required_options=tuple(field_set.required_options.value or ()),
            output=out,
        ),
        debs.digest,
        f"Extracting kernel {package.name} {package.version}",
        verify_sha256=debs.checks(),
        output_directories=[out],
    )
    try:
        result = await Get(CoreProcessResult, CoreProcessRequest, process)
    except CoreToolError as e:
        raise CoreToolError(
            f"{e} [{package.name} {package.version}, suite {package.suite}]"
        ) from None
    report = json.loads(result.stdout.decode())
    return BuiltKernel(result.output_digest, out, report["version"], package)


@rule
async def package_debian_kernel(field_set: DebianKernelFieldSet) -> BuiltPackage:
    """Every architecture in `arches`; amd64 in `DIR/NAME/`, others in `DIR/NAME-ARCH/`."""
    built = await MultiGet(
        Get(BuiltKernel, DebianKernelRequest(field_set, a)) for a in field_set.arches.parsed()
    )
    merged = await Get(Digest, MergeDigests(b.digest for b in built))
    return BuiltPackage(merged, kernel_artifacts(built))


def rules():
    return [
        *collect_rules(),
        UnionRule(PackageFieldSet, DebianKernelFieldSet),
        UnionRule(KernelBuildRequest, DebianKernelRequest),
    ]

"""`debian_kernel`: a locked linux-image .deb -> LinuxKit's kernel layout."""
from __future__ import annotations

import json
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.internals.selectors import Get
from pants.engine.rules import collect_rules, rule
from pants.engine.fs import Digest
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from linuxkit_rules.core.debian import LockedPackage
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.kernel.target_types import DebianKernelRequiredOptionsField
from linuxkit_rules.target_types import DebianKernelModulesField, DebianKernelPackageField
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
    sbom_deb,
)

KERNEL_FILES = ("kernel", "kernel.tar", "System.map", "config")


@dataclass(frozen=True)
class DebianKernelFieldSet(PackageFieldSet):
    required_fields = (DebianKernelPackageField,)

    package: DebianKernelPackageField
    modules: DebianKernelModulesField
    required_options: DebianKernelRequiredOptionsField

    @property
    def output_dir(self) -> str:
        return f"{self.address.spec_path.replace('/', '.') or 'root'}/{self.address.target_name}"


@dataclass(frozen=True)
class BuiltKernel:
    """`kernel`, `kernel.tar`, `System.map` and `config` under `directory` in `digest`."""

    digest: Digest
    directory: str
    version: str
    package: LockedPackage | None = None  # the locked linux-image package

    def sbom_component(self, address: str) -> dict:
        """This kernel as an SBOM component (see core/sbom.py)."""
        debs = [sbom_deb(self.package)] if self.package is not None else []
        name = self.package.name if self.package else address
        return {"kind": "kernel", "address": address, "name": name, "version": self.version, "debs": debs}


@rule(desc="Build a Debian kernel", level=LogLevel.DEBUG)
async def build_debian_kernel(field_set: DebianKernelFieldSet, debian: DebianSubsystem) -> BuiltKernel:
    arch = debian.architectures[0]
    lockfile = await Get(DebianLockfile, DebianLockRequest(arch))
    try:
        package = lockfile.lock.get(field_set.package.value)
    except DebianError as e:
        raise DebianError(f"{field_set.address}: package: {e}") from None
    debs = await Get(FetchedDebs, FetchDebsRequest((package,), lockfile.path, arch))
    out = field_set.output_dir
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.create(
            "kernel",
            {
                "deb": debs.files[0],
                "modules": list(field_set.modules.value or ()),
                "output": out,
                "name": str(field_set.address),
                "required_options": list(field_set.required_options.value or ()),
            },
            debs.digest,
            f"Extracting kernel {package.name} {package.version}",
            output_directories=[out],
        ),
    )
    report = json.loads(result.stdout.decode())
    return BuiltKernel(result.output_digest, out, report["version"], package)


@rule
async def package_debian_kernel(field_set: DebianKernelFieldSet) -> BuiltPackage:
    built = await Get(BuiltKernel, DebianKernelFieldSet, field_set)
    return BuiltPackage(
        built.digest,
        tuple(BuiltPackageArtifact(f"{built.directory}/{name}") for name in KERNEL_FILES),
    )


def rules():
    return [*collect_rules(), UnionRule(PackageFieldSet, DebianKernelFieldSet)]

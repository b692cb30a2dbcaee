"""`debian_toolchain`: a root directory of locked Debian packages that build steps
run their tools from, under bubblewrap (core/sandbox.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pants.engine.addresses import Addresses, UnparsedAddressInputs
from pants.engine.fs import Digest, RemovePrefix
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import host_arch
from linuxkit_rules.core.debian.lock import LockedPackage
from linuxkit_rules.core.debian.toolchain import ToolchainManifest
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.sandbox import Toolchain, ToolchainError
from linuxkit_rules.target_types import DebianToolchainArchesField, DebianToolchainPackagesField
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
)
from linuxkit_rules.util_rules.host_tools import BWRAP, HostTool, HostToolRequest, host_tool_keys

# Where a toolchain root appears in a build step's sandbox.
ROOT = "__toolchain"


@dataclass(frozen=True)
class ToolchainRequest:
    """The toolchain `address` names (an address spec from `origin`, an option or a
    field), for the build machine's architecture."""

    address: str
    origin: str
    arch: str = host_arch().value


@dataclass(frozen=True)
class BuiltToolchain:
    address: str
    digest: Digest  # the root, at the digest's root
    packages: tuple[LockedPackage, ...]
    bwrap: HostTool

    def manifest(self, binds: tuple[str, ...] = ()) -> dict[str, Any]:
        """core/sandbox.py `Toolchain` JSON, for a command's manifest."""
        return Toolchain(ROOT, self.address, self.bwrap.path, binds).to_json()

    def immutable_inputs(self) -> dict[str, Digest]:
        """For `CoreProcessRequest.immutable_input_digests`: the root, linked read-only."""
        return {ROOT: self.digest}

    def keys(self) -> dict[str, dict[str, str]]:
        """The sandbox launcher's version, for a manifest's `host_tools` (its cache key)."""
        return host_tool_keys([self.bwrap])


@dataclass(frozen=True)
class ToolchainTargetRequest:
    address: str
    origin: str


@dataclass(frozen=True)
class ToolchainTarget:
    address: str
    packages: tuple[str, ...]
    arches: tuple[str, ...]


@rule(desc="Find a toolchain target", level=LogLevel.DEBUG)
async def toolchain_target(request: ToolchainTargetRequest) -> ToolchainTarget:
    if not request.address:
        raise ToolchainError(f"{request.origin} is empty: name a `debian_toolchain` target")
    addresses = await Get(
        Addresses,
        UnparsedAddressInputs(
            [request.address], owning_address=None, description_of_origin=request.origin
        ),
    )
    wrapped = await Get(
        WrappedTarget, WrappedTargetRequest(addresses[0], description_of_origin=request.origin)
    )
    target = wrapped.target
    if not target.has_field(DebianToolchainPackagesField):
        raise ToolchainError(
            f"{request.origin}: {target.address} is a `{target.alias}`, not a `debian_toolchain`"
        )
    return ToolchainTarget(
        str(target.address),
        tuple(target[DebianToolchainPackagesField].value or ()),
        tuple(target[DebianToolchainArchesField].value or ()),
    )


@rule(desc="Build a toolchain root", level=LogLevel.DEBUG)
async def build_toolchain(request: ToolchainRequest) -> BuiltToolchain:
    target = await Get(ToolchainTarget, ToolchainTargetRequest(request.address, request.origin))
    if request.arch not in target.arches:
        raise ToolchainError(
            f"{target.address}: the build machine is {request.arch}, which the toolchain's "
            f"`arches` ({', '.join(target.arches)}) does not list"
        )
    lockfile = await Get(DebianLockfile, DebianLockRequest(request.arch))
    try:
        packages = tuple(lockfile.lock.closure(target.packages))
    except DebianError as e:
        raise DebianError(f"{target.address}: {e}") from None
    debs = await Get(FetchedDebs, FetchDebsRequest(packages, lockfile.path, request.arch, "debs"))
    bwrap = await Get(HostTool, HostToolRequest, BWRAP)
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            ToolchainManifest(target=target.address, debs=debs.files, output="root"),
            debs.digest,
            f"Unpacking toolchain {target.address} ({len(packages)} Debian packages)",
            output_directories=["root"],
            verify_sha256=debs.checks(),
        ),
    )
    root = await Get(Digest, RemovePrefix(result.output_digest, "root"))
    return BuiltToolchain(target.address, root, packages, bwrap)


def rules():
    return collect_rules()

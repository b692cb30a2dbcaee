"""What the output formats need besides the image: boot loader .debs, and the
toolchain that runs qemu-img and mksquashfs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pants.engine.fs import EMPTY_DIGEST, Digest
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import DEFAULT_ARCH
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.toolchain.rules import BuiltToolchain, ToolchainRequest
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
)


@dataclass(frozen=True)
class FormatToolsRequest:
    formats: tuple[Format, ...]
    arch: str = DEFAULT_ARCH.value


@dataclass(frozen=True)
class FormatTools:
    loader_debs: FetchedDebs
    toolchain: BuiltToolchain | None = None  # when a format runs qemu-img or mksquashfs

    def manifest(self) -> dict[str, Any] | None:
        return self.toolchain.manifest() if self.toolchain else None

    def immutable_inputs(self) -> dict[str, Digest]:
        return self.toolchain.immutable_inputs() if self.toolchain else {}

    def keys(self) -> dict[str, dict[str, str]]:
        """The sandbox launcher's version, for the image process's manifest (its cache key)."""
        return self.toolchain.keys() if self.toolchain else {}


@dataclass(frozen=True)
class LockedDebsRequest:
    """Fetch locked Debian packages by name (boot loaders, firmware)."""

    names: tuple[str, ...]
    why: str
    prefix: str = "debs"
    arch: str = DEFAULT_ARCH.value


@rule(desc="Fetch locked Debian packages by name", level=LogLevel.DEBUG)
async def fetch_locked_debs(request: LockedDebsRequest, debian: DebianSubsystem) -> FetchedDebs:
    if not request.names:
        return FetchedDebs(EMPTY_DIGEST, ())
    arch = request.arch
    lockfile = await Get(DebianLockfile, DebianLockRequest(arch))
    packages = []
    for name in request.names:
        try:
            packages.append(lockfile.lock.get(name))
        except DebianError as e:
            raise DebianError(
                f"{request.why} needs the Debian package {name!r}, which is not in the lock ({e}); add it to "
                f"`[debian].extra_packages` and run `pants generate-lockfiles --resolve={debian.resolve_name(arch)}`"
            ) from None
    return await Get(
        FetchedDebs, FetchDebsRequest(tuple(packages), lockfile.path, arch, request.prefix)
    )


@rule(desc="Gather format tools", level=LogLevel.DEBUG)
async def gather_format_tools(
    request: FormatToolsRequest, linuxkit: LinuxkitSubsystem
) -> FormatTools:
    names = sorted({p for f in request.formats for p in f.boot_loader_packages()})
    why = "formats " + ", ".join(f.value for f in request.formats)
    debs = await Get(FetchedDebs, LockedDebsRequest(tuple(names), why, "loaders", request.arch))
    if not any(f.needs_qemu_img() or f.needs_mksquashfs() for f in request.formats):
        return FormatTools(debs)
    toolchain = await Get(
        BuiltToolchain,
        ToolchainRequest(linuxkit.image_toolchain, "[linuxkit].image_toolchain"),
    )
    return FormatTools(debs, toolchain)


def rules():
    return collect_rules()

"""What the output formats need besides the image: boot loader .debs, qemu-img, mksquashfs."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.fs import EMPTY_DIGEST
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import DEFAULT_ARCH
from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
)
from linuxkit_rules.util_rules.host_tools import HostTool, HostToolRequest, host_tool_keys

QEMU_IMG = HostToolRequest("qemu-img", "qemu-utils")
MKSQUASHFS = HostToolRequest("mksquashfs", "squashfs-tools", ("-version",))


@dataclass(frozen=True)
class FormatToolsRequest:
    formats: tuple[Format, ...]
    arch: str = DEFAULT_ARCH.value


@dataclass(frozen=True)
class FormatTools:
    loader_debs: FetchedDebs
    qemu_img: str | None
    mksquashfs: str | None = None
    versions: tuple[HostTool, ...] = ()

    def keys(self) -> dict[str, dict[str, str]]:
        """The host tools' versions, for the image process's manifest (its cache key)."""
        return host_tool_keys(self.versions)


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
async def gather_format_tools(request: FormatToolsRequest) -> FormatTools:
    names = sorted({p for f in request.formats for p in f.boot_loader_packages()})
    why = "formats " + ", ".join(f.value for f in request.formats)
    needs_qemu_img = any(f.needs_qemu_img() for f in request.formats)
    debs = await Get(FetchedDebs, LockedDebsRequest(tuple(names), why, "loaders", request.arch))
    qemu_img = await Get(HostTool, HostToolRequest, QEMU_IMG) if needs_qemu_img else None
    needs_mksquashfs = any(f.needs_mksquashfs() for f in request.formats)
    mksquashfs = await Get(HostTool, HostToolRequest, MKSQUASHFS) if needs_mksquashfs else None
    return FormatTools(
        debs,
        qemu_img.path if qemu_img else None,
        mksquashfs.path if mksquashfs else None,
        tuple(t for t in (qemu_img, mksquashfs) if t is not None),
    )


def rules():
    return collect_rules()

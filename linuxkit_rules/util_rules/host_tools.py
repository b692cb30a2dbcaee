"""Host binaries the image rules run: QEMU and the ssh client."""
from __future__ import annotations

from dataclasses import dataclass

from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths, BinaryPathTest
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.core.errors import LinuxkitError

SEARCH_PATH = ("/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin")


class MissingHostTool(LinuxkitError):
    pass


@dataclass(frozen=True)
class HostToolRequest:
    binary: str
    debian_package: str
    version_args: tuple[str, ...] = ("--version",)


@dataclass(frozen=True)
class HostTool:
    """An absolute path; the binary's version output is part of the cache key."""

    path: str


@rule(desc="Find a host tool", level=LogLevel.DEBUG)
async def find_host_tool(request: HostToolRequest) -> HostTool:
    paths = await Get(
        BinaryPaths,
        BinaryPathRequest(
            binary_name=request.binary,
            search_path=SEARCH_PATH,
            test=BinaryPathTest(request.version_args),
        ),
    )
    if paths.first_path is None:
        raise MissingHostTool(
            f"{request.binary} not found on {':'.join(SEARCH_PATH)}; install the Debian package "
            f"`{request.debian_package}` (./pants installs it when run as root)"
        )
    return HostTool(paths.first_path.path)


def qemu_for(arch: Arch) -> HostToolRequest:
    """The QEMU system emulator of `arch` (qemu-system-aarch64 for arm64)."""
    return HostToolRequest(arch.qemu_binary(), arch.qemu_package())


SSH = HostToolRequest("ssh", "openssh-client", ("-V",))


def rules():
    return collect_rules()

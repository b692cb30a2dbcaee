"""Host binaries left: QEMU and the ssh client (boot tests, `pants run`) and bwrap.

Each is found on a fixed search path and its version output (stdout and
stderr: `ssh -V` prints on stderr) is fingerprinted; callers put
`HostTool.key()` into their process's manifest, so a new tool version
invalidates every result it made, locally and in the remote cache.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths, BinaryPathTest
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
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
    """An absolute path and its version: `key()` goes into the cache key of every
    process that runs it."""

    path: str
    version: str = ""
    fingerprint: str = ""

    def key(self) -> dict[str, str]:
        return {"path": self.path, "version": self.version, "sha256": self.fingerprint}


def host_tool_keys(tools: Iterable[HostTool | None]) -> dict[str, dict[str, str]]:
    """Every tool's key by its path, for a process manifest."""
    return {t.path: t.key() for t in tools if t is not None}


def version_fingerprint(path: str, stdout: bytes, stderr: bytes) -> tuple[str, str]:
    """(first line of the version output, sha256 of path and both streams)."""
    text = (stdout or stderr).decode(errors="replace").strip()
    digest = hashlib.sha256(b"\0".join([path.encode(), stdout, stderr])).hexdigest()
    return (text.splitlines()[0] if text else ""), digest


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
    path = paths.first_path.path
    # Run once per pantsd start: a tool upgraded between two runs is noticed by
    # the next start; the daemon restarts when the venv or options change.
    result = await Get(
        ProcessResult,
        Process(
            argv=(path, *request.version_args),
            description=f"{request.binary} version",
            env={"PATH": ":".join(SEARCH_PATH), "LC_ALL": "C"},
            cache_scope=ProcessCacheScope.PER_RESTART_SUCCESSFUL,
            level=LogLevel.DEBUG,
        ),
    )
    version, fingerprint = version_fingerprint(path, result.stdout, result.stderr)
    return HostTool(path, version, fingerprint)


def qemu_for(arch: Arch) -> HostToolRequest:
    """The QEMU system emulator of `arch` (qemu-system-aarch64 for arm64)."""
    return HostToolRequest(arch.qemu_binary(), arch.qemu_package())


SSH = HostToolRequest("ssh", "openssh-client", ("-V",))
# The sandbox launcher every toolchain step runs through.
BWRAP = HostToolRequest("bwrap", "bubblewrap")


def rules():
    return collect_rules()

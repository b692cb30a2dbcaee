"""The values of container settings: the names they may use (capabilities,
rlimits, namespaces...) and the types a parsed setting holds (mounts, devices,
the `runtime:` section), each with its OCI/LinuxKit JSON form."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Linux capabilities known to kernel 6.1 (and runc 1.1), in kernel order.
ALL_CAPABILITIES: tuple[str, ...] = tuple(
    "CAP_" + c
    for c in (
        "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
        "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK "
        "IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN "
        "SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE "
        "AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND "
        "AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"
    ).split()
)

RLIMITS: tuple[str, ...] = tuple(
    "RLIMIT_" + r
    for r in "CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING "
    "MSGQUEUE NICE RTPRIO RTTIME".split()
)
RLIM_INFINITY = 2**64 - 1

ROOTFS_PROPAGATIONS = (
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
)
NAMESPACE_TYPES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")

VOLUME_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# Where a volume lives in the image (LinuxKit's layout): `lower` holds its content,
# `merged` is what containers bind.
VOLUMES_DIR = "containers/volumes"


@dataclass(frozen=True)
class Mount:
    """An OCI mount; defaults already filled in (type from source, source from type...)."""

    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "type": self.type,
            "source": self.source,
            "options": list(self.options),
        }


@dataclass(frozen=True)
class Device:
    """A device node: `path: all` grants a whole class (`type` b, c or a) in the cgroup."""

    path: str
    type: str
    major: int = 0
    minor: int = 0
    mode: int | None = None

    def to_json(self) -> dict[str, Any]:
        if self.path == "all":
            return {"path": self.path, "type": self.type}
        d: dict[str, Any] = {
            "path": self.path,
            "type": self.type,
            "major": self.major,
            "minor": self.minor,
        }
        if self.mode is not None:
            d["mode"] = f"0{self.mode:o}"
        return d


@dataclass(frozen=True)
class Interface:
    """`runtime.interfaces` entry: move `name` into the container, or create it (`add`)."""

    name: str = ""
    add: str = ""
    peer: str = ""
    create_in_root: bool = False

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.name:
            d["name"] = self.name
        if self.add:
            d["add"] = self.add
        if self.peer:
            d["peer"] = self.peer
        d["createInRoot"] = self.create_in_root
        return d


@dataclass(frozen=True)
class RuntimeSpec:
    """The `runtime:` section: actions in the root namespace around container start."""

    cgroups: tuple[str, ...] | None = None
    mounts: tuple[Mount, ...] | None = None
    mkdir: tuple[str, ...] | None = None
    interfaces: tuple[Interface, ...] | None = None
    bind_ns: tuple[tuple[str, str], ...] = ()  # (namespace type, path), sorted

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.cgroups is not None:
            d["cgroups"] = list(self.cgroups)
        if self.mounts is not None:
            d["mounts"] = [m.to_json() for m in self.mounts]
        if self.mkdir is not None:
            d["mkdir"] = list(self.mkdir)
        if self.interfaces is not None:
            d["interfaces"] = [i.to_json() for i in self.interfaces]
        if self.bind_ns:
            d["bindNS"] = dict(self.bind_ns)
        return d

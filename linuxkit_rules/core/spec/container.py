"""A container's settings as LinuxKit's YAML writes them: the model and its strict parser.

The container fields are parsed by `parse_container_config`, which the image
YAML (`onboot`, `onshutdown`, `services`), `build_yml` (the `config:` of a
package) and `runtime_config` (the `org.mobyproject.config` label, as JSON)
all use, so all three accept exactly the same keys with the same checks.

Each key is described once, by the metadata of its `ContainerDefaults` field
(a `ContainerKey`: the YAML key, its reader, its JSON form and a line of
help); parsing, `config_to_json` and `container_keys_help` all read that.
Attributes are snake_case; `CONTAINER_KEYS` maps each to its YAML key
(`binds_add` -> `binds.add`, `masked_paths` -> `maskedPaths`...). An
attribute is `None` when the key was not written, so a label default can
apply; an empty tuple means "written, and empty" (which clears the default).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.strict_yaml import (
    Loc,
    MapReader,
    as_bool,
    as_int,
    as_scalar_str,
    as_str,
    items_of,
    type_name,
)

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

# YAML keys LinuxKit has that this project refuses, with the reason shown to the user.
UNSUPPORTED_CONTAINER_KEYS: Mapping[str, str] = {
    "userns": "user namespaces are not supported (LinuxKit marks them experimental)",
    "uidMappings": "user namespaces are not supported (LinuxKit marks them experimental)",
    "gidMappings": "user namespaces are not supported (LinuxKit marks them experimental)",
}


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


def normalize_capability(value: str, loc: Loc) -> str:
    """ "sys_admin", "SYS_ADMIN", "CAP_SYS_ADMIN" -> "CAP_SYS_ADMIN"; "all"/"none" kept."""
    lower = value.strip().lower()
    if lower in ("all", "none"):
        return lower
    cap = value.strip().upper()
    if not cap.startswith("CAP_"):
        cap = "CAP_" + cap
    if cap not in ALL_CAPABILITIES:
        raise loc.error(
            value, "unknown capability; use a name like CAP_NET_ADMIN, or a single 'all' or 'none'"
        )
    return cap


def _capabilities(r: MapReader, key: str) -> tuple[str, ...] | None:
    items = r.items(key)
    if items is None:
        return None
    caps = tuple(normalize_capability(as_str(v, loc), loc) for loc, v in items)
    special = [c for c in caps if c in ("all", "none")]
    if special and len(caps) > 1:
        raise r.at(key).error(list(caps), "'all' and 'none' must be the only entry of the list")
    if special and key == "capabilities.add":
        raise r.at(key).error(
            list(caps), "capabilities.add takes capability names, not 'all' or 'none'"
        )
    return caps


def parse_bind(value: str, loc: Loc, *, volumes: bool = False) -> Mount:
    """ "/src:/dst[:opt,opt]" -> a bind Mount (LinuxKit: default options rw,rbind,rshared).

    With `volumes`, the source may also be the name of an image volume (`volumes:`)."""
    parts = value.split(":")
    if len(parts) < 2 or len(parts) > 3:
        raise loc.error(value, "a bind is 'source:destination' or 'source:destination:opt1,opt2'")
    src, dst = parts[0], parts[1]
    if not src.startswith("/") and not (volumes and VOLUME_NAME.match(src)):
        raise loc.error(
            value,
            "the bind source must be an absolute path"
            + (
                " or the name of one of the image's volumes"
                if volumes
                else " (volumes are named in an image YAML only)"
            ),
        )
    if not dst.startswith("/"):
        raise loc.error(value, "the bind destination must be an absolute path")
    if len(parts) == 3:
        opts = [o for o in parts[2].split(",") if o]
        if not opts:
            raise loc.error(value, "the options after the second ':' must not be empty")
        if "rbind" not in opts and "bind" not in opts:
            opts.append("rbind")
        options = tuple(opts)
    else:
        options = ("rw", "rbind", "rshared")
    return Mount(destination=dst, type="bind", source=src, options=options)


def parse_tmpfs(value: str, loc: Loc) -> Mount:
    """ "/dst[:opt,opt]" -> a tmpfs Mount."""
    parts = value.split(":")
    if len(parts) > 2 or not parts[0].startswith("/"):
        raise loc.error(value, "a tmpfs is '/destination' or '/destination:opt1,opt2'")
    opts = tuple(o for o in parts[1].split(",") if o) if len(parts) == 2 else ()
    return Mount(destination=parts[0], type="tmpfs", source="tmpfs", options=opts)


_DEFAULT_MOUNTPOINTS = {
    "proc": "/proc",
    "devpts": "/dev/pts",
    "sysfs": "/sys",
    "cgroup": "/sys/fs/cgroup",
    "cgroup2": "/sys/fs/cgroup",
    "mqueue": "/dev/mqueue",
}


def _mount(value: object, loc: Loc) -> Mount:
    r = MapReader(value, loc, ("destination", "type", "source", "options"))
    tp = r.get_str("type") or ""
    src = r.get_str("source") or ""
    dest = r.get_str("destination") or ""
    options = r.get_strs("options") or ()
    if not tp and src in ("mqueue", "devpts", "proc", "sysfs", "cgroup"):
        tp = src
    if not tp and dest == "/dev":
        tp = "tmpfs"
    if not tp and ("bind" in options or "rbind" in options):
        tp = "bind"
    if not tp:
        raise loc.error(dict(r.value), "a mount needs a 'type' (e.g. tmpfs, bind, proc)")
    if not src:
        if tp == "bind":
            raise r.loc.error(dict(r.value), "a bind mount needs a 'source'")
        src = tp
    if not dest:
        dest = _DEFAULT_MOUNTPOINTS.get(tp, "")
    if not dest.startswith("/"):
        raise loc.error(
            dict(r.value), f"the mount needs an absolute 'destination' (no default for type {tp!r})"
        )
    return Mount(destination=dest, type=tp, source=src, options=options)


def _device(value: object, loc: Loc) -> Device:
    r = MapReader(value, loc, ("path", "type", "major", "minor", "mode"))
    path = r.required_str("path")
    tp = r.required_str("type")
    if path == "all":
        if tp not in ("a", "b", "c"):
            raise r.at("type").error(tp, "with path 'all' the type is 'a', 'b' or 'c'")
        if r.has("major") or r.has("minor") or r.has("mode"):
            raise loc.error(dict(r.value), "a device with path 'all' takes only 'type'")
        return Device(path="all", type=tp)
    if not path.startswith("/dev/"):
        raise r.at("path").error(path, "a device path starts with /dev/, or is 'all'")
    if tp not in ("b", "c", "u", "p"):
        raise r.at("type").error(tp, "a device type is 'b', 'c', 'u' or 'p'")
    major, minor = r.get_int("major"), r.get_int("minor")
    if tp != "p" and (major is None or minor is None):
        raise loc.error(dict(r.value), "a 'b', 'c' or 'u' device needs 'major' and 'minor'")
    return Device(path=path, type=tp, major=major or 0, minor=minor or 0, mode=r.get_octal("mode"))


def _namespace(r: MapReader, key: str, allowed: Sequence[str]) -> str | None:
    value = r.get_str(key)
    if value is None:
        return None
    if value in allowed or value.startswith("/"):
        return value
    words = ", ".join(repr(a) for a in allowed)
    raise r.at(key).error(value, f"allowed: {words}, or a path starting with '/'")


def parse_id(value: object, loc: Loc) -> int | str:
    if isinstance(value, str):
        if not value:
            raise loc.error(value, "an id is a number or a container name")
        return value
    n = as_int(value, loc)
    if n < 0 or n > 2**32 - 2:
        raise loc.error(value, "an id is between 0 and 4294967294")
    return n


def parse_rlimit(value: str, loc: Loc) -> tuple[str, int, int]:
    """ "nofile,100,200" -> ("RLIMIT_NOFILE", 100, 200); "unlimited" is RLIM_INFINITY."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 3:
        raise loc.error(value, "an rlimit is 'name,soft,hard', e.g. 'nofile,1024,4096'")
    name = parts[0].upper()
    if not name.startswith("RLIMIT_"):
        name = "RLIMIT_" + name
    if name not in RLIMITS:
        raise loc.error(
            value, "unknown limit; allowed: " + ", ".join(r[7:].lower() for r in RLIMITS)
        )
    nums = []
    for p in parts[1:]:
        if p.lower() == "unlimited":
            nums.append(RLIM_INFINITY)
        elif p.isdigit():
            nums.append(int(p))
        else:
            raise loc.error(value, "soft and hard limits are numbers or 'unlimited'")
    if nums[0] > nums[1]:
        raise loc.error(value, "the soft limit must not exceed the hard limit")
    return name, nums[0], nums[1]


# OCI LinuxResources, as accepted in `resources:`; leaves are types, lists hold one item schema.
_THROTTLE: Any = [{"major": int, "minor": int, "rate": int}]
_RESOURCES_SCHEMA: Mapping[str, Any] = {
    "devices": [{"allow": bool, "type": str, "major": int, "minor": int, "access": str}],
    "memory": {
        "limit": int,
        "reservation": int,
        "swap": int,
        "kernel": int,
        "kernelTCP": int,
        "swappiness": int,
        "disableOOMKiller": bool,
    },
    "cpu": {
        "shares": int,
        "quota": int,
        "period": int,
        "realtimeRuntime": int,
        "realtimePeriod": int,
        "cpus": str,
        "mems": str,
    },
    "pids": {"limit": int},
    "blockIO": {
        "weight": int,
        "leafWeight": int,
        "weightDevice": [{"major": int, "minor": int, "weight": int, "leafWeight": int}],
        "throttleReadBpsDevice": _THROTTLE,
        "throttleWriteBpsDevice": _THROTTLE,
        "throttleReadIOPSDevice": _THROTTLE,
        "throttleWriteIOPSDevice": _THROTTLE,
    },
    "hugepageLimits": [{"pageSize": str, "limit": int}],
    "network": {"classID": int, "priorities": [{"name": str, "priority": int}]},
    "unified": dict,
}
# LinuxKit's schema spells some keys differently from the OCI JSON.
_RESOURCES_ALIASES = {"blockio": "blockIO"}


def _check_schema(value: object, schema: Any, loc: Loc) -> Any:
    if schema is int:
        return as_int(value, loc)
    if schema is bool:
        return as_bool(value, loc)
    if schema is str:
        return as_str(value, loc)
    if schema is dict:  # string -> string map (cgroup v2 "unified")
        if not isinstance(value, Mapping):
            raise loc.error(value, f"must be a mapping of strings, not a {type_name(value)}")
        lines = getattr(value, "key_lines", {})
        return {k: as_scalar_str(v, loc.key(k, lines.get(k))) for k, v in value.items()}
    if isinstance(schema, list):
        return [_check_schema(v, schema[0], iloc) for iloc, v in items_of(value, loc)]
    keys = tuple(schema) + tuple(a for a, k in _RESOURCES_ALIASES.items() if k in schema)
    r = MapReader(value, loc, keys)
    out = {}
    for k, v in r.value.items():
        name = _RESOURCES_ALIASES.get(k, k)
        if name in out:
            raise r.at(k).error(k, f"{name!r} is set twice")
        out[name] = _check_schema(v, schema[name], r.at(k))
    return out


def _runtime(value: object, loc: Loc) -> RuntimeSpec:
    if isinstance(value, Mapping) and "namespace" in value:
        raise loc.key("namespace", getattr(value, "key_lines", {}).get("namespace")).error(
            value["namespace"],
            "not supported: with linuxkit/containerd in init every service runs in containerd's "
            "namespace services.linuxkit (onboot and onshutdown containers run on runc, "
            "outside containerd), so remove the key",
        )
    r = MapReader(value, loc, ("cgroups", "mounts", "mkdir", "interfaces", "bindNS"))
    mounts = r.items("mounts")
    mkdir = r.get_strs("mkdir")
    for i, d in enumerate(mkdir or ()):
        if not d.startswith("/"):
            raise r.at("mkdir").index(i, None).error(d, "must be an absolute path")
    cgroups = r.get_strs("cgroups")
    for i, c in enumerate(cgroups or ()):
        if not c or c.startswith("/") or ".." in c.split("/"):
            raise r.at("cgroups").index(i, None).error(
                c, "a cgroup is a relative path under /sys/fs/cgroup"
            )
    interfaces = None
    items = r.items("interfaces")
    if items is not None:
        ifs = []
        for iloc, v in items:
            ir = MapReader(v, iloc, ("name", "add", "peer", "createInRoot"))
            intf = Interface(
                name=ir.get_str("name") or "",
                add=ir.get_str("add") or "",
                peer=ir.get_str("peer") or "",
                create_in_root=bool(ir.get_bool("createInRoot")),
            )
            if intf.peer and not intf.add:
                intf = Interface(intf.name, "veth", intf.peer, intf.create_in_root)
            if not intf.name:
                raise iloc.error(dict(ir.value), "an interface needs a 'name'")
            if intf.add == "veth" and not intf.peer:
                raise iloc.error(dict(ir.value), "a veth interface needs a 'peer'")
            ifs.append(intf)
        interfaces = tuple(ifs)
    bind_ns: tuple[tuple[str, str], ...] = ()
    br = r.map("bindNS", NAMESPACE_TYPES)
    if br is not None:
        pairs = []
        for k in br.value:
            p = br.get_str(k) or ""
            if not p.startswith("/"):
                raise br.at(k).error(p, "must be an absolute path")
            pairs.append((k, p))
        bind_ns = tuple(sorted(pairs))
    return RuntimeSpec(
        cgroups=cgroups,
        mounts=None if mounts is None else tuple(_mount(v, l) for l, v in mounts),
        mkdir=mkdir,
        interfaces=interfaces,
        bind_ns=bind_ns,
    )


def _env(value: str, loc: Loc) -> str:
    if "=" not in value or value.startswith("="):
        raise loc.error(value, "an environment entry is 'NAME=value'")
    return value


# Readers of one key: (reader, YAML key, whether a bind may name an image volume) -> value,
# None when the key is absent.
KeyParser = Callable[[MapReader, str, bool], Any]


def _each(fn: Callable[[Any, Loc], Any]) -> KeyParser:
    def parse(r: MapReader, key: str, volumes: bool) -> tuple[Any, ...] | None:
        items = r.items(key)
        return None if items is None else tuple(fn(v, l) for l, v in items)

    return parse


def _checked_strs(check: Callable[[str, Loc, bool], object]) -> KeyParser:
    """A list of strings, each checked by `check` and kept as written."""

    def parse(r: MapReader, key: str, volumes: bool) -> tuple[str, ...] | None:
        items = r.items(key)
        if items is None:
            return None
        out = []
        for loc, v in items:
            check(as_str(v, loc), loc, volumes)
            out.append(str(v))
        return tuple(out)

    return parse


def _str(r: MapReader, key: str, volumes: bool) -> str | None:
    return r.get_str(key)


def _strs(r: MapReader, key: str, volumes: bool) -> tuple[str, ...] | None:
    return r.get_strs(key)


def _bool(r: MapReader, key: str, volumes: bool) -> bool | None:
    return r.get_bool(key)


def _str_map(r: MapReader, key: str, volumes: bool) -> tuple[tuple[str, str], ...] | None:
    return r.str_map(key)


def _abs_path(r: MapReader, key: str, volumes: bool) -> str | None:
    value = r.get_str(key)
    if value is not None and not value.startswith("/"):
        raise r.at(key).error(value, "must be an absolute path")
    return value


def _abs_paths(r: MapReader, key: str, volumes: bool) -> tuple[str, ...] | None:
    paths = r.get_strs(key)
    for i, p in enumerate(paths or ()):
        if not p.startswith("/"):
            raise r.at(key).index(i, None).error(p, "must be an absolute path")
    return paths


def _caps(r: MapReader, key: str, volumes: bool) -> tuple[str, ...] | None:
    return _capabilities(r, key)


def _namespace_of(*allowed: str) -> KeyParser:
    def parse(r: MapReader, key: str, volumes: bool) -> str | None:
        return _namespace(r, key, allowed)

    return parse


def _id(r: MapReader, key: str, volumes: bool) -> int | str | None:
    return parse_id(r.raw(key), r.at(key)) if r.has(key) else None


def _oom_score_adj(r: MapReader, key: str, volumes: bool) -> int | None:
    oom = r.get_int(key)
    if oom is not None and not -1000 <= oom <= 1000:
        raise r.at(key).error(oom, "must be between -1000 and 1000")
    return oom


def _rootfs_propagation(r: MapReader, key: str, volumes: bool) -> str | None:
    prop = r.get_str(key)
    if prop is not None and prop not in ROOTFS_PROPAGATIONS:
        raise r.at(key).error(prop, "allowed: " + ", ".join(ROOTFS_PROPAGATIONS))
    return prop


def _resources(r: MapReader, key: str, volumes: bool) -> str | None:
    if not r.has(key):
        return None
    checked = _check_schema(r.raw(key), _RESOURCES_SCHEMA, r.at(key))
    return json.dumps(checked, sort_keys=True, separators=(",", ":"))


def _runtime_key(r: MapReader, key: str, volumes: bool) -> RuntimeSpec | None:
    return _runtime(r.raw(key), r.at(key)) if r.has(key) else None


def _bind_check(value: str, loc: Loc, volumes: bool) -> object:
    return parse_bind(value, loc, volumes=volumes)


def _list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _to_jsons(value: tuple[Any, ...]) -> list[Any]:
    return [v.to_json() for v in value]


@dataclass(frozen=True)
class ContainerKey:
    """One container setting: its YAML (and label JSON) key, how it is read and
    written back, and a line of help."""

    yaml: str
    parse: KeyParser
    help: str
    to_json: Callable[[Any], Any] = _list


def _key(yaml: str, parse: KeyParser, help: str, to_json: Callable[[Any], Any] = _list) -> Any:
    return field(default=None, metadata={"key": ContainerKey(yaml, parse, help, to_json)})


@dataclass(frozen=True)
class ContainerDefaults:
    """Every LinuxKit container setting; `None` means "not set here".

    This is what a package's `org.mobyproject.config` label holds (no name or
    image). `ContainerSpec` adds the name, image and line of a YAML entry.
    Each field's `ContainerKey` (its metadata) is the one description of the
    key: parsing, the JSON form and the help all read it, in this order.
    """

    capabilities: tuple[str, ...] | None = _key(
        "capabilities", _caps, "capabilities, replacing the package's (CAP_X, 'all' or 'none')"
    )
    capabilities_add: tuple[str, ...] | None = _key(
        "capabilities.add", _caps, "capabilities added to the package's"
    )
    ambient: tuple[str, ...] | None = _key("ambient", _caps, "ambient capabilities")
    mounts: tuple[Mount, ...] | None = _key(
        "mounts", _each(_mount), "OCI mounts (destination, type, source, options)", _to_jsons
    )
    binds: tuple[str, ...] | None = _key(
        "binds", _checked_strs(_bind_check), "binds 'source:destination[:options]'"
    )
    binds_add: tuple[str, ...] | None = _key(
        "binds.add", _checked_strs(_bind_check), "binds added to the package's"
    )
    tmpfs: tuple[str, ...] | None = _key(
        "tmpfs", _checked_strs(lambda v, l, _: parse_tmpfs(v, l)), "tmpfs '/destination[:options]'"
    )
    devices: tuple[Device, ...] | None = _key(
        "devices", _each(_device), "device nodes (path, type, major, minor, mode)", _to_jsons
    )
    command: tuple[str, ...] | None = _key("command", _strs, "the process and its arguments")
    env: tuple[str, ...] | None = _key(
        "env", _each(lambda v, l: _env(as_str(v, l), l)), "environment 'NAME=value'"
    )
    cwd: str | None = _key("cwd", _abs_path, "working directory (absolute)")
    net: str | None = _key("net", _namespace_of("host", "new", "none"), "network namespace")
    pid: str | None = _key("pid", _namespace_of("host", "new"), "pid namespace")
    ipc: str | None = _key("ipc", _namespace_of("host", "new"), "ipc namespace")
    uts: str | None = _key("uts", _namespace_of("host", "new"), "uts namespace")
    hostname: str | None = _key("hostname", _str, "host name in a new uts namespace")
    readonly: bool | None = _key("readonly", _bool, "read-only root filesystem")
    masked_paths: tuple[str, ...] | None = _key("maskedPaths", _abs_paths, "paths masked")
    readonly_paths: tuple[str, ...] | None = _key(
        "readonlyPaths", _abs_paths, "paths made read-only"
    )
    uid: int | str | None = _key("uid", _id, "user id, or a container name")
    gid: int | str | None = _key("gid", _id, "group id, or a container name")
    additional_gids: tuple[int | str, ...] | None = _key(
        "additionalGids", _each(parse_id), "further group ids or container names"
    )
    no_new_privileges: bool | None = _key("noNewPrivileges", _bool, "no_new_privs")
    oom_score_adj: int | None = _key("oomScoreAdj", _oom_score_adj, "-1000 to 1000")
    rootfs_propagation: str | None = _key(
        "rootfsPropagation", _rootfs_propagation, "mount propagation of the root"
    )
    cgroups_path: str | None = _key("cgroupsPath", _str, "the container's cgroup")
    # canonical JSON text of an OCI LinuxResources object
    resources: str | None = _key(
        "resources", _resources, "OCI LinuxResources (memory, cpu, pids...)", json.loads
    )
    sysctl: tuple[tuple[str, str], ...] | None = _key(  # sorted pairs
        "sysctl", _str_map, "sysctl settings", dict
    )
    rlimits: tuple[str, ...] | None = _key(  # "name,soft,hard", checked
        "rlimits", _checked_strs(lambda v, l, _: parse_rlimit(v, l)), "rlimits 'name,soft,hard'"
    )
    annotations: tuple[tuple[str, str], ...] | None = _key(  # sorted pairs
        "annotations", _str_map, "OCI annotations", dict
    )
    runtime: RuntimeSpec | None = _key(
        "runtime",
        _runtime_key,
        "actions around the start: cgroups, mounts, mkdir, interfaces, bindNS",
        lambda v: v.to_json(),
    )


@dataclass(frozen=True)
class ContainerSpec(ContainerDefaults):
    """One entry of `onboot`, `onshutdown` or `services`. Build it with keywords."""

    name: str = ""
    image: str = ""
    line: int | None = None  # line of the entry, for error messages
    file: str = ""  # file the entry came from, for error messages


# attribute -> its key description, in field order.
CONTAINER_KEY_SPECS: Mapping[str, ContainerKey] = {
    f.name: f.metadata["key"] for f in fields(ContainerDefaults)
}
# attribute -> YAML key (`binds_add` -> `binds.add`, `masked_paths` -> `maskedPaths`...).
CONTAINER_KEYS: Mapping[str, str] = {a: k.yaml for a, k in CONTAINER_KEY_SPECS.items()}


def container_keys_help() -> str:
    """The accepted container keys, one `key: what` per line, for help texts."""
    return "\n".join(f"{k.yaml}: {k.help}" for k in CONTAINER_KEY_SPECS.values())


def parse_container_config(
    value: object, loc: Loc, *, extra_keys: Sequence[str] = (), volumes: bool = False
) -> tuple[ContainerDefaults, MapReader]:
    """Parse the container settings of a mapping (YAML entry, build.yml `config`, or label).

    `extra_keys` are further keys the caller reads itself (e.g. name, image).
    Returns the settings and the reader, for the caller's own keys.
    """
    if isinstance(value, Mapping):
        for key, why in UNSUPPORTED_CONTAINER_KEYS.items():
            if key in value:
                raise loc.key(key, getattr(value, "key_lines", {}).get(key)).error(value[key], why)
    r = MapReader(value, loc, tuple(extra_keys) + tuple(CONTAINER_KEYS.values()))
    values = {a: k.parse(r, k.yaml, volumes) for a, k in CONTAINER_KEY_SPECS.items()}
    return ContainerDefaults(**values), r


def config_to_json(config: ContainerDefaults) -> dict[str, Any]:
    """The settings as LinuxKit spells them (label / YAML keys); unset fields are omitted."""
    out: dict[str, Any] = {}
    if isinstance(config, ContainerSpec):
        out["name"] = config.name
        out["image"] = config.image
    for attr, key in CONTAINER_KEY_SPECS.items():
        value = getattr(config, attr)
        if value is not None:
            out[key.yaml] = key.to_json(value)
    return out


def parse_label(
    label: Mapping[str, Any] | str, source: str = "org.mobyproject.config label"
) -> ContainerDefaults:
    """Parse an `org.mobyproject.config` label (JSON text or its decoded object)."""
    if isinstance(label, str):
        try:
            label = json.loads(label)
        except ValueError as e:
            raise SchemaError(
                source, None, "<label>", label, f"must be a JSON object ({e})"
            ) from None
    if not isinstance(label, Mapping):
        raise SchemaError(source, None, "<label>", label, "must be a JSON object")
    for key in ("name", "image"):
        if key in label:
            raise SchemaError(
                source, None, key, label[key], "name and image cannot be set in a label"
            )
    config, _ = parse_container_config(label, Loc(source, "", None))
    return config


def parse_container(value: object, loc: Loc) -> ContainerSpec:
    """One `onboot`/`onshutdown`/`services` entry."""
    config, r = parse_container_config(value, loc, extra_keys=("name", "image"), volumes=True)
    name = r.required_str("name")
    if not re.match(r"^[a-z0-9][a-z0-9_.-]*$", name):
        raise r.at("name").error(
            name, "a name uses a-z, 0-9, '_', '-' and '.', and starts with a letter or digit"
        )
    image = r.required_str("image")
    values = {f.name: getattr(config, f.name) for f in fields(ContainerDefaults)}
    return ContainerSpec(name=name, image=image, line=loc.line, file=loc.file, **values)

"""The container key table: every LinuxKit container setting described once.

Each key is described by the metadata of its `ContainerDefaults` field (a
`ContainerKey`: the YAML key, its reader, its JSON form and a line of help);
parsing (`container.py`), `config_to_json` and `container_keys_help` all read
that. Attributes are snake_case; `CONTAINER_KEYS` maps each to its YAML key
(`binds_add` -> `binds.add`, `masked_paths` -> `maskedPaths`...). An
attribute is `None` when the key was not written, so a label default can
apply; an empty tuple means "written, and empty" (which clears the default).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence

from linuxkit_rules.core.spec.container_model import ROOTFS_PROPAGATIONS, Device, Mount, RuntimeSpec
from linuxkit_rules.core.spec.container_values import (
    normalize_capability,
    parse_bind,
    parse_device,
    parse_env,
    parse_id,
    parse_mount,
    parse_rlimit,
    parse_tmpfs,
)
from linuxkit_rules.core.spec.resources import check_resources
from linuxkit_rules.core.spec.runtime_section import parse_runtime
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader, as_str


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


def _namespace(r: MapReader, key: str, allowed: Sequence[str]) -> str | None:
    value = r.get_str(key)
    if value is None:
        return None
    if value in allowed or value.startswith("/"):
        return value
    words = ", ".join(repr(a) for a in allowed)
    raise r.at(key).error(value, f"allowed: {words}, or a path starting with '/'")


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
    checked = check_resources(r.raw(key), r.at(key))
    return json.dumps(checked, sort_keys=True, separators=(",", ":"))


def _runtime_key(r: MapReader, key: str, volumes: bool) -> RuntimeSpec | None:
    return parse_runtime(r.raw(key), r.at(key)) if r.has(key) else None


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
        "mounts", _each(parse_mount), "OCI mounts (destination, type, source, options)", _to_jsons
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
        "devices", _each(parse_device), "device nodes (path, type, major, minor, mode)", _to_jsons
    )
    command: tuple[str, ...] | None = _key("command", _strs, "the process and its arguments")
    env: tuple[str, ...] | None = _key(
        "env", _each(lambda v, l: parse_env(as_str(v, l), l)), "environment 'NAME=value'"
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

"""OCI runtime bundle config (`config.json` for runc) from a LinuxKit container entry.

Follows LinuxKit's semantics: a value in the image YAML replaces the package
label's (`org.mobyproject.config`), `binds.add` and `capabilities.add` extend
it; command/env/cwd fall back to the image's own config. Namespaces: net, ipc
and uts default to the host's, pid and mount are new. Mounts start from a
default set, and a bind, tmpfs or mount at the same destination replaces it.

`runtime_json` is LinuxKit's `runtime.json`; `prestart_script` and
`namespace_script` turn it into POSIX sh (busybox) for the init to run.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.container import parse_label
from linuxkit_rules.core.spec.container_keys import ContainerDefaults, ContainerSpec
from linuxkit_rules.core.spec.container_model import ALL_CAPABILITIES, Mount, RuntimeSpec
from linuxkit_rules.core.spec.container_values import parse_bind, parse_rlimit, parse_tmpfs
from linuxkit_rules.core.spec.strict_yaml import Loc

OCI_VERSION = "1.0.2"


@dataclass(frozen=True)
class ImageDefaults:
    """What the package's OCI image config says (`Env`, `Entrypoint`, `Cmd`, `WorkingDir`, `User`)."""

    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""

    @classmethod
    def from_oci_config(cls, config: Mapping[str, Any] | None) -> ImageDefaults:
        """From the `config` object of an OCI image configuration."""
        config = config or {}
        return cls(
            env=tuple(config.get("Env") or ()),
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            working_dir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
        )


def _label(label: Mapping[str, Any] | ContainerDefaults | None) -> ContainerDefaults:
    if label is None:
        return ContainerDefaults()
    if isinstance(label, ContainerDefaults):
        return label
    return parse_label(label)


def _merge_unique(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if a is None and b is None:
        return None
    return tuple(dict.fromkeys((a or ()) + (b or ())))


def resolve_container(
    container: ContainerSpec, label: Mapping[str, Any] | ContainerDefaults | None
) -> ContainerSpec:
    """The container with the label's defaults applied: a field set in the YAML replaces
    the label's; `binds.add` / `capabilities.add` extend the label's list (unless the YAML
    also sets `binds` / `capabilities`, which win). `runtime` merges field by field.
    The result has `binds_add` and `capabilities_add` folded in (both None)."""
    base = _label(label)
    values: dict[str, Any] = {}
    for f in fields(ContainerDefaults):
        mine = getattr(container, f.name)
        values[f.name] = mine if mine is not None else getattr(base, f.name)
    if container.binds is None:
        values["binds"] = _merge_unique(
            base.binds, _merge_unique(base.binds_add, container.binds_add)
        )
    if container.capabilities is None:
        values["capabilities"] = _merge_unique(
            base.capabilities, _merge_unique(base.capabilities_add, container.capabilities_add)
        )
    values["binds_add"] = None
    values["capabilities_add"] = None
    values["runtime"] = _merge_runtime(base.runtime, container.runtime)
    return replace(container, **values)


def _merge_runtime(label: RuntimeSpec | None, mine: RuntimeSpec | None) -> RuntimeSpec | None:
    if label is None or mine is None:
        return mine if mine is not None else label
    return RuntimeSpec(
        cgroups=mine.cgroups if mine.cgroups is not None else label.cgroups,
        mounts=mine.mounts if mine.mounts is not None else label.mounts,
        mkdir=mine.mkdir if mine.mkdir is not None else label.mkdir,
        interfaces=mine.interfaces if mine.interfaces is not None else label.interfaces,
        bind_ns=tuple(sorted({**dict(label.bind_ns), **dict(mine.bind_ns)}.items())),
    )


def _where(c: ContainerSpec, field: str) -> tuple[str, int | None, str]:
    return c.file or "<image>", c.line, f"{c.name}.{field}" if c.name else field


def _error(c: ContainerSpec, field: str, value: object, allowed: str) -> SchemaError:
    file, line, path = _where(c, field)
    return SchemaError(file, line, path, value, allowed)


def _loc(c: ContainerSpec, field: str) -> Loc:
    file, line, path = _where(c, field)
    return Loc(file, path, line)


def _caps(c: ContainerSpec, caps: tuple[str, ...] | None, field: str) -> list[str]:
    if not caps:
        return []
    if any(cap.lower() == "all" for cap in caps):
        return sorted(ALL_CAPABILITIES)
    out = set()
    for cap in caps:
        if cap.lower() == "none":
            continue
        name = cap.upper() if cap.upper().startswith("CAP_") else "CAP_" + cap.upper()
        if name not in ALL_CAPABILITIES:
            raise _error(
                c,
                field,
                cap,
                "unknown capability; use a name like CAP_NET_ADMIN, or a single 'all'",
            )
        out.add(name)
    return sorted(out)


def default_mounts(readonly: bool) -> dict[str, Mount]:
    """The mounts every container gets (Docker's defaults, as LinuxKit), by destination."""
    ro = ("ro",) if readonly else ()
    return {
        "/proc": Mount("/proc", "proc", "proc", ("nosuid", "nodev", "noexec", "relatime")),
        "/dev": Mount(
            "/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k") + ro
        ),
        "/dev/pts": Mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"),
        ),
        "/dev/shm": Mount(
            "/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")
        ),
        "/dev/mqueue": Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        "/sys": Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev") + ro),
        "/sys/fs/cgroup": Mount(
            "/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")
        ),
    }


def _mounts(c: ContainerSpec) -> list[dict[str, Any]]:
    mounts = default_mounts(bool(c.readonly))
    for i, t in enumerate(c.tmpfs or ()):
        m = parse_tmpfs(t, _loc(c, f"tmpfs[{i}]"))
        mounts[m.destination] = m
    for i, b in enumerate(c.binds or ()):
        m = parse_bind(b, _loc(c, f"binds[{i}]"))
        mounts[m.destination] = m
    for m in c.mounts or ():
        mounts[m.destination] = m
    return [mounts[d].to_json() for d in sorted(mounts)]


def _namespaces(c: ContainerSpec) -> list[dict[str, str]]:
    out = []
    for kind, value, default in (
        ("network", c.net, "host"),
        ("ipc", c.ipc, "host"),
        ("uts", c.uts, "host"),
        ("pid", c.pid, "new"),
    ):
        value = value or default
        if value == "host":
            continue
        ns: dict[str, str] = {"type": kind}
        if value.startswith("/"):
            ns["path"] = value
        out.append(ns)
    out.append({"type": "mount"})
    return sorted(out, key=lambda n: n["type"])


def _numeric_id(
    c: ContainerSpec, field: str, value: int | str | None, id_map: Mapping[str, int]
) -> int:
    if value is None or value in ("", "root"):
        return 0
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    if value in id_map:
        return id_map[value]
    known = ", ".join(sorted(id_map)) or "none"
    raise _error(
        c, field, value, f"a uid/gid is a number, 'root', or a container name (known: {known})"
    )


def _user(c: ContainerSpec, image: ImageDefaults, id_map: Mapping[str, int]) -> dict[str, Any]:
    uid, gid = c.uid, c.gid
    if uid is None and gid is None and image.user:
        # The image's USER applies only when the YAML and label say nothing (numeric forms only:
        # there is no passwd lookup at build time).
        u, _, g = image.user.partition(":")
        if not u.isdigit() or (g and not g.isdigit()):
            raise _error(
                c,
                "uid",
                image.user,
                "the image's User must be numeric ('uid' or 'uid:gid'); set uid/gid in the YAML",
            )
        uid, gid = int(u), int(g) if g else 0
    user: dict[str, Any] = {
        "uid": _numeric_id(c, "uid", uid, id_map),
        "gid": _numeric_id(c, "gid", gid, id_map),
    }
    if c.additional_gids:
        user["additionalGids"] = [
            _numeric_id(c, f"additionalGids[{i}]", g, id_map)
            for i, g in enumerate(c.additional_gids)
        ]
    return user


def _devices(c: ContainerSpec, resources: dict[str, Any]) -> list[dict[str, Any]]:
    rules = list(resources.get("devices", []))
    nodes = []
    for d in c.devices or ():
        if d.path == "all":
            rules.append({"allow": True, "type": d.type, "access": "rwm"})
            continue
        node: dict[str, Any] = {"path": d.path, "type": d.type, "major": d.major, "minor": d.minor}
        if d.mode is not None:
            node["fileMode"] = d.mode
        nodes.append(node)
        rules.append(
            {"allow": True, "type": d.type, "major": d.major, "minor": d.minor, "access": "rwm"}
        )
    resources["devices"] = rules
    return nodes


def runtime_config(
    container: ContainerSpec,
    label: Mapping[str, Any] | ContainerDefaults | None,
    image: ImageDefaults,
    *,
    rootfs: str = "rootfs",
    id_map: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The `config.json` runc runs for this container (OCI runtime spec 1.0.2).

    `id_map` gives the numbers for container names used as uid/gid (`ImageSpec.id_map()`).
    Raises SchemaError for settings runc would refuse (no command, hostname without uts).
    """
    c = resolve_container(container, label)
    args = list(c.command) if c.command is not None else list(image.entrypoint + image.cmd)
    if not args:
        raise _error(c, "command", [], "the image has no Entrypoint or Cmd: set 'command'")
    if c.hostname and (c.uts or "host") == "host":
        raise _error(
            c, "hostname", c.hostname, "a hostname needs its own uts namespace: add 'uts: new'"
        )
    process = _process(c, image, id_map or {}, args)
    linux = _linux(c)
    config: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(c.readonly)},
    }
    if c.hostname:
        config["hostname"] = c.hostname
    config["mounts"] = _mounts(c)
    config["linux"] = linux
    if c.annotations:
        config["annotations"] = dict(c.annotations)
    return config


def _process(
    c: ContainerSpec, image: ImageDefaults, id_map: Mapping[str, int], args: list[str]
) -> dict[str, Any]:
    """The config's `process`: what runs, as whom, with which capabilities and limits."""
    env = list(c.env) if c.env is not None else list(image.env)
    cwd = c.cwd or image.working_dir or "/"
    caps = _caps(c, c.capabilities, "capabilities")
    ambient = _caps(c, c.ambient, "ambient")
    bounding = sorted(set(caps) | set(ambient))

    rlimits = []
    for i, r in enumerate(c.rlimits or ()):
        kind, soft, hard = parse_rlimit(r, _loc(c, f"rlimits[{i}]"))
        rlimits.append({"type": kind, "soft": soft, "hard": hard})

    process: dict[str, Any] = {
        "terminal": False,
        "user": _user(c, image, id_map),
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {
            "bounding": bounding,
            "effective": caps,
            "inheritable": bounding,
            "permitted": bounding,
            "ambient": ambient,
        },
        "noNewPrivileges": bool(c.no_new_privileges),
    }
    if rlimits:
        process["rlimits"] = rlimits
    if c.oom_score_adj is not None:
        process["oomScoreAdj"] = c.oom_score_adj
    return process


def _linux(c: ContainerSpec) -> dict[str, Any]:
    """The config's `linux`: namespaces, devices, resources and the kernel settings."""
    resources: dict[str, Any] = json.loads(c.resources) if c.resources else {}
    linux: dict[str, Any] = {"namespaces": _namespaces(c)}
    devices = _devices(c, resources)
    if devices:
        linux["devices"] = devices
    linux["resources"] = resources
    if c.sysctl:
        linux["sysctl"] = dict(c.sysctl)
    if c.cgroups_path:
        linux["cgroupsPath"] = c.cgroups_path
    if c.rootfs_propagation:
        linux["rootfsPropagation"] = c.rootfs_propagation
    if c.masked_paths:
        linux["maskedPaths"] = list(c.masked_paths)
    if c.readonly_paths:
        linux["readonlyPaths"] = list(c.readonly_paths)
    return linux


def runtime_json(
    container: ContainerSpec, label: Mapping[str, Any] | ContainerDefaults | None
) -> dict[str, Any]:
    """LinuxKit's `runtime.json`: cgroups, mounts, mkdir, interfaces, bindNS (always all keys)."""
    rt = resolve_container(container, label).runtime or RuntimeSpec()
    return {
        "cgroups": list(rt.cgroups or ()),
        "mounts": [m.to_json() for m in rt.mounts or ()],
        "mkdir": list(rt.mkdir or ()),
        "interfaces": [i.to_json() for i in rt.interfaces or ()],
        "bindNS": dict(rt.bind_ns),
    }


def prestart_script(
    container: ContainerSpec, label: Mapping[str, Any] | ContainerDefaults | None
) -> str:
    """POSIX sh run in the root namespace before the container is created: creates
    `runtime.cgroups` under /sys/fs/cgroup, `runtime.mkdir` directories and
    `runtime.mounts` (making missing mount points, and an overlay's upperdir and
    workdir). A relative mount destination is inside the container's rootfs: the
    script runs from anywhere and finds the bundle as its own directory.
    "" when there is nothing to do."""
    rt = resolve_container(container, label).runtime or RuntimeSpec()
    q = shlex.quote
    lines = []
    if any(not m.destination.startswith("/") for m in rt.mounts or ()):
        lines.append('cd "$(dirname "$0")/rootfs"')
    for cg in rt.cgroups or ():
        lines.append(f"mkdir -p {q('/sys/fs/cgroup/' + cg)}")
    for d in rt.mkdir or ():
        lines.append(f"mkdir -p {q(d)}")
    for m in rt.mounts or ():
        lines.append(f"mkdir -p {q(m.destination)}")
        for o in m.options if m.type == "overlay" else ():
            key, _, d = o.partition("=")
            if key in ("upperdir", "workdir") and d:
                lines.append(f"mkdir -p {q(d)}")
        lines.extend(" ".join(q(a) for a in cmd) for cmd in _mount_commands(m))
    if not lines:
        return ""
    return "#!/bin/sh\nset -e\n" + "\n".join(lines) + "\n"


_PROPAGATION = (
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
)


def _mount_commands(m: Mount) -> list[list[str]]:
    """busybox `mount` invocations for one mount in the root namespace."""
    if m.type != "bind":
        opts = ["-o", ",".join(m.options)] if m.options else []
        return [["mount", "-t", m.type, *opts, m.source, m.destination]]
    recursive = "rbind" in m.options or "bind" not in m.options
    cmds = [["mount", "--rbind" if recursive else "--bind", m.source, m.destination]]
    rest = [o for o in m.options if o not in ("bind", "rbind")]
    flags = [o for o in rest if o not in _PROPAGATION and o != "rw"]
    if flags:
        cmds.append(["mount", "-o", ",".join(["remount", "bind", *flags]), m.destination])
    cmds.extend(["mount", f"--make-{p}", m.destination] for p in rest if p in _PROPAGATION)
    return cmds


_NS_PROC = {
    "cgroup": "cgroup",
    "ipc": "ipc",
    "mnt": "mnt",
    "net": "net",
    "pid": "pid",
    "user": "user",
    "uts": "uts",
}


# busybox's `ip` (1.35) ignores `peer name X` and calls the peer vethN: rename it,
# found through the ifindex its partner's iflink names.
_RENAME_PEER = """rename_peer() {
	idx=$(cat "/sys/class/net/$1/iflink")
	for d in /sys/class/net/*; do
		if [ "$(cat "$d/ifindex")" = "$idx" ] && [ "${d##*/}" != "$2" ]; then
			ip link set "${d##*/}" name "$2"
		fi
	done
}"""

# A createRuntime hook gets the container's state as JSON on stdin: take the pid from it.
_PID_FROM_STDIN = """[ -n "${1:-}" ] || set -- "$(sed -n 's/.*"pid": *\\([0-9][0-9]*\\).*/\\1/p')"
[ -n "$1" ] || { echo "namespace setup: no container pid" >&2; exit 1; }"""

HOOK_PATH = "PATH=/sbin:/usr/sbin:/bin:/usr/bin"


def namespace_hooks(script: str) -> dict[str, Any]:
    """The OCI `hooks` that make runc run `script` (a `namespace_script` at that absolute
    path in the image) in the root namespace once the container's namespaces exist."""
    return {
        "createRuntime": [
            {"path": "/bin/busybox", "args": ["busybox", "sh", script], "env": [HOOK_PATH]}
        ]
    }


def namespace_script(
    container: ContainerSpec, label: Mapping[str, Any] | ContainerDefaults | None
) -> str:
    """POSIX sh run in the root namespace once the container's namespaces exist, with the
    container's pid as "$1" (or, as a runc hook, in the state JSON on stdin): sets up
    `runtime.interfaces` (busybox `ip`, `nsenter`) and binds the namespaces listed in
    `runtime.bindNS`. "" when there is nothing to do."""
    rt = resolve_container(container, label).runtime or RuntimeSpec()
    q = shlex.quote
    lines = [_PID_FROM_STDIN]
    if any(i.add == "veth" for i in rt.interfaces or ()):
        lines.append(_RENAME_PEER)
    for intf in rt.interfaces or ():
        name = q(intf.name)
        if intf.add == "veth":
            lines.append(f"ip link add {name} type veth peer name {q(intf.peer)}")
            lines.append(f"rename_peer {name} {q(intf.peer)}")
            lines.append(f'ip link set {name} netns "$1"')
        elif intf.add and intf.create_in_root:
            lines.append(f"ip link add {name} type {q(intf.add)}")
            lines.append(f'ip link set {name} netns "$1"')
        elif intf.add:
            lines.append(f'nsenter -t "$1" -n ip link add {name} type {q(intf.add)}')
        else:
            lines.append(f'ip link set {name} netns "$1"')
    for kind, path in rt.bind_ns:
        p = q(path)
        lines.append(f'mkdir -p "$(dirname {p})"')
        lines.append(f"touch {p}")
        lines.append(f'mount --bind "/proc/$1/ns/{_NS_PROC[kind]}" {p}')
    if len(lines) == 1:
        return ""
    return "#!/bin/sh\nset -e\n" + "\n".join(lines) + "\n"

"""Parsers of single container setting values, as LinuxKit's YAML writes them:
capabilities, binds, tmpfs, mounts, devices, ids, rlimits, environment entries.
Each returns the checked value or raises a `SchemaError` naming file, line and key."""
from __future__ import annotations

from linuxkit_rules.core.spec.container_model import (
    ALL_CAPABILITIES,
    RLIM_INFINITY,
    RLIMITS,
    VOLUME_NAME,
    Device,
    Mount,
)
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader, as_int


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


def parse_mount(value: object, loc: Loc, relative: bool = False) -> Mount:
    """An OCI mount. With `relative` (`runtime.mounts`), a destination without a
    leading '/' is a path inside the container's rootfs, as in LinuxKit's init."""
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
    if relative and dest and not dest.startswith("/"):
        if ".." in dest.split("/"):
            raise r.at("destination").error(
                dest, "a relative destination is a path inside the container's rootfs, without '..'"
            )
    elif not dest.startswith("/"):
        raise loc.error(
            dict(r.value), f"the mount needs an absolute 'destination' (no default for type {tp!r})"
        )
    return Mount(destination=dest, type=tp, source=src, options=options)


def parse_device(value: object, loc: Loc) -> Device:
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


def parse_env(value: str, loc: Loc) -> str:
    if "=" not in value or value.startswith("="):
        raise loc.error(value, "an environment entry is 'NAME=value'")
    return value

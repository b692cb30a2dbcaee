"""The `runtime:` setting: what init does in the root namespaces around a
container's start (cgroups, mounts, mkdir, interfaces, bindNS)."""
from __future__ import annotations

from typing import Mapping

from linuxkit_rules.core.spec.container_model import NAMESPACE_TYPES, Interface, RuntimeSpec
from linuxkit_rules.core.spec.container_values import parse_mount
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader


def parse_runtime(value: object, loc: Loc) -> RuntimeSpec:
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
        mounts=None
        if mounts is None
        else tuple(parse_mount(v, l, relative=True) for l, v in mounts),
        mkdir=mkdir,
        interfaces=interfaces,
        bind_ns=bind_ns,
    )

"""Container entries, read through an image file as users write them."""
from __future__ import annotations

import pytest

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.container import config_to_json, parse_label
from linuxkit_rules.core.spec.container_keys import CONTAINER_KEYS
from linuxkit_rules.core.spec.container_model import Device, Mount
from linuxkit_rules.core.spec.image_yaml import load_image_yaml


def load(text: str) -> object:
    return load_image_yaml(text, "img.yml")


def error(text: str) -> SchemaError:
    with pytest.raises(SchemaError) as e:
        load_image_yaml(text, "img.yml")
    return e.value


@pytest.mark.parametrize(
    "key,value", [("net", "bridge"), ("pid", "none"), ("ipc", "root"), ("uts", "private")]
)
def test_unknown_namespace_value(key: str, value: str) -> None:
    e = error(f"services:\n  - name: a\n    image: b/c:1\n    {key}: {value}\n")
    assert e.field == f"services[0].{key}" and e.value == value
    assert "'/'" in str(e)


def test_namespace_values_accepted() -> None:
    spec = load_image_yaml(
        "services:\n  - name: a\n    image: b/c:1\n    net: none\n    pid: host\n    ipc: new\n    uts: /run/netns/x\n",
        "x",
    )
    c = spec.services[0]
    assert (c.net, c.pid, c.ipc, c.uts) == ("none", "host", "new", "/run/netns/x")


def test_every_container_field_parses() -> None:
    text = """\
services:
  - name: full
    image: x/full:1
    capabilities: [sys_admin, CAP_NET_ADMIN]
    capabilities.add: [CAP_MKNOD]
    ambient: [CAP_NET_RAW]
    mounts:
      - type: tmpfs
        destination: /run
        options: [nosuid]
      - source: proc
    binds: ["/a:/b:ro"]
    binds.add: ["/c:/d"]
    tmpfs: ["/tmp:size=10m"]
    devices:
      - {path: /dev/console, type: c, major: 5, minor: 1, mode: 0666}
      - {path: all, type: b}
    command: [/bin/sh, -c, "true"]
    env: [A=1]
    cwd: /srv
    net: new
    pid: host
    ipc: new
    hostname: box
    uts: new
    readonly: true
    maskedPaths: [/proc/kcore]
    readonlyPaths: [/proc/sys]
    uid: 100
    gid: full
    additionalGids: [1, other]
    noNewPrivileges: true
    oomScoreAdj: -500
    rootfsPropagation: shared
    cgroupsPath: /lk/full
    resources: {memory: {limit: 1000}, blockio: {weight: 10}, pids: {limit: 20}}
    sysctl: {net.ipv4.ip_forward: "1", kernel.a: 2}
    rlimits: ["nofile,100,unlimited"]
    annotations: {b: "2", a: "1"}
    runtime:
      mkdir: [/run/x]
      cgroups: [lk/full]
      mounts: [{type: tmpfs, destination: /run/y}]
      interfaces: [{name: eth1, peer: veth1}]
      bindNS: {net: /run/netns/full}
"""
    c = load_image_yaml(text, "x").services[0]
    assert c.capabilities == ("CAP_SYS_ADMIN", "CAP_NET_ADMIN")
    assert c.capabilities_add == ("CAP_MKNOD",) and c.ambient == ("CAP_NET_RAW",)
    assert c.mounts == (
        Mount("/run", "tmpfs", "tmpfs", ("nosuid",)),
        Mount("/proc", "proc", "proc", ()),
    )
    assert c.devices == (Device("/dev/console", "c", 5, 1, 0o666), Device("all", "b"))
    assert c.uid == 100 and c.gid == "full" and c.additional_gids == (1, "other")
    assert c.sysctl == (("kernel.a", "2"), ("net.ipv4.ip_forward", "1"))
    assert c.annotations == (("a", "1"), ("b", "2"))
    assert c.resources == '{"blockIO":{"weight":10},"memory":{"limit":1000},"pids":{"limit":20}}'
    assert c.runtime is not None and c.runtime.interfaces is not None
    assert c.runtime.interfaces[0].add == "veth"  # a peer implies veth
    assert c.runtime.bind_ns == (("net", "/run/netns/full"),)
    # every attribute was set, and the JSON form parses back to the same settings
    assert all(getattr(c, a) is not None for a in CONTAINER_KEYS)
    as_json = config_to_json(c)
    assert as_json["binds.add"] == ["/c:/d"] and as_json["maskedPaths"] == ["/proc/kcore"]
    del as_json["name"], as_json["image"]
    assert parse_label(as_json) == parse_label(config_to_json(parse_label(as_json)))
    for attr in CONTAINER_KEYS:
        assert getattr(parse_label(as_json), attr) == getattr(c, attr)


@pytest.mark.parametrize(
    "field,value,expect",
    [
        ("binds", '["/a"]', "source:destination"),
        ("binds", '["/a:/b:ro:x"]', "source:destination"),
        ("binds", '["-vol:/b"]', "absolute path or the name of one of the image's volumes"),
        ("tmpfs", '["tmp"]', "/destination"),
        ("capabilities", "[CAP_BOGUS]", "unknown capability"),
        ("capabilities", "[all, CAP_CHOWN]", "only entry"),
        ("rlimits", '["nofile,1"]', "name,soft,hard"),
        ("rlimits", '["bogus,1,2"]', "unknown limit"),
        ("env", "[NOEQUALS]", "NAME=value"),
        ("oomScoreAdj", "5000", "-1000"),
        ("rootfsPropagation", "weird", "rshared"),
        ("devices", "[{path: /dev/x, type: c}]", "major"),
        ("resources", "{memory: {limitt: 1}}", "allowed keys"),
        ("userns", "new", "not supported"),
        ("readonly", '"yes"', "true or false"),
    ],
)
def test_container_field_errors(field: str, value: str, expect: str) -> None:
    e = error(f"services:\n  - name: a\n    image: b/c:1\n    {field}: {value}\n")
    assert expect in str(e)
    assert e.field.startswith(f"services[0].{field}") and e.line == 4


def test_missing_name_or_image() -> None:
    assert "'image' is required" in str(error("services:\n  - name: a\n"))
    assert "'name' is required" in str(error("services:\n  - image: a/b:1\n"))


def test_label_refuses_name() -> None:
    with pytest.raises(SchemaError):
        parse_label({"name": "x"})
    with pytest.raises(SchemaError):
        parse_label("[1, 2]")

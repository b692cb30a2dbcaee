from __future__ import annotations

import json
import subprocess

import pytest

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.container_keys import ContainerSpec
from linuxkit_rules.core.spec.container_model import ALL_CAPABILITIES
from linuxkit_rules.core.spec.image_yaml import load_image_yaml
from linuxkit_rules.core.spec.runtime_config import (
    ImageDefaults,
    namespace_hooks,
    namespace_script,
    prestart_script,
    resolve_container,
    runtime_config,
    runtime_json,
)

IMAGE = ImageDefaults(
    env=("PATH=/bin",), entrypoint=("/init",), cmd=("--flag",), working_dir="/work"
)


def container(body: str = "") -> ContainerSpec:
    text = "services:\n  - name: c\n    image: x/c:1\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    return load_image_yaml(text, "img.yml").services[0]


def config(
    body: str = "", label: dict | None = None, image: ImageDefaults = IMAGE, **kw: object
) -> dict:
    return runtime_config(container(body), label, image, **kw)  # type: ignore[arg-type]


def mounts_by_dest(cfg: dict) -> dict:
    return {m["destination"]: m for m in cfg["mounts"]}


def test_minimal_container_has_required_oci_keys() -> None:
    cfg = config()
    assert cfg["ociVersion"] == "1.0.2"
    assert cfg["root"] == {"path": "rootfs", "readonly": False}
    p = cfg["process"]
    for key in ("user", "args", "env", "cwd", "capabilities", "terminal"):
        assert key in p
    assert p["user"] == {"uid": 0, "gid": 0}
    assert isinstance(p["args"], list) and p["args"] and all(isinstance(a, str) for a in p["args"])
    assert p["cwd"].startswith("/")
    for m in cfg["mounts"]:
        assert set(m) == {"destination", "type", "source", "options"}
        assert m["destination"].startswith("/")
    types = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert types <= {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"}
    json.dumps(cfg)  # serialisable


def test_minimal_container_defaults() -> None:
    cfg = config()
    assert cfg["process"]["args"] == ["/init", "--flag"]
    assert cfg["process"]["env"] == ["PATH=/bin"]
    assert cfg["process"]["cwd"] == "/work"
    assert cfg["process"]["capabilities"]["bounding"] == []
    assert cfg["process"]["noNewPrivileges"] is False
    # net/ipc/uts are the host's, pid and mount are new
    assert cfg["linux"]["namespaces"] == [{"type": "mount"}, {"type": "pid"}]
    assert sorted(mounts_by_dest(cfg)) == [
        "/dev",
        "/dev/mqueue",
        "/dev/pts",
        "/dev/shm",
        "/proc",
        "/sys",
        "/sys/fs/cgroup",
    ]
    assert [m["destination"] for m in cfg["mounts"]] == sorted(
        m["destination"] for m in cfg["mounts"]
    )
    assert cfg["linux"]["resources"] == {"devices": []}
    assert "hostname" not in cfg and "annotations" not in cfg


def test_minimal_config_accepted_by_runc_if_present(tmp_path) -> None:
    import shutil

    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc not installed")
    bundle = tmp_path / "b"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps(config()))
    # `runc state` of a missing container does not read config; `runc spec` writes one: compare keys
    subprocess.run([runc, "spec", "--bundle", str(tmp_path)], check=True)
    reference = json.loads((tmp_path / "config.json").read_text())
    ours = config()
    for key in ("ociVersion", "process", "root", "mounts", "linux"):
        assert key in reference and key in ours
    for key in ("user", "args", "env", "cwd", "capabilities"):
        assert key in reference["process"] and key in ours["process"]


def test_command_replaces_entrypoint_and_cmd() -> None:
    assert config("command: [/bin/sh, -c, echo hi]")["process"]["args"] == [
        "/bin/sh",
        "-c",
        "echo hi",
    ]


def test_no_command_anywhere_is_an_error() -> None:
    with pytest.raises(SchemaError) as e:
        config(image=ImageDefaults())
    assert "command" in e.value.field and e.value.line == 2


def test_env_and_cwd_override_image() -> None:
    p = config("env: [A=1]\ncwd: /srv")["process"]
    assert p["env"] == ["A=1"] and p["cwd"] == "/srv"
    assert config(image=ImageDefaults(cmd=("x",)))["process"]["cwd"] == "/"


def test_label_provides_defaults_and_yaml_wins() -> None:
    label = {
        "command": ["/label"],
        "env": ["L=1"],
        "pid": "host",
        "readonly": True,
        "capabilities": ["CAP_CHOWN"],
    }
    cfg = config("", label)
    assert cfg["process"]["args"] == ["/label"] and cfg["process"]["env"] == ["L=1"]
    assert cfg["root"]["readonly"] is True
    assert {"type": "pid"} not in cfg["linux"]["namespaces"]
    cfg = config("command: [/yaml]\nreadonly: false\npid: new\ncapabilities: [CAP_KILL]", label)
    assert cfg["process"]["args"] == ["/yaml"] and cfg["root"]["readonly"] is False
    assert {"type": "pid"} in cfg["linux"]["namespaces"]
    assert cfg["process"]["capabilities"]["effective"] == ["CAP_KILL"]
    # an empty list in the YAML clears the label's
    assert config("env: []", label)["process"]["env"] == []


def test_binds_add_and_capabilities_add_extend_label() -> None:
    label = {"binds": ["/a:/a"], "capabilities": ["CAP_CHOWN"]}
    c = resolve_container(container("binds.add: [/b:/b]\ncapabilities.add: [CAP_KILL]"), label)
    assert c.binds == ("/a:/a", "/b:/b") and c.binds_add is None
    assert c.capabilities == ("CAP_CHOWN", "CAP_KILL")
    c = resolve_container(container("binds: [/c:/c]\nbinds.add: [/b:/b]"), label)
    assert c.binds == ("/c:/c",)


def test_capabilities_all_and_prefix() -> None:
    caps = config("capabilities: [all]")["process"]["capabilities"]
    assert caps["effective"] == sorted(ALL_CAPABILITIES) == caps["bounding"] == caps["permitted"]
    assert len(ALL_CAPABILITIES) == 41
    caps = config("capabilities: [net_admin, SYS_ADMIN]\nambient: [CAP_NET_RAW]")["process"][
        "capabilities"
    ]
    assert caps["effective"] == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    assert caps["ambient"] == ["CAP_NET_RAW"]
    assert (
        caps["bounding"] == caps["inheritable"] == ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]
    )
    # label "all" plus capabilities.add stays "all"
    caps = config("capabilities.add: [CAP_KILL]", {"capabilities": ["all"]})["process"][
        "capabilities"
    ]
    assert len(caps["effective"]) == 41
    assert (
        config("capabilities: [none]", {"capabilities": ["all"]})["process"]["capabilities"][
            "effective"
        ]
        == []
    )


def test_binds_tmpfs_and_mounts() -> None:
    cfg = config(
        "binds: [/etc/resolv.conf:/etc/resolv.conf, '/var:/var:rshared', '/dev:/dev']\n"
        "tmpfs: ['/run:size=10m,mode=755']\n"
        "mounts: [{type: tmpfs, destination: /sys/fs/cgroup, options: [ro]}]"
    )
    m = mounts_by_dest(cfg)
    assert m["/etc/resolv.conf"] == {
        "destination": "/etc/resolv.conf",
        "type": "bind",
        "source": "/etc/resolv.conf",
        "options": ["rw", "rbind", "rshared"],
    }
    assert m["/var"]["options"] == ["rshared", "rbind"]
    assert m["/dev"]["type"] == "bind"  # a bind replaces the default /dev tmpfs
    assert m["/run"] == {
        "destination": "/run",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["size=10m", "mode=755"],
    }
    assert m["/sys/fs/cgroup"]["type"] == "tmpfs"


def test_bad_bind_string() -> None:
    c = ContainerSpec(name="c", image="x/c:1", line=7, file="img.yml", binds=("/only-one-part",))
    with pytest.raises(SchemaError) as e:
        runtime_config(c, None, IMAGE)
    assert (e.value.file, e.value.line, e.value.field) == ("img.yml", 7, "c.binds[0]")
    with pytest.raises(SchemaError) as e:
        config("", {"binds": ["/a:/b:ro:x"]})
    assert "binds[0]" in e.value.field


def test_readonly_makes_dev_and_sys_readonly() -> None:
    cfg = config("readonly: true")
    m = mounts_by_dest(cfg)
    assert cfg["root"]["readonly"] is True
    assert "ro" in m["/dev"]["options"] and "ro" in m["/sys"]["options"]
    assert "ro" not in mounts_by_dest(config())["/dev"]["options"]


def test_namespaces() -> None:
    ns = config("net: new\nipc: new\nuts: /run/netns/u\npid: host")["linux"]["namespaces"]
    assert ns == [
        {"type": "ipc"},
        {"type": "mount"},
        {"type": "network"},
        {"type": "uts", "path": "/run/netns/u"},
    ]
    ns = config("net: none")["linux"]["namespaces"]
    assert {"type": "network"} in ns
    ns = config("net: /run/netns/wg")["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/netns/wg"} in ns


def test_hostname_needs_uts_namespace() -> None:
    assert config("hostname: box\nuts: new")["hostname"] == "box"
    with pytest.raises(SchemaError) as e:
        config("hostname: box")
    assert "uts: new" in str(e.value)


def test_uid_gid_numbers_and_names() -> None:
    user = config("uid: 5\ngid: 6\nadditionalGids: [7, web]", id_map={"web": 102})["process"][
        "user"
    ]
    assert user == {"uid": 5, "gid": 6, "additionalGids": [7, 102]}
    user = config("uid: web\ngid: root", id_map={"web": 102})["process"]["user"]
    assert user == {"uid": 102, "gid": 0}
    with pytest.raises(SchemaError) as e:
        config("uid: nobody", id_map={"web": 102})
    assert "known: web" in str(e.value)


def test_image_user_applies_when_nothing_set() -> None:
    assert config(image=ImageDefaults(cmd=("x",), user="10:20"))["process"]["user"] == {
        "uid": 10,
        "gid": 20,
    }
    assert config("uid: 1", image=ImageDefaults(cmd=("x",), user="10:20"))["process"]["user"] == {
        "uid": 1,
        "gid": 0,
    }


def test_devices() -> None:
    cfg = config(
        "devices:\n  - {path: /dev/console, type: c, major: 5, minor: 1, mode: '0666'}\n  - {path: all, type: b}"
    )
    assert cfg["linux"]["devices"] == [
        {"path": "/dev/console", "type": "c", "major": 5, "minor": 1, "fileMode": 0o666}
    ]
    assert cfg["linux"]["resources"]["devices"] == [
        {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
        {"allow": True, "type": "b", "access": "rwm"},
    ]


def test_process_and_linux_fields() -> None:
    cfg = config(
        "noNewPrivileges: true\noomScoreAdj: -100\nrootfsPropagation: shared\ncgroupsPath: /lk/c\n"
        "maskedPaths: [/proc/kcore]\nreadonlyPaths: [/proc/sys]\nsysctl: {net.core.somaxconn: '1024'}\n"
        "rlimits: ['nofile,1024,unlimited', 'RLIMIT_CORE,0,0']\nannotations: {k: v}\n"
        "resources: {memory: {limit: 1048576}, cpu: {shares: 512}}"
    )
    p, linux = cfg["process"], cfg["linux"]
    assert p["noNewPrivileges"] is True and p["oomScoreAdj"] == -100
    assert p["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2**64 - 1},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]
    assert linux["rootfsPropagation"] == "shared" and linux["cgroupsPath"] == "/lk/c"
    assert linux["maskedPaths"] == ["/proc/kcore"] and linux["readonlyPaths"] == ["/proc/sys"]
    assert linux["sysctl"] == {"net.core.somaxconn": "1024"}
    assert linux["resources"] == {
        "memory": {"limit": 1048576},
        "cpu": {"shares": 512},
        "devices": [],
    }
    assert cfg["annotations"] == {"k": "v"}


def test_rootfs_path_and_determinism() -> None:
    a = json.dumps(
        config("binds: [/b:/b, /a:/a]", rootfs="/containers/services/c/rootfs"), sort_keys=True
    )
    b = json.dumps(
        config("binds: [/b:/b, /a:/a]", rootfs="/containers/services/c/rootfs"), sort_keys=True
    )
    assert a == b and '"path": "/containers/services/c/rootfs"' in a


RUNTIME = (
    "runtime:\n"
    "  mkdir: [/run/netns, '/var/lib/my dir']\n"
    "  cgroups: [lk/c]\n"
    "  mounts:\n"
    "    - {type: tmpfs, source: tmpfs, destination: /run/x, options: [size=1m]}\n"
    "    - {type: bind, source: /var, destination: /mnt/var, options: [rbind, ro, rshared]}\n"
    "  interfaces:\n"
    "    - {name: wg0, add: wireguard, createInRoot: true}\n"
    "    - {name: eth1}\n"
    "    - {name: veth0, peer: veth0-root}\n"
    "  bindNS: {net: /run/netns/wg}"
)


def test_runtime_json() -> None:
    rt = runtime_json(container(RUNTIME), None)
    assert rt["mkdir"] == ["/run/netns", "/var/lib/my dir"]
    assert rt["cgroups"] == ["lk/c"]
    assert rt["mounts"][0] == {
        "destination": "/run/x",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["size=1m"],
    }
    assert rt["interfaces"][0] == {"name": "wg0", "add": "wireguard", "createInRoot": True}
    assert rt["interfaces"][2]["add"] == "veth"
    assert rt["bindNS"] == {"net": "/run/netns/wg"}
    assert runtime_json(container(), None) == {
        "cgroups": [],
        "mounts": [],
        "mkdir": [],
        "interfaces": [],
        "bindNS": {},
    }


def test_runtime_label_merges_field_by_field() -> None:
    label = {
        "runtime": {"mkdir": ["/label"], "bindNS": {"net": "/run/netns/l", "ipc": "/run/ipc/l"}}
    }
    rt = runtime_json(container("runtime:\n  bindNS: {net: /run/netns/y}\n  cgroups: [a]"), label)
    assert rt["mkdir"] == ["/label"] and rt["cgroups"] == ["a"]
    assert rt["bindNS"] == {"ipc": "/run/ipc/l", "net": "/run/netns/y"}


def test_prestart_script() -> None:
    assert prestart_script(container(), None) == ""
    script = prestart_script(container(RUNTIME), None)
    lines = script.splitlines()
    assert lines[:2] == ["#!/bin/sh", "set -e"]
    assert "mkdir -p /sys/fs/cgroup/lk/c" in lines
    assert "mkdir -p '/var/lib/my dir'" in lines
    assert "mount -t tmpfs -o size=1m tmpfs /run/x" in lines
    assert "mount --rbind /var /mnt/var" in lines
    assert "mount -o remount,bind,ro /mnt/var" in lines
    assert "mount --make-rshared /mnt/var" in lines
    assert lines.index("mkdir -p /mnt/var") < lines.index("mount --rbind /var /mnt/var")
    subprocess.run(["sh", "-n"], input=script.encode(), check=True)


def test_prestart_relative_overlay_mount_is_inside_the_rootfs(tmp_path) -> None:
    # LinuxKit's hostmount-writeable-overlay example.
    script = prestart_script(
        container(
            "runtime:\n  mounts:\n  - type: overlay\n    source: overlay\n"
            "    destination: writeable-host-etc\n"
            '    options: ["rw", "lowerdir=/etc", "upperdir=/run/u", "workdir=/run/w"]\n'
        ),
        None,
    )
    lines = script.splitlines()
    assert lines[2] == 'cd "$(dirname "$0")/rootfs"'
    assert lines[3:6] == ["mkdir -p writeable-host-etc", "mkdir -p /run/u", "mkdir -p /run/w"]
    assert lines[6] == (
        "mount -t overlay -o rw,lowerdir=/etc,upperdir=/run/u,workdir=/run/w overlay writeable-host-etc"
    )
    # The cd finds the bundle's rootfs from wherever the script is started.
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "prestart.sh").write_text("\n".join(lines[:3]) + "\npwd\n")
    out = subprocess.run(
        ["sh", str(bundle / "prestart.sh")], cwd="/", capture_output=True, text=True
    )
    assert out.stdout.strip() == str(bundle / "rootfs")


@pytest.mark.parametrize(
    "dest,expect",
    [
        ("../escape", "without '..'"),
        ("a/../../b", "without '..'"),
    ],
)
def test_runtime_mount_relative_destination_errors(dest: str, expect: str) -> None:
    with pytest.raises(SchemaError) as e:
        container(f"runtime:\n  mounts:\n  - type: tmpfs\n    destination: {dest}\n")
    assert expect in str(e.value) and e.value.value == dest


def test_oci_mount_destination_must_stay_absolute() -> None:
    with pytest.raises(SchemaError) as e:
        container("mounts:\n  - type: tmpfs\n    destination: rel\n")
    assert "absolute 'destination'" in str(e.value)


def test_namespace_script() -> None:
    assert namespace_script(container(), None) == ""
    script = namespace_script(container(RUNTIME), None)
    lines = script.splitlines()
    assert "ip link add wg0 type wireguard" in lines and 'ip link set wg0 netns "$1"' in lines
    assert 'ip link set eth1 netns "$1"' in lines
    assert "ip link add veth0 type veth peer name veth0-root" in lines
    assert "rename_peer veth0 veth0-root" in lines
    assert lines.index("rename_peer veth0 veth0-root") < lines.index('ip link set veth0 netns "$1"')
    assert 'mount --bind "/proc/$1/ns/net" /run/netns/wg' in lines
    subprocess.run(["sh", "-n"], input=script.encode(), check=True)


def test_namespace_script_takes_the_pid_from_runc_state_on_stdin() -> None:
    # The script's first step, with the state runc gives a createRuntime hook.
    script = namespace_script(container("runtime:\n  bindNS: {net: /run/netns/x}"), None)
    head = script.split("\nmkdir", 1)[0] + '\necho "pid=$1"\n'
    state = '{"ociVersion":"1.0.2","id":"c","status":"creating","pid":4321,"bundle":"/b"}'
    run = subprocess.run(["sh", "-c", head], input=state.encode(), capture_output=True)
    assert run.stdout == b"pid=4321\n"
    run = subprocess.run(["sh", "-c", head, "sh", "77"], input=b"", capture_output=True)
    assert run.stdout == b"pid=77\n"
    run = subprocess.run(["sh", "-c", head], input=b"{}", capture_output=True)
    assert run.returncode == 1 and b"no container pid" in run.stderr


def test_namespace_hooks_run_the_script_with_busybox() -> None:
    hooks = namespace_hooks("/containers/services/c/namespace.sh")
    (hook,) = hooks["createRuntime"]
    assert hook["path"] == "/bin/busybox"
    assert hook["args"] == ["busybox", "sh", "/containers/services/c/namespace.sh"]

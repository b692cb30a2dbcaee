"""The image file: sections, files, volumes, merging."""
from __future__ import annotations

import pytest

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.container import parse_label
from linuxkit_rules.core.spec.container_keys import ContainerSpec
from linuxkit_rules.core.spec.image_yaml import (
    KernelSpec,
    load_image_yaml,
    merge_images,
    with_volume_paths,
)

SSHD = """\
kernel:
  image: linuxkit/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - linuxkit/init:abc
  - linuxkit/runc:abc
onboot:
  - name: sysctl
    image: linuxkit/sysctl:abc
services:
  - name: getty
    image: linuxkit/getty:abc
    env:
     - INSECURE=true
  - name: sshd
    image: linuxkit/sshd:abc
    binds.add:
      - /root/.ssh:/root/.ssh
files:
  - path: root/.ssh/authorized_keys
    source: keys/id.pub
    mode: "0600"
    optional: true
"""


def load(text: str) -> object:
    return load_image_yaml(text, "img.yml")


def error(text: str) -> SchemaError:
    with pytest.raises(SchemaError) as e:
        load_image_yaml(text, "img.yml")
    return e.value


def test_loads_sections_in_order() -> None:
    spec = load_image_yaml(SSHD, "img.yml")
    assert spec.kernel == KernelSpec(image="linuxkit/kernel:6.1", cmdline="console=ttyS0")
    assert spec.init == ("linuxkit/init:abc", "linuxkit/runc:abc")
    assert [c.name for c in spec.onboot] == ["sysctl"]
    assert [c.name for c in spec.services] == ["getty", "sshd"]
    sshd = spec.services[1]
    assert sshd.binds_add == ("/root/.ssh:/root/.ssh",)
    assert sshd.binds is None and sshd.capabilities is None
    assert sshd.line == 15 and sshd.file == "img.yml"
    assert spec.services[0].env == ("INSECURE=true",)
    f = spec.files[0]
    assert (f.path, f.source, f.mode, f.optional, f.line) == (
        "root/.ssh/authorized_keys",
        "keys/id.pub",
        0o600,
        True,
        20,
    )


def test_image_refs_ordered_unique() -> None:
    text = SSHD + "onshutdown:\n  - name: bye\n    image: linuxkit/getty:abc\n"
    assert load_image_yaml(text, "x").image_refs() == [
        "linuxkit/kernel:6.1",
        "linuxkit/init:abc",
        "linuxkit/runc:abc",
        "linuxkit/sysctl:abc",
        "linuxkit/getty:abc",
        "linuxkit/sshd:abc",
    ]


def test_id_map_follows_linuxkit_order() -> None:
    text = SSHD + "onshutdown:\n  - name: bye\n    image: x/y:1\n"
    assert load_image_yaml(text, "x").id_map() == {
        "sysctl": 100,
        "bye": 101,
        "getty": 102,
        "sshd": 103,
    }


def test_unknown_key_names_path_and_line() -> None:
    e = error(
        "services:\n  - name: a\n    image: b/c:1\n  - name: d\n    image: e/f:1\n    nmae: x\n"
    )
    assert (e.file, e.line, e.field) == ("img.yml", 6, "services[1].nmae")
    assert "allowed keys:" in str(e) and "binds.add" in str(e)


def test_unknown_top_level_key() -> None:
    e = error("kernal:\n  image: x\n")
    assert (e.line, e.field) == (1, "kernal")


def test_wrong_type_string_for_list() -> None:
    e = error("services:\n  - name: a\n    image: b/c:1\n    command: /bin/sh\n")
    assert (e.line, e.field) == (4, "services[0].command")
    assert "must be a list" in str(e)


def test_duplicate_yaml_key_is_an_error() -> None:
    e = error("init:\n  - a/b:1\ninit:\n  - c/d:1\n")
    assert e.line == 3 and "duplicate key" in str(e)


def test_yaml_syntax_error_has_line() -> None:
    e = error("services:\n  - name: a\n   image: [\n")
    assert e.file == "img.yml" and e.line is not None


def test_an_onboot_container_cannot_take_a_service_name() -> None:
    e = error("onboot:\n  - name: a\n    image: b/c:1\nservices:\n  - name: a\n    image: b/c:1\n")
    assert (e.line, e.field, e.value) == (2, "name", "a")
    assert "the service at img.yml:5" in str(e)


def test_duplicate_service_names() -> None:
    e = error("services:\n  - name: a\n    image: b/c:1\n  - name: a\n    image: b/d:1\n")
    assert (e.line, e.field, e.value) == (4, "name", "a")
    assert "unique among services (first used at img.yml:2)" in str(e)


def test_onboot_and_onshutdown_names_may_repeat() -> None:
    # LinuxKit's dm-crypt-loop example mounts twice with two onboot `mount`s.
    spec = load_image_yaml(
        "onboot:\n  - name: mount\n    image: m:1\n  - name: mount\n    image: m:1\n"
        "onshutdown:\n  - name: mount\n    image: m:1\n",
        "img.yml",
    )
    assert [c.name for c in spec.containers()] == ["mount", "mount", "mount"]


@pytest.mark.parametrize("path", ["/etc/x", "etc/x"])
def test_file_path_leading_slash_is_dropped(path: str) -> None:
    spec = load_image_yaml(f"files:\n  - path: {path}\n    contents: hi\n", "img.yml")
    assert spec.files[0].path == "etc/x"


@pytest.mark.parametrize("path", ["/", "//etc/x", "etc/../x", "/../x"])
def test_file_path_errors(path: str) -> None:
    e = error(f"files:\n  - path: {path!r}\n    contents: hi\n")
    assert e.field == "files[0].path" and e.value == path and "leading '/' is optional" in str(e)


def test_file_contents_and_source_together() -> None:
    e = error("files:\n  - path: etc/x\n    contents: hi\n    source: x\n")
    assert "contents and source cannot be used together" in str(e)
    assert e.line == 2


@pytest.mark.parametrize("mode", ['"0999"', '"rw"', '"-1"'])
def test_file_mode_not_octal(mode: str) -> None:
    e = error(f"files:\n  - path: etc/x\n    contents: hi\n    mode: {mode}\n")
    assert e.field == "files[0].mode" and e.line == 4


def test_file_mode_unquoted_is_read_as_octal_digits() -> None:
    spec = load_image_yaml(
        "files:\n  - path: a\n    contents: x\n    mode: 0644\n  - path: b\n    directory: true\n    mode: 755\n",
        "x",
    )
    assert [f.mode for f in spec.files] == [0o644, 0o755]


@pytest.mark.parametrize("source", ["/etc/passwd", "~root/.ssh/id.pub", "../x", "a/../../x", "~/"])
def test_file_source_must_be_relative_or_home(source: str) -> None:
    e = error(f"files:\n  - path: a\n    source: {source}\n")
    assert e.field == "files[0].source" and e.line == 3


def test_file_source_in_home_is_accepted() -> None:
    spec = load_image_yaml(
        "files:\n  - path: a\n    source: ~/.ssh/id.pub\n    optional: true\n", "i/x.yml"
    )
    assert (spec.files[0].source, spec.files[0].file) == ("~/.ssh/id.pub", "i/x.yml")


def test_kernel_tar_none_and_defaults() -> None:
    spec = load_image_yaml("kernel:\n  image: k/k:1\n  tar: none\n  binary: bzImage\n", "x")
    assert spec.kernel == KernelSpec(image="k/k:1", binary="bzImage", tar="")


VOLUMES = (
    "volumes:\n  - name: blank\n  - name: data\n    image: linuxkit/data:1\n    readonly: true\n"
)


def test_volumes_parse_and_their_images_are_refs() -> None:
    spec = load_image_yaml(
        VOLUMES
        + "services:\n  - name: a\n    image: b/c:1\n    binds: [blank:/b, 'data:/d:ro', /etc:/e]\n",
        "img.yml",
    )
    assert [(v.name, v.image, v.readonly, v.line) for v in spec.volumes] == [
        ("blank", "", False, 2),
        ("data", "linuxkit/data:1", True, 3),
    ]
    assert spec.image_refs() == ["linuxkit/data:1", "b/c:1"]
    assert spec.ref_places()["linuxkit/data:1"] == ["volumes.data (line 3)"]
    c = with_volume_paths(spec.services[0], spec.volumes)
    assert c.binds == (
        "/containers/volumes/blank/merged:/b",
        "/containers/volumes/data/merged:/d:ro",
        "/etc:/e",
    )


def test_volume_bind_mount_source_is_replaced() -> None:
    spec = load_image_yaml(
        VOLUMES + "onboot:\n  - name: a\n    image: b/c:1\n"
        "    mounts: [{type: bind, source: data, destination: /d, options: [rbind, ro]}]\n",
        "img.yml",
    )
    (m,) = with_volume_paths(spec.onboot[0], spec.volumes).mounts  # type: ignore[misc]
    assert m.source == "/containers/volumes/data/merged" and m.destination == "/d"


@pytest.mark.parametrize(
    "body,field,expect",
    [
        (
            "    binds: [nope:/x]\n",
            "a.binds[0]",
            "no volume 'nope' in `volumes:` (volumes: blank, data)",
        ),
        (
            "    binds.add: [data:/x]\n",
            "a.binds.add[0]",
            "volume 'data' is readonly: bind it with ':ro'",
        ),
        (
            "    mounts: [{type: bind, source: data, destination: /d}]\n",
            "a.mounts[0].source",
            "add 'ro'",
        ),
        (
            "    mounts: [{type: bind, source: nope, destination: /d}]\n",
            "a.mounts[0].source",
            "absolute path or a volume",
        ),
    ],
)
def test_volume_bind_errors(body: str, field: str, expect: str) -> None:
    e = error(VOLUMES + "services:\n  - name: a\n    image: b/c:1\n" + body)
    assert e.field == field and e.line == 7 and expect in str(e)


@pytest.mark.parametrize(
    "volumes,field,expect",
    [
        ("  - name: v\n  - name: v\n", "volumes.name", "unique (first used at img.yml:2)"),
        ("  - name: Bad\n", "volumes[0].name", "a-z, 0-9"),
        ("  - name: v\n    format: oci\n", "volumes[0].format", "'oci' layouts are not"),
        ("  - name: v\n    platforms: [linux/amd64]\n", "volumes[0].platforms", "not supported"),
        ("  - name: v\n    size: 1G\n", "volumes[0].size", "allowed"),
    ],
)
def test_volume_entry_errors(volumes: str, field: str, expect: str) -> None:
    e = error("volumes:\n" + volumes)
    assert e.field == field and expect in str(e)


def test_volume_names_unique_across_merged_files() -> None:
    a = load_image_yaml("volumes:\n  - name: v\n", "a.yml")
    b = load_image_yaml("volumes:\n  - name: v\n", "b.yml")
    with pytest.raises(SchemaError) as e:
        merge_images([a, b])
    assert "b.yml:2" in str(e.value) and "first used at a.yml:2" in str(e.value)


def test_label_binds_cannot_name_volumes() -> None:
    with pytest.raises(SchemaError) as e:
        parse_label({"binds": ["data:/d"]})
    assert "volumes are named in an image YAML only" in str(e.value)


def test_merge_images() -> None:
    a = load_image_yaml(SSHD, "a.yml")
    b = load_image_yaml(
        "kernel:\n  image: other/kernel:2\ninit:\n  - x/extra:1\nservices:\n  - name: web\n    image: x/web:1\n",
        "b.yml",
    )
    m = merge_images([a, b])
    assert m.kernel == KernelSpec(image="other/kernel:2")
    assert m.init == a.init + ("x/extra:1",)
    assert [c.name for c in m.services] == ["getty", "sshd", "web"]
    assert m.files == a.files
    assert merge_images([b, load_image_yaml("init: [y/z:1]\n", "c.yml")]).kernel == b.kernel


def test_merge_rejects_duplicate_names_across_files() -> None:
    a = load_image_yaml(SSHD, "a.yml")
    b = load_image_yaml("services:\n  - name: sshd\n    image: x/y:1\n", "b.yml")
    with pytest.raises(SchemaError) as e:
        merge_images([a, b])
    assert e.value.field == "name" and e.value.file == "b.yml" and "a.yml:" in str(e.value)


def test_empty_document() -> None:
    spec = load_image_yaml("", "x")
    assert spec.kernel is None and spec.services == () and spec.image_refs() == []


def test_container_spec_is_hashable() -> None:
    c = load_image_yaml(SSHD, "x").services[1]
    assert isinstance(c, ContainerSpec) and hash(c) == hash(load_image_yaml(SSHD, "x").services[1])


def test_column_0_comment_inside_a_block_scalar_is_refused() -> None:
    # LinuxKit's static-ip example: the comment ends the block scalar, and the
    # indented lines after it fit nowhere. Go's gopkg.in/yaml.v3 (LinuxKit's
    # parser) refuses it too ("did not find expected key").
    e = error(
        "files:\n  - path: etc/resolv.conf\n    contents: |\n#      domain test.local\n"
        "      nameserver 10.10.1.101\n"
    )
    assert e.file == "img.yml" and e.line == 5 and "valid YAML" in str(e)


def test_column_0_comment_after_a_block_scalar_is_a_comment() -> None:
    spec = load_image_yaml(
        "files:\n  - path: etc/resolv.conf\n    contents: |\n      nameserver 10.10.1.101\n"
        "#      domain test.local\n",
        "img.yml",
    )
    assert spec.files[0].contents == "nameserver 10.10.1.101\n"

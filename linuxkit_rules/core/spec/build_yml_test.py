from __future__ import annotations

import json

import pytest

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.build_yml import BuildYml, load_build_yml
from linuxkit_rules.core.spec.container import parse_label
from linuxkit_rules.core.spec.container_keys import ContainerDefaults
from linuxkit_rules.core.spec.container_model import Device

GETTY = """\
image: getty
config:
  pid: host
  binds:
    - /etc/resolv.conf:/etc/resolv.conf
    - /run:/run
  devices:
    - path: "/dev/console"
      type: c
      major: 5
      minor: 1
      mode: 0666
  capabilities:
    - all
"""


def error(text: str) -> SchemaError:
    with pytest.raises(SchemaError) as e:
        load_build_yml(text, "pkg/x/build.yml")
    return e.value


def test_linuxkit_build_yml() -> None:
    b = load_build_yml(GETTY, "pkg/getty/build.yml")
    assert (b.image, b.org, b.tag, b.arches) == (
        "getty",
        "linuxkit",
        "{{.Hash}}",
        ("amd64", "arm64"),
    )
    assert b.config.pid == "host" and b.config.capabilities == ("all",)
    assert b.config.devices == (Device("/dev/console", "c", 5, 1, 0o666),)
    assert b.config_json == {
        "pid": "host",
        "binds": ["/etc/resolv.conf:/etc/resolv.conf", "/run:/run"],
        "devices": [{"path": "/dev/console", "type": "c", "major": 5, "minor": 1, "mode": "0666"}],
        "capabilities": ["all"],
    }
    # the label round-trips through JSON to the same settings
    assert parse_label(json.dumps(b.config_json)) == b.config
    hash(b)


def test_defaults_without_config() -> None:
    b = load_build_yml("image: foo\n", "x")
    assert b == BuildYml(file="x", image="foo")
    assert b.config == ContainerDefaults() and b.config_json == {}


def test_all_accepted_fields() -> None:
    b = load_build_yml(
        "image: tool\norg: acme\ntag: 'v1-{{.Hash}}'\narches: [amd64]\n"
        "extra-sources: ['../common:/common']\ngitrepo: https://example.invalid/repo\n"
        "labels: {a: '1'}\nnetwork: false\ndisable-cache: false\n",
        "x",
    )
    assert b.org == "acme" and b.arches == ("amd64",)
    assert b.render_tag("abc") == "v1-abc" and b.reference("abc") == "acme/tool:v1-abc"
    assert b.extra_sources == (("../common", "/common"),)
    assert b.oci_labels() == {
        "a": "1",
        "org.opencontainers.image.source": "https://example.invalid/repo",
    }


def test_unknown_key() -> None:
    e = error("image: x\nimagee: y\n")
    assert (e.file, e.line, e.field) == ("pkg/x/build.yml", 2, "imagee")
    assert "allowed keys" in str(e)


@pytest.mark.parametrize(
    "key,value",
    [
        ("dockerfile", "Dockerfile"),
        ("buildArgs", "[A=1]"),
        ("depends", "{docker-images: {list: [a]}}"),
    ],
)
def test_docker_only_fields_refused(key: str, value: str) -> None:
    e = error(f"image: x\n{key}: {value}\n")
    assert e.field == key and e.line == 2 and "not supported" in str(e)


def test_network_true_refused() -> None:
    e = error("image: x\nnetwork: true\n")
    assert e.field == "network" and "only false" in str(e)


def test_config_errors_have_path() -> None:
    e = error("image: x\nconfig:\n  binds:\n    - /a\n")
    assert (e.line, e.field) == (4, "config.binds[0]")
    e = error("image: x\nconfig:\n  name: y\n")
    assert e.field == "config.name"


@pytest.mark.parametrize(
    "text,field",
    [
        ("org: x\n", "<document>"),
        ("image: Bad_Name\n", "image"),
        ("image: x\ntag: '{{.Other}}'\n", "tag"),
        ("image: x\narches: [i386]\n", "arches[0]"),
        ("image: x\nextra-sources: ['nocolon']\n", "extra-sources[0]"),
        ("image: x\nlabels: {org.mobyproject.config: '{}'}\n", "labels"),
    ],
)
def test_field_errors(text: str, field: str) -> None:
    assert error(text).field == field

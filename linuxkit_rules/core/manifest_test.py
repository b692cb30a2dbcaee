from __future__ import annotations

import json
from dataclasses import fields

import pytest

from linuxkit_rules.core.manifest import BadManifest, Manifest, matches
from linuxkit_rules.core.media.firmware import OvmfManifest
from linuxkit_rules.core.media.image_build import ImageManifest


def test_round_trip_through_json_text() -> None:
    m = ImageManifest(
        name="sshd",
        yaml=("images/sshd.yml",),
        refs={"//pkg/sshd": {"path": "pkg.sshd/sshd.oci.tar"}},
        formats=("kernel+initrd", "iso-efi"),
        files_present=(),
        disk_size_mib=512,
        sbom={"output": "sshd.spdx.json", "components": [{"name": "a", "debs": []}]},
    )
    text = json.dumps(m.to_json(), sort_keys=True)
    assert json.loads(text)["formats"] == ["kernel+initrd", "iso-efi"]
    assert ImageManifest.from_json(json.loads(text)) == m


def test_unknown_and_missing_keys_name_the_command() -> None:
    with pytest.raises(BadManifest, match=r"tool ovmf: unknown manifest keys \['extra'\]"):
        OvmfManifest.from_json({"deb": "a.deb", "output": "ovmf", "extra": 1})
    with pytest.raises(BadManifest, match="tool ovmf: .*output"):
        OvmfManifest.from_json({"deb": "a.deb"})
    assert OvmfManifest("a.deb", "ovmf").command == "ovmf"


def test_an_optional_key_is_written_only_when_set() -> None:
    from linuxkit_rules.core.oci.package_build import PackageManifest

    m = PackageManifest(
        build_yml={"net": "host"},
        labels={},
        debs=("a.deb",),
        remove=(),
        arch="amd64",
        ref="",
        rootfs="rootfs",
        output="p.oci.tar",
    )
    assert "base" not in m.to_json()
    with_base = PackageManifest.from_json({**m.to_json(), "base": "b.oci.tar"})
    assert with_base.base == "b.oci.tar" and with_base.to_json()["base"] == "b.oci.tar"
    # The content tag's input: every key but where things go, plus the locked sha256s.
    assert json.loads(m.tag_input({"a.deb": "00"})) == {
        "arch": "amd64",
        "build_yml": {"net": "host"},
        "debs": ["a.deb"],
        "labels": {},
        "remove": [],
        "verify_sha256": {"a.deb": "00"},
    }


def test_values_are_checked_against_the_field_types() -> None:
    from linuxkit_rules.core.kernels.source_build import LinuxManifest

    good = {
        "deb": "src.deb",
        "arch": "amd64",
        "config": "config",
        "toolchain": {
            "root": "__toolchain",
            "target": "//toolchain:kernel",
            "bwrap": "/usr/bin/bwrap",
        },
        "ccache_dir": "",
        "kbuild_dir": "",
        "build_id": "//kernel:linux",
        "jobs": 0,
        "output": "out",
    }
    assert LinuxManifest.from_json(good).jobs == 0
    with pytest.raises(BadManifest, match=r"tool linux: manifest key 'jobs' is True, not int"):
        LinuxManifest.from_json({**good, "jobs": True})
    with pytest.raises(BadManifest, match=r"'ccache_max_size' is 5, not str \| None"):
        LinuxManifest.from_json({**good, "ccache_max_size": 5})
    with pytest.raises(BadManifest, match=r"'yaml' is \['a', 3\], not tuple\[str, \.\.\.\]"):
        ImageManifest.from_json(
            {"name": "n", "yaml": ["a", 3], "refs": {}, "formats": [], "files_present": []}
        )


def test_matches_reads_the_annotations_in_use() -> None:
    assert matches("Mapping[str, Mapping[str, str]]", {"a": {"b": "c"}})
    assert not matches("Mapping[str, Mapping[str, str]]", {"a": {"b": 1}})
    assert matches("tuple[str, ...] | None", None) and matches("tuple[str, ...]", ["a"])
    assert matches("float", 3) and not matches("int", 3.5)
    with pytest.raises(TypeError, match="not a JSON type"):
        matches("set[str]", set())


def test_every_command_manifest_declares_json_types() -> None:
    for cls in _command_manifests():
        for f in fields(cls):
            matches(str(f.type), None)  # raises TypeError for a type JSON cannot hold


def _command_manifests() -> list[type[Manifest]]:
    import importlib

    from linuxkit_rules.core.tool import COMMANDS

    found = []
    for module, _ in COMMANDS.values():
        mod = importlib.import_module(f"linuxkit_rules.core.{module}")
        found += [v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, Manifest)]
    return found

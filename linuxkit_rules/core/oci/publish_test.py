from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci.layout import ImageConfig, read_oci_layout, write_oci_layout
from linuxkit_rules.core.oci.publish import (
    ARTIFACT_TYPE,
    artifact_media_type,
    plan_from_files,
    plan_from_layouts,
    pull_command,
    push_command,
)
from linuxkit_rules.core.oci.registry import RegistryClient
from linuxkit_rules.testservers import docker_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with docker_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def test_media_types() -> None:
    assert artifact_media_type("sshd-kernel") == "application/vnd.linuxkit-rules.kernel.v1"
    assert artifact_media_type("sshd-initrd.img").endswith("initrd.v1.cpio+gzip")
    assert artifact_media_type("sshd-cmdline").endswith("cmdline.v1+text")
    assert artifact_media_type("sshd-efi.iso").endswith("iso9660.v1")
    assert artifact_media_type("whatever") == "application/octet-stream"


def test_image_outputs_as_artifact(registry: str, tmp_path: Path) -> None:
    files = []
    for name, data in (
        ("img-kernel", b"K" * 100),
        ("img-initrd.img", b"I" * 50),
        ("img-cmdline", b"console=ttyS0"),
    ):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    report = push_command(
        {
            "address": "//images:img",
            "files": files,
            "targets": [f"{registry}/images/img:v1"],
            "annotations": {},
        }
    )
    client = RegistryClient(registry)
    media_type, body = client.get_manifest("images/img", "v1")
    manifest = json.loads(body)
    assert media_type == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert [
        layer["annotations"]["org.opencontainers.image.title"] for layer in manifest["layers"]
    ] == ["img-kernel", "img-initrd.img", "img-cmdline"]
    assert client.get_blob("images/img", manifest["layers"][2]["digest"]) == b"console=ttyS0"
    assert report["digest"] == plan_from_files(files, {}).digest


def test_no_registry_is_a_clear_error() -> None:
    with pytest.raises(RegistryError, match=r"//pkg/x: no registry to publish to"):
        push_command({"address": "//pkg/x", "files": [], "targets": []})


def test_pull_command_writes_a_verified_layout(registry: str, tmp_path: Path) -> None:
    out = io.BytesIO()
    write_oci_layout([b"base layer"], ImageConfig(env=("A=1",)), "b:t", out, 1704067200)
    (tmp_path / "base.oci.tar").write_bytes(out.getvalue())
    pushed = push_command(
        {
            "address": "//x",
            "layouts": [str(tmp_path / "base.oci.tar")],
            "targets": [f"{registry}/base/img:v1"],
        }
    )
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1704067200")
    target = tmp_path / "pulled" / "base.oci.tar"
    pull_command(
        {
            "address": "//x",
            "ref": f"{registry}/base/img@{pushed['digest']}",
            "arch": "amd64",
            "output": str(target),
        }
    )
    with open(target, "rb") as f:
        image = read_oci_layout(f)
    assert image.layers == (b"base layer",)
    assert image.config.env == ("A=1",)
    # The pulled layout pushes back to the same index digest.
    with open(target, "rb") as f:
        assert plan_from_layouts([(f, "pulled")]).digest == pushed["digest"]


def test_publish_targets() -> None:
    from linuxkit_rules.core.oci.publish import publish_targets

    assert publish_targets(["r:5000", "q/pre/"], "linuxkit/sshd", ["abc", "v1", "abc"]) == [
        "r:5000/linuxkit/sshd:abc",
        "r:5000/linuxkit/sshd:v1",
        "q/pre/linuxkit/sshd:abc",
        "q/pre/linuxkit/sshd:v1",
    ]


def _layout(tmp_path: Path, name: str, layer: bytes, arch: str) -> str:
    out = io.BytesIO()
    write_oci_layout([layer], ImageConfig(architecture=arch), "p:t", out, 1704067200)
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return str(path)


def test_multi_arch_package_is_one_index(registry: str, tmp_path: Path) -> None:
    layouts = [
        _layout(tmp_path, "p.oci.tar", b"amd64 layer", "amd64"),
        _layout(tmp_path, "p-arm64.oci.tar", b"arm64 layer", "arm64"),
    ]
    pushed = push_command(
        {"address": "//pkg/p", "layouts": layouts, "targets": [f"{registry}/multi/p:v1"]}
    )
    client = RegistryClient(registry)
    media_type, body = client.get_manifest("multi/p", "v1")
    assert media_type == "application/vnd.oci.image.index.v1+json"
    index = json.loads(body)
    assert [e["platform"] for e in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]
    # Each architecture pulls its own layer through the index.
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1704067200")
    for arch in ("amd64", "arm64"):
        target = tmp_path / arch / "pulled.oci.tar"
        pull_command(
            {
                "address": "//x",
                "ref": f"{registry}/multi/p@{pushed['digest']}",
                "arch": arch,
                "output": str(target),
            }
        )
        with open(target, "rb") as f:
            assert read_oci_layout(f).layers == (f"{arch} layer".encode(),)


def test_two_layouts_of_one_platform_are_refused(tmp_path: Path) -> None:
    a = _layout(tmp_path, "a.oci.tar", b"one", "amd64")
    b = _layout(tmp_path, "b.oci.tar", b"two", "amd64")
    with pytest.raises(
        RegistryError, match=r"b.oci.tar: platform .*amd64.* is already in .*a.oci.tar"
    ):
        push_command({"address": "//pkg/p", "layouts": [a, b], "targets": ["127.0.0.1:1/x:y"]})

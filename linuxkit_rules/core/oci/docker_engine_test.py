"""Against a real dockerd (Debian docker.io) on a private socket, started by the test."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from linuxkit_rules.core.oci.docker_engine import (
    DockerEngineError,
    dockerfile_build_command,
    load_command,
    write_docker_archive,
)
from linuxkit_rules.core.oci.layout import ImageConfig, read_oci_layout, write_oci_layout
from linuxkit_rules.testservers import dockerd

MTIME = 1704067200


@pytest.fixture(scope="module")
def docker_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A short path: unix socket paths are limited to 108 bytes.
    with dockerd(Path(tmp_path_factory.mktemp("d"))) as host:
        yield host


@pytest.fixture
def env(docker_host: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(MTIME))
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    return docker_host


def one_file_layer(path: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(path)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_docker_archive_is_deterministic() -> None:
    layers = [one_file_layer("etc/a", b"a")]
    first, second = io.BytesIO(), io.BytesIO()
    id1 = write_docker_archive(layers, ImageConfig(), ["x/y:1"], first, MTIME)
    id2 = write_docker_archive(layers, ImageConfig(), ["x/y:1"], second, MTIME)
    assert (id1, first.getvalue()) == (id2, second.getvalue())


def test_no_engine_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(
        DockerEngineError, match=r"needs a Docker engine, and none answers at unix://"
    ) as e:
        load_command({"address": "//x", "archive": "unused", "repo_tags": []})
    assert "\n" not in str(e.value)


def test_load_oci_layout_into_docker(env: str, tmp_path: Path) -> None:
    import docker  # type: ignore[import]

    layout = tmp_path / "p.oci.tar"
    with open(layout, "wb") as f:
        write_oci_layout(
            [one_file_layer("etc/greeting", b"hi\n")], ImageConfig(env=("A=1",)), "t/p:1", f, MTIME
        )
    load_command(
        {
            "address": "//pkg/p",
            "layout": str(layout),
            "repo_tags": ["example/p:abc", "example/p:v1"],
        }
    )
    client = docker.DockerClient(base_url=env)
    image = client.images.get("example/p:v1")
    assert "A=1" in image.attrs["Config"]["Env"]
    assert set(image.tags) == {"example/p:abc", "example/p:v1"}
    container = client.containers.create("example/p:v1", command=["/none"])
    try:
        stream, _ = container.get_archive("/etc/greeting")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            assert tar.extractfile("greeting").read() == b"hi\n"  # type: ignore[union-attr]
    finally:
        container.remove()


def test_dockerfile_package(env: str, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "rootfs" / "etc").mkdir(parents=True)
    (context / "rootfs" / "etc" / "hello").write_text("from a Dockerfile\n")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY rootfs/ /\nENV GREETING=hello\nLABEL org.example.kind=test\nCMD ["/bin/hello"]\n'
    )
    out = tmp_path / "out" / "p.oci.tar"
    manifest = {
        "address": "//pkg/d",
        "context": str(context),
        "dockerfile": "Dockerfile",
        "labels": {},
        "build_yml": {"net": "host"},
        "arch": "amd64",
        "ref": "example/d:tag",
        "output": str(out),
    }
    report = dockerfile_build_command(manifest)
    with open(out, "rb") as f:
        image = read_oci_layout(f)
    labels = dict(image.config.labels)
    assert json.loads(labels["org.mobyproject.config"]) == {"net": "host"}
    assert labels["org.example.kind"] == "test"
    assert "GREETING=hello" in image.config.env and image.config.cmd == ("/bin/hello",)
    with tarfile.open(fileobj=io.BytesIO(image.layers[0])) as tar:
        member = tar.getmember("etc/hello")
        assert member.mtime == MTIME
        assert tar.extractfile(member).read() == b"from a Dockerfile\n"  # type: ignore[union-attr]
    # Same Dockerfile, same bytes (the engine's own timestamps do not leak in).
    first = out.read_bytes()
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "\n")
    assert dockerfile_build_command(manifest)["digest"] == report["digest"]
    assert out.read_bytes() == first
    # The engine keeps nothing of the builds: no untagged image is left behind.
    import docker  # type: ignore[import]

    client = docker.DockerClient(base_url=env)
    assert client.images.list(filters={"dangling": True}) == []
    assert report["engine_image"] not in {i.id for i in client.images.list(all=True)}


def test_failing_dockerfile_is_one_line(env: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY missing /missing\n")
    with pytest.raises(
        DockerEngineError, match=r"//pkg/bad: docker build of Dockerfile failed"
    ) as e:
        dockerfile_build_command(
            {
                "address": "//pkg/bad",
                "context": str(tmp_path),
                "dockerfile": "Dockerfile",
                "labels": {},
                "build_yml": {},
                "arch": "amd64",
                "ref": "b/b:1",
                "output": str(tmp_path / "o.tar"),
            }
        )
    assert "\n" not in str(e.value)

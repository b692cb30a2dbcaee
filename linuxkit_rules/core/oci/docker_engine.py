"""Docker: `docker load`-able archives, loading them, and building Dockerfile packages.

The archive writer is pure; loading and building talk to the engine named by
DOCKER_HOST (default `unix:///var/run/docker.sock`) through docker-py. A
Dockerfile build's result is flattened into one layer with the project's fixed
mtime and written as an OCI layout, like every other package.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Mapping, Sequence

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.manifest import BadManifest, Manifest, optional
from linuxkit_rules.core.oci.layout import (
    ImageConfig,
    config_json,
    read_oci_layout,
    write_oci_layout,
)

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
MOBY_CONFIG_LABEL = "org.mobyproject.config"


class DockerEngineError(LinuxkitError):
    """No engine, or the engine refused a load or a build."""


def write_docker_archive(
    layers: Sequence[bytes],
    config: ImageConfig,
    repo_tags: Iterable[str],
    fileobj: BinaryIO,
    mtime: int,
) -> str:
    """Write a `docker save`-format tar (manifest.json, config, one tar per layer);
    return the image id (the config digest). Deterministic for the same inputs."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config_bytes = config_json(config, diff_ids, mtime)
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    tree = Tree()
    layer_paths = []
    for diff_id, layer in zip(diff_ids, layers):
        path = f"{diff_id.split(':', 1)[1]}/layer.tar"
        tree.add(Entry(path, "file", data=layer))
        layer_paths.append(path)
    tree.add(Entry(f"{config_hex}.json", "file", data=config_bytes))
    manifest = [
        {"Config": f"{config_hex}.json", "RepoTags": sorted(set(repo_tags)), "Layers": layer_paths}
    ]
    tree.add(Entry("manifest.json", "file", data=json.dumps(manifest, sort_keys=True).encode()))
    write_tar(tree.entries(), fileobj, mtime)
    return f"sha256:{config_hex}"


def oci_layout_to_docker_archive(
    layout: BinaryIO, repo_tags: Iterable[str], out: BinaryIO, mtime: int
) -> str:
    image = read_oci_layout(layout)
    return write_docker_archive(image.layers, image.config, repo_tags, out, mtime)


def read_docker_archive(fileobj: BinaryIO) -> tuple[list[bytes], dict[str, Any]]:
    """The layers (base first) and the config document of a single-image `docker save` tar."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        for member in tar:
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[os.path.normpath(member.name)] = extracted.read()
    try:
        [entry] = json.loads(files["manifest.json"])
        config = json.loads(files[entry["Config"]])
        layers = [files[os.path.normpath(p)] for p in entry["Layers"]]
    except (KeyError, ValueError) as e:
        raise DockerEngineError(
            f"the engine's image archive is not a single-image docker save tar ({e})"
        ) from None
    return layers, config


# ---------------------------------------------------------------------------
# the engine


def docker_host(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def engine(env: Mapping[str, str], why: str) -> Any:
    """A docker-py client for the engine at DOCKER_HOST, checked with a ping."""
    import docker  # type: ignore[import]  # docker-py, in the launcher venv
    import docker.errors  # type: ignore[import]

    host = docker_host(env)
    try:
        client = docker.DockerClient(base_url=host, timeout=600)
        client.ping()
    except (docker.errors.DockerException, OSError) as e:
        raise DockerEngineError(
            f"{why} needs a Docker engine, and none answers at {host} (set DOCKER_HOST): {_short(e)}"
        ) from None
    return client


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:300] if text else type(e).__name__


@dataclass(frozen=True)
class DockerLoadManifest(Manifest):
    """`tool docker-load`: an image's `docker` archive, or a package's OCI layout
    (converted), loaded into the engine under `repo_tags`."""

    command = "docker-load"

    address: str  # the target published, for messages
    repo_tags: tuple[str, ...]
    layout: str | None = optional()
    archive: str | None = optional()

    def __post_init__(self) -> None:
        if (self.layout is None) == (self.archive is None):
            raise BadManifest(f"tool {self.command}: give one of `layout` and `archive`")


def load_command(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """Load `archive` (docker save format) or `layout` (OCI, converted) into the engine."""
    m = DockerLoadManifest.from_json(manifest)
    client = engine(os.environ, f"loading {m.address} into Docker")
    if m.layout:
        buf = io.BytesIO()
        with open(m.layout, "rb") as f:
            oci_layout_to_docker_archive(
                f, m.repo_tags, buf, int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
            )
        data = buf.getvalue()
    else:
        with open(str(m.archive), "rb") as f:
            data = f.read()
    try:
        images = client.images.load(data)
        for image in images:
            for tag in m.repo_tags:
                repository, _, name = tag.rpartition(":")
                image.tag(repository, name)
    except Exception as e:  # docker-py raises several types: one line is what matters
        raise DockerEngineError(
            f"loading {m.address} into Docker at {docker_host(os.environ)}: {_short(e)}"
        ) from None
    for tag in m.repo_tags:
        print(f"loaded {tag} into {docker_host(os.environ)}")
    return {"images": [i.id for i in images]}


def _flatten(layers: Iterable[bytes]) -> Tree:
    tree = Tree()
    for layer in layers:
        tree.add_tar(io.BytesIO(layer), oci_whiteouts=True)
    return tree


def _image_config(doc: Mapping[str, Any], arch: str, labels: Mapping[str, str]) -> ImageConfig:
    runtime = doc.get("config") or {}
    merged = {**(runtime.get("Labels") or {}), **labels}
    return ImageConfig(
        architecture=arch,
        env=tuple(runtime.get("Env") or ()),
        entrypoint=tuple(runtime.get("Entrypoint") or ()),
        cmd=tuple(runtime.get("Cmd") or ()),
        working_dir=runtime.get("WorkingDir") or "",
        user=runtime.get("User") or "",
        labels=tuple(sorted(merged.items())),
    )


def _remove_untagged(client: Any, image_id: str) -> None:
    """Remove the image a build made (and its untagged parents, the build's
    intermediate images) once its bytes are saved: the result lives in the
    Pants store, not in the engine. An image someone has since tagged stays."""
    import docker.errors  # type: ignore[import]

    try:
        if not client.images.get(image_id).tags:
            client.images.remove(image_id, force=False, noprune=False)
    except docker.errors.APIError:
        pass  # in use by a container or tagged meanwhile: not ours to remove


@dataclass(frozen=True)
class DockerfileManifest(Manifest):
    """`tool dockerfile`: a package built by the engine from its Dockerfile."""

    command = "dockerfile"

    address: str
    build_yml: Mapping[str, Any]  # the runtime config, as the moby label's JSON
    labels: Mapping[str, str]
    arch: str
    context: str  # the build context directory
    dockerfile: str  # its path inside the context
    ref: str  # the layout's reference name
    output: str
    build_args: Mapping[str, str] | None = optional()

    def tag_input(self) -> str:
        """What the package's content tag hashes besides its context and code."""
        keys = {k: v for k, v in self.to_json().items() if k not in ("ref", "output")}
        return json.dumps(keys, sort_keys=True)


def dockerfile_build_command(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """Build `dockerfile` in `context` with the engine; write the result as an OCI layout
    at `output` (one layer, fixed mtimes, build.yml's config as the moby label)."""
    m = DockerfileManifest.from_json(manifest)
    mtime = int(os.environ["SOURCE_DATE_EPOCH"])
    client = engine(os.environ, f"{m.address} (built from {m.dockerfile})")
    import docker.errors  # type: ignore[import]

    image = None
    try:
        image, _ = client.images.build(
            path=m.context,
            dockerfile=m.dockerfile,
            rm=True,
            forcerm=True,
            pull=False,
            buildargs=dict(m.build_args or {}),
        )
        data = b"".join(image.save(named=False))
    except docker.errors.BuildError as e:
        log = "".join(str(chunk.get("stream") or chunk.get("error") or "") for chunk in e.build_log)
        tail = " | ".join(line for line in log.strip().splitlines()[-3:])
        raise DockerEngineError(
            f"{m.address}: docker build of {m.dockerfile} failed: {e.msg} ({tail})"
        ) from None
    except docker.errors.APIError as e:
        raise DockerEngineError(
            f"{m.address}: docker build of {m.dockerfile} failed: {_short(e)}"
        ) from None
    finally:
        if image is not None:
            _remove_untagged(client, image.id)
    layers, config_doc = read_docker_archive(io.BytesIO(data))
    tree = _flatten(layers)
    layer = io.BytesIO()
    write_tar(tree.entries(), layer, mtime)
    labels = dict(m.labels)
    labels[MOBY_CONFIG_LABEL] = json.dumps(m.build_yml, sort_keys=True, separators=(",", ":"))
    config = _image_config(config_doc, m.arch, labels)
    os.makedirs(os.path.dirname(m.output) or ".", exist_ok=True)
    with open(m.output, "wb") as out:
        digest = write_oci_layout([layer.getvalue()], config, m.ref, out, mtime)
    return {
        "size": tree.file_bytes(),
        "files": len(tree),
        "digest": digest,
        "engine_image": image.id,
    }

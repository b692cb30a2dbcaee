"""Tool commands that talk to registries: push a package, push image outputs, pull a base.

`push` runs from `pants publish` (an interactive process: credentials come from
its environment, never from the repository); `pull` runs as a cached build
process keyed by the image digest.
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Mapping

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.manifest import BadManifest, Manifest, optional
from linuxkit_rules.core.oci.pull import pull
from linuxkit_rules.core.oci.push import PushPlan, push
from linuxkit_rules.core.oci.registry import (
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    Blob,
    canonical_json,
    check_digest,
    parse_reference,
    sha256_digest,
)

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
TITLE_ANNOTATION = "org.opencontainers.image.title"
ARTIFACT_TYPE = "application/vnd.linuxkit-rules.image.v1"
MEDIA_EMPTY = "application/vnd.oci.empty.v1+json"


def _layout_files(fileobj: BinaryIO) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        for member in tar:
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[posixpath.normpath(member.name)] = extracted.read()
    return files


def plan_from_layouts(layouts: list[tuple[BinaryIO, str]]) -> PushPlan:
    """One push plan for several OCI layout tars (a package built for several
    architectures, `(file, name)` each): every blob and manifest, and one index
    over all their manifests, in the given order. Two entries for one platform
    are an error."""
    blobs: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    manifests: list[tuple[str, bytes]] = []
    platforms: dict[str, str] = {}
    for fileobj, where in layouts:
        layout_blobs, layout_entries = _read_layout(fileobj, where)
        for entry in layout_entries:
            platform = json.dumps(entry.get("platform") or {}, sort_keys=True)
            if platform in platforms:
                raise RegistryError(
                    f"{where}: platform {platform} is already in {platforms[platform]}; "
                    "an index holds one manifest per platform"
                )
            platforms[platform] = where
            manifests.append((MEDIA_MANIFEST, layout_blobs.pop(entry["digest"])))
            entries.append(entry)
        blobs.update(layout_blobs)
    top = canonical_json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries})
    ordered = tuple(Blob(d, blobs[d]) for d in sorted(blobs))
    return PushPlan(ordered, tuple(manifests), MEDIA_INDEX, top)


def _read_layout(fileobj: BinaryIO, where: str) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """An OCI layout's verified blobs by digest, and its index entries (without ref names)."""
    files = _layout_files(fileobj)
    if "index.json" not in files:
        raise RegistryError(f"{where}: not an OCI layout (no index.json)")
    blobs: dict[str, bytes] = {}
    for path, data in files.items():
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "blobs":
            digest = check_digest(f"{parts[1]}:{parts[2]}", f"{where}: blob {path[:120]!r}")
            if sha256_digest(data) != digest:
                raise RegistryError(f"{where}: blob {path} is corrupt")
            blobs[digest] = data
    try:
        index = json.loads(files["index.json"])
    except (ValueError, UnicodeDecodeError) as e:
        raise RegistryError(f"{where}: index.json is not valid JSON ({e})") from None
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not all(isinstance(d, dict) for d in manifests):
        raise RegistryError(f"{where}: index.json must hold a list of manifest descriptors")
    entries = []
    for descriptor in manifests:
        digest = check_digest(descriptor.get("digest"), f"{where}: index entry")
        if descriptor.get("mediaType") != MEDIA_MANIFEST or digest not in blobs:
            raise RegistryError(
                f"{where}: index entry {digest} is not an image manifest in the layout"
            )
        entry = {k: v for k, v in descriptor.items() if k != "annotations"}
        annotations = {
            k: v
            for k, v in (descriptor.get("annotations") or {}).items()
            if k != REF_NAME_ANNOTATION
        }
        if annotations:
            entry["annotations"] = annotations
        entries.append(entry)
    if not entries:
        raise RegistryError(f"{where}: the OCI layout lists no manifest")
    return blobs, entries


_ARTIFACT_TYPES = (
    # (file name suffix, media type); the first match wins.
    ("-kernel", "application/vnd.linuxkit-rules.kernel.v1"),
    ("-initrd.img", "application/vnd.linuxkit-rules.initrd.v1.cpio+gzip"),
    ("-cmdline", "application/vnd.linuxkit-rules.cmdline.v1+text"),
    (".iso", "application/vnd.linuxkit-rules.iso9660.v1"),
    (".qcow2", "application/vnd.linuxkit-rules.disk.v1.qcow2"),
    (".raw", "application/vnd.linuxkit-rules.disk.v1.raw"),
    (".img", "application/vnd.linuxkit-rules.disk.v1.raw"),
    ("-docker.tar", "application/vnd.linuxkit-rules.docker-archive.v1.tar"),
    (".tar.gz", "application/vnd.linuxkit-rules.image.v1.tar+gzip"),
    (".tar", "application/vnd.linuxkit-rules.image.v1.tar"),
)


def artifact_media_type(filename: str) -> str:
    """What an image output is, by its `linuxkit build` file name."""
    for suffix, media_type in _ARTIFACT_TYPES:
        if filename.endswith(suffix):
            return media_type
    return "application/octet-stream"


def plan_from_files(paths: list[str], annotations: Mapping[str, str]) -> PushPlan:
    """One OCI artifact manifest: an empty config, one layer per file (titled by its
    name, typed by what it is), in the given order."""
    empty = b"{}"
    layers, blobs = [], [Blob(sha256_digest(empty), empty)]
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        digest = sha256_digest(data)
        blobs.append(Blob(digest, data))
        layers.append(
            {
                "mediaType": artifact_media_type(os.path.basename(path)),
                "digest": digest,
                "size": len(data),
                "annotations": {TITLE_ANNOTATION: os.path.basename(path)},
            }
        )
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": MEDIA_EMPTY, "digest": sha256_digest(empty), "size": len(empty)},
        "layers": layers,
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    unique = {b.digest: b for b in blobs}
    return PushPlan(tuple(unique.values()), (), MEDIA_MANIFEST, canonical_json(manifest))


@dataclass(frozen=True)
class PushManifest(Manifest):
    """`tool push`: a package's OCI layouts (one per architecture, pushed as one
    index) or an image's output files (one OCI artifact), to every target."""

    command = "push"

    address: str  # the target published, for messages
    targets: tuple[str, ...]  # REGISTRY/REPOSITORY:TAG references
    layouts: tuple[str, ...] | None = optional()
    files: tuple[str, ...] | None = optional()
    annotations: Mapping[str, str] | None = optional()  # of the files' artifact manifest
    insecure: tuple[str, ...] | None = optional()  # registries spoken to over plain HTTP

    def __post_init__(self) -> None:
        if (self.layouts is None) == (self.files is None):
            raise BadManifest(f"tool {self.command}: give one of `layouts` and `files`")


def push_command(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """Push a package's layouts (`layouts`) or an image's outputs (`files`) to `targets`."""
    m = PushManifest.from_json(manifest)
    if m.layouts is not None:
        opened = [open(p, "rb") for p in m.layouts]
        try:
            plan = plan_from_layouts([(f, p) for f, p in zip(opened, m.layouts)])
        finally:
            for f in opened:
                f.close()
    else:
        plan = plan_from_files(list(m.files or ()), m.annotations or {})
    if not m.targets:
        raise RegistryError(
            f"{m.address}: no registry to publish to; set `registries` on the target "
            "or [linuxkit].registries (--linuxkit-registries)"
        )
    targets = [parse_reference(t, f"{m.address}: publish target") for t in m.targets]
    results = push(plan, targets, os.environ, frozenset(m.insecure or ()))
    for r in results:
        print(f"pushed {r.reference}@{r.digest} ({r.uploaded} uploaded, {r.skipped} already there)")
    return {"digest": plan.digest, "results": [r.__dict__ for r in results]}


@dataclass(frozen=True)
class PullManifest(Manifest):
    """`tool pull`: one image, named by digest, for one architecture."""

    command = "pull"

    ref: str  # REGISTRY/REPOSITORY@sha256:...
    arch: str
    output: str  # the OCI layout tar to write
    address: str  # what asked for the image, for messages


def pull_command(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """Fetch `ref` (by digest) and write it as a single-image OCI layout tar at `output`."""
    m = PullManifest.from_json(manifest)
    ref = parse_reference(m.ref, f"{m.address}: base_image")
    image = pull(ref, os.environ, architecture=m.arch)
    descriptor = {
        "mediaType": image.manifest_media_type,
        "digest": image.digest,
        "size": len(image.manifest),
        "platform": {"architecture": m.arch, "os": "linux"},
    }
    tree = Tree()
    tree.add(Entry("oci-layout", "file", data=canonical_json({"imageLayoutVersion": "1.0.0"})))
    tree.add(
        Entry(
            "index.json",
            "file",
            data=canonical_json(
                {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [descriptor]}
            ),
        )
    )
    for blob in (Blob(image.digest, image.manifest), *image.blobs):
        algorithm, hexdigest = blob.digest.split(":", 1)
        tree.add(Entry(f"blobs/{algorithm}/{hexdigest}", "file", data=blob.data))
    buf = io.BytesIO()
    write_tar(tree.entries(), buf, int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    os.makedirs(os.path.dirname(m.output) or ".", exist_ok=True)
    with open(m.output, "wb") as f:
        f.write(buf.getvalue())
    return {"digest": image.digest, "blobs": len(image.blobs)}


def publish_targets(registries: list[str], repository: str, tags: list[str]) -> list[str]:
    """`REGISTRY[/PREFIX]/REPOSITORY:TAG` for every registry and tag, in order, without repeats."""
    out: list[str] = []
    for registry in registries:
        for tag in tags:
            target = f"{registry.rstrip('/')}/{repository}:{tag}"
            if target not in out:
                out.append(target)
    return out

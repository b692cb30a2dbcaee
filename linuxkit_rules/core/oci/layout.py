"""OCI image layout (image-spec v1.0) written and read as one tar stream.

The layout holds `oci-layout`, `index.json` with one manifest, and
`blobs/sha256/<hex>` for the manifest, the config and the gzip'd layers. Every
byte is a function of the layers, the config, the reference name and `mtime`.
"""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Sequence

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import gzip_writer, write_tar
from linuxkit_rules.core.errors import ArchiveError

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

# Media types read_oci_layout accepts (Docker's equivalents included, since
# tools such as skopeo may copy them verbatim into an OCI layout).
_INDEX_TYPES = (MEDIA_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json")
_MANIFEST_TYPES = (MEDIA_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
_GZIP_LAYERS = (MEDIA_LAYER_GZIP, "application/vnd.docker.image.rootfs.diff.tar.gzip")
_TAR_LAYERS = (MEDIA_LAYER_TAR, "application/vnd.docker.image.rootfs.diff.tar")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config. `labels` are sorted (key, value) pairs."""

    architecture: str = "amd64"
    os: str = "linux"
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OciImage:
    config: ImageConfig
    layers: tuple[bytes, ...]
    manifest_digest: str


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _rfc3339(mtime: int) -> str:
    when = datetime.datetime.fromtimestamp(mtime, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip_writer(buf) as gz:
        gz.write(data)
    return buf.getvalue()


def _config_json(config: ImageConfig, diff_ids: list[str], mtime: int) -> bytes:
    keys = [k for k, _ in config.labels]
    if len(set(keys)) != len(keys):
        raise ArchiveError(f"image config: duplicate label keys in {keys}")
    runtime: dict[str, Any] = {}
    if config.env:
        runtime["Env"] = list(config.env)
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        runtime["Cmd"] = list(config.cmd)
    if config.working_dir:
        runtime["WorkingDir"] = config.working_dir
    if config.user:
        runtime["User"] = config.user
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    return _json(
        {
            "architecture": config.architecture,
            "os": config.os,
            "created": _rfc3339(mtime),
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    )


def config_json(config: ImageConfig, diff_ids: list[str], mtime: int) -> bytes:
    """The image config document (as written into layouts) for layers with `diff_ids`."""
    return _config_json(config, diff_ids, mtime)


def write_oci_layout(
    layers: Sequence[bytes], config: ImageConfig, ref_name: str, fileobj: BinaryIO, mtime: int
) -> str:
    """Write an OCI image layout as one tar stream and return the manifest digest.

    `layers` are uncompressed layer tars, base first; they are stored gzip'd
    (deterministically). The config's `created` is `mtime` in RFC 3339, there is
    no history, and the index names the manifest with `ref_name`
    (org.opencontainers.image.ref.name). JSON is compact with sorted keys."""
    if not ref_name:
        raise ArchiveError("OCI layout: the reference name must not be empty")
    if not isinstance(mtime, int) or mtime < 0:
        raise ArchiveError(
            f"mtime {mtime!r} is not allowed; a non-negative integer (SOURCE_DATE_EPOCH)"
        )
    blobs: dict[str, bytes] = {}

    def blob(data: bytes, media_type: str) -> dict[str, Any]:
        digest = _sha256(data)
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    layer_descriptors = [blob(_gzip(layer), MEDIA_LAYER_GZIP) for layer in layers]
    diff_ids = [_sha256(layer) for layer in layers]
    config_descriptor = blob(_config_json(config, diff_ids, mtime), MEDIA_CONFIG)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config_descriptor,
            "layers": layer_descriptors,
        }
    )
    manifest_descriptor = blob(manifest, MEDIA_MANIFEST)
    manifest_descriptor["annotations"] = {REF_NAME_ANNOTATION: ref_name}
    manifest_descriptor["platform"] = {"architecture": config.architecture, "os": config.os}
    index = _json(
        {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [manifest_descriptor]}
    )

    tree = Tree()
    tree.add(Entry("oci-layout", "file", data=_json({"imageLayoutVersion": "1.0.0"})))
    tree.add(Entry("index.json", "file", data=index))
    for digest, data in blobs.items():
        algorithm, hexdigest = digest.split(":", 1)
        tree.add(Entry(f"blobs/{algorithm}/{hexdigest}", "file", data=data))
    write_tar(tree.entries(), fileobj, mtime)
    return str(manifest_descriptor["digest"])


def _load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ArchiveError(f"OCI layout: {what} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ArchiveError(f"OCI layout: {what} is not a JSON object")
    return value


def _verified_blobs(tree: Tree) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    for e in tree.entries():
        parts = e.path.split("/")
        if len(parts) != 3 or parts[0] != "blobs" or e.kind not in ("file", "hardlink"):
            continue
        if e.kind == "hardlink":
            target = tree.get(e.target)
            data = target.data if target is not None else b""
        else:
            data = e.data
        algorithm, hexdigest = parts[1], parts[2]
        if not _DIGEST_RE.match(f"{algorithm}:{hexdigest}"):
            raise ArchiveError(
                f"OCI layout: {e.path[:120]!r} is not named blobs/sha256/<64 lowercase hex>"
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != hexdigest:
            raise ArchiveError(f"OCI layout: blob {e.path} is corrupt: its {algorithm} is {actual}")
        blobs[f"{algorithm}:{hexdigest}"] = data
    return blobs


def _fetch(blobs: dict[str, bytes], descriptor: object, what: str) -> tuple[str, bytes]:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
        raise ArchiveError(f"OCI layout: {what} has no digest")
    digest = descriptor["digest"]
    if not _DIGEST_RE.match(digest):
        raise ArchiveError(
            f"OCI layout: {what} digest {digest[:80]!r} is not sha256:<64 lowercase hex>"
        )
    data = blobs.get(digest)
    if data is None:
        raise ArchiveError(f"OCI layout: {what} blob {digest} is missing")
    if "size" in descriptor and descriptor["size"] != len(data):
        raise ArchiveError(
            f"OCI layout: {what} blob {digest} has {len(data)} bytes, its descriptor says {descriptor['size']}"
        )
    return str(descriptor.get("mediaType", "")), data


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArchiveError(f"OCI layout: config {what} must be a list of strings")
    return tuple(value)


def _image_config(doc: dict[str, Any]) -> ImageConfig:
    runtime = doc.get("config") or {}
    if not isinstance(runtime, dict):
        raise ArchiveError("OCI layout: config.config must be an object")
    labels = runtime.get("Labels") or {}
    if not isinstance(labels, dict):
        raise ArchiveError("OCI layout: config Labels must be an object")
    return ImageConfig(
        architecture=str(doc.get("architecture", "")),
        os=str(doc.get("os", "")),
        env=_strings(runtime.get("Env"), "Env"),
        entrypoint=_strings(runtime.get("Entrypoint"), "Entrypoint"),
        cmd=_strings(runtime.get("Cmd"), "Cmd"),
        working_dir=str(runtime.get("WorkingDir") or ""),
        user=str(runtime.get("User") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )


# The most one layer may hold once decompressed: a small gzip stream can expand
# without bound, and layers are held in memory.
MAX_LAYER_BYTES = 4 * 1024 * 1024 * 1024


def _gunzip_limited(data: bytes, digest: str, limit: int | None = None) -> bytes:
    """Every gzip member of `data`, decompressed, refusing more than `limit` bytes of output."""
    limit = MAX_LAYER_BYTES if limit is None else limit
    out: list[bytes] = []
    total = 0
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            chunk = d.decompress(rest, limit - total + 1)
            while True:
                total += len(chunk)
                if total > limit:
                    raise ArchiveError(
                        f"OCI layout: layer {digest} decompresses to more than {limit} bytes"
                    )
                out.append(chunk)
                if d.eof or not d.unconsumed_tail:
                    break
                chunk = d.decompress(d.unconsumed_tail, limit - total + 1)
            if not d.eof:
                raise ArchiveError(
                    f"OCI layout: layer {digest} is not valid gzip: truncated stream"
                )
            rest = d.unused_data
    except zlib.error as e:
        raise ArchiveError(f"OCI layout: layer {digest} is not valid gzip: {e}") from None
    return b"".join(out)


def _decompress_layer(media_type: str, data: bytes, digest: str) -> bytes:
    if media_type in _TAR_LAYERS:
        return data
    if media_type in _GZIP_LAYERS:
        return _gunzip_limited(data, digest)
    raise ArchiveError(
        f"OCI layout: layer {digest} has media type {media_type!r}; "
        f"supported: {', '.join(_TAR_LAYERS + _GZIP_LAYERS)}"
    )


def read_oci_layout(fileobj: BinaryIO) -> OciImage:
    """Read a single-image OCI layout tar (such as write_oci_layout writes).

    Every blob's digest is checked (ArchiveError naming the blob on mismatch), as
    are descriptor sizes and the config's diff_ids against the uncompressed layers.
    A nested index is followed as long as each index holds exactly one entry."""
    tree = Tree()
    tree.add_tar(fileobj)
    if "oci-layout" not in tree or "index.json" not in tree:
        raise ArchiveError("OCI layout: missing oci-layout or index.json")
    index_entry = tree.get("index.json")
    assert index_entry is not None
    blobs = _verified_blobs(tree)
    doc = _load_json(index_entry.data, "index.json")
    what = "index.json"
    manifest_digest = ""
    for _ in range(8):  # nested indexes, bounded
        manifests = doc.get("manifests")
        if not isinstance(manifests, list) or len(manifests) != 1:
            count = len(manifests) if isinstance(manifests, list) else 0
            raise ArchiveError(f"OCI layout: {what} must list exactly one manifest, found {count}")
        media_type, data = _fetch(blobs, manifests[0], f"{what} entry")
        manifest_digest = manifests[0]["digest"]
        what = f"index {manifest_digest}"
        doc = _load_json(data, manifest_digest)
        media_type = media_type or str(doc.get("mediaType", ""))
        if media_type in _MANIFEST_TYPES:
            break
        if media_type not in _INDEX_TYPES:
            raise ArchiveError(
                f"OCI layout: {manifest_digest} has unsupported media type {media_type!r}"
            )
    else:
        raise ArchiveError("OCI layout: indexes nested too deeply")
    _, config_data = _fetch(blobs, doc.get("config"), "manifest config")
    config_doc = _load_json(config_data, "image config")
    layer_descriptors = doc.get("layers") or []
    if not isinstance(layer_descriptors, list):
        raise ArchiveError(f"OCI layout: manifest {manifest_digest} layers must be a list")
    layers = []
    for descriptor in layer_descriptors:
        media_type, data = _fetch(blobs, descriptor, "layer")
        layers.append(_decompress_layer(media_type, data, descriptor["digest"]))
    rootfs = config_doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    actual = [_sha256(layer) for layer in layers]
    if diff_ids != actual:
        raise ArchiveError(
            f"OCI layout: config diff_ids {diff_ids} do not match the layers {actual}"
        )
    return OciImage(
        config=_image_config(config_doc), layers=tuple(layers), manifest_digest=manifest_digest
    )


__all__ = ["ImageConfig", "OciImage", "config_json", "read_oci_layout", "write_oci_layout"]

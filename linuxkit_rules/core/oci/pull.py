"""Pulling one image by digest, every blob verified against the digest that names it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci.registry import (
    _DOCKER_MANIFEST,
    INDEX_TYPES,
    MEDIA_MANIFEST,
    Blob,
    Reference,
    RegistryClient,
    check_digest,
    sha256_digest,
)


@dataclass(frozen=True)
class PulledImage:
    """A single-platform image: its manifest bytes and every blob it names."""

    manifest_media_type: str
    manifest: bytes
    blobs: tuple[Blob, ...]  # config first, then layers in order

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def pull(
    ref: Reference, env: Mapping[str, str], os_name: str = "linux", architecture: str = "amd64"
) -> PulledImage:
    """Fetch the image `ref` names (it must carry a digest), picking `os/architecture`
    from an index. Every manifest and blob is verified against its digest."""
    if not ref.digest:
        raise RegistryError(
            f"base image {ref}: name it by digest (…@sha256:<hex>) so that builds are reproducible"
        )
    client = RegistryClient(ref.registry, env)
    media_type, body = client.get_manifest(ref.repository, ref.digest)
    for _ in range(4):
        if media_type not in INDEX_TYPES:
            break
        doc = _json_object(body, f"base image {ref}: index")
        entries = doc.get("manifests")
        if not isinstance(entries, list) or not all(isinstance(m, dict) for m in entries):
            raise RegistryError(
                f"base image {ref}: the index's manifests must be a list of objects"
            )
        choices = [
            m
            for m in entries
            if _platform(m).get("architecture") == architecture
            and _platform(m).get("os") == os_name
        ]
        if not choices:
            found = sorted(
                f"{_platform(m).get('os')}/{_platform(m).get('architecture')}" for m in entries
            )
            raise RegistryError(
                f"base image {ref}: no {os_name}/{architecture} entry; it has {found}"
            )
        child = choices[0]
        digest = check_digest(child.get("digest"), f"base image {ref}: index entry")
        media_type, body = client.get_manifest(ref.repository, digest, _size(child, ref))
    if media_type not in (MEDIA_MANIFEST, _DOCKER_MANIFEST):
        raise RegistryError(f"base image {ref}: unsupported manifest media type {media_type!r}")
    doc = _json_object(body, f"base image {ref}: manifest")
    layers = doc.get("layers") or []
    if not isinstance(layers, list):
        raise RegistryError(f"base image {ref}: the manifest's layers must be a list")
    descriptors = [doc.get("config"), *layers]
    blobs = []
    for d in descriptors:
        if not isinstance(d, dict):
            raise RegistryError(f"base image {ref}: a manifest descriptor is not an object")
        digest = check_digest(d.get("digest"), f"base image {ref}: manifest descriptor")
        blobs.append(Blob(digest, client.get_blob(ref.repository, digest, _size(d, ref))))
    return PulledImage(media_type, body, tuple(blobs))


def _platform(entry: dict[str, Any]) -> dict[str, Any]:
    platform = entry.get("platform")
    return platform if isinstance(platform, dict) else {}


def _size(descriptor: dict[str, Any], ref: Reference) -> int:
    size = descriptor.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise RegistryError(
            f"base image {ref}: descriptor {str(descriptor.get('digest'))[:80]!r} "
            f"has no valid size ({str(size)[:40]!r})"
        )
    return size


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise RegistryError(f"{what} is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return doc

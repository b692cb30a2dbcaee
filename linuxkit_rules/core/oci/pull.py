"""Pulling one image by digest, every blob verified against the digest that names it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci.registry import (
    _DOCKER_MANIFEST,
    INDEX_TYPES,
    MEDIA_MANIFEST,
    Blob,
    Reference,
    RegistryClient,
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
        doc = json.loads(body)
        choices = [
            m
            for m in doc.get("manifests", [])
            if (m.get("platform") or {}).get("architecture") == architecture
            and (m.get("platform") or {}).get("os") == os_name
        ]
        if not choices:
            found = sorted(
                f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
                for m in doc.get("manifests", [])
            )
            raise RegistryError(
                f"base image {ref}: no {os_name}/{architecture} entry; it has {found}"
            )
        media_type, body = client.get_manifest(ref.repository, choices[0]["digest"])
    if media_type not in (MEDIA_MANIFEST, _DOCKER_MANIFEST):
        raise RegistryError(f"base image {ref}: unsupported manifest media type {media_type!r}")
    doc = json.loads(body)
    descriptors = [doc["config"], *doc.get("layers", [])]
    blobs = []
    for d in descriptors:
        data = client.get_blob(ref.repository, d["digest"])
        if "size" in d and d["size"] != len(data):
            raise RegistryError(
                f"base image {ref}: blob {d['digest']} has {len(data)} bytes, expected {d['size']}"
            )
        blobs.append(Blob(d["digest"], data))
    return PulledImage(media_type, body, tuple(blobs))

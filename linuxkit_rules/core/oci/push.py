"""Pushing a set of images to a registry.

Each blob the registry does not already have is uploaded (HEAD first, then a
monolithic POST + PUT), then the manifests, and the tag last: a failure
part-way leaves only unreferenced blobs, never a tag that points at a partial
image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci.registry import Blob, Reference, RegistryClient, sha256_digest


@dataclass(frozen=True)
class PushPlan:
    """What one push sends: blobs, then (digest-addressed) manifests, then the top
    manifest under every tag."""

    blobs: tuple[Blob, ...]
    manifests: tuple[tuple[str, bytes], ...]  # (media type, bytes), by digest, children first
    top_media_type: str
    top: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.top)


@dataclass(frozen=True)
class PushResult:
    reference: str
    digest: str
    uploaded: int
    skipped: int


def push(
    plan: PushPlan,
    targets: list[Reference],
    env: Mapping[str, str],
    insecure: frozenset[str] = frozenset(),
) -> list[PushResult]:
    """Push `plan` under each target's tag. Blobs the registry has are not sent again;
    the tag goes up last. Every target is checked before anything is sent."""
    for t in targets:
        if not t.tag or t.digest:
            raise RegistryError(f"push target {t}: give a tag and no digest")
    results = []
    clients: dict[str, RegistryClient] = {}
    for target in targets:
        client = clients.setdefault(
            target.registry,
            RegistryClient(target.registry, env, insecure=target.registry in insecure),
        )
        uploaded = skipped = 0
        for blob in plan.blobs:
            if client.has_blob(target.repository, blob.digest):
                skipped += 1
            else:
                client.upload_blob(target.repository, blob.digest, blob.data)
                uploaded += 1
        for media_type, data in plan.manifests:
            digest = sha256_digest(data)
            if client.has_manifest(target.repository, digest, digest):
                skipped += 1
            else:
                client.put_manifest(target.repository, digest, media_type, data)
                uploaded += 1
        if client.has_manifest(target.repository, target.tag, plan.digest):
            skipped += 1
        else:
            client.put_manifest(target.repository, target.tag, plan.top_media_type, plan.top)
            uploaded += 1
        results.append(PushResult(str(target), plan.digest, uploaded, skipped))
    return results

"""Image references in a YAML (`linuxkit/sshd:v1.0`, `//pkg/sshd`) mapped to Pants addresses."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


def linuxkit_ref_to_address(ref: str, org_map: Mapping[str, str]) -> str | None:
    """Map an image reference to a Pants address, or None when it is neither.

    "linuxkit/sshd:v1.0" -> "//pkg/sshd" with org_map {"linuxkit": "pkg"} (tag or
    digest dropped); "//pkg/sshd", "pkg/sshd:sshd" -> returned as they are;
    "alpine:3.19", "docker.io/library/alpine", "quay.io/x/y" -> None.
    """
    if ref.startswith("//"):
        return ref
    name, at, _ = ref.partition("@")
    first, slash, rest = name.partition("/")
    if not slash or not first or not rest:
        return None  # "alpine:3.19": a Docker Hub library image
    if "." in first or ":" in first or first == "localhost":
        return None  # a registry host
    if first in org_map:
        repo = rest.split(":", 1)[0]
        if not repo or "/" in repo:
            return None
        base = org_map[first].strip("/")
        return f"//{base}/{repo}" if base else f"//{repo}"
    if at:
        return None
    return ref


def split_reference(ref: str) -> tuple[str, str, str]:
    """`redis:4.0.5-alpine` -> ("redis", "4.0.5-alpine", ""); `a/b@sha256:..` ->
    ("a/b", "", "sha256:.."); a registry port (`host:5000/x`) is not a tag."""
    name, _, digest = ref.partition("@")
    repo, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "", digest
    return repo, tag, digest


IMAGE_MAP_OPTION = "[linuxkit].image_map"
KERNEL_OPTION = "[linuxkit].kernel_image"


class MapEntryError(ValueError):
    """A `[linuxkit].image_map` entry that is malformed."""


def check_image_map(image_map: Mapping[str, str]) -> None:
    """Keys are an exact reference (`busybox`, `redis:4.0.5-alpine`) or a name with
    any tag (`redis:*`); values are Pants addresses (`//pkg/redis`)."""
    for key, target in image_map.items():
        repo = key[:-2] if key.endswith(":*") else key
        if not repo or "*" in repo or repo.startswith("//"):
            raise MapEntryError(
                f"{IMAGE_MAP_OPTION}: key {key!r}: use an exact image reference "
                "(`busybox`, `redis:4.0.5-alpine`) or a name with any tag (`redis:*`)"
            )
        if not target.startswith("//") and not target.startswith(":"):
            raise MapEntryError(
                f"{IMAGE_MAP_OPTION}: {key!r} = {target!r}: the value must be a target "
                "address such as `//pkg/redis`"
            )


def map_outside_image(ref: str, image_map: Mapping[str, str]) -> tuple[str, str] | None:
    """The (key, target) of the `image_map` entry for `ref`: the exact reference wins
    over `name:*`, which matches the name with any tag or digest (not the bare name)."""
    if ref in image_map:
        return ref, image_map[ref]
    repo, tag, digest = split_reference(ref)
    wildcard = f"{repo}:*"
    if (tag or digest) and wildcard in image_map:
        return wildcard, image_map[wildcard]
    return None


def is_linuxkit_kernel(ref: str, org_map: Mapping[str, str]) -> bool:
    """`linuxkit/kernel:6.12.59` (any tag or digest, any org of `org_map`)."""
    repo = split_reference(ref)[0]
    org, slash, name = repo.partition("/")
    return bool(slash) and org in org_map and name == "kernel"


@dataclass(frozen=True)
class RefMaps:
    """How YAML image references become Pants addresses."""

    orgs: Mapping[str, str]
    image_map: Mapping[str, str] = field(default_factory=dict)
    kernel_image: str = ""

    def address(self, ref: str) -> tuple[str | None, str]:
        """The address spec for `ref` (None if unmapped) and, when a map chose it,
        the map entry that did (for the build's log line), else ""."""
        if self.kernel_image and is_linuxkit_kernel(ref, self.orgs):
            return self.kernel_image, KERNEL_OPTION
        hit = map_outside_image(ref, self.image_map)
        if hit is not None:
            return hit[1], f"{IMAGE_MAP_OPTION} {hit[0]!r}"
        return linuxkit_ref_to_address(ref, self.orgs), ""

    def is_outside(self, ref: str) -> bool:
        """Not a LinuxKit name nor an address: an image only `image_map` can map."""
        return linuxkit_ref_to_address(ref, self.orgs) is None


# LinuxKit images this repository has no package for, by repository name, and what to do.
NOT_IN_CATALOGUE: Mapping[str, str] = {
    "kernel": (
        "LinuxKit's kernel images are not built here; kernels are targets (//kernel:linux, "
        "//kernel:debian...): set [linuxkit].kernel_image in pants.toml, or "
        '`kernel="//kernel:debian"` on the linuxkit_image target'
    ),
}


def missing_image_hint(ref: str, org_map: Mapping[str, str]) -> str:
    """Why a LinuxKit image named in a YAML has no target here, when it is a known case."""
    name = ref.partition("@")[0]
    first, slash, rest = name.partition("/")
    if slash and first in org_map:
        return NOT_IN_CATALOGUE.get(rest.split(":", 1)[0], "")
    return ""

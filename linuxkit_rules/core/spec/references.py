"""Image references in a YAML (`linuxkit/sshd:v1.0`, `//pkg/sshd`) mapped to Pants addresses."""
from __future__ import annotations

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


# LinuxKit images this repository has no package for, by repository name, and what to do.
NOT_IN_CATALOGUE: Mapping[str, str] = {
    "kernel": (
        "LinuxKit's kernel images are not built here; kernels are targets (//kernel:debian, "
        '//kernel:linux...): keep the YAML and set `kernel="//kernel:debian"` on the linuxkit_image target'
    ),
    "containerd": (
        "there is no containerd here: pkg/init runs onboot containers and services with runc "
        "itself, so remove it from `init`"
    ),
    "rngd": (
        "there is no rngd package: the kernel feeds virtio-rng entropy to its pool itself "
        "(docs/yaml.md, 'No rngd package'), so remove the rngd entries"
    ),
}


def missing_image_hint(ref: str, org_map: Mapping[str, str]) -> str:
    """Why a LinuxKit image named in a YAML has no target here, when it is a known case."""
    name = ref.partition("@")[0]
    first, slash, rest = name.partition("/")
    if slash and first in org_map:
        return NOT_IN_CATALOGUE.get(rest.split(":", 1)[0], "")
    return ""

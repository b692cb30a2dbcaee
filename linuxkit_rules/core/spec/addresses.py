"""Pants address strings as they appear in image YAMLs, without Pants."""
from __future__ import annotations

import posixpath


def normalize_address(spec: str, relative_to: str = "") -> str | None:
    """`//pkg/sshd` -> `pkg/sshd:sshd`; `:kernel` relative to `images` -> `images:kernel`.

    Returns None when `spec` is not shaped like a Pants address (an image
    reference such as `alpine:3.19` or `linuxkit/sshd:v1.0`).
    """
    if spec.startswith("//"):
        body = spec[2:]
    elif spec.startswith(":"):
        body = f"{relative_to}{spec}"
    else:
        return None
    path, _, name = body.partition(":")
    path = posixpath.normpath(path) if path else ""
    if path in (".", ""):
        path = ""
    if path.startswith(".."):
        return None
    if not name:
        name = posixpath.basename(path)
    if not name:
        return None
    return f"{path}:{name}"

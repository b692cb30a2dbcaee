"""Image references mapped to Pants addresses."""
from __future__ import annotations

import pytest

from linuxkit_rules.core.spec.references import linuxkit_ref_to_address


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("linuxkit/sshd:v1.0", "//pkg/sshd"),
        ("linuxkit/sshd", "//pkg/sshd"),
        ("linuxkit/sshd@sha256:" + "a" * 64, "//pkg/sshd"),
        ("linuxkit/sshd:v1@sha256:" + "a" * 64, "//pkg/sshd"),
        ("//pkg/sshd", "//pkg/sshd"),
        ("pkg/sshd:sshd", "pkg/sshd:sshd"),
        ("//kernel:debian", "//kernel:debian"),
        ("alpine:3.19", None),
        ("docker.io/linuxkit/sshd:v1", None),
        ("localhost:5000/linuxkit/sshd:v1", None),
        ("library/alpine@sha256:" + "b" * 64, None),
        ("linuxkit/a/b:1", None),
    ],
)
def test_linuxkit_ref_to_address(ref: str, expected: str | None) -> None:
    assert linuxkit_ref_to_address(ref, {"linuxkit": "pkg"}) == expected


def test_ref_mapping_to_repo_root() -> None:
    assert linuxkit_ref_to_address("acme/tool:1", {"acme": ""}) == "//tool"

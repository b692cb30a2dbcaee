from __future__ import annotations

import pytest

from linuxkit_rules.core.spec.addresses import normalize_address


@pytest.mark.parametrize(
    "spec,relative_to,expected",
    [
        ("//pkg/sshd", "", "pkg/sshd:sshd"),
        ("//pkg/sshd:sshd", "", "pkg/sshd:sshd"),
        ("//kernel:debian", "images", "kernel:debian"),
        (":kernel", "images", "images:kernel"),
        ("//pkg/a/../b", "", "pkg/b:b"),
        ("linuxkit/sshd:v1.0", "", None),
        ("alpine:3.19", "", None),
        ("//../x", "", None),
    ],
)
def test_normalize_address(spec: str, relative_to: str, expected: str | None) -> None:
    assert normalize_address(spec, relative_to) == expected

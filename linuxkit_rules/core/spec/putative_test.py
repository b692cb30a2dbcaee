"""Choosing image YAMLs for `pants tailor`."""
from __future__ import annotations

import pytest

from linuxkit_rules.core.spec.putative import is_image_yaml, target_name


@pytest.mark.parametrize(
    "text,expected",
    [
        ("kernel:\n  image: linuxkit/kernel:6.12.59\ninit: [linuxkit/init:v1]\n", True),
        ("onboot:\n  - name: x\n    image: busybox\n", True),
        ("image: sshd\norg: linuxkit\nconfig: {}\n", False),  # a package's build.yml
        ("version: '3'\nservices:\n  web: {}\nimage: x\n", False),
        ("- a\n- b\n", False),
        ("key: [unclosed\n", False),
        ("name: x\nvalue: 1\n", False),
    ],
)
def test_is_image_yaml(text: str, expected: bool) -> None:
    assert is_image_yaml(text) is expected


def test_target_name_is_the_file_stem() -> None:
    assert target_name("redis-os.yml") == "redis-os"
    assert target_name("platform-equinixmetal.arm64.yml") == "platform-equinixmetal.arm64"

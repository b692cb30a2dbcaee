"""Image references mapped to Pants addresses."""
from __future__ import annotations

import pytest

from linuxkit_rules.core.spec.references import (
    MapEntryError,
    RefMaps,
    check_image_map,
    is_linuxkit_kernel,
    linuxkit_ref_to_address,
    map_outside_image,
    split_reference,
)


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


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("redis", ("redis", "", "")),
        ("redis:4.0.5-alpine", ("redis", "4.0.5-alpine", "")),
        ("localhost:5000/x", ("localhost:5000/x", "", "")),
        ("localhost:5000/x:1", ("localhost:5000/x", "1", "")),
        ("a/b@sha256:" + "c" * 64, ("a/b", "", "sha256:" + "c" * 64)),
    ],
)
def test_split_reference(ref: str, expected: tuple[str, str, str]) -> None:
    assert split_reference(ref) == expected


MAP = {"busybox": "//pkg/busybox", "redis:*": "//pkg/redis", "redis:7": "//pkg/redis7"}


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("busybox", ("busybox", "//pkg/busybox")),
        ("busybox:latest", None),  # only "busybox:*" would match a tag
        ("redis:4.0.5-alpine", ("redis:*", "//pkg/redis")),
        ("redis@sha256:" + "d" * 64, ("redis:*", "//pkg/redis")),
        ("redis:7", ("redis:7", "//pkg/redis7")),  # the exact key wins
        ("redis", None),
        ("nginx:1.19", None),
    ],
)
def test_map_outside_image(ref: str, expected: tuple[str, str] | None) -> None:
    assert map_outside_image(ref, MAP) == expected


@pytest.mark.parametrize(
    "entry,fragment",
    [
        ({"redis*": "//pkg/redis"}, "key 'redis*'"),
        ({":*": "//pkg/redis"}, "key ':*'"),
        ({"redis:*": "redis"}, "must be a target address"),
    ],
)
def test_bad_map_entries_name_the_option(entry: dict[str, str], fragment: str) -> None:
    with pytest.raises(MapEntryError) as exc:
        check_image_map(entry)
    assert "[linuxkit].image_map" in str(exc.value) and fragment in str(exc.value)


def test_ref_maps_kernel_first_then_image_map_then_orgs() -> None:
    maps = RefMaps({"linuxkit": "pkg"}, MAP, "//kernel:linux")
    assert maps.address("linuxkit/kernel:6.12.59") == ("//kernel:linux", "[linuxkit].kernel_image")
    assert maps.address("linuxkit/kernel@sha256:" + "e" * 64)[0] == "//kernel:linux"
    assert maps.address("redis:4") == ("//pkg/redis", "[linuxkit].image_map 'redis:*'")
    assert maps.address("linuxkit/sshd:v1") == ("//pkg/sshd", "")
    assert maps.address("alpine:3.13") == (None, "")
    assert maps.is_outside("alpine:3.13") and not maps.is_outside("linuxkit/rngd:1")
    no_kernel = RefMaps({"linuxkit": "pkg"}, MAP, "")
    assert no_kernel.address("linuxkit/kernel:6.12.59") == ("//pkg/kernel", "")
    assert is_linuxkit_kernel("linuxkit/kernel", {"linuxkit": "pkg"})
    assert not is_linuxkit_kernel("acme/kernel:1", {"linuxkit": "pkg"})

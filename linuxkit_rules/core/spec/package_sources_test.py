from __future__ import annotations

import pytest

from linuxkit_rules.core.spec.package_sources import PackageSourcesError, split_package_sources

FILES = ["pkg/a/rootfs/etc/x", "pkg/a/build.yml", "pkg/a/rootfs/usr/bin/y"]


def test_roles() -> None:
    s = split_package_sources("pkg/a:a", "pkg/a", FILES, "build.yml", None)
    assert s.build_yml == "pkg/a/build.yml"
    assert s.dockerfile is None
    assert s.rootfs == ("pkg/a/rootfs/etc/x", "pkg/a/rootfs/usr/bin/y")


def test_package_at_the_root() -> None:
    s = split_package_sources("//:a", "", ["build.yml", "rootfs/f"], "build.yml", None)
    assert (s.build_yml, s.rootfs) == ("build.yml", ("rootfs/f",))


def test_other_build_yml_name() -> None:
    s = split_package_sources(
        "pkg/a:a", "pkg/a", ["pkg/a/alt.yml", "pkg/a/rootfs/f"], "alt.yml", None
    )
    assert s.build_yml == "pkg/a/alt.yml"


def test_missing_build_yml_names_field_value_and_sources() -> None:
    with pytest.raises(PackageSourcesError) as e:
        split_package_sources("pkg/a:a", "pkg/a", ["pkg/a/rootfs/f"], "build.yml", None)
    msg = str(e.value)
    assert "pkg/a:a" in msg and "`build_yml`" in msg and "'build.yml'" in msg
    assert "['rootfs/f']" in msg and "pkg/a/build.yml" in msg


def test_stray_file_without_dockerfile_is_an_error() -> None:
    with pytest.raises(
        PackageSourcesError,
        match=r"pkg/a/Dockerfile is in the target's `sources`.*set `dockerfile`",
    ):
        split_package_sources("pkg/a:a", "pkg/a", [*FILES, "pkg/a/Dockerfile"], "build.yml", None)


def test_dockerfile_package_takes_any_file_as_context() -> None:
    files = [*FILES, "pkg/a/Dockerfile", "pkg/a/src/main.c"]
    s = split_package_sources("pkg/a:a", "pkg/a", files, "build.yml", "Dockerfile")
    assert s.dockerfile == "pkg/a/Dockerfile"
    assert s.rootfs == ("pkg/a/rootfs/etc/x", "pkg/a/rootfs/usr/bin/y")


def test_dockerfile_not_in_sources() -> None:
    with pytest.raises(PackageSourcesError, match=r"`dockerfile` field is 'docker/Dockerfile'"):
        split_package_sources("pkg/a:a", "pkg/a", FILES, "build.yml", "docker/Dockerfile")


def test_rootfs_prefix_is_the_package_directory() -> None:
    # pkg/a's sources never include another package's rootfs, but a file named
    # like one must not pass as this package's rootfs.
    with pytest.raises(PackageSourcesError, match="pkg/a/sub/rootfs/f"):
        split_package_sources(
            "pkg/a:a", "pkg/a", ["pkg/a/build.yml", "pkg/a/sub/rootfs/f"], "build.yml", None
        )

from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from linuxkit_rules.target_types import (
    LinuxkitImageDiskSizeField,
    LinuxkitImageTestDiskSizeField,
    LinuxkitPackageSymlinksField,
)

ADDR = Address("images", target_name="sshd")


@pytest.mark.parametrize("field", [LinuxkitImageDiskSizeField, LinuxkitImageTestDiskSizeField])
def test_disk_size_takes_a_size_string_or_mib(field: type) -> None:
    assert field(None, ADDR).value is None
    assert field("2G", ADDR).value == 2 << 30
    assert field("512M", ADDR).value == 512 << 20
    assert field(512, ADDR).value == 512 << 20
    with pytest.raises(InvalidFieldException, match="positive number of MiB"):
        field(0, ADDR)
    with pytest.raises(InvalidFieldException, match="is not a size"):
        field("two gigs", ADDR)
    with pytest.raises(InvalidFieldException, match="must be a size"):
        field(True, ADDR)


def test_image_disk_size_is_whole_mib_and_test_disk_takes_bytes() -> None:
    assert LinuxkitImageDiskSizeField("1G", ADDR).mib == 1024
    assert LinuxkitImageDiskSizeField(None, ADDR).mib is None
    with pytest.raises(InvalidFieldException, match="whole number of MiB"):
        LinuxkitImageDiskSizeField("1536K", ADDR)
    assert LinuxkitImageTestDiskSizeField("1049088", ADDR).value == 1049088


def test_symlinks_are_relative_paths_to_a_target() -> None:
    assert dict(LinuxkitPackageSymlinksField({"bin/sh": "busybox"}, ADDR).value or {}) == {
        "bin/sh": "busybox"
    }
    assert LinuxkitPackageSymlinksField(None, ADDR).value is None
    for bad in ({"/bin/sh": "busybox"}, {"bin/../../x": "y"}, {"bin//sh": "y"}, {"bin/sh": ""}):
        with pytest.raises(InvalidFieldException, match="`symlinks` field of images:sshd"):
            LinuxkitPackageSymlinksField(bad, ADDR)


def test_initrd_compression_is_gzip_or_none() -> None:
    from pants.engine.target import InvalidFieldChoiceException

    from linuxkit_rules.target_types import LinuxkitImageInitrdCompressionField

    assert LinuxkitImageInitrdCompressionField(None, ADDR).value == "gzip"
    assert LinuxkitImageInitrdCompressionField("none", ADDR).value == "none"
    with pytest.raises(
        InvalidFieldChoiceException, match=r"initrd_compression.*'gzip', 'none'.*'zstd'"
    ):
        LinuxkitImageInitrdCompressionField("zstd", ADDR)

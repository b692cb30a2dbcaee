from __future__ import annotations

import json

import pytest

from linuxkit_rules.core.manifest import BadManifest
from linuxkit_rules.core.media.firmware import OvmfManifest
from linuxkit_rules.core.media.image_build import ImageManifest


def test_round_trip_through_json_text() -> None:
    m = ImageManifest(
        name="sshd",
        yaml=("images/sshd.yml",),
        refs={"//pkg/sshd": {"path": "pkg.sshd/sshd.oci.tar"}},
        formats=("kernel+initrd", "iso-efi"),
        files_present=(),
        disk_size_mib=512,
        sbom={"output": "sshd.spdx.json", "components": [{"name": "a", "debs": []}]},
    )
    text = json.dumps(m.to_json(), sort_keys=True)
    assert json.loads(text)["formats"] == ["kernel+initrd", "iso-efi"]
    assert ImageManifest.from_json(json.loads(text)) == m


def test_unknown_and_missing_keys_name_the_command() -> None:
    with pytest.raises(BadManifest, match=r"tool ovmf: unknown manifest keys \['extra'\]"):
        OvmfManifest.from_json({"deb": "a.deb", "output": "ovmf", "extra": 1})
    with pytest.raises(BadManifest, match="tool ovmf: .*output"):
        OvmfManifest.from_json({"deb": "a.deb"})
    assert OvmfManifest("a.deb", "ovmf").command == "ovmf"

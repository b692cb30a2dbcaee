from __future__ import annotations

from pathlib import Path

import pytest

from linuxkit_rules.core.boot.boottest import BootTestFailed, BootTestManifest, boot_config


def test_boot_config_follows_the_manifest(tmp_path: Path) -> None:
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"")
    m = BootTestManifest.from_json(
        {"format": "iso-bios", "media": "cdrom", "memory": 512, "image_file": str(iso)}
    )
    cfg = boot_config(m, str(tmp_path), None)
    assert cfg.cdrom == str(iso) and cfg.memory_mb == 512
    with pytest.raises(BootTestFailed, match="'raw-bios': the boot test has no image_file"):
        boot_config(BootTestManifest("raw-bios", "disk", 512), str(tmp_path), None)
    with pytest.raises(BootTestFailed, match="'tar' does not boot by itself"):
        boot_config(BootTestManifest("tar", "none", 512, image_file=str(iso)), str(tmp_path), None)

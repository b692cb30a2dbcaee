from __future__ import annotations

import json

from linuxkit_rules.core.reports.image_report import (
    ImageSnapshot,
    compare_images,
    config_lines,
    dump_report,
    format_table,
    packages_from_spdx,
)
from linuxkit_rules.core.reports.sbom import SbomComponent, spdx_document

CONFIG_A = "# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\n"
CONFIG_B = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=y\n"


def sbom(ssh_version: str, extra: bool = False) -> dict:
    debs = [
        {
            "name": "openssh-server",
            "version": ssh_version,
            "architecture": "amd64",
            "sha256": "a" * 64,
            "source": "openssh",
        }
    ]
    if extra:
        debs.append(
            {
                "name": "curl",
                "version": "7.88",
                "architecture": "amd64",
                "sha256": "b" * 64,
                "source": "curl",
            }
        )
    comp = {
        "kind": "package",
        "address": "pkg/sshd:sshd",
        "name": "linuxkit/sshd",
        "version": "tag1",
        "debs": debs,
    }
    return spdx_document("sshd", [SbomComponent.from_json(comp)], 0)


def test_packages_config_cmdline_and_digests() -> None:
    before = ImageSnapshot(
        packages_from_spdx(sbom("9.2")),
        config_lines(CONFIG_A),
        "console=ttyS0",
        {"sshd-initrd.img": "1" * 64},
    )
    after = ImageSnapshot(
        packages_from_spdx(sbom("9.3", extra=True)),
        config_lines(CONFIG_B),
        "console=ttyS0 quiet",
        {"sshd-initrd.img": "2" * 64},
    )
    r = compare_images(before, after)
    assert r["status"] == "changed"
    assert r["packages"]["added"] == {"deb:curl": "7.88"}
    assert r["packages"]["changed"] == {"deb:openssh-server": {"before": "9.2", "after": "9.3"}}
    assert r["packages"]["removed"] == {}
    assert r["kernel_config"] == {
        "CONFIG_B": {"before": "m", "after": "y"},
        "CONFIG_C": {"before": "is not set", "after": "y"},
    }
    assert r["cmdline"] == {"before": "console=ttyS0", "after": "console=ttyS0 quiet"}
    assert r["digests"]["sshd-initrd.img"]["after"] == "2" * 64
    table = format_table({"sshd": r})
    assert "package changed  deb:openssh-server  9.2" in table
    assert "222222222222" in table and "2" * 64 not in table
    assert json.loads(dump_report({"sshd": r}))["images"]["sshd"]["status"] == "changed"


def test_unchanged_added_removed() -> None:
    snap = ImageSnapshot(packages_from_spdx(sbom("9.2")), (), "x", {"f": "0" * 64})
    assert compare_images(snap, snap)["status"] == "unchanged"
    assert compare_images(None, snap) == {"status": "added"}
    assert compare_images(snap, None) == {"status": "removed"}
    assert "removed" in format_table({"old": {"status": "removed"}})


def test_output_names_of_parametrized_images() -> None:
    from linuxkit_rules.core.reports.image_report import is_output_of, output_name

    assert output_name("images:sshd") == ("sshd", "")
    assert output_name("//images:sshd@arch=amd64") == ("sshd", "")
    assert output_name("images:sshd@arch=arm64") == ("sshd-arm64", "-arm64")
    assert is_output_of("sshd-kernel", "sshd") and is_output_of("sshd.tar", "sshd")
    assert is_output_of("sshd.spdx.json", "sshd")
    assert not is_output_of("sshd-arm64-kernel", "sshd") and not is_output_of(
        "sshd-arm64.tar", "sshd"
    )
    assert is_output_of("sshd-arm64-kernel", "sshd-arm64") and is_output_of(
        "sshd-arm64.spdx.json", "sshd-arm64"
    )
    assert not is_output_of("sshdx-kernel", "sshd")

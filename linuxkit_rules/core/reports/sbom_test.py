from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from linuxkit_rules.core.reports.sbom import SbomComponent, spdx_document, validate_spdx, write_sbom

LIBC = {
    "name": "libc6",
    "version": "2.36-9+deb12u10",
    "architecture": "amd64",
    "sha256": "a" * 64,
    "source": "glibc",
    "suite": "bookworm",
}
SSH = {
    "name": "openssh-server",
    "version": "1:9.2p1-2+deb12u7",
    "architecture": "amd64",
    "sha256": "b" * 64,
    "source": "openssh",
    "suite": "bookworm-security",
}
COMPONENTS: list[dict[str, Any]] = [
    {
        "kind": "package",
        "address": "pkg/sshd:sshd",
        "name": "linuxkit/sshd",
        "version": "0123abcd",
        "debs": [SSH, LIBC],
    },
    {
        "kind": "package",
        "address": "pkg/init:init",
        "name": "linuxkit/init",
        "version": "4567ef",
        "debs": [LIBC],
    },
    {
        "kind": "kernel",
        "address": "kernel:debian",
        "name": "linux-image-6.1.0-56-amd64",
        "version": "6.1.0-56-amd64",
        "debs": [],
    },
]


def test_document_has_every_package_and_required_fields(tmp_path: Path) -> None:
    out = tmp_path / "sshd.spdx.json"
    count = write_sbom(str(out), "sshd", COMPONENTS, 1704067200)
    doc = json.loads(out.read_text())
    assert validate_spdx(doc) == []
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["dataLicense"] == "CC0-1.0"
    assert doc["creationInfo"]["created"] == "2024-01-01T00:00:00Z"
    assert doc["documentNamespace"].startswith("https://") and "sshd-" in doc["documentNamespace"]
    # image + 3 components + 2 distinct debs (libc6 appears once)
    assert count == 6 == len(doc["packages"])
    by_name = {p["name"]: p for p in doc["packages"]}
    ssh = by_name["openssh-server"]
    assert ssh["versionInfo"] == "1:9.2p1-2+deb12u7"
    assert ssh["checksums"] == [{"algorithm": "SHA256", "checksumValue": "b" * 64}]
    assert "openssh" in ssh["sourceInfo"]
    assert ssh["externalRefs"][0]["referenceLocator"] == (
        "pkg:deb/debian/openssh-server@1%3A9.2p1-2%2Bdeb12u7?arch=amd64&distro=debian-bookworm-security"
    )
    assert by_name["linuxkit/sshd"]["versionInfo"] == "0123abcd"
    contains = {
        (r["spdxElementId"], r["relatedSpdxElement"])
        for r in doc["relationships"]
        if r["relationshipType"] == "CONTAINS"
    }
    libc_id = by_name["libc6"]["SPDXID"]
    assert (by_name["linuxkit/sshd"]["SPDXID"], libc_id) in contains
    assert (by_name["linuxkit/init"]["SPDXID"], libc_id) in contains


def test_byte_reproducible_and_order_independent(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_sbom(str(a), "sshd", COMPONENTS, 1704067200)
    write_sbom(str(b), "sshd", list(reversed(COMPONENTS)), 1704067200)
    assert a.read_bytes() == b.read_bytes()


def test_namespace_changes_with_content() -> None:
    one = spdx_document("sshd", [SbomComponent.from_json(c) for c in COMPONENTS], 0)
    two = spdx_document("sshd", [SbomComponent.from_json(c) for c in COMPONENTS[1:]], 0)
    assert one["documentNamespace"] != two["documentNamespace"]


def test_validate_reports_missing_fields() -> None:
    problems = validate_spdx(
        {"spdxVersion": "SPDX-2.2", "packages": [{"SPDXID": "bad id", "name": "x"}]}
    )
    text = "\n".join(problems)
    assert "missing document field documentNamespace" in text
    assert "spdxVersion" in text
    assert "missing downloadLocation" in text
    assert "SPDXID 'bad id'" in text

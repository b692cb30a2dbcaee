"""An image's software bill of materials as an SPDX 2.3 JSON document.

The image rule knows, for each project package and kernel the YAML names,
the locked Debian packages it was built from; `spdx_document` turns that into
SPDX. The document is a function of its inputs only: the creation time is
SOURCE_DATE_EPOCH, the namespace is derived from a hash of the content, and
every list is sorted, so two builds write the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from linuxkit_rules.core.errors import LinuxkitError

SPDX_VERSION = "SPDX-2.3"
NAMESPACE_BASE = "https://linuxkit-rules.invalid/spdx"
CREATOR = "Tool: linuxkit-rules"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


class SbomError(LinuxkitError):
    pass


@dataclass(frozen=True)
class SbomDeb:
    """A locked Debian package, as the lock describes it."""

    name: str
    version: str
    architecture: str
    sha256: str
    source: str
    suite: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SbomDeb:
        return cls(
            name=raw["name"],
            version=raw["version"],
            architecture=raw["architecture"],
            sha256=raw["sha256"],
            source=raw.get("source") or raw["name"],
            suite=raw.get("suite", ""),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "sha256": self.sha256,
            "source": self.source,
            "suite": self.suite,
        }

    @property
    def purl(self) -> str:
        # Package URL for Debian (purl-spec "deb" type); "+" and ":" are percent-encoded.
        version = self.version.replace("%", "%25").replace("+", "%2B").replace(":", "%3A")
        qualifiers = f"arch={self.architecture}"
        if self.suite:
            qualifiers += f"&distro=debian-{self.suite}"
        return f"pkg:deb/debian/{self.name}@{version}?{qualifiers}"


@dataclass(frozen=True)
class SbomComponent:
    """A project package or kernel the image contains."""

    kind: str  # "package" or "kernel"
    address: str  # Pants address, e.g. "pkg/sshd:sshd"
    name: str  # e.g. "linuxkit/sshd" or the kernel package name
    version: str  # the package tag or the kernel version
    debs: tuple[SbomDeb, ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SbomComponent:
        if raw.get("kind") not in ("package", "kernel"):
            raise SbomError(
                f"SBOM component {raw.get('address')!r}: kind {raw.get('kind')!r}; allowed: package, kernel"
            )
        return cls(
            kind=raw["kind"],
            address=raw["address"],
            name=raw["name"],
            version=raw["version"],
            debs=tuple(SbomDeb.from_json(d) for d in raw.get("debs", ())),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.address,
            "name": self.name,
            "version": self.version,
            "debs": [d.to_json() for d in self.debs],
        }


def spdx_id(kind: str, *parts: str) -> str:
    """A valid, stable SPDX identifier (letters, digits, '.', '-') for `parts`."""
    readable = _ID_UNSAFE.sub("-", "-".join(parts))
    short = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
    return f"SPDXRef-{kind}-{readable}-{short}"


def _created(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def spdx_document(image: str, components: Sequence[SbomComponent], epoch: int) -> dict[str, Any]:
    """The SPDX 2.3 document for image `image` made of `components`."""
    image_id = spdx_id("Image", image)
    packages: dict[str, dict[str, Any]] = {
        image_id: {
            "SPDXID": image_id,
            "name": image,
            "versionInfo": "NOASSERTION",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "comment": "LinuxKit image built by linuxkit-rules",
        }
    }
    relationships: set[tuple[str, str, str]] = {("SPDXRef-DOCUMENT", "DESCRIBES", image_id)}
    for c in sorted(components, key=lambda c: (c.kind, c.address)):
        cid = spdx_id("Kernel" if c.kind == "kernel" else "Package", c.address)
        packages[cid] = {
            "SPDXID": cid,
            "name": c.name,
            "versionInfo": c.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": "OPERATING-SYSTEM" if c.kind == "kernel" else "CONTAINER",
            "comment": f"{c.kind} built from the Pants target //{c.address}",
        }
        relationships.add((image_id, "CONTAINS", cid))
        for d in c.debs:
            did = spdx_id("Deb", d.name, d.version, d.architecture)
            packages[did] = {
                "SPDXID": did,
                "name": d.name,
                "versionInfo": d.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "primaryPackagePurpose": "LIBRARY",
                "sourceInfo": f"built from the Debian source package {d.source}",
                "checksums": [{"algorithm": "SHA256", "checksumValue": d.sha256}],
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": d.purl,
                    }
                ],
                "supplier": "Organization: Debian",
                "comment": f"architecture {d.architecture}; source package {d.source}",
            }
            relationships.add((cid, "CONTAINS", did))
    body = {
        "packages": [packages[k] for k in sorted(packages)],
        "relationships": [
            {"spdxElementId": a, "relationshipType": t, "relatedSpdxElement": b}
            for a, t, b in sorted(relationships)
        ],
    }
    content_hash = hashlib.sha256(_canonical(body).encode()).hexdigest()
    return {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"linuxkit-image-{image}",
        "documentNamespace": f"{NAMESPACE_BASE}/{image}-{content_hash}",
        "creationInfo": {"created": _created(epoch), "creators": [CREATOR]},
        "documentDescribes": [image_id],
        **body,
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def dump_spdx(document: Mapping[str, Any]) -> bytes:
    """Deterministic JSON bytes of an SPDX document."""
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


REQUIRED_DOCUMENT_FIELDS = (
    "spdxVersion",
    "dataLicense",
    "SPDXID",
    "name",
    "documentNamespace",
    "creationInfo",
)
REQUIRED_PACKAGE_FIELDS = ("SPDXID", "name", "downloadLocation")


def validate_spdx(document: Mapping[str, Any]) -> list[str]:
    """Problems with the fields SPDX 2.3 requires; empty when the document is valid."""
    problems = [
        f"missing document field {f}" for f in REQUIRED_DOCUMENT_FIELDS if f not in document
    ]
    if document.get("spdxVersion") != SPDX_VERSION:
        problems.append(f"spdxVersion is {document.get('spdxVersion')!r}, not {SPDX_VERSION}")
    if document.get("dataLicense") != "CC0-1.0":
        problems.append("dataLicense must be CC0-1.0")
    info = document.get("creationInfo") or {}
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(info.get("created", ""))):
        problems.append(f"creationInfo.created {info.get('created')!r} is not YYYY-MM-DDThh:mm:ssZ")
    if not info.get("creators"):
        problems.append("creationInfo.creators is empty")
    ids = set()
    for p in document.get("packages", ()):
        problems += [
            f"package {p.get('name')!r}: missing {f}" for f in REQUIRED_PACKAGE_FIELDS if f not in p
        ]
        sid = str(p.get("SPDXID", ""))
        if not re.fullmatch(r"SPDXRef-[A-Za-z0-9.-]+", sid):
            problems.append(
                f"package {p.get('name')!r}: SPDXID {sid!r} is not SPDXRef-[A-Za-z0-9.-]+"
            )
        if sid in ids:
            problems.append(f"duplicate SPDXID {sid}")
        ids.add(sid)
        if p.get("filesAnalyzed", True) and "packageVerificationCode" not in p:
            problems.append(
                f"package {p.get('name')!r}: filesAnalyzed needs packageVerificationCode"
            )
        for c in p.get("checksums", ()):
            if c.get("algorithm") == "SHA256" and not re.fullmatch(
                r"[0-9a-f]{64}", c.get("checksumValue", "")
            ):
                problems.append(f"package {p.get('name')!r}: bad SHA256 {c.get('checksumValue')!r}")
    ids.add("SPDXRef-DOCUMENT")
    for r in document.get("relationships", ()):
        for key in ("spdxElementId", "relatedSpdxElement"):
            if r.get(key) not in ids:
                problems.append(f"relationship names unknown element {r.get(key)!r}")
    return problems


def write_sbom(path: str, image: str, components: Iterable[Mapping[str, Any]], epoch: int) -> int:
    """Write the image's SBOM to `path`; returns the number of packages in it."""
    document = spdx_document(image, [SbomComponent.from_json(c) for c in components], epoch)
    problems = validate_spdx(document)
    if problems:
        raise SbomError(f"SBOM for {image} is not valid SPDX: " + "; ".join(problems))
    with open(path, "wb") as f:
        f.write(dump_spdx(document))
    return len(document["packages"])

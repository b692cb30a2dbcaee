"""Debian package indexes as apt downloads them: Packages files and apt's index targets.

`pants generate-lockfiles` runs `apt-get update` with a private state
directory and reads the Packages files it downloaded (`parse_indextargets`,
`read_index_file`, `parse_packages_index`); `resolver.resolve` then locks a
closure.

apt facts this module relies on (apt 2.6, Debian 12):

- `apt-get indextargets` prints nothing until `apt-get update` has fetched
  the Release files, so index paths and mirror URIs are known only after an
  update.
- `--format` does not expand backslash escapes: pass a real tab character
  (a Python string "\\t" in an argv list, or `$'\\t'` in bash). Without
  `--format`, apt prints deb822 stanzas; `parse_indextargets` reads both.
- apt keeps indexes compressed when `Acquire::GzipIndexes` is true (Debian's
  container images set it), preferring lz4, which Python cannot read without
  a third-party module; `Acquire::GzipIndexes=false` stores them plain.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from debian import deb822
from debian.debian_support import Version

from linuxkit_rules.core.errors import DebianError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_INDEX_FIELDS = [
    "Package",
    "Version",
    "Architecture",
    "Size",
    "SHA256",
    "Filename",
    "Source",
    "Pre-Depends",
    "Depends",
    "Provides",
    "Essential",
    "Priority",
]


@dataclass(frozen=True)
class DebPackage:
    """One stanza of a Packages index."""

    name: str
    version: str
    architecture: str
    size: int
    sha256: str
    filename: str  # relative to the archive root, e.g. "pool/main/o/openssh/..."
    source: str  # source package name, without a version
    suite: str  # the suite whose index listed it, e.g. "bookworm-security"
    depends: str  # raw Pre-Depends and Depends joined with ", "
    provides: str  # raw Provides
    essential: bool
    priority: str


def parse_packages_index(text: str, suite: str) -> list[DebPackage]:
    """Parse the text of a Packages index; `suite` is recorded on every package."""
    packages = []
    paragraphs = deb822.Deb822.iter_paragraphs(text, fields=_INDEX_FIELDS, use_apt_pkg=False)
    for number, paragraph in enumerate(paragraphs, start=1):
        # A plain dict: Deb822's case-insensitive lookups dominate the run time.
        para = {key: _one_line(value) for key, value in paragraph.items()}
        if not para:
            continue
        name = para.get("Package", "")

        def need(field: str) -> str:
            value = para.get(field, "")
            if not value:
                raise DebianError(
                    f"Packages index of {suite}: stanza {number} ({name or 'no name'}) "
                    f"has no {field} field"
                )
            return value

        name = need("Package")
        version = need("Version")
        size_text = need("Size")
        sha256 = need("SHA256").lower()
        where = f"Packages index of {suite}: {name}"
        if not size_text.isdigit():
            raise DebianError(f"{where}: Size {size_text!r} is not a number")
        if not SHA256_RE.match(sha256):
            raise DebianError(f"{where}: SHA256 {sha256!r} is not 64 hex digits")
        try:
            deb_version(version)
        except ValueError:
            raise DebianError(f"{where}: Version {version!r} is not a Debian version") from None
        depends = ", ".join(v for v in (para.get("Pre-Depends", ""), para.get("Depends", "")) if v)
        packages.append(
            DebPackage(
                name=name,
                version=version,
                architecture=need("Architecture"),
                size=int(size_text),
                sha256=sha256,
                filename=need("Filename"),
                source=para.get("Source", "").split(" ")[0] or name,
                suite=suite,
                depends=depends,
                provides=para.get("Provides", ""),
                essential=para.get("Essential", "") == "yes",
                priority=para.get("Priority", ""),
            )
        )
    return packages


def read_index_file(path: str | Path) -> str:
    """The text of a Packages file stored plain or compressed with gzip, xz or bzip2."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DebianError(f"cannot read Packages index {path}: {e.strerror}") from None
    if data.startswith(b"\x04\x22\x4d\x18") or data.startswith(b"\x28\xb5\x2f\xfd"):
        kind = "lz4" if data[0] == 0x04 else "zstd"
        raise DebianError(
            f"Packages index {path} is {kind}-compressed, which cannot be read here; "
            "run `apt-get update` with `-o Acquire::GzipIndexes=false` so apt stores it uncompressed"
        )
    try:
        if data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
        elif data.startswith(b"\xfd7zXZ\x00"):
            data = lzma.decompress(data)
        elif data.startswith(b"BZh"):
            data = bz2.decompress(data)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise DebianError(f"Packages index {path} is corrupt: {e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DebianError(f"Packages index {path} is not UTF-8 text: {e}") from None


# --------------------------------------------------------------------------
# apt index targets


@dataclass(frozen=True)
class AptTarget:
    """A Packages file apt downloaded, and the suite (release) it belongs to."""

    path: str
    suite: str


@dataclass(frozen=True)
class _TargetLine:
    path: str
    suite: str
    identifier: str
    architecture: str
    repo_uri: str


INDEXTARGETS_FORMAT = "$(FILENAME)\t$(RELEASE)\t$(IDENTIFIER)\t$(ARCHITECTURE)\t$(REPO_URI)"
"""A `--format` for `apt-get indextargets` that `parse_indextargets` reads.

It holds real tab characters; apt does not expand a typed backslash-t.
Plain `apt-get indextargets` (deb822 output) is read as well.
"""


def parse_indextargets(text: str, architecture: str | None = None) -> list[AptTarget]:
    """The Packages files listed by `apt-get indextargets`.

    Reads apt's default deb822 output or the tab-separated `INDEXTARGETS_FORMAT`.
    With `architecture`, keeps only that architecture's and "all" indexes.
    """
    targets = [
        AptTarget(path=t.path, suite=t.suite)
        for t in _parse_target_lines(text)
        if architecture is None or t.architecture in (architecture, "all", "")
    ]
    if not targets:
        raise DebianError(
            "`apt-get indextargets` lists no Packages index"
            + (f" for {architecture}" if architecture else "")
            + "; run `apt-get update` first with the same -o options"
        )
    return sorted(set(targets), key=lambda t: (t.suite, t.path))


def mirror_uris(text: str) -> dict[str, str]:
    """suite -> repository base URI ending in "/", from `apt-get indextargets` output.

    A .deb's URL is `mirror_uris(text)[package.suite] + package.filename`.
    apt prints targets only after `apt-get update`, so this needs the lists too.
    """
    uris: dict[str, str] = {}
    for t in _parse_target_lines(text):
        if not t.repo_uri:
            raise DebianError(f"`apt-get indextargets` gives no repository URI for {t.path}")
        uri = t.repo_uri if t.repo_uri.endswith("/") else t.repo_uri + "/"
        if uris.setdefault(t.suite, uri) != uri:
            raise DebianError(
                f"suite {t.suite} comes from two repositories, {uris[t.suite]} and {uri}; "
                "keep one of them in the apt sources"
            )
    if not uris:
        raise DebianError(
            "`apt-get indextargets` lists no Packages index; "
            "run `apt-get update` first with the same -o options"
        )
    return dict(sorted(uris.items()))


def _parse_target_lines(text: str) -> list[_TargetLine]:
    lines = [line for line in text.splitlines() if line.strip()]
    if any("\t" in line for line in lines):
        rows = []
        for line in lines:
            fields = line.split("\t")
            if len(fields) != 5:
                raise DebianError(
                    f"cannot read `apt-get indextargets` line {line!r}: expected 5 tab-separated "
                    f"fields from --format {INDEXTARGETS_FORMAT!r}"
                )
            rows.append(_TargetLine(*fields))
    else:
        rows = []
        for para in deb822.Deb822.iter_paragraphs(text, use_apt_pkg=False):
            if not para:
                continue
            if "Filename" not in para or "Identifier" not in para:
                raise DebianError(
                    "cannot read `apt-get indextargets` output: a stanza has no Filename or "
                    f"Identifier field (starts {text.strip()[:60]!r}); with --format, separate "
                    "the fields with real tab characters"
                )
            rows.append(
                _TargetLine(
                    path=para["Filename"],
                    suite=str(para.get("Release") or para.get("Codename") or para.get("Suite", "")),
                    identifier=para["Identifier"],
                    architecture=para.get("Architecture", ""),
                    repo_uri=para.get("Repo-URI", ""),
                )
            )
    rows = [r for r in rows if r.identifier == "Packages"]
    for r in rows:
        if not r.suite:
            raise DebianError(f"index {r.path} has no release name (a flat repository?)")
    return rows


def read_packages(targets: Iterable[AptTarget]) -> list[DebPackage]:
    """Read and parse every target's Packages file."""
    packages: list[DebPackage] = []
    for target in targets:
        packages.extend(parse_packages_index(read_index_file(target.path), target.suite))
    return packages


def _one_line(value: str) -> str:
    return " ".join(value.split())


@lru_cache(maxsize=None)
def deb_version(text: str) -> Version:
    """A Debian version, parsed once (resolution compares the same versions many times)."""
    return Version(text)

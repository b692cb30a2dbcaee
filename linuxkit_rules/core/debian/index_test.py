"""Packages indexes and apt's index targets."""
from __future__ import annotations

import gzip
import lzma
from pathlib import Path
from typing import Callable

import pytest

from linuxkit_rules.core.debian.index import (
    INDEXTARGETS_FORMAT,
    AptTarget,
    DebPackage,
    mirror_uris,
    parse_indextargets,
    parse_packages_index,
    read_index_file,
)
from linuxkit_rules.core.errors import DebianError

TESTDATA = Path(__file__).parent / "testdata"


def test_parse_packages_index_fields() -> None:
    packages = parse_packages_index((TESTDATA / "bookworm_Packages").read_text(), "bookworm")
    by_name = {p.name: p for p in packages}
    assert len(packages) == 25
    libgcc = by_name["libgcc-s1"]
    assert libgcc == DebPackage(
        name="libgcc-s1",
        version="12.2.0-14",
        architecture="amd64",
        size=49892,
        sha256="2" * 64,
        filename="pool/main/g/gcc-12/libgcc-s1_12.2.0-14_amd64.deb",
        source="gcc-12",
        suite="bookworm",
        depends="gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)",
        provides="",
        essential=False,
        priority="optional",
    )
    assert by_name["mawk"].depends == "libc6 (>= 2.29)"  # Pre-Depends counts
    assert by_name["app-tools"].depends.startswith("libc6 (>= 2.34), awk, ")
    assert by_name["libc6"].source == "glibc"
    assert by_name["mawk"].source == "mawk"
    assert by_name["base-files"].essential is True
    assert by_name["tzdata"].architecture == "all"


def test_parse_packages_index_missing_field() -> None:
    text = "Package: foo\nVersion: 1.0\nArchitecture: amd64\nSize: 3\nFilename: pool/f/foo.deb\n"
    with pytest.raises(DebianError, match=r"bookworm: stanza 1 \(foo\) has no SHA256 field"):
        parse_packages_index(text, "bookworm")


def test_parse_packages_index_bad_version() -> None:
    text = f"Package: foo\nVersion: not a version\nArchitecture: amd64\nSize: 3\nFilename: f.deb\nSHA256: {'a' * 64}\n"
    with pytest.raises(DebianError, match="Version 'not a version' is not a Debian version"):
        parse_packages_index(text, "bookworm")


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, lzma.compress])
def test_read_index_file_formats(tmp_path: Path, compress: Callable[[bytes], bytes]) -> None:
    text = (TESTDATA / "bookworm-security_Packages").read_text()
    path = tmp_path / "Packages"
    path.write_bytes(compress(text.encode()))
    assert read_index_file(path) == text


def test_read_index_file_lz4_asks_for_plain_indexes(tmp_path: Path) -> None:
    path = tmp_path / "Packages.lz4"
    path.write_bytes(b"\x04\x22\x4d\x18" + b"\0" * 16)
    with pytest.raises(DebianError, match="Acquire::GzipIndexes=false"):
        read_index_file(path)


def test_read_index_file_missing(tmp_path: Path) -> None:
    with pytest.raises(DebianError, match="cannot read Packages index"):
        read_index_file(tmp_path / "nope")


# -- apt indextargets ------------------------------------------------------

TAB_OUTPUT = (
    "/x/lists/deb_debian_dists_bookworm_main_binary-amd64_Packages\tbookworm\tPackages\tamd64\thttp://mirror.invalid/debian/\n"
    "/x/lists/deb_debian_dists_bookworm_main_binary-arm64_Packages\tbookworm\tPackages\tarm64\thttp://mirror.invalid/debian/\n"
    "/x/lists/deb_debian_dists_bookworm_main_i18n_Translation-en\tbookworm\tTranslations\t\thttp://mirror.invalid/debian/\n"
    "/x/lists/deb_security_dists_bookworm-security_main_binary-amd64_Packages\tbookworm-security\tPackages\tamd64\thttp://mirror.invalid/debian-security/\n"
)

# Abridged from what `apt-get indextargets` (apt 2.6) printed on this machine.
DEB822_OUTPUT = """\
MetaKey: main/binary-amd64/Packages
ShortDesc: Packages
Filename: /x/lists/deb_debian_dists_bookworm_main_binary-amd64_Packages.lz4
Codename: bookworm
Suite: oldstable
Architecture: amd64
Identifier: Packages
Release: bookworm
Repo-URI: http://mirror.invalid/debian/
Target-Of: deb

MetaKey: main/i18n/Translation-en
Filename: /x/lists/deb_debian_dists_bookworm_main_i18n_Translation-en
Identifier: Translations
Release: bookworm
Repo-URI: http://mirror.invalid/debian/

MetaKey: main/binary-amd64/Packages
Filename: /x/lists/deb_security_dists_bookworm-security_main_binary-amd64_Packages.lz4
Codename: bookworm-security
Architecture: amd64
Identifier: Packages
Release: bookworm-security
Repo-URI: http://mirror.invalid/debian-security
"""


def test_indextargets_format_has_real_tabs() -> None:
    assert INDEXTARGETS_FORMAT.count("\t") == 4


def test_parse_indextargets_tab_format() -> None:
    assert parse_indextargets(TAB_OUTPUT, architecture="amd64") == [
        AptTarget("/x/lists/deb_debian_dists_bookworm_main_binary-amd64_Packages", "bookworm"),
        AptTarget(
            "/x/lists/deb_security_dists_bookworm-security_main_binary-amd64_Packages",
            "bookworm-security",
        ),
    ]
    assert len(parse_indextargets(TAB_OUTPUT)) == 3


def test_parse_indextargets_deb822_format() -> None:
    assert parse_indextargets(DEB822_OUTPUT) == [
        AptTarget(
            "/x/lists/deb_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
            "bookworm",
        ),
        AptTarget(
            "/x/lists/deb_security_dists_bookworm-security_main_binary-amd64_Packages.lz4",
            "bookworm-security",
        ),
    ]


def test_parse_indextargets_empty_means_no_update() -> None:
    with pytest.raises(DebianError, match="run `apt-get update` first"):
        parse_indextargets("")


def test_parse_indextargets_rejects_literal_backslash_t() -> None:
    # What `--format '$(FILENAME)\t...'` typed in a shell prints: apt keeps the backslash.
    line = r"/x/Packages\tbookworm\tPackages\tamd64\thttp://mirror.invalid/debian/"
    with pytest.raises(DebianError, match="cannot read `apt-get indextargets` output"):
        parse_indextargets(line + "\n")


def test_mirror_uris() -> None:
    expected = {
        "bookworm": "http://mirror.invalid/debian/",
        "bookworm-security": "http://mirror.invalid/debian-security/",
    }
    assert mirror_uris(TAB_OUTPUT) == expected
    assert mirror_uris(DEB822_OUTPUT) == expected


def test_mirror_uris_conflict() -> None:
    other = TAB_OUTPUT + "/y/Packages\tbookworm\tPackages\tamd64\thttp://other.invalid/debian/\n"
    with pytest.raises(DebianError, match="bookworm comes from two repositories"):
        mirror_uris(other)

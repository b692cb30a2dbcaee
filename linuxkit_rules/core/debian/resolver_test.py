from __future__ import annotations

import dataclasses
import gzip
import json
import lzma
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from linuxkit_rules.core.debian.resolver import (
    INDEXTARGETS_FORMAT,
    AptTarget,
    DebianLock,
    DebPackage,
    dump_lock,
    load_lock,
    mirror_uris,
    parse_indextargets,
    parse_packages_index,
    read_index_file,
    read_packages,
    resolve,
)
from linuxkit_rules.core.errors import DebianError, SchemaError

TESTDATA = Path(__file__).parent / "testdata" / "debian"


def fixture_index() -> list[DebPackage]:
    return read_packages(
        [
            AptTarget(str(TESTDATA / "bookworm_Packages"), "bookworm"),
            AptTarget(
                str(TESTDATA / "bookworm-security_Packages"), "bookworm-security"
            ),
        ]
    )


def versions_of(lock: DebianLock) -> dict[str, str]:
    return {p.name: p.version for p in lock.packages}


# -- Packages indexes ------------------------------------------------------


def test_parse_packages_index_fields() -> None:
    packages = parse_packages_index(
        (TESTDATA / "bookworm_Packages").read_text(), "bookworm"
    )
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
    with pytest.raises(
        DebianError, match=r"bookworm: stanza 1 \(foo\) has no SHA256 field"
    ):
        parse_packages_index(text, "bookworm")


def test_parse_packages_index_bad_version() -> None:
    text = f"Package: foo\nVersion: not a version\nArchitecture: amd64\nSize: 3\nFilename: f.deb\nSHA256: {'a' * 64}\n"
    with pytest.raises(
        DebianError, match="Version 'not a version' is not a Debian version"
    ):
        parse_packages_index(text, "bookworm")


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, lzma.compress])
def test_read_index_file_formats(
    tmp_path: Path, compress: Callable[[bytes], bytes]
) -> None:
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
        AptTarget(
            "/x/lists/deb_debian_dists_bookworm_main_binary-amd64_Packages", "bookworm"
        ),
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
    other = (
        TAB_OUTPUT
        + "/y/Packages\tbookworm\tPackages\tamd64\thttp://other.invalid/debian/\n"
    )
    with pytest.raises(DebianError, match="bookworm comes from two repositories"):
        mirror_uris(other)


# -- resolve ---------------------------------------------------------------


def test_resolve_alternatives_virtuals_any_and_all() -> None:
    lock = resolve(["app-tools"], fixture_index(), "amd64", "bookworm")
    assert lock.roots == ("app-tools",)
    assert versions_of(lock) == {
        "app-tools": "1.0-1",
        "dma": "0.13-1+b1",  # mail-transport-agent: postfix and dma both optional, by name
        "gcc-12-base": "12.2.0-14",
        "libc6": "2.36-9+deb12u4",
        "libgcc-s1": "12.2.0-14",
        "libssl3": "3.0.15-1~deb12u1",  # second alternative; highest version across suites
        "mawk": "1.3.4.20200120-3.1",  # awk: the required-priority provider
        "python3": "3.11.2-1+b1",  # python3:any
        "tzdata": "2024a-0+deb12u1",  # Architecture: all
    }
    app = lock.get("app-tools")
    assert app.depends == ("dma", "libc6", "libssl3", "mawk", "python3", "tzdata")
    assert lock.get("libssl3").suite == "bookworm-security"
    assert lock.get("libssl3").filename.startswith("pool/updates/")
    assert [p.name for p in lock.packages] == sorted(p.name for p in lock.packages)
    assert "base-files" not in versions_of(lock)  # Essential is not pulled in


def test_resolve_cycle() -> None:
    lock = resolve(["libc6"], fixture_index(), "amd64", "bookworm")
    assert lock.get("libc6").depends == ("libgcc-s1",)
    assert lock.get("libgcc-s1").depends == ("gcc-12-base", "libc6")
    assert [p.name for p in lock.packages] == ["gcc-12-base", "libc6", "libgcc-s1"]


def test_resolve_prefers_chosen_alternative() -> None:
    alone = resolve(["prefers-chosen"], fixture_index(), "amd64", "bookworm")
    assert "libalt-a" in versions_of(alone) and "libalt-b" not in versions_of(alone)
    both = resolve(["prefers-chosen", "libalt-b"], fixture_index(), "amd64", "bookworm")
    assert "libalt-a" not in versions_of(both)
    assert both.get("prefers-chosen").depends == ("libalt-b",)


def test_resolve_prefers_chosen_provider() -> None:
    lock = resolve(
        ["app-tools", "gawk", "postfix"], fixture_index(), "amd64", "bookworm"
    )
    names = set(versions_of(lock))
    assert {"gawk", "postfix"} <= names
    assert not {"mawk", "dma", "original-awk"} & names
    assert lock.get("app-tools").depends == (
        "gawk",
        "libc6",
        "libssl3",
        "postfix",
        "python3",
        "tzdata",
    )


def test_resolve_versioned_provides() -> None:
    # zlib-unver has the higher priority but an unversioned Provides cannot satisfy ">= 1.2".
    lock = resolve(["zlib-user"], fixture_index(), "amd64", "bookworm")
    assert lock.get("zlib-user").depends == ("zlib-prov",)


def test_resolve_essential_only_when_asked() -> None:
    lock = resolve(["base-files"], fixture_index(), "amd64", "bookworm")
    assert [p.name for p in lock.packages] == ["base-files"]


@pytest.mark.parametrize(
    "consumer, expected",
    [
        ("dep-lt", "1.0"),
        ("dep-le", "1.5"),
        ("dep-eq", "1.5"),
        ("dep-ge", "2.0"),
        ("dep-gt", "2.0"),
        ("dep-old-lt", "1.5"),  # obsolete "<" means "<="
        ("dep-tilde", "1.5"),  # 2.0~ sorts before 2.0
    ],
)
def test_resolve_version_constraints(consumer: str, expected: str) -> None:
    index = parse_packages_index(
        (TESTDATA / "versions_Packages").read_text(), "bookworm"
    )
    lock = resolve([consumer], index, "amd64", "bookworm")
    assert lock.get("libv").version == expected
    assert (
        lock.get("libv").sha256
        == {"1.0": "c0", "1.5": "c1", "2.0": "c2"}[expected] * 32
    )
    assert lock.get(consumer).depends == ("libv",)


def test_resolve_version_constraint_with_epoch_unsatisfiable() -> None:
    index = parse_packages_index(
        (TESTDATA / "versions_Packages").read_text(), "bookworm"
    )
    with pytest.raises(DebianError) as e:
        resolve(["dep-epoch"], index, "amd64", "bookworm")
    assert "'libv (>= 1:0.1)'" in str(e.value)
    assert "only 2.0 (bookworm), 1.5 (bookworm), 1.0 (bookworm) available" in str(
        e.value
    )


def test_resolve_one_version_per_name() -> None:
    index = parse_packages_index(
        (TESTDATA / "versions_Packages").read_text(), "bookworm"
    )
    with pytest.raises(DebianError, match=r"libv \(<< 1.5\): 2.0 is already chosen"):
        resolve(["dep-lt", "libv"], index, "amd64", "bookworm")


def test_resolve_unsatisfiable_names_package_relation_and_chain() -> None:
    with pytest.raises(DebianError) as e:
        resolve(["needs-broken"], fixture_index(), "amd64", "bookworm")
    message = str(e.value)
    assert message.startswith(
        "cannot resolve dependency 'libnothere (>= 1) | libssl3 (>= 9)' of broken 1.0-1 (bookworm) for amd64"
    )
    assert "libnothere (>= 1): no such package" in message
    assert (
        "libssl3 (>= 9): only 3.0.15-1~deb12u1 (bookworm-security), 3.0.11-1~deb12u2 (bookworm) available"
        in message
    )
    assert message.endswith("Required by: needs-broken -> broken")


def test_resolve_foreign_architecture_qualifier() -> None:
    with pytest.raises(
        DebianError, match="libc6:i386: architecture i386 is not in this amd64 resolve"
    ):
        resolve(["foreign-dep"], fixture_index(), "amd64", "bookworm")


def test_resolve_unknown_root_suggests_close_match() -> None:
    with pytest.raises(
        DebianError, match=r"'opensh-server' is not in .*did you mean: openssh-server"
    ):
        resolve(["opensh-server"], fixture_index(), "amd64", "bookworm")


def test_resolve_virtual_root_lists_providers() -> None:
    with pytest.raises(
        DebianError, match="'awk' is a virtual package .*: gawk, mawk, original-awk"
    ):
        resolve(["awk"], fixture_index(), "amd64", "bookworm")


def test_resolve_other_architecture_root() -> None:
    with pytest.raises(DebianError, match="'armonly' is not built for amd64"):
        resolve(["armonly"], fixture_index(), "amd64", "bookworm")
    lock = resolve(["armonly"], fixture_index(), "arm64", "bookworm")
    assert [p.name for p in lock.packages] == ["armonly"]


def test_resolve_does_not_depend_on_index_order() -> None:
    index = fixture_index()
    forward = resolve(["openssh-server", "app-tools"], index, "amd64", "bookworm")
    backward = resolve(
        ["app-tools", "openssh-server"], list(reversed(index)), "amd64", "bookworm"
    )
    assert dump_lock(forward) == dump_lock(backward)
    assert forward.get("openssh-server").version == "1:9.2p1-2+deb12u5"


# -- closure ---------------------------------------------------------------


def test_closure_with_exclude() -> None:
    lock = resolve(
        ["openssh-server", "app-tools"], fixture_index(), "amd64", "bookworm"
    )
    full = [p.name for p in lock.closure(["openssh-server"])]
    assert full == [
        "gcc-12-base",
        "init-system-helpers",
        "libc6",
        "libgcc-s1",
        "libssl3",
        "openssh-server",
    ]
    # Excluding libc6 cuts libgcc-s1 and gcc-12-base too: only libc6 reached them.
    assert [p.name for p in lock.closure(["openssh-server"], exclude=["libc6"])] == [
        "init-system-helpers",
        "libssl3",
        "openssh-server",
    ]
    assert [p.name for p in lock.closure(["libgcc-s1"])] == [
        "gcc-12-base",
        "libc6",
        "libgcc-s1",
    ]


def test_closure_unknown_root_names_lock_roots() -> None:
    lock = resolve(["openssh-server"], fixture_index(), "amd64", "bookworm")
    with pytest.raises(
        DebianError,
        match="'mawk' is not in the bookworm/amd64 Debian lock, whose roots are: openssh-server",
    ):
        lock.closure(["mawk"])


def test_closure_root_excluded() -> None:
    lock = resolve(["openssh-server"], fixture_index(), "amd64", "bookworm")
    with pytest.raises(DebianError, match="'libssl3' is both asked for and excluded"):
        lock.closure(["openssh-server", "libssl3"], exclude=["libssl3"])


def test_closure_unknown_exclude() -> None:
    lock = resolve(["openssh-server"], fixture_index(), "amd64", "bookworm")
    with pytest.raises(
        DebianError, match="excluded package 'libssl' .*did you mean: libssl3"
    ):
        lock.closure(["openssh-server"], exclude=["libssl"])


def test_get_unknown_suggests() -> None:
    lock = resolve(["openssh-server"], fixture_index(), "amd64", "bookworm")
    with pytest.raises(DebianError, match="did you mean: libgcc-s1"):
        lock.get("libgcc-s")


# -- lock file -------------------------------------------------------------


def test_dump_load_round_trip_and_determinism() -> None:
    lock = resolve(
        ["app-tools", "openssh-server"], fixture_index(), "amd64", "bookworm"
    )
    text = dump_lock(lock)
    assert text.endswith("}\n")
    document = json.loads(text)
    assert document["version"] == 1
    assert (
        "pants generate-lockfiles" in document["comment"]
        and "do not edit" in document["comment"]
    )
    assert list(document) == sorted(document)
    assert load_lock(text, "locks/bookworm-amd64.json") == lock
    shuffled = dataclasses.replace(lock, packages=tuple(reversed(lock.packages)))
    assert dump_lock(shuffled) == text
    assert dump_lock(load_lock(text, "x.json")) == text


def _lock_document() -> dict[str, Any]:
    lock = resolve(["openssh-server"], fixture_index(), "amd64", "bookworm")
    document: dict[str, Any] = json.loads(dump_lock(lock))
    return document


def _libssl(document: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in document["packages"] if p["name"] == "libssl3")


@pytest.mark.parametrize(
    "mutate, field, allowed",
    [
        (
            lambda d: _libssl(d).update(sha256="abc"),
            "packages.libssl3.sha256",
            "64 lowercase hex digits",
        ),
        (
            lambda d: _libssl(d).update(size="12"),
            "packages.libssl3.size",
            "a byte count",
        ),
        (
            lambda d: _libssl(d).update(size=True),
            "packages.libssl3.size",
            "a byte count",
        ),
        (
            lambda d: _libssl(d).update(version="a b"),
            "packages.libssl3.version",
            "a Debian version",
        ),
        (
            lambda d: _libssl(d).update(filename="../etc/passwd.deb"),
            "packages.libssl3.filename",
            "without '..'",
        ),
        (
            lambda d: _libssl(d).update(depends=["nothere"]),
            "packages.libssl3.depends",
            "names of packages in this lock",
        ),
        (lambda d: _libssl(d).pop("suite"), "packages[4].suite", "exactly the keys"),
        (lambda d: d.update(version=2), "version", "this plugin reads version 1"),
        (lambda d: d.update(extra=1), "extra", "exactly the keys"),
        (lambda d: d.update(roots=["mawk"]), "roots", "names of packages in this lock"),
        (
            lambda d: d["packages"].append(dict(d["packages"][0])),
            "packages.gcc-12-base",
            "each package once",
        ),
    ],
)
def test_load_lock_errors(
    mutate: Callable[[dict[str, Any]], object], field: str, allowed: str
) -> None:
    document = _lock_document()
    mutate(document)
    with pytest.raises(SchemaError) as e:
        load_lock(json.dumps(document), "locks/bookworm-amd64.json")
    assert e.value.file == "locks/bookworm-amd64.json"
    assert e.value.field == field
    assert allowed in e.value.allowed
    assert str(e.value).startswith(f"locks/bookworm-amd64.json: {field}: ")


def test_load_lock_not_json() -> None:
    with pytest.raises(SchemaError) as e:
        load_lock("{\n  oops", "lock.json")
    assert e.value.line == 2


# -- the real index on this machine -----------------------------------------

APT_LISTS = Path("/var/lib/apt/lists")
APT_GET = Path("/usr/bin/apt-get")
APT_HELPER = Path("/usr/lib/apt/apt-helper")


def _real_bookworm_lists() -> list[Path]:
    if not APT_LISTS.is_dir():
        return []
    return sorted(
        p
        for p in APT_LISTS.iterdir()
        if "_dists_bookworm" in p.name and "binary-amd64_Packages" in p.name
    )


def _read_any(path: Path) -> str:
    # The machine's lists may be lz4 (Acquire::GzipIndexes); apt's own helper reads every format.
    if path.suffix == ".lz4":
        return subprocess.run(
            [str(APT_HELPER), "cat-file", str(path)],
            check=True,
            capture_output=True,
        ).stdout.decode()
    return read_index_file(path)


@pytest.mark.skipif(
    not APT_GET.exists()
    or not APT_HELPER.exists()
    or not any(
        "_dists_bookworm_main_binary-amd64" in p.name for p in _real_bookworm_lists()
    ),
    reason="no apt, or no bookworm amd64 Packages index in /var/lib/apt/lists",
)
def test_resolve_real_bookworm_index() -> None:
    listing = subprocess.run(
        [str(APT_GET), "indextargets", "--format", INDEXTARGETS_FORMAT],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    targets = [
        t
        for t in parse_indextargets(listing, architecture="amd64")
        if t.suite.startswith("bookworm")
    ]
    index = [
        p
        for t in targets
        for p in parse_packages_index(_read_any(Path(t.path)), t.suite)
    ]
    lock = resolve(
        ["openssh-server", "busybox-static", "runc"], index, "amd64", "bookworm"
    )
    names = {p.name for p in lock.packages}
    assert {"libc6", "libssl3", "openssh-server", "busybox-static", "runc"} <= names
    assert load_lock(dump_lock(lock), "real.json") == lock
    closure = lock.closure(lock.roots)
    print(
        f"real closure: {len(closure)} packages, {sum(p.size for p in closure)} bytes of .deb"
    )

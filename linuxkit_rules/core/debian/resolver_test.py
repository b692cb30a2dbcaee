"""Resolution over a fixture index and over this machine's real bookworm index."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from linuxkit_rules.core.debian.index import (
    INDEXTARGETS_FORMAT,
    AptTarget,
    DebPackage,
    parse_indextargets,
    parse_packages_index,
    read_index_file,
    read_packages,
)
from linuxkit_rules.core.debian.lock import DebianLock, dump_lock, load_lock
from linuxkit_rules.core.debian.resolver import resolve
from linuxkit_rules.core.errors import DebianError

TESTDATA = Path(__file__).parent / "testdata"


def fixture_index() -> list[DebPackage]:
    return read_packages(
        [
            AptTarget(str(TESTDATA / "bookworm_Packages"), "bookworm"),
            AptTarget(str(TESTDATA / "bookworm-security_Packages"), "bookworm-security"),
        ]
    )


def versions_of(lock: DebianLock) -> dict[str, str]:
    return {p.name: p.version for p in lock.packages}


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
    lock = resolve(["app-tools", "gawk", "postfix"], fixture_index(), "amd64", "bookworm")
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
    index = parse_packages_index((TESTDATA / "versions_Packages").read_text(), "bookworm")
    lock = resolve([consumer], index, "amd64", "bookworm")
    assert lock.get("libv").version == expected
    assert lock.get("libv").sha256 == {"1.0": "c0", "1.5": "c1", "2.0": "c2"}[expected] * 32
    assert lock.get(consumer).depends == ("libv",)


def test_resolve_version_constraint_with_epoch_unsatisfiable() -> None:
    index = parse_packages_index((TESTDATA / "versions_Packages").read_text(), "bookworm")
    with pytest.raises(DebianError) as e:
        resolve(["dep-epoch"], index, "amd64", "bookworm")
    assert "'libv (>= 1:0.1)'" in str(e.value)
    assert "only 2.0 (bookworm), 1.5 (bookworm), 1.0 (bookworm) available" in str(e.value)


def test_resolve_one_version_per_name() -> None:
    index = parse_packages_index((TESTDATA / "versions_Packages").read_text(), "bookworm")
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
    backward = resolve(["app-tools", "openssh-server"], list(reversed(index)), "amd64", "bookworm")
    assert dump_lock(forward) == dump_lock(backward)
    assert forward.get("openssh-server").version == "1:9.2p1-2+deb12u5"


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
    or not any("_dists_bookworm_main_binary-amd64" in p.name for p in _real_bookworm_lists()),
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
    index = [p for t in targets for p in parse_packages_index(_read_any(Path(t.path)), t.suite)]
    lock = resolve(["openssh-server", "busybox-static", "runc"], index, "amd64", "bookworm")
    names = {p.name for p in lock.packages}
    assert {"libc6", "libssl3", "openssh-server", "busybox-static", "runc"} <= names
    assert load_lock(dump_lock(lock), "real.json") == lock
    closure = lock.closure(lock.roots)
    print(f"real closure: {len(closure)} packages, {sum(p.size for p in closure)} bytes of .deb")

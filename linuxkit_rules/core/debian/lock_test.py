"""The lock: closures of its roots, and the file's round trip and errors."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

import pytest

from linuxkit_rules.core.debian.lock import dump_lock, load_lock
from linuxkit_rules.core.debian.resolver import resolve
from linuxkit_rules.core.debian.resolver_test import fixture_index
from linuxkit_rules.core.errors import DebianError, SchemaError


def test_closure_with_exclude() -> None:
    lock = resolve(["openssh-server", "app-tools"], fixture_index(), "amd64", "bookworm")
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
    with pytest.raises(DebianError, match="excluded package 'libssl' .*did you mean: libssl3"):
        lock.closure(["openssh-server"], exclude=["libssl"])


def test_get_unknown_suggests() -> None:
    lock = resolve(["openssh-server"], fixture_index(), "amd64", "bookworm")
    with pytest.raises(DebianError, match="did you mean: libgcc-s1"):
        lock.get("libgcc-s")


# -- lock file -------------------------------------------------------------


def test_dump_load_round_trip_and_determinism() -> None:
    lock = resolve(["app-tools", "openssh-server"], fixture_index(), "amd64", "bookworm")
    text = dump_lock(lock)
    assert text.endswith("}\n")
    document = json.loads(text)
    assert document["version"] == 1
    assert (
        "pants generate-lockfiles" in document["comment"] and "do not edit" in document["comment"]
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
        (lambda d: _libssl(d).pop("suite"), "packages[4].suite", "the key 'suite' is required"),
        (lambda d: d.update(version=2), "version", "this plugin reads version 1"),
        (lambda d: d.update(extra=1), "extra", "allowed keys: architecture, comment, packages"),
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

"""The roles of a `linuxkit_package`'s files: its build.yml, its Dockerfile, its rootfs.

A package has one sources field (so that Pants' owner lookup, and with it
`--changed-since`, sees every file of the package); this splits that list.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from linuxkit_rules.core.errors import LinuxkitError

ROOTFS = "rootfs/"


class PackageSourcesError(LinuxkitError):
    """A package's `sources` and its `build_yml` / `dockerfile` fields disagree."""


@dataclass(frozen=True)
class PackageSources:
    """Paths relative to the repository root."""

    build_yml: str
    dockerfile: Optional[str]  # None unless the package is built from a Dockerfile
    rootfs: tuple[str, ...]  # files below `<package dir>/rootfs/`


def split_package_sources(
    address: str,
    spec_path: str,
    files: Iterable[str],
    build_yml: str,
    dockerfile: Optional[str],
) -> PackageSources:
    """Sort the package's source files (repository-relative) by role.

    `build_yml` and `dockerfile` are relative to the package directory
    `spec_path`; each must be one of `files`. Any other file must lie below
    `rootfs/`, except in a Dockerfile package, where every file is build
    context.
    """
    prefix = f"{spec_path}/" if spec_path else ""
    files = sorted(files)
    allowed = f"the `sources` of {address} are {[f[len(prefix):] for f in files]}"

    def named(field: str, value: str) -> str:
        path = prefix + value
        if path not in files:
            raise PackageSourcesError(
                f"{address}: the `{field}` field is {value!r}, but no such file is among the "
                f"target's `sources`; {allowed}. Create {path} or add it to `sources`."
            )
        return path

    byml = named("build_yml", build_yml)
    dfile = named("dockerfile", dockerfile) if dockerfile else None
    rootfs = tuple(f for f in files if f.startswith(prefix + ROOTFS))
    if not dfile:
        stray = [f for f in files if f != byml and not f.startswith(prefix + ROOTFS)]
        if stray:
            raise PackageSourcesError(
                f"{address}: {stray[0]} is in the target's `sources` but is neither its "
                f"`build_yml` ({build_yml!r}) nor below {ROOTFS} (the package's root "
                "filesystem); only a package with `dockerfile` set takes other files "
                "(as build context). Remove it from `sources`, or set `dockerfile`."
            )
    return PackageSources(byml, dfile, rootfs)

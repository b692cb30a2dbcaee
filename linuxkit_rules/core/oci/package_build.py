"""Builds a package's OCI image layout from .deb files and a rootfs directory."""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.archive.deb import add_deb
from linuxkit_rules.core.archive.tree import Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.debian.ca_certificates import add_ca_bundle
from linuxkit_rules.core.manifest import Manifest, optional
from linuxkit_rules.core.oci.layout import ImageConfig, read_oci_layout, write_oci_layout

MOBY_CONFIG_LABEL = "org.mobyproject.config"


def package_tree(debs: list[str], rootfs: str, remove: list[str], base: str = "") -> Tree:
    """The package's root: the base image's layers, debs in order, then its own files,
    minus `remove`."""
    tree = Tree()
    if base:
        with open(base, "rb") as f:
            for layer in read_oci_layout(f).layers:
                tree.add_tar(io.BytesIO(layer), oci_whiteouts=True)
    for deb in debs:
        with open(deb, "rb") as f:
            add_deb(tree, f)
    if os.path.isdir(rootfs):
        tree.add_directory(rootfs)
    tree.remove_globs(remove)
    add_ca_bundle(tree)  # ca-certificates' postinst output, when its certs are here
    return tree


@dataclass(frozen=True)
class PackageManifest(Manifest):
    """`tool package`: the .debs, the package's own files and build.yml's config,
    written as a one-layer OCI layout tar."""

    command = "package"

    build_yml: Mapping[str, Any]  # the runtime config, as the moby label's JSON
    labels: Mapping[str, str]
    debs: tuple[str, ...]  # unpacked in this order
    remove: tuple[str, ...]  # globs removed from the result
    arch: str
    ref: str  # the layout's reference name
    rootfs: str  # directory of the package's own files
    output: str
    base: str | None = optional()  # a base image's OCI layout tar, unpacked first

    def tag_input(self, verify_sha256: Mapping[str, str]) -> str:
        """What the package's content tag hashes besides its input files and code:
        every key except those that name where things go (or the tag itself)."""
        keys = {k: v for k, v in self.to_json().items() if k not in ("ref", "rootfs", "output")}
        return json.dumps({**keys, "verify_sha256": dict(verify_sha256)}, sort_keys=True)


def build_package(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = PackageManifest.from_json(manifest)
    mtime = int(os.environ["SOURCE_DATE_EPOCH"])
    tree = package_tree(list(m.debs), m.rootfs, list(m.remove), m.base or "")
    layer = io.BytesIO()
    write_tar(tree.entries(), layer, mtime)
    labels = dict(m.labels)
    labels[MOBY_CONFIG_LABEL] = json.dumps(m.build_yml, sort_keys=True, separators=(",", ":"))
    config = ImageConfig(
        architecture=m.arch,
        env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
        labels=tuple(sorted(labels.items())),
    )
    os.makedirs(os.path.dirname(m.output) or ".", exist_ok=True)
    with open(m.output, "wb") as out:
        digest = write_oci_layout([layer.getvalue()], config, m.ref, out, mtime)
    return {"size": tree.file_bytes(), "files": len(tree), "digest": digest}

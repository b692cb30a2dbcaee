"""Builds a package's OCI image layout from .deb files and a rootfs directory."""
from __future__ import annotations

import io
import json
import os
from typing import Any, Mapping

from linuxkit_rules.core.archive.deb import add_deb
from linuxkit_rules.core.archive.tree import Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.debian.ca_certificates import add_ca_bundle
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


def build_package(m: Mapping[str, Any]) -> Mapping[str, Any]:
    mtime = int(os.environ["SOURCE_DATE_EPOCH"])
    tree = package_tree(list(m["debs"]), m["rootfs"], list(m["remove"]), m.get("base") or "")
    layer = io.BytesIO()
    write_tar(tree.entries(), layer, mtime)
    labels = dict(m["labels"])
    labels[MOBY_CONFIG_LABEL] = json.dumps(m["build_yml"], sort_keys=True, separators=(",", ":"))
    config = ImageConfig(
        architecture=m["arch"],
        env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
        labels=tuple(sorted(labels.items())),
    )
    os.makedirs(os.path.dirname(m["output"]) or ".", exist_ok=True)
    with open(m["output"], "wb") as out:
        digest = write_oci_layout([layer.getvalue()], config, m["ref"], out, mtime)
    return {"size": tree.file_bytes(), "files": len(tree), "digest": digest}

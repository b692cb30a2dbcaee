"""Assembles an image's root filesystem and writes its output formats."""
from __future__ import annotations

import io
import json
import os
import posixpath
from typing import Any, Mapping

from linuxkit_rules.core.archive import Entry, Tree, gzip_writer, write_cpio_newc, write_tar
from linuxkit_rules.core.docker_engine import write_docker_archive
from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.formats import Format
from linuxkit_rules.core.image_yaml import ContainerSpec, FileSpec, ImageSpec, load_image_yaml, merge_images
from linuxkit_rules.core.oci import ImageConfig, OciImage, read_oci_layout
from linuxkit_rules.core.package_build import MOBY_CONFIG_LABEL
from linuxkit_rules.core.sbom import write_sbom
from linuxkit_rules.core.runtime import ImageDefaults, prestart_script, runtime_config, runtime_json


def _load_spec(paths: list[str]) -> ImageSpec:
    specs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            specs.append(load_image_yaml(f.read(), path))
    return merge_images(specs) if len(specs) > 1 else specs[0]


class Images:
    """The built packages named by the YAML, read once each."""

    def __init__(self, refs: Mapping[str, Mapping[str, str]]) -> None:
        self._refs = refs
        self._cache: dict[str, OciImage] = {}

    def oci(self, ref: str) -> OciImage:
        if ref not in self._cache:
            with open(self._refs[ref]["path"], "rb") as f:
                self._cache[ref] = read_oci_layout(f)
        return self._cache[ref]

    def kernel_dir(self, ref: str) -> str:
        return self._refs[ref]["path"]


def _label(image: OciImage) -> dict[str, Any] | None:
    value = dict(image.config.labels).get(MOBY_CONFIG_LABEL)
    return json.loads(value) if value else None


def _defaults(image: OciImage) -> ImageDefaults:
    c = image.config
    return ImageDefaults(
        env=c.env, entrypoint=c.entrypoint, cmd=c.cmd, working_dir=c.working_dir, user=c.user
    )


def add_layers(tree: Tree, image: OciImage, prefix: str = "") -> None:
    for layer in image.layers:
        tree.add_tar(io.BytesIO(layer), prefix, oci_whiteouts=True)


def add_container(tree: Tree, images: Images, container: ContainerSpec, bundle: str) -> None:
    image = images.oci(container.image)
    add_layers(tree, image, f"{bundle}/rootfs")
    label = _label(image)
    config = runtime_config(container, label, _defaults(image))
    tree.add(Entry(f"{bundle}/config.json", "file", 0o644, data=_json(config)))
    runtime = runtime_json(container, label)
    if runtime:
        tree.add(Entry(f"{bundle}/runtime.json", "file", 0o644, data=_json(runtime)))
    script = prestart_script(container, label)
    if script:
        tree.add(Entry(f"{bundle}/prestart.sh", "file", 0o755, data=script.encode()))


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def add_file(tree: Tree, spec: FileSpec, yaml_file: str, present: set[str]) -> None:
    path = spec.path.lstrip("/")
    if spec.directory:
        tree.add(Entry(path, "dir", spec.mode if spec.mode is not None else 0o755, _id(spec.uid), _id(spec.gid)))
        return
    if spec.symlink:
        tree.add(Entry(path, "symlink", 0o777, _id(spec.uid), _id(spec.gid), target=spec.symlink))
        return
    if spec.contents is not None:
        data = spec.contents.encode()
    elif spec.source:
        source = posixpath.normpath(posixpath.join(posixpath.dirname(yaml_file), spec.source))
        if source not in present:
            if spec.optional:
                return
            raise SchemaError(yaml_file, spec.line, "files.source", spec.source, "the file must exist (or set `optional: true`)")
        with open(source, "rb") as f:
            data = f.read()
    else:
        data = b""
    tree.add(Entry(path, "file", spec.mode if spec.mode is not None else 0o600, _id(spec.uid), _id(spec.gid), data=data))


def _id(value: int | str) -> int:
    if isinstance(value, int):
        return value
    raise SchemaError("files", None, "uid/gid", value, "a number")


def image_tree(spec: ImageSpec, images: Images, present: set[str]) -> Tree:
    tree = Tree()
    for ref in spec.init:
        add_layers(tree, images.oci(ref))
    if spec.kernel is not None and spec.kernel.tar != "none":
        kdir = images.kernel_dir(spec.kernel.image)
        with open(os.path.join(kdir, spec.kernel.tar), "rb") as f:
            tree.add_tar(f)
    for i, c in enumerate(spec.onboot):
        add_container(tree, images, c, f"containers/onboot/{i:03d}-{c.name}")
    for i, c in enumerate(spec.onshutdown):
        add_container(tree, images, c, f"containers/onshutdown/{i:03d}-{c.name}")
    for c in spec.services:
        add_container(tree, images, c, f"containers/services/{c.name}")
    for f in spec.files:
        add_file(tree, f, spec.file, present)
    if "dev/console" not in tree:
        # The kernel opens /dev/console before /init runs (devtmpfs is not yet mounted).
        tree.add(Entry("dev/console", "char", 0o600, devmajor=5, devminor=1))
    return tree


def write_docker_output(tree: Tree, path: str, mtime: int) -> None:
    """The image's root filesystem as a one-layer `docker load` archive (untagged)."""
    layer = io.BytesIO()
    write_tar(tree.entries(), layer, mtime)
    config = ImageConfig(env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",))
    with open(path, "wb") as f:
        write_docker_archive([layer.getvalue()], config, [], f, mtime)


def build_image(m: Mapping[str, Any]) -> Mapping[str, Any]:
    mtime = int(os.environ["SOURCE_DATE_EPOCH"])
    spec = _load_spec(list(m["yaml"]))
    images = Images(m["refs"])
    tree = image_tree(spec, images, set(m["files_present"]))
    name = m["name"]
    report: dict[str, Any] = {"files": len(tree), "bytes": tree.file_bytes()}
    for fmt in (Format(f) for f in m["formats"]):
        if fmt is Format.KERNEL_INITRD:
            kernel_out, initrd_out, cmdline_out = fmt.outputs(name)
            if spec.kernel is None:
                raise SchemaError(spec.file, None, "kernel", None, "kernel+initrd needs a `kernel` section")
            with open(os.path.join(images.kernel_dir(spec.kernel.image), spec.kernel.binary), "rb") as f:
                kernel = f.read()
            with open(kernel_out, "wb") as f:
                f.write(kernel)
            with open(initrd_out, "wb") as f:
                with gzip_writer(f) as gz:
                    write_cpio_newc(tree.entries(), gz, mtime)
            with open(cmdline_out, "w", encoding="utf-8") as f:
                f.write(spec.kernel.cmdline)
            report["initrd_bytes"] = os.path.getsize(initrd_out)
        elif fmt is Format.DOCKER:
            write_docker_output(tree, fmt.outputs(name)[0], mtime)
    sbom = m.get("sbom")
    if sbom:
        report["sbom_packages"] = write_sbom(sbom["output"], name, sbom["components"], mtime)
    return report

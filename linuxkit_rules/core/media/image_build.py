"""Assembles an image's root filesystem and writes its output formats."""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import subprocess
import time
from typing import Any, Mapping, Sequence

import yaml

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import gzip_writer, write_cpio_newc, write_tar
from linuxkit_rules.core.errors import LinuxkitError, SchemaError
from linuxkit_rules.core.media.boot_media import (
    BootInputs,
    extract_loader_files,
    iso_bios,
    iso_efi,
    raw_bios,
    raw_efi,
)
from linuxkit_rules.core.media.formats import SQUASHFS_ROOT, Format
from linuxkit_rules.core.media.squashfs import loader_initramfs, read_kernel_config, write_squashfs
from linuxkit_rules.core.media.vmdisk import (
    mib_size,
    write_dynamic_vhd,
    write_fixed_vhd,
    write_vmdk,
)
from linuxkit_rules.core.oci.layout import OciImage, read_oci_layout
from linuxkit_rules.core.oci.package_build import MOBY_CONFIG_LABEL
from linuxkit_rules.core.reports.sbom import write_sbom
from linuxkit_rules.core.spec.container import VOLUMES_DIR, ContainerSpec, config_to_json
from linuxkit_rules.core.spec.image_yaml import (
    FileSpec,
    ImageSpec,
    VolumeSpec,
    load_image_yaml,
    merge_images,
    with_volume_paths,
)
from linuxkit_rules.core.spec.runtime_config import (
    ImageDefaults,
    namespace_hooks,
    namespace_script,
    prestart_script,
    runtime_config,
    runtime_json,
)


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


def add_container(
    tree: Tree,
    images: Images,
    container: ContainerSpec,
    bundle: str,
    id_map: Mapping[str, int] | None = None,
    volumes: Sequence[VolumeSpec] = (),
) -> None:
    container = with_volume_paths(container, volumes)
    image = images.oci(container.image)
    add_layers(tree, image, f"{bundle}/rootfs")
    label = _label(image)
    config = runtime_config(container, label, _defaults(image), id_map=id_map)
    namespace = namespace_script(container, label)
    if namespace:
        # runtime.interfaces / bindNS: runc runs it once the container's namespaces exist.
        tree.add(Entry(f"{bundle}/namespace.sh", "file", 0o755, data=namespace.encode()))
        config["hooks"] = namespace_hooks(f"/{bundle}/namespace.sh")
    tree.add(Entry(f"{bundle}/config.json", "file", 0o644, data=_json(config)))
    runtime = runtime_json(container, label)
    if runtime:
        tree.add(Entry(f"{bundle}/runtime.json", "file", 0o644, data=_json(runtime)))
    script = prestart_script(container, label)
    if script:
        tree.add(Entry(f"{bundle}/prestart.sh", "file", 0o755, data=script.encode()))


def add_volume(tree: Tree, images: Images, volume: VolumeSpec) -> None:
    """LinuxKit's volume layout: `lower/` (the image's files, or empty) and `merged/`, which
    init mounts (a bind of `lower`, read-only for a readonly volume) before onboot; a
    `readonly` marker tells init which."""
    base = f"{VOLUMES_DIR}/{volume.name}"
    tree.add(Entry(f"{base}/lower", "dir", 0o755))
    tree.add(Entry(f"{base}/merged", "dir", 0o755))
    if volume.image:
        add_layers(tree, images.oci(volume.image), f"{base}/lower")
    if volume.readonly:
        tree.add(Entry(f"{base}/readonly", "file", 0o644, data=b""))


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


# Where the image rule puts `~/` file sources in the sandbox.
HOME_DIR = ".home"


def source_path(spec: FileSpec) -> str:
    """Sandbox path of a `files` entry's `source`: `~/x` -> `.home/x`, else relative to its YAML."""
    if spec.source.startswith("~/"):
        return posixpath.normpath(posixpath.join(HOME_DIR, spec.source[2:]))
    return posixpath.normpath(posixpath.join(posixpath.dirname(spec.file), spec.source))


def add_file(tree: Tree, spec: FileSpec, image: ImageSpec, present: set[str]) -> None:
    path = spec.path.lstrip("/")
    uid, gid = _file_id(tree, image, spec, "uid"), _file_id(tree, image, spec, "gid")
    mode = spec.mode
    if spec.directory:
        tree.add(Entry(path, "dir", mode if mode is not None else 0o755, uid, gid))
        return
    if spec.symlink:
        tree.add(Entry(path, "symlink", 0o777, uid, gid, target=spec.symlink))
        return
    if spec.contents is not None:
        data = spec.contents.encode()
    elif spec.metadata == "yaml":
        data = metadata_yaml(image)
    elif spec.source:
        source = source_path(spec)
        if source not in present:
            if spec.optional:
                return
            raise SchemaError(
                spec.file or image.file,
                spec.line,
                "files.source",
                spec.source,
                "the file does not exist; add it, or set `optional: true` to skip it when missing",
            )
        with open(source, "rb") as f:
            data = f.read()
    else:
        data = b""
    tree.add(Entry(path, "file", mode if mode is not None else 0o600, uid, gid, data=data))


def _name_table(tree: Tree, path: str) -> dict[str, int]:
    entry = tree.get(path)
    table: dict[str, int] = {}
    if entry is None or entry.kind != "file":
        return table
    for line in entry.data.decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            table.setdefault(parts[0], int(parts[2]))
    return table


def _file_id(tree: Tree, image: ImageSpec, spec: FileSpec, field: str) -> int:
    """A numeric uid/gid; a name is a container name (LinuxKit's per-container ids) or
    an entry of the image's /etc/passwd (uid) or /etc/group (gid)."""
    value = getattr(spec, field)
    if isinstance(value, int):
        return value
    ids = image.id_map()
    if value in ids:
        return ids[value]
    db = "etc/passwd" if field == "uid" else "etc/group"
    table = _name_table(tree, db)
    if value in table:
        return table[value]
    raise SchemaError(
        spec.file or image.file,
        spec.line,
        f"files.{field}",
        value,
        f"a name must be a container of the image ({', '.join(sorted(ids)) or 'none'}) or be listed in "
        f"the image's /{db} ({', '.join(sorted(table)) or 'no such file'})",
    )


def metadata_yaml(image: ImageSpec) -> bytes:
    """`metadata: yaml`: the image's (merged) configuration, as LinuxKit YAML."""
    doc: dict[str, Any] = {}
    if image.kernel is not None:
        k = image.kernel
        doc["kernel"] = {
            "image": k.image,
            "cmdline": k.cmdline,
            "binary": k.binary,
            "tar": k.tar or "none",
        }
    doc["init"] = list(image.init)
    for key, items in (
        ("onboot", image.onboot),
        ("onshutdown", image.onshutdown),
        ("services", image.services),
    ):
        if items:
            doc[key] = [config_to_json(c) for c in items]
    files = []
    for f in image.files:
        entry: dict[str, Any] = {"path": f.path}
        for attr in ("directory", "symlink", "contents", "source", "metadata", "optional"):
            if getattr(f, attr):
                entry[attr] = getattr(f, attr)
        if f.mode is not None:
            entry["mode"] = f"0{f.mode:o}"
        if f.uid != 0:
            entry["uid"] = f.uid
        if f.gid != 0:
            entry["gid"] = f.gid
        files.append(entry)
    if files:
        doc["files"] = files
    vols = []
    for v in image.volumes:
        vol: dict[str, Any] = {"name": v.name}
        if v.image:
            vol["image"] = v.image
        if v.readonly:
            vol["readonly"] = True
        vols.append(vol)
    if vols:
        doc["volumes"] = vols
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False).encode()


def image_tree(spec: ImageSpec, images: Images, present: set[str]) -> Tree:
    tree = Tree()
    ids = spec.id_map()
    for ref in spec.init:
        add_layers(tree, images.oci(ref))
    if spec.kernel is not None and spec.kernel.tar != "none":
        kdir = images.kernel_dir(spec.kernel.image)
        with open(os.path.join(kdir, spec.kernel.tar), "rb") as f:
            tree.add_tar(f)
    for v in spec.volumes:
        add_volume(tree, images, v)
    vols = spec.volumes
    for i, c in enumerate(spec.onboot):
        add_container(tree, images, c, f"containers/onboot/{i:03d}-{c.name}", ids, vols)
    for i, c in enumerate(spec.onshutdown):
        add_container(tree, images, c, f"containers/onshutdown/{i:03d}-{c.name}", ids, vols)
    for c in spec.services:
        add_container(tree, images, c, f"containers/services/{c.name}", ids, vols)
    for f in spec.files:
        add_file(tree, f, spec, present)
    if "dev/console" not in tree:
        # The kernel opens /dev/console before /init runs (devtmpfs is not yet mounted).
        tree.add(Entry("dev/console", "char", 0o600, devmajor=5, devminor=1))
    return tree


def _kernel_parts(
    spec: ImageSpec, images: Images, tree: Tree, mtime: int, initrd: bool = True
) -> tuple[bytes, bytes, str]:
    if spec.kernel is None:
        raise SchemaError(
            spec.file, None, "kernel", None, "a bootable format needs a `kernel` section"
        )
    with open(os.path.join(images.kernel_dir(spec.kernel.image), spec.kernel.binary), "rb") as f:
        kernel = f.read()
    buf = io.BytesIO()
    if initrd:  # kernel+squashfs alone needs no initrd of the whole root
        with gzip_writer(buf) as gz:
            write_cpio_newc(tree.entries(), gz, mtime)  # type: ignore[arg-type]
    return kernel, buf.getvalue(), spec.kernel.cmdline


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _tar(entries: list[Entry], mtime: int) -> bytes:
    buf = io.BytesIO()
    write_tar(entries, buf, mtime)
    return buf.getvalue()


def docker_archive(tree: Tree, name: str, mtime: int) -> bytes:
    """A `docker load` tarball: one layer (the root filesystem), tagged NAME:latest."""
    layer = _tar(tree.entries(), mtime)
    layer_id = hashlib.sha256(layer).hexdigest()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {"Cmd": ["/init"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
            "history": [{"created": created, "created_by": "linuxkit-rules"}],
        }
    )
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = _json(
        [
            {
                "Config": config_name,
                "RepoTags": [f"{name}:latest"],
                "Layers": [f"{layer_id}/layer.tar"],
            }
        ]
    )
    return _tar(
        [
            Entry(layer_id, "dir", 0o755),
            Entry(f"{layer_id}/layer.tar", "file", 0o644, data=layer),
            Entry(config_name, "file", 0o644, data=config),
            Entry("manifest.json", "file", 0o644, data=manifest),
        ],
        mtime,
    )


def _qcow2(raw: bytes, qemu_img: str, out: str) -> None:
    tmp = out + ".raw"
    _write(tmp, raw)
    try:
        r = subprocess.run(
            [qemu_img, "convert", "-f", "raw", "-O", "qcow2", tmp, out], capture_output=True
        )
    finally:
        os.unlink(tmp)
    if r.returncode != 0:
        raise LinuxkitError(
            f"{qemu_img} convert failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
        )


def _disk_container(fmt: Format, raw: bytes, out: str, mtime: int) -> None:
    """The BIOS disk as a VHD (fixed for `vhd` and `azure`), a VMDK, or raw for EC2."""
    with open(out, "wb") as f:
        if fmt in (Format.VHD, Format.AZURE):
            write_fixed_vhd(raw, f, mtime)
        elif fmt is Format.DYNAMIC_VHD:
            write_dynamic_vhd(raw, f, mtime)
        elif fmt is Format.VMDK:
            write_vmdk(raw, f, os.path.basename(out))
        else:
            # EC2's snapshot import takes a raw disk; whole MiB, as for the others.
            f.write(raw + b"\0" * (mib_size(len(raw)) - len(raw)))


def build_image(m: Mapping[str, Any]) -> Mapping[str, Any]:
    mtime = int(os.environ["SOURCE_DATE_EPOCH"])
    spec = _load_spec(list(m["yaml"]))
    images = Images(m["refs"])
    tree = image_tree(spec, images, set(m["files_present"]))
    name = m["name"]
    formats = [Format.parse(f) for f in m["formats"]]
    size_mib = m.get("disk_size_mib")
    size = int(size_mib) << 20 if size_mib else None
    report: dict[str, Any] = {"files": len(tree), "bytes": tree.file_bytes()}
    needs_initrd = any(f.needs_kernel() and f is not Format.KERNEL_SQUASHFS for f in formats)
    parts = (
        _kernel_parts(spec, images, tree, mtime, needs_initrd)
        if any(f.needs_kernel() for f in formats)
        else None
    )
    loaders = extract_loader_files(m.get("loader_debs", []))
    boot = BootInputs(*parts, loaders, mtime, name) if parts else None  # type: ignore[misc]
    raw_bios_cache: list[bytes] = []

    def bios_disk() -> bytes:
        assert boot is not None
        if not raw_bios_cache:
            raw_bios_cache.append(raw_bios(boot, size))
        return raw_bios_cache[0]

    for fmt in formats:
        outs = fmt.outputs(name)
        if fmt is Format.KERNEL_INITRD:
            assert parts is not None
            _write(outs[0], parts[0])
            _write(outs[1], parts[1])
            _write(outs[2], parts[2].encode())
            report["initrd_bytes"] = len(parts[1])
            continue
        if fmt is Format.TAR:
            data = _tar(tree.entries(), mtime)
        elif fmt is Format.TAR_KERNEL_INITRD:
            assert parts is not None
            data = _tar(
                [
                    Entry("kernel", "file", 0o644, data=parts[0]),
                    Entry("initrd.img", "file", 0o644, data=parts[1]),
                    Entry("cmdline", "file", 0o644, data=parts[2].encode()),
                ],
                mtime,
            )
        elif fmt is Format.ISO_BIOS:
            assert boot is not None
            data = iso_bios(boot)
        elif fmt is Format.ISO_EFI:
            assert boot is not None
            data = iso_efi(boot)
        elif fmt is Format.RAW_BIOS:
            data = bios_disk()
        elif fmt is Format.RAW_EFI:
            assert boot is not None
            data = raw_efi(boot, size)
        elif fmt is Format.QCOW2_BIOS:
            _qcow2(bios_disk(), m["qemu_img"], outs[0])
            report[outs[0]] = os.path.getsize(outs[0])
            continue
        elif fmt is Format.QCOW2_EFI:
            assert boot is not None
            _qcow2(raw_efi(boot, size), m["qemu_img"], outs[0])
            report[outs[0]] = os.path.getsize(outs[0])
            continue
        elif fmt is Format.KERNEL_SQUASHFS:
            assert parts is not None and spec.kernel is not None
            _write(outs[0], parts[0])
            write_squashfs(tree, outs[1], mtime, m["mksquashfs"])
            _write(outs[2], parts[2].encode())
            config = read_kernel_config(images.kernel_dir(spec.kernel.image))
            _write(outs[3], loader_initramfs(tree, config, spec.kernel.image, SQUASHFS_ROOT, mtime))
            report[outs[1]] = os.path.getsize(outs[1])
            continue
        elif fmt is Format.GCP:
            buf = io.BytesIO()
            with gzip_writer(buf) as gz:
                write_tar([Entry("disk.raw", "file", 0o644, data=bios_disk())], gz, mtime)  # type: ignore[arg-type]
            data = buf.getvalue()
        elif fmt.is_bios_disk_container():
            _disk_container(fmt, bios_disk(), outs[0], mtime)
            report[outs[0]] = os.path.getsize(outs[0])
            continue
        elif fmt is Format.DOCKER:
            data = docker_archive(tree, name, mtime)
        else:
            raise AssertionError(fmt)
        _write(outs[0], data)
        report[outs[0]] = len(data)
    sbom = m.get("sbom")
    if sbom:
        report["sbom_packages"] = write_sbom(sbom["output"], name, sbom["components"], mtime)
    return report

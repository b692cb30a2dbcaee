"""Assembles an image's root filesystem and writes its output formats."""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import yaml

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import (
    gzip_writer,
    link_duplicates,
    write_cpio_newc,
    write_tar,
)
from linuxkit_rules.core.errors import LinuxkitError, SchemaError
from linuxkit_rules.core.manifest import Manifest
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
from linuxkit_rules.core.sandbox import Toolchain
from linuxkit_rules.core.spec.container import config_to_json
from linuxkit_rules.core.spec.container_keys import ContainerSpec
from linuxkit_rules.core.spec.container_model import VOLUMES_DIR
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
        with open(path, "rb") as f:
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
    if spec.kernel is not None and spec.kernel.tar:
        kdir = images.kernel_dir(spec.kernel.image)
        with open(os.path.join(kdir, spec.kernel.tar), "rb") as modules:
            tree.add_tar(modules)
    for v in spec.volumes:
        add_volume(tree, images, v)
    vols = spec.volumes
    for i, c in enumerate(spec.onboot):
        add_container(tree, images, c, f"containers/onboot/{i:03d}-{c.name}", ids, vols)
    for i, c in enumerate(spec.onshutdown):
        add_container(tree, images, c, f"containers/onshutdown/{i:03d}-{c.name}", ids, vols)
    for c in spec.services:
        add_container(tree, images, c, f"containers/services/{c.name}", ids, vols)
    for file_spec in spec.files:
        add_file(tree, file_spec, spec, present)
    if "dev/console" not in tree:
        # The kernel opens /dev/console before /init runs (devtmpfs is not yet mounted).
        tree.add(Entry("dev/console", "char", 0o600, devmajor=5, devminor=1))
    return tree


def _kernel_parts(
    spec: ImageSpec,
    images: Images,
    tree: Tree,
    mtime: int,
    initrd: bool = True,
    compression: str = "gzip",
) -> tuple[bytes, bytes, str]:
    if spec.kernel is None:
        raise SchemaError(
            spec.file, None, "kernel", None, "a bootable format needs a `kernel` section"
        )
    with open(os.path.join(images.kernel_dir(spec.kernel.image), spec.kernel.binary), "rb") as f:
        kernel = f.read()
    buf = io.BytesIO()
    if initrd and compression == "none":
        write_cpio_newc(link_duplicates(tree.entries()), buf, mtime)
    elif initrd:  # kernel+squashfs alone needs no initrd of the whole root
        with gzip_writer(buf) as gz:
            write_cpio_newc(link_duplicates(tree.entries()), gz, mtime)  # type: ignore[arg-type]
    return kernel, buf.getvalue(), spec.kernel.cmdline


_SPARSE_BLOCK = 64 * 1024


def _write(path: str, data: bytes) -> None:
    """Write `data` to `path`, leaving holes where whole 64 KiB blocks are zero
    (a disk image is mostly empty); the file's bytes are the same either way."""
    view = memoryview(data)
    zero = bytes(_SPARSE_BLOCK)
    with open(path, "wb") as f:
        for start in range(0, len(view), _SPARSE_BLOCK):
            block = view[start : start + _SPARSE_BLOCK]
            if len(block) == _SPARSE_BLOCK and block == zero:
                f.seek(_SPARSE_BLOCK, os.SEEK_CUR)
            else:
                f.write(block)
        f.truncate(len(view))


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


def _qcow2(raw: bytes, qemu_img: Sequence[str], out: str) -> None:
    """Convert `raw` to qcow2 at `out` with `qemu_img` (an argv prefix: the
    toolchain's sandbox command, or a plain path)."""
    tmp = out + ".raw"
    _write(tmp, raw)
    try:
        r = subprocess.run(
            [*qemu_img, "convert", "-f", "raw", "-O", "qcow2", tmp, out], capture_output=True
        )
    finally:
        os.unlink(tmp)
    if r.returncode != 0:
        raise LinuxkitError(
            f"qemu-img convert failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
        )


@dataclass(frozen=True)
class ImageManifest(Manifest):
    """`tool image`: the image YAMLs (merged in order) and the built packages they name."""

    command = "image"

    name: str
    yaml: tuple[str, ...]
    refs: Mapping[str, Mapping[str, str]]  # reference -> {"path": its layout or kernel dir}
    formats: tuple[str, ...]
    files_present: tuple[str, ...]  # `files` sources present in the sandbox
    loader_debs: tuple[str, ...] = ()
    # core/sandbox.py `Toolchain` JSON: the root that runs qemu-img and mksquashfs
    toolchain: Mapping[str, Any] | None = None
    disk_size_mib: int | None = None
    initrd_compression: str = "gzip"  # or "none": the cpio as it is
    # {"output": path, "components": [SbomComponent JSON...]}, or None for no SBOM
    sbom: Mapping[str, Any] | None = None


class _Build:
    """One image build: the root filesystem, the kernel parts and the boot inputs
    the formats share, and the report the tool prints."""

    def __init__(self, m: ImageManifest, mtime: int) -> None:
        self.m = m
        self.mtime = mtime
        self.spec = _load_spec(list(m.yaml))
        self.images = Images(m.refs)
        self.tree = image_tree(self.spec, self.images, set(m.files_present))
        self.name = m.name
        self.formats = [Format.parse(f) for f in m.formats]
        self.size = m.disk_size_mib << 20 if m.disk_size_mib else None
        self.report: dict[str, Any] = {"files": len(self.tree), "bytes": self.tree.file_bytes()}
        formats = self.formats
        needs_initrd = any(f.needs_kernel() and f is not Format.KERNEL_SQUASHFS for f in formats)
        self._parts = (
            _kernel_parts(
                self.spec, self.images, self.tree, mtime, needs_initrd, m.initrd_compression
            )
            if any(f.needs_kernel() for f in formats)
            else None
        )
        loaders = extract_loader_files(list(m.loader_debs))
        self._boot = BootInputs(*self._parts, loaders, mtime, self.name) if self._parts else None  # type: ignore[misc]
        self._bios_disk: bytes | None = None

    @property
    def parts(self) -> tuple[bytes, bytes, str]:
        assert self._parts is not None
        return self._parts

    @property
    def boot(self) -> BootInputs:
        assert self._boot is not None
        return self._boot

    def bios_disk(self) -> bytes:
        if self._bios_disk is None:
            self._bios_disk = raw_bios(self.boot, self.size)
        return self._bios_disk

    def toolchain(self) -> Toolchain:
        if self.m.toolchain is None:
            raise LinuxkitError(
                f"image {self.name}: the manifest names no toolchain for its formats"
            )
        return Toolchain.from_json(self.m.toolchain)

    def write(self, path: str, data: bytes) -> None:
        _write(path, data)
        self.report[path] = len(data)


# A format's writer: (the build, the format's output paths) -> files written.
Writer = Callable[[_Build, Sequence[str]], None]


def _write_kernel_initrd(b: _Build, outs: Sequence[str]) -> None:
    kernel, initrd, cmdline = b.parts
    _write(outs[0], kernel)
    _write(outs[1], initrd)
    _write(outs[2], cmdline.encode())
    b.report["initrd_bytes"] = len(initrd)


def _write_tar_kernel_initrd(b: _Build, outs: Sequence[str]) -> None:
    kernel, initrd, cmdline = b.parts
    entries = [
        Entry("kernel", "file", 0o644, data=kernel),
        Entry("initrd.img", "file", 0o644, data=initrd),
        Entry("cmdline", "file", 0o644, data=cmdline.encode()),
    ]
    b.write(outs[0], _tar(entries, b.mtime))


def _write_qcow2(raw: Callable[[_Build], bytes]) -> Writer:
    def write(b: _Build, outs: Sequence[str]) -> None:
        _qcow2(raw(b), b.toolchain().command("qemu-img"), outs[0])
        b.report[outs[0]] = os.path.getsize(outs[0])

    return write


def _write_kernel_squashfs(b: _Build, outs: Sequence[str]) -> None:
    kernel_spec = b.spec.kernel
    assert kernel_spec is not None
    kernel, _, cmdline = b.parts
    _write(outs[0], kernel)
    write_squashfs(b.tree, outs[1], b.mtime, b.toolchain().command("mksquashfs", requires=["cat"]))
    _write(outs[2], cmdline.encode())
    config = read_kernel_config(b.images.kernel_dir(kernel_spec.image))
    _write(outs[3], loader_initramfs(b.tree, config, kernel_spec.image, SQUASHFS_ROOT, b.mtime))
    b.report[outs[1]] = os.path.getsize(outs[1])


def _gcp_tarball(b: _Build) -> bytes:
    buf = io.BytesIO()
    with gzip_writer(buf) as gz:
        write_tar([Entry("disk.raw", "file", 0o644, data=b.bios_disk())], gz, b.mtime)  # type: ignore[arg-type]
    return buf.getvalue()


def _disk_container(fmt: Format) -> Writer:
    """The BIOS disk as a VHD (fixed for `vhd` and `azure`), a VMDK, or raw for EC2."""

    def write(b: _Build, outs: Sequence[str]) -> None:
        raw = b.bios_disk()
        with open(outs[0], "wb") as f:
            if fmt in (Format.VHD, Format.AZURE):
                write_fixed_vhd(raw, f, b.mtime)
            elif fmt is Format.DYNAMIC_VHD:
                write_dynamic_vhd(raw, f, b.mtime)
            elif fmt is Format.VMDK:
                write_vmdk(raw, f, os.path.basename(outs[0]))
            else:
                # EC2's snapshot import takes a raw disk; whole MiB, as for the others.
                f.write(raw + b"\0" * (mib_size(len(raw)) - len(raw)))
        b.report[outs[0]] = os.path.getsize(outs[0])

    return write


def _data(make: Callable[[_Build], bytes]) -> Writer:
    """A writer of one output file."""

    def write(b: _Build, outs: Sequence[str]) -> None:
        b.write(outs[0], make(b))

    return write


# The writer of every format (formats.FORMATS describes each).
WRITERS: Mapping[Format, Writer] = {
    Format.KERNEL_INITRD: _write_kernel_initrd,
    Format.TAR: _data(lambda b: _tar(b.tree.entries(), b.mtime)),
    Format.TAR_KERNEL_INITRD: _write_tar_kernel_initrd,
    Format.ISO_BIOS: _data(lambda b: iso_bios(b.boot)),
    Format.ISO_EFI: _data(lambda b: iso_efi(b.boot)),
    Format.RAW_BIOS: _data(_Build.bios_disk),
    Format.RAW_EFI: _data(lambda b: raw_efi(b.boot, b.size)),
    Format.QCOW2_BIOS: _write_qcow2(_Build.bios_disk),
    Format.QCOW2_EFI: _write_qcow2(lambda b: raw_efi(b.boot, b.size)),
    Format.KERNEL_SQUASHFS: _write_kernel_squashfs,
    Format.GCP: _data(_gcp_tarball),
    Format.DOCKER: _data(lambda b: docker_archive(b.tree, b.name, b.mtime)),
    Format.VHD: _disk_container(Format.VHD),
    Format.DYNAMIC_VHD: _disk_container(Format.DYNAMIC_VHD),
    Format.VMDK: _disk_container(Format.VMDK),
    Format.AWS: _disk_container(Format.AWS),
    Format.AZURE: _disk_container(Format.AZURE),
}
assert set(WRITERS) == set(Format)


def build_image(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = ImageManifest.from_json(manifest)
    b = _Build(m, int(os.environ["SOURCE_DATE_EPOCH"]))
    for fmt in b.formats:
        WRITERS[fmt](b, fmt.outputs(b.name))
    sbom = m.sbom
    if sbom:
        b.report["sbom_packages"] = write_sbom(sbom["output"], b.name, sbom["components"], b.mtime)
    return b.report

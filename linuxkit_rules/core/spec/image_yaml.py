"""The LinuxKit image YAML model: kernel, init, onboot, onshutdown, services, files, volumes.

`load_image_yaml` reads one file strictly (unknown keys, wrong types and
contradictory settings are `SchemaError`s naming file, line and field path);
`merge_images` combines several as `linuxkit build a.yml b.yml` does. Each
container entry is read by `container.parse_container`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.container import parse_container
from linuxkit_rules.core.spec.container_keys import ContainerSpec
from linuxkit_rules.core.spec.container_model import VOLUME_NAME, VOLUMES_DIR, Mount
from linuxkit_rules.core.spec.container_values import parse_id
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader, items_of, load_yaml


@dataclass(frozen=True)
class KernelSpec:
    image: str
    cmdline: str = ""
    binary: str = "kernel"
    tar: str = "kernel.tar"  # "" means no modules tarball (LinuxKit's "none" is read as "")
    ucode: str = ""


@dataclass(frozen=True)
class FileSpec:
    path: str
    line: int | None
    directory: bool = False
    symlink: str = ""
    contents: str | None = None
    source: str = ""  # relative to the image YAML's directory
    mode: int | None = None  # None: LinuxKit's default (0600 for files, 0755 for directories)
    uid: int | str = 0
    gid: int | str = 0
    optional: bool = False
    metadata: str = ""  # "" or "yaml"
    file: str = ""  # the image YAML this entry came from (sources are relative to it)


@dataclass(frozen=True)
class VolumeSpec:
    """A `volumes:` entry: a directory at `/containers/volumes/NAME/merged` that
    containers bind by name (`binds: [NAME:/dst]`), empty or holding `image`'s files."""

    name: str
    image: str = ""
    readonly: bool = False
    line: int | None = None
    file: str = ""

    @property
    def merged(self) -> str:
        return f"/{VOLUMES_DIR}/{self.name}/merged"


@dataclass(frozen=True)
class ImageSpec:
    file: str
    kernel: KernelSpec | None
    init: tuple[str, ...]
    onboot: tuple[ContainerSpec, ...]
    onshutdown: tuple[ContainerSpec, ...]
    services: tuple[ContainerSpec, ...]
    files: tuple[FileSpec, ...]
    volumes: tuple[VolumeSpec, ...] = ()

    def containers(self) -> tuple[ContainerSpec, ...]:
        return self.onboot + self.onshutdown + self.services

    def image_refs(self) -> list[str]:
        """Every image reference (kernel, init, onboot, onshutdown, services), in order, unique."""
        refs: list[str] = []
        if self.kernel is not None:
            refs.append(self.kernel.image)
        refs.extend(self.init)
        refs.extend(v.image for v in self.volumes if v.image)
        refs.extend(c.image for c in self.containers())
        return list(dict.fromkeys(refs))

    def ref_places(self) -> dict[str, list[str]]:
        """Where each image reference is used, for error messages: `kernel`, `init[1]`,
        `services.sshd (line 12)`..."""
        places: dict[str, list[str]] = {}
        if self.kernel is not None:
            places.setdefault(self.kernel.image, []).append("kernel.image")
        for i, ref in enumerate(self.init):
            places.setdefault(ref, []).append(f"init[{i}]")
        for v in self.volumes:
            if v.image:
                places.setdefault(v.image, []).append(
                    f"volumes.{v.name}" + (f" (line {v.line})" if v.line else "")
                )
        for section, items in (
            ("onboot", self.onboot),
            ("onshutdown", self.onshutdown),
            ("services", self.services),
        ):
            for c in items:
                line = f" (line {c.line})" if c.line else ""
                places.setdefault(c.image, []).append(f"{section}.{c.name}{line}")
        return places

    def id_map(self) -> dict[str, int]:
        """LinuxKit's per-container ids that `uid: <name>` refers to: 100, 101... in
        onboot, onshutdown, services order."""
        return {c.name: 100 + i for i, c in enumerate(self.containers())}


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$")


def _kernel_file(r: MapReader, key: str, default: str) -> str:
    """`binary` or `tar`: a file name inside the kernel package, never a path."""
    name = r.get_str(key)
    if name is None or name == "":
        return default
    if key == "tar" and name == "none":
        return ""
    if not _PLAIN_NAME.match(name):
        raise r.at(key).error(
            name,
            "a plain file name inside the kernel package (letters, digits, '.', '_', '+', '-'; "
            "no '/', no leading '.')" + (", or 'none'" if key == "tar" else ""),
        )
    return name


def _cmdline(r: MapReader) -> str:
    cmdline = r.get_str("cmdline") or ""
    bad = next((c for c in cmdline if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise r.at("cmdline").error(
            cmdline,
            f"control character {bad!r} (a newline would add boot loader directives); "
            "the kernel command line is one line of printable characters",
        )
    return cmdline


def _kernel(value: object, loc: Loc) -> KernelSpec:
    r = MapReader(value, loc, ("image", "cmdline", "binary", "tar", "ucode"))
    return KernelSpec(
        image=r.required_str("image"),
        cmdline=_cmdline(r),
        binary=_kernel_file(r, "binary", "kernel"),
        tar=_kernel_file(r, "tar", "kernel.tar"),
        ucode=_kernel_file(r, "ucode", ""),
    )


def _file(value: object, loc: Loc) -> FileSpec:
    r = MapReader(
        value,
        loc,
        (
            "path",
            "directory",
            "symlink",
            "contents",
            "source",
            "metadata",
            "optional",
            "mode",
            "uid",
            "gid",
        ),
    )
    # A leading '/' is dropped, as LinuxKit does: paths are inside the image root.
    path = r.required_str("path")
    if path.startswith("/"):
        path = path[1:]
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise r.at("path").error(
            r.raw("path"),
            "a file path is a path in the image (a leading '/' is optional) and has no '..'",
        )
    contents = r.get_str("contents")
    source = r.get_str("source") or ""
    symlink = r.get_str("symlink") or ""
    metadata = r.get_str("metadata") or ""
    directory = bool(r.get_bool("directory"))
    set_keys = [
        k
        for k, on in (
            ("contents", contents is not None),
            ("source", bool(source)),
            ("symlink", bool(symlink)),
            ("metadata", bool(metadata)),
            ("directory", directory),
        )
        if on
    ]
    if len(set_keys) > 1:
        # `contents` may hold a secret: the error names it but never shows it.
        raise loc.error(
            {k: ("<not shown>" if k == "contents" else r.raw(k)) for k in set_keys},
            f"{' and '.join(set_keys)} cannot be used together; give only one of contents, source, symlink, "
            "metadata or directory",
        )
    if metadata and metadata != "yaml":
        raise r.at("metadata").error(metadata, "the only metadata is 'yaml'")
    home = source.startswith("~/")
    if (
        source.startswith("/")
        or (source.startswith("~") and not home)
        or ".." in source.split("/")
        or (home and not source[2:].strip("/"))
    ):
        raise r.at("source").error(
            source,
            "a source is a path relative to the image YAML's directory, or '~/PATH' in the home "
            "directory of the user who builds; it has no leading '/' and no '..'",
        )
    optional = bool(r.get_bool("optional"))
    if optional and not source:
        raise r.at("optional").error(True, "optional applies only to a file with a source")
    return FileSpec(
        path=path,
        line=loc.line,
        directory=directory,
        symlink=symlink,
        contents=contents,
        source=source,
        mode=r.get_octal("mode"),
        uid=parse_id(r.raw("uid"), r.at("uid")) if r.has("uid") else 0,
        gid=parse_id(r.raw("gid"), r.at("gid")) if r.has("gid") else 0,
        optional=optional,
        metadata=metadata,
        file=loc.file,
    )


_UNSUPPORTED_SECTIONS = {
    "trust": "content trust is not supported (images are built locally and content-addressed)",
}


def load_image_yaml(text: str | bytes, file: str) -> ImageSpec:
    """Parse one LinuxKit image YAML strictly."""
    doc = load_yaml(text, file)
    top = Loc(file, "", 1)
    if doc is None:
        doc = {}
    r = MapReader(
        doc,
        top,
        ("kernel", "init", "onboot", "onshutdown", "services", "files", "volumes"),
        what="an image YAML",
        refused=_UNSUPPORTED_SECTIONS,
    )
    kernel = _kernel(r.raw("kernel"), r.at("kernel")) if r.has("kernel") else None
    init = r.get_strs("init") or ()
    for i, ref in enumerate(init):
        if not ref:
            raise r.at("init").index(i, None).error(ref, "must not be empty")

    def containers(key: str) -> tuple[ContainerSpec, ...]:
        if not r.has(key) or r.raw(key) is None:
            return ()
        return tuple(parse_container(v, l) for l, v in items_of(r.raw(key), r.at(key)))

    spec = ImageSpec(
        file=file,
        kernel=kernel,
        init=init,
        onboot=containers("onboot"),
        onshutdown=containers("onshutdown"),
        services=containers("services"),
        files=tuple(_file(v, l) for l, v in r.items("files") or ()),
        volumes=tuple(_volume(v, l) for l, v in r.items("volumes") or ()),
    )
    _check_unique(spec)
    _check_volumes(spec)
    return spec


def _volume(value: object, loc: Loc) -> VolumeSpec:
    r = MapReader(value, loc, ("name", "image", "readonly", "format", "platforms"))
    name = r.required_str("name")
    if not VOLUME_NAME.match(name):
        raise r.at("name").error(
            name, "a volume name uses a-z, 0-9, '_', '-' and '.', and starts with a letter or digit"
        )
    fmt = r.get_str("format")
    if fmt not in (None, "", "filesystem"):
        raise r.at("format").error(
            fmt,
            "only 'filesystem' (the image's files in the volume) is supported; 'oci' layouts are not",
        )
    if r.has("platforms"):
        raise r.at("platforms").error(
            r.raw("platforms"), "platforms apply to 'format: oci' volumes, which are not supported"
        )
    image = r.get_str("image") or ""
    return VolumeSpec(
        name=name, image=image, readonly=bool(r.get_bool("readonly")), line=loc.line, file=loc.file
    )


def _check_volumes(spec: ImageSpec) -> None:
    """Volume names unique; a container's bind of a volume names a declared one, and a
    read-only volume is bound read-only (LinuxKit's rules)."""
    vols: dict[str, VolumeSpec] = {}
    for v in spec.volumes:
        if v.name in vols:
            first = vols[v.name]
            raise SchemaError(
                v.file or spec.file,
                v.line,
                "volumes.name",
                v.name,
                f"volume names must be unique (first used at {first.file or spec.file}:{first.line})",
            )
        vols[v.name] = v
    known = ", ".join(sorted(vols)) or "none declared"
    for c in spec.containers():
        for key, binds in (("binds", c.binds), ("binds.add", c.binds_add)):
            for i, b in enumerate(binds or ()):
                parts = b.split(":")
                if parts[0].startswith("/"):
                    continue
                where = (c.file or spec.file, c.line, f"{c.name}.{key}[{i}]")
                vol = vols.get(parts[0])
                if vol is None:
                    raise SchemaError(
                        *where, b, f"no volume {parts[0]!r} in `volumes:` (volumes: {known})"
                    )
                if vol.readonly and (len(parts) < 3 or "ro" not in parts[2].split(",")):
                    raise SchemaError(
                        *where, b, f"volume {vol.name!r} is readonly: bind it with ':ro'"
                    )
        for i, m in enumerate(c.mounts or ()):
            if m.type != "bind" or m.source.startswith("/"):
                continue
            where = (c.file or spec.file, c.line, f"{c.name}.mounts[{i}].source")
            vol = vols.get(m.source)
            if vol is None:
                raise SchemaError(
                    *where,
                    m.source,
                    f"a bind source is an absolute path or a volume (volumes: {known})",
                )
            if vol.readonly and "ro" not in m.options:
                raise SchemaError(
                    *where, m.source, f"volume {vol.name!r} is readonly: add 'ro' to the options"
                )


def with_volume_paths(c: ContainerSpec, volumes: Sequence[VolumeSpec]) -> ContainerSpec:
    """The container with volume names in its binds and bind mounts replaced by the
    volume's path in the image (as LinuxKit does before applying the package label)."""
    paths = {v.name: v.merged for v in volumes}
    if not paths:
        return c

    def bind(b: str) -> str:
        src, sep, rest = b.partition(":")
        return paths[src] + sep + rest if src in paths else b

    def mount(m: Mount) -> Mount:
        if m.type == "bind" and m.source in paths:
            return Mount(m.destination, m.type, paths[m.source], m.options)
        return m

    return replace(
        c,
        binds=None if c.binds is None else tuple(bind(b) for b in c.binds),
        binds_add=None if c.binds_add is None else tuple(bind(b) for b in c.binds_add),
        mounts=None if c.mounts is None else tuple(mount(m) for m in c.mounts),
    )


def _check_unique(spec: ImageSpec) -> None:
    """Service names are unique, and no onboot or onshutdown container takes one: a
    service is /containers/services/NAME and runs (on runc or containerd) under NAME
    while onshutdown containers run. Onboot and onshutdown containers are numbered
    (/containers/onboot/NNN-NAME) and run one at a time, so their names may repeat,
    as in LinuxKit."""
    services: dict[str, ContainerSpec] = {}
    for c in spec.services:
        first = services.get(c.name)
        if first is not None:
            raise SchemaError(
                c.file or spec.file,
                c.line,
                "name",
                c.name,
                f"container names must be unique among services "
                f"(first used at {first.file or spec.file}:{first.line})",
            )
        services[c.name] = c
    for c in (*spec.onboot, *spec.onshutdown):
        service = services.get(c.name)
        if service is not None:
            raise SchemaError(
                c.file or spec.file,
                c.line,
                "name",
                c.name,
                f"container names must be unique: the service at "
                f"{service.file or spec.file}:{service.line} has this name; rename one of them",
            )


def merge_images(specs: Sequence[ImageSpec]) -> ImageSpec:
    """Combine image YAMLs like `linuxkit build a.yml b.yml`: a later kernel replaces an
    earlier one, every list is appended; container names stay unique."""
    if not specs:
        raise ValueError("merge_images needs at least one ImageSpec")
    kernel: KernelSpec | None = None
    for s in specs:
        if s.kernel is not None:
            kernel = s.kernel
    merged = ImageSpec(
        file=specs[-1].file if len(specs) == 1 else "+".join(s.file for s in specs),
        kernel=kernel,
        init=tuple(ref for s in specs for ref in s.init),
        onboot=tuple(c for s in specs for c in s.onboot),
        onshutdown=tuple(c for s in specs for c in s.onshutdown),
        services=tuple(c for s in specs for c in s.services),
        files=tuple(f for s in specs for f in s.files),
        volumes=tuple(v for s in specs for v in s.volumes),
    )
    _check_unique(merged)
    _check_volumes(merged)
    return merged

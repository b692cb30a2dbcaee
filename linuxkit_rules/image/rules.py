"""`linuxkit_image`: an image YAML + built packages + kernel -> bootable outputs."""
from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from typing import Mapping

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address
from pants.engine.fs import Digest, MergeDigests
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import (
    AllTargets,
    FieldSet,
    InferDependenciesRequest,
    InferredDependencies,
    Target,
)
from pants.engine.unions import UnionMembership, UnionRule
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import DEFAULT_ARCH, Arch, check_formats, check_listed
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.core.media.image_build import ImageManifest
from linuxkit_rules.core.spec.addresses import normalize_address
from linuxkit_rules.core.spec.references import (
    IMAGE_MAP_OPTION,
    MapEntryError,
    RefMaps,
    check_image_map,
    linuxkit_ref_to_address,
    missing_image_hint,
    split_reference,
)
from linuxkit_rules.image.format_tools import FormatTools, FormatToolsRequest
from linuxkit_rules.image.sources import FileSources, ImageYamlRequest, ParsedImage
from linuxkit_rules.kernel.rules import (
    BuiltKernel,
    KernelBuildRequest,
    is_kernel,
    kernel_build_request,
)
from linuxkit_rules.kernel.target_types import KernelArchesField
from linuxkit_rules.package.rules import (
    BuiltLinuxkitPackage,
    LinuxkitPackageFieldSet,
    PackageArchRequest,
)
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import (
    LinuxkitImageArchField,
    LinuxkitImageDiskSizeField,
    LinuxkitImageExtendsField,
    LinuxkitImageFormatsField,
    LinuxkitImageInitrdCompressionField,
    LinuxkitImageKernelField,
    LinuxkitImageSourceField,
    LinuxkitPackageTarget,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult

logger = logging.getLogger(__name__)


class UnknownImageReference(LinuxkitError):
    pass


@dataclass(frozen=True)
class LinuxkitImageFieldSet(PackageFieldSet):
    required_fields = (LinuxkitImageSourceField,)

    source: LinuxkitImageSourceField
    extends: LinuxkitImageExtendsField
    formats: LinuxkitImageFormatsField
    kernel: LinuxkitImageKernelField
    disk_size: LinuxkitImageDiskSizeField
    initrd_compression: LinuxkitImageInitrdCompressionField
    arch: LinuxkitImageArchField

    @property
    def name(self) -> str:
        """The base of the output names: the target name, plus `-ARCH` unless amd64
        or the name already ends so (`sshd-arm64` with `arch="arm64"`)."""
        name, suffix = self.address.target_name, self.architecture.suffix()
        return name if name.endswith(suffix) else name + suffix

    @property
    def architecture(self) -> Arch:
        return Arch.parse(self.arch.value or DEFAULT_ARCH.value, f"{self.address}: arch")


@dataclass(frozen=True)
class LinuxkitTargets:
    """Every package and kernel target, by normalized address spec."""

    by_spec: tuple[tuple[str, Target], ...]

    def lookup(self, ref: str, yaml_path: str, orgs: Mapping[str, str]) -> Target | None:
        spec = normalize_address(
            linuxkit_ref_to_address(ref, orgs) or ref, posixpath.dirname(yaml_path)
        )
        return dict(self.by_spec).get(spec) if spec else None

    def at(self, address: str, yaml_path: str) -> Target | None:
        spec = normalize_address(address, posixpath.dirname(yaml_path))
        return dict(self.by_spec).get(spec) if spec else None

    def known(self) -> str:
        return ", ".join(f"//{spec}" for spec, _ in self.by_spec) or "none"


@rule(desc="Find LinuxKit packages and kernels", level=LogLevel.DEBUG)
async def find_linuxkit_targets(
    all_targets: AllTargets, union_membership: UnionMembership
) -> LinuxkitTargets:
    found = sorted(
        (f"{t.address.spec_path}:{t.address.target_name}", t)
        for t in all_targets
        if isinstance(t, LinuxkitPackageTarget) or is_kernel(t, union_membership)
    )
    return LinuxkitTargets(tuple(found))


def ref_maps(linuxkit: LinuxkitSubsystem, kernel_field_set: bool = False) -> RefMaps:
    """The subsystem's maps; with the target's `kernel` field set, `kernel_image` is unused."""
    try:
        check_image_map(linuxkit.image_map)
    except MapEntryError as e:
        raise UnknownImageReference(str(e)) from None
    return RefMaps(
        orgs=dict(linuxkit.orgs),
        image_map=dict(linuxkit.image_map),
        kernel_image="" if kernel_field_set else linuxkit.kernel_image,
    )


def _misplaced(ref: str, where: list[str], maps: RefMaps) -> str:
    """An init-only image (containerd) listed as a container: what to do."""
    address = linuxkit_ref_to_address(ref, maps.orgs) or ""
    if address.rstrip("/").rsplit("/", 1)[-1] != "containerd":
        return ""
    bad = [w for w in where if not w.startswith("init[")]
    if not bad:
        return ""
    return (
        f"image {ref!r} ({', '.join(bad)}): containerd is an init image; move it to `init:` "
        "(init then starts it and runs the `services:` as containerd tasks)"
    )


def resolve_refs(
    parsed: ParsedImage,
    targets: LinuxkitTargets,
    maps: RefMaps,
    kernel_override: bool = False,
    log: bool = False,
) -> dict[str, Target]:
    """Each image reference's target. With `kernel_override` (the target's `kernel` field)
    the YAML's kernel image is not looked up: `override_kernel` replaces it. With `log`,
    each reference a map chose is printed (`redis:4.0.5-alpine -> //pkg/redis`)."""
    resolved: dict[str, Target] = {}
    places = parsed.spec.ref_places()
    for ref in parsed.spec.image_refs():
        if kernel_override and places[ref] == ["kernel.image"]:
            continue
        misplaced = _misplaced(ref, places[ref], maps)
        if misplaced:
            raise UnknownImageReference(f"{parsed.path}: {misplaced}")
        address, via = maps.address(ref)
        target = targets.at(address or ref, parsed.path)
        where = f"{parsed.path}: image {ref!r} ({', '.join(places[ref])})"
        if target is None and via:
            raise UnknownImageReference(
                f"{where} is mapped to {address} by {via}, which is not a package or kernel "
                f"target of this repository: point the entry at one of: {targets.known()}"
            )
        if target is None and maps.is_outside(ref):
            repo = split_reference(ref)[0]
            raise UnknownImageReference(
                f"{where} is not a LinuxKit package and {IMAGE_MAP_OPTION} has no entry for "
                f'it: add one to pants.toml, e.g. `image_map = {{ "{repo}:*" = "//pkg/NAME" }}` '
                f"under [linuxkit], naming one of: {targets.known()}"
            )
        if target is None:
            hint = missing_image_hint(ref, maps.orgs)
            raise UnknownImageReference(
                f"{where} is neither a package or kernel target of this repository nor a "
                f"LinuxKit name mapped by [linuxkit].orgs ({dict(maps.orgs)})"
                + (f": {hint}" if hint else "")
                + f"; add a package directory for it or remove the entry; known: {targets.known()}"
            )
        if via and log:
            logger.info(f"{parsed.path}: {ref} -> {address} ({via})")
        resolved[ref] = target
    return resolved


def override_kernel(
    parsed: ParsedImage,
    resolved: dict[str, Target],
    targets: LinuxkitTargets,
    field: LinuxkitImageKernelField,
    address: Address,
    orgs: Mapping[str, str],
    union_membership: UnionMembership,
) -> None:
    """Point the YAML's kernel reference at the `kernel` field's target, if set."""
    if not field.value:
        return
    target = targets.lookup(field.value, parsed.path, orgs)
    if target is None or not is_kernel(target, union_membership):
        raise UnknownImageReference(
            f"{address}: kernel: {field.value!r} is not a kernel target; known targets: {targets.known()}"
        )
    if parsed.spec.kernel is None:
        raise UnknownImageReference(
            f"{address}: kernel: {parsed.path} has no `kernel:` section to replace"
        )
    resolved[parsed.spec.kernel.image] = target


@dataclass(frozen=True)
class LinuxkitImageDependenciesInferenceFieldSet(FieldSet):
    required_fields = (LinuxkitImageSourceField,)
    source: LinuxkitImageSourceField
    kernel: LinuxkitImageKernelField
    extends: LinuxkitImageExtendsField


class InferLinuxkitImageDependencies(InferDependenciesRequest):
    infer_from = LinuxkitImageDependenciesInferenceFieldSet


@rule(desc="Infer LinuxKit image dependencies", level=LogLevel.DEBUG)
async def infer_image_dependencies(
    request: InferLinuxkitImageDependencies,
    linuxkit: LinuxkitSubsystem,
    union_membership: UnionMembership,
) -> InferredDependencies:
    parsed, targets = await MultiGet(
        Get(ParsedImage, ImageYamlRequest(request.field_set.source, request.field_set.extends)),
        Get(LinuxkitTargets),
    )
    kernel_set = bool(request.field_set.kernel.value)
    resolved = resolve_refs(parsed, targets, ref_maps(linuxkit, kernel_set), kernel_set)
    override_kernel(
        parsed,
        resolved,
        targets,
        request.field_set.kernel,
        request.field_set.address,
        dict(linuxkit.orgs),
        union_membership,
    )
    return InferredDependencies(sorted({t.address for t in resolved.values()}))


@dataclass(frozen=True)
class BuiltImage:
    digest: Digest
    files: tuple[str, ...]


def sbom_output(name: str) -> str:
    """The image's SPDX SBOM, written next to its formats."""
    return f"{name}.spdx.json"


def _spec(target: Target) -> str:
    return f"{target.address.spec_path}:{target.address.target_name}"


@dataclass(frozen=True)
class ImageContents:
    """What an image's references built, each with its reference and target spec,
    in the YAML's order: packages, then kernels."""

    parsed: ParsedImage
    packages: tuple[tuple[str, str, BuiltLinuxkitPackage], ...]
    kernels: tuple[tuple[str, str, BuiltKernel], ...]


@rule(desc="Build the packages and kernels of a LinuxKit image", level=LogLevel.DEBUG)
async def build_image_contents(
    field_set: LinuxkitImageFieldSet, linuxkit: LinuxkitSubsystem, union_membership: UnionMembership
) -> ImageContents:
    parsed, targets = await MultiGet(
        Get(ParsedImage, ImageYamlRequest(field_set.source, field_set.extends)),
        Get(LinuxkitTargets),
    )
    kernel_set = bool(field_set.kernel.value)
    resolved = resolve_refs(parsed, targets, ref_maps(linuxkit, kernel_set), kernel_set, log=True)
    override_kernel(
        parsed,
        resolved,
        targets,
        field_set.kernel,
        field_set.address,
        dict(linuxkit.orgs),
        union_membership,
    )
    arch = field_set.architecture
    package_refs = [r for r, t in resolved.items() if isinstance(t, LinuxkitPackageTarget)]
    maybe_kernels = (
        (r, kernel_build_request(t, arch, union_membership)) for r, t in resolved.items()
    )
    kernel_requests = {r: k for r, k in maybe_kernels if k is not None}
    kernel_refs = list(kernel_requests)
    check_formats(arch, field_set.formats.value or (), f"{field_set.address}: formats")
    for r in kernel_refs:
        arches = resolved[r][KernelArchesField].value or ()
        check_listed(
            arch.value, arches, f"{field_set.address} ({arch.value}): kernel {resolved[r].address}"
        )
    packages = await MultiGet(
        Get(
            BuiltLinuxkitPackage,
            PackageArchRequest(LinuxkitPackageFieldSet.create(resolved[r]), arch),
        )
        for r in package_refs
    )
    kernels = await MultiGet(
        Get(BuiltKernel, KernelBuildRequest, kernel_requests[r]) for r in kernel_refs
    )
    return ImageContents(
        parsed,
        tuple((r, _spec(resolved[r]), p) for r, p in zip(package_refs, packages)),
        tuple((r, _spec(resolved[r]), k) for r, k in zip(kernel_refs, kernels)),
    )


@rule(desc="Build a LinuxKit image", level=LogLevel.DEBUG)
async def build_linuxkit_image(field_set: LinuxkitImageFieldSet) -> BuiltImage:
    contents = await Get(ImageContents, LinuxkitImageFieldSet, field_set)
    parsed, packages, kernels = contents.parsed, contents.packages, contents.kernels
    arch = field_set.architecture
    files = await Get(FileSources, ParsedImage, parsed)
    refs = {r: {"kind": "package", "path": p.path, "ref": p.ref} for r, _, p in packages}
    refs.update({r: {"kind": "kernel", "path": k.directory} for r, _, k in kernels})
    name = field_set.name
    formats = [
        Format.parse(f, f"{field_set.address}: formats") for f in (field_set.formats.value or ())
    ]
    # kernel+initrd and kernel+squashfs share NAME-kernel and NAME-cmdline
    outputs = list(dict.fromkeys(o for f in formats for o in f.outputs(name))) + [sbom_output(name)]
    sbom = [p.sbom_component(spec) for _, spec, p in packages]
    sbom += [k.sbom_component(spec) for _, spec, k in kernels]
    tools = await Get(FormatTools, FormatToolsRequest(tuple(formats), arch.value))
    inputs = await Get(
        Digest,
        MergeDigests(
            [
                parsed.digest,
                files.digest,
                tools.loader_debs.digest,
                *(p.digest for _, _, p in packages),
                *(k.digest for _, _, k in kernels),
            ]
        ),
    )
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            ImageManifest(
                name=name,
                yaml=tuple(parsed.paths),
                refs=refs,
                formats=tuple(f.value for f in formats),
                files_present=tuple(files.present),
                sbom={"output": sbom_output(name), "components": sbom},
                loader_debs=tuple(tools.loader_debs.files),
                toolchain=tools.manifest(),
                disk_size_mib=field_set.disk_size.mib,
                initrd_compression=field_set.initrd_compression.value or "gzip",
            ),
            inputs,
            f"Assembling LinuxKit image {field_set.address}",
            output_files=outputs,
            verify_sha256=tools.loader_debs.checks() or None,
            host_tools=tools.keys(),
            cache_scope=files.cache_scope(),
            immutable_input_digests=tools.immutable_inputs(),
        ),
    )
    return BuiltImage(result.output_digest, tuple(outputs))


@rule
async def package_linuxkit_image(field_set: LinuxkitImageFieldSet) -> BuiltPackage:
    built = await Get(BuiltImage, LinuxkitImageFieldSet, field_set)
    return BuiltPackage(built.digest, tuple(BuiltPackageArtifact(f) for f in built.files))


def rules():
    return [
        *collect_rules(),
        UnionRule(PackageFieldSet, LinuxkitImageFieldSet),
        UnionRule(InferDependenciesRequest, InferLinuxkitImageDependencies),
    ]

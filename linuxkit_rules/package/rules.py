"""`linuxkit_package`: locked .debs + files + build.yml -> an OCI image layout."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.addresses import UnparsedAddressInputs
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileEntry,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    SymlinkEntry,
)
from pants.engine.internals.native_engine import EMPTY_DIGEST
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import InvalidFieldException, Targets
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import DEFAULT_ARCH, Arch, UnsupportedArch, check_listed
from linuxkit_rules.core.debian.lock import LockedPackage
from linuxkit_rules.core.errors import DebianError, RegistryError
from linuxkit_rules.core.oci.package_build import PackageManifest
from linuxkit_rules.core.oci.publish import PullManifest
from linuxkit_rules.core.oci.registry import parse_reference
from linuxkit_rules.core.spec.build_yml import BuildYml, load_build_yml
from linuxkit_rules.core.spec.package_sources import (
    PackageSources,
    PackageSourcesError,
    split_package_sources,
)
from linuxkit_rules.target_types import (
    LinuxkitPackageBaseImageField,
    LinuxkitPackageBuildYmlField,
    LinuxkitPackageDebianPackagesField,
    LinuxkitPackageDockerfileField,
    LinuxkitPackageExcludeDebianPackagesField,
    LinuxkitPackageOciArchivesField,
    LinuxkitPackageRemoveField,
    LinuxkitPackageSourcesField,
    LinuxkitPackageSymlinksField,
)
from linuxkit_rules.util_rules.core_tool import (
    CoreCommand,
    CoreCommandSources,
    CoreProcessRequest,
    CoreProcessResult,
)
from linuxkit_rules.util_rules.debian import (
    DebianLockfile,
    DebianLockRequest,
    FetchDebsRequest,
    FetchedDebs,
    sbom_deb,
)
from linuxkit_rules.util_rules.outputs import output_folder


@dataclass(frozen=True)
class LinuxkitPackageFieldSet(PackageFieldSet):
    required_fields = (LinuxkitPackageSourcesField,)

    sources: LinuxkitPackageSourcesField
    build_yml: LinuxkitPackageBuildYmlField
    debian_packages: LinuxkitPackageDebianPackagesField
    exclude_debian_packages: LinuxkitPackageExcludeDebianPackagesField
    remove: LinuxkitPackageRemoveField
    symlinks: LinuxkitPackageSymlinksField
    oci_archives: LinuxkitPackageOciArchivesField
    base_image: LinuxkitPackageBaseImageField
    dockerfile: LinuxkitPackageDockerfileField

    @property
    def name(self) -> str:
        return self.address.target_name

    @property
    def output_path(self) -> str:
        return f"{output_folder(self.address)}/{self.name}.oci.tar"


@dataclass(frozen=True)
class BuiltLinuxkitPackage:
    """A package's OCI layout tar at `path` inside `digest`."""

    digest: Digest
    path: str
    ref: str  # org/image:tag
    size: int  # bytes of the layer, uncompressed
    debs: tuple[LockedPackage, ...] = ()  # the locked Debian closure it was built from

    def sbom_component(self, address: str) -> dict:
        """This package as an SBOM component (see core/reports/sbom.py)."""
        name, _, tag = self.ref.rpartition(":")
        return {
            "kind": "package",
            "address": address,
            "name": name,
            "version": tag,
            "debs": [sbom_deb(p) for p in self.debs],
        }


@dataclass(frozen=True)
class PackageFiles:
    """A package's `sources` (repository-relative, in `digest`) sorted by role."""

    roles: PackageSources
    digest: Digest


@rule(desc="Collect a package's files", level=LogLevel.DEBUG)
async def package_files(field_set: LinuxkitPackageFieldSet) -> PackageFiles:
    files = await Get(SourceFiles, SourceFilesRequest([field_set.sources]))
    try:
        roles = split_package_sources(
            str(field_set.address),
            field_set.address.spec_path,
            files.snapshot.files,
            field_set.build_yml.value or "build.yml",
            field_set.dockerfile.value,
        )
    except PackageSourcesError as e:
        raise InvalidFieldException(str(e)) from None
    return PackageFiles(roles, files.snapshot.digest)


@dataclass(frozen=True)
class PackageRootfs:
    """The package's `rootfs/` files, below `rootfs/` in `digest`."""

    digest: Digest


@rule(desc="Collect a package's root filesystem files", level=LogLevel.DEBUG)
async def package_rootfs(field_set: LinuxkitPackageFieldSet) -> PackageRootfs:
    files = await Get(PackageFiles, LinuxkitPackageFieldSet, field_set)
    rootfs = EMPTY_DIGEST
    if files.roles.rootfs:
        spec_path = field_set.address.spec_path
        prefix = f"{spec_path}/rootfs" if spec_path else "rootfs"
        # A glob over the directory, not the file names: busybox-style names such as `[` are globs.
        subset = await Get(Digest, DigestSubset(files.digest, PathGlobs([f"{prefix}/**"])))
        rootfs = await Get(Digest, RemovePrefix(subset, prefix))
    if field_set.symlinks.value:
        links = await Get(
            Digest,
            CreateDigest(SymlinkEntry(p, t) for p, t in sorted(field_set.symlinks.value.items())),
        )
        rootfs = await Get(Digest, MergeDigests([rootfs, links]))
    # Always a `rootfs` directory, empty or not: the build step reads it.
    return PackageRootfs(await Get(Digest, AddPrefix(rootfs, "rootfs")))


@dataclass(frozen=True)
class PackageBuildYml:
    path: str
    build_yml: BuildYml


@rule(desc="Read a package's build.yml", level=LogLevel.DEBUG)
async def read_package_build_yml(field_set: LinuxkitPackageFieldSet) -> PackageBuildYml:
    files = await Get(PackageFiles, LinuxkitPackageFieldSet, field_set)
    path = files.roles.build_yml
    contents = await Get(DigestContents, DigestSubset(files.digest, PathGlobs([path])))
    return PackageBuildYml(path, load_build_yml(contents[0].content, path))


def content_tag(*fingerprints: str) -> str:
    """The package tag: a hash of every input of its build (LinuxKit tags by tree hash)."""
    return hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class PackageDebsRequest:
    field_set: LinuxkitPackageFieldSet
    architecture: str


@dataclass(frozen=True)
class PackageDebClosure:
    """The locked Debian packages a package is built from, sorted by name."""

    lockfile: str
    packages: tuple[LockedPackage, ...]


@rule(desc="Resolve a package's Debian closure from the lock", level=LogLevel.DEBUG)
async def package_deb_closure(request: PackageDebsRequest) -> PackageDebClosure:
    field_set = request.field_set
    roots = field_set.debian_packages.value or ()
    if not roots:
        return PackageDebClosure("", ())
    lockfile = await Get(DebianLockfile, DebianLockRequest(request.architecture))
    try:
        packages = lockfile.lock.closure(roots, field_set.exclude_debian_packages.value or ())
    except DebianError as e:
        raise DebianError(f"{field_set.address}: {e}") from None
    return PackageDebClosure(lockfile.path, tuple(packages))


@rule(desc="Fetch a package's Debian packages", level=LogLevel.DEBUG)
async def fetch_package_debs(request: PackageDebsRequest) -> FetchedDebs:
    closure = await Get(PackageDebClosure, PackageDebsRequest, request)
    if not closure.packages:
        return FetchedDebs(EMPTY_DIGEST, ())
    return await Get(
        FetchedDebs, FetchDebsRequest(closure.packages, closure.lockfile, request.architecture)
    )


@dataclass(frozen=True)
class DockerfilePackageRequest:
    """Build a package whose `dockerfile` is set (rule in package/dockerfile.py)."""

    field_set: LinuxkitPackageFieldSet
    architecture: str


@dataclass(frozen=True)
class BaseImageRequest:
    ref: str  # "" for none
    architecture: str
    address: str


@dataclass(frozen=True)
class PulledBaseImage:
    """A base image as an OCI layout tar at `path` in `digest` (both empty for none)."""

    digest: Digest
    path: str


@rule(desc="Pull a package's base image", level=LogLevel.DEBUG)
async def pull_base_image(request: BaseImageRequest) -> PulledBaseImage:
    if not request.ref:
        return PulledBaseImage(EMPTY_DIGEST, "")
    ref = parse_reference(request.ref, f"{request.address}: base_image")
    if not ref.digest:
        raise RegistryError(
            f"{request.address}: base_image {request.ref!r} has no digest; "
            "name it as REGISTRY/REPOSITORY@sha256:<hex> so that builds are reproducible"
        )
    path = "__base/base.oci.tar"
    # Keyed by the reference (which holds the digest) only: pulled once per digest.
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            PullManifest(
                ref=str(ref), arch=request.architecture, output=path, address="base_image"
            ),
            EMPTY_DIGEST,
            f"Pulling {ref}",
            output_files=[path],
        ),
    )
    return PulledBaseImage(result.output_digest, path)


@dataclass(frozen=True)
class PackageArchRequest:
    """Build a package for one architecture, which its build.yml `arches` must list."""

    field_set: LinuxkitPackageFieldSet
    arch: Arch


def arch_output_path(field_set: LinuxkitPackageFieldSet, arch: Arch) -> str:
    """`DIR/NAME.oci.tar` for amd64, `DIR/NAME-ARCH.oci.tar` for the others."""
    return field_set.output_path[: -len(".oci.tar")] + f"{arch.suffix()}.oci.tar"


@dataclass(frozen=True)
class OciArchivesRequest:
    field_set: LinuxkitPackageFieldSet
    arch: Arch


@dataclass(frozen=True)
class OciArchives:
    """The `oci_archives` packages' layout tars, at `rootfs/oci/NAME.oci.tar` in `digest`."""

    digest: Digest


@rule(desc="Build the OCI archives a package holds", level=LogLevel.DEBUG)
async def package_oci_archives(request: OciArchivesRequest) -> OciArchives:
    field = request.field_set.oci_archives
    if not field.value:
        return OciArchives(EMPTY_DIGEST)
    origin = f"the `oci_archives` field of {request.field_set.address}"
    targets = await Get(Targets, UnparsedAddressInputs, field.to_unparsed_address_inputs())
    names: dict[str, str] = {}
    for tgt in targets:
        if not LinuxkitPackageFieldSet.is_applicable(tgt):
            raise InvalidFieldException(
                f"{origin}: {tgt.address} is a `{tgt.alias}`, not a `linuxkit_package`"
            )
        name = tgt.address.target_name
        if name in names:
            raise InvalidFieldException(
                f"{origin}: {names[name]} and {tgt.address} would both be /oci/{name}.oci.tar"
            )
        names[name] = str(tgt.address)
    built = await MultiGet(
        Get(
            BuiltLinuxkitPackage,
            PackageArchRequest(LinuxkitPackageFieldSet.create(t), request.arch),
        )
        for t in targets
    )
    entries = await MultiGet(Get(DigestEntries, Digest, b.digest) for b in built)
    files = []
    for tgt, b, es in zip(targets, built, entries):
        (entry,) = [e for e in es if isinstance(e, FileEntry) and e.path == b.path]
        files.append(
            FileEntry(
                f"rootfs/oci/{tgt.address.target_name}.oci.tar",
                entry.file_digest,
                is_executable=False,
            )
        )
    return OciArchives(await Get(Digest, CreateDigest(files)))


@rule(desc="Build a LinuxKit package for amd64", level=LogLevel.DEBUG)
async def build_default_arch_package(field_set: LinuxkitPackageFieldSet) -> BuiltLinuxkitPackage:
    return await Get(BuiltLinuxkitPackage, PackageArchRequest(field_set, DEFAULT_ARCH))


@rule(desc="Build a LinuxKit package", level=LogLevel.DEBUG)
async def build_linuxkit_package(request: PackageArchRequest) -> BuiltLinuxkitPackage:
    field_set, arch_ = request.field_set, request.arch
    arch = arch_.value
    build_yml = await Get(PackageBuildYml, LinuxkitPackageFieldSet, field_set)
    check_listed(
        arch, build_yml.build_yml.arches, f"package {field_set.address} ({build_yml.path})"
    )
    if field_set.dockerfile.value:
        if field_set.oci_archives.value:
            raise InvalidFieldException(
                f"package {field_set.address}: `oci_archives` is not supported with `dockerfile`; "
                "COPY the archive in the Dockerfile, or build the package from `debian_packages`"
            )
        if arch_ is not DEFAULT_ARCH:
            raise UnsupportedArch(
                f"package {field_set.address}: `dockerfile` packages are built by the host's Docker "
                f"engine for {DEFAULT_ARCH.value} only, not {arch}"
            )
        return await Get(BuiltLinuxkitPackage, DockerfilePackageRequest(field_set, arch))
    rootfs, archives = await MultiGet(
        Get(PackageRootfs, LinuxkitPackageFieldSet, field_set),
        Get(OciArchives, OciArchivesRequest(field_set, arch_)),
    )
    debs, closure, base = await MultiGet(
        Get(FetchedDebs, PackageDebsRequest(field_set, arch)),
        Get(PackageDebClosure, PackageDebsRequest(field_set, arch)),
        Get(
            PulledBaseImage,
            BaseImageRequest(field_set.base_image.value or "", arch, str(field_set.address)),
        ),
    )
    inputs = await Get(
        Digest, MergeDigests([debs.digest, rootfs.digest, archives.digest, base.digest])
    )
    byml = build_yml.build_yml
    output = arch_output_path(field_set, arch_)
    manifest = PackageManifest(
        build_yml=byml.config_json,
        labels=byml.oci_labels(),
        debs=debs.files,
        remove=tuple(field_set.remove.value or ()),
        arch=arch,
        ref="",
        rootfs="rootfs",
        output=output,
        base=base.path or None,
    )
    # The tag names what makes the package: its inputs and the code of the one
    # command that builds it, not the rest of core.
    code = await Get(CoreCommandSources, CoreCommand("package"))
    tag = content_tag(
        inputs.fingerprint, code.digest.fingerprint, manifest.tag_input(debs.checks())
    )
    ref = byml.reference(tag)
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            replace(manifest, ref=ref),
            inputs,
            f"Building LinuxKit package {ref} ({arch})",
            verify_sha256=debs.checks(),
            output_files=[output],
        ),
    )
    report = json.loads(result.stdout.decode())
    return BuiltLinuxkitPackage(result.output_digest, output, ref, report["size"], closure.packages)


@dataclass(frozen=True)
class BuiltLinuxkitPackages:
    """A package built for every architecture in its build.yml `arches`, in that order."""

    arches: tuple[Arch, ...]
    built: tuple[BuiltLinuxkitPackage, ...]

    def index_tag(self) -> str:
        """The tag of the OCI index over all architectures: the one architecture's tag,
        or a hash of every architecture's tag."""
        tags = [b.ref.rpartition(":")[2] for b in self.built]
        return tags[0] if len(tags) == 1 else content_tag(*tags)

    def for_docker(self) -> BuiltLinuxkitPackage:
        """The build a Docker engine on this (amd64) host loads: amd64's, else the first."""
        return dict(zip(self.arches, self.built)).get(DEFAULT_ARCH, self.built[0])


@rule(desc="Build a LinuxKit package for each of its architectures", level=LogLevel.DEBUG)
async def build_all_arches(field_set: LinuxkitPackageFieldSet) -> BuiltLinuxkitPackages:
    build_yml = await Get(PackageBuildYml, LinuxkitPackageFieldSet, field_set)
    arches = tuple(
        Arch.parse(a, f"package {field_set.address} ({build_yml.path}): arches")
        for a in build_yml.build_yml.arches
    )
    if field_set.dockerfile.value and DEFAULT_ARCH in arches:
        arches = (DEFAULT_ARCH,)  # the host's engine builds for the host only
    built = await MultiGet(
        Get(BuiltLinuxkitPackage, PackageArchRequest(field_set, a)) for a in arches
    )
    return BuiltLinuxkitPackages(arches, tuple(built))


@rule
async def package_linuxkit_package(field_set: LinuxkitPackageFieldSet) -> BuiltPackage:
    all_arches = await Get(BuiltLinuxkitPackages, LinuxkitPackageFieldSet, field_set)
    digest = await Get(Digest, MergeDigests(b.digest for b in all_arches.built))
    return BuiltPackage(
        digest,
        tuple(
            BuiltPackageArtifact(
                built.path,
                extra_log_lines=(
                    f"    {built.ref} ({arch.value}, {built.size / 1e6:.1f} MB unpacked)",
                ),
            )
            for arch, built in zip(all_arches.arches, all_arches.built)
        ),
    )


def rules():
    return [*collect_rules(), UnionRule(PackageFieldSet, LinuxkitPackageFieldSet)]

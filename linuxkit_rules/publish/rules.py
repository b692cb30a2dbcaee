"""`pants publish`: packages go up as OCI images (an index), images as OCI artifacts.

The push runs as an interactive process (never cached) of the core tool, with
only the credential-related environment variables of the user's shell.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage
from pants.core.goals.publish import (
    PublishFieldSet,
    PublishOutputData,
    PublishPackages,
    PublishProcesses,
    PublishRequest,
)
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, MergeDigests
from pants.engine.process import InteractiveProcess, Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import DEFAULT_ARCH, Arch
from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.core.oci.docker_engine import DockerLoadManifest
from linuxkit_rules.core.oci.publish import PushManifest, publish_targets
from linuxkit_rules.package.rules import BuiltLinuxkitPackages, LinuxkitPackageFieldSet
from linuxkit_rules.publish.clouds import CloudPublishRequest
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import (
    LinuxkitImageArchField,
    LinuxkitImageCloudsField,
    LinuxkitImageRepositoryField,
    LinuxkitImageSourceField,
    LinuxkitPackageSourcesField,
    LinuxkitRegistriesField,
    LinuxkitReleaseTagsField,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest

# What a push or load may read from the user's environment; nothing else goes in.
CREDENTIAL_ENV = (
    "HOME",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH",
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
)
# A `registries` entry that means "load into the Docker engine at DOCKER_HOST".
DOCKER_ENGINE = "docker-daemon"


class PublishLinuxkitPackageRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class LinuxkitPackagePublishFieldSet(PublishFieldSet):
    publish_request_type = PublishLinuxkitPackageRequest
    required_fields = (LinuxkitPackageSourcesField,)

    sources: LinuxkitPackageSourcesField
    registries: LinuxkitRegistriesField
    release_tags: LinuxkitReleaseTagsField

    def get_output_data(self) -> PublishOutputData:
        return PublishOutputData({"publisher": "linuxkit", **super().get_output_data()})


class PublishLinuxkitImageRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class LinuxkitImagePublishFieldSet(PublishFieldSet):
    publish_request_type = PublishLinuxkitImageRequest
    required_fields = (LinuxkitImageSourceField,)

    source: LinuxkitImageSourceField
    registries: LinuxkitRegistriesField
    release_tags: LinuxkitReleaseTagsField
    repository: LinuxkitImageRepositoryField
    clouds: LinuxkitImageCloudsField
    arch: LinuxkitImageArchField


@dataclass(frozen=True)
class PushProcessRequest:
    """One core-tool `push` (or `docker-load`) run as an interactive process."""

    manifest: str  # the command's manifest as JSON text
    input_digest: Digest
    description: str
    command: str

    @classmethod
    def create(
        cls, manifest: PushManifest | DockerLoadManifest, input_digest: Digest, description: str
    ) -> PushProcessRequest:
        return cls(json.dumps(manifest.to_json()), input_digest, description, manifest.command)


@rule(level=LogLevel.DEBUG)
async def push_process(request: PushProcessRequest) -> InteractiveProcess:
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(CREDENTIAL_ENV))
    process = await Get(
        Process,
        CoreProcessRequest,
        CoreProcessRequest.create(
            request.command,
            json.loads(request.manifest),
            request.input_digest,
            request.description,
            env=dict(env),
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    return InteractiveProcess.from_process(process)


def _registries(
    field: LinuxkitRegistriesField, linuxkit: LinuxkitSubsystem
) -> tuple[list[str], bool]:
    """(registries, whether to load into the Docker engine too)."""
    chosen = list(field.value if field.value is not None else linuxkit.registries)
    return [r for r in chosen if r != DOCKER_ENGINE], DOCKER_ENGINE in chosen


def _skip(names: list[str], address: str) -> PublishProcesses:
    return PublishProcesses(
        [
            PublishPackages(
                names=tuple(names),
                description=f"(no registry: set `registries` on {address} or --linuxkit-registries)",
            )
        ]
    )


@rule(desc="Publish a LinuxKit package", level=LogLevel.DEBUG)
async def publish_linuxkit_package(
    request: PublishLinuxkitPackageRequest, linuxkit: LinuxkitSubsystem
) -> PublishProcesses:
    field_set = request.field_set
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(field_set.address, description_of_origin="the publish goal"),
    )
    # Every architecture of the package's build.yml `arches`, pushed as one OCI index.
    all_arches = await Get(
        BuiltLinuxkitPackages,
        LinuxkitPackageFieldSet,
        LinuxkitPackageFieldSet.create(wrapped.target),
    )
    # The Docker engine gets the host's (amd64) image when the package has one.
    built = all_arches.for_docker()
    repository = built.ref.rpartition(":")[0]
    tags = [all_arches.index_tag(), *(field_set.release_tags.value or ())]
    registries, to_engine = _registries(field_set.registries, linuxkit)
    names = [f"{repository}:{t}" for t in tags]
    if not registries and not to_engine:
        return _skip(names, str(field_set.address))
    out = []
    if to_engine:
        load = await Get(
            InteractiveProcess,
            PushProcessRequest.create(
                DockerLoadManifest(
                    address=str(field_set.address), repo_tags=tuple(names), layout=built.path
                ),
                built.digest,
                f"Loading {built.ref} into Docker",
            ),
        )
        out.append(
            PublishPackages(names=tuple(names), process=load, description="the Docker engine")
        )
    if registries:
        targets = publish_targets(registries, repository, tags)
        process = await Get(
            InteractiveProcess,
            PushProcessRequest.create(
                PushManifest(
                    address=str(field_set.address),
                    targets=tuple(targets),
                    layouts=tuple(b.path for b in all_arches.built),
                ),
                await Get(Digest, MergeDigests(b.digest for b in all_arches.built)),
                f"Pushing {repository}:{tags[0]} ({', '.join(a.value for a in all_arches.arches)})",
            ),
        )
        out.append(
            PublishPackages(
                names=tuple(targets), process=process, description=", ".join(registries)
            )
        )
    return PublishProcesses(out)


def image_content_tag(built: tuple[BuiltPackage, ...]) -> str:
    """A tag for an image's outputs: a hash of their digest (they are reproducible)."""
    fingerprints = "\n".join(p.digest.fingerprint for p in built)
    return hashlib.sha256(fingerprints.encode()).hexdigest()[:20]


@rule(desc="Publish a LinuxKit image", level=LogLevel.DEBUG)
async def publish_linuxkit_image(
    request: PublishLinuxkitImageRequest, linuxkit: LinuxkitSubsystem
) -> PublishProcesses:
    field_set = request.field_set
    repository = field_set.repository.value or f"linuxkit-images/{field_set.address.target_name}"
    tags = [image_content_tag(request.packages), *(field_set.release_tags.value or ())]
    registries, to_engine = _registries(field_set.registries, linuxkit)
    names = [f"{repository}:{t}" for t in tags]
    clouds = tuple(field_set.clouds.value or ())
    out = []
    if clouds:
        out.append(
            await Get(
                PublishPackages,
                CloudPublishRequest(
                    f"//{field_set.address}", _image_name(field_set), clouds, request.packages
                ),
            )
        )
        # An image published to clouds needs no registry as well.
        if field_set.registries.value is None and not linuxkit.registries:
            return PublishProcesses(out)
    if not registries and not to_engine:
        return _skip(names, str(field_set.address))
    files = [a.relpath for p in request.packages for a in p.artifacts if a.relpath]
    digest = await Get(Digest, MergeDigests(p.digest for p in request.packages))
    if to_engine:
        out.append(await _docker_load_image(str(field_set.address), files, names, digest))
    if registries:
        targets = publish_targets(registries, repository, tags)
        process = await Get(
            InteractiveProcess,
            PushProcessRequest.create(
                PushManifest(
                    address=str(field_set.address), targets=tuple(targets), files=tuple(files)
                ),
                digest,
                f"Pushing {field_set.address} outputs",
            ),
        )
        out.append(
            PublishPackages(
                names=tuple(targets), process=process, description=", ".join(registries)
            )
        )
    return PublishProcesses(out)


def _image_name(field_set: LinuxkitImagePublishFieldSet) -> str:
    """The base of the image's output names, as the package rule computes it."""
    arch = Arch.parse(field_set.arch.value or DEFAULT_ARCH.value, f"{field_set.address}: arch")
    name, suffix = field_set.address.target_name, arch.suffix()
    return name if name.endswith(suffix) else name + suffix


async def _docker_load_image(
    address: str, files: list[str], names: list[str], digest: Digest
) -> PublishPackages:
    archives = [f for f in files if f.endswith(Format.DOCKER.outputs("")[0])]
    if not archives:
        return PublishPackages(
            names=tuple(names),
            description=f'to the Docker engine: add "docker" to the `formats` of {address}',
        )
    load = await Get(
        InteractiveProcess,
        PushProcessRequest.create(
            DockerLoadManifest(address=address, repo_tags=tuple(names), archive=archives[0]),
            digest,
            f"Loading {address} into Docker",
        ),
    )
    return PublishPackages(names=tuple(names), process=load, description="the Docker engine")


def rules():
    return [
        *collect_rules(),
        *LinuxkitPackagePublishFieldSet.rules(),
        *LinuxkitImagePublishFieldSet.rules(),
    ]

"""Packages built from a Dockerfile by a Docker engine, stored as an OCI layout."""
from __future__ import annotations

import json
from dataclasses import replace

from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import AddPrefix, Digest, RemovePrefix
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import InvalidFieldException
from pants.util.logging import LogLevel

from linuxkit_rules.core.oci.docker_engine import DockerfileManifest
from linuxkit_rules.package.rules import (
    BuiltLinuxkitPackage,
    DockerfilePackageRequest,
    LinuxkitPackageFieldSet,
    PackageBuildYml,
    PackageFiles,
    content_tag,
)
from linuxkit_rules.util_rules.core_tool import (
    CoreCommand,
    CoreCommandSources,
    CoreProcessRequest,
    CoreProcessResult,
)

# Which engine to use is the user's environment's business; these name it.
ENGINE_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
CONTEXT = "__context"


def check_fields(field_set: LinuxkitPackageFieldSet) -> None:
    for other in (field_set.debian_packages, field_set.base_image):
        if other.value:
            raise InvalidFieldException(
                f"{field_set.address}: `dockerfile` and `{other.alias}` cannot both be set: "
                "a Dockerfile package gets its files from its Dockerfile (use its FROM instead)"
            )


@rule(desc="Build a LinuxKit package from a Dockerfile", level=LogLevel.DEBUG)
async def build_dockerfile_package(
    request: DockerfilePackageRequest,
) -> BuiltLinuxkitPackage:
    field_set = request.field_set
    check_fields(field_set)
    spec_path = field_set.address.spec_path
    build_yml, files, env = await MultiGet(
        Get(PackageBuildYml, LinuxkitPackageFieldSet, field_set),
        Get(PackageFiles, LinuxkitPackageFieldSet, field_set),
        Get(EnvironmentVars, EnvironmentVarsRequest(ENGINE_ENV)),
    )
    # The context is the package directory: every file of `sources`, the
    # Dockerfile among them (package_files checked that).
    context = (
        await Get(Digest, RemovePrefix(files.digest, spec_path)) if spec_path else files.digest
    )
    context = await Get(Digest, AddPrefix(context, CONTEXT))
    byml = build_yml.build_yml
    manifest = DockerfileManifest(
        address=str(field_set.address),
        build_yml=byml.config_json,
        labels=byml.oci_labels(),
        arch=request.architecture,
        context=CONTEXT,
        dockerfile=str(field_set.dockerfile.value),
        ref="",
        output=field_set.output_path,
    )
    code = await Get(CoreCommandSources, CoreCommand("dockerfile"))
    tag = content_tag(context.fingerprint, code.digest.fingerprint, manifest.tag_input())
    ref = byml.reference(tag)
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            replace(manifest, ref=ref),
            context,
            f"Building LinuxKit package {ref} with Docker",
            output_files=[field_set.output_path],
            env={**dict(env), "DOCKER_BUILDKIT": "0"},
        ),
    )
    report = json.loads(result.stdout.decode())
    return BuiltLinuxkitPackage(result.output_digest, field_set.output_path, ref, report["size"])


def rules():
    return collect_rules()

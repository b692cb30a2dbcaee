"""Packages built from a Dockerfile by a Docker engine, stored as an OCI layout."""
from __future__ import annotations

import json

from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    AddPrefix,
    Digest,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import InvalidFieldException
from pants.util.logging import LogLevel

from linuxkit_rules.package.rules import (
    BuiltLinuxkitPackage,
    DockerfilePackageRequest,
    LinuxkitPackageFieldSet,
    PackageBuildYml,
    content_tag,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult, CoreTool

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
async def build_dockerfile_package(request: DockerfilePackageRequest, tool: CoreTool) -> BuiltLinuxkitPackage:
    field_set = request.field_set
    check_fields(field_set)
    spec_path = field_set.address.spec_path
    dockerfile = f"{spec_path}/{field_set.dockerfile.value}" if spec_path else str(field_set.dockerfile.value)
    build_yml, files, dockerfile_snapshot, env = await MultiGet(
        Get(PackageBuildYml, LinuxkitPackageFieldSet, field_set),
        Get(SourceFiles, SourceFilesRequest([field_set.files])),
        Get(
            Snapshot,
            PathGlobs(
                [dockerfile],
                glob_match_error_behavior=GlobMatchErrorBehavior.error,
                description_of_origin=f"the `dockerfile` field of {field_set.address}",
            ),
        ),
        Get(EnvironmentVars, EnvironmentVarsRequest(ENGINE_ENV)),
    )
    context = await Get(Digest, MergeDigests([files.snapshot.digest, dockerfile_snapshot.digest]))
    if spec_path:
        context = await Get(Digest, RemovePrefix(context, spec_path))
    context = await Get(Digest, AddPrefix(context, CONTEXT))
    byml = build_yml.build_yml
    meta = {
        "address": str(field_set.address),
        "build_yml": byml.config_json,
        "labels": byml.oci_labels(),
        "arch": request.architecture,
        "context": CONTEXT,
        "dockerfile": str(field_set.dockerfile.value),
    }
    tag = content_tag(context.fingerprint, tool.digest.fingerprint, json.dumps(meta, sort_keys=True))
    ref = byml.reference(tag)
    result = await Get(
        CoreProcessResult,
        CoreProcessRequest,
        CoreProcessRequest.create(
            "dockerfile",
            {**meta, "ref": ref, "output": field_set.output_path},
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

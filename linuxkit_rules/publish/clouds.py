"""`pants publish` of a `linuxkit_image` to the clouds its `clouds` field names.

One interactive process (never cached) of the core tool's `cloud-publish`
gets the image's outputs, the destination options, and only the
environment variables the cloud SDKs read their credentials from.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.base.build_root import BuildRoot
from pants.core.goals.package import BuiltPackage
from pants.core.goals.publish import PublishPackages
from pants.core.util_rules.distdir import DistDir
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, MergeDigests
from pants.engine.process import InteractiveProcess, Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.clouds.common import CloudError
from linuxkit_rules.core.clouds.publish import CLOUD_FORMATS, CloudPublishManifest
from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.subsystems.clouds import (
    LinuxkitAwsSubsystem,
    LinuxkitAzureSubsystem,
    LinuxkitGcpSubsystem,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest

# What the cloud SDKs' default credential chains read; nothing else goes in.
CLOUD_ENV = (
    "HOME",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "CLOUDSDK_CONFIG",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
)
REPORT_DIR = "clouds"


@dataclass(frozen=True)
class CloudPublishRequest:
    address: str
    name: str  # the image's output base name
    clouds: tuple[str, ...]
    packages: tuple[BuiltPackage, ...]


def cloud_files(
    address: str, name: str, clouds: tuple[str, ...], files: set[str]
) -> dict[str, str]:
    """cloud -> the output it sends; an error names the missing format."""
    chosen = {}
    for cloud in clouds:
        fmt = Format(CLOUD_FORMATS[cloud])
        output = fmt.outputs(name)[0]
        if output not in files:
            raise CloudError(
                cloud,
                address,
                f"the image has no `{fmt.value}` output ({output})",
                f'add "{fmt.value}" to its `formats`',
            )
        chosen[cloud] = output
    return chosen


def report_path(build_root: str, dist_dir: str, name: str) -> str:
    return os.path.join(build_root, dist_dir, REPORT_DIR, f"{name}.json")


@rule(desc="Prepare a cloud publish", level=LogLevel.DEBUG)
async def cloud_publish(
    request: CloudPublishRequest,
    gcp: LinuxkitGcpSubsystem,
    aws: LinuxkitAwsSubsystem,
    azure: LinuxkitAzureSubsystem,
    build_root: BuildRoot,
    dist_dir: DistDir,
) -> PublishPackages:
    files = {a.relpath for p in request.packages for a in p.artifacts if a.relpath}
    chosen = cloud_files(request.address, request.name, request.clouds, files)
    options = {"gcp": gcp.manifest(), "aws": aws.manifest(), "azure": azure.manifest()}
    manifest = CloudPublishManifest(
        target=request.address,
        name=request.name,
        report=report_path(build_root.path, str(dist_dir.relpath), request.name),
        clouds={c: {**options[c], "file": f} for c, f in chosen.items()},
    )
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(CLOUD_ENV))
    digest = await Get(Digest, MergeDigests(p.digest for p in request.packages))
    process = await Get(
        Process,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            manifest,
            digest,
            f"Publishing {request.address} to {', '.join(request.clouds)}",
            env=dict(env),
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    return PublishPackages(
        names=tuple(f"{c}:{f}" for c, f in sorted(chosen.items())),
        process=InteractiveProcess.from_process(process),
        description=", ".join(sorted(chosen)),
    )


def rules():
    return collect_rules()

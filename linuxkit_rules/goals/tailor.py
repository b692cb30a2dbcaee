"""`pants tailor`: a `linuxkit_image` per image YAML and a `linuxkit_package` per
directory with a `build.yml`, for the files no target owns yet."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.core.goals.tailor import (
    AllOwnedSources,
    PutativeTarget,
    PutativeTargets,
    PutativeTargetsRequest,
)
from pants.engine.fs import DigestContents, PathGlobs, Paths
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from linuxkit_rules.core.spec.putative import is_image_yaml, target_name
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import LinuxkitImageTarget, LinuxkitPackageTarget


@dataclass(frozen=True)
class PutativeLinuxkitTargetsRequest(PutativeTargetsRequest):
    pass


@rule(desc="Find LinuxKit YAML files without targets", level=LogLevel.DEBUG)
async def find_putative_linuxkit_targets(
    request: PutativeLinuxkitTargetsRequest,
    all_owned_sources: AllOwnedSources,
    linuxkit: LinuxkitSubsystem,
) -> PutativeTargets:
    if not linuxkit.tailor:
        return PutativeTargets()
    yamls, build_ymls = await MultiGet(
        Get(Paths, PathGlobs, request.path_globs("*.yml", "*.yaml")),
        Get(Paths, PathGlobs, request.path_globs("build.yml")),
    )
    owned = set(all_owned_sources)
    packages = sorted(f for f in build_ymls.files if f not in owned)
    package_dirs = {os.path.dirname(f) for f in build_ymls.files}
    candidates = sorted(
        f
        for f in set(yamls.files) - owned
        if os.path.basename(f) != "build.yml" and os.path.dirname(f) not in package_dirs
    )
    contents = await Get(DigestContents, PathGlobs(candidates))
    images = sorted(fc.path for fc in contents if is_image_yaml(fc.content))
    putative = [
        PutativeTarget.for_target_type(
            LinuxkitPackageTarget,
            path=os.path.dirname(f),
            name=None,
            triggering_sources=["build.yml"],
        )
        for f in packages
    ]
    for f in images:
        path, filename = os.path.split(f)
        putative.append(
            PutativeTarget.for_target_type(
                LinuxkitImageTarget,
                path=path,
                name=target_name(filename),
                triggering_sources=[filename],
                kwargs={"source": filename},
            )
        )
    return PutativeTargets(putative)


def rules():
    return [
        *collect_rules(),
        UnionRule(PutativeTargetsRequest, PutativeLinuxkitTargetsRequest),
    ]

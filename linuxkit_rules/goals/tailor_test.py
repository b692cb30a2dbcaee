"""`pants tailor` proposes image and package targets for unowned LinuxKit files."""
from __future__ import annotations

from pants.core.goals.tailor import AllOwnedSources, PutativeTarget, PutativeTargets
from pants.testutil.rule_runner import QueryRule

from linuxkit_rules.goals.tailor import PutativeLinuxkitTargetsRequest
from linuxkit_rules.target_types import LinuxkitImageTarget, LinuxkitPackageTarget
from linuxkit_rules.testutil import INHERIT, make_rule_runner

IMAGE = "kernel:\n  image: linuxkit/kernel:6.12.59\ninit:\n  - linuxkit/init:v1\n"


def putative(files: dict[str, str], owned: list[str], *options: str) -> PutativeTargets:
    runner = make_rule_runner(
        [QueryRule(PutativeTargets, [PutativeLinuxkitTargetsRequest, AllOwnedSources])]
    )
    runner.set_options(list(options), env_inherit=INHERIT)
    runner.write_files(files)
    return runner.request(
        PutativeTargets,
        [
            PutativeLinuxkitTargetsRequest(("examples", "pkg/redis", "pkg/owned")),
            AllOwnedSources(owned),
        ],
    )


def test_an_image_per_yaml_and_a_package_per_build_yml() -> None:
    found = putative(
        {
            "examples/redis-os.yml": IMAGE,
            "examples/minimal.yml": IMAGE,
            "examples/owned.yml": IMAGE,
            "examples/compose.yml": "version: '3'\nimage: x\n",
            "examples/notes.yml": "name: x\n",
            "pkg/redis/build.yml": "image: redis\n",
            "pkg/owned/build.yml": "image: owned\n",
        },
        owned=["examples/owned.yml", "pkg/owned/build.yml"],
    )
    assert found == PutativeTargets(
        [
            PutativeTarget.for_target_type(
                LinuxkitPackageTarget, path="pkg/redis", name=None, triggering_sources=["build.yml"]
            ),
            PutativeTarget.for_target_type(
                LinuxkitImageTarget,
                path="examples",
                name="minimal",
                triggering_sources=["minimal.yml"],
                kwargs={"source": "minimal.yml"},
            ),
            PutativeTarget.for_target_type(
                LinuxkitImageTarget,
                path="examples",
                name="redis-os",
                triggering_sources=["redis-os.yml"],
                kwargs={"source": "redis-os.yml"},
            ),
        ]
    )


def test_tailor_can_be_switched_off() -> None:
    found = putative({"examples/minimal.yml": IMAGE}, [], "--linuxkit-tailor=false")
    assert found == PutativeTargets()

"""LinuxKit's example YAMLs here: strict parse, clear errors for the images we do not
build, and the built variants differ from upstream only by those images."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InferredDependencies
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.core.spec.container import config_to_json
from linuxkit_rules.core.spec.image_yaml import ImageSpec, load_image_yaml
from linuxkit_rules.image.rules import (
    InferLinuxkitImageDependencies,
    LinuxkitImageDependenciesInferenceFieldSet,
)
from linuxkit_rules.testutil import make_rule_runner

HERE = Path(__file__).parent
EXAMPLES = ("minimal", "sshd", "getty", "sysctl")
# Images with no target here, as the YAMLs name them (repository part).
MISSING = ("linuxkit/containerd", "linuxkit/rngd", "alpine")
CATALOGUE = (
    "init", "runc", "containerd", "rngd", "ca-certificates", "sysctl", "dhcpcd", "getty", "sshd",
    "poweroff",
)  # fmt: skip


def text(path: str) -> str:
    return (HERE / path).read_text()


def missing(ref: str) -> bool:
    return ref.split(":", 1)[0] in MISSING


def without_missing(spec: ImageSpec) -> dict:
    """The spec as comparable data, with the images we do not build left out."""

    def containers(items):
        return [{**config_to_json(c)} for c in items if not missing(c.image)]

    return {
        "kernel": spec.kernel,
        "init": [r for r in spec.init if not missing(r)],
        "onboot": containers(spec.onboot),
        "onshutdown": containers(spec.onshutdown),
        "services": containers(spec.services),
        "files": [replace(f, line=None, file="") for f in spec.files],
    }


@pytest.mark.parametrize("name", EXAMPLES)
def test_built_variant_is_upstream_minus_missing_images(name: str) -> None:
    upstream = load_image_yaml(text(f"upstream/{name}.yml"), f"upstream/{name}.yml")
    here = load_image_yaml(text(f"{name}.yml"), f"{name}.yml")
    assert any(
        missing(r) for r in upstream.image_refs()
    ), "the upstream file names an image we lack"
    assert not any(missing(r) for r in here.image_refs())
    assert without_missing(here) == without_missing(upstream)
    assert here.kernel is not None and here.kernel.image == "linuxkit/kernel:6.12.59"


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_rule_runner([QueryRule(InferredDependencies, [InferLinuxkitImageDependencies])])


def infer(rule_runner: RuleRunner, yaml: str, build: str) -> set[Address]:
    files = {f"pkg/{p}/BUILD": "linuxkit_package()\n" for p in CATALOGUE}
    files.update({f"pkg/{p}/build.yml": f"image: {p}\n" for p in CATALOGUE})
    files["kernel/BUILD"] = 'debian_kernel(name="debian", package="linux-image-x")\n'
    files["ex/BUILD"] = build
    files["ex/x.yml"] = yaml
    files["ex/check.sh"] = text("check.sh")
    rule_runner.write_files(files)
    tgt = rule_runner.get_target(Address("ex", target_name="x"))
    request = InferLinuxkitImageDependencies(LinuxkitImageDependenciesInferenceFieldSet.create(tgt))
    return set(rule_runner.request(InferredDependencies, [request]).include)


WITH_KERNEL = 'linuxkit_image(name="x", source="x.yml", kernel="//kernel:debian")\n'
NO_KERNEL = 'linuxkit_image(name="x", source="x.yml")\n'


def error(rule_runner: RuleRunner, yaml: str, build: str = WITH_KERNEL) -> str:
    with pytest.raises(ExecutionError) as exc:
        infer(rule_runner, yaml, build)
    return str(exc.value)


@pytest.mark.parametrize("name", EXAMPLES)
def test_variant_resolves_to_catalogue_and_chosen_kernel(
    rule_runner: RuleRunner, name: str
) -> None:
    deps = infer(rule_runner, text(f"{name}.yml"), WITH_KERNEL)
    assert Address("kernel", target_name="debian") in deps
    assert Address("pkg/init") in deps and Address("pkg/runc") in deps
    assert {a.spec_path for a in deps} <= {"kernel", *(f"pkg/{p}" for p in CATALOGUE)}


@pytest.mark.parametrize("name", ("minimal", "sshd", "getty"))
def test_upstream_resolves_with_containerd_and_rngd(rule_runner: RuleRunner, name: str) -> None:
    deps = infer(rule_runner, text(f"upstream/{name}.yml"), WITH_KERNEL)
    assert Address("pkg/containerd") in deps
    assert {a.spec_path for a in deps} <= {"kernel", *(f"pkg/{p}" for p in CATALOGUE)}


def test_upstream_docker_hub_image_names_the_map_option(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, text("upstream/sysctl.yml"))
    assert "image 'alpine:3.13' (onboot.test (line 10))" in message
    assert "[linuxkit].image_map has no entry for it" in message


def test_linuxkit_kernel_maps_to_the_kernel_option(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, text("minimal.yml"), NO_KERNEL)
    assert "image 'linuxkit/kernel:6.12.59' (kernel.image) is mapped to //kernel:linux" in message
    assert "[linuxkit].kernel_image" in message

from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InferredDependencies
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.image.rules import (
    InferLinuxkitImageDependencies,
    LinuxkitImageDependenciesInferenceFieldSet,
)
from linuxkit_rules.testutil import INHERIT, make_rule_runner

PACKAGES = {
    "pkg/init/BUILD": "linuxkit_package()\n",
    "pkg/init/build.yml": "image: init\n",
    "pkg/sshd/BUILD": "linuxkit_package()\n",
    "pkg/sshd/build.yml": "image: sshd\nconfig:\n  command: [/usr/sbin/sshd]\n",
    "kernel/BUILD": 'debian_kernel(name="k", package="linux-image-x")\n',
    "images/BUILD": 'linuxkit_image(name="x", source="x.yml")\n',
}


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_rule_runner([QueryRule(InferredDependencies, [InferLinuxkitImageDependencies])])


def infer(rule_runner: RuleRunner, yaml: str) -> set[Address]:
    rule_runner.write_files({**PACKAGES, "images/x.yml": yaml})
    tgt = rule_runner.get_target(Address("images", target_name="x"))
    request = InferLinuxkitImageDependencies(LinuxkitImageDependenciesInferenceFieldSet.create(tgt))
    return set(rule_runner.request(InferredDependencies, [request]).include)


def test_linuxkit_names_and_addresses_are_inferred(rule_runner: RuleRunner) -> None:
    deps = infer(
        rule_runner,
        "kernel:\n  image: //kernel:k\ninit:\n  - linuxkit/init:v1.2\n"
        "services:\n  - name: sshd\n    image: //pkg/sshd\n",
    )
    assert deps == {
        Address("kernel", target_name="k"),
        Address("pkg/init"),
        Address("pkg/sshd"),
    }


def test_unknown_package_lists_the_known_ones(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        infer(rule_runner, "init:\n  - linuxkit/nope:v1\n")
    message = str(exc.value)
    assert "images/x.yml: image 'linuxkit/nope:v1'" in message
    assert "//pkg/init:init" in message and "//pkg/sshd:sshd" in message


def test_unknown_key_names_file_and_line(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        infer(
            rule_runner,
            "init:\n  - linuxkit/init:v1\nservices:\n  - name: sshd\n    image: //pkg/sshd\n    nmae: x\n",
        )
    message = str(exc.value)
    assert "images/x.yml:6" in message
    assert "nmae" in message


def test_unknown_format_in_build_lists_the_valid_ones(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({**PACKAGES, "images/x.yml": "init:\n  - linuxkit/init:v1\n",
                             "images/BUILD": 'linuxkit_image(name="x", source="x.yml", formats=["squashfs"])\n'})  # fmt: skip
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("images", target_name="x"))
    message = str(exc.value)
    assert "images:x" in message and "formats" in message and "squashfs" in message
    assert "kernel+squashfs" in message and "qcow2-efi" in message and "raw-efi" in message


def test_a_kernel_not_built_for_the_image_arch_names_image_and_arches() -> None:
    from linuxkit_rules.image.rules import BuiltImage, LinuxkitImageFieldSet

    runner = make_rule_runner([QueryRule(BuiltImage, [LinuxkitImageFieldSet])])
    runner.write_files(
        {
            **PACKAGES,
            "kernel/BUILD": 'kernel_config(name="c", fragments=["b.config"])\nlinux_kernel(name="k", config=":c")\n',
            "kernel/b.config": "CONFIG_PRINTK=y\n",
            "images/BUILD": 'linuxkit_image(name="x", source="x.yml", arch="arm64")\n',
            "images/x.yml": "kernel:\n  image: //kernel:k\ninit:\n  - linuxkit/init:v1\n",
        }
    )
    field_set = LinuxkitImageFieldSet.create(runner.get_target(Address("images", target_name="x")))
    with pytest.raises(
        ExecutionError,
        match=r"images:x \(arm64\): kernel kernel:k is not built for arm64: its arches are amd64",
    ):
        runner.request(BuiltImage, [field_set])


@pytest.mark.parametrize("size", ["0", "8193", "100000"])
def test_disk_size_has_bounds(rule_runner: RuleRunner, size: str) -> None:
    rule_runner.write_files({**PACKAGES, "images/x.yml": "init:\n  - linuxkit/init:v1\n",
                             "images/BUILD": f'linuxkit_image(name="x", source="x.yml", disk_size={size})\n'})  # fmt: skip
    with pytest.raises(
        ExecutionError,
        match=rf"disk_size` field of images:x is {size}; .*(a positive number of MiB|at most 8192 MiB)",
    ):
        rule_runner.get_target(Address("images", target_name="x"))


def infer_with(rule_runner: RuleRunner, yaml: str, *options: str) -> set[Address]:
    rule_runner.set_options(list(options), env_inherit=INHERIT)
    return infer(rule_runner, yaml)


def infer_error(rule_runner: RuleRunner, yaml: str, *options: str) -> str:
    with pytest.raises(ExecutionError) as exc:
        infer_with(rule_runner, yaml, *options)
    return str(exc.value)


LK_KERNEL = "kernel:\n  image: linuxkit/kernel:6.12.59\ninit:\n  - linuxkit/init:v1\n"


def test_linuxkit_kernel_maps_to_the_kernel_option(rule_runner: RuleRunner) -> None:
    deps = infer_with(rule_runner, LK_KERNEL, "--linuxkit-kernel-image=//kernel:k")
    assert deps == {Address("kernel", target_name="k"), Address("pkg/init")}


def test_linuxkit_kernel_default_names_the_option_when_missing(rule_runner: RuleRunner) -> None:
    message = infer_error(rule_runner, LK_KERNEL)
    assert "image 'linuxkit/kernel:6.12.59' (kernel.image) is mapped to //kernel:linux" in message
    assert "[linuxkit].kernel_image" in message and "//kernel:k" in message


def test_kernel_field_wins_over_the_kernel_option(rule_runner: RuleRunner) -> None:
    rule_runner.set_options(["--linuxkit-kernel-image=//kernel:nope"], env_inherit=INHERIT)
    rule_runner.write_files(
        {
            **PACKAGES,
            "images/x.yml": LK_KERNEL,
            "images/BUILD": 'linuxkit_image(name="x", source="x.yml", kernel="//kernel:k")\n',
        }
    )
    tgt = rule_runner.get_target(Address("images", target_name="x"))
    request = InferLinuxkitImageDependencies(LinuxkitImageDependenciesInferenceFieldSet.create(tgt))
    deps = set(rule_runner.request(InferredDependencies, [request]).include)
    assert deps == {Address("kernel", target_name="k"), Address("pkg/init")}


OUTSIDE = "init:\n  - linuxkit/init:v1\nservices:\n  - name: redis\n    image: redis:4.0.5-alpine\n"


def test_outside_image_maps_by_name_with_any_tag(rule_runner: RuleRunner) -> None:
    deps = infer_with(rule_runner, OUTSIDE, '--linuxkit-image-map={"redis:*": "//pkg/sshd"}')
    assert deps == {Address("pkg/init"), Address("pkg/sshd")}


def test_unmapped_outside_image_names_the_option(rule_runner: RuleRunner) -> None:
    message = infer_error(rule_runner, OUTSIDE, '--linuxkit-image-map={"redis": "//pkg/sshd"}')
    assert (
        "images/x.yml: image 'redis:4.0.5-alpine' (services.redis (line 4)) is not a LinuxKit "
        "package and [linuxkit].image_map has no entry for it" in message
    )
    assert '"redis:*" = "//pkg/NAME"' in message


def test_map_entry_naming_no_target_fails(rule_runner: RuleRunner) -> None:
    message = infer_error(rule_runner, OUTSIDE, '--linuxkit-image-map={"redis:*": "//pkg/redis"}')
    assert (
        "image 'redis:4.0.5-alpine' (services.redis (line 4)) is mapped to //pkg/redis by "
        "[linuxkit].image_map 'redis:*', which is not a package or kernel target" in message
    )


def test_malformed_map_entry_fails(rule_runner: RuleRunner) -> None:
    message = infer_error(rule_runner, OUTSIDE, '--linuxkit-image-map={"redis*": "//pkg/sshd"}')
    assert "[linuxkit].image_map: key 'redis*'" in message


def test_containerd_as_a_service_says_move_it_to_init(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"pkg/containerd/BUILD": "linuxkit_package()\n", "pkg/containerd/build.yml": "image: c\n"}
    )
    message = infer_error(
        rule_runner,
        "init:\n  - linuxkit/init:v1\nservices:\n  - name: c\n    image: linuxkit/containerd:v1\n",
    )
    assert (
        "images/x.yml: image 'linuxkit/containerd:v1' (services.c (line 4)): containerd is an "
        "init image; move it to `init:`" in message
    )

from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InvalidFieldException
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.kernel.rules import BuiltKernel
from linuxkit_rules.kernel.source import (
    KernelConfigFieldSet,
    LinuxKernelFieldSet,
    LinuxKernelRequest,
)
from linuxkit_rules.testutil import make_rule_runner

FRAGMENTS = {
    "kernel/base.config": "CONFIG_PRINTK=y\n",
    "kernel/arm64.config": "CONFIG_SERIAL_AMBA_PL011=y\n",
}


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_rule_runner([QueryRule(BuiltKernel, [LinuxKernelRequest])])


def target(rule_runner: RuleRunner, build: str, name: str):  # type: ignore[no-untyped-def]
    rule_runner.write_files({**FRAGMENTS, "kernel/BUILD": build})
    return rule_runner.get_target(Address("kernel", target_name=name))


def test_arch_fragments_apply_to_their_arch_only(rule_runner: RuleRunner) -> None:
    tgt = target(
        rule_runner,
        'kernel_config(name="c", fragments=["base.config", "arm64.config"], arch_fragments={"arm64": ["arm64.config"]})\n',
        "c",
    )
    field_set = KernelConfigFieldSet.create(tgt)
    assert field_set.arches() == (Arch.AMD64, Arch.ARM64)
    files = ("kernel/arm64.config", "kernel/base.config")  # as the hydrated sources list them
    assert field_set.fragments_for(Arch.ARM64, files) == (
        "kernel/base.config",
        "kernel/arm64.config",
    )
    assert field_set.fragments_for(Arch.AMD64, files) == ("kernel/base.config",)


def test_an_arch_fragment_must_be_one_of_the_fragments(rule_runner: RuleRunner) -> None:
    tgt = target(
        rule_runner,
        'kernel_config(name="c", fragments=["base.config"], arch_fragments={"arm64": ["arm64.config"]})\n',
        "c",
    )
    with pytest.raises(
        InvalidFieldException,
        match=r"kernel:c: arch_fragments: arm64: 'kernel/arm64.config' is not one of the files of `fragments` \(kernel/base.config\); list it there too",
    ):
        KernelConfigFieldSet.create(tgt).fragments_for(Arch.AMD64, ("kernel/base.config",))


@pytest.mark.parametrize(
    "fragments, message",
    [
        (
            '{"riscv64": ["arm64.config"]}',
            r"arch_fragments: 'riscv64' is not supported; supported: amd64, arm64",
        ),
        ('{"arm64": ["../x.config"]}', r"arch_fragments: arm64: '../x.config' is not allowed"),
        ('{"arm64": ["arm64.txt"]}', r"arch_fragments: arm64: 'arm64.txt' is not allowed"),
    ],
)
def test_bad_arch_fragments_name_the_field_and_value(
    rule_runner: RuleRunner, fragments: str, message: str
) -> None:
    with pytest.raises(ExecutionError, match=message):
        target(
            rule_runner,
            f'kernel_config(name="c", fragments=["base.config"], arch_fragments={fragments})\n',
            "c",
        )


def test_unsupported_kernel_arch_lists_the_supported_ones(rule_runner: RuleRunner) -> None:
    build = 'kernel_config(name="c", fragments=["base.config"])\nlinux_kernel(name="k", config=":c", arches=["s390x"])\n'
    with pytest.raises(
        ExecutionError, match=r"kernel:k: arches: 's390x' is not supported; supported: amd64, arm64"
    ):
        target(rule_runner, build, "k")


def test_a_kernel_not_built_for_the_arch_names_its_arches(rule_runner: RuleRunner) -> None:
    build = (
        'kernel_config(name="c", fragments=["base.config"])\nlinux_kernel(name="k", config=":c")\n'
    )
    tgt = target(rule_runner, build, "k")
    request = LinuxKernelRequest(LinuxKernelFieldSet.create(tgt), Arch.ARM64)
    with pytest.raises(
        ExecutionError, match=r"kernel kernel:k is not built for arm64: its arches are amd64"
    ):
        rule_runner.request(BuiltKernel, [request])

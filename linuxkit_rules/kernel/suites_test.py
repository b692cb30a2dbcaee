"""Kernels from other Debian suites, bad input: each one error naming the target,
the suite and what is missing.

Locking runs the machine's real apt against its configured mirrors (a private
apt state, as `pants generate-lockfiles` does); building reads the repository's
real locks and fetches the real kernel package.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pants.core.goals.generate_lockfiles import GenerateLockfileResult, UserGenerateLockfiles
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.goals.debian_lockfiles import (
    GenerateDebianLockfile,
    RequestedDebianResolveNames,
)
from linuxkit_rules.goals.debian_lockfiles import rules as lockfile_rules
from linuxkit_rules.kernel.rules import BuiltKernel, DebianKernelFieldSet, DebianKernelRequest
from linuxkit_rules.kernel.source import (
    KernelConfigFieldSet,
    KernelConfigRequest,
    ResolvedKernelConfig,
)
from linuxkit_rules.testutil import make_rule_runner

LOCKS = Path("3rdparty/debian")
FRAGMENTS = Path("kernel/fragments")
TRIXIE_KERNEL = "linux-image-6.12.118+deb13-amd64"


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = make_rule_runner(
        [
            QueryRule(BuiltKernel, [DebianKernelRequest]),
            QueryRule(UserGenerateLockfiles, [RequestedDebianResolveNames]),
            QueryRule(GenerateLockfileResult, [GenerateDebianLockfile]),
            QueryRule(ResolvedKernelConfig, [KernelConfigRequest]),
        ],
        extra_rules=lockfile_rules(),
    )
    return runner


def use_suites(rule_runner: RuleRunner, *extra: str) -> None:
    rule_runner.set_options(
        [f"--debian-extra-suites={list(extra)!r}"],
        env_inherit={"PATH", "HOME", "PYENV_ROOT"},
    )


def generate(rule_runner: RuleRunner, resolve: str) -> None:
    (lock,) = rule_runner.request(UserGenerateLockfiles, [RequestedDebianResolveNames([resolve])])
    assert isinstance(lock, GenerateDebianLockfile)
    rule_runner.request(GenerateLockfileResult, [lock])


def build(rule_runner: RuleRunner, build_file: str) -> BuiltKernel:
    rule_runner.write_files({"kernel/BUILD": build_file})
    tgt = rule_runner.get_target(Address("kernel", target_name="k"))
    return rule_runner.request(
        BuiltKernel, [DebianKernelRequest(DebianKernelFieldSet.create(tgt), Arch.AMD64)]
    )


def copy_lock(rule_runner: RuleRunner, suite: str) -> None:
    name = f"{suite}-amd64.lock.json"
    rule_runner.write_files({f"3rdparty/debian/{name}": (LOCKS / name).read_text()})


def test_a_suite_the_mirrors_do_not_serve_names_target_and_suite(rule_runner: RuleRunner) -> None:
    use_suites(rule_runner, "nosuch")
    rule_runner.write_files(
        {"kernel/BUILD": 'debian_kernel(name="k", suite="nosuch", package="linux-image-amd64")\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        generate(rule_runner, "debian-nosuch-amd64")
    message = str(exc.value)
    assert "kernel:k: suite nosuch: the machine's apt mirrors cannot serve it" in message
    assert "nosuch" in message.split("cannot serve it", 1)[1]  # apt's own line names it


def test_a_kernel_package_missing_from_the_suite_when_locking(rule_runner: RuleRunner) -> None:
    use_suites(rule_runner, "trixie")
    rule_runner.write_files(
        {
            "kernel/BUILD": 'debian_kernel(name="k", suite="trixie", package="linux-image-9.9.9-amd64")\n'
        }
    )
    with pytest.raises(ExecutionError) as exc:
        generate(rule_runner, "debian-trixie-amd64")
    message = str(exc.value)
    assert "kernel:k: package 'linux-image-9.9.9-amd64' is not in suite trixie for amd64" in message
    assert "searched: trixie, trixie-security, trixie-updates" in message


def test_a_kernel_package_missing_from_the_suite_lock_when_building(
    rule_runner: RuleRunner,
) -> None:
    use_suites(rule_runner, "trixie")
    copy_lock(rule_runner, "trixie")
    with pytest.raises(ExecutionError) as exc:
        build(
            rule_runner,
            'debian_kernel(name="k", suite="trixie", package="linux-image-9.9.9-amd64")\n',
        )
    assert (
        "kernel:k: package: package 'linux-image-9.9.9-amd64' is not in the trixie/amd64 Debian lock"
        in str(exc.value)
    )


def test_a_suite_without_a_lock_lists_the_locked_suites(rule_runner: RuleRunner) -> None:
    use_suites(rule_runner, "trixie")
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, f'debian_kernel(name="k", suite="sid", package="{TRIXIE_KERNEL}")\n')
    assert (
        "kernel:k: suite: suite 'sid' has no lock: the locked suites are bookworm, trixie"
        in str(exc.value)
    )


def test_a_kernel_lacking_a_required_option_names_target_option_and_suite(
    rule_runner: RuleRunner,
) -> None:
    use_suites(rule_runner, "trixie")
    copy_lock(rule_runner, "trixie")
    # Debian 13's kernel has btrfs (kept as a control) but not the 6.1-only
    # CONFIG_BASE_FULL, which 6.12's Kconfig no longer declares.
    with pytest.raises(ExecutionError) as exc:
        build(
            rule_runner,
            f'debian_kernel(name="k", suite="trixie", package="{TRIXIE_KERNEL}", '
            'modules=[], required_options=["CONFIG_BTRFS_FS", "CONFIG_BASE_FULL"])\n',
        )
    message = str(exc.value)
    assert "kernel:k: required kernel options missing: CONFIG_BASE_FULL (is not set)" in message
    assert "CONFIG_BTRFS_FS" not in message
    assert f"[{TRIXIE_KERNEL} 6.12.118-1, suite trixie-security]" in message


def test_a_fragment_option_a_newer_kernel_dropped_is_named(rule_runner: RuleRunner) -> None:
    """//kernel:config's 6.1 fragments on trixie's 6.12 source: 6.12's Kconfig no
    longer declares CONFIG_BASE_FULL (it has CONFIG_BASE_SMALL instead)."""
    use_suites(rule_runner, "trixie")
    copy_lock(rule_runner, "trixie")
    copy_lock(rule_runner, "bookworm")  # the kernel toolchain's packages
    fragments = ["base.config", "base-6.1.config"]
    rule_runner.write_files(
        {
            "toolchain/BUILD": Path("toolchain/BUILD").read_text(),
            **{f"kernel/{f}": (FRAGMENTS / f).read_text() for f in fragments},
            "kernel/BUILD": (
                'kernel_config(name="c", base="tinyconfig", source_package="linux-source-6.12", '
                f'suite="trixie", fragments={fragments!r})\n'
            ),
        }
    )
    tgt = rule_runner.get_target(Address("kernel", target_name="c"))
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(
            ResolvedKernelConfig,
            [KernelConfigRequest(KernelConfigFieldSet.create(tgt), Arch.AMD64)],
        )
    message = str(exc.value)
    assert "kernel/base-6.1.config:4: kernel option: 'CONFIG_BASE_FULL' is not allowed" in message
    assert "this kernel's Kconfig does not declare it" in message

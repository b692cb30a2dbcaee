"""debian_toolchain targets: a root from the real lock, run under bwrap; the errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pants.engine.fs import Digest, DigestEntries, SymlinkEntry
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.core.sandbox import Toolchain
from linuxkit_rules.testutil import make_rule_runner
from linuxkit_rules.toolchain.rules import BuiltToolchain, ToolchainRequest

LOCK = "3rdparty/debian/bookworm-amd64.lock.json"


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = make_rule_runner(
        [
            QueryRule(BuiltToolchain, [ToolchainRequest]),
            QueryRule(DigestEntries, [Digest]),
        ]
    )
    runner.write_files({LOCK: Path(LOCK).read_text()})
    return runner


def build(rule_runner: RuleRunner, packages: str, address: str = "//tc:t") -> BuiltToolchain:
    rule_runner.write_files({"tc/BUILD": f'debian_toolchain(name="t", packages={packages})\n'})
    return rule_runner.request(BuiltToolchain, [ToolchainRequest(address, "the test", "amd64")])


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_root_from_the_lock_runs_its_tool_under_bwrap(
    rule_runner: RuleRunner, tmp_path: Path
) -> None:
    built = build(rule_runner, '["dash", "squashfs-tools"]')
    assert built.address == "tc:t"
    assert {"dash", "squashfs-tools", "libc6", "liblzo2-2"} <= {p.name for p in built.packages}
    entries = rule_runner.request(DigestEntries, [built.digest])
    links = {e.path: e.target for e in entries if isinstance(e, SymlinkEntry)}
    assert links["bin"] == "usr/bin" and links["usr/bin/sh"] == "dash"  # kept as symlinks
    rule_runner.write_digest(built.digest, path_prefix="root")
    toolchain = Toolchain(
        str(Path(rule_runner.build_root) / "root"), built.address, built.bwrap.path
    )
    r = toolchain.run("mksquashfs", ["-version"], cwd=str(tmp_path), capture_output=True, text=True)
    assert r.returncode == 0 and "mksquashfs version" in r.stdout
    assert built.keys()[built.bwrap.path]["version"].startswith("bubblewrap")


def test_a_package_missing_from_the_lock_names_the_target(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, '["dash", "no-such-compiler"]')
    message = str(exc.value)
    assert "tc:t: package 'no-such-compiler' is not in the bookworm/amd64 Debian lock" in message
    assert "pants generate-lockfiles" in message


def test_an_address_that_is_not_a_toolchain_is_an_error(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"other/BUILD": 'kernel_config(name="c", fragments=[])\n'})
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, '["dash"]', "//other:c")
    assert "the test: other:c is a `kernel_config`, not a `debian_toolchain`" in str(exc.value)


def test_a_toolchain_not_locked_for_the_build_machine(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"tc/BUILD": 'debian_toolchain(name="t", packages=["dash"], arches=["arm64"])\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(BuiltToolchain, [ToolchainRequest("//tc:t", "the test", "amd64")])
    assert "tc:t: the build machine is amd64" in str(exc.value)

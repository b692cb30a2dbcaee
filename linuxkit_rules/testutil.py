"""RuleRunner set-up shared by the rules' tests."""
from __future__ import annotations

from typing import Iterable

from pants.core.goals import package as package_goal
from pants.core.goals import publish as publish_goal
from pants.core.goals.publish import PublishProcesses, PublishProcessesRequest
from pants.core.util_rules import source_files
from pants.engine.fs import Digest, DigestContents
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.package.rules import (
    BuiltLinuxkitPackage,
    BuiltLinuxkitPackages,
    LinuxkitPackageFieldSet,
    PackageArchRequest,
)
from linuxkit_rules.register import rules, target_types

# What the processes that tests run need from the environment.
INHERIT = {"PATH", "HOME", "PYENV_ROOT"}


def make_rule_runner(query_rules: Iterable[QueryRule], extra_rules: Iterable = ()) -> RuleRunner:
    runner = RuleRunner(
        target_types=target_types(),
        rules=[*rules(), *source_files.rules(), *extra_rules, *query_rules],
        isolated_local_store=True,
    )
    runner.set_options([], env_inherit=INHERIT)
    return runner


def make_publish_rule_runner() -> RuleRunner:
    """A RuleRunner that builds packages and plans `pants publish` for them."""
    return make_rule_runner(
        [
            QueryRule(BuiltLinuxkitPackage, [LinuxkitPackageFieldSet]),
            QueryRule(BuiltLinuxkitPackage, [PackageArchRequest]),
            QueryRule(BuiltLinuxkitPackages, [LinuxkitPackageFieldSet]),
            QueryRule(PublishProcesses, [PublishProcessesRequest]),
            QueryRule(DigestContents, [Digest]),
        ],
        extra_rules=[*publish_goal.rules(), *package_goal.rules()],
    )

"""RuleRunner set-up shared by the rules' tests."""
from __future__ import annotations

from typing import Iterable

from pants.core.util_rules import source_files
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.register import rules, target_types


def make_rule_runner(query_rules: Iterable[QueryRule]) -> RuleRunner:
    runner = RuleRunner(
        target_types=target_types(),
        rules=[*rules(), *source_files.rules(), *query_rules],
        isolated_local_store=True,
    )
    runner.set_options([], env_inherit={"PATH", "HOME", "PYENV_ROOT"})
    return runner

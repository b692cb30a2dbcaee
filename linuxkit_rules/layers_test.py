"""Imports run one way: core <- util_rules <- target types <- rules <- goals <- register.

A module may import its own layer and the layers below it, never one above:
then `core` stays importable without Pants, and a reader of a layer needs only
the layers under it.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent

# (layer name, module prefixes), lowest first. A module belongs to the layer of
# its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("linuxkit_rules.core",)),
    ("subsystems", ("linuxkit_rules.subsystems",)),
    ("util_rules", ("linuxkit_rules.util_rules",)),
    ("target types", ("linuxkit_rules.target_types", "linuxkit_rules.kernel.target_types")),
    (
        "rules",
        (
            "linuxkit_rules.package",
            "linuxkit_rules.kernel",
            "linuxkit_rules.image",
            "linuxkit_rules.publish",
            "linuxkit_rules.toolchain",
        ),
    ),
    ("goals", ("linuxkit_rules.goals",)),
    ("register", ("linuxkit_rules.rules", "linuxkit_rules.register")),
)
# Test helpers sit above everything (they load the whole backend).
TEST_SUPPORT = ("linuxkit_rules.testutil", "linuxkit_rules.testservers")


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), index)
    return None if best is None else best[1]


def imports_of(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in `source`, relative ones resolved."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
                yield node.lineno, "." * node.level + (node.module or "") + " -> " + name
            else:
                # `from P import n` is judged by `P.n`: the module `n` of package P
                # (`from linuxkit_rules.kernel import rules`) or a name of module P,
                # which has P's layer.
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"


def violations(module: str, source: str) -> list[str]:
    """Why `module` breaks the layering, one line per import; empty when it does not."""
    own = layer_of(module)
    if own is None:
        return []
    found = []
    for line, imported in imports_of(source, module):
        where = f"{module}:{line}"
        if " -> " in imported:
            found.append(
                f"{where}: relative import {imported.split(' -> ')[0]!r}; write the absolute module"
            )
            continue
        if own == 0 and (imported == "pants" or imported.startswith("pants.")):
            found.append(f"{where}: core imports {imported}; core runs without Pants")
            continue
        if not imported.startswith("linuxkit_rules"):
            continue
        if imported.startswith(TEST_SUPPORT):
            continue  # only tests use them; tests are not checked
        target = layer_of(imported)
        if target is not None and target > own:
            found.append(
                f"{where}: {LAYERS[own][0]} imports {imported} ({LAYERS[target][0]}), a layer above it"
            )
    return found


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        if path.name.endswith("_test.py") or "testdata" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        yield ".".join(parts), path


def test_every_module_imports_only_its_layer_and_below() -> None:
    modules = list(_modules())
    # The check must see the whole backend, not whatever happens to be in the sandbox.
    assert {
        "linuxkit_rules.core.tool",
        "linuxkit_rules.util_rules.core_tool",
        "linuxkit_rules.image.rules",
        "linuxkit_rules.kernel.target_types",
        "linuxkit_rules.goals.graph",
        "linuxkit_rules.register",
    } <= {m for m, _ in modules}
    problems = [
        v for module, path in modules for v in violations(module, path.read_text(encoding="utf-8"))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "module,source,expect",
    [
        ("linuxkit_rules.core.spec.x", "import pants.engine.rules\n", "core runs without Pants"),
        (
            "linuxkit_rules.core.spec.x",
            "from linuxkit_rules.util_rules.core_tool import CoreTool\n",
            "a layer above",
        ),
        ("linuxkit_rules.core.spec.x", "from .y import z\n", "relative import"),
        (
            "linuxkit_rules.util_rules.x",
            "from linuxkit_rules.target_types import T\n",
            "util_rules imports",
        ),
        (
            "linuxkit_rules.util_rules.x",
            "from linuxkit_rules.kernel.target_types import T\n",
            "(target types)",
        ),
        (
            "linuxkit_rules.kernel.target_types",
            "from linuxkit_rules.kernel.rules import R\n",
            "(rules)",
        ),
        ("linuxkit_rules.target_types", "from linuxkit_rules.kernel import rules\n", "(rules)"),
        ("linuxkit_rules.image.rules", "from linuxkit_rules.goals.graph import G\n", "(goals)"),
    ],
)
def test_an_upward_import_is_reported(module: str, source: str, expect: str) -> None:
    (problem,) = [v for v in violations(module, source) if expect in v]
    assert problem.startswith(f"{module}:1: ")


@pytest.mark.parametrize(
    "module,source",
    [
        (
            "linuxkit_rules.core.spec.x",
            "import json\nfrom linuxkit_rules.core.errors import SchemaError\n",
        ),
        (
            "linuxkit_rules.util_rules.x",
            "from pants.engine.rules import rule\nfrom linuxkit_rules.core import tool\n",
        ),
        ("linuxkit_rules.kernel.target_types", "from linuxkit_rules.core.arch import Arch\n"),
        ("linuxkit_rules.image.rules", "from linuxkit_rules.kernel.rules import BuiltKernel\n"),
        ("linuxkit_rules.goals.graph", "from linuxkit_rules.image.rules import LinuxkitTargets\n"),
    ],
)
def test_a_downward_or_sideways_import_is_fine(module: str, source: str) -> None:
    assert violations(module, source) == []

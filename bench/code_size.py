#!/usr/bin/env python3
"""Prints the largest modules and the longest functions of linuxkit_rules/ as
markdown tables (tests left out), to watch the code's shape over time.

    python3 bench/code_size.py [--top N]

Lines are counted from a function's `def` (or its first decorator) to its last
line, blank lines and docstrings included; a nested function counts inside
its parent and on its own. Not a test: it prints figures, it asserts nothing.
"""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "linuxkit_rules"


def sources() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if not p.name.endswith("_test.py") and "testdata" not in p.parts
    )


def functions(path: Path) -> list[tuple[int, str]]:
    """(lines, `module:Class.function`) for every function in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = path.relative_to(ROOT).as_posix()
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                length = (child.end_lineno or child.lineno) - first + 1
                found.append((length, f"{module}:{prefix}{child.name}"))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    top = parser.parse_args().top
    paths = sources()
    modules = sorted(
        ((len(p.read_text(encoding="utf-8").splitlines()), p) for p in paths), reverse=True
    )
    print(f"| module | lines |\n|---|---:|")
    for n, p in modules[:top]:
        print(f"| {p.relative_to(ROOT).as_posix()} | {n} |")
    every = sorted((f for p in paths for f in functions(p)), key=lambda f: (-f[0], f[1]))
    print(f"\n| function | lines |\n|---|---:|")
    for n, name in every[:top]:
        print(f"| {name} | {n} |")
    lengths = sorted(n for n, _ in every)
    print(
        f"\n{len(paths)} modules, {sum(n for n, _ in modules)} lines; {len(every)} functions, "
        f"median {lengths[len(lengths) // 2]} lines"
    )


if __name__ == "__main__":
    main()

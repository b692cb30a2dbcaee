"""The README's table of LinuxKit's examples says what the repository does: one
row per example file, "builds" exactly where examples/linuxkit/BUILD has a
target for it, "booted" exactly where a boot test here boots it, a reason on
every other row, and counts in the sentence above it that match."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

EXAMPLES = Path("examples/linuxkit")
TESTS = Path("tests/linuxkit-examples")
ROW = re.compile(r"^\| ([a-z0-9_.-]+) \| (yes|no) \| (yes|no) \|(.*)\|$")


def calls(build: Path, kind: str) -> list[dict[str, Any]]:
    """The literal keyword arguments of every `kind(...)` call in a BUILD file."""
    found = []
    for node in ast.walk(ast.parse(build.read_text(), str(build))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == kind:
            kwargs: dict[str, Any] = {}
            for kw in node.keywords:
                if kw.arg is None:
                    continue  # **kwargs
                try:
                    kwargs[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    pass  # parametrize(...) and the like
            found.append(kwargs)
    return found


def readme_rows() -> dict[str, tuple[bool, bool, str]]:
    text = Path("README.md").read_text()
    section = text.split("## LinuxKit's examples", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"two README rows for {m.group(1)}"
            rows[m.group(1)] = (m.group(2) == "yes", m.group(3) == "yes", m.group(4).strip())
    return rows


def built() -> set[str]:
    return {
        str(kw["source"]).removesuffix(".yml") for kw in calls(EXAMPLES / "BUILD", "linuxkit_image")
    }


def booted() -> set[str]:
    images = {kw["name"]: kw for kw in calls(TESTS / "BUILD", "linuxkit_image")}
    names = set()
    for test in calls(TESTS / "BUILD", "linuxkit_image_test"):
        image = images[str(test["image"]).lstrip(":")]
        for path in image.get("extends", []):
            if path.startswith("../../examples/linuxkit/"):
                names.add(Path(path).stem)
    return names


def test_every_example_file_has_one_row() -> None:
    files = {p.stem for p in EXAMPLES.glob("*.yml")}
    assert set(readme_rows()) == files


def test_builds_and_booted_columns_match_the_build_files() -> None:
    rows = readme_rows()
    assert {name for name, (b, _, _) in rows.items() if b} == built()
    assert {name for name, (_, t, _) in rows.items() if t} == booted()
    for name, (b, t, why) in rows.items():
        assert not t or b, f"{name}: booted but not built"
        assert (b and t) or why, f"{name}: no reason given for what is not done"


def test_the_counts_above_the_table_match_it() -> None:
    rows = readme_rows()
    text = Path("README.md").read_text()
    m = re.search(
        r"Of LinuxKit's (\d+) examples, (\d+) build here unchanged and (\d+) of those\s+boot", text
    )
    assert m, "the README's sentence with the counts is gone"
    assert tuple(int(g) for g in m.groups()) == (
        len(rows),
        sum(b for b, _, _ in rows.values()),
        sum(t for _, t, _ in rows.values()),
    )

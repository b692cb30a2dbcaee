from __future__ import annotations

from pathlib import Path

from linuxkit_rules.goals.graph import LinuxkitGraph
from linuxkit_rules.testutil import make_rule_runner


def write_package(files: dict[str, str], name: str, deps: list[str]) -> None:
    files[f"pkg/{name}/BUILD"] = f"linuxkit_package(dependencies={deps!r})\n"
    files[f"pkg/{name}/build.yml"] = f"image: {name}\n"
    files[f"pkg/{name}/rootfs/etc/{name}"] = f"{name}\n"


def test_graph_goal_writes_dot_and_html_and_reports_whole_cycle() -> None:
    rule_runner = make_rule_runner([])
    files: dict[str, str] = {}
    write_package(files, "a", ["//pkg/b"])
    write_package(files, "b", ["//pkg/c"])
    write_package(files, "c", ["//pkg/a"])
    write_package(files, "d", [])
    rule_runner.write_files(files)
    result = rule_runner.run_goal_rule(LinuxkitGraph, args=["//pkg/a"])
    assert result.exit_code == 0, result.stderr
    assert "cycle: pkg/a:a -> pkg/b:b -> pkg/c:c -> pkg/a:a" in result.stdout
    out = Path(rule_runner.build_root, "dist/linuxkit-graph")
    dot = (out / "pkg.a.a.dot").read_text()
    assert '"//pkg/a:a" -> "//pkg/b:b" [color="red", penwidth=2];' in dot
    assert '"//pkg/a:a" -> "file:pkg/a/rootfs/etc/a";' in dot
    assert "pkg/d" not in dot
    html = (out / "pkg.a.a.html").read_text()
    assert "<svg" in html and "pkg/c:c" in html

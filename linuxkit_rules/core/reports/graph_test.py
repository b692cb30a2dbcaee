from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from linuxkit_rules.core.reports.graph import (
    Node,
    build_graph,
    describe_cycle,
    package_cycles,
    to_dot,
    to_html,
    to_svg,
)

NODES = [
    Node("image:sshd", "image", "//images:sshd"),
    Node("kernel:debian", "kernel", "//kernel:debian"),
    Node("pkg:a", "package", "//pkg/a"),
    Node("pkg:b", "package", "//pkg/b"),
    Node("pkg:c", "package", "//pkg/c"),
    Node("deb:libc6", "deb", "libc6 2.36"),
    Node("deb:libgcc-s1", "deb", "libgcc-s1 12.2"),
    Node("file:pkg/a/rootfs/etc/motd", "file", "pkg/a/rootfs/etc/motd"),
]
EDGES = [
    ("image:sshd", "kernel:debian"),
    ("image:sshd", "pkg:a"),
    ("pkg:a", "pkg:b"),
    ("pkg:b", "pkg:c"),
    ("pkg:c", "pkg:a"),
    ("pkg:a", "deb:libc6"),
    ("deb:libc6", "deb:libgcc-s1"),
    ("deb:libgcc-s1", "deb:libc6"),
    ("pkg:a", "file:pkg/a/rootfs/etc/motd"),
]


def test_cycles_are_reported_whole() -> None:
    g = build_graph(NODES, EDGES)
    cycles = package_cycles(g)
    assert cycles == [["deb:libc6", "deb:libgcc-s1"], ["pkg:a", "pkg:b", "pkg:c"]]
    assert describe_cycle(g, cycles[1]) == "//pkg/a -> //pkg/b -> //pkg/c -> //pkg/a"


def test_no_cycles_in_a_tree() -> None:
    g = build_graph(
        NODES, [e for e in EDGES if e not in (("pkg:c", "pkg:a"), ("deb:libgcc-s1", "deb:libc6"))]
    )
    assert package_cycles(g) == []


def test_dot_is_deterministic_and_marks_cycles() -> None:
    g = build_graph(NODES, EDGES)
    dot = to_dot(g, package_cycles(g))
    assert dot == to_dot(build_graph(reversed(NODES), reversed(EDGES)), package_cycles(g))
    assert dot.startswith('digraph "linuxkit" {')
    assert '"pkg:c" -> "pkg:a" [color="red", penwidth=2];' in dot
    assert '"image:sshd" -> "kernel:debian";' in dot
    assert len(re.findall(r"->", dot)) == len(EDGES)


def test_html_is_self_contained_with_valid_svg() -> None:
    g = build_graph(NODES, EDGES)
    cycles = package_cycles(g)
    page = to_html(g, cycles, "//images:sshd")
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert "//pkg/a -&gt; //pkg/b -&gt; //pkg/c -&gt; //pkg/a" in page
    svg = ET.fromstring(to_svg(g, cycles))
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert sorted(texts) == sorted(n.label for n in NODES)


def test_unknown_edge_end_and_kind_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown node 'pkg:z'"):
        build_graph(NODES, [("pkg:a", "pkg:z")])
    with pytest.raises(ValueError, match="kind 'widget'"):
        Node("x", "widget", "x")

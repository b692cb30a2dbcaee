"""What an image is made of, as a graph: DOT, a self-contained HTML/SVG page, cycles.

Nodes have a kind (image, kernel, package, deb, file) and a label; edges point
from a thing to what it is made of. The `linuxkit-graph` goal collects the
nodes and edges from the build graph; everything here is pure.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Iterable, Sequence

import networkx as nx

KINDS = ("image", "kernel", "package", "deb", "file")
_COLORS = {
    "image": "#f4a261",
    "kernel": "#e76f51",
    "package": "#2a9d8f",
    "deb": "#8ab17d",
    "file": "#d9d9d9",
}
MAX_CYCLES = 100


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    label: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"node {self.id!r}: kind {self.kind!r}; allowed: {', '.join(KINDS)}")


def build_graph(nodes: Iterable[Node], edges: Iterable[tuple[str, str]]) -> nx.DiGraph:
    g = nx.DiGraph()
    for n in nodes:
        g.add_node(n.id, kind=n.kind, label=n.label)
    for a, b in edges:
        for end in (a, b):
            if end not in g:
                raise ValueError(f"edge {a!r} -> {b!r}: unknown node {end!r}")
        g.add_edge(a, b)
    return g


def package_cycles(g: nx.DiGraph, limit: int = MAX_CYCLES) -> list[list[str]]:
    """Cycles among packages (project packages and Debian packages), each as its
    whole node list starting at its smallest id; sorted; at most `limit`."""
    sub = g.subgraph(n for n, d in g.nodes(data=True) if d["kind"] in ("package", "deb"))
    cycles: list[list[str]] = []
    for cycle in nx.simple_cycles(sub):
        start = cycle.index(min(cycle))
        cycles.append(cycle[start:] + cycle[:start])
        if len(cycles) >= limit:
            break
    return sorted(cycles, key=lambda c: (len(c), c))


def describe_cycle(g: nx.DiGraph, cycle: Sequence[str]) -> str:
    labels = [g.nodes[n]["label"] for n in cycle]
    return " -> ".join([*labels, labels[0]])


def _cycle_edges(cycles: Iterable[Sequence[str]]) -> set[tuple[str, str]]:
    return {(c[i], c[(i + 1) % len(c)]) for c in cycles for i in range(len(c))}


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(g: nx.DiGraph, cycles: Sequence[Sequence[str]] = (), name: str = "linuxkit") -> str:
    """Graphviz DOT text; nodes coloured by kind, cycle edges red. Deterministic."""
    red = _cycle_edges(cycles)
    lines = [
        f"digraph {_q(name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="sans-serif"];',
    ]
    for n in sorted(g.nodes):
        d = g.nodes[n]
        lines.append(
            f"  {_q(n)} [label={_q(d['label'])}, fillcolor={_q(_COLORS[d['kind']])}, kind={_q(d['kind'])}];"
        )
    for a, b in sorted(g.edges):
        attrs = ' [color="red", penwidth=2]' if (a, b) in red else ""
        lines.append(f"  {_q(a)} -> {_q(b)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def layout(g: nx.DiGraph) -> dict[str, tuple[int, int]]:
    """One column per kind (image ... file), rows sorted by label."""
    pos: dict[str, tuple[int, int]] = {}
    column = 0
    for kind in KINDS:
        members = sorted((d["label"], n) for n, d in g.nodes(data=True) if d["kind"] == kind)
        if not members:
            continue
        for row, (_, n) in enumerate(members):
            pos[n] = (column, row)
        column += 1
    return pos


_W, _H, _GAP_X, _GAP_Y = 220, 22, 120, 10


def to_svg(g: nx.DiGraph, cycles: Sequence[Sequence[str]] = ()) -> str:
    pos = layout(g)
    red = _cycle_edges(cycles)
    cols = 1 + max((c for c, _ in pos.values()), default=0)
    rows = 1 + max((r for _, r in pos.values()), default=0)
    width = cols * (_W + _GAP_X)
    height = rows * (_H + _GAP_Y) + _GAP_Y

    def xy(n: str) -> tuple[int, int]:
        c, r = pos[n]
        return 10 + c * (_W + _GAP_X), _GAP_Y + r * (_H + _GAP_Y)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">'
    ]
    out.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#888"/></marker></defs>'
    )
    for a, b in sorted(g.edges):
        (x1, y1), (x2, y2) = xy(a), xy(b)
        if pos[a][0] == pos[b][0]:  # same column (deb -> deb): arc on the right
            path = f"M{x1 + _W},{y1 + _H // 2} C{x1 + _W + 60},{y1 + _H // 2} {x2 + _W + 60},{y2 + _H // 2} {x2 + _W},{y2 + _H // 2}"
        else:
            path = f"M{x1 + _W},{y1 + _H // 2} L{x2},{y2 + _H // 2}"
        color, w = ("red", 2) if (a, b) in red else ("#888", 1)
        out.append(
            f'<path d="{path}" fill="none" stroke="{color}" stroke-width="{w}" marker-end="url(#arrow)"><title>{html.escape(g.nodes[a]["label"])} -&gt; {html.escape(g.nodes[b]["label"])}</title></path>'
        )
    for n in sorted(g.nodes):
        d = g.nodes[n]
        x, y = xy(n)
        label = d["label"] if len(d["label"]) <= 34 else d["label"][:33] + "…"
        out.append(
            f'<g><title>{html.escape(d["kind"])}: {html.escape(d["label"])}</title>'
            f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="5" fill="{_COLORS[d["kind"]]}" stroke="#555"/>'
            f'<text x="{x + 6}" y="{y + 15}">{html.escape(label)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def to_html(
    g: nx.DiGraph, cycles: Sequence[Sequence[str]] = (), title: str = "linuxkit graph"
) -> str:
    """A self-contained page (inline SVG, no scripts or external files)."""
    counts = ", ".join(
        f"{sum(1 for _, d in g.nodes(data=True) if d['kind'] == k)} {k}" for k in KINDS
    )
    legend = " ".join(
        f'<span style="background:{_COLORS[k]};padding:2px 6px;border-radius:4px">{k}</span>'
        for k in KINDS
    )
    if cycles:
        items = "".join(f"<li>{html.escape(describe_cycle(g, c))}</li>" for c in cycles)
        cycle_html = (
            f'<h2>Cycles among packages ({len(cycles)})</h2><ul class="cycles">{items}</ul>'
        )
    else:
        cycle_html = "<h2>Cycles among packages</h2><p>none</p>"
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em}.cycles li{color:#b00}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{counts}</p><p>{legend}</p>{cycle_html}"
        f"<div>{to_svg(g, cycles)}</div></body></html>\n"
    )

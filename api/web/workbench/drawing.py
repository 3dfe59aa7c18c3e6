"""The workbench's pictures as inline SVG drawn on the server: the policy graph and before/after bars.

No script, no CDN, no image request: a page with a picture works as it is printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

import networkx as nx

from policies.compiled import CompiledPolicy
from policies.graph import relation_graph

__all__ = ["EDGE_STYLE", "pairs", "relations_svg"]

# Relation kind → (colour, dash, zh, en). Colours keep 4.5:1 against white.
EDGE_STYLE = {
    "excludes": ("#b10e1e", "", "互斥", "excludes"),
    "requires": ("#00703c", "", "以…为前提", "requires"),
    "supersedes": ("#1d5fa6", "6 3", "取代", "supersedes"),
    "group": ("#505a5f", "2 3", "同一互斥组", "exclusive group"),
}


def _graph(policies: Iterable[CompiledPolicy], focus: str | None) -> nx.MultiDiGraph:
    policies = list(policies)
    graph = relation_graph(policies)
    for p in policies:  # an exclusive group is a node its members point at
        group = p.policy.relations.exclusive_group
        if group:
            graph.add_edge(p.id, f"group:{group}", key="group", kind="group")
    if focus is not None and focus in graph:
        near = {focus} | set(graph.successors(focus)) | set(graph.predecessors(focus))
        for node in list(near):
            if node.startswith("group:"):
                near |= set(graph.predecessors(node))
        graph = graph.subgraph(near).copy()
    return graph


def relations_svg(policies: Iterable[CompiledPolicy], lang: str, focus: str | None = None, size: int = 640) -> str:
    """The relations between policies (excludes, requires, supersedes, groups), ``focus`` and its neighbours
    only when given; empty when no policy relates to another."""
    graph = _graph(policies, focus)
    if graph.number_of_edges() == 0:
        return ""
    connected = [n for n in graph.nodes if graph.degree(n) > 0 or n == focus]
    graph = graph.subgraph(connected)
    layout = nx.kamada_kawai_layout(nx.Graph(graph)) if len(graph) > 2 else nx.circular_layout(graph)
    pad_x, pad_y, legend_h = 150, 50, 28  # room for a label on either side of a node at the edge
    height = size + legend_h

    def at(node: str) -> tuple[float, float]:
        x, y = layout[node]
        return pad_x + (x + 1) / 2 * (size - 2 * pad_x), legend_h + pad_y + (y + 1) / 2 * (size - 2 * pad_y)

    zh = lang == "zh"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {height}" role="group" class="graph" '
        f'aria-label="{"政策关系图" if zh else "How the policies relate"}">',
        "<defs>",
        *(
            f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{c}"/></marker>'
            for k, (c, *_rest) in EDGE_STYLE.items()
        ),
        "</defs>",
    ]
    x = 4
    for colour, dash, name_zh, name_en in EDGE_STYLE.values():
        name = name_zh if zh else name_en
        parts.append(
            f'<line x1="{x}" y1="14" x2="{x + 26}" y2="14" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="{dash}"/><text x="{x + 30}" y="18">{escape(name)}</text>'
        )
        x += 40 + 14 * len(name) if zh else 40 + 7 * len(name)
    for a, b, kind in graph.edges(keys=True):
        (x1, y1), (x2, y2) = at(a), at(b)
        dx, dy = x2 - x1, y2 - y1
        length = max((dx * dx + dy * dy) ** 0.5, 1.0)
        shorten = 14 / length  # stop at the node's circle
        colour, dash, name_zh, name_en = EDGE_STYLE.get(kind, EDGE_STYLE["group"])
        marker = "" if kind == "group" else f' marker-end="url(#arrow-{kind})"'
        parts.append(
            f'<line x1="{x1 + dx * shorten:.1f}" y1="{y1 + dy * shorten:.1f}" x2="{x2 - dx * shorten:.1f}" '
            f'y2="{y2 - dy * shorten:.1f}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"{marker}>'
            f"<title>{escape(a)} {escape(name_zh if zh else name_en)} {escape(b)}</title></line>"
        )
    for node in graph.nodes:
        cx, cy = at(node)
        is_group = node.startswith("group:")
        name = f"{'互斥组' if zh else 'group'}: {node.removeprefix('group:')}" if is_group else node
        fill = "#f3f2f1" if is_group else ("#fd0" if node == focus else "#e8f0f8")
        shape = (
            f'<rect x="{cx - 10:.1f}" y="{cy - 10:.1f}" width="20" height="20" fill="{fill}" stroke="#505a5f"/>'
            if is_group
            else f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="12" fill="{fill}" stroke="#1d5fa6" stroke-width="2"/>'
        )
        link = "" if is_group else f'<a href="/web/policies/{escape(node)}">'
        parts.append(
            f'{link}{shape}<text x="{cx:.1f}" y="{cy + 28:.1f}" text-anchor="middle">{escape(name)}</text>'
            + ("" if is_group else "</a>")
        )
    parts.append("</svg>")
    return "".join(parts)


def pairs(rows: Sequence[tuple[str, float, float]], before: str, after: str, width: int = 640, row: int = 34) -> str:
    """Two bars per label (before in grey, after in blue), scaled to the largest value; empty without rows."""
    if not rows:
        return ""
    top = max(max(b, a) for _, b, a in rows) or 1.0
    label_w, value_w = 240, 60
    span = width - label_w - value_w
    height = row * len(rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="plot" '
        f'aria-label="{escape(before)} / {escape(after)}">',
        f'<rect x="{label_w}" y="4" width="12" height="10" fill="#8a9499"/>'
        f'<text x="{label_w + 16}" y="13">{escape(before)}</text>'
        f'<rect x="{label_w + 140}" y="4" width="12" height="10" fill="#1d5fa6"/>'
        f'<text x="{label_w + 156}" y="13">{escape(after)}</text>',
    ]
    for i, (name, b, a) in enumerate(rows):
        y = 24 + i * row
        for j, (v, colour) in enumerate(((b, "#8a9499"), (a, "#1d5fa6"))):
            length = max(1.0, span * v / top)
            yy = y + j * (row - 6) / 2
            parts.append(
                f'<rect x="{label_w}" y="{yy:.1f}" width="{length:.1f}" height="{(row - 10) / 2:.1f}" fill="{colour}"/>'
                f'<text x="{label_w + length + 4:.1f}" y="{yy + (row - 10) / 2 - 1:.1f}">{v:,.0f}</text>'
            )
        parts.append(f'<text x="{label_w - 8}" y="{y + row / 2:.1f}" text-anchor="end">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)

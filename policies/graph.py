"""Relations between policies as a graph (networkx), and the checks made when a catalogue loads.

Edges are ``excludes`` (symmetric: only one of the two is paid), ``requires``
(A is met only when B is eligible or already granted), ``supersedes`` (A
replaces B: while A is eligible, B is not paid). An ``exclusive_group`` is a
set of policies that mutually exclude each other (highest award only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from itertools import combinations

import networkx as nx

from policies.compiled import CompiledPolicy
from policies.errors import Location, PolicyError

__all__ = ["RELATIONS", "check_relations", "conflict_pairs", "relation_graph"]

RELATIONS = ("excludes", "requires", "supersedes")


def relation_graph(policies: Iterable[CompiledPolicy]) -> nx.MultiDiGraph:
    """One node per policy id; one edge per declared relation, across all versions."""
    graph = nx.MultiDiGraph()
    for p in policies:
        graph.add_node(p.id)
        for kind in RELATIONS:
            for target in getattr(p.policy.relations, kind):
                graph.add_edge(p.id, target, key=kind, kind=kind, file=p.file)
    return graph


def _edges(graph: nx.MultiDiGraph, kind: str) -> nx.DiGraph:
    sub = nx.DiGraph()
    sub.add_nodes_from(graph.nodes)
    sub.add_edges_from((a, b) for a, b, k in graph.edges(keys=True) if k == kind)
    return sub


def check_relations(policies: Sequence[CompiledPolicy]) -> list[PolicyError]:
    """Every inconsistency in the relations and versions, each naming the policies involved."""
    errors: list[PolicyError] = []
    files = {p.id: p.file for p in policies}
    graph = relation_graph(policies)
    edges: dict[tuple[str, str, str], Location] = {}  # (kind, from, to) → where the edge is written
    for p in policies:
        for kind in RELATIONS:
            for i, target in enumerate(getattr(p.policy.relations, kind)):
                edges.setdefault((kind, p.id, target), p.location("relations", kind, i))

    def error(kind: str, a: str, b: str, message: str, hint: str) -> None:
        where = edges.get((kind, a, b), Location(files.get(a)))
        errors.append(PolicyError(message, hint=hint, location=where))

    for kind in RELATIONS:
        for a, b in _edges(graph, kind).edges:
            if a == b:
                error(kind, a, b, f"policy '{a}' {kind} itself", f"remove '{a}' from its own '{kind}' list")
    for kind in ("requires", "supersedes"):
        sub = _edges(graph, kind)
        sub.remove_edges_from(nx.selfloop_edges(sub))
        for found in nx.simple_cycles(sub):
            start = found.index(min(found))  # name each cycle the same way every time
            cycle = found[start:] + found[:start]
            chain = " → ".join([*cycle, cycle[0]])
            verb = kind.removesuffix("s")
            error(
                kind,
                cycle[0],
                cycle[1 % len(cycle)],
                f"'{kind}' forms a cycle: {chain}",
                f"break the cycle: no policy may {verb} itself via others",
            )
    excludes = _edges(graph, "excludes")
    for a, b in excludes.edges:
        if a != b and not excludes.has_edge(b, a) and b in files:
            error(
                "excludes",
                a,
                b,
                f"'{a}' excludes '{b}' but '{b}' does not exclude '{a}'",
                f"exclusion is mutual: add '{a}' to the excludes of '{b}' (or use an exclusive_group)",
            )
    by_id: dict[str, list[CompiledPolicy]] = {}
    for p in policies:
        by_id.setdefault(p.id, []).append(p)
    for pid, versions in by_id.items():
        for older, newer in combinations(sorted(versions, key=lambda p: p.version), 2):
            a, b = older.policy.effective, newer.policy.effective
            a_end, b_end = a.end or date.max, b.end or date.max
            if a.start <= b_end and b.start <= a_end:
                until = min(a_end, b_end)
                errors.append(
                    PolicyError(
                        f"versions {older.version} and {newer.version} of '{pid}' are both in force from"
                        f" {max(a.start, b.start)} to {'open end' if until == date.max else until}",
                        hint=f"end version {older.version} (effective.to) before version {newer.version} starts",
                        location=newer.location("effective"),
                    )
                )
    return errors


def conflict_pairs(policies: Iterable[CompiledPolicy]) -> set[tuple[str, str]]:
    """Ordered pairs (a, b), both directions, of policies that may not both be paid to one enterprise."""
    pairs: set[tuple[str, str]] = set()
    groups: dict[str, list[str]] = {}
    for p in policies:
        for target in p.policy.relations.excludes:
            pairs |= {(p.id, target), (target, p.id)}
        if p.policy.relations.exclusive_group:
            groups.setdefault(p.policy.relations.exclusive_group, []).append(p.id)
    for members in groups.values():
        for a, b in combinations(sorted(set(members)), 2):
            pairs |= {(a, b), (b, a)}
    return pairs

"""Impact of a draft: the matcher's own decisions over the latest profiles, with and without the draft.

Both sides go through ``matcher.decide.decide`` — eligibility, the policy
graph, budgets — over the whole population in polars, so the impact is what a
full run with the draft would decide (no Python loop over enterprises). What
other runs already granted is left out on purpose: the question is who the
rules make eligible and what that costs against the period's budget, not what
is still unpaid. The profiles are the ones the next run would decide from: the
route lays the departments' complete lists and the accepted attestations over
them first (``matcher.supplied.lay_over``), so a draft that excludes zombie firms
counts only the listed ones out, not every firm as "needs data".
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import networkx as nx
import polars as pl

from features.standards.divisions import PROVINCES
from matcher.decide import decide
from matcher.ledger.statuses import ELIGIBLE_DECISIONS, PAYABLE_DECISIONS
from policies.compiled import CompiledPolicy
from policies.graph import relation_graph

__all__ = ["impact"]

ELIGIBLE = [str(s) for s in ELIGIBLE_DECISIONS]  # the rules say yes: paid, on confirmation, or recommended
PAYABLE = [str(s) for s in PAYABLE_DECISIONS]
_DIMENSIONS = {
    "region": pl.col("division_code").str.slice(0, 2),
    "size_class": pl.col("size_class"),
    "industry": pl.col("industry_section"),
}


def _eligible(decisions: pl.DataFrame) -> pl.DataFrame:
    return decisions.filter(pl.col("status").is_in(ELIGIBLE)).select(
        "uscc",
        "policy_id",
        pl.when(pl.col("status").is_in(PAYABLE)).then(pl.col("amount_fen")).otherwise(0).alias("amount_fen"),
    )


def _side(decisions: pl.DataFrame, policy_id: str) -> dict[str, Any]:
    mine = decisions.filter(pl.col("policy_id") == policy_id)
    counts = {s: int(n) for s, n in mine.group_by("status").len().iter_rows()}
    payable = mine.filter(pl.col("status").is_in(PAYABLE))
    return {
        "eligible": sum(counts.get(s, 0) for s in ELIGIBLE),
        "statuses": counts,
        "amount_fen": int(payable["amount_fen"].sum() or 0),
        "amount_full_fen": int(payable["amount_full_fen"].sum() or 0),
    }


def _label(dimension: str, value: str | None) -> str | None:
    return PROVINCES.get(value or "") if dimension == "region" else None


def related_policies(policies: Sequence[CompiledPolicy], policy_id: str) -> set[str]:
    """The ids tied to ``policy_id`` — through a relation (excludes, requires, supersedes), an exclusive group
    or a persons family, directly or not: the only policies whose decisions a change of it can move."""
    graph = nx.Graph(relation_graph(policies))
    graph.add_node(policy_id)
    for key in (lambda p: p.policy.relations.exclusive_group, lambda p: p.policy.benefit.persons):
        members: dict[str, list[str]] = defaultdict(list)
        for p in policies:
            if key(p):
                members[str(key(p))].append(p.id)
        for ids in members.values():
            graph.add_edges_from(itertools.pairwise(ids))
    return set(nx.node_connected_component(graph, policy_id))


def impact(
    profiles: pl.DataFrame,
    baseline: Sequence[CompiledPolicy],
    draft: CompiledPolicy,
    as_of: date,
    *,
    limit: int = 100,
) -> dict[str, Any]:
    """Who gains and who loses ``draft.id`` against ``baseline`` (the policies in force), and at what cost."""
    # Only the policies the draft is tied to can decide differently with it: decide those, not the catalogue.
    related = related_policies([*baseline, draft], draft.id)
    baseline = [p for p in baseline if p.id in related]
    scenario = [p for p in baseline if p.id != draft.id] + [draft]
    before = decide(profiles, baseline, as_of).decisions
    after_decided = decide(profiles, scenario, as_of)
    after = after_decided.decisions
    b, a = _eligible(before), _eligible(after)
    keys = ["uscc", "policy_id"]
    both = (
        b.rename({"amount_fen": "before_fen"})
        .with_columns(before=pl.lit(True))
        .join(
            a.rename({"amount_fen": "after_fen"}).with_columns(after=pl.lit(True)), on=keys, how="full", coalesce=True
        )
        .with_columns(pl.col("before", "after").fill_null(False), pl.col("before_fen", "after_fen").fill_null(0))
    )
    mine = both.filter(pl.col("policy_id") == draft.id).join(
        profiles.select("uscc", *(e.alias(n) for n, e in _DIMENSIONS.items())), on="uscc", how="left"
    )
    newly = mine.filter(pl.col("after") & ~pl.col("before")).sort("uscc")["uscc"]
    dropped = mine.filter(pl.col("before") & ~pl.col("after")).sort("uscc")["uscc"]

    breakdown: dict[str, list[dict[str, Any]]] = {}
    for name in _DIMENSIONS:
        grouped = (
            mine.group_by(name)
            .agg(
                eligible_before=pl.col("before").sum(),
                eligible_after=pl.col("after").sum(),
                newly_eligible=(pl.col("after") & ~pl.col("before")).sum(),
                no_longer_eligible=(pl.col("before") & ~pl.col("after")).sum(),
                amount_before_fen=pl.col("before_fen").sum(),
                amount_after_fen=pl.col("after_fen").sum(),
            )
            .sort(name, nulls_last=True)
        )
        breakdown[name] = [
            {"key": r.pop(name), **{k: int(v) for k, v in r.items()}} | {"label": None}
            for r in grouped.iter_rows(named=True)
        ]
        for row in breakdown[name]:
            row["label"] = _label(name, row["key"])

    others = (
        both.filter(pl.col("policy_id") != draft.id, pl.col("before") != pl.col("after"))
        .group_by("policy_id")
        .agg(newly_eligible=pl.col("after").sum(), no_longer_eligible=pl.col("before").sum())
        .sort("policy_id")
    )
    budget = after_decided.budgets.get(draft.id)
    return {
        "policy_id": draft.id,
        "draft_version": draft.version,
        "baseline_version": next((p.version for p in baseline if p.id == draft.id), None),
        "as_of": as_of,
        "enterprises": profiles.height,
        "baseline": _side(before, draft.id),
        "draft": _side(after, draft.id),
        "newly_eligible": {"count": newly.len(), "uscc": newly.head(limit).to_list()},
        "no_longer_eligible": {"count": dropped.len(), "uscc": dropped.head(limit).to_list()},
        "budget": None
        if budget is None
        else {
            "budget_fen": budget["budget_fen"],
            "demanded_fen": budget["demanded_fen"],
            "share_of_budget": round(budget["demanded_fen"] / budget["budget_fen"], 6),
            "scale": budget["scale"],
        },
        "breakdown": breakdown,
        "other_policies": [dict(r) for r in others.iter_rows(named=True)],
        "amount_errors": after_decided.amount_errors.get(draft.id),
    }

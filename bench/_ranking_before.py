"""The ranking stage as it was before issue 17, kept for ``bench/ranking_stage.py`` to time beside the new one.

A faithful copy of ``matcher.ranking.serve.rank_decisions`` and the feature code it called (per-policy
margins re-evaluated from the profiles, features stored as comma-separated text through row inserts), with
a timer per sub-stage. Bench-only: nothing in the product imports it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl
from sqlalchemy import Boolean, Column, Engine, Float, Integer, MetaData, String, Table, Text

from matcher.db.bulk import insert_missing
from matcher.ranking.features import CODES, FEATURE_SET, FEATURES, history, history_empty
from matcher.ranking.holdout import holdout_members
from matcher.ranking.serve import PushPlan, _already_notified, fallback_key
from policies.compiled import CompiledPolicy
from policies.conditions import leaves as all_leaves
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate

# The old layout, one row per pair with the features as comma-separated text (until migration 0022): the old
# path writes its rows to this table of its own, made by whoever runs it (bench/ranking_stage.py, test_serve).
rank_features = Table(
    "rank_features_before",
    MetaData(),
    Column("uscc", String(18), primary_key=True),
    Column("policy_id", String(80), primary_key=True),
    Column("run_id", String(32), primary_key=True),
    Column("feature_set", String(16), nullable=False),
    Column("features", Text, nullable=False),
    Column("score", Float),
    Column("position", Integer, nullable=False),
    Column("wave", Integer, nullable=False),
    Column("holdout", Boolean, nullable=False),
)

__all__ = ["rank_decisions_before"]


def _code(name: str, column: pl.Expr) -> pl.Expr:
    mapping = {value: i for i, value in enumerate(CODES[name])}
    return column.replace_strict(mapping, default=None, return_dtype=pl.Float64)


def _margins(rows: pl.DataFrame, profiles: pl.DataFrame, policy: CompiledPolicy, as_of: date) -> pl.DataFrame:
    leaves = all_leaves(policy.eligibility)
    values = [to_polars(leaf.expr.node, policy.kinds, as_of) for leaf in leaves]
    gaps = []
    for leaf, value in zip(leaves, values, strict=True):
        node = leaf.expr.node
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.FactRef) and ast.is_constant(node.right)):
            continue
        threshold = evaluate(node.right, {}, as_of)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            continue
        fact = pl.col(node.left.name).cast(pl.Float64)
        gaps.append(pl.when(~value).then((fact - threshold).abs() / max(abs(threshold), 1e-9)))
    met = pl.sum_horizontal([v.fill_null(False).cast(pl.Int32) for v in values])
    unknown = pl.sum_horizontal([v.is_null().cast(pl.Int32) for v in values])
    return (
        rows.filter(pl.col("policy_id") == policy.id)
        .select("uscc", "policy_id")
        .join(profiles.select("uscc", *sorted(policy.facts - {"uscc"})), on="uscc", how="left")
        .select(
            "uscc",
            "policy_id",
            (met / len(leaves)).cast(pl.Float64).alias("conditions_met_share"),
            unknown.cast(pl.Float64).alias("conditions_unknown"),
            (pl.min_horizontal(gaps) if gaps else pl.lit(None, pl.Float64)).fill_null(0.0).alias("threshold_gap"),
        )
    )


def candidate_features_before(
    decisions: pl.DataFrame,
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    past: pl.DataFrame | None = None,
) -> pl.DataFrame:
    attributes = pl.DataFrame(
        {
            "policy_id": [p.id for p in policies],
            "category": [p.policy.category for p in policies],
            "level": [p.policy.authority.level for p in policies],
            "delivery": [p.policy.delivery_default for p in policies],
            "period": [p.policy.benefit.period for p in policies],
        }
    )
    by_id = {p.id: p for p in policies}
    margins = pl.concat(
        [_margins(decisions, profiles, by_id[pid], as_of) for pid in decisions["policy_id"].unique().sort()]
    )
    profile = profiles.select(
        "uscc",
        "size_class",
        "industry_section",
        pl.col("employees_last_year").cast(pl.Float64).log1p().alias("log_employees"),
        pl.col("revenue_last_year").cast(pl.Float64).alias("revenue"),
        pl.col("age_years").cast(pl.Float64),
        pl.col("patents_invention").cast(pl.Float64),
        pl.col("high_tech").cast(pl.Float64),
    )
    past = past if past is not None else history_empty()
    per_enterprise = past.group_by("uscc").agg(
        past_notices=pl.len().cast(pl.Float64),
        past_engaged_share=pl.col("engaged").mean(),
        past_acted=pl.col("acted").sum().cast(pl.Float64),
        past_declined=pl.col("declined").sum().cast(pl.Float64),
    )
    per_category = past.group_by("uscc", "category").agg(past_same_category_acted=pl.col("acted").sum())
    per_policy = past.group_by("uscc", "policy_id").agg(past_same_policy=pl.len())
    amount = pl.col("amount_full_fen").cast(pl.Float64) / 100
    frame = (
        decisions.select("uscc", "policy_id", "status", "amount_full_fen")
        .join(attributes, on="policy_id", how="left")
        .join(margins, on=["uscc", "policy_id"], how="left")
        .join(profile, on="uscc", how="left")
        .join(per_enterprise, on="uscc", how="left")
        .join(per_category, on=["uscc", "category"], how="left")
        .join(per_policy, on=["uscc", "policy_id"], how="left")
    )
    return frame.select(
        "uscc",
        "policy_id",
        _code("policy_category", pl.col("category")).alias("policy_category"),
        _code("policy_level", pl.col("level")).alias("policy_level"),
        _code("delivery", pl.col("delivery")).alias("delivery"),
        _code("period", pl.col("period")).alias("period"),
        _code("status", pl.col("status")).alias("status"),
        (amount + 1).log10().alias("log_amount"),
        (amount / amount.max().over("uscc")).alias("amount_share"),
        pl.when(pl.col("revenue") > 0).then(amount / pl.col("revenue")).alias("amount_to_revenue"),
        pl.col("conditions_met_share", "conditions_unknown", "threshold_gap"),
        _code("size_class", pl.col("size_class")).alias("size_class"),
        _code("industry_section", pl.col("industry_section")).alias("industry_section"),
        "log_employees",
        (pl.col("revenue").clip(lower_bound=0) + 1).log10().alias("log_revenue"),
        "age_years",
        "patents_invention",
        "high_tech",
        pl.len().over("uscc").cast(pl.Float64).alias("candidates"),
        pl.col("past_notices").fill_null(0.0),
        "past_engaged_share",
        pl.col("past_acted", "past_declined").fill_null(0.0),
        pl.col("past_same_category_acted").fill_null(0).cast(pl.Float64),
        pl.col("past_same_policy").fill_null(0).cast(pl.Float64),
    ).with_columns(pl.col(FEATURES).cast(pl.Float64))


def encode_features_before() -> pl.Expr:
    return pl.concat_str([pl.col(f).round(6).cast(pl.String).fill_null("") for f in FEATURES], separator=",").alias(
        "features"
    )


def rank_decisions_before(
    engine: Engine,
    run_id: str,
    decisions: pl.DataFrame,
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    plan: PushPlan,
    *,
    chunk_rows: int = 20_000,
    timings: dict[str, float],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(decisions with ``rank``, waves: uscc, policy_id, wave) as the old path made them; ``timings`` filled."""
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock
        clock = now

    past = history(engine, as_of, run_id, policies)
    lap("history")
    feats = candidate_features_before(decisions, profiles, policies, as_of, past)
    decided = decisions.select("uscc", "policy_id", "period_key", "amount_full_fen", decision=pl.col("status"))
    rows = decided.join(feats, on=["uscc", "policy_id"], how="left")
    lap("features")
    if plan.scorer is not None:
        scores = plan.scorer.score(rows.select(FEATURES).to_numpy().astype(np.float64))
        lap("scoring")
        within = pl.int_range(pl.len()).over("uscc")
        rows = (
            rows.with_columns(score=pl.Series(np.asarray(scores, dtype=np.float64)))
            .join(holdout_members(rows["uscc"], run_id, plan.holdout), on="uscc", how="left")
            .sort(["uscc", -pl.col("score"), pl.col("policy_id")])
            .with_columns(by_model=within)
            .sort(["uscc", *fallback_key()])
            .with_columns(by_fallback=within)
        )
        order = [pl.when(pl.col("holdout")).then(pl.col("by_fallback")).otherwise(pl.col("by_model"))]
    else:
        rows = rows.with_columns(score=pl.lit(None, pl.Float64), holdout=pl.lit(False))
        order = fallback_key()
    repeats = _already_notified(engine, run_id, decisions["period_key"].unique().to_list()).with_columns(
        repeat=pl.lit(True)
    )
    rows = (
        rows.join(repeats, on=["uscc", "policy_id", "period_key", "decision"], how="left")
        .with_columns(repeat=pl.col("repeat").fill_null(False))
        .sort(["uscc", "repeat", *order])
        .with_columns(position=(pl.int_range(pl.len()).over("uscc") + 1).cast(pl.Int32))
        .with_columns(wave=pl.when(pl.col("repeat")).then(0).otherwise((pl.col("position") - 1) // plan.cap))
    )
    lap("ordering")
    stored = rows.select(
        pl.lit(run_id).alias("run_id"),
        "uscc",
        "policy_id",
        pl.lit(FEATURE_SET).alias("feature_set"),
        encode_features_before(),
        "score",
        "position",
        "wave",
        "holdout",
    )
    lap("encoding")
    insert_missing(engine, rank_features, stored, chunk_rows=chunk_rows)
    lap("storing")
    rank = pl.when(~pl.col("holdout")).then(pl.col("score")).alias("rank")
    ranked = decisions.join(rows.select("uscc", "policy_id", rank), on=["uscc", "policy_id"], how="left")
    return ranked, rows.select("uscc", "policy_id", "wave", "position")

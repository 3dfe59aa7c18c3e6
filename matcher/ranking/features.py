"""Candidate pairs and their features: one row per decision of a run (enterprise × policy), in polars.

The candidates are the run's decisions that reach an enterprise: granted,
awaiting confirmation, recommended, needs data, near miss. Features come in
four groups, every one computed over the whole population at once (loops run
over policies and their conditions, never over enterprises):

- **policy**: category, issuing level, delivery mode, entitlement period, the
  decision's status, the amount (log, share of the enterprise's largest, share
  of its revenue);
- **rule margin**: share of the policy's conditions met, number unknown, and
  the normalised distance to the nearest failing numeric threshold;
- **profile**: size class, industry section, employees, revenue, age,
  invention patents, high-tech status, number of candidates in the run;
- **history** (before the as-of date only): earlier notices, how many were
  opened or acted on, declined, acted on in the same category, on the same policy.

Categorical values are small integer codes (``CODES``), so the frame is all
numbers and feeds LightGBM and the MLflow signature as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from features.standards.industry import SECTIONS
from features.standards.size_class import SIZE_CLASSES
from matcher.db.models import notices, responses, runs
from matcher.ledger.statuses import DecisionStatus
from policies.compiled import CompiledPolicy
from policies.conditions import leaves as all_leaves
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate

__all__ = [
    "ACTED",
    "CATEGORICAL",
    "CODES",
    "FEATURES",
    "FEATURE_SET",
    "GRADES",
    "candidate_features",
    "decode_features",
    "encode_features",
    "history",
    "history_empty",
    "profile_rows",
]

# Codes of the categorical features (position in the tuple = code).
CODES: dict[str, tuple[str, ...]] = {
    "policy_category": ("employment", "tax", "innovation", "growth", "finance"),
    "policy_level": ("national", "provincial", "municipal", "district"),
    "delivery": ("automatic", "confirm", "notify"),
    "period": ("once", "yearly", "monthly"),
    "status": tuple(str(s) for s in DecisionStatus),
    "size_class": SIZE_CLASSES,
    "industry_section": tuple(SECTIONS),
}
CATEGORICAL = ("policy_category", "delivery", "period", "status", "industry_section")

FEATURES: tuple[str, ...] = (
    # policy and decision
    "policy_category",
    "policy_level",
    "delivery",
    "period",
    "status",
    "log_amount",
    "amount_share",
    "amount_to_revenue",
    # rule margin
    "conditions_met_share",
    "conditions_unknown",
    "threshold_gap",
    # profile
    "size_class",
    "industry_section",
    "log_employees",
    "log_revenue",
    "age_years",
    "patents_invention",
    "high_tech",
    "candidates",
    # history
    "past_notices",
    "past_engaged_share",
    "past_acted",
    "past_declined",
    "past_same_category_acted",
    "past_same_policy",
)
# Stored with every piece of ranking features (matcher/ranking/parts.py); bump when FEATURES changes (older
# pieces are then not trained on).
FEATURE_SET = "v1"

# Relevance grade of each response kind (the best response to a notice is its label).
GRADES: dict[str, int] = {
    "confirmed": 3,
    "supplied_data": 3,
    "opened": 1,
    "ignored": 0,
    "declined": 0,
    "objected": 0,
}
ACTED = ("confirmed", "supplied_data")  # the responses that take a benefit up
_ENGAGED = ("opened", *ACTED)
_NEGATIVE = ("declined", "objected")


def _code(name: str, column: pl.Expr) -> pl.Expr:
    mapping = {value: i for i, value in enumerate(CODES[name])}
    return column.replace_strict(mapping, default=None, return_dtype=pl.Float64)


def profile_rows(decisions: pl.DataFrame, profiles: pl.DataFrame) -> np.ndarray:
    """Each decision's row in ``profiles`` (one join on ``uscc``, in the decisions' order): every later
    feature is gathered by it instead of joined again."""
    found = decisions.select("uscc").join(
        profiles.select("uscc").with_row_index("_row"), on="uscc", how="left", maintain_order="left"
    )["_row"]
    if found.null_count():
        missing = decisions.filter(found.is_null())["uscc"].head(3).to_list()
        raise ValueError(
            f"ranking: expected a profile for every enterprise decided, found {found.null_count()} decisions "
            f"without one (e.g. {missing}); rank the decisions with the profiles they were decided from"
        )
    return found.to_numpy()


def _margins(facts: pl.DataFrame, policy: CompiledPolicy, as_of: date) -> pl.DataFrame:
    """Share of conditions met, conditions unknown, nearest failing threshold's normalised gap, for one policy's
    rows (``facts``: the profile columns it reads, one row per decision)."""
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
    return facts.select(
        (met / len(leaves)).cast(pl.Float64).alias("conditions_met_share"),
        unknown.cast(pl.Float64).alias("conditions_unknown"),
        (pl.min_horizontal(gaps) if gaps else pl.lit(None, pl.Float64)).fill_null(0.0).alias("threshold_gap"),
    )


_MARGINS = ("conditions_met_share", "conditions_unknown", "threshold_gap")


def _all_margins(
    decisions: pl.DataFrame, profiles: pl.DataFrame, at: np.ndarray, policies: Sequence[CompiledPolicy], as_of: date
) -> pl.DataFrame:
    """The rule-margin features of every decision, in the decisions' order: per policy, its conditions
    evaluated on its decisions' profile rows (gathered, not joined), written back at the decisions' positions."""
    out = {name: np.full(decisions.height, np.nan) for name in _MARGINS}
    by_id = {p.id: p for p in policies}
    groups = decisions.select(pl.col("policy_id"), _i=pl.int_range(pl.len(), dtype=pl.UInt32)).group_by("policy_id")
    for policy_id, positions in groups.agg("_i").iter_rows():
        policy = by_id[policy_id]
        where = np.asarray(positions, dtype=np.int64)
        facts = profiles.select(sorted(policy.facts - {"uscc"})).gather(at[where])  # only what it reads
        for name, column in _margins(facts, policy, as_of).to_dict().items():
            out[name][where] = column.to_numpy()
    return pl.DataFrame(out)


def history(engine: Engine, as_of: date, run_id: str, policies: Sequence[CompiledPolicy]) -> pl.DataFrame:
    """Earlier notices (from runs before ``as_of``) with the best response each got before ``as_of``.

    One row per earlier notice: uscc, policy_id, category, engaged, acted, declined.
    """
    cutoff = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    notice_query = (
        select(notices.c.id, notices.c.uscc, notices.c.policy_id)
        .join(runs, runs.c.id == notices.c.run_id)
        .where(runs.c.as_of < as_of, notices.c.run_id != run_id)
    )
    response_query = select(responses.c.notice_id, responses.c.kind).where(responses.c.at < cutoff)
    with engine.connect() as connection:
        earlier = pl.DataFrame(
            connection.execute(notice_query).all(),
            schema={"notice_id": pl.Int64, "uscc": pl.String, "policy_id": pl.String},
            orient="row",
        )
        answered = pl.DataFrame(
            connection.execute(response_query).all(), schema={"notice_id": pl.Int64, "kind": pl.String}, orient="row"
        )
    per_notice = answered.group_by("notice_id").agg(
        engaged=pl.col("kind").is_in(_ENGAGED).any(),
        acted=pl.col("kind").is_in(ACTED).any(),
        declined=pl.col("kind").is_in(_NEGATIVE).any(),
    )
    categories = pl.DataFrame(
        {"policy_id": [p.id for p in policies], "category": [p.policy.category for p in policies]}
    ).unique("policy_id")
    return (
        earlier.join(per_notice, on="notice_id", how="left")
        .join(categories, on="policy_id", how="left")
        .with_columns(pl.col("engaged", "acted", "declined").fill_null(False))
    )


def candidate_features(
    decisions: pl.DataFrame,
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    past: pl.DataFrame | None = None,
    *,
    at: np.ndarray | None = None,
) -> pl.DataFrame:
    """``uscc``, ``policy_id`` and every column of ``FEATURES`` (Float64), one row per decision, in the
    decisions' order.

    ``past`` is ``history(...)``: earlier notices and their responses (none when omitted). ``at``: each
    decision's row in ``profiles`` (``profile_rows``), when the caller has it already. Profile columns are
    computed once over the profiles and gathered by row; the only joins left are on the history.
    """
    at = profile_rows(decisions, profiles) if at is None else at
    ids = [p.id for p in policies]

    def attribute(name: str, values: list[str]) -> pl.Expr:  # a policy attribute's code, straight from the id
        codes = {value: i for i, value in enumerate(CODES[name])}
        mapping = {pid: codes.get(value) for pid, value in zip(ids, values, strict=True)}
        return pl.col("policy_id").replace_strict(mapping, default=None, return_dtype=pl.Float64).alias(name)

    profile = (
        profiles.select(
            _code("size_class", pl.col("size_class")).alias("size_class"),
            _code("industry_section", pl.col("industry_section")).alias("industry_section"),
            pl.col("employees_last_year").cast(pl.Float64).log1p().alias("log_employees"),
            pl.col("revenue_last_year").cast(pl.Float64).alias("revenue"),
            pl.col("age_years").cast(pl.Float64),
            pl.col("patents_invention").cast(pl.Float64),
            pl.col("high_tech").cast(pl.Float64),
        )
        .gather(at)
        .with_columns(_enterprise=pl.Series(at))
    )
    amount = pl.col("amount_full_fen").cast(pl.Float64) / 100
    frame = pl.concat(
        [
            decisions.select("uscc", "policy_id", "status", "amount_full_fen"),
            profile,
            _all_margins(decisions, profiles, at, policies, as_of),
        ],
        how="horizontal",
    )
    frame = _with_history(frame, past, policies)
    return frame.select(
        "uscc",
        "policy_id",
        attribute("policy_category", [p.policy.category for p in policies]),
        attribute("policy_level", [p.policy.authority.level for p in policies]),
        attribute("delivery", [p.policy.delivery_default for p in policies]),
        attribute("period", [p.policy.benefit.period for p in policies]),
        _code("status", pl.col("status")).alias("status"),
        (amount + 1).log10().alias("log_amount"),
        (amount / amount.max().over("_enterprise")).alias("amount_share"),
        pl.when(pl.col("revenue") > 0).then(amount / pl.col("revenue")).alias("amount_to_revenue"),
        pl.col(*_MARGINS),
        "size_class",
        "industry_section",
        "log_employees",
        (pl.col("revenue").clip(lower_bound=0) + 1).log10().alias("log_revenue"),
        "age_years",
        "patents_invention",
        "high_tech",
        pl.len().over("_enterprise").cast(pl.Float64).alias("candidates"),
        pl.col("past_notices").fill_null(0.0),
        "past_engaged_share",
        pl.col("past_acted", "past_declined").fill_null(0.0),
        pl.col("past_same_category_acted").fill_null(0).cast(pl.Float64),
        pl.col("past_same_policy").fill_null(0).cast(pl.Float64),
    ).with_columns(pl.col(FEATURES).cast(pl.Float64))


def _with_history(frame: pl.DataFrame, past: pl.DataFrame | None, policies: Sequence[CompiledPolicy]) -> pl.DataFrame:
    """``frame`` with the history features (null where an enterprise has none, as when there is no history)."""
    if past is None or past.height == 0:  # a first run: nothing to join
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias(name)
            for name in ("past_notices", "past_engaged_share", "past_acted", "past_declined")
        ).with_columns(past_same_category_acted=pl.lit(None, pl.UInt32), past_same_policy=pl.lit(None, pl.UInt32))
    per_enterprise = past.group_by("uscc").agg(
        past_notices=pl.len().cast(pl.Float64),
        past_engaged_share=pl.col("engaged").mean(),
        past_acted=pl.col("acted").sum().cast(pl.Float64),
        past_declined=pl.col("declined").sum().cast(pl.Float64),
    )
    per_category = past.group_by("uscc", "category").agg(past_same_category_acted=pl.col("acted").sum())
    per_policy = past.group_by("uscc", "policy_id").agg(past_same_policy=pl.len())
    category = pl.col("policy_id").replace_strict(
        {p.id: p.policy.category for p in policies}, default=None, return_dtype=pl.String
    )
    return (
        frame.with_columns(category=category)
        .join(per_enterprise, on="uscc", how="left", maintain_order="left")
        .join(per_category, on=["uscc", "category"], how="left", maintain_order="left")
        .join(per_policy, on=["uscc", "policy_id"], how="left", maintain_order="left")
    )


def history_empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "notice_id": pl.Int64,
            "uscc": pl.String,
            "policy_id": pl.String,
            "engaged": pl.Boolean,
            "acted": pl.Boolean,
            "declined": pl.Boolean,
            "category": pl.String,
        }
    )


def encode_features() -> pl.Expr:
    """One text value per row: the features in ``FEATURES`` order, comma-separated, empty for null."""
    return pl.concat_str([pl.col(f).round(6).cast(pl.String).fill_null("") for f in FEATURES], separator=",").alias(
        "features"
    )


def decode_features(column: str = "features") -> list[pl.Expr]:
    """The inverse of ``encode_features``: one Float64 column per feature."""
    parts = pl.col(column).str.split(",")
    return [parts.list.get(i).cast(pl.Float64, strict=False).alias(name) for i, name in enumerate(FEATURES)]

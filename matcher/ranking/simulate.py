"""A stand-in for enterprises: matching runs on successive as-of dates, and how each enterprise responds.

For demos and tests only: the responses are written with ``actor = 'simulator'``.
The preference model is hidden from the ranker — it reads the registry
profiles itself, draws latent traits the ranker never sees, and uses its own
functional forms, not the ranker's features:

1. **Attention** (position bias, ``ATTENTION``). The enterprise looks at the
   notice pushed at position p (1 = first) with probability 0.92 × 0.72^(p−1);
   a notice pushed in a later wave is looked at with a further factor 0.85 per
   wave (with the push cap of 3, the fourth notice is looked at with
   probability 0.92 × 0.72³ × 0.85 ≈ 0.29). A notice not looked at is
   ``ignored``: the response depends on where the notice was pushed, not only
   on what it is — as real responses do, which is why training corrects for
   the position (``matcher.ranking.model``).
2. **Utility** of a notice looked at (``preference`` is its noise-free part:
   the simulated enterprises' true preferences, which tests compare models with):
   - responsiveness: a latent trait per enterprise, normal(0, 0.6);
   - category affinity by industry: manufacturers care for innovation and growth
     awards, trade and services for tax relief and employment subsidies,
     information and science firms for innovation (``AFFINITY``), plus one
     latent favourite category per enterprise (+0.9);
   - amount: 1.1 × log10(1 + amount / scale), the scale growing with the
     enterprise's size (micro 2,000, small 10,000, medium 50,000, large
     200,000 yuan): the same amount matters more to a small firm;
   - effort: confirming +0.5, nothing to do +0.2, applying elsewhere −0.4,
     supplying data −0.6 (−1.0 under 10 employees), a near miss −0.9;
   - noise: normal(0, 0.8) per notice.
3. **Response**: utility > 1.0 → acts (``confirmed``, or ``supplied_data`` for
   needs data and near misses; ``opened`` first); utility < −1.2 → ``opened`` then
   ``declined`` (``objected`` for a granted benefit below −2.5); otherwise ``opened``.

Responses are dated within the notice's wave (1–3 days after it was due), so
they are known before the next as-of date. Everything is seeded: the same
registry, dates and seed give the same responses (for a given polars version,
whose hash draws the latent traits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from features.profiles import build_profiles
from features.registries.validate import RegistryCheck, check_registry
from matcher.db.bulk import insert_missing
from matcher.db.models import notices, responses
from matcher.ranking.parts import read_pairs
from matcher.ranking.serve import PushPlan
from matcher.run import run_matching
from policies.compiled import CompiledPolicy

__all__ = ["AFFINITY", "ATTENTION", "SimulationReport", "as_of_dates", "attention", "preference", "respond", "simulate"]

CATEGORIES = ("employment", "tax", "innovation", "growth", "finance")
# Industry section → category → affinity (missing pairs: 0).
AFFINITY: dict[str, dict[str, float]] = {
    "C": {"innovation": 1.2, "growth": 0.9, "tax": 0.2, "employment": -0.2, "finance": -0.3},
    "F": {"tax": 0.9, "employment": 0.6, "finance": 0.4, "innovation": -0.6},
    "G": {"tax": 0.9, "employment": 0.6, "finance": 0.4, "innovation": -0.6},
    "H": {"employment": 0.9, "tax": 0.5, "innovation": -0.6},
    "I": {"innovation": 1.4, "tax": 0.4, "growth": 0.3, "employment": -0.3},
    "M": {"innovation": 1.3, "growth": 0.4, "employment": -0.2},
    "E": {"employment": 0.8, "finance": 0.6, "innovation": -0.4},
}
SCALE = {"micro": 2_000.0, "small": 10_000.0, "medium": 50_000.0, "large": 200_000.0}
EFFORT = {
    "granted": 0.2,
    "awaiting_confirmation": 0.5,
    "recommended": -0.4,
    "needs_data": -0.6,
    "near_miss": -0.9,
}
ACT_ABOVE, DECLINE_BELOW, OBJECT_BELOW = 1.0, -1.2, -2.5
# Position bias: P(looked at) = first × fatigue^(position − 1) × per_wave^wave.
ATTENTION = {"first": 0.92, "fatigue": 0.72, "per_wave": 0.85}
NOISE = 0.8  # standard deviation of the per-notice utility noise


@dataclass
class SimulationReport:
    dates: list[date] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    notices: int = 0
    responses: dict[str, int] = field(default_factory=dict)


def as_of_dates(start: date, end: date, every_months: int) -> list[date]:
    """Month ends from ``start``'s month to ``end``, every ``every_months`` months."""
    if end < start:
        raise ValueError(f"--to ({end}) is before --from ({start})")
    if every_months < 1:
        raise ValueError(f"--every: expected at least 1 month, found {every_months}")
    days, year, month = [], start.year, start.month
    while True:
        first_next = date(year + month // 12, month % 12 + 1, 1)
        day = first_next - timedelta(days=1)
        if day > end:
            break
        if day >= start:
            days.append(day)
        month += every_months
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return days


def _latent(uscc: pl.Expr, seed: int, salt: int) -> pl.Expr:
    """A uniform(0, 1) draw fixed per enterprise (hash of the USCC)."""
    return (uscc.hash(seed * 1_000 + salt) % 1_000_003).cast(pl.Float64) / 1_000_003


def attention(position: pl.Expr, wave: pl.Expr) -> pl.Expr:
    """The probability that a notice pushed at ``position`` (1 = first) in ``wave`` (0 = with the run) is looked at."""
    return (
        ATTENTION["first"]
        * ATTENTION["fatigue"] ** (position - 1).cast(pl.Float64)
        * ATTENTION["per_wave"] ** wave.cast(pl.Float64)
    )


def preference(rows: pl.DataFrame, *, seed: int) -> pl.Series:
    """The noise-free utility of each notice of ``rows`` to its enterprise: the simulated true preferences.

    ``rows`` holds uscc, industry_section, size_class, employees_last_year (the profile), category, kind (the
    decision status) and amount_fen (the notice); the latent traits are drawn from ``seed``. The order of
    ``rows`` is kept.
    """
    favourite = ((_latent(pl.col("uscc"), seed, 2) * len(CATEGORIES)).floor().cast(pl.Int64)).replace_strict(
        dict(enumerate(CATEGORIES)), return_dtype=pl.String
    )
    affinity = pl.DataFrame(
        [(section, category, value) for section, row in AFFINITY.items() for category, value in row.items()],
        schema={"industry_section": pl.String, "category": pl.String, "affinity": pl.Float64},
        orient="row",
    )
    # responsiveness: inverse normal CDF approximated from a per-enterprise uniform (logit × 0.6 / 1.7)
    u = _latent(pl.col("uscc"), seed, 1).clip(0.001, 0.999)
    responsiveness = (u / (1 - u)).log() * (0.6 / 1.7)
    scale = pl.col("size_class").replace_strict(SCALE, default=10_000.0, return_dtype=pl.Float64)
    amount = pl.col("amount_fen").fill_null(0).cast(pl.Float64) / 100
    effort = pl.col("kind").replace_strict(EFFORT, return_dtype=pl.Float64) - pl.when(
        (pl.col("kind") == "needs_data") & (pl.col("employees_last_year").fill_null(0) < 10)
    ).then(0.4).otherwise(0.0)
    return (
        rows.select("uscc", "industry_section", "size_class", "employees_last_year", "category", "kind", "amount_fen")
        .join(affinity, on=["industry_section", "category"], how="left", maintain_order="left")
        .select(
            (
                responsiveness
                + pl.col("affinity").fill_null(0.0)
                + pl.when(pl.col("category") == favourite).then(0.9).otherwise(0.0)
                + 1.1 * (1 + amount / scale).log10()
                + effort
            ).alias("preference")
        )
        .to_series()
    )


def respond(shown: pl.DataFrame, profiles: pl.DataFrame, *, seed: int, day: date) -> pl.DataFrame:
    """Simulated responses to ``shown`` notices (notice_id, uscc, policy_id, period_key, kind, amount_fen,
    category, position, wave, due): rows for the ``responses`` table."""
    if shown.height == 0:
        return pl.DataFrame()
    rows = shown.sort("uscc", "policy_id").join(
        profiles.select("uscc", "industry_section", "size_class", "employees_last_year"), on="uscc", how="left"
    )
    rng = np.random.default_rng([seed, day.toordinal()])
    n = rows.height
    normal = pl.Series(rng.standard_normal(n))
    uniform = pl.Series(rng.random(n))
    rows = rows.with_columns(
        utility=preference(rows, seed=seed) + NOISE * normal,
        looked=uniform < attention(pl.col("position"), pl.col("wave")),
    )
    act = (
        pl.when(pl.col("kind").is_in(["needs_data", "near_miss"]))
        .then(pl.lit("supplied_data"))
        .otherwise(pl.lit("confirmed"))
    )
    negative = (
        pl.when((pl.col("kind") == "granted") & (pl.col("utility") < OBJECT_BELOW))
        .then(pl.lit("objected"))
        .when((pl.col("kind") != "granted") & (pl.col("utility") < DECLINE_BELOW))
        .then(pl.lit("declined"))
    )
    rows = rows.with_columns(
        first=pl.when(pl.col("looked")).then(pl.lit("opened")).otherwise(pl.lit("ignored")),
        then=pl.when(~pl.col("looked")).then(None).when(pl.col("utility") > ACT_ABOVE).then(act).otherwise(negative),
        delay=pl.Series((rng.integers(1, 3, n)).astype(np.int64)),
    )
    base = rows.select(
        "notice_id",
        "uscc",
        "policy_id",
        "period_key",
        pl.lit("simulator").alias("actor"),
        pl.lit(None, pl.String).alias("detail"),
    )
    first = base.with_columns(
        kind=rows["first"],
        at=rows["due"] + pl.duration(days=rows["delay"]),
    )
    second = base.with_columns(kind=rows["then"], at=rows["due"] + pl.duration(days=rows["delay"] + 1)).filter(
        pl.col("kind").is_not_null()
    )
    return pl.concat([first, second]).drop("detail")


def _shown(engine: Engine, run_id: str, policies: Sequence[CompiledPolicy]) -> pl.DataFrame:
    query = select(
        notices.c.id,
        notices.c.uscc,
        notices.c.policy_id,
        notices.c.period_key,
        notices.c.kind,
        notices.c.amount_fen,
        notices.c.next_attempt_at,
    ).where(
        notices.c.run_id == run_id,
        ~select(responses.c.id).where(responses.c.notice_id == notices.c.id).exists(),
    )
    schema = {
        "notice_id": pl.Int64,
        "uscc": pl.String,
        "policy_id": pl.String,
        "period_key": pl.String,
        "kind": pl.String,
        "amount_fen": pl.Int64,
        "due": pl.Datetime("us", "UTC"),
    }
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # Each notice's position and wave in the run's push order, from the run's stored pairs (any feature set).
    order = read_pairs(engine, run_id, ["uscc", "policy_id", "position", "wave"], feature_set=None).drop("run_id")
    categories = pl.DataFrame(
        {"policy_id": [p.id for p in policies], "category": [p.policy.category for p in policies]}
    )
    return (
        pl.DataFrame(rows, schema=schema, orient="row")
        .join(order, on=["uscc", "policy_id"], how="inner", maintain_order="left")
        .join(categories, on="policy_id", how="left")
    )


def simulate(
    engine: Engine,
    registry: Path | RegistryCheck,
    dates: Sequence[date],
    policies_for: Callable[[date], Sequence[CompiledPolicy]],
    *,
    plan: PushPlan | None = None,
    seed: int = 7,
    progress: Callable[[str], None] = lambda _: None,
) -> SimulationReport:
    """Run the matcher on each date (with ``plan``: the champion or the fallback order) and record responses.

    Rerunning the same simulation changes nothing: runs are exactly once, and notices already answered
    are not answered again.
    """
    plan = plan or PushPlan()
    checked = registry if isinstance(registry, RegistryCheck) else check_registry(registry)
    tables = {t: checked.clean(t) for t in checked.tables}
    report = SimulationReport()
    for day in dates:
        progress(f"as of {day}")
        policies = policies_for(day)
        # the simulated clock: the run happens on its as-of date, so history and responses line up in time
        clock = datetime(day.year, day.month, day.day, tzinfo=UTC)
        summary = run_matching(engine, checked, day, policies, push=plan, now=lambda clock=clock: clock)
        shown = _shown(engine, summary.run_id, policies)
        if shown.height:
            profiles = build_profiles(tables, day).collect()
            answered = respond(shown, profiles, seed=seed, day=day)
            insert_missing(engine, responses, answered)
            for kind, count in answered.group_by("kind").len().iter_rows():
                report.responses[kind] = report.responses.get(kind, 0) + count
        report.dates.append(day)
        report.runs.append(summary.run_id)
        report.notices += shown.height
    return report

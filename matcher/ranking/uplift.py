"""Uplift on real responses: take-up of the ranked enterprises against the holdout's, in runs a model ordered.

In every run a model ordered, a random share of enterprises kept the fallback
order (``matcher.ranking.holdout``). From the responses actually stored
(``responses``: enterprises through the service, or the simulator in a demo)
— never from a simulation of what they would do — for each arm:

- ``take_up``: the share of the arm's notices acted on (confirmed or data
  supplied);
- ``acted_per_enterprise``: notices acted on per enterprise and run.

with bootstrap intervals over enterprises, and the difference ranked − holdout
(the uplift) with its interval. Notices not answered yet count as not acted on
(``answered`` says how many were): a run's figures grow as responses arrive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from matcher.db.models import notices, responses, runs
from matcher.ranking.bootstrap import DRAWS, LEVEL, bootstrap_ratios
from matcher.ranking.features import ACTED
from matcher.ranking.parts import read_pairs

__all__ = ["ARMS", "UpliftReport", "uplift"]

ARMS = ("ranked", "holdout")


@dataclass
class UpliftReport:
    runs: list[dict[str, Any]] = field(default_factory=list)  # run_id, as_of, model_version
    level: float = LEVEL
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)  # arm → counts and estimates
    uplift: dict[str, dict[str, float]] = field(default_factory=dict)  # metric → value, low, high (ranked − holdout)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _notices(engine: Engine, run_id: str | None) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    ranked_runs = select(runs.c.id, runs.c.as_of, runs.c.model_version).where(
        runs.c.model_version.is_not(None), runs.c.status == "completed"
    )
    if run_id is not None:
        ranked_runs = ranked_runs.where(runs.c.id == run_id)
    acted = (
        select(responses.c.notice_id).where(responses.c.notice_id == notices.c.id, responses.c.kind.in_(ACTED)).exists()
    )
    answered = select(responses.c.notice_id).where(responses.c.notice_id == notices.c.id).exists()
    query = select(
        notices.c.run_id, notices.c.uscc, notices.c.policy_id, acted.label("acted"), answered.label("answered")
    ).where(notices.c.run_id.in_(select(ranked_runs.subquery().c.id)))
    schema = {
        "run_id": pl.String,
        "uscc": pl.String,
        "policy_id": pl.String,
        "acted": pl.Boolean,
        "answered": pl.Boolean,
    }
    with engine.connect() as connection:
        found = [dict(r._mapping) for r in connection.execute(ranked_runs.order_by(runs.c.as_of)).all()]
        sent = pl.DataFrame(connection.execute(query).all(), schema=schema, orient="row")
    # The runs' stored pairs (any feature set: only the arm and wave are read), joined to their notices in memory.
    pairs = read_pairs(engine, [r["id"] for r in found], ["uscc", "policy_id", "holdout", "wave"], feature_set=None)
    rows = pairs.join(sent, on=["run_id", "uscc", "policy_id"], how="inner").select(
        "run_id", "uscc", "holdout", "wave", "acted", "answered"
    )
    return found, rows


def uplift(
    engine: Engine, *, run_id: str | None = None, draws: int = DRAWS, level: float = LEVEL, seed: int = 0
) -> UpliftReport:
    """Take-up of ranked and held-out enterprises in run ``run_id``, or in every run a model ordered."""
    found, rows = _notices(engine, run_id)
    report = UpliftReport(runs=[{**r, "as_of": str(r["as_of"])} for r in found], level=level)
    per = (
        rows.group_by("uscc", "run_id", "holdout")
        .agg(notices=pl.len(), acted=pl.col("acted").sum(), answered=pl.col("answered").sum())
        .with_columns(arm=pl.when(pl.col("holdout")).then(pl.lit("holdout")).otherwise(pl.lit("ranked")))
    )
    # One row per enterprise; per arm: acted, notices, enterprise-runs — an enterprise may be in both arms in
    # different runs, so the enterprise (not the run) is what is resampled.
    wide = (
        per.group_by("uscc", "arm")
        .agg(pl.col("acted").sum(), pl.col("notices").sum(), runs=pl.len())
        .pivot("arm", index="uscc", values=["acted", "notices", "runs"])
        .fill_null(0)
        .sort("uscc")
    )

    def column(name: str) -> np.ndarray:
        return wide[name].to_numpy().astype(np.float64) if name in wide.columns else np.zeros(wide.height)

    # statistics: take_up per arm (acted ÷ notices), acted per enterprise-run per arm (acted ÷ runs)
    num = np.column_stack([column(f"acted_{arm}") for arm in ARMS for _ in (0, 1)]) if wide.height else None
    den = np.column_stack([column(f"{d}_{arm}") for arm in ARMS for d in ("notices", "runs")]) if wide.height else None
    estimates, differences = bootstrap_ratios(
        num if num is not None else np.zeros((0, 4)),
        den if den is not None else np.zeros((0, 4)),
        differences=[(0, 2), (1, 3)],
        draws=draws,
        level=level,
        seed=seed,
    )
    for i, arm in enumerate(ARMS):
        mine = per.filter(pl.col("arm") == arm)
        report.arms[arm] = {
            "enterprises": mine["uscc"].n_unique(),
            "notices": int(mine["notices"].sum()),
            "answered": int(mine["answered"].sum()),
            "acted": int(mine["acted"].sum()),
            "take_up": estimates[2 * i].to_dict(),
            "acted_per_enterprise": estimates[2 * i + 1].to_dict(),
        }
    report.uplift = {"take_up": differences[0].to_dict(), "acted_per_enterprise": differences[1].to_dict()}
    return report

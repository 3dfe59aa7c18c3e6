"""Serving: order each enterprise's notices, push the first few at once and the rest in later waves.

The ranker only orders and times; it never changes a decision or an amount.

- **Order.** With a champion model, by its score (highest first). Without
  one, the fallback order: granted, awaiting confirmation, recommended, needs
  data, near miss; within a status the larger amount first (unknown last),
  then the policy id.
- **Holdout.** With a model, a small random share of the run's enterprises
  (``holdout``) gets the fallback order instead (``matcher.ranking.holdout``):
  the uplift of ranked over held-out enterprises is measured on their real
  responses. Their pairs are still scored (the stored ``score``) but the
  decision's ``rank`` stays null: the model did not order them.
- **Push cap.** At most ``cap`` new notices per enterprise are pushed with the
  run (wave 0); the next ``cap`` become due ``wave_days`` later (wave 1), and
  so on: the notice's ``next_attempt_at`` is the run's time plus
  ``wave × wave_days``, so the outbox (``huiqi deliver``) sends each wave when due.
  Notices that already went out in an earlier run are not sent again and do not count.

Each decision's features, score, position, wave and holdout are stored as Parquet pieces of the run's part
(``matcher.ranking.parts``): what the model saw when it served is what it is trained on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from features.registries.partitions import Partitioning
from matcher.db.models import notices
from matcher.ranking.features import (
    CODES,
    FEATURES,
    candidate_features,
    history,
    profile_rows,
)
from matcher.ranking.holdout import held_out
from matcher.ranking.parts import write_pieces
from policies.compiled import CompiledPolicy

__all__ = ["FALLBACK_ORDER", "Earlier", "PushPlan", "Ranked", "Scorer", "fallback_key", "rank_decisions"]

FALLBACK_ORDER = CODES["status"]  # granted first … near miss last


class Scorer(Protocol):
    """A model that scores candidate pairs: higher is pushed first."""

    version: str  # e.g. "huiqi-ranker/3", recorded on the run

    def score(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PushPlan:
    scorer: Scorer | None = None  # the champion; None → the fallback order
    cap: int = 3  # new notices pushed at once per enterprise
    wave_days: int = 7  # the next `cap` notices follow this many days later
    holdout: float = 0.0  # share of enterprises ordered by the fallback order although a model serves

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"ranking holdout: expected a share from 0 to below 1, found {self.holdout}")
        if self.cap < 1:
            raise ValueError(f"push cap: expected at least 1 notice per wave, found {self.cap}")
        if self.wave_days < 0:
            raise ValueError(f"wave_days: expected 0 or more days between waves, found {self.wave_days}")


@dataclass
class Ranked:
    # The decisions, with `rank` (the model's score; null under the fallback order) and `position` (1 = pushed first
    # among its enterprise's; null when nothing was ordered).
    decisions: pl.DataFrame
    waves: pl.DataFrame | None = None  # uscc, policy_id, wave
    wave_days: int = 0
    model_version: str | None = None

    def schedule(self, notice_rows: pl.DataFrame) -> pl.DataFrame:
        """Notices with ``next_attempt_at`` moved to their wave's time."""
        if self.waves is None or notice_rows.height == 0:
            return notice_rows
        return (
            notice_rows.join(self.waves, on=["uscc", "policy_id"], how="left", maintain_order="left")
            .with_columns(
                next_attempt_at=pl.col("next_attempt_at")
                + pl.duration(days=pl.col("wave").fill_null(0) * self.wave_days)
            )
            .drop("wave")
        )


def fallback_key() -> list[pl.Expr]:
    """Sort keys of the fallback order (ascending) over ``decision`` (the status) and ``amount_full_fen``."""
    return [
        pl.col("decision").replace_strict({s: i for i, s in enumerate(FALLBACK_ORDER)}, return_dtype=pl.Int32),
        -pl.col("amount_full_fen").fill_null(-1),
        pl.col("policy_id"),
    ]


@dataclass
class Earlier:
    """What earlier runs left that ranking reads: their notices with the answers they got (``history``), and the
    notices other runs already sent for this run's periods. A run in partitions reads them once, then hands each
    partition its enterprises' rows, instead of every partition reading all of them again."""

    past: pl.DataFrame
    notified: pl.DataFrame

    @classmethod
    def read(
        cls, engine: Engine, run_id: str, as_of: date, policies: Sequence[CompiledPolicy], period_keys: Sequence[str]
    ) -> Earlier:
        return cls(history(engine, as_of, run_id, policies), _already_notified(engine, run_id, period_keys))

    def split(self, cut: Partitioning) -> list[Earlier]:
        """Per partition of the run (``features.registries.partitions``), its enterprises' rows."""

        def parts(frame: pl.DataFrame) -> list[pl.DataFrame]:
            marked = frame.with_columns(_part=cut.of()).partition_by("_part", as_dict=True)
            by_part = {int(k[0]): part.drop("_part") for k, part in marked.items()}
            return [by_part.get(k, frame.clear()) for k in range(cut.n)]

        return [Earlier(past, notified) for past, notified in zip(parts(self.past), parts(self.notified), strict=True)]


def _already_notified(engine: Engine, run_id: str, period_keys: Sequence[str]) -> pl.DataFrame:
    keys = sorted(set(period_keys))
    query = select(notices.c.uscc, notices.c.policy_id, notices.c.period_key, notices.c.kind).where(
        notices.c.run_id != run_id, notices.c.period_key.in_(keys)
    )
    schema = {"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "decision": pl.String}
    with engine.connect() as connection:
        return pl.DataFrame(connection.execute(query).all(), schema=schema, orient="row")


def _enterprise_keys(profiles: pl.DataFrame, at: np.ndarray) -> np.ndarray:
    """Each decision's enterprise as its rank in USCC order: integers to sort and group by instead of USCC
    strings, in the same order."""
    by_uscc = np.empty(profiles.height, dtype=np.int64)
    by_uscc[profiles["uscc"].arg_sort().to_numpy()] = np.arange(profiles.height)
    return by_uscc[at]


def _positions(enterprise: np.ndarray) -> np.ndarray:
    """1, 2, … within each run of equal ``enterprise`` values (sorted): the position in the push order."""
    index = np.arange(len(enterprise))
    starts = np.ones(len(enterprise), dtype=bool)
    starts[1:] = enterprise[1:] != enterprise[:-1]
    return (index - np.maximum.accumulate(np.where(starts, index, 0)) + 1).astype(np.int32)


def _scatter(values: np.ndarray, to: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[to] = values
    return out


def rank_decisions(
    engine: Engine,
    run_id: str,
    decisions: pl.DataFrame,
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    plan: PushPlan | None,
    *,
    chunk_rows: int = 20_000,
    part: int = 0,
    timings: dict[str, float] | None = None,
    earlier: Earlier | None = None,
) -> Ranked:
    """Score, order and time the run's decisions; store their features. ``plan=None``: no ranking at all.

    Vectorised end to end: features gathered from the profiles in memory, the model scored on one contiguous
    float64 matrix, one sort for the push order (enterprises as integers in USCC order, not strings), results
    written back at the decisions' positions. ``part``: the run's partition of enterprises these decisions
    belong to (0 when the run is not partitioned); its pairs are stored as that part's pieces, and a rerun skips
    the pieces already stored. ``chunk_rows`` is no longer used (pieces have ``parts.PIECE_PAIRS`` pairs); kept
    for callers. ``timings``, when given, receives seconds per sub-stage. ``earlier``: what earlier runs left,
    when the caller read it already (default: read here)."""
    if plan is None or decisions.height == 0:
        return Ranked(decisions.with_columns(rank=pl.lit(None, pl.Float64), position=pl.lit(None, pl.Int32)))
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + now - clock
        clock = now

    if earlier is None:
        earlier = Earlier.read(engine, run_id, as_of, policies, decisions["period_key"].unique().to_list())
    past, notified = earlier.past, earlier.notified
    lap("history")
    at = profile_rows(decisions, profiles)
    feats = candidate_features(decisions, profiles, policies, as_of, past, at=at)
    lap("features")
    if plan.scorer is not None:
        matrix = np.ascontiguousarray(feats.select(FEATURES).to_numpy(), dtype=np.float64)
        score = np.asarray(plan.scorer.score(matrix), dtype=np.float64)
    else:
        score = np.full(decisions.height, np.nan)
    lap("scoring")
    enterprise = _enterprise_keys(profiles, at)
    holdout = (
        held_out(profiles["uscc"], run_id, plan.holdout)[at]  # per enterprise, then to its decisions
        if plan.scorer is not None
        else np.zeros(decisions.height, dtype=bool)
    )
    # Notices already sent by other runs (several runs may have sent the same one: counted once).
    repeat = (
        decisions.select("uscc", "policy_id", "period_key", "status")
        .join(
            notified.rename({"decision": "status"}).unique().with_columns(_repeat=pl.lit(True)),
            on=["uscc", "policy_id", "period_key", "status"],
            how="left",
            maintain_order="left",
        )["_repeat"]
        .fill_null(False)
        if notified.height
        else pl.Series(np.zeros(decisions.height, dtype=bool))
    )
    fallback = pl.col("status").replace_strict({s: i for i, s in enumerate(FALLBACK_ORDER)}, return_dtype=pl.Int32)
    less_amount = -pl.col("amount_full_fen").fill_null(-1)
    if plan.scorer is not None:
        # One sort for both arms: held-out enterprises by the fallback order, the others by score (highest first);
        # the arm is the same for all of an enterprise's rows. Ties: the policy id, as before.
        first = pl.when(pl.col("holdout")).then(fallback.cast(pl.Float64)).otherwise(-pl.col("score"))
        second = pl.when(pl.col("holdout")).then(less_amount).otherwise(0)
    else:
        first, second = fallback.cast(pl.Float64), less_amount
    order = (
        decisions.select("policy_id", "status", "amount_full_fen")
        .with_columns(
            enterprise=pl.Series(enterprise),
            repeat=repeat,
            score=pl.Series(score),
            holdout=pl.Series(holdout),
            decision=pl.int_range(pl.len(), dtype=pl.UInt32),
        )
        .select("enterprise", "repeat", first.alias("first"), second.alias("second"), "policy_id", "decision")
        .sort("enterprise", "repeat", "first", "second", "policy_id")
    )
    sorted_at = order["decision"].to_numpy()
    position = _positions(order["enterprise"].to_numpy())
    repeat_sorted = order["repeat"].to_numpy()
    wave = np.where(repeat_sorted, 0, (position - 1) // plan.cap).astype(np.int32)
    lap("ordering")
    served = pl.Series(score) if plan.scorer is not None else pl.Series(score).fill_nan(None)
    # Stored in (uscc, policy_id) order, sorted as integers: the enterprise's rank, then the policy id's rank.
    ids = decisions["policy_id"].unique().sort()
    policy_rank = decisions["policy_id"].replace_strict(ids, pl.int_range(ids.len(), eager=True), return_dtype=pl.Int64)
    by_key = (pl.Series(enterprise) * ids.len() + policy_rank).arg_sort().to_numpy()
    stored = pl.concat(
        [
            decisions.select("uscc", "policy_id"),
            feats.select(FEATURES),
            pl.DataFrame(
                {
                    "score": served,
                    "position": _scatter(position, sorted_at),
                    "wave": _scatter(wave, sorted_at),
                    "holdout": holdout,
                }
            ),
        ],
        how="horizontal",
    )[by_key]
    del feats  # the features now live in ``stored`` (a gathered copy): at a million pairs, most of a GiB
    write_pieces(engine, run_id, stored, part=part)
    lap("storing")
    rank = np.where(holdout, np.nan, score) if plan.scorer is not None else score
    return Ranked(
        decisions.with_columns(
            rank=pl.Series(rank).fill_nan(None), position=pl.Series(_scatter(position, sorted_at), dtype=pl.Int32)
        ),
        decisions.select("uscc", "policy_id").with_columns(wave=pl.Series(_scatter(wave, sorted_at))),
        plan.wave_days,
        plan.scorer.version if plan.scorer is not None else None,
    )

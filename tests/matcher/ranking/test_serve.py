"""Serving inside a matching run: the model changes order and push timing only, never a decision or an amount."""

import importlib.util
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import delete, select

from features.profiles import build_profiles
from features.registries.validate import check_registry
from matcher.db.models import benefits, decisions, notices, rank_feature_parts, runs
from matcher.decide import decide
from matcher.ranking.features import FEATURES, decode_features
from matcher.ranking.parts import read_pairs
from matcher.ranking.serve import PushPlan, rank_decisions
from matcher.run import run_matching
from policies.load import load_catalogue
from tests.matcher.ranking.conftest import fresh_database

AS_OF = date(2025, 6, 30)
NOW = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)


def _frame(engine, query) -> pl.DataFrame:
    with engine.connect() as connection:
        result = connection.execute(query)
        return pl.DataFrame([tuple(r) for r in result.all()], schema=list(result.keys()), orient="row")


def _run(registry, tmp_path, plan: PushPlan | None) -> dict[str, pl.DataFrame]:
    with fresh_database(tmp_path) as (_, engine):
        run_matching(engine, registry, AS_OF, load_catalogue().in_force(AS_OF), push=plan, now=lambda: NOW)
        return {
            "decisions": _frame(
                engine,
                select(
                    decisions.c.uscc,
                    decisions.c.policy_id,
                    decisions.c.status,
                    decisions.c.amount_fen,
                    decisions.c.amount_full_fen,
                    decisions.c.rank,
                    decisions.c.position,
                ),
            ).sort("uscc", "policy_id"),
            "benefits": _frame(
                engine, select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key, benefits.c.amount_fen)
            ).sort("uscc", "policy_id"),
            "notices": _frame(
                engine,
                select(
                    notices.c.uscc, notices.c.policy_id, notices.c.kind, notices.c.amount_fen, notices.c.next_attempt_at
                ),
            ).sort("uscc", "policy_id"),
            "order": read_pairs(engine, columns=["uscc", "policy_id", "position"])
            .drop("run_id")
            .sort("uscc", "policy_id"),
            "model_version": _frame(engine, select(runs.c.model_version)),
        }


def test_run_when_the_champion_is_switched_or_removed_changes_order_and_timing_only(simulated, trained, tmp_path):
    a = trained.store.load(trained.good.version)
    b = trained.store.load(trained.bad.version)
    with_a = _run(simulated.registry, tmp_path, PushPlan(a, cap=2))
    with_b = _run(simulated.registry, tmp_path, PushPlan(b, cap=2))
    fallback = _run(simulated.registry, tmp_path, PushPlan(None, cap=2))
    unranked = _run(simulated.registry, tmp_path, None)

    same = ["uscc", "policy_id", "status", "amount_fen", "amount_full_fen"]
    for other in (with_b, fallback, unranked):
        assert other["decisions"].select(same).equals(with_a["decisions"].select(same))
        assert other["benefits"].equals(with_a["benefits"])
        assert (
            other["notices"]
            .select("uscc", "policy_id", "kind", "amount_fen")
            .equals(with_a["notices"].select("uscc", "policy_id", "kind", "amount_fen"))
        )
    # what differs: the score, the order, the push time
    assert (
        with_a["decisions"]["rank"].null_count() == 0
        and fallback["decisions"]["rank"].null_count() == fallback["decisions"].height
    )
    assert not with_a["decisions"]["rank"].equals(with_b["decisions"]["rank"])
    assert not with_a["order"].equals(with_b["order"]) and not with_a["order"].equals(fallback["order"])
    assert not with_a["notices"]["next_attempt_at"].equals(fallback["notices"]["next_attempt_at"])
    assert with_a["model_version"].item() == a.version and fallback["model_version"].item() is None
    # Each decision records its place in the push order (what the enterprise's list follows): the stored order's.
    for ranked in (with_a, with_b, fallback):
        recorded = ranked["decisions"].select("uscc", "policy_id", pl.col("position").cast(pl.Int64))
        assert recorded.equals(ranked["order"].with_columns(pl.col("position").cast(pl.Int64)))
    assert unranked["decisions"]["position"].null_count() == unranked["decisions"].height
    assert (unranked["notices"]["next_attempt_at"].dt.replace_time_zone(None) == NOW.replace(tzinfo=None)).all()


def test_run_when_the_push_cap_is_two_sends_two_notices_now_and_the_rest_a_week_later_each(simulated, tmp_path):
    ranked = _run(simulated.registry, tmp_path, PushPlan(None, cap=2, wave_days=7))
    waves = ranked["notices"].with_columns(
        wave=((pl.col("next_attempt_at").dt.replace_time_zone(None) - NOW.replace(tzinfo=None)) / timedelta(days=7))
    )
    per_enterprise = waves.group_by("uscc", "wave").len()
    assert set(waves["wave"].unique().to_list()) >= {0, 1}
    assert per_enterprise["len"].max() <= 2
    # the fallback order: granted before near misses and data requests, in the first wave
    first = waves.filter(pl.col("wave") == 0)
    later = waves.filter(pl.col("wave") > 0)
    assert (first["kind"] == "granted").mean() > (later["kind"] == "granted").mean()


def _before(engine):
    """The ranking stage as it was before issue 17, kept beside its benchmark (bench/_ranking_before.py), storing
    one row per pair in a table of the old layout made for it."""
    path = Path(__file__).resolve().parents[3] / "bench" / "_ranking_before.py"
    spec = importlib.util.spec_from_file_location("_ranking_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    legacy = module.rank_features
    legacy.create(engine, checkfirst=True)
    return module.rank_decisions_before, legacy


def _stored_before(engine, legacy, run_id: str) -> pl.DataFrame:
    """The old path's rows, features decoded from their text, as the new path's pairs read back."""
    with engine.begin() as connection:
        found = _frame(engine, select(legacy).where(legacy.c.run_id == run_id))
        connection.execute(delete(legacy).where(legacy.c.run_id == run_id))
    return (
        found.with_columns(decode_features())
        .select("run_id", "uscc", "policy_id", *FEATURES, "score", "position", "wave", "holdout")
        .cast({"position": pl.Int32, "wave": pl.Int32, "score": pl.Float64})
        .sort("uscc", "policy_id")
    )


def _stored(engine, run_id: str) -> pl.DataFrame:
    """The new path's pairs, features rounded as the old path's text kept them (6 decimals)."""
    found = read_pairs(engine, run_id).with_columns(pl.col(FEATURES).round(6))
    with engine.begin() as connection:
        connection.execute(delete(rank_feature_parts).where(rank_feature_parts.c.run_id == run_id))
    return found.sort("uscc", "policy_id")


@pytest.mark.parametrize("with_model", [True, False])
def test_rank_decisions_when_vectorised_orders_times_and_stores_as_the_old_path(simulated, trained, with_model):
    """Same scores, positions, waves, holdout and stored features as before, with history and repeats: the
    population has earlier runs with answered notices, and the yearly notices of this date were sent already
    (by the run of 2025-06-30), the monthly ones not."""
    as_of = date(2025, 5, 31)
    policies = load_catalogue().in_force(as_of)
    checked = check_registry(simulated.registry)
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, as_of).collect()
    decided = decide(profiles, policies, as_of).decisions
    scorer = trained.store.load(trained.good.version) if with_model else None
    plan = PushPlan(scorer, cap=2, holdout=0.3)
    run_id = "f" * 32
    timings: dict[str, float] = {}

    before, legacy = _before(simulated.engine)
    old, old_waves = before(simulated.engine, run_id, decided, profiles, policies, as_of, plan, timings=timings)
    old_stored = _stored_before(simulated.engine, legacy, run_id)
    new = rank_decisions(simulated.engine, run_id, decided, profiles, policies, as_of, plan, timings=timings)
    new_stored = _stored(simulated.engine, run_id)

    assert new_stored.height == decided.height and new_stored["wave"].max() >= 1
    assert new_stored.filter((pl.col("wave") == 0) & (pl.col("position") > 2)).height  # notices sent already
    assert_frame_equal(new_stored, old_stored)  # features, score, position, wave, holdout: all the same
    ordered = new.decisions.sort("uscc", "policy_id")
    assert_frame_equal(ordered.drop("position"), old.sort("uscc", "policy_id"), check_dtypes=False)
    assert ordered["position"].to_list() == new_stored.sort("uscc", "policy_id")["position"].to_list()  # as stored
    assert_frame_equal(
        new.waves.sort("uscc", "policy_id"), old_waves.drop("position").sort("uscc", "policy_id"), check_dtypes=False
    )
    assert new.decisions.select(decided.columns).equals(decided)  # ranking never changes a decision
    if with_model:
        assert 0 < new_stored["holdout"].mean() < 0.5 and new.decisions["rank"].null_count() > 0

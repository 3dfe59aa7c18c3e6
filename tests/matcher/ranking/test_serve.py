"""Serving inside a matching run: the model changes order and push timing only, never a decision or an amount."""

from datetime import UTC, date, datetime, timedelta

import polars as pl
from sqlalchemy import select

from matcher.db.models import benefits, decisions, notices, rank_features, runs
from matcher.ranking.serve import PushPlan
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
            "order": _frame(
                engine, select(rank_features.c.uscc, rank_features.c.policy_id, rank_features.c.position)
            ).sort("uscc", "policy_id"),
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

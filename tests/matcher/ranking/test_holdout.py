"""The holdout: a random share of each run's enterprises kept on the fallback order, and the uplift measured on it."""

from datetime import date

import polars as pl
import pytest
from sqlalchemy import func, select

from api.service.ranker import HELD_OUT, Ranker
from matcher.db.models import decisions, notices, responses
from matcher.ranking.errors import HeldOutPair
from matcher.ranking.explain import explain_pair
from matcher.ranking.holdout import holdout_members
from matcher.ranking.parts import read_pairs
from matcher.ranking.serve import PushPlan
from matcher.ranking.simulate import simulate
from matcher.ranking.uplift import uplift
from policies.load import load_catalogue
from tests.matcher.ranking.conftest import fresh_database
from tests.matcher.ranking.test_serve import _frame, _run

USCCS = pl.Series([f"91440300{i:010d}" for i in range(20_000)])


@pytest.mark.parametrize("share", [0.05, 0.2])
def test_holdout_when_drawn_holds_out_the_share_asked_within_sampling_error(share):
    drawn = holdout_members(USCCS, "a" * 32, share)
    sd = (share * (1 - share) / USCCS.len()) ** 0.5
    assert abs(drawn["holdout"].mean() - share) < 4 * sd
    assert drawn.equals(holdout_members(USCCS.shuffle(seed=1), "a" * 32, share))  # same run, same enterprises
    assert not drawn.equals(holdout_members(USCCS, "b" * 32, share))  # each run draws its own


def test_holdout_when_the_share_is_not_below_one_is_refused_with_the_range():
    with pytest.raises(ValueError, match=r"expected a share from 0 to below 1, found 1\.5"):
        PushPlan(holdout=1.5)


def test_run_when_a_holdout_is_kept_changes_no_decision_or_amount_and_orders_it_by_the_fallback(
    simulated, trained, tmp_path
):
    champion = trained.store.load(trained.good.version)
    with_holdout = _run(simulated.registry, tmp_path, PushPlan(champion, cap=2, holdout=0.3))
    without = _run(simulated.registry, tmp_path, PushPlan(champion, cap=2))
    same = ["uscc", "policy_id", "status", "amount_fen", "amount_full_fen"]
    assert with_holdout["decisions"].select(same).equals(without["decisions"].select(same))
    assert with_holdout["benefits"].equals(without["benefits"])
    kinds = ["uscc", "policy_id", "kind", "amount_fen"]
    assert with_holdout["notices"].select(kinds).equals(without["notices"].select(kinds))

    with fresh_database(tmp_path) as (_, engine):
        day = date(2025, 6, 30)
        simulate(
            engine,
            simulated.registry,
            [day],
            lambda d: load_catalogue().in_force(d),
            plan=PushPlan(champion, holdout=0.3),
        )
        stored = read_pairs(engine, columns=["uscc", "policy_id", "position", "holdout"])
        ranked = _frame(
            engine,
            select(
                decisions.c.run_id,
                decisions.c.uscc,
                decisions.c.policy_id,
                decisions.c.status,
                decisions.c.amount_full_fen,
                decisions.c.rank,
            ),
        )
        rows = stored.join(ranked, on=["run_id", "uscc", "policy_id"], how="inner").drop("run_id")
        assert rows.height == stored.height  # every stored pair is a decision of its run
        per_enterprise = rows.group_by("uscc").agg(pl.col("holdout").first(), pl.col("holdout").n_unique().alias("n"))
        assert (per_enterprise["n"] == 1).all()  # recorded on every decision, the same for the whole enterprise
        n = per_enterprise.height
        assert abs(per_enterprise["holdout"].mean() - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5
        held = rows.filter(pl.col("holdout"))
        assert held["rank"].null_count() == held.height  # the model did not order them
        assert rows.filter(~pl.col("holdout"))["rank"].null_count() == 0
        order = {
            s: i for i, s in enumerate(("granted", "awaiting_confirmation", "recommended", "needs_data", "near_miss"))
        }
        fallback = held.with_columns(s=pl.col("status").replace_strict(order, return_dtype=pl.Int32)).sort(
            "uscc", "s", -pl.col("amount_full_fen").fill_null(-1), "policy_id"
        )
        expected = fallback.select(pl.int_range(1, pl.len() + 1).over("uscc").cast(pl.Int64)).to_series()
        assert (fallback["position"].cast(pl.Int64) == expected).all()

        # Why a held-out notice stands where it does is the fallback order: the model's contributions would say
        # otherwise, so an explanation gives the holdout's note instead of reasons (a ranked pair keeps them).
        (held_uscc, held_policy), (ranked_uscc, ranked_policy) = (
            rows.filter(pl.col("holdout") == h).select("uscc", "policy_id").row(0) for h in (True, False)
        )
        with pytest.raises(HeldOutPair, match=r"holdout of run .* fallback order"):
            explain_pair(engine, champion, held_uscc, held_policy)
        assert explain_pair(engine, champion, ranked_uscc, ranked_policy).items
        ranker = Ranker(engine, trained.store)
        assert trained.store.champion() is not None
        assert ranker.reasons(held_uscc, held_policy, None) == (None, HELD_OUT)
        assert ranker.reasons(ranked_uscc, ranked_policy, None)[0]

        report = uplift(engine, draws=200)
        with engine.connect() as connection:
            answered = connection.execute(select(func.count(func.distinct(responses.c.notice_id)))).scalar_one()
            acted = connection.execute(
                select(func.count(func.distinct(responses.c.notice_id))).where(
                    responses.c.kind.in_(["confirmed", "supplied_data"])
                )
            ).scalar_one()
            total = connection.execute(select(func.count()).select_from(notices)).scalar_one()
    arms = report.arms
    assert arms["ranked"]["enterprises"] + arms["holdout"]["enterprises"] == n
    assert arms["ranked"]["notices"] + arms["holdout"]["notices"] == total
    assert arms["ranked"]["answered"] + arms["holdout"]["answered"] == answered  # the responses actually stored
    assert arms["ranked"]["acted"] + arms["holdout"]["acted"] == acted
    for arm in arms.values():
        assert arm["take_up"]["low"] <= arm["take_up"]["value"] == pytest.approx(arm["acted"] / arm["notices"])
        assert arm["take_up"]["value"] <= arm["take_up"]["high"]
    difference = arms["ranked"]["take_up"]["value"] - arms["holdout"]["take_up"]["value"]
    assert report.uplift["take_up"]["value"] == pytest.approx(difference)

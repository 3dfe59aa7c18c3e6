"""Training on a sample of whole queries, stratified by (policy, region), past a cap (issue 17)."""

from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app
from matcher.ranking.evaluate import GROUP
from matcher.ranking.model_card import card_markdown
from matcher.ranking.sampling import STRATUM, region, sample_queries, strata_shares
from matcher.ranking.train import train

DISTRICTS = ("110105", "310115", "440305", "330106", "510107", "610113")
DAYS = (date(2024, 12, 31), date(2025, 3, 31))


def label_frame(queries: int, seed: int = 1) -> pl.DataFrame:
    """Pairs shaped as the label frame: 1–8 policies per query, uneven policy popularity and regions."""
    rng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, len(DISTRICTS) + 1)
    district = np.array(DISTRICTS)[rng.choice(len(DISTRICTS), queries, p=weight / weight.sum())]
    uscc = np.char.add(np.char.add("91", district), np.char.zfill(np.arange(queries).astype(str), 10))
    sizes = rng.integers(1, 9, queries)
    q = np.repeat(np.arange(queries), sizes)
    popularity = 1.0 / np.arange(1, 31) ** 1.1
    policy = rng.choice(30, len(q), p=popularity / popularity.sum())
    return pl.DataFrame(
        {
            "as_of": np.array(DAYS, dtype="datetime64[D]")[rng.integers(0, 2, queries)][q],
            "uscc": uscc[q],
            "policy_id": np.char.add("P", policy.astype(str)),
            "acted": rng.integers(0, 2, len(q)),
        }
    ).unique(["as_of", "uscc", "policy_id"], maintain_order=True)


def sizes(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by(GROUP).len()


def strata(frame: pl.DataFrame) -> set[tuple[str, str]]:
    return set(frame.select("policy_id", region(pl.col("uscc"))).unique().iter_rows())


def assert_invariants(frame: pl.DataFrame, cap: int, seed: int) -> None:
    sample = sample_queries(frame, cap, seed=seed)
    available = frame.select(pl.struct(*GROUP).n_unique()).item()
    # queries are never split: every query taken holds all its pairs
    taken = sizes(sample.rows)
    assert taken.join(sizes(frame), on=GROUP, suffix="_full").filter(pl.col("len") != pl.col("len_full")).height == 0
    # every (policy, region) stratum present is kept
    assert strata(sample.rows) == strata(frame)
    # the cap holds unless there are more strata than it (coverage wins: one query per stratum group)
    assert sample.queries_used == taken.height
    assert taken.height == (available if available <= cap else max(cap, sample.covering))
    assert sample.sampled == (available > cap)
    if sample.sampled and sample.covering < cap:
        # each region's count is within one query of its due share of the cap, plus what the covering queries
        # took beyond their region's due (at most the covering queries)
        due = frame.group_by(GROUP).agg(region=region(pl.col("uscc").first())).group_by("region").len()
        got = sample.rows.group_by(GROUP).agg(region=region(pl.col("uscc").first())).group_by("region").len()
        gap = due.join(got, on="region", how="left", suffix="_s").select(
            (pl.col("len_s").fill_null(0) - pl.col("len").cast(pl.Float64) * cap / available).abs().max()
        )
        assert gap.item() <= 1 + sample.covering + 1e-9


def test_sample_when_under_the_cap_trains_on_everything():
    frame = label_frame(500)
    sample = sample_queries(frame, 500, seed=0)
    assert not sample.sampled and sample.rows.equals(frame)
    assert sample_queries(frame, None).rows.equals(frame)
    assert sample.params()["train_queries_used"] == sample.params()["train_queries_available"] == 500


def test_sample_takes_whole_queries_and_keeps_every_stratum():
    frame = label_frame(20_000)
    # a stratum of one query: a policy nobody else holds, in a region nobody else is in
    lone = pl.DataFrame({"as_of": [DAYS[0]], "uscc": ["91370212" + "9" * 10], "policy_id": ["P-rare"], "acted": [1]})
    frame = pl.concat([frame, lone.cast(frame.schema)])
    for cap in (2_000, 5_000, 10_000):
        assert_invariants(frame, cap, seed=0)
        assert ("P-rare", "3702") in strata(sample_queries(frame, cap, seed=3).rows)


def test_sample_when_a_region_times_the_cap_passes_four_billion_keeps_its_share():
    # 100,000 one-pair queries, 90 % in one region: 90,000 × a cap of 60,000 overflows 32-bit counts
    rng = np.random.default_rng(3)
    district = np.where(rng.random(100_000) < 0.9, "110105", "440305")
    uscc = np.char.add(np.char.add("91", district), np.char.zfill(np.arange(100_000).astype(str), 10))
    frame = pl.DataFrame({"as_of": [DAYS[0]] * 100_000, "uscc": uscc, "policy_id": "P1", "acted": 0})
    assert_invariants(frame, 60_000, seed=0)


def test_sample_keeps_each_stratum_share_of_pairs_within_half_a_point_from_a_quarter():
    frame = label_frame(20_000)
    full = strata_shares(frame)
    for fraction, tolerance in ((0.5, 0.002), (0.25, 0.005), (0.1, 0.01)):
        sample = sample_queries(frame, int(20_000 * fraction), seed=0)
        shares = full.join(strata_shares(sample.rows), on=STRATUM, suffix="_s")
        worst = shares.select((pl.col("share_s") - pl.col("share")).abs().max()).item()
        assert worst <= tolerance, (fraction, worst)


def test_sample_is_the_same_for_a_seed_and_differs_for_another():
    frame = label_frame(5_000)
    first, again, other = (sample_queries(frame, 1_000, seed=s).rows.sort(GROUP) for s in (7, 7, 8))
    assert first.equals(again)
    assert not first.select(GROUP).unique().equals(other.select(GROUP).unique())


def test_sample_when_asked_for_nonsense_says_what_it_expected():
    frame = label_frame(100)
    with pytest.raises(ValueError, match=r"expected a cap of at least 1 query.*found 0.*--max-queries"):
        sample_queries(frame, 0)
    with pytest.raises(ValueError, match=r"expected columns as_of, uscc, policy_id.*found no policy_id"):
        sample_queries(frame.drop("policy_id"), 10)


@st.composite
def label_frames(draw):
    queries = draw(st.integers(1, 60))
    policies = draw(st.integers(1, 6))
    regions = draw(st.integers(1, 4))
    rows = []
    for q in range(queries):
        held = draw(st.sets(st.integers(0, policies - 1), min_size=1, max_size=min(5, policies)))
        uscc = f"91{DISTRICTS[draw(st.integers(0, regions - 1))]}{q:010d}"
        day = DAYS[draw(st.integers(0, 1))]
        rows += [(day, uscc, f"P{p}", 0) for p in sorted(held)]
    return pl.DataFrame(rows, schema=["as_of", "uscc", "policy_id", "acted"], orient="row")


@settings(max_examples=150, deadline=None)
@given(frame=label_frames(), cap=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_sample_invariants_hold_for_any_label_frame(frame, cap, seed):
    assert_invariants(frame, cap, seed)
    assert sample_queries(frame, cap, seed=seed).rows.equals(sample_queries(frame, cap, seed=seed).rows)


def test_train_when_past_the_cap_learns_from_a_sample_and_says_so_in_mlflow(simulated, store, tmp_path):
    env = {"HUIQI_DATA_DIR": str(tmp_path), "HUIQI_DATABASE_URL": simulated.url, "HUIQI_MLFLOW_URI": store.tracking_uri}
    done = CliRunner().invoke(app, ["train", "--max-queries", "300", "--seed", "5"], env=env)
    assert done.exit_code == 0, done.output
    version = store.versions()[-1]
    available = int(version["params"]["train_queries_available"])
    assert f"trained on a stratified sample: 300 of {available:,} training queries" in done.stderr
    assert version["params"]["sampled"] == "True" and version["params"]["train_queries_used"] == "300"
    assert version["params"]["sample_seed"] == "5" and version["tags"]["sampled"] == "true"
    card = store.card(version["version"])
    assert card["params"]["sampled"] is True and card["params"]["train_queries_available"] == available
    assert card["queries"]["train_queries"] == 300  # the card counts what the model learned from
    assert f"(300 queries — a stratified sample of the {available:,} there were, seed 5," in card_markdown(card)
    # without a cap: every training query, and the held-out dates were never sampled
    full = train(simulated.engine, store, max_queries=None)
    assert not full.sampled and full.train_queries == full.train_queries_available == available > 300
    assert full.holdout_pairs == card["queries"]["holdout_pairs"] and full.train_pairs > card["queries"]["train_pairs"]
    assert store.versions()[-1]["params"]["sampled"] == "False"
    assert "stratified sample" not in card_markdown(store.card(store.versions()[-1]["version"]))


def test_cli_train_when_the_cap_is_negative_says_what_it_expects(tmp_path):
    env = {"HUIQI_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    done = CliRunner().invoke(app, ["train", "--max-queries", "-5"], env=env)
    assert done.exit_code == 2
    assert "Invalid value for '--max-queries'" in done.output and "greater than or equal to 0" in done.output

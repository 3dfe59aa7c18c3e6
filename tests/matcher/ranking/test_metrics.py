"""Ranking metrics: properties any reader of the comparison table relies on."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.ranking.evaluate import ranking_metrics

groups = st.lists(st.lists(st.sampled_from([0, 1, 3]), min_size=2, max_size=12), min_size=1, max_size=20)


def _frame(labels: list[list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "as_of": [0 for g in labels for _ in g],
            "uscc": [f"e{i}" for i, g in enumerate(labels) for _ in g],
            "label": [x for g in labels for x in g],
        }
    )


@settings(max_examples=30, deadline=None)
@given(groups, st.randoms(use_true_random=False))
def test_metrics_when_the_order_is_ideal_score_one_and_any_other_order_no_more(labels, rnd):
    labels = [g for g in labels if max(g) > 0] or [[3, 0]]
    frame = _frame(labels)
    ideal = ranking_metrics(frame, frame["label"].cast(pl.Float64).to_numpy())
    assert ideal == {"ndcg_5": 1.0, "ndcg_10": 1.0, "map": 1.0}
    other = ranking_metrics(frame, np.array([rnd.random() for _ in range(frame.height)]))
    for name, value in other.items():
        assert 0.0 <= value <= 1.0 + 1e-12, name


def test_metrics_when_scores_tie_give_no_credit_for_the_tie():
    frame = _frame([[0, 0, 3]])
    constant = ranking_metrics(frame, np.zeros(3))
    assert constant["ndcg_5"] == ranking_metrics(frame, np.array([3.0, 2.0, 1.0]))["ndcg_5"] < 1.0


def _queries(grades: list[list[int]]) -> pl.DataFrame:
    return _frame(grades).with_columns(policy_id=pl.int_range(pl.len()).over("uscc").cast(pl.String))


def test_decision_metrics_when_the_order_is_ideal_capture_all_take_up_and_only_count_queries_over_the_cap():
    from matcher.ranking.first_wave import decision_metrics

    rng = np.random.default_rng(0)
    grades = [[int(g) for g in rng.choice([0, 1, 3], size=int(rng.integers(2, 8)))] for _ in range(400)]
    frame = _queries(grades)
    ideal = frame["label"].cast(pl.Float64).to_numpy()
    found = decision_metrics(frame, {"ranker": ideal, "reverse": -ideal}, cap=3, draws=200)
    assert found.queries == sum(len(g) > 3 for g in grades)  # a query with 3 candidates or fewer decides nothing
    ranker, reverse = found.estimates["ranker"], found.estimates["reverse"]
    counted = [g for g in grades if len(g) > 3]
    most = sum(min(g.count(3), 3) for g in counted) / sum(g.count(3) for g in counted)  # at most 3 fit in the wave
    assert ranker["take_up_first_wave"].value == pytest.approx(most)
    assert ranker["mrr"].value == 1.0 and ranker["ndcg_cap"].value == 1.0
    assert reverse["take_up_first_wave"].high < ranker["take_up_first_wave"].low  # intervals apart
    assert found.beats("reverse") and found.differences["reverse"].low > 0


def test_decision_metrics_when_acted_notices_are_weighted_count_one_seen_late_for_more():
    from matcher.ranking.first_wave import decision_metrics

    # one enterprise, five notices, two acted on: the model puts one of them in the first wave (cap 1)
    frame = _queries([[3, 0, 0, 0, 3]])
    score = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    plain = decision_metrics(frame, {"ranker": score}, cap=1, draws=10)
    weighted = decision_metrics(frame, {"ranker": score}, cap=1, weight=np.array([1, 1, 1, 1, 3.0]), draws=10)
    assert plain.estimates["ranker"]["take_up_first_wave"].value == 0.5
    assert weighted.estimates["ranker"]["take_up_first_wave"].value == 0.25  # the late one stood for three


def test_drift_when_a_feature_moves_flags_it_and_leaves_the_others_stable():
    from matcher.ranking.drift import THRESHOLD, drift, reference
    from matcher.ranking.features import FEATURES

    rng = np.random.default_rng(1)
    then = pl.DataFrame({f: rng.normal(0, 1, 5_000) for f in FEATURES})
    now = pl.DataFrame({f: rng.normal(0, 1, 5_000) for f in FEATURES}).with_columns(log_amount=pl.col("log_amount") + 1)
    found = drift(reference(then), now)
    assert found["feature"][0] == "log_amount" and found["psi"][0] > THRESHOLD and found["drifted"][0]
    assert found.filter(pl.col("feature") != "log_amount")["psi"].max() < 0.05
    assert found.filter(pl.col("drifted"))["feature"].to_list() == ["log_amount"]

"""Ranking metrics: properties any reader of the comparison table relies on."""

import numpy as np
import polars as pl
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

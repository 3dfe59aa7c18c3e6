"""Ranking explanations: LightGBM's own contributions, in plain zh and en."""

import numpy as np
import polars as pl
from sqlalchemy import select

from matcher.db.models import rank_features
from matcher.ranking.explain import PHRASES, explain_pair, explain_rows
from matcher.ranking.features import FEATURES, decode_features
from matcher.ranking.model import matrix


def test_explain_when_asked_for_a_pair_names_its_top_features_in_zh_and_en(simulated, trained):
    champion = trained.store.champion()
    with simulated.engine.connect() as connection:
        uscc, policy_id = connection.execute(
            select(rank_features.c.uscc, rank_features.c.policy_id).order_by(rank_features.c.uscc).limit(1)
        ).one()
    explanation = explain_pair(simulated.engine, champion, uscc, policy_id, top=3)
    assert len(explanation.items) == 3  # 27 features: the champion leans on at least three for any pair
    assert set(PHRASES) == set(FEATURES)  # every feature has words
    for item in explanation.items:
        assert PHRASES[item["feature"]][1] in item["en"] and PHRASES[item["feature"]][0] in item["zh"]
        assert ("moves it up" in item["en"]) == (item["contribution"] > 0)
    sizes = [abs(i["contribution"]) for i in explanation.items]
    assert sizes == sorted(sizes, reverse=True)


def test_explain_contributions_add_up_to_the_score_the_run_used(simulated, trained):
    champion = trained.store.champion()
    with simulated.engine.connect() as connection:
        rows = connection.execute(
            select(rank_features.c.uscc, rank_features.c.policy_id, rank_features.c.features).limit(50)
        ).all()
    frame = pl.DataFrame(rows, schema=["uscc", "policy_id", "features"], orient="row").with_columns(decode_features())
    explained = explain_rows(champion, frame)
    np.testing.assert_allclose([e.score for e in explained], champion.score(matrix(frame)), rtol=1e-6, atol=1e-6)

"""Ranking explanations: LightGBM's own contributions, in plain zh and en."""

import numpy as np

from matcher.ranking.explain import PHRASES, explain_pair, explain_rows
from matcher.ranking.features import FEATURES
from matcher.ranking.model import matrix
from matcher.ranking.parts import read_pairs


def test_explain_when_asked_for_a_pair_names_its_top_features_in_zh_and_en(simulated, trained):
    champion = trained.store.champion()
    uscc, policy_id = read_pairs(simulated.engine, columns=["uscc", "policy_id"]).sort("uscc").row(0)[1:]
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
    frame = read_pairs(simulated.engine).head(50)
    explained = explain_rows(champion, frame)
    np.testing.assert_allclose([e.score for e in explained], champion.score(matrix(frame)), rtol=1e-6, atol=1e-6)

"""Training on simulated feedback: the ranker beats every baseline; the champion moves only on improvement."""

import pytest

from matcher.ranking.errors import NoFeedbackError
from matcher.ranking.evaluate import BASELINES
from matcher.ranking.registry import ModelStore
from matcher.ranking.train import train


def test_train_when_feedback_is_simulated_beats_every_baseline_on_held_out_ndcg(trained):
    report = trained.good
    assert report.promoted and report.champion_before is None
    assert report.holdout_dates == [max(report.holdout_dates + report.train_dates)]  # held out: the latest date
    assert max(report.train_dates) < min(report.holdout_dates)
    assert report.holdout_groups > 300
    ranker = report.metrics["ranker"]
    for baseline in BASELINES:
        assert ranker["ndcg_5"] > report.metrics[baseline]["ndcg_5"], baseline
        assert ranker["map"] > report.metrics[baseline]["map"], baseline


def test_train_when_the_new_model_is_worse_leaves_the_champion_in_place(trained):
    bad = trained.bad
    assert not bad.promoted
    assert bad.champion_before == f"huiqi-ranker/{trained.good.version}"
    # the champion was re-scored on the same held-out pairs as the new model
    assert bad.metrics["champion"]["ndcg_5"] == pytest.approx(trained.good.metrics["ranker"]["ndcg_5"])
    assert bad.metrics["ranker"]["ndcg_5"] < bad.metrics["champion"]["ndcg_5"]
    assert "does not beat" in bad.reason
    assert trained.store.champion_version() == trained.good.version
    versions = trained.store.versions()
    assert [v["version"] for v in versions] == [trained.good.version, trained.bad.version]  # both registered
    assert [v["champion"] for v in versions] == [True, False]
    assert versions[1]["shuffled_labels"]


def test_train_when_there_is_no_feedback_says_how_to_get_some(engine, tmp_path):
    store = ModelStore(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts")
    with pytest.raises(NoFeedbackError, match="huiqi simulate"):
        train(engine, store)
    assert not store.exists()  # nothing was logged or registered

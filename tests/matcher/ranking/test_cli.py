"""`huiqi train`, `huiqi model show|explain` as a user runs them: the printed comparison, JSON, clear errors."""

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from matcher.ranking.errors import RankingError
from matcher.ranking.parts import read_pairs
from tests.api.test_cli import huiqi


def test_cli_train_when_there_is_no_feedback_explains_how_to_get_some(tmp_path):
    done = huiqi("train", env={"HUIQI_DATA_DIR": str(tmp_path), "HUIQI_DATABASE_URL": f"sqlite:///{tmp_path}/h.db"})
    assert done.returncode == 2
    assert "no feedback to train on" in done.stderr and "huiqi simulate" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_train_prints_ranker_and_baselines_side_by_side_then_show_and_explain(simulated, store, tmp_path):
    env = {"HUIQI_DATA_DIR": str(tmp_path), "HUIQI_DATABASE_URL": simulated.url, "HUIQI_MLFLOW_URI": store.tracking_uri}
    runner = CliRunner()
    done = runner.invoke(app, ["train"], env=env)
    assert done.exit_code == 0, done.output
    header = next(line for line in done.stderr.splitlines() if "ranker (new)" in line)
    for column in ("amount-sorted", "rule-margin-sorted", "random"):
        assert column in header
    assert "NDCG@5" in done.stderr and "NDCG@10" in done.stderr and "MAP" in done.stderr
    assert "promoted to champion" in done.stderr
    decided = next(line for line in done.stderr.splitlines() if "take-up, 1st wave" in line)
    assert "NDCG@cap" in decided and "MRR" in decided and "fallback order" in done.stderr

    again = runner.invoke(app, ["train", "--json"], env=env)
    report = json.loads(again.stdout)
    assert report["promoted"] is False, report["reason"]  # same data and seed: no improvement beyond chance
    assert "not above zero: the champion stays" in report["reason"]
    assert report["metrics"]["champion"]["ndcg_5"] == pytest.approx(report["metrics"]["ranker"]["ndcg_5"], abs=1e-4)
    # the decision metrics, with intervals, for the ranker and every baseline, on the same queries
    found = report["decision_metrics"]
    assert found["cap"] == 3 and found["queries"] > 100
    assert set(found["metrics"]) == {"ranker", "fallback", "amount", "rule_margin", "random", "champion"}
    for by_metric in found["metrics"].values():
        for e in by_metric.values():
            assert e["low"] <= e["value"] <= e["high"]
    assert set(found["differences"]) == {f"ranker - {s}" for s in found["metrics"] if s != "ranker"}

    shown = json.loads(runner.invoke(app, ["model", "show", "--json"], env=env).stdout)
    assert [(v["version"], v["champion"]) for v in shown["versions"]] == [("1", True), ("2", False)]
    assert shown["drift"]["champion"] == "1" and len(shown["drift"]["features"]) == 25
    printed = runner.invoke(app, ["model", "show"], env=env)
    assert "population stability index, top movers" in printed.stderr

    card = runner.invoke(app, ["model", "card", "2"], env=env)
    assert card.exit_code == 0, card.output
    assert "take-up captured by the first wave" in card.stderr and "Drift of the held-out pairs" in card.stderr
    uplift = runner.invoke(app, ["model", "uplift"], env=env)  # the fixture's runs had no model: nothing to compare
    assert uplift.exit_code == 0 and "no run was ordered by a model yet" in uplift.stderr

    uscc, policy = read_pairs(simulated.engine, columns=["uscc", "policy_id"]).sort("uscc", "policy_id").row(0)[1:]
    explained = runner.invoke(app, ["model", "explain", "--uscc", uscc, "--policy", policy, "--lang", "en"], env=env)
    assert explained.exit_code == 0, explained.output
    assert "moves it up" in explained.stderr or "moves it down" in explained.stderr

    unknown = runner.invoke(app, ["model", "explain", "--uscc", "91440300XXXXXXXXXX", "--policy", "nope"], env=env)
    assert isinstance(unknown.exception, RankingError)  # `huiqi` prints it as `error: ...`, exit 2
    with pytest.raises(RankingError, match="no ranked decision for enterprise 91440300XXXXXXXXXX"):
        raise unknown.exception

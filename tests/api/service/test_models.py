"""Data scientists' endpoints: the champion and versions, training jobs, and the ranking reasons they bring."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api.service import create_app
from api.service.routes import enterprises
from api.service.schemas.enterprises import DecisionDetail
from api.service.tokens import issue_token
from api.settings import Settings
from matcher.db.models import audit_log, decisions, notices, runs, training_jobs
from matcher.ranking.explain import explain_pair
from matcher.ranking.parts import forget_pairs, read_pairs
from matcher.ranking.simulate import simulate
from tests.api.service.conftest import notice_of
from tests.matcher.ranking.conftest import DATES, fresh_database


def follow(client, path: str, headers: dict, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(path, headers=headers).json()
        if status["status"] in ("completed", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{path} still {status['status']} after {timeout} s")


def _decision_path(engine, notice) -> str:
    """The enterprise's URL of the decision ``notice`` announces."""
    with engine.connect() as connection:
        decision = connection.execute(
            select(decisions.c.id).where(
                decisions.c.uscc == notice.uscc,
                decisions.c.policy_id == notice.policy_id,
                decisions.c.run_id == notice.run_id,
            )
        ).scalar_one()
    return f"/enterprises/{notice.uscc}/decisions/{decision}"


def _job(engine, status: str) -> int:
    with engine.begin() as connection:
        return connection.execute(
            insert(training_jobs)
            .values(
                status=status,
                active=1 if status in ("queued", "running") else None,
                params={"holdout_share": 0.2, "seed": 0},
                requested_by="test",
                requested_at=datetime.now(UTC),
            )
            .returning(training_jobs.c.id)
        ).scalar_one()


# -- without feedback or a champion (the suite's usual database: one run, nobody answered yet)


def test_champion_when_none_is_registered_is_a_404_saying_how_to_get_one(client, tokens):
    response = client.get("/models/champion", headers=tokens.headers("analyst"))
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "huiqi simulate" in detail and "huiqi train" in detail and "POST /training-jobs" in detail
    assert client.get("/models/versions", headers=tokens.headers("officer")).json() == []


def test_training_job_when_there_is_no_feedback_fails_with_the_rankers_message(client, engine, tokens):
    analyst = tokens.headers("analyst")
    started = client.post("/training-jobs", headers=analyst)
    assert started.status_code == 202 and started.json()["status"] == "queued"
    assert started.json()["params"] == {"holdout_share": 0.2, "seed": 0, "max_queries": 200_000}
    job = follow(client, f"/training-jobs/{started.json()['id']}", analyst)
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"].startswith("no feedback to train on") and "huiqi simulate" in job["error"]
    assert [j["id"] for j in client.get("/training-jobs", headers=analyst).json()] == [job["id"]]
    with engine.connect() as connection:
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "training.start")).one()
    assert entry.subject == f"training_job:{job['id']}" and entry.actor.startswith("analyst:")
    # a finished job does not block the next one
    assert client.post("/training-jobs", json={"seed": 3}, headers=analyst).status_code == 202


def test_training_job_when_one_is_queued_or_running_is_a_409(client, engine, tokens):
    running = _job(engine, "running")
    response = client.post("/training-jobs", headers=tokens.headers("admin"))
    assert response.status_code == 409 and f"/training-jobs/{running}" in response.json()["detail"]


def test_training_job_when_asked_for_an_unknown_option_names_the_field(client, tokens):
    response = client.post("/training-jobs", json={"shuffle_labels": True}, headers=tokens.headers("analyst"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.shuffle_labels"]
    response = client.post("/training-jobs", json={"holdout_share": 1.5}, headers=tokens.headers("analyst"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.holdout_share"


def test_training_job_when_cut_short_by_a_restart_is_failed_at_the_next_start(engine, settings, repository):
    left = _job(engine, "running")
    create_app(settings, engine=engine, repository=repository)
    with engine.connect() as connection:
        row = connection.execute(select(training_jobs).where(training_jobs.c.id == left)).one()
    assert row.status == "failed" and "interrupted" in row.error and row.active is None


def test_training_job_when_an_officer_asks_is_refused(client, tokens):
    response = client.post("/training-jobs", headers=tokens.headers("officer"))
    assert response.status_code == 403 and "analysts" in response.json()["detail"]


def test_explanation_without_a_champion_has_no_ranking_reasons_and_says_why(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    body = client.get(f"/enterprises/{notice.uscc}/notices/{notice.id}", headers=tokens.headers("enterprise")).json()
    assert body["explanation"]["ranking_reasons"] is None
    assert "fallback order" in body["explanation"]["ranking_note"]["en"]


# -- with feedback: simulated answers over three as-of dates, trained through the API


@pytest.fixture(scope="module")
def ranked(registry, profiles_file, repository, tmp_path_factory):
    """A service over a database with simulated feedback, its own MLflow store, and an analyst's token."""
    data = tmp_path_factory.mktemp("ranked") / "data"
    data.mkdir()
    (data / "registry").symlink_to(registry, target_is_directory=True)
    shutil.copy(profiles_file, data / "profiles.parquet")
    # A push cap of 1 (default 3): runs started here must use the settings' cap, as `huiqi run` does.
    settings = Settings(data_dir=data, database_url="sqlite:///unused-the-engine-is-given", push_cap=1)
    with fresh_database(data) as (_, engine):
        simulate(engine, registry, DATES, repository.in_force, seed=7)
        app = create_app(settings, engine=engine, repository=repository)
        token = issue_token(engine, role="analyst", name="test analyst")[0]
        with TestClient(app) as client:
            yield client, engine, {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def champion(ranked) -> dict:
    """The first training job's result: no champion before, so it becomes the champion."""
    client, _, analyst = ranked
    started = client.post("/training-jobs", json={"holdout_share": 0.3}, headers=analyst)
    assert started.status_code == 202
    job = follow(client, f"/training-jobs/{started.json()['id']}", analyst)
    assert job["status"] == "completed", job["error"]
    if not job["result"]["promoted"]:
        # The suite's small registry leaves few enterprises with more notices than the cap: too few for the gate
        # to see an improvement beyond chance. The tests below need a champion, so it is promoted by hand.
        service = client.app.state.service
        service.ranker.store.promote(job["result"]["version"])
        service.ranker.forget()
    return job


def test_training_job_when_it_completes_reports_metrics_side_by_side_and_promotes(ranked, champion):
    client, _, analyst = ranked
    result = champion["result"]
    assert result["champion_before"] is None
    assert set(result["metrics"]) == {"ranker", "fallback", "amount", "rule_margin", "random"}
    assert all(set(m) == {"ndcg_5", "ndcg_10", "map"} for m in result["metrics"].values())
    decided = result["decision_metrics"]
    assert set(decided["metrics"]) == set(result["metrics"])
    # without a champion the model is judged against the fallback order, by the interval of the difference
    beats = decided["differences"]["ranker - fallback"]["low"] > 0
    assert result["promoted"] == beats and ("above zero: promoted" if beats else "not above zero") in result["reason"]

    shown = client.get("/models/champion", headers=analyst).json()
    assert shown["version"] == result["version"] and shown["champion"] and shown["aliases"] == ["champion"]
    # what training measured is what the registry shows
    assert {k: pytest.approx(v) for k, v in result["metrics"].items()} == shown["metrics"]
    assert shown["feature_set"] == "v1" and shown["training_seconds"] > 0 and not shown["shuffled_labels"]
    assert shown["holdout_dates"] == result["holdout_dates"] and shown["holdout_pairs"] == result["holdout_pairs"]
    assert shown["run_id"] == result["run_id"] and shown["reason"] == result["reason"]
    for scorer, by_metric in decided["metrics"].items():
        for metric, estimate in by_metric.items():
            assert shown["decision_metrics"][scorer][metric] == pytest.approx(estimate), (scorer, metric)
    assert shown["push_cap"] == decided["cap"]

    card = client.get(f"/models/versions/{result['version']}/card", headers=analyst).json()
    assert card["card"]["queries"]["decision_queries"] == decided["queries"]
    assert "take-up captured by the first wave" in card["markdown"]
    missing = client.get("/models/versions/99/card", headers=analyst)
    assert missing.status_code == 404 and "GET /models/versions" in missing.json()["detail"]


def test_versions_when_a_second_model_is_trained_list_newest_first(ranked, champion):
    client, _, analyst = ranked
    second = client.post("/training-jobs", json={"holdout_share": 0.3, "seed": 1}, headers=analyst)
    job = follow(client, f"/training-jobs/{second.json()['id']}", analyst)
    assert job["status"] == "completed"
    assert set(job["result"]["metrics"]) == {"ranker", "fallback", "amount", "rule_margin", "random", "champion"}
    versions = client.get("/models/versions", headers=analyst).json()
    assert [v["version"] for v in versions] == [job["result"]["version"], champion["result"]["version"]]
    assert [v["champion"] for v in versions] == [job["result"]["promoted"], not job["result"]["promoted"]]
    assert pytest.approx(job["result"]["metrics"]["champion"]) == versions[0]["metrics"]["champion"]


def test_explanation_with_a_champion_gives_its_top_reasons_in_zh_and_en(ranked, champion):
    client, engine, _ = ranked
    notice = notice_of(engine, "awaiting_confirmation")
    headers = {"Authorization": f"Bearer {issue_token(engine, role='enterprise', uscc=notice.uscc, name='e')[0]}"}
    body = client.get(f"/enterprises/{notice.uscc}/notices/{notice.id}", headers=headers).json()
    reasons = body["explanation"]["ranking_reasons"]
    assert body["explanation"]["ranking_note"] is None and 1 <= len(reasons) <= 3
    for reason in reasons:
        assert reason["en"].endswith(("moves it up", "moves it down")) and "使该通知排序" in reason["zh"]
        assert reason["en"].endswith("moves it up") == (reason["contribution"] > 0)

    path = _decision_path(engine, notice)
    decision = client.get(path, headers=headers)
    assert decision.json()["explanation"]["ranking_reasons"] == reasons
    # Written without validating, reasons and all: still the schema's JSON.
    assert decision.content == DecisionDetail.model_validate_json(decision.content).model_dump_json().encode()

    # A decision written without ranking features (e.g. before the ranker existed) says so instead.
    pair = pl.DataFrame({"uscc": [notice.uscc], "policy_id": [notice.policy_id]})
    assert forget_pairs(engine, notice.run_id, pair) == 1
    explanation = client.get(path, headers=headers).json()["explanation"]
    assert explanation["ranking_reasons"] is None and "ranking features" in explanation["ranking_note"]["en"]


def test_explanation_when_the_champion_is_in_memory_takes_no_thread_and_follows_a_new_champion(
    ranked, champion, monkeypatch
):
    client, engine, analyst = ranked
    service = client.app.state.service
    with engine.connect() as connection:  # the last such notice: the first one's pair is forgotten by a test above
        kind = notices.c.kind == "awaiting_confirmation"
        notice = connection.execute(select(notices).where(kind).order_by(notices.c.id.desc())).first()
    headers = {"Authorization": f"Bearer {issue_token(engine, role='enterprise', uscc=notice.uscc, name='e')[0]}"}
    path = _decision_path(engine, notice)

    def reasons_by(version: str) -> list[dict]:
        model = service.ranker.store.load(version)
        found = explain_pair(engine, model, notice.uscc, notice.policy_id, run_id=notice.run_id)
        return [{k: item[k] for k in ("feature", "value", "contribution", "zh", "en")} for item in found.items]

    def no_thread(*_args, **_kwargs):
        raise AssertionError("the explanation hopped to a thread with the champion in memory")

    first = client.get(path, headers=headers).json()["explanation"]["ranking_reasons"]  # may read the store
    assert first == reasons_by(service.ranker.store.champion_version())
    monkeypatch.setattr(enterprises, "run_in_threadpool", no_thread)
    assert client.get(path, headers=headers).json()["explanation"]["ranking_reasons"] == first
    monkeypatch.undo()

    # Another version made champion: the reasons are the new model's at once (a promotion here is seen at once).
    other = [v["version"] for v in service.ranker.store.versions() if not v["champion"]]
    if not other:
        started = client.post("/training-jobs", json={"holdout_share": 0.3, "seed": 1}, headers=analyst)
        assert follow(client, f"/training-jobs/{started.json()['id']}", analyst)["status"] == "completed"
        other = [v["version"] for v in service.ranker.store.versions() if not v["champion"]]
    before = service.ranker.store.champion_version()
    service.ranker.store.promote(other[0])
    service.ranker.forget()
    try:
        now = client.get(path, headers=headers).json()["explanation"]["ranking_reasons"]
        assert now == reasons_by(other[0]) and now != first
    finally:
        service.ranker.store.promote(before)
        service.ranker.forget()


def test_run_started_over_http_uses_the_champion_and_push_cap_as_huiqi_run_does(ranked, champion):
    client, engine, _ = ranked
    officer = {"Authorization": f"Bearer {issue_token(engine, role='officer', name='o')[0]}"}
    started = client.post("/runs", json={"as_of": "2025-09-30"}, headers=officer)
    status = follow(client, f"/runs/{started.json()['id']}", officer)
    assert status["status"] == "completed", status["error"]
    version = client.get("/models/champion", headers=officer).json()["version"]
    with engine.connect() as connection:
        model = connection.execute(select(runs.c.model_version).where(runs.c.id == status["run_id"])).scalar_one()
    ranked_rows = list(read_pairs(engine, status["run_id"], ["score", "position", "wave"]).iter_rows(named=True))
    assert model == f"huiqi-ranker/{version}"
    assert ranked_rows and all(r["score"] is not None for r in ranked_rows)  # scored by the champion
    later = [r for r in ranked_rows if r["wave"] > 0]
    assert later and all(r["wave"] == r["position"] - 1 for r in later)  # one new notice per wave: push_cap=1


def test_drift_and_uplift_when_a_champion_ordered_a_run_report_movers_and_both_arms(ranked, champion):
    client, engine, analyst = ranked
    officer = {"Authorization": f"Bearer {issue_token(engine, role='officer', name='o2')[0]}"}
    started = client.post("/runs", json={"as_of": "2025-12-31"}, headers=officer)
    status = follow(client, f"/runs/{started.json()['id']}", officer)
    assert status["status"] == "completed", status["error"]

    drift = client.get("/models/champion/drift", headers=analyst).json()
    assert drift["champion"] == champion["result"]["version"] and drift["run_id"] == status["run_id"]
    assert len(drift["features"]) == 25 and drift["pairs"] > 0
    psi = [f["psi"] for f in drift["features"]]
    assert psi == sorted(psi, reverse=True)
    assert drift["drifted"] == [f["feature"] for f in drift["features"] if f["psi"] > drift["threshold"]]

    measured = client.get("/models/uplift", params={"run_id": status["run_id"]}, headers=analyst).json()
    assert [r["id"] for r in measured["runs"]] == [status["run_id"]]
    arms = measured["arms"]
    assert arms["ranked"]["enterprises"] > 0 and arms["ranked"]["answered"] == 0  # nobody answered yet
    assert arms["ranked"]["take_up"]["value"] == 0.0

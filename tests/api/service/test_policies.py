"""Policy officers: drafts with positioned problems, examples, impact (agreeing with a full run), publishing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
import yaml
from sqlalchemy import select

from matcher.db import make_engine, upgrade
from matcher.db.models import audit_log, decisions, runs
from matcher.ledger.statuses import ELIGIBLE_DECISIONS as ELIGIBLE
from matcher.ledger.statuses import PAYABLE_DECISIONS as PAYABLE
from matcher.run import run_matching
from policies.load import load_policy_text
from tests.api.service.conftest import AS_OF

P01 = (Path(__file__).resolve().parents[3] / "policies/catalogue/p01-job-retention-refund.yaml").read_text("utf-8")
YAML = {"content-type": "application/yaml"}
JULY = {"effective_from": "2025-07-01"}
# Version 2 of P01 with a changed threshold: a layoff rate of at most 2 % instead of 5.5 %.
CHANGED = P01.replace("version: 1", "version: 2").replace(
    '"layoff_rate_last_year <= 5.5%"', '"layoff_rate_last_year <= 2%"'
)


def _draft(client, tokens, text: str, **headers) -> dict:
    response = client.post("/policy-drafts", content=text, headers=YAML | headers | tokens.headers("officer"))
    assert response.status_code == 201, response.text
    return response.json()


def test_draft_when_it_names_an_unknown_fact_points_at_its_line_and_column(client, tokens):
    text = CHANGED.replace('"ui_paid_months >= 12"', '"ui_paid_month >= 12"')
    draft = _draft(client, tokens, text)
    assert draft["valid"] is False and draft["policy_id"] == "job-retention-refund" and draft["version"] == 2
    problem = draft["problems"][0]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "ui_paid_month >=" in t)
    assert problem["line"] == line and problem["column"] == text.splitlines()[line - 1].index("ui_paid_month") + 1
    assert "ui_paid_months" in problem["hint"] or "ui_paid_months" in problem["message"]
    checked = client.post(f"/policy-drafts/{draft['id']}/validate", headers=tokens.headers("officer")).json()
    assert checked["valid"] is False and checked["problems"][0]["line"] == line
    refused = client.get(f"/policy-drafts/{draft['id']}/impact", headers=tokens.headers("officer"))
    assert refused.status_code == 409 and refused.json()["errors"][0]["line"] == line


def test_draft_when_sent_as_json_is_kept_and_validated(client, tokens):
    raw = yaml.safe_load(CHANGED)
    draft = _draft(
        client, tokens, json.dumps(raw, default=str, ensure_ascii=False), **{"content-type": "application/json"}
    )
    assert draft["valid"] and draft["format"] == "json" and json.loads(draft["text"])["version"] == 2
    checked = client.post(
        f"/policy-drafts/{draft['id']}/validate?effective_from=2025-07-01", headers=tokens.headers("officer")
    )
    assert checked.json() == {"valid": True, "policy_id": "job-retention-refund", "version": 2, "problems": []}


def test_draft_when_the_body_is_not_yaml_or_json_is_refused_with_a_problem(client, tokens):
    officer = tokens.headers("officer")
    assert (
        client.post("/policy-drafts", content=b"x", headers=officer | {"content-type": "image/png"}).status_code == 415
    )
    broken = client.post("/policy-drafts", content=b"{", headers=officer | {"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "body"
    assert "line 1" in broken.json()["detail"]


def test_draft_examples_when_run_report_each_example(client, tokens):
    draft = _draft(client, tokens, CHANGED)
    results = client.post(f"/policy-drafts/{draft['id']}/examples", headers=tokens.headers("officer")).json()
    by_name = {r["example"]: r for r in results}
    assert len(results) == P01.count("  - name:") and by_name["SME with low layoffs gets 60 % back"]["ok"]
    assert not by_name["layoff rate exactly 5.5 % still qualifies"]["ok"]  # the changed threshold shows


def _eligible(engine, policy_id: str) -> pl.DataFrame:
    query = select(decisions.c.uscc, decisions.c.status, decisions.c.amount_fen).where(
        decisions.c.policy_id == policy_id, decisions.c.status.in_(ELIGIBLE)
    )
    with engine.connect() as connection:
        return pl.DataFrame(connection.execute(query).all(), schema=["uscc", "status", "amount_fen"], orient="row")


# P07 with a changed threshold: R&D expense above 200,000 yuan instead of above zero. (P01 would not do: its
# declared exclusions leave every otherwise eligible firm unknown until attested, so nothing is eligible to lose.)
P07 = (Path(__file__).resolve().parents[3] / "policies/catalogue/p07-rd-super-deduction.yaml").read_text("utf-8")
CHANGED_P07 = (
    P07.replace("version: 1", "version: 2")
    .replace('"rd_expense_last_year > 0"', '"rd_expense_last_year > 200000"')
    .replace("category: tax\n", "category: tax\nbudget: 1000000000\n")  # a budget to compare with
)


def test_impact_of_a_changed_threshold_matches_a_full_run_with_that_change(
    client, engine, tokens, checked, repository, tmp_path
):
    draft = _draft(client, tokens, CHANGED_P07)
    impact = client.get(f"/policy-drafts/{draft['id']}/impact?limit=100000", headers=tokens.headers("officer")).json()
    assert impact["baseline_version"] == 1 and impact["draft_version"] == 2
    assert impact["no_longer_eligible"]["count"] > 0  # the change must matter for the comparison to mean something

    changed_policy, _ = load_policy_text(CHANGED_P07, "changed.yaml")
    scenario = [p for p in repository.in_force(AS_OF) if p.id != changed_policy.id] + [changed_policy]
    other = make_engine(f"sqlite:///{tmp_path / 'changed.db'}")
    upgrade(other)
    run_matching(other, checked, AS_OF, scenario)
    before, after = _eligible(engine, "rd-super-deduction"), _eligible(other, "rd-super-deduction")

    assert impact["baseline"]["eligible"] == before.height and impact["draft"]["eligible"] == after.height
    payable = pl.col("status").is_in(PAYABLE)
    assert impact["draft"]["amount_fen"] == after.filter(payable)["amount_fen"].sum()
    assert impact["baseline"]["amount_fen"] == before.filter(payable)["amount_fen"].sum()
    newly = sorted(set(after["uscc"]) - set(before["uscc"]))
    gone = sorted(set(before["uscc"]) - set(after["uscc"]))
    assert impact["newly_eligible"] == {"count": len(newly), "uscc": newly}
    assert impact["no_longer_eligible"] == {"count": len(gone), "uscc": gone}
    for dimension in ("region", "size_class", "industry"):
        rows = impact["breakdown"][dimension]
        assert sum(r["eligible_after"] for r in rows) == after.height
        assert sum(r["no_longer_eligible"] for r in rows) == len(gone)
    assert impact["budget"]["demanded_fen"] == impact["draft"]["amount_full_fen"]
    other.dispose()


def test_publish_when_a_newer_version_starts_closes_the_older_one_and_runs_use_it(client, engine, tokens):
    officer = tokens.headers("officer")
    draft = _draft(client, tokens, CHANGED)
    early = client.post(f"/policy-drafts/{draft['id']}/submit", json={"effective_from": "2024-01-01"}, headers=officer)
    assert early.status_code == 409 and "later date" in early.json()["detail"]
    submitted = client.post(f"/policy-drafts/{draft['id']}/submit", json=JULY, headers=officer)
    assert submitted.status_code == 200, submitted.text
    approved = client.post(f"/policy-drafts/{draft['id']}/approve", headers=tokens.headers("admin"))  # a second person
    assert approved.status_code == 200, approved.text
    done = client.post(f"/policy-drafts/{draft['id']}/publish", json={"effective_from": "2025-07-01"}, headers=officer)
    assert done.status_code == 201, done.text
    assert done.json()["closed"] == [{"version": 1, "effective_to": "2025-06-30"}]
    again = client.post(f"/policy-drafts/{draft['id']}/publish", json={"effective_from": "2025-07-01"}, headers=officer)
    assert again.status_code == 409
    frozen = client.put(f"/policy-drafts/{draft['id']}", content=CHANGED, headers=YAML | officer)
    assert frozen.status_code == 409

    versions = client.get("/policies/job-retention-refund", headers=tokens.headers("analyst")).json()["versions"]
    assert [(v["version"], v["effective_from"], v["effective_to"]) for v in versions] == [
        (1, "2024-01-01", "2025-06-30"),
        (2, "2025-07-01", "2025-12-31"),
    ]
    old = client.get("/policies/job-retention-refund/versions/1", headers=officer).json()
    assert "to: 2025-06-30" in old["text"] and "# Large enterprises 30 %" in old["text"]  # the file as written

    started = client.post("/runs", json={"as_of": "2025-09-30"}, headers=officer)
    assert started.status_code == 202 and started.json()["status"] == "queued"
    status = _follow(client, started.json()["id"], officer)
    assert status["status"] == "completed" and status["summary"]["counts"]["enterprises"] > 0
    with engine.connect() as connection:
        used = connection.execute(select(runs.c.policy_versions).where(runs.c.id == status["run_id"])).scalar_one()
        actions = connection.execute(select(audit_log.c.action)).scalars().all()
    assert used["job-retention-refund"] == 2
    assert {"draft.create", "policy.publish", "run.start"} <= set(actions)


def _follow(client, request_id: int, headers: dict, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/runs/{request_id}", headers=headers).json()
        if status["status"] in ("completed", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"run request {request_id} still {status['status']} after {timeout} s")


def test_run_when_the_registry_is_missing_says_so(client, tokens, settings):
    (settings.data_dir / "registry").unlink()
    response = client.post("/runs", json={"as_of": "2025-06-30"}, headers=tokens.headers("officer"))
    assert response.status_code == 409 and "registry" in response.json()["detail"]


def test_impact_when_no_profiles_exist_says_how_to_make_them(client, tokens, settings):
    settings.profiles_path.unlink()
    draft = _draft(client, tokens, CHANGED)
    response = client.get(f"/policy-drafts/{draft['id']}/impact", headers=tokens.headers("officer"))
    assert response.status_code == 409 and "huiqi profiles" in response.json()["detail"]


def test_openapi_example_draft_when_posted_is_valid_and_its_examples_pass(client, tokens):
    example = client.get("/openapi.json").json()["paths"]["/policy-drafts"]["post"]["requestBody"]["content"]
    draft = _draft(client, tokens, example["application/yaml"]["example"])
    assert draft["valid"], draft["problems"]
    ran = client.post(f"/policy-drafts/{draft['id']}/examples", headers=tokens.headers("officer")).json()
    assert len(ran) >= 3 and all(r["ok"] for r in ran)


def test_draft_list_when_drafts_are_large_reads_each_text_once(client, tokens, monkeypatch):
    from api.service.routes import drafts as route

    for n in range(3):
        _draft(client, tokens, CHANGED.replace("version: 2", f"version: {n + 2}"))
    calls, original = [], route.read_draft
    monkeypatch.setattr(route, "read_draft", lambda *a: calls.append(a) or original(*a))
    route._parsed.cache_clear()
    for _ in range(3):
        assert len(client.get("/policy-drafts", headers=tokens.headers("officer")).json()) == 3
    assert len(calls) == 3  # once per draft, not once per listing

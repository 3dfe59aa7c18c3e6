"""Every role against every endpoint: allowed ones get past authorisation, refused ones get 401 or 403.

'other' is an enterprise token bound to a different enterprise: on this enterprise's
paths it is refused like any stranger (tenant isolation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from matcher.db.models import decisions, responses, run_requests, training_jobs
from tests.api.service.conftest import notice_of

ROLES = (None, "enterprise", "other", "officer", "analyst", "admin")
READ_ENTERPRISE = {"enterprise", "officer", "admin"}
ACT = {"enterprise"}
EVERYONE = {"enterprise", "other", "officer", "analyst", "admin"}
OFFICERS = {"officer", "admin"}
FOLLOW = {"officer", "analyst", "admin"}
SCIENCE = {"analyst", "admin"}
P01 = Path(__file__).resolve().parents[3] / "policies/catalogue/p01-job-retention-refund.yaml"
DRAFT = P01.read_text(encoding="utf-8").replace("version: 1", "version: 2")
YAML = {"content-type": "application/yaml"}

# (method, path, request keywords, roles allowed); {uscc} is the enterprise token's own
ENDPOINTS = [
    ("GET", "/health", {}, {None, *EVERYONE}),
    ("GET", "/enterprises/{uscc}/decisions", {}, READ_ENTERPRISE),
    ("GET", "/enterprises/{uscc}/decisions/{decision_id}", {}, READ_ENTERPRISE),
    ("GET", "/enterprises/{uscc}/notices", {}, READ_ENTERPRISE),
    ("GET", "/enterprises/{uscc}/notices/{notice_id}", {}, READ_ENTERPRISE),
    ("POST", "/enterprises/{uscc}/notices/{notice_id}/supply", {"json": {"facts": {"ui_paid_months": 12}}}, ACT),
    ("POST", "/enterprises/{uscc}/notices/{notice_id}/object", {"json": {"reason": "数据有误，请核实"}}, ACT),
    ("POST", "/enterprises/{uscc}/notices/{notice_id}/decline", {"json": {}}, ACT),
    ("POST", "/enterprises/{uscc}/notices/{notice_id}/confirm", {}, ACT),
    ("GET", "/policies", {}, EVERYONE),
    ("GET", "/policies/{policy_id}", {}, EVERYONE),
    ("GET", "/policies/{policy_id}/versions/{version}", {}, EVERYONE),
    ("POST", "/policy-drafts", {"content": DRAFT, "headers": YAML}, OFFICERS),
    ("GET", "/policy-drafts", {}, OFFICERS),
    ("GET", "/policy-drafts/{draft_id}", {}, OFFICERS),
    ("PUT", "/policy-drafts/{draft_id}", {"content": DRAFT, "headers": YAML}, OFFICERS),
    ("POST", "/policy-drafts/{draft_id}/validate", {}, OFFICERS),
    ("POST", "/policy-drafts/{draft_id}/examples", {}, OFFICERS),
    ("GET", "/policy-drafts/{draft_id}/impact", {}, OFFICERS),
    ("GET", "/policy-drafts/{draft_id}/analysis", {}, OFFICERS),
    ("GET", "/policy-drafts/{draft_id}/diff", {}, OFFICERS),
    ("POST", "/policy-drafts/{draft_id}/submit", {"json": {"effective_from": "2025-07-01"}}, OFFICERS),
    ("POST", "/policy-drafts/submit", {"json": {"draft_ids": [1, 2], "effective_from": "2025-07-01"}}, OFFICERS),
    ("POST", "/policy-drafts/{draft_id}/approve", {"json": {}}, OFFICERS),
    ("POST", "/policy-drafts/{draft_id}/reject", {"json": {"comment": "请核对依据"}}, OFFICERS),
    (
        "POST",
        "/policy-drafts/withdrawals",
        {"json": {"policy_id": "job-retention-refund", "version": 1, "withdraw_from": "2099-01-01"}},
        OFFICERS,
    ),
    ("POST", "/policy-drafts/{draft_id}/publish", {"json": {"effective_from": "2025-07-01"}}, OFFICERS),
    ("POST", "/policy-drafts/publish", {"json": {"draft_ids": [1, 2], "effective_from": "2025-07-01"}}, OFFICERS),
    ("GET", "/runs", {}, FOLLOW),
    ("GET", "/runs/{request_id}", {}, FOLLOW),
    ("POST", "/runs", {"json": {"as_of": "2025-06-30"}}, OFFICERS),
    ("GET", "/notices/dead", {}, OFFICERS),
    ("POST", "/notices/dead/requeue", {"json": {"ids": [1]}}, OFFICERS),
    ("GET", "/enterprises/{uscc}/benefits/{policy_id}/{period_key}", {}, READ_ENTERPRISE),
    (
        "POST",
        "/enterprises/{uscc}/benefits/{policy_id}/{period_key}/corrections",
        {"json": {"action": "cancel", "reason": "审计发现数据有误"}},
        OFFICERS,
    ),
    ("GET", "/ledger/proposals", {}, OFFICERS),
    ("POST", "/ledger/proposals/{proposal_id}/accept", {"json": {"note": "经核实无误"}}, OFFICERS),
    ("POST", "/ledger/proposals/{proposal_id}/dismiss", {"json": {"note": "经核实无误"}}, OFFICERS),
    ("GET", "/supplied-facts", {}, OFFICERS),
    ("POST", "/supplied-facts/{supplied_id}/review", {"json": {"outcome": "rejected", "reason": "依据不足"}}, OFFICERS),
    ("GET", "/supplied-facts/lists", {}, OFFICERS),
    (
        "POST",
        "/supplied-facts/lists",
        {
            "content": b"uscc,value\n",
            "params": {"fact": "in_bankruptcy", "department": "court", "as_of": "2025-06-30", "reference": "名单"},
        },
        OFFICERS,
    ),
    ("GET", "/objections", {}, OFFICERS),
    ("POST", "/objections/{objection_id}/review", {"json": {"outcome": "dismissed", "note": "核实无误"}}, OFFICERS),
    ("GET", "/payouts/batches", {}, OFFICERS),
    ("POST", "/payouts/batches", {"json": {"as_of": "2025-07-20"}}, OFFICERS),
    ("GET", "/payouts/batches/{batch_id}", {}, OFFICERS),
    ("POST", "/payouts/batches/{batch_id}/approve", {}, OFFICERS),
    ("POST", "/payouts/batches/{batch_id}/withdraw", {"json": {"reason": "测试"}}, OFFICERS),
    ("POST", "/payouts/batches/{batch_id}/export", {}, OFFICERS),
    ("POST", "/payouts/returns", {"content": b"{}"}, OFFICERS),
    ("GET", "/publicity", {}, OFFICERS),
    ("PUT", "/enterprises/{uscc}/account", {"json": {"bank_code": "1", "account_no": "1", "account_name": "x"}}, ACT),
    ("GET", "/models/champion", {}, FOLLOW),
    ("GET", "/models/versions", {}, FOLLOW),
    ("GET", "/models/versions/{version}/card", {}, FOLLOW),
    ("GET", "/models/champion/drift", {}, FOLLOW),
    ("GET", "/models/uplift", {}, FOLLOW),
    ("GET", "/training-jobs", {}, SCIENCE),
    # e-supervision (a supervisor token passes the supervisors' routes too: tests/supervision)
    ("GET", "/supervision/queue", {}, OFFICERS),
    ("GET", "/supervision/limits", {}, OFFICERS),
    ("GET", "/supervision/overview", {}, {"admin"}),
    ("GET", "/supervision/handling", {}, {"admin"}),
    ("GET", "/supervision/escalations", {}, {"admin"}),
    ("POST", "/supervision/watch", {}, {"admin"}),
    ("GET", "/metrics", {}, {"admin"}),  # and a monitor token
    ("GET", "/statistics", {}, {None, *EVERYONE}),
    ("GET", "/statistics/policies/{policy_id}/{year}", {}, {None, *EVERYONE}),
    ("GET", "/training-jobs/{job_id}", {}, SCIENCE),
    ("POST", "/training-jobs", {"json": {}}, SCIENCE),
]


def test_every_endpoint_is_in_the_role_table(app):
    served = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert served == {(m, p) for m, p, _, _ in ENDPOINTS}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_endpoint_when_called_by_role_allows_exactly_the_table(client, engine, tokens, role):
    notice = notice_of(engine, "awaiting_confirmation")
    assert notice.uscc == tokens.uscc
    with engine.begin() as connection:
        decision = connection.execute(select(decisions.c.id).where(decisions.c.uscc == tokens.uscc)).scalar()
        run = connection.execute(
            insert(run_requests)
            .values(
                as_of=datetime(2025, 6, 30), status="completed", requested_by="test", requested_at=datetime.now(UTC)
            )
            .returning(run_requests.c.id)
        ).scalar_one()
        objection = connection.execute(
            insert(responses)
            .values(
                notice_id=notice.id,
                uscc=notice.uscc,
                policy_id=notice.policy_id,
                period_key=notice.period_key,
                kind="objected",
                detail={"reason": "数据有误，请核实"},
                actor="test",
                at=datetime.now(UTC),
            )
            .returning(responses.c.id)
        ).scalar_one()
        job = connection.execute(
            insert(training_jobs)
            .values(status="failed", params={}, requested_by="test", requested_at=datetime.now(UTC))
            .returning(training_jobs.c.id)
        ).scalar_one()
    draft = client.post("/policy-drafts", content=DRAFT, headers=YAML | tokens.headers("officer")).json()["id"]
    ids = {
        "uscc": tokens.uscc,
        "notice_id": notice.id,
        "decision_id": decision,
        "draft_id": draft,
        "request_id": run,
        "job_id": job,
        "objection_id": objection,
        "batch_id": 999,
        "policy_id": "job-retention-refund",
        "year": 2025,
        "period_key": "2025",
        "proposal_id": 1,
        "supplied_id": 1,
        "version": 1,
    }
    wrong = []
    for method, path, kwargs, allowed in ENDPOINTS:
        url = path.format(**ids)
        headers = kwargs.get("headers", {}) | tokens.headers(role)
        response = client.request(method, url, **{k: v for k, v in kwargs.items() if k != "headers"}, headers=headers)
        assert response.status_code < 500, (method, url, response.text)
        refused = response.status_code in (401, 403)
        if refused == (role in allowed):
            wrong.append(f"{method} {url}: {response.status_code} {response.text[:200]}")
        if refused:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.status_code == (401 if role is None else 403)
    assert wrong == []

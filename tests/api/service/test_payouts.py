"""Payouts over HTTP: maker-checker, refusals as problem documents (zh and en), the account an enterprise gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from matcher.db.models import benefits

AFTER_WINDOW = (datetime.now(UTC).date() + timedelta(days=16)).isoformat()


def test_payouts_over_http_when_the_maker_approves_answer_409_and_a_checker_goes_through(client, tokens):
    prepared = client.post("/payouts/batches", json={"as_of": AFTER_WINDOW}, headers=tokens.headers("officer"))
    assert prepared.status_code == 201, prepared.text
    batch = prepared.json()["batch_id"]
    assert prepared.json()["items"] > 0
    refused = client.post(f"/payouts/batches/{batch}/approve", headers=tokens.headers("officer"))
    assert refused.status_code == 409
    assert "maker-checker" in refused.json()["detail"] and "生成人不能审批" in refused.json()["detail_zh"]
    approved = client.post(f"/payouts/batches/{batch}/approve", headers=tokens.headers("admin"))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    exported = client.post(f"/payouts/batches/{batch}/export", headers=tokens.headers("admin"))
    lines = exported.text.splitlines()
    assert exported.status_code == 200 and json.loads(lines[0])["count"] == len(lines) - 2
    header = {"record": "header", "format": "huiqi.return/1", "batch_id": batch, "count": 1, "total_fen": 5}
    bad = client.post("/payouts/returns", content=json.dumps(header) + "\n", headers=tokens.headers("officer"))
    assert bad.status_code == 422 and "control totals do not match" in bad.json()["detail"]


def test_account_over_http_when_the_name_is_not_the_registered_one_answers_422_naming_the_field(client, tokens, engine):
    wrong = {"bank_code": "102584000012", "account_no": "6222020200112233445", "account_name": "别的公司"}
    answer = client.put(f"/enterprises/{tokens.uscc}/account", json=wrong, headers=tokens.headers("enterprise"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.account_name" and "户名不符" in answer.json()["detail_zh"]
    with engine.connect() as connection:
        assert connection.execute(select(benefits.c.status).where(benefits.c.status == "payable")).first() is None


def test_preparing_a_batch_without_the_registry_answers_503_and_prepares_nothing(client, tokens, settings):
    """The bank accounts come from the registry in the data directory: when it is gone, preparing a batch is the
    operators' problem to mend — a 503 saying so in zh and en, not a 500 — and no batch is left half made."""
    (settings.data_dir / "registry").unlink()
    answer = client.post("/payouts/batches", json={"as_of": AFTER_WINDOW}, headers=tokens.headers("officer"))
    assert answer.status_code == 503, answer.text
    problem = answer.json()
    assert problem["type"].endswith("/registry-unavailable")
    assert "bank accounts cannot be read from the registry" in problem["detail"]
    assert "nothing was prepared" in problem["detail"] and "未生成批次" in problem["detail_zh"]
    assert client.get("/payouts/batches", headers=tokens.headers("officer")).json() == []

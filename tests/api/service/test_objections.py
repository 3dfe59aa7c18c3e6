"""Officers review objections: dismissed releases the held payout and notices, upheld cancels them; once only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.service.tokens import issue_token
from matcher.db.models import audit_log, benefits, notices
from tests.api.service.conftest import notice_of


def _object(client, engine, reason="我单位参保人数有误，请核实"):
    granted = notice_of(engine, "granted")
    token = issue_token(engine, role="enterprise", uscc=granted.uscc, name="objector")[0]
    headers = {"Authorization": f"Bearer {token}"}
    done = client.post(
        f"/enterprises/{granted.uscc}/notices/{granted.id}/object", json={"reason": reason}, headers=headers
    )
    assert done.status_code == 200 and done.json()["benefit_status"] == "held"
    return granted, headers


def _ledger(engine, notice):
    with engine.connect() as connection:
        benefit = connection.execute(
            select(benefits.c.status).where(
                benefits.c.uscc == notice.uscc,
                benefits.c.policy_id == notice.policy_id,
                benefits.c.period_key == notice.period_key,
            )
        ).scalar_one()
        delivery = connection.execute(select(notices.c.delivery_status).where(notices.c.id == notice.id)).scalar_one()
    return benefit, delivery


@pytest.mark.parametrize(
    ("outcome", "benefit", "delivery"), [("dismissed", "granted", "pending"), ("upheld", "cancelled", "withdrawn")]
)
def test_review_when_decided_releases_or_cancels_what_the_objection_held(
    client, engine, tokens, outcome, benefit, delivery
):
    notice, enterprise = _object(client, engine)
    officer = tokens.headers("officer")
    (open_one,) = client.get("/objections", headers=officer).json()
    assert open_one["notice_id"] == notice.id and open_one["benefit_status"] == "held"
    assert open_one["reason"] == "我单位参保人数有误，请核实" and open_one["review"] is None

    reviewed = client.post(
        f"/objections/{open_one['id']}/review", json={"outcome": outcome, "note": "社保登记已核实"}, headers=officer
    )
    assert reviewed.status_code == 200, reviewed.text
    body = reviewed.json()
    assert body["review"]["outcome"] == outcome and body["review"]["by"].startswith("officer:")
    assert body["benefit_status"] == benefit
    assert _ledger(engine, notice) == (benefit, delivery)
    # The enterprise sees the ledger's new status on its decisions.
    decisions = client.get(f"/enterprises/{notice.uscc}/decisions", headers=enterprise).json()
    assert {d["benefit_status"] for d in decisions if d["policy_id"] == notice.policy_id} == {benefit}

    assert client.get("/objections", headers=officer).json() == []
    assert [o["id"] for o in client.get("/objections?status=reviewed", headers=officer).json()] == [open_one["id"]]
    again = client.post(
        f"/objections/{open_one['id']}/review", json={"outcome": "dismissed", "note": "再次处理"}, headers=officer
    )
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert _ledger(engine, notice) == (benefit, delivery)  # the second review changed nothing
    with engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action).where(audit_log.c.action.like("objection.%"))).scalars()
        assert list(actions) == [f"objection.{outcome}"]


def test_review_when_the_body_or_the_id_is_wrong_says_which(client, engine, tokens):
    officer = tokens.headers("officer")
    missing = client.post("/objections/999999/review", json={"outcome": "dismissed", "note": "x"}, headers=officer)
    assert missing.status_code == 404
    _object(client, engine)
    (objection,) = client.get("/objections", headers=officer).json()
    bad = client.post(
        f"/objections/{objection['id']}/review", json={"outcome": "accepted", "note": ""}, headers=officer
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.outcome", "body.note"}

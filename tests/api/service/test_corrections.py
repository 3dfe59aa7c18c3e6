"""Officers correct the ledger with a reason; every correction is a journal entry; the balance is the journal's sum."""

from sqlalchemy import select

from matcher.db.models import audit_log, notices
from tests.api.service.conftest import notice_of


def _url(notice) -> str:
    return f"/enterprises/{notice.uscc}/benefits/{notice.policy_id}/{notice.period_key}"


def test_corrections_when_cancelled_then_regranted_are_journaled_with_officer_and_reason(client, engine, tokens):
    granted = notice_of(engine, "granted")
    officer = tokens.headers("officer")
    before = client.get(_url(granted), headers=officer).json()
    assert before["status"] == "granted" and before["amount_fen"] == granted.amount_fen
    assert [e["entry"] for e in before["journal"]] == ["granted"]
    assert before["journal"][0]["actor"].startswith("run:")

    cancelled = client.post(
        f"{_url(granted)}/corrections", json={"action": "cancel", "reason": "审计发现：统计口径有误"}, headers=officer
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["amount_fen"]) == ("cancelled", 0)
    regranted = client.post(
        f"{_url(granted)}/corrections",
        json={"action": "regrant", "amount_yuan": "1234.56", "reason": "复核后确认符合条件"},
        headers=officer,
    ).json()
    assert (regranted["status"], regranted["amount_fen"]) == ("granted", 123456)
    journal = regranted["journal"]
    assert [(e["entry"], e["amount_before_fen"], e["amount_after_fen"]) for e in journal] == [
        ("granted", 0, granted.amount_fen),
        ("cancelled", granted.amount_fen, 0),
        ("regranted", 0, 123456),
    ]
    assert journal[2]["actor"].startswith("officer:") and journal[2]["reason"] == "复核后确认符合条件"
    assert sum(e["amount_after_fen"] - e["amount_before_fen"] for e in journal) == regranted["amount_fen"]
    with engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action).where(audit_log.c.action.like("benefit.%"))).scalars()
        assert list(actions) == ["benefit.cancel", "benefit.regrant"]
    with engine.connect() as connection:  # the enterprise is told of each change, at the ledger's amount
        told = connection.execute(
            select(notices.c.kind, notices.c.amount_fen)
            .where(notices.c.uscc == granted.uscc, notices.c.kind.in_(("corrected", "revoked")))
            .order_by(notices.c.id)
        ).all()
    assert [tuple(t) for t in told] == [("revoked", 0), ("corrected", 123456)]
    # The enterprise reads the same ledger entry, with the same journal.
    own = client.get(_url(granted), headers={"Authorization": f"Bearer {_token(engine, granted.uscc)}"}).json()
    assert own["journal"] == journal


def test_corrections_when_the_state_or_the_body_does_not_allow_them_say_why(client, engine, tokens):
    granted = notice_of(engine, "granted")
    officer = tokens.headers("officer")
    recover = client.post(
        f"{_url(granted)}/corrections", json={"action": "recover", "reason": "重复领取，予以追回"}, headers=officer
    )
    assert recover.status_code == 409
    assert "it is granted; 'recovered' applies only to a benefit that is paid" in recover.json()["detail"]
    short = client.post(f"{_url(granted)}/corrections", json={"action": "cancel", "reason": "x"}, headers=officer)
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "body.reason"
    no_amount = client.post(
        f"{_url(granted)}/corrections", json={"action": "adjust", "reason": "金额复核调整"}, headers=officer
    )
    assert no_amount.status_code == 422 and "'adjust' needs amount_yuan" in no_amount.json()["detail"]
    fractional = client.post(
        f"{_url(granted)}/corrections",
        json={"action": "adjust", "amount_yuan": "10.005", "reason": "金额复核调整"},
        headers=officer,
    )
    assert fractional.status_code == 422  # money has two decimals: nothing is rounded silently
    missing = client.get(f"/enterprises/{granted.uscc}/benefits/no-such-policy/2025", headers=officer)
    assert missing.status_code == 404


def _token(engine, uscc: str) -> str:
    from api.service.tokens import issue_token

    return issue_token(engine, role="enterprise", uscc=uscc, name="reader")[0]

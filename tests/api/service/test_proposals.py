"""Officers decide what a later run found: an accepted recovery is one journal entry and a notice; once only."""

from datetime import UTC, datetime

from sqlalchemy import insert, select

from matcher.db.models import benefit_journal, benefits, ledger_proposals, notices
from matcher.ledger import BenefitKey, JournalEntry, move
from tests.api.service.conftest import notice_of


def _paid_with_proposal(engine, notice, action: str) -> int:
    key = BenefitKey.of(notice)
    with engine.begin() as connection:
        for entry in (JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
            move(connection, key, entry, actor="test", reason="paid by the test", ref="t", at=datetime.now(UTC))
        return connection.execute(
            insert(ledger_proposals)
            .values(uscc=key.uscc, policy_id=key.policy_id, period_key=key.period_key, action=action,
                    run_id="r" * 32, reason="paid 10.00 yuan, but ...", reason_zh="已拨付……", status="open",
                    created_at=datetime.now(UTC))
            .returning(ledger_proposals.c.id)
        ).scalar_one()  # fmt: skip


def test_proposal_when_accepted_recovers_the_benefit_once_with_the_finding_and_the_note(client, engine, tokens):
    granted = notice_of(engine, "granted")
    proposal = _paid_with_proposal(engine, granted, "recover")
    officer = tokens.headers("officer")
    (listed,) = client.get("/ledger/proposals", headers=officer).json()
    assert listed["id"] == proposal and listed["action"] == "recover"
    done = client.post(
        f"/ledger/proposals/{proposal}/accept", json={"note": "经核实，授予前已列入失信名单"}, headers=officer
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "accepted" and done.json()["decided_by"].startswith("officer:")
    with engine.connect() as connection:
        ledger = connection.execute(select(benefits.c.status, benefits.c.amount_fen, benefits.c.paid_fen).where(
            benefits.c.uscc == granted.uscc, benefits.c.policy_id == granted.policy_id)).one()  # fmt: skip
        last = connection.execute(
            select(benefit_journal).where(benefit_journal.c.uscc == granted.uscc).order_by(benefit_journal.c.id.desc())
        ).first()
        told = connection.execute(
            select(notices.c.kind).where(notices.c.uscc == granted.uscc, notices.c.kind == "revoked")
        ).all()
    assert tuple(ledger) == ("cancelled", 0, 0)
    assert last.entry == "recovered" and last.paid_fen == -granted.amount_fen
    assert "paid 10.00 yuan" in last.reason and "经核实，授予前已列入失信名单" in last.reason
    assert len(told) == 1
    again = client.post(f"/ledger/proposals/{proposal}/accept", json={"note": "再次处理一次"}, headers=officer)
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    assert client.get("/ledger/proposals", headers=officer).json() == []


def test_proposal_when_dismissed_leaves_the_ledger_as_it_was(client, engine, tokens):
    granted = notice_of(engine, "granted")
    proposal = _paid_with_proposal(engine, granted, "recover")
    done = client.post(
        f"/ledger/proposals/{proposal}/dismiss", json={"note": "复核后仍符合条件"}, headers=tokens.headers("officer")
    )
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    with engine.connect() as connection:
        status = connection.execute(select(benefits.c.status).where(
            benefits.c.uscc == granted.uscc, benefits.c.policy_id == granted.policy_id)).scalar_one()  # fmt: skip
    assert status == "paid"

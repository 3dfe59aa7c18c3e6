"""One current decision per benefit: a later run that changes an amount replaces the earlier decision and notice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from api.service.tokens import issue_token
from matcher.db.keys import same_benefit
from matcher.db.models import benefit_journal, benefits, notices
from matcher.delivery import moot
from matcher.run import run_matching
from policies.load import load_policy_text

P03 = Path(__file__).resolve().parents[3] / "policies/catalogue/p03-priority-group-hiring-tax-deduction.yaml"
P03_ID = "priority-group-hiring-tax-deduction"
LATER = date(2025, 9, 30)  # the same yearly period (2025) as the first run


def _halved(repository):
    text = P03.read_text("utf-8").replace('amount: "6000"', 'amount: "3000"').replace("version: 1", "version: 2")
    compiled, _ = load_policy_text(text, "p03-v2.yaml")
    return [p for p in repository.in_force(LATER) if p.id != compiled.id] + [compiled]


def test_decisions_when_a_later_run_changes_the_amount_show_one_current_decision_and_confirm_takes_it(
    client, engine, checked, repository, matched
):
    with engine.connect() as connection:
        first = connection.execute(
            select(notices).where(notices.c.policy_id == P03_ID, notices.c.kind == "awaiting_confirmation")
        ).first()
    assert first is not None, "the test registry has an enterprise awaiting confirmation of P3"
    run_matching(engine, checked, LATER, _halved(repository))
    with engine.connect() as connection:
        second = connection.execute(
            select(notices).where(
                notices.c.uscc == first.uscc, notices.c.policy_id == first.policy_id, notices.c.id != first.id
            )
        ).one()
        assert connection.execute(select(moot()).select_from(notices).where(notices.c.id == first.id)).scalar()
    assert second.amount_fen == first.amount_fen // 2 and second.topic == str(second.amount_fen)

    token = issue_token(engine, role="enterprise", uscc=first.uscc, name="p3 firm")[0]
    headers = {"Authorization": f"Bearer {token}"}
    mine = [
        d
        for d in client.get(f"/enterprises/{first.uscc}/decisions", headers=headers).json()
        if d["policy_id"] == first.policy_id
    ]
    assert [(d["amount_fen"], d["notice_id"]) for d in mine] == [(second.amount_fen, second.id)]
    history = client.get(f"/enterprises/{first.uscc}/decisions?history=true", headers=headers).json()
    assert sorted(d["amount_fen"] for d in history if d["policy_id"] == first.policy_id) == sorted(
        [second.amount_fen, first.amount_fen]
    )

    stale = client.post(f"/enterprises/{first.uscc}/notices/{first.id}/confirm", headers=headers)
    assert stale.status_code == 409 and stale.json()["replaced_by"] == second.id
    done = client.post(f"/enterprises/{first.uscc}/notices/{second.id}/confirm", headers=headers)
    assert done.status_code == 200, done.text
    with engine.connect() as connection:
        assert connection.execute(select(benefits.c.amount_fen).where(same_benefit(first))).scalar_one() == (
            second.amount_fen
        )
        entry = connection.execute(
            select(benefit_journal.c.entry, benefit_journal.c.amount_after_fen).where(
                benefit_journal.c.uscc == first.uscc, benefit_journal.c.policy_id == first.policy_id
            )
        ).one()
    assert tuple(entry) == ("confirmed", second.amount_fen)

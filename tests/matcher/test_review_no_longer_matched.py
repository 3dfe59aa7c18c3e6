"""A later run that no longer matches an enterprise whose benefit is already in the ledger.

The run decides nothing for a benefit in the ledger (it judges it in its ledger review), so whether such a
benefit is "no longer matched" is the review's word: a proposal to cancel it (unpaid) or recover it (paid),
for an officer. Nothing moves by itself; the decision is flagged and its notice is not sent.
"""

from datetime import UTC, datetime

from sqlalchemy import select

from matcher.db.keys import no_longer_matched
from matcher.db.models import decisions, ledger_proposals, notices, runs
from matcher.delivery import moot
from matcher.ledger import BenefitKey, JournalEntry, move
from matcher.run import run_matching
from tests.matcher.test_review import FIRST, LATER, _ledger, _policies, registry  # noqa: F401


def test_review_when_a_later_run_no_longer_matches_the_enterprise_proposes_cancel_or_recovery_and_flags_it(
    engine,
    registry,  # noqa: F811
    tmp_path,
):
    first = run_matching(engine, registry, FIRST, _policies(tmp_path, "v1", amount=1000, months=12))
    granted = sorted(_ledger(engine))
    paid = set(granted[::2])  # every other benefit paid out before the later run
    with engine.begin() as connection:
        for key in paid:
            for entry in (JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
                move(connection, BenefitKey(*key), entry, actor="test", reason="paid", ref="t", at=datetime.now(UTC))
    before = {k: (b.status, b.amount_fen, b.paid_fen) for k, b in _ledger(engine).items()}

    # Stricter: many still qualify, some are not even nearly eligible any more (left out of the later run).
    later = run_matching(engine, registry, LATER, _policies(tmp_path, "v2", amount=1000, months=36))
    with engine.connect() as connection:
        proposed = {
            (p.uscc, p.policy_id, p.period_key): p.action
            for p in connection.execute(select(ledger_proposals).where(ledger_proposals.c.run_id == later.run_id))
        }
        flagged = {
            (d.uscc, d.policy_id, d.period_key)
            for d in connection.execute(
                select(decisions)
                .join(runs, runs.c.id == decisions.c.run_id)
                .where(decisions.c.run_id == first.run_id, no_longer_matched(decisions.c, runs.c))
            )
        }
        decided_later = set(
            connection.execute(
                select(decisions.c.uscc, decisions.c.policy_id, decisions.c.period_key).where(
                    decisions.c.run_id == later.run_id
                )
            ).all()
        )
        first_notices = connection.execute(
            select(notices.c.uscc, notices.c.policy_id, notices.c.period_key, moot().label("moot")).where(
                notices.c.run_id == first.run_id, notices.c.kind == "granted"
            )
        ).all()

    left_out = set(proposed)
    assert 0 < len(left_out) < len(granted)  # the case at hand: the later run grants others, not these
    assert decided_later, "the later run decided the policy and period for some enterprise"
    assert not left_out & decided_later
    # Each benefit the later run left out: cancelling proposed if unpaid, recovery if paid; nothing moved.
    assert proposed == {k: "recover" if k in paid else "cancel" for k in left_out}
    assert {"recover", "cancel"} <= set(proposed.values())
    assert {k: (b.status, b.amount_fen, b.paid_fen) for k, b in _ledger(engine).items()} == before
    # The same benefits, and only those, are "no longer matched": those still granted are not.
    assert {k for k in flagged if k in before} == left_out
    # Their grant notices are not sent; the others' are.
    assert {(n.uscc, n.policy_id, n.period_key) for n in first_notices if n.moot} == left_out

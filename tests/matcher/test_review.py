"""A later run judges the benefits already in the ledger: it adjusts an unpaid amount, and proposes the rest."""

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import event, select

from api.web.texts import yuan
from features.synthetic import generate
from matcher.db.models import benefit_journal, benefits, ledger_proposals, notices
from matcher.delivery import moot
from matcher.ledger import BenefitKey, JournalEntry, grant_decided, move
from matcher.ledger.review import review_ledger
from matcher.run import run_matching
from tests.matcher.test_decide import catalogue

FIRST, LATER, LATEST = date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31)  # one "once" period


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    out = tmp_path_factory.mktemp("review") / "registry"
    generate(out, enterprises=300, seed=9)
    return out


def _policies(tmp_path, name: str, **spec):
    folder = tmp_path / name
    folder.mkdir()
    return catalogue(folder, {"id": "a", **spec})


def _ledger(engine):
    with engine.connect() as connection:
        return {(r.uscc, r.policy_id, r.period_key): r for r in connection.execute(select(benefits)).all()}


def test_review_when_a_later_run_prices_an_unpaid_benefit_differently_adjusts_it_and_tells_the_enterprise(
    engine, registry, tmp_path
):
    run_matching(engine, registry, FIRST, _policies(tmp_path, "v1", amount=1000))
    granted = _ledger(engine)
    assert granted and all(b.amount_fen == 100_000 for b in granted.values())
    summary = run_matching(engine, registry, LATER, _policies(tmp_path, "v2", amount=2000))
    # Every benefit still eligible on the later data is adjusted; one that is not is left to an officer.
    now = _ledger(engine)
    adjusted = {k for k in granted if now[k].amount_fen == 200_000 and now[k].status == "granted"}
    assert summary.counts["adjusted"] == len(adjusted) > len(granted) * 0.9
    assert summary.counts["proposed"] == len(granted) - len(adjusted)
    with engine.connect() as connection:
        entries = connection.execute(
            select(benefit_journal.c.entry, benefit_journal.c.actor, benefit_journal.c.reason).where(
                benefit_journal.c.entry == "adjusted"
            )
        ).all()
        told = connection.execute(select(notices).where(notices.c.kind == "corrected")).all()
        old = connection.execute(select(notices.c.id).where(notices.c.kind == "granted")).scalars().all()
        stale = connection.execute(select(moot()).select_from(notices).where(notices.c.id.in_(old))).scalars().all()
    assert len(entries) == len(adjusted)
    assert entries[0].actor == f"run:{summary.run_id}" and "give 2,000 yuan (was 1,000)" in entries[0].reason
    assert {(t.uscc, t.amount_fen) for t in told} == {(k[0], 200_000) for k in adjusted}
    # the grants announcing 1000 yuan are never posted now, nor those the later run proposes to cancel
    assert sum(stale) == len(adjusted) + summary.counts["proposed"]


def test_review_when_the_rules_no_longer_grant_proposes_recovery_or_cancellation_and_changes_nothing(
    engine, registry, tmp_path
):
    run_matching(engine, registry, FIRST, _policies(tmp_path, "v1", amount=1000))
    granted = _ledger(engine)
    paid_key = BenefitKey(*sorted(granted)[0])
    with engine.begin() as connection:
        for entry in (JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
            move(connection, paid_key, entry, actor="test", reason="paid by the test", ref="t", at=datetime.now(UTC))
    before = {k: (b.status, b.amount_fen, b.paid_fen) for k, b in _ledger(engine).items()}

    nobody = _policies(tmp_path, "v2", amount=1000, months=1000)  # nobody qualifies any more
    summary = run_matching(engine, registry, LATER, nobody)
    assert summary.counts["proposed"] == len(granted) and summary.counts["adjusted"] == 0
    assert {k: (b.status, b.amount_fen, b.paid_fen) for k, b in _ledger(engine).items()} == before
    with engine.connect() as connection:
        found = {(p.uscc, p.action): p for p in connection.execute(select(ledger_proposals)).all()}
    recover = found[(paid_key.uscc, "recover")]
    assert recover.status == "open" and recover.run_id == summary.run_id
    assert (
        recover.reason
        == "paid 1,000 yuan, but the registry data as of 2025-09-30 no longer meet the policy's conditions"
    )
    assert recover.reason_zh == "已拨付 1,000 元，但按 2025-09-30 的共享数据已不符合政策条件"
    assert {a for (_, a) in found} == {"recover", "cancel"} and len(found) == len(granted)

    run_matching(engine, registry, LATEST, nobody)  # a later run again: no second open proposal
    with engine.connect() as connection:
        assert len(connection.execute(select(ledger_proposals)).all()) == len(granted)


def test_review_when_a_paid_benefit_is_now_owed_more_proposes_the_top_up(engine, registry, tmp_path):
    run_matching(engine, registry, FIRST, _policies(tmp_path, "v1", amount=1000))
    key = BenefitKey(*sorted(_ledger(engine))[0])
    with engine.begin() as connection:
        for entry in (JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
            move(connection, key, entry, actor="test", reason="paid by the test", ref="t", at=datetime.now(UTC))
    run_matching(engine, registry, LATER, _policies(tmp_path, "v2", amount=1500))
    with engine.connect() as connection:
        (top_up,) = connection.execute(select(ledger_proposals).where(ledger_proposals.c.action == "top_up")).all()
    assert (top_up.uscc, top_up.amount_fen) == (key.uscc, 50_000)
    assert top_up.reason == "paid 1,000 yuan; the registry data as of 2025-09-30 give 1,500 yuan"
    assert _ledger(engine)[(key.uscc, key.policy_id, key.period_key)].status == "paid"  # nothing moved by itself


def test_review_of_5000_changed_amounts_runs_a_bounded_number_of_statements_one_entry_and_notice_each(engine):
    """Set-based: the statements a review runs do not grow with the amounts it changes (one entry, one
    ``corrected`` notice per benefit all the same); a benefit paid or repriced meanwhile is left alone."""
    n, at = 5_000, datetime(2025, 10, 1, 8, tzinfo=UTC)
    granted = pl.DataFrame(
        {
            "uscc": [f"91440300{i:09d}X" for i in range(n)],
            "policy_id": "a",
            "policy_version": 1,
            "period_key": "once",
            "amount_fen": [100_000 + i for i in range(n)],
        }
    )
    grant_decided(engine, granted, "first", FIRST.isoformat(), at)
    paid, repriced = BenefitKey(granted["uscc"][0], "a", "once"), BenefitKey(granted["uscc"][1], "a", "once")
    with engine.connect() as connection:
        prior = pl.DataFrame(
            connection.execute(
                select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key, benefits.c.amount_fen,
                       benefits.c.status, benefits.c.paid_fen)
            ).all(),
            orient="row",
            schema=["uscc", "policy_id", "period_key", "amount_fen", "status", "paid_fen"],
        )  # fmt: skip
    with engine.begin() as connection:  # after the run read the ledger: paid, and repriced by an officer
        for entry in (JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
            move(connection, paid, entry, actor="test", reason="paid by the test", ref="t", at=at)
        move(connection, repriced, JournalEntry.ADJUSTED, actor="officer:o", reason="r", ref="c", amount_fen=7, at=at)
    standing = granted.select("uscc", "policy_id", "period_key", eligible_now=pl.lit(True),
                              amount_now_fen=pl.col("amount_fen") * 2)  # fmt: skip

    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 (before_cursor_execute's statement)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        counts = review_ledger(engine, "second", LATER, standing, prior, [], at)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert counts["adjusted"] == n - 2
    assert len(statements) <= 12, statements  # measured: 6 on SQLite, 8 on PostgreSQL

    ledger = _ledger(engine)
    with engine.connect() as connection:
        entries = connection.execute(select(benefit_journal).where(benefit_journal.c.ref == "second")).all()
        told = connection.execute(select(notices).where(notices.c.kind == "corrected")).all()
    expected = {(u, a * 2) for u, a in granted.select("uscc", "amount_fen").iter_rows()} - {
        (paid.uscc, 200_000),
        (repriced.uscc, 200_002),
    }
    assert {(k[0], b.amount_fen) for k, b in ledger.items() if b.status == "granted" and b.amount_fen > 7} == expected
    assert {(e.uscc, e.amount_after_fen) for e in entries} == expected and len(entries) == n - 2
    assert all(e.entry == "adjusted" and e.actor == "run:second" and e.status_before == e.status_after == "granted"
               and e.amount_before_fen * 2 == e.amount_after_fen for e in entries)  # fmt: skip
    assert entries[0].reason == (
        f"the registry data as of {LATER} give {yuan(entries[0].amount_after_fen, 'zh')[:-2]} yuan"
        f" (was {yuan(entries[0].amount_before_fen, 'zh')[:-2]})"
    )
    assert {(t.uscc, t.amount_fen) for t in told} == expected
    assert all(t.topic == "run:second" and t.run_id == "first" and t.delivery_status == "pending" for t in told)
    key = (paid.uscc, "a", "once")
    assert (ledger[key].status, ledger[key].amount_fen) == ("paid", 100_000)  # paid meanwhile: not adjusted
    assert ledger[(repriced.uscc, "a", "once")].amount_fen == 7  # repriced meanwhile: the officer's amount stands

"""A run's grants (matcher.ledger.grants): a first pass copies the journal entries from the frame; a pass resumed
after a kill finds them in the ledger; both leave the same ledger, each benefit with exactly one entry."""

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import func, select

from matcher.db.models import benefit_journal, benefits
from matcher.ledger import grants
from matcher.ledger.grants import grant_decided

AT = datetime(2025, 7, 1, 8, tzinfo=UTC)
GRANTED = pl.DataFrame(
    {
        "uscc": [f"91440300{i:09d}X" for i in (5, 2, 8, 1, 9, 3)],
        "policy_id": ["big", "big", "big", "small", "small", "big"],
        "policy_version": 1,
        "period_key": "once",
        "amount_fen": [150_000_000, 20_000, 30_005, 7, 1_000, 999],
    }
)
TOP_UPS = pl.DataFrame(
    {"uscc": ["91440300000000005X"], "policy_id": ["big"], "period_key": ["once"],
     "over_policy_id": ["small"], "over_fen": [50_000_000]}
)  # fmt: skip


def _ledger(engine) -> tuple[list, list]:
    columns = [c for c in benefit_journal.c if c.name != "id"]
    with engine.connect() as connection:
        journal = connection.execute(select(*columns).order_by(*columns[:3])).all()
        ledger = connection.execute(
            select(benefits.c.uscc, benefits.c.policy_id, benefits.c.amount_fen, benefits.c.status).order_by(
                benefits.c.uscc, benefits.c.policy_id
            )
        ).all()
    return ledger, journal


def test_grant_on_a_first_pass_writes_each_benefit_and_its_entry_with_the_top_up_reason(engine):
    grant_decided(engine, GRANTED, "run1", "2025-06-30", AT, top_ups=TOP_UPS)
    ledger, journal = _ledger(engine)
    assert len(ledger) == len(journal) == GRANTED.height
    entries = {(e.uscc, e.policy_id): e for e in journal}
    top_up = entries["91440300000000005X", "big"]
    assert top_up.amount_after_fen == 150_000_000 and top_up.amount_before_fen == 0 and top_up.paid_fen == 0
    assert "top-up (补差)" in top_up.reason and "500,000 yuan" in top_up.reason and "'small'" in top_up.reason
    plain = entries["91440300000000001X", "small"]
    assert plain.reason == "decided by the published rules as of 2025-06-30"
    assert (plain.entry, plain.status_before, plain.status_after, plain.actor, plain.ref, plain.amount_after_fen) == (
        "granted", None, "granted", "run:run1", "run1", 7
    )  # fmt: skip


@pytest.mark.parametrize("partial", [False, True])
def test_grant_killed_after_the_benefits_and_rerun_leaves_the_ledger_of_an_uninterrupted_pass(
    engine, database_url, tmp_path, monkeypatch, partial
):
    grant_decided(engine, GRANTED, "run1", "2025-06-30", AT, top_ups=TOP_UPS, partial=partial)
    uninterrupted = _ledger(engine)
    with engine.begin() as connection:
        connection.execute(benefit_journal.delete())
        connection.execute(benefits.delete())

    real = grants.insert_missing

    def killed_before_the_journal(engine_, table, rows, **kw):
        if table is benefit_journal:
            raise KeyboardInterrupt("killed")
        return real(engine_, table, rows, **kw)

    monkeypatch.setattr(grants, "insert_missing", killed_before_the_journal)
    with pytest.raises(KeyboardInterrupt):
        grant_decided(engine, GRANTED, "run1", "2025-06-30", AT, top_ups=TOP_UPS, partial=partial)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(benefit_journal)).scalar() == 0
    monkeypatch.setattr(grants, "insert_missing", real)

    grant_decided(engine, GRANTED, "run1", "2025-06-30", AT, top_ups=TOP_UPS, partial=partial)  # the rerun
    assert _ledger(engine) == uninterrupted
    grant_decided(engine, GRANTED, "run1", "2025-06-30", AT, top_ups=TOP_UPS, partial=partial)  # and once more
    assert _ledger(engine) == uninterrupted

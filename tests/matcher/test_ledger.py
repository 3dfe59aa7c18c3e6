"""The ledger: one module changes a benefit, every change a journal entry, balances the sum of the journal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

from matcher.db.models import benefit_journal, benefits
from matcher.errors import IllegalMove
from matcher.ledger import BenefitKey, BenefitStatus, JournalEntry, current, move
from matcher.ledger.moves import MOVES

ROOT = Path(__file__).resolve().parents[2]
LEDGER_TABLES = {"benefits", "benefit_journal"}
_WRITES = {"insert", "update", "delete", "insert_missing"}


def _writes_to_ledger(tree: ast.AST) -> list[int]:
    """Lines of ``tree`` that write a ledger table: insert/update/delete(table), table.insert(), raw SQL."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            names = {a.id for a in node.args if isinstance(a, ast.Name)}
            if name in _WRITES and names & LEDGER_TABLES:
                lines.append(node.lineno)
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in _WRITES
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in LEDGER_TABLES
            ):
                lines.append(node.lineno)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.lower().split())
            if any(f"{verb} {t}" in text for t in LEDGER_TABLES for verb in ("insert into", "update", "delete from")):
                lines.append(node.lineno)
    return lines


def test_ledger_when_the_code_is_read_only_the_ledger_package_writes_benefits():
    found = {}
    for package in ("api", "matcher", "features", "policies"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(("matcher/ledger/", "matcher/db/migrations/")):
                continue
            lines = _writes_to_ledger(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                found[relative] = lines
    assert found == {}, f"only matcher/ledger may write the benefit ledger; found writes in {found}"


def test_ledger_check_when_it_sees_a_write_finds_it():
    # The reader above must be able to fail: each shape of write it looks for, found.
    code = "insert(benefits)\nupdate(benefit_journal).values()\nbenefits.delete()\nx('UPDATE  benefits SET a=1')\n"
    assert sorted(_writes_to_ledger(ast.parse(code))) == [1, 2, 3, 4]


KEY = BenefitKey("91440300MA5G00000X", "p1", "2025")


def _move(connection, entry, amount=None, ref="t"):
    return move(connection, KEY, entry, actor="test", reason="because", ref=ref, amount_fen=amount, policy_version=1,
                run_id="r")  # fmt: skip


def test_move_when_illegal_is_refused_with_the_status_and_what_is_allowed(engine):
    with engine.begin() as connection:
        _move(connection, JournalEntry.GRANTED, 100_00)
        _move(connection, JournalEntry.MADE_PAYABLE)
        _move(connection, JournalEntry.BATCHED)
    refused = r"cannot record 'cancelled' for benefit .*: it is in_batch; 'cancelled' applies only to a benefit"
    with (
        pytest.raises(IllegalMove, match=refused + " that is granted, held, payable, payment_failed"),
        engine.begin() as c,
    ):
        _move(c, JournalEntry.CANCELLED)
    with engine.connect() as connection:  # refused whole: nothing changed, nothing journaled
        assert current(connection, KEY).status == BenefitStatus.IN_BATCH
        assert connection.execute(select(func.count()).select_from(benefit_journal)).scalar_one() == 3


def test_move_when_paid_twice_is_refused(engine):
    with engine.begin() as connection:
        for entry in (JournalEntry.GRANTED, JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
            _move(connection, entry, 500_00)
        assert current(connection, KEY).paid_fen == 500_00
    with pytest.raises(IllegalMove), engine.begin() as connection:
        _move(connection, JournalEntry.PAID, ref="again")


class LedgerMachine(RuleBasedStateMachine):
    """Any sequence of entries on a few benefits: legal ones apply, illegal ones change nothing, and the
    balances always equal the sums of the journal."""

    engine = None  # set by the test

    @initialize()
    def start(self):
        self.refs = 0
        with self.engine.begin() as connection:
            connection.execute(benefit_journal.delete())
            connection.execute(benefits.delete())

    @rule(
        which=st.sampled_from(["p1", "p2"]),
        entry=st.sampled_from(list(JournalEntry)),
        amount=st.integers(0, 10_000_00),
    )
    def apply(self, which, entry, amount):
        key = BenefitKey("91440300MA5G00000X", which, "2025")
        self.refs += 1
        with self.engine.connect() as connection:
            before = current(connection, key)
        status = None if before is None else BenefitStatus(before.status)
        legal = status in MOVES[entry].sources
        try:
            with self.engine.begin() as connection:
                change = move(connection, key, entry, actor="machine", reason="random", ref=f"r{self.refs}",
                              amount_fen=amount, policy_version=1, run_id="r")  # fmt: skip
        except IllegalMove:
            assert not legal, f"{entry} refused from {status}"
            with self.engine.connect() as connection:
                after = current(connection, key)
            assert (after is None and before is None) or tuple(after) == tuple(before)
            return
        assert legal, f"{entry} accepted from {status}"
        assert change.status_before == status
        if MOVES[entry].pays and MOVES[entry].owed == "keep":
            assert change.paid_fen == change.amount_after_fen - (before.paid_fen if before else 0)

    @invariant()
    def balances_are_the_sums_of_the_journal(self):
        with self.engine.connect() as connection:
            sums = dict(
                connection.execute(
                    select(
                        benefit_journal.c.policy_id,
                        func.sum(benefit_journal.c.amount_after_fen - benefit_journal.c.amount_before_fen),
                    ).group_by(benefit_journal.c.policy_id)
                ).all()
            )
            paid = dict(
                connection.execute(
                    select(benefit_journal.c.policy_id, func.sum(benefit_journal.c.paid_fen)).group_by(
                        benefit_journal.c.policy_id
                    )
                ).all()
            )
            for row in connection.execute(select(benefits)).all():
                assert row.amount_fen == sums[row.policy_id]
                assert row.paid_fen == paid[row.policy_id]
                assert 0 <= row.paid_fen <= row.amount_fen, row  # never paid more than is owed, nor back more
                if row.status == BenefitStatus.PAID:
                    assert row.paid_fen == row.amount_fen  # paid in full, once


def test_ledger_when_driven_by_any_sequence_of_entries_keeps_its_balances(engine):
    LedgerMachine.engine = engine
    runner = LedgerMachine.TestCase
    runner.settings = settings(
        max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner().runTest()


def test_move_when_it_would_owe_less_than_was_paid_is_refused(engine):
    with engine.begin() as connection:
        for entry in (JournalEntry.GRANTED, JournalEntry.MADE_PAYABLE, JournalEntry.BATCHED, JournalEntry.PAID):
            _move(connection, entry, 1000_00)
        _move(connection, JournalEntry.TOP_UP, 1, ref="top")  # paid 1000.00, now owed 1000.01
    with pytest.raises(IllegalMove, match=r"1000\.00 yuan of it was paid already"), engine.begin() as connection:
        _move(connection, JournalEntry.CANCELLED, ref="cancel")
    with engine.connect() as connection:
        row = current(connection, KEY)
    assert (row.status, row.amount_fen, row.paid_fen) == ("payable", 1000_01, 1000_00)

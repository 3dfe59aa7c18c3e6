"""Amounts that cannot be paid never become decisions, and the database refuses them whatever the path."""

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from api.web.texts import yuan
from features.synthetic import generate
from matcher.amounts import MAX_AMOUNT_FEN, yuan_text
from matcher.db.models import benefits, decisions, notices, runs
from matcher.decide import decide
from matcher.run import run_matching
from tests.matcher.test_decide import AS_OF, catalogue, profiles, statuses


def test_decide_when_a_computed_amount_is_negative_reports_it_and_decides_nothing(tmp_path):
    policies = catalogue(tmp_path, {"id": "a", "amount": "1000 - ui_paid_months * 100"})
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}, {"uscc": "E2", "ui_paid_months": 12}), policies, AS_OF)
    assert statuses(got) == {}  # both would be paid a negative amount: neither is decided
    assert got.counts["amount_error"] == 2
    error = got.amount_errors["a"]
    assert error["enterprises"] == 2 and error["reasons"] == ["negative"]
    assert error["examples"] == [{"uscc": "E1", "amount_yuan": -1400.0}, {"uscc": "E2", "amount_yuan": -200.0}]


def test_decide_when_an_amount_divides_by_zero_reports_it_instead_of_asking_for_data(tmp_path):
    policies = catalogue(tmp_path, {"id": "a", "amount": "1000 / (ui_paid_months - 24)"})
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}, {"uscc": "E2", "ui_paid_months": 34}), policies, AS_OF)
    # E1: 1000 / 0 — every fact is known, so it is the rule's mistake, not data to ask the enterprise for.
    assert statuses(got) == {("E2", "a"): "granted"}
    assert got.amount_errors["a"]["enterprises"] == 1
    assert "division by zero" in got.amount_errors["a"]["reasons"][0]
    assert got.decisions["amount_fen"].to_list() == [10_000]


def test_decide_when_an_amount_fact_is_missing_still_asks_for_it(tmp_path):
    policies = catalogue(tmp_path, {"id": "a", "amount": "ui_paid_last_year * 60%"})
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), policies, AS_OF)
    assert statuses(got) == {("E1", "a"): "needs_data"}
    assert got.decisions["unknown_facts"].to_list() == ["ui_paid_last_year"]
    assert got.amount_errors == {}


def test_decide_when_an_amount_is_over_the_ceiling_or_not_finite_reports_it(tmp_path):
    policies = catalogue(
        tmp_path,
        {"id": "huge", "amount": "ui_paid_months * 1000000000"},
        {
            "id": "inf",
            "amount": "ui_paid_months * 1000000000000000 * 1000000000000000 * 1000000000000000"
            " * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000"
            " * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000"
            " * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000"
            " * 1000000000000000 * 1000000000000000 * 1000000000000000 * 1000000000000000",
        },
    )
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), policies, AS_OF)
    assert statuses(got) == {}
    assert got.amount_errors["huge"]["reasons"] == ["over the ceiling of 1,000,000,000 yuan"]
    assert got.amount_errors["inf"]["reasons"][0] == "not a finite number"
    assert got.amount_errors["inf"]["examples"] == [{"uscc": "E1", "amount_yuan": None}]


def test_run_when_a_policy_computes_negative_amounts_records_the_error_and_writes_no_such_benefit(engine, tmp_path):
    registry = tmp_path / "registry"
    generate(registry, enterprises=300, seed=3)
    policies = catalogue(tmp_path, {"id": "a", "amount": "1000 - ui_paid_months * 1000", "months": 2})
    summary = run_matching(engine, registry, AS_OF, policies)
    assert summary.counts["amount_error"] > 0 and summary.counts["granted"] == 0
    with engine.connect() as connection:
        assert connection.execute(select(benefits.c.amount_fen)).all() == []
        stored = connection.execute(select(runs.c.amount_errors)).scalar_one()
    assert stored["a"]["enterprises"] == summary.counts["amount_error"]
    assert stored["a"]["reasons"] == ["negative"]


_ROWS = {
    "benefits": lambda amount: dict(
        uscc="91440300MA5G00000X", policy_id="p", policy_version=1, period_key="once", amount_fen=amount,
        status="granted", run_id="r", granted_at=datetime.now(UTC),
    ),
    "decisions": lambda amount: dict(
        run_id="r", uscc="91440300MA5G00000X", policy_id="p", policy_version=1, period_key="once",
        status="granted", amount_fen=amount, amount_full_fen=0, facts="{}",
    ),
    "notices": lambda amount: dict(
        uscc="91440300MA5G00000X", policy_id="p", policy_version=1, period_key="once", kind="granted",
        run_id="r", amount_fen=amount, delivery_status="pending", attempts=0, created_at=datetime.now(UTC),
    ),
}  # fmt: skip


@pytest.mark.parametrize("table", [benefits, decisions, notices], ids=lambda t: t.name)
@pytest.mark.parametrize("amount", [-1, MAX_AMOUNT_FEN + 1])
def test_database_when_an_amount_is_negative_or_absurd_refuses_it(engine, table, amount):
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(table).values(**_ROWS[table.name](amount)))
    with engine.begin() as connection:  # the edge values themselves are fine
        connection.execute(insert(table).values(**_ROWS[table.name](MAX_AMOUNT_FEN)))
        assert connection.execute(select(table.c.amount_fen)).scalars().all() == [MAX_AMOUNT_FEN]


@given(st.lists(st.one_of(st.integers(-MAX_AMOUNT_FEN, MAX_AMOUNT_FEN), st.integers(-(10**16), 10**16)), max_size=50))
def test_yuan_text_writes_each_amount_as_the_pages_show_it(fen):
    """A notice's text, a proposal's reason and a journal entry's say an amount as the enterprise's and the officer's
    pages do (12,000 元 / 7,995.01 元): one number in one form wherever a person reads it."""
    written = pl.select(yuan_text(pl.Series(fen, dtype=pl.Int64))).to_series().to_list()
    assert [f"{w} 元" for w in written] == [yuan(f, "zh") for f in fen]

"""Bulk writes (matcher.db.bulk): rows in the unique key's order, and whether a write was a first one."""

import polars as pl
from sqlalchemy import select

from matcher.db.bulk import insert_missing
from matcher.db.models import decisions

RUN = "r" * 32


def _decisions(usccs: list[str], policies: list[str]) -> pl.DataFrame:
    """One decision per enterprise and policy, policy by policy as ``decide`` emits them."""
    return pl.DataFrame(
        [
            {"uscc": u, "policy_id": p, "policy_version": 1, "period_key": "2025", "status": "granted",
             "amount_fen": 100, "facts": "{}", "run_id": RUN}
            for p in policies
            for u in usccs
        ]
    )  # fmt: skip


def test_insert_missing_writes_rows_in_key_order_keeping_an_enterprises_own_order(engine):
    """Within a chunk ids follow the USCC (the unique key's order), and an enterprise's decisions keep the order
    the run gave them (not the policies' alphabetical order): the service lists an enterprise's decisions by id."""
    usccs = [f"91440300{i:09d}X" for i in (7, 3, 9, 1, 5, 8, 2, 6, 4, 0)]
    policies = ["zeta", "alpha", "mu"]
    insert_missing(engine, decisions, _decisions(usccs, policies))  # one chunk: chunks at once interleave ids
    with engine.connect() as connection:
        got = connection.execute(select(decisions.c.uscc, decisions.c.policy_id).order_by(decisions.c.id)).all()
    assert [u for u, _ in got] == sorted(u for u in usccs for _ in policies)
    assert [p for _, p in got[:3]] == policies


def test_insert_missing_says_whether_every_row_was_new_and_writes_only_the_missing(engine):
    usccs = [f"91440300{i:09d}X" for i in range(12)]
    rows = _decisions(usccs, ["a", "b"])
    assert insert_missing(engine, decisions, rows.head(5), chunk_rows=4) is True  # a first write
    assert insert_missing(engine, decisions, rows, chunk_rows=4) is False  # resumed: 5 of them were there
    assert insert_missing(engine, decisions, rows.head(0)) is True
    with engine.connect() as connection:
        count = len(connection.execute(select(decisions.c.id)).all())
    assert count == rows.height


def test_insert_missing_on_a_fresh_table_then_again_changes_nothing(engine):
    rows = _decisions([f"91440300{i:09d}X" for i in range(30)], ["a"]).with_columns(
        amount_fen=pl.int_range(pl.len(), dtype=pl.Int64)
    )
    insert_missing(engine, decisions, rows, chunk_rows=8)
    with engine.connect() as connection:
        before = connection.execute(select(decisions).order_by(decisions.c.id)).all()
    assert insert_missing(engine, decisions, rows.reverse(), chunk_rows=8) is False
    with engine.connect() as connection:
        assert connection.execute(select(decisions).order_by(decisions.c.id)).all() == before
    assert len(before) == 30  # every row once

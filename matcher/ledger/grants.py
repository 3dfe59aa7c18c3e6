"""A run's grants, in bulk: ledger rows and their journal entries, safe to repeat after a crash.

The benefits are written by ``insert_missing`` (a key granted before is
skipped). When every one of them was new (a first pass: nothing of this run,
nor any earlier grant of these keys, was there), their ``granted`` journal
entries are ``COPY``ed from the same frame: each benefit just written needs
exactly its entry. Otherwise (a rerun after a kill, or keys granted before)
the entries come from the ledger itself, in one ``INSERT … SELECT`` per run
(or per partition of it): every benefit this run holds that has no journal
entry yet gets its ``granted`` entry. A rerun after a kill at any point thus
completes the journal without writing an entry twice, and a benefit that
entered the ledger another way (a confirmation) is never claimed as the run's.

A grant that tops up an earlier, lower award of the same exclusive group
(``top_up`` groups: 补差) owes the difference; its journal entry says so,
naming the award it tops up and the amount already granted under it.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import Column, Engine, MetaData, Select, String, Table, and_, exists, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite

from matcher.amounts import yuan_text
from matcher.db.bulk import CHUNK_ROWS, insert_missing, key_order, write_missing
from matcher.db.models import benefit_journal, benefits
from matcher.ledger.statuses import BenefitStatus, JournalEntry

__all__ = ["grant_decided"]

_JOURNAL_COLUMNS = ["uscc", "policy_id", "period_key", "entry", "status_before", "status_after"]
_JOURNAL_COLUMNS += ["amount_before_fen", "amount_after_fen", "paid_fen", "actor", "reason", "ref", "at"]
# One partition's granted keys, for the time of its journal insert (a temporary table: the connection's own).
_KEY = ("uscc", "policy_id", "period_key")
_KEYS = Table(
    "_granted_keys",
    MetaData(),
    *(Column(name, String) for name in _KEY),
    prefixes=["TEMPORARY"],
)


def _decided(as_of: str) -> str:
    return f"decided by the published rules as of {as_of}"


def _top_up_reason(as_of: str) -> pl.Expr:
    """Why a top-up's entry owes less than its award: one text for the COPY and the INSERT … SELECT paths."""
    over_fen = pl.col("over_fen")
    yuan = yuan_text(over_fen)
    return pl.format(
        "top-up (补差) decided by the published rules as of {}: the award less the {} yuan already granted"
        " under '{}' (same exclusive group)",
        pl.lit(as_of),
        yuan,
        pl.col("over_policy_id"),
    )


def _granted_entries(
    granted: pl.DataFrame, run_id: str, as_of: str, at: datetime, top_ups: pl.DataFrame | None
) -> pl.DataFrame:
    """The ``granted`` journal entries of ``granted``, as the ``INSERT … SELECT`` of ``grant_decided`` makes them."""
    reason = pl.lit(_decided(as_of))
    if top_ups is not None and top_ups.height:
        over = top_ups.select(*_KEY, "over_policy_id", "over_fen").unique(_KEY, keep="first")
        granted = granted.join(over, on=list(_KEY), how="left", maintain_order="left")
        reason = pl.when(pl.col("over_fen").is_not_null()).then(_top_up_reason(as_of)).otherwise(reason)
    return granted.select(
        *_KEY,
        entry=pl.lit(str(JournalEntry.GRANTED)),
        status_before=pl.lit(None, pl.String),
        status_after=pl.lit(str(BenefitStatus.GRANTED)),
        amount_before_fen=pl.lit(0, pl.Int64),
        amount_after_fen=pl.col("amount_fen"),
        paid_fen=pl.lit(0, pl.Int64),
        actor=pl.lit(f"run:{run_id}"),
        reason=reason,
        ref=pl.lit(run_id),
        at=pl.lit(at),
    )


def grant_decided(
    engine: Engine,
    granted: pl.DataFrame,
    run_id: str,
    as_of: str,
    at: datetime,
    *,
    chunk_rows: int = CHUNK_ROWS,
    top_ups: pl.DataFrame | None = None,
    partial: bool = False,
) -> None:
    """Enter ``granted`` (uscc, policy_id, policy_version, period_key, amount_fen) in the ledger for run ``run_id``.

    ``top_ups`` (uscc, policy_id, period_key, over_policy_id, over_fen): which of them top up an earlier award.
    ``partial``: ``granted`` is one partition of the run's grants; the journal entries are then looked for among
    its own benefits only, not among every benefit the run holds so far (which made a run in P partitions
    compare about P/2 times the run's benefits).
    """
    granted = key_order(benefits, granted)  # once, for the benefits and their journal entries
    rows = granted.select(
        "uscc",
        "policy_id",
        "policy_version",
        "period_key",
        "amount_fen",
        paid_fen=pl.lit(0, dtype=pl.Int64),
        status=pl.lit(str(BenefitStatus.GRANTED)),
        run_id=pl.lit(run_id),
        granted_at=pl.lit(at),
    )
    if insert_missing(engine, benefits, rows, chunk_rows=chunk_rows):
        # Every benefit just written needs its entry, and no other can: COPYed on both cores, where the
        # INSERT … SELECT below is one statement on one backend (17 s at a million benefits; docs/scale.md,
        # "Writes on PostgreSQL, measured").
        insert_missing(
            engine, benefit_journal, _granted_entries(granted, run_id, as_of, at, top_ups), chunk_rows=chunk_rows
        )
        return
    has_entry = exists().where(
        and_(
            benefit_journal.c.uscc == benefits.c.uscc,
            benefit_journal.c.policy_id == benefits.c.policy_id,
            benefit_journal.c.period_key == benefits.c.period_key,
        )
    )

    def entries(reason: str) -> Select:
        return select(
            benefits.c.uscc,
            benefits.c.policy_id,
            benefits.c.period_key,
            literal(str(JournalEntry.GRANTED)),
            null(),
            literal(str(BenefitStatus.GRANTED)),
            literal(0),
            benefits.c.amount_fen,
            literal(0),
            literal(f"run:{run_id}"),
            literal(reason),
            literal(run_id),
            literal(at),
        ).where(benefits.c.run_id == run_id, ~has_entry)

    # Partitions of one run granting at once (``--engine ray``) may both find a benefit of the other's without its
    # entry yet: the one that commits second skips it (the unique key on the entry), instead of failing.
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite

    def journal(select_: Select):
        return dialect.insert(benefit_journal).from_select(_JOURNAL_COLUMNS, select_).on_conflict_do_nothing()

    with engine.begin() as connection:
        scope = None
        if partial:
            _KEYS.create(connection)
            write_missing(connection, _KEYS, granted.select(_KEY))
            scope = exists().where(*(_KEYS.c[name] == benefits.c[name] for name in _KEY))
        if top_ups is not None:  # few rows: one statement each, each naming what it tops up
            reasons = top_ups.select(*_KEY, _top_up_reason(as_of).alias("reason"))
            for uscc, policy_id, key, reason in reasons.iter_rows():
                one = (benefits.c.uscc == uscc) & (benefits.c.policy_id == policy_id) & (benefits.c.period_key == key)
                connection.execute(journal(entries(reason).where(one)))
        every = entries(_decided(as_of))
        connection.execute(journal(every if scope is None else every.where(scope)))
        if partial:
            _KEYS.drop(connection)

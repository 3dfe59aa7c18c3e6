"""Bench only: `matcher.db.bulk.insert_missing` and `matcher.ledger.grants.grant_decided` as they were before the
issue 17 write changes (frame order, journal always by INSERT … SELECT … NOT EXISTS), for bench/writes.py."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

import polars as pl
from psycopg.errors import UniqueViolation
from sqlalchemy import Column, Connection, Engine, MetaData, Select, String, Table, and_, exists, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite

from matcher.db.models import benefit_journal, benefits
from matcher.ledger.statuses import BenefitStatus, JournalEntry

CHUNK_ROWS = 100_000

# SQLAlchemy's SQLite DateTime/Date storage format, so rows written here read back as datetimes and dates.
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.6f"


def _sqlite_rows(rows: pl.DataFrame) -> list[tuple]:
    casts = []
    for name, dtype in rows.schema.items():
        if isinstance(dtype, pl.Datetime):
            naive = (
                pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else pl.col(name)
            )
            casts.append(naive.dt.strftime(_SQLITE_DATETIME))
        elif dtype == pl.Date:
            casts.append(pl.col(name).dt.strftime("%Y-%m-%d"))
    return (rows.with_columns(casts) if casts else rows).rows()


def _write_sqlite(connection: Connection, table: Table, rows: pl.DataFrame) -> None:
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    marks = ", ".join("?" for _ in rows.columns)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING'
    connection.connection.driver_connection.executemany(sql, _sqlite_rows(rows))


def _copy(connection: Connection, target: str, columns: str, data: bytes) -> None:
    sql = f"COPY {target} ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        copy.write(data)


def _write_postgresql(connection: Connection, table: Table, rows: pl.DataFrame) -> None:
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    data = rows.write_csv(include_header=False, null_value=r"\N").encode()
    try:  # the common case, a first write: straight into the table, twice as fast as the detour below
        with connection.begin_nested():
            _copy(connection, f'"{table.name}"', columns, data)
        return
    except UniqueViolation:
        pass  # some rows are there already (a resumed run, a notice sent before): insert only the missing
    # A column-for-column copy of the target's types, without its constraints; gone at commit.
    connection.exec_driver_sql(
        f'CREATE TEMP TABLE _bulk ON COMMIT DROP AS SELECT {columns} FROM "{table.name}" WITH NO DATA'
    )
    _copy(connection, "_bulk", columns, data)
    connection.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM _bulk ON CONFLICT DO NOTHING'
    )


_WRITERS = {"sqlite": _write_sqlite, "postgresql": _write_postgresql}
# Chunks written at once: PostgreSQL's backends each take a core (the machine has two); SQLite has one writer.
WRITERS_AT_ONCE = {"sqlite": 1, "postgresql": 2}


def write_missing(connection: Connection, table: Table, rows: pl.DataFrame) -> None:
    """Insert ``rows`` missing from ``table`` inside the caller's transaction (at most once per transaction
    on PostgreSQL), so that they commit with whatever else the caller changes."""
    write = _WRITERS.get(connection.dialect.name)
    if write is None:
        raise ValueError(f"unsupported database {connection.dialect.name!r}: huiqi runs on SQLite or PostgreSQL")
    write(connection, table, rows)


def insert_missing(
    engine: Engine,
    table: Table,
    rows: pl.DataFrame,
    *,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Insert ``rows`` (columns named as the table's) chunk by chunk, one transaction per chunk.

    On PostgreSQL ``WRITERS_AT_ONCE`` chunks are written at once; the first error stops the writing (the chunks
    under way finish or roll back) and is raised. ``on_chunk`` gets each chunk's size once it is committed.
    """
    if _WRITERS.get(engine.dialect.name) is None:
        raise ValueError(f"unsupported database {engine.dialect.name!r}: huiqi runs on SQLite or PostgreSQL")
    unknown = set(rows.columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"columns {sorted(unknown)} are not in table {table.name!r}")

    def one(start: int) -> int:
        chunk = rows.slice(start, chunk_rows)
        with engine.begin() as connection:
            _WRITERS[engine.dialect.name](connection, table, chunk)  # looked up here: tests replace a writer
        return chunk.height

    def committed(done: set[Future[int]]) -> None:
        for future in done:
            height = future.result()  # a chunk's error, raised here, ends the writing
            if on_chunk:
                on_chunk(height)

    starts = range(0, rows.height, chunk_rows)
    at_once = min(WRITERS_AT_ONCE[engine.dialect.name], len(starts))
    if at_once <= 1:
        for start in starts:
            height = one(start)
            if on_chunk:
                on_chunk(height)
        return
    with ThreadPoolExecutor(at_once, thread_name_prefix=f"bulk-{table.name}") as pool:
        under_way: set[Future[int]] = set()
        for start in starts:
            if len(under_way) == at_once:
                done, under_way = wait(under_way, return_when=FIRST_COMPLETED)
                committed(done)
            under_way.add(pool.submit(one, start))
        committed(wait(under_way).done)


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
    insert_missing(engine, benefits, rows, chunk_rows=chunk_rows)
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
            for uscc, policy_id, key, over, over_fen in top_ups.select(
                "uscc", "policy_id", "period_key", "over_policy_id", "over_fen"
            ).iter_rows():
                reason = (
                    f"top-up (补差) decided by the published rules as of {as_of}: the award less the"
                    f" {over_fen // 100}.{over_fen % 100:02d} yuan already granted"
                    f" under '{over}' (same exclusive group)"
                )
                one = (benefits.c.uscc == uscc) & (benefits.c.policy_id == policy_id) & (benefits.c.period_key == key)
                connection.execute(journal(entries(reason).where(one)))
        every = entries(f"decided by the published rules as of {as_of}")
        connection.execute(journal(every if scope is None else every.where(scope)))
        if partial:
            _KEYS.drop(connection)

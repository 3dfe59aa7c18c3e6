"""Bulk writes that may be repeated: rows whose unique key already exists are skipped.

That is what makes a run safe to kill and rerun: each chunk commits on its
own, and a rerun writes the same rows again, of which only the missing land.

Millions of rows go through each database's fastest path, not the ORM:
PostgreSQL gets a chunk by ``COPY`` straight into the table, or, when some of
its rows exist already, by ``COPY`` into a temporary table and one
``INSERT … SELECT … ON CONFLICT DO NOTHING``; SQLite gets plain tuples through
the driver's ``executemany`` (SQLAlchemy's per-row parameter handling costs
more than SQLite's own insert).

The server's work per row (parsing, checks, three or four index entries) is
what a large write costs on PostgreSQL, not the client's: ``insert_missing``
writes two chunks at once there, each in its own transaction on its own
connection, so both cores work. Chunks of one frame hold distinct keys, so
the two never wait on each other's rows. SQLite has one writer: one chunk at
a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import polars as pl
from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, Engine, Table

__all__ = ["CHUNK_ROWS", "insert_missing", "write_missing"]

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

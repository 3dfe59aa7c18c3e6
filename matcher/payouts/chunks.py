"""A payout step's chunks, one transaction each, two at once on PostgreSQL; and frames read from a query.

PostgreSQL spends a chunk's time in one backend, on one core, while the client waits: two chunks at once
keep both cores of the machine busy (``matcher.db.bulk.each_at_once``, which ``insert_missing`` runs too).
Chunks touch disjoint benefits, items and notices, so they never wait on each other's rows, and each commits
or rolls back whole: a crash leaves any set of chunks committed, which a rerun completes (every move re-checks
the status it leaves). SQLite has one writer: one chunk at a time, in order.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import TypeVar

import polars as pl
from sqlalchemy import Connection, Engine, Select

from matcher.db.bulk import each_at_once

__all__ = ["each_chunk", "read_frame", "tune"]

T = TypeVar("T")

# Hash joins of a chunk (100,000 benefits against their items, answers or notices) need about 10 MB each; the
# server's default 4 MB spilled them to disk (EXPLAIN ANALYZE: "Batches: 5 … Disk Usage").
_WORK_MEM = "64MB"


def tune(connection: Connection) -> None:
    """Settings for one bulk transaction (``SET LOCAL``: gone at its end); nothing on SQLite.

    No nested loops: a chunk joins 100,000 rows to 100,000, but the statistics of a table written chunk by chunk
    do not know the latest chunk's lines, so the planner counted one row and probed an index 100,000 times
    (EXPLAIN ANALYZE of the third ``batched`` chunk: 97,000 probes where it estimated one)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL work_mem = '{_WORK_MEM}'")
        connection.exec_driver_sql("SET LOCAL enable_nestloop = off")


def each_chunk(
    engine: Engine,
    chunks: Iterable[T],
    work: Callable[[Connection, T], object],
    done: Callable[[], None],
) -> None:
    """``work(connection, chunk)`` for every chunk, each in a transaction of its own; ``done()`` after each commit
    (in this thread). The first error stops the work (the chunks under way finish or roll back) and is raised."""

    def one(chunk: T) -> None:
        with engine.begin() as connection:
            tune(connection)
            work(connection, chunk)

    each_at_once(engine, chunks, one, lambda _: done(), "payout-chunk")


def read_frame(connection: Connection, query: Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of ``query`` as a frame with ``schema`` (its columns, in order). PostgreSQL sends them by ``COPY …
    TO STDOUT`` (a million rows in about a second, against several through the driver's row objects)."""
    if connection.dialect.name != "postgresql":
        rows = connection.execute(query).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    compiled = query.compile(dialect=connection.dialect)
    sql = f"COPY ({compiled.string}) TO STDOUT (FORMAT csv, NULL '\\N')"
    buffer = io.BytesIO()
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(sql, compiled.params) as copy:
        for data in copy:
            buffer.write(data)
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, schema=schema, null_values="\\N", empty_string_is_null=False)

"""Bulk writes that may be repeated: rows whose unique key already exists are skipped.

That is what makes a run safe to kill and rerun: each chunk commits on its
own, and a rerun writes the same rows again, of which only the missing land.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["CHUNK_ROWS", "insert_missing"]

CHUNK_ROWS = 20_000


def _insert(engine: Engine, table: Table):
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(engine.dialect.name)
    if dialect is None:
        raise ValueError(f"unsupported database {engine.dialect.name!r}: huiqi runs on SQLite or PostgreSQL")
    return dialect.insert(table).on_conflict_do_nothing()


def insert_missing(
    engine: Engine,
    table: Table,
    rows: pl.DataFrame,
    *,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Insert ``rows`` (columns named as the table's) chunk by chunk, one transaction per chunk."""
    statement = _insert(engine, table)
    for start in range(0, rows.height, chunk_rows):
        chunk = rows.slice(start, chunk_rows)
        with engine.begin() as connection:
            connection.execute(statement, chunk.to_dicts())
        if on_chunk:
            on_chunk(chunk.height)

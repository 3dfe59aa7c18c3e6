"""The hottest reads, on one driver connection per process used only from the event loop's thread.

The enterprise decision list is most of the service's traffic. Through a pooled SQLAlchemy connection
its indexed lookup (well under a millisecond) pays about as much again for the pool checkout, the reset
on return and the result's row processing. Here SQLAlchemy still writes the SQL — each statement is
compiled once for the engine's dialect, with the column types' own bind and result processors — but it
runs on the driver directly, in autocommit (each read sees the latest commit, and no transaction is left
open between requests). Rows are plain tuples of the values SQLAlchemy would give.

Only ``async`` routes may use it, and only for one statement at a time: the event loop's thread is the
one thread that ever touches the connection, so it needs no lock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine.interfaces import DBAPIConnection

__all__ = ["LoopReader"]

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Prepared:
    statement: Select  # kept alive: the cache is keyed by its identity
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order, for drivers taking positional parameters
    binds: dict[str, Processor]
    results: tuple[Processor | None, ...]

    def parameters(self, params: dict[str, Any]) -> tuple | dict:
        values = {k: (self.binds[k](v) if k in self.binds else v) for k, v in params.items()}
        return values if self.positions is None else tuple(values[name] for name in self.positions)

    def row(self, raw: tuple) -> tuple:
        return tuple(v if f is None or v is None else f(v) for f, v in zip(self.results, raw, strict=True))


class LoopReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: DBAPIConnection | None = None
        self._prepared: dict[int, _Prepared] = {}

    def _prepare(self, statement: Select) -> _Prepared:
        prepared = self._prepared.get(id(statement))
        if prepared is None:
            dialect = self.engine.dialect
            compiled = statement.compile(dialect=dialect)
            if any(b.expanding for b in compiled.binds.values()):
                raise ValueError("LoopReader takes no expanding (IN-list) parameters")
            binds = {
                name: f
                for name, b in compiled.binds.items()
                if (f := b.type.dialect_impl(dialect).bind_processor(dialect))
            }
            results = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns
            )
            positions = tuple(compiled.positiontup) if compiled.positional else None
            prepared = self._prepared[id(statement)] = _Prepared(statement, compiled.string, positions, binds, results)
        return prepared

    def _connect(self) -> DBAPIConnection:
        if self._connection is None:
            pooled = self.engine.raw_connection()  # checked out for the life of the process
            if self.engine.dialect.name != "sqlite":  # pysqlite starts no transaction for a SELECT by itself
                pooled.rollback()  # end what the pool's ping began, then read outside transactions
                pooled.driver_connection.autocommit = True
            self._connection = pooled
        return self._connection

    def rows(self, statement: Select, params: dict[str, Any]) -> list[tuple]:
        """``statement``'s rows for ``params``: every bind parameter by name."""
        prepared = self._prepare(statement)
        driver_params = prepared.parameters(params)
        dialect = self.engine.dialect
        for attempt in (1, 2):
            connection = self._connect()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(prepared.sql, driver_params)
                    raw = cursor.fetchall()
                finally:
                    cursor.close()
            except dialect.loaded_dbapi.Error as exc:
                # A dropped connection (database restarted) is replaced once; any other error is the caller's.
                if attempt == 2 or not dialect.is_disconnect(exc, connection, None):
                    raise
                connection.invalidate()  # the pool forgets it; the next attempt opens a new one
                self._connection = None
            else:
                return [prepared.row(r) for r in raw] if any(prepared.results) else raw
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Hand the connection back to the pool as the pool lent it (not in autocommit)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with suppress(self.engine.dialect.loaded_dbapi.Error):  # already gone: nothing to hand back
                if self.engine.dialect.name != "sqlite":
                    connection.driver_connection.autocommit = False
                connection.close()

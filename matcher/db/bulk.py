"""Bulk writes that may be repeated: rows whose unique key already exists are skipped.

That is what makes a run safe to kill and rerun: each chunk commits on its
own, and a rerun writes the same rows again, of which only the missing land.

Millions of rows go through each database's fastest path, not the ORM:
PostgreSQL gets a chunk by ``COPY`` straight into the table, or, when some of
its rows exist already, by ``COPY`` into a temporary table and one
``INSERT … SELECT … ON CONFLICT DO NOTHING``. SQLite gets a large chunk as a
database image: ADBC's SQLite driver writes the Arrow columns into a file of
its own (no Python object per value), the run's connection loads its bytes as
an attached in-memory schema (``deserialize``) and inserts from there with one
``INSERT … SELECT``; a few rows go as plain tuples through ``executemany``.
Turning millions of values into Python tuples and binding them one by one cost
as much as SQLite's own inserts (bench/writes.py).

The server's work per row (parsing, checks, three or four index entries) is
what a large write costs on PostgreSQL, not the client's: ``insert_missing``
writes two chunks at once there, each in its own transaction on its own
connection, so both cores work. Chunks of one frame hold distinct keys, so
the two never wait on each other's rows. SQLite has one writer: one chunk at
a time.

A frame goes in the order of the table's unique key (sorted by its first
column, stably, so an enterprise's rows keep the frame's order, and their
ids within a chunk): in the frame's order (a run's: policy by policy,
enterprises in registry order) every row lands on a random page of that
index, and once the index is larger than the server's buffers (or SQLite's
page cache) each insert reads a page, dirties it and soon writes it again
(docs/scale.md, "Writes on PostgreSQL, measured").

Both writers say whether every row was new (``fresh``): a caller can then
write what follows from those rows directly, without looking for what a
killed earlier attempt may have written (``matcher.ledger.grants``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

import polars as pl
from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, Engine, Table, UniqueConstraint, event
from sqlalchemy.pool import Pool

from features.standards.uscc import uscc_arg_sort

__all__ = ["CHUNK_ROWS", "ahead", "each_at_once", "insert_missing", "key_order", "write_missing"]

T = TypeVar("T")
R = TypeVar("R")

CHUNK_ROWS = 100_000

# SQLAlchemy's SQLite DateTime/Date storage format, so rows written here read back as datetimes and dates.
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.6f"


# From this many rows a chunk reaches SQLite as a database image; fewer go as tuples (the image's file costs more).
IMAGE_ROWS = 1_000
_IMAGE_SCHEMA = "huiqi_bulk"  # the attached in-memory schema a chunk's image is loaded into, one per connection
_SCRATCH_PREFIX = "huiqi-bulk-"  # and the folder its file is written in, one per process: huiqi-bulk-<pid>-…
_SCRATCH: dict[int, Path] = {}


@event.listens_for(Pool, "checkin")
def _let_go_of_the_image(dbapi_connection, record) -> None:
    """A connection back in its pool lets go of the last chunk's image (tens of MB), its transaction over."""
    if record.info.pop(_IMAGE_SCHEMA, False) and dbapi_connection is not None:
        dbapi_connection.execute(f"DETACH DATABASE {_IMAGE_SCHEMA}")


def _sqlite_values(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` as SQLite stores them: datetimes and dates as SQLAlchemy writes them (so they read back as such),
    booleans and unsigned integers as integers, categories as text."""
    casts = []
    for name, dtype in rows.schema.items():
        if isinstance(dtype, pl.Datetime):
            naive = (
                pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else pl.col(name)
            )
            casts.append(naive.dt.strftime(_SQLITE_DATETIME))
        elif dtype == pl.Date:
            casts.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        elif dtype == pl.Boolean or dtype.is_unsigned_integer():
            casts.append(pl.col(name).cast(pl.Int64))
        elif isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.Null:
            casts.append(pl.col(name).cast(pl.String))
    return rows.with_columns(casts) if casts else rows


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _scratch() -> Path:
    """This process's folder for chunk images in the system's temporary folder (huiqi-bulk-<pid>-<random>, made
    by ``mkdtemp``: private to this user, a name no one can take first), removed when the process exits. A
    process killed while it wrote an image leaves its folder behind: the first image a later process makes
    removes this user's folders of processes that are gone (a recycled process id keeps one until that process
    ends too)."""
    pid = os.getpid()  # not cached across a fork: a child has a folder of its own
    if (mine := _SCRATCH.get(pid)) is not None:
        return mine
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{_SCRATCH_PREFIX}*-*"):
        other = folder.name.removeprefix(_SCRATCH_PREFIX).split("-", 1)[0]
        try:
            ours = folder.lstat()  # not a link's target: a link is never followed, nor removed
        except OSError:
            continue
        if stat.S_ISDIR(ours.st_mode) and ours.st_uid == os.getuid() and other.isdigit() and not _alive(int(other)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = _SCRATCH[pid] = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{pid}-", dir=root))
    atexit.register(lambda: os.getpid() == pid and shutil.rmtree(mine, ignore_errors=True))
    return mine


def _image(rows: pl.DataFrame) -> bytes:
    """The bytes of a SQLite database holding ``rows`` as table ``rows``, written from Arrow by ADBC's SQLite driver.
    That driver carries its own copy of SQLite: it opens only this file, which the run's connections never open
    (two copies of SQLite holding one file in one process could release each other's locks)."""
    import adbc_driver_sqlite.dbapi as adbc

    handle, path = tempfile.mkstemp(suffix=".db", dir=_scratch())
    os.close(handle)  # SQLite takes an empty file for a new database
    try:
        with adbc.connect(path) as connection:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode=OFF")  # a scratch file: read once, then removed
                cursor.adbc_ingest("rows", _sqlite_values(rows).to_arrow(), mode="create")
            connection.commit()
        with open(path, "rb") as file:
            return file.read()
    finally:
        os.unlink(path)


def key_order(table: Table, rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` sorted by the first column of ``table``'s unique key, stably (the frame's order within it); as they
    are when already sorted, so a caller writing two tables of one key sorts once."""
    keys = sorted((c for c in table.constraints if isinstance(c, UniqueConstraint)), key=lambda c: str(c.name))
    for key in [*keys, table.primary_key]:
        lead = next(iter(key.columns), None)
        if lead is not None and lead.name in rows.columns:
            if rows[lead.name].is_sorted():
                return rows
            if lead.name == "uscc":  # as numbers: a third of the time of sorting the text
                return rows[uscc_arg_sort(rows["uscc"])]
            # One thread: polars' parallel sort of strings takes 2.5 times the CPU for the same result.
            return rows.sort(lead.name, maintain_order=True, multithreaded=False)
    return rows


def _write_sqlite(connection: Connection, table: Table, rows: pl.DataFrame, image: bytes | None = None) -> bool:
    """``image``: ``rows``' database image when made already (``insert_missing`` makes the next while this writes)."""
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    driver = connection.connection.driver_connection
    before = driver.total_changes
    if image is not None or rows.height >= IMAGE_ROWS:
        image = image if image is not None else _image(rows)
        if not connection.connection.info.get(_IMAGE_SCHEMA):
            driver.execute(f"ATTACH DATABASE ':memory:' AS {_IMAGE_SCHEMA}")  # detached when the pool takes it back
            connection.connection.info[_IMAGE_SCHEMA] = True
        driver.deserialize(image, name=_IMAGE_SCHEMA)
        # WHERE true: without it SQLite would read ON CONFLICT as part of the SELECT's join.
        driver.execute(
            f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM {_IMAGE_SCHEMA}."rows" WHERE true'
            " ON CONFLICT DO NOTHING"
        )
    else:
        marks = ", ".join("?" for _ in rows.columns)
        sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING'
        driver.executemany(sql, _sqlite_values(rows).rows())
    return driver.total_changes - before == rows.height


def _copy(connection: Connection, target: str, columns: str, data: bytes) -> None:
    sql = f"COPY {target} ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        copy.write(data)


def _write_postgresql(connection: Connection, table: Table, rows: pl.DataFrame) -> bool:
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    data = rows.write_csv(include_header=False, null_value=r"\N").encode()
    try:  # the common case, a first write: straight into the table, twice as fast as the detour below
        with connection.begin_nested():
            _copy(connection, f'"{table.name}"', columns, data)
        return True
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
    return False


_WRITERS = {"sqlite": _write_sqlite, "postgresql": _write_postgresql}
# Chunks written at once: PostgreSQL's backends each take a core (the machine has two); SQLite has one writer.
WRITERS_AT_ONCE = {"sqlite": 1, "postgresql": 2}


def ahead(work: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
    """(item, ``work(item)``) for each of ``items`` in order, the next item's work done in a thread while the caller
    uses this one's: for work that leaves Python's lock (polars, Arrow, a driver's C code)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ahead") as pool:
        coming = pool.submit(work, items[0]) if items else None
        for i, item in enumerate(items):
            done = coming.result()
            coming = pool.submit(work, items[i + 1]) if i + 1 < len(items) else None
            yield item, done


def each_at_once(
    engine: Engine,
    chunks: Iterable[T],
    one: Callable[[T], R],
    committed: Callable[[R], None],
    name: str = "chunk",
) -> None:
    """``one(chunk)`` for every chunk (each its own transaction), ``WRITERS_AT_ONCE`` at a time; ``committed`` gets
    each result in this thread, as it comes. The first error stops the work (the chunks under way finish or roll
    back) and is raised. The bulk writes and the payout steps share it."""
    at_once = WRITERS_AT_ONCE.get(engine.dialect.name, 1)
    if at_once <= 1:
        for chunk in chunks:
            committed(one(chunk))
        return
    with ThreadPoolExecutor(at_once, thread_name_prefix=name) as pool:
        under_way: set[Future[R]] = set()
        for chunk in chunks:
            if len(under_way) == at_once:
                done, under_way = wait(under_way, return_when=FIRST_COMPLETED)
                for future in done:
                    committed(future.result())  # a chunk's error, raised here, ends the work
            under_way.add(pool.submit(one, chunk))
        for future in wait(under_way).done:
            committed(future.result())


def write_missing(connection: Connection, table: Table, rows: pl.DataFrame) -> bool:
    """Insert ``rows`` missing from ``table`` inside the caller's transaction (at most once per transaction
    on PostgreSQL), so that they commit with whatever else the caller changes. True when every row was new."""
    write = _WRITERS.get(connection.dialect.name)
    if write is None:
        raise ValueError(f"unsupported database {connection.dialect.name!r}: huiqi runs on SQLite or PostgreSQL")
    return write(connection, table, rows)


def insert_missing(
    engine: Engine,
    table: Table,
    rows: pl.DataFrame,
    *,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> bool:
    """Insert ``rows`` (columns named as the table's) chunk by chunk, one transaction per chunk; True when every
    row was new (none of them was in the table before: a first write, not a resumed one).

    On PostgreSQL ``WRITERS_AT_ONCE`` chunks are written at once; the first error stops the writing (the chunks
    under way finish or roll back) and is raised. ``on_chunk`` gets each chunk's size once it is committed.
    """
    if _WRITERS.get(engine.dialect.name) is None:
        raise ValueError(f"unsupported database {engine.dialect.name!r}: huiqi runs on SQLite or PostgreSQL")
    unknown = set(rows.columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"columns {sorted(unknown)} are not in table {table.name!r}")

    rows, fresh = key_order(table, rows), True

    def one(start: int, image: bytes | None = None) -> int:
        chunk = rows.slice(start, chunk_rows)
        with engine.begin() as connection:
            write = _WRITERS[engine.dialect.name]  # looked up here: tests replace a writer
            new = write(connection, table, chunk) if image is None else write(connection, table, chunk, image)
        return chunk.height if new else -chunk.height

    def committed(height: int) -> None:
        nonlocal fresh
        fresh = fresh and height >= 0
        if on_chunk:
            on_chunk(abs(height))

    starts = range(0, rows.height, chunk_rows)
    if engine.dialect.name == "sqlite":  # one writer: the next chunk's image is made while this one is inserted

        def image(start: int) -> bytes | None:
            chunk = rows.slice(start, chunk_rows)
            return _image(chunk) if chunk.height >= IMAGE_ROWS else None

        each_at_once(engine, ahead(image, starts), lambda made: one(*made), committed, f"bulk-{table.name}")
    else:
        each_at_once(engine, starts, one, committed, f"bulk-{table.name}")
    return fresh

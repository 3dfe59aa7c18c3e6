"""Engines and migrations. The URL comes from the caller (settings), never from here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:  # Alembic is imported where the schema is migrated, not by every user of an engine
    from alembic.config import Config

__all__ = ["DatabaseUnavailable", "connect", "make_engine", "open_database", "upgrade"]


class DatabaseUnavailable(Exception):
    """The database could not be opened; the message says which one, the driver's reason, and what to check."""


MIGRATIONS = Path(__file__).parent / "migrations"
# SQLite's words when the file or its folder cannot be written (read-only, permissions, not a file).
_CANNOT_WRITE = ("readonly", "unable to open database file", "disk I/O error")


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None in memory or for a ``file:`` URI (its options belong to SQLite)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        file = _sqlite_file(url)
        if file is not None:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(
                    f"cannot create the folder {file.parent} for the database {file}: {exc.strerror or exc}; "
                    "choose a folder you can write with HUIQI_DATA_DIR, or a database with HUIQI_DATABASE_URL"
                ) from exc
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the run's writes
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` with Alembic (the only way tables are made).

    ``heads``: every branch of the migration history, so features developed side
    by side may each add a revision on the same parent.
    """
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def open_database(url: str) -> Engine:
    """An engine on ``url`` with its schema brought up to date: what every entry point starts with."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip()
        if engine.dialect.name == "sqlite" and any(word in reason for word in _CANNOT_WRITE):
            # SQLite writes the file and, beside it, its -wal and -shm files: the folder must be writable too.
            raise DatabaseUnavailable(
                f"cannot write the database {shown}: {reason}; make the file and its folder writable, or set"
                " HUIQI_DATA_DIR (or HUIQI_DATABASE_URL) to a place you can write"
            ) from exc
        raise DatabaseUnavailable(
            f"cannot open the database {shown}: {reason}; check HUIQI_DATABASE_URL"
            " (and that the database server is running)"
        ) from exc
    return engine


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        yield connection

"""Engines and migrations. The URL comes from the caller (settings), never from here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

__all__ = ["connect", "make_engine", "open_database", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
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
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def open_database(url: str) -> Engine:
    """An engine on ``url`` with its schema brought up to date: what every entry point starts with."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        yield connection

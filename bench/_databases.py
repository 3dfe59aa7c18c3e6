"""A fresh PostgreSQL schema per benchmark run, shared by the benchmarks that measure both databases."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgresql_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema for one run, dropped afterwards: (url that uses it, cleanup)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop

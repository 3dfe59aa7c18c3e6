"""Shared fixtures. Database tests get a fresh, migrated database each: SQLite by
default, PostgreSQL (a schema of its own per test) when HUIQI_TEST_DATABASE_URL is set."""

import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# Tests import their shared builders as `tests.factories`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.db import make_engine, upgrade


@pytest.fixture
def database_url(tmp_path):
    url = os.environ.get("HUIQI_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'huiqi.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"  # each test its own schema: tests never see each other's rows
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()

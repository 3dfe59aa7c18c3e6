"""A fresh, migrated database per test: SQLite by default, PostgreSQL when HUIQI_TEST_DATABASE_URL is set."""

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

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

"""Shared fixtures. Database tests get a fresh, migrated database each: SQLite by
default, PostgreSQL when HUIQI_TEST_DATABASE_URL is set.

Migrating takes seconds, so each test process (each pytest-xdist worker) migrates one template database once
and every test's `engine` starts from a copy of it: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL. A test that asks for `database_url` alone gets an empty database (a schema of its own on
PostgreSQL) and migrates it itself, as the commands do.
"""

import os
import sqlite3
import sys
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

# Tests import their shared builders as `tests.factories`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.db import make_engine, upgrade

# Under pytest-xdist (`--dist loadgroup`), tests go to the workers one by one, except tests whose data is built
# once for many tests: those of a package whose session fixtures are costly go to one worker together, and those
# using a module-scoped fixture go with their file; so each such fixture is built once, not once per worker.
_BUILT_ONCE = ("matcher/ranking/", "web/")
_SHARED_SCOPES = {"module": "file", "class": "file", "package": "package"}


def _group(item: pytest.Item, root: Path) -> str | None:
    where = item.path.resolve().relative_to(root).as_posix()
    package = next((p for p in _BUILT_ONCE if where.startswith(p)), None)
    if package is not None:
        return package
    scopes = {_SHARED_SCOPES.get(d[-1].scope) for d in item._fixtureinfo.name2fixturedefs.values()}
    if "package" in scopes:
        return str(Path(where).parent)
    return where if "file" in scopes else None


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).resolve().parent
    for item in items:
        group = _group(item, root)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def _admin(url: str):
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """A database migrated once for this test process: a SQLite file, or a PostgreSQL template database."""
    url = os.environ.get("HUIQI_TEST_DATABASE_URL")
    if not url:
        path = tmp_path_factory.mktemp("template") / "huiqi.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield path
        return
    name = f"huiqi_template_{uuid.uuid4().hex[:12]}"
    admin = _admin(url)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()
    with admin.connect() as connection:  # nobody connects to it again: copying needs it idle
        connection.execute(text(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"))
    yield name
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def database_url(request, tmp_path):
    """A database for this test alone; already migrated when the test also asks for `engine`."""
    url = os.environ.get("HUIQI_TEST_DATABASE_URL")
    migrated = "engine" in request.fixturenames
    if not url:
        path = tmp_path / "huiqi.db"
        if migrated:
            template = request.getfixturevalue("migrated_template")
            with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
                source.backup(copy)
        yield f"sqlite:///{path}"
        return
    admin = _admin(url)
    if migrated:
        name = f"huiqi_test_{uuid.uuid4().hex[:12]}"  # each test its own database: tests never see each other's rows
        template = request.getfixturevalue("migrated_template")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY WAL_LOG"))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"  # each test its own schema: tests never see each other's rows
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)  # `database_url` made it a copy of the migrated template
    yield engine
    engine.dispose()

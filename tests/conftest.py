"""Shared fixtures. Database tests get a fresh, migrated database each: SQLite by
default, PostgreSQL when HUIQI_TEST_DATABASE_URL is set.

Migrating takes seconds, so each test process (each pytest-xdist worker) migrates one template database once
and every test's `engine` starts from a copy of it: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL. A test that asks for `database_url` alone gets an empty database (a schema of its own on
PostgreSQL) and migrates it itself, as the commands do.

A test whose data takes a costly step to build on top of the schema (a matching run) asks for a template of its
own through `derived_templates`: built once per test process, then copied for each test exactly like the migrated
one, so every test still starts from its own database and never sees another test's writes.
"""

import os
import sqlite3
import sys
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

# Tests import their shared builders as `tests.factories`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Cache the project's and the tests' compiled modules even where PYTHONDONTWRITEBYTECODE is set (this machine
# sets it): otherwise every xdist worker and every `huiqi` subprocess a test starts compiles them all again, seconds of
# CPU each. The caches are __pycache__ folders, ignored by git; Python checks them against the source.
sys.dont_write_bytecode = False

from matcher.db import make_engine, upgrade  # noqa: E402 (after the line above, so it is cached too)

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


@contextmanager
def postgresql_database(url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A database of its own on the server at ``url`` (a copy of ``template`` when given), dropped after: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin(url)
    copy = f" TEMPLATE {template} STRATEGY WAL_LOG" if template else ""
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}{copy}"))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


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


def _sqlite_copy(source_path: Path, path: Path) -> None:
    with closing(sqlite3.connect(source_path)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)


class DerivedTemplates:
    """Template databases built once per test process by a costly step on a copy of the migrated template.

    ``get(key, build)`` returns ``(template, result)``: on first use of ``key`` it copies the migrated template,
    runs ``build(engine)`` on the copy and keeps what it returns; later uses only look it up. A test reaches the
    template through a fixture named ``*_template`` that returns ``(template, result)``; `database_url` then gives
    that test its own copy of it instead of the bare migrated schema.
    """

    def __init__(self, url: str | None, base, folder: Path) -> None:
        self.url, self.base, self.folder = url, base, folder
        self.built: dict[Hashable, tuple[Any, Any, tuple]] = {}

    def get(self, key: Hashable, build: Callable[[Engine], Any], keep: tuple = ()) -> tuple[Any, Any]:
        """``keep``: the objects ``key`` names by id, held here so that no other object can take their id."""
        if key not in self.built:
            self.built[key] = (*self._build(build), keep)
        template, result, _ = self.built[key]
        return template, result

    def _build(self, build: Callable[[Engine], Any]) -> tuple[Any, Any]:
        if not self.url:
            path = self.folder / f"derived_{len(self.built)}.db"
            _sqlite_copy(self.base, path)
            engine = make_engine(f"sqlite:///{path}")
            try:
                return path, build(engine)
            finally:
                engine.dispose()
        name = f"huiqi_template_{uuid.uuid4().hex[:12]}"
        admin = _admin(self.url)
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {self.base} STRATEGY WAL_LOG"))
        engine = make_engine(make_url(self.url).set(database=name).render_as_string(hide_password=False))
        try:
            result = build(engine)
        finally:
            engine.dispose()
        with admin.connect() as connection:  # idle from now on, as copying needs
            connection.execute(text(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"))
        admin.dispose()
        return name, result

    def drop(self) -> None:
        if not self.url:
            return  # the files go with pytest's temporary folder
        admin = _admin(self.url)
        with admin.connect() as connection:
            for template, _, _ in self.built.values():
                connection.execute(text(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def derived_templates(migrated_template, tmp_path_factory):
    templates = DerivedTemplates(
        os.environ.get("HUIQI_TEST_DATABASE_URL"), migrated_template, tmp_path_factory.mktemp("derived")
    )
    yield templates
    templates.drop()


def _template(request):
    """The template this test's database copies: a derived one when the test asks for a ``*_template`` fixture."""
    derived = [name for name in request.fixturenames if name.endswith("_template") and name != "migrated_template"]
    if len(derived) > 1:
        raise pytest.UsageError(f"{request.node.nodeid}: one derived template per test, found {derived}")
    if derived:
        return request.getfixturevalue(derived[0])[0]
    return request.getfixturevalue("migrated_template")


@pytest.fixture
def database_url(request, tmp_path):
    """A database for this test alone; already migrated (or a copy of a derived template) when the test also asks
    for `engine`."""
    url = os.environ.get("HUIQI_TEST_DATABASE_URL")
    migrated = "engine" in request.fixturenames
    if not url:
        path = tmp_path / "huiqi.db"
        if migrated:
            _sqlite_copy(_template(request), path)
        yield f"sqlite:///{path}"
        return
    if migrated:  # each test its own database: tests never see each other's rows
        with postgresql_database(url, "huiqi_test", _template(request)) as own:
            yield own
        return
    admin = _admin(url)
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

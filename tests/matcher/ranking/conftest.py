"""Shared, built once per session: a small registry, feedback simulated over three as-of dates, and a
model store holding a good model (champion) and a deliberately bad one (trained on shuffled labels).

The databases follow the suite's rule: SQLite by default, a PostgreSQL schema of their own when
HUIQI_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from api.service.attested_lists import import_generated_lists
from api.service.tokens import Principal
from features.synthetic import generate
from features.synthetic.generate import LISTS
from matcher.db import make_engine, upgrade
from matcher.ranking.registry import ModelStore
from matcher.ranking.simulate import SimulationReport, as_of_dates, simulate
from matcher.ranking.train import TrainingReport, train
from policies.load import load_catalogue

DATES = as_of_dates(date(2024, 6, 1), date(2025, 6, 30), every_months=6)  # 2024-06-30, 2024-12-31, 2025-06-30


@contextmanager
def fresh_database(directory: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated database of its own (as the suite's `database_url` fixture, usable several times)."""
    url = os.environ.get("HUIQI_TEST_DATABASE_URL")
    admin, schema = None, None
    if url:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{directory / f'huiqi-{uuid.uuid4().hex[:6]}.db'}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


@dataclass
class Simulated:
    registry: Path
    url: str
    engine: Engine
    report: SimulationReport


@dataclass
class Trained:
    store: ModelStore
    good: TrainingReport
    bad: TrainingReport


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ranking-registry")
    generate(out, enterprises=3_000, seed=11)
    return out


@pytest.fixture(scope="session")
def simulated(registry, tmp_path_factory) -> Iterator[Simulated]:
    with fresh_database(tmp_path_factory.mktemp("ranking-db")) as (url, engine):
        # As `huiqi demo`: the departments' complete lists first, so P1 pays all but the listed firms.
        import_generated_lists(engine, Principal.operator("test"), registry / LISTS, max(DATES))
        report = simulate(engine, registry, DATES, load_catalogue().in_force, seed=7)
        yield Simulated(registry, url, engine, report)


@pytest.fixture(scope="session")
def empty_store_db(tmp_path_factory) -> Path:
    """An MLflow store with its tables made once (making them takes seconds); tests copy it."""
    root = tmp_path_factory.mktemp("mlflow-template")
    ModelStore(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts").create()
    return root / "mlflow.db"


def new_store(template: Path, directory: Path) -> ModelStore:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, directory / "mlflow.db")
    return ModelStore(f"sqlite:///{directory / 'mlflow.db'}", directory / "artifacts")


@pytest.fixture
def store(empty_store_db, tmp_path) -> ModelStore:
    """A fresh, empty MLflow store for one test."""
    return new_store(empty_store_db, tmp_path / "mlflow")


@pytest.fixture(scope="session")
def trained(simulated, empty_store_db, tmp_path_factory) -> Trained:
    store = new_store(empty_store_db, tmp_path_factory.mktemp("mlflow"))
    good = train(simulated.engine, store)
    bad = train(simulated.engine, store, shuffle_labels=True)
    return Trained(store, good, bad)

"""The service against the `engine` fixture's database (SQLite, or PostgreSQL with HUIQI_TEST_DATABASE_URL),
with a small synthetic registry matched once per test process and copied for each test."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.service import create_app
from api.service.tokens import issue_token
from api.settings import Settings
from features.profiles import build_profiles
from features.profiles.store import ProfileInfo, write_profiles
from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.db.models import notices
from matcher.run import run_matching
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
ENTERPRISES = 300


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    out = tmp_path_factory.mktemp("service") / "registry"
    generate(out, enterprises=ENTERPRISES, seed=5)
    return out


@pytest.fixture(scope="session")
def checked(registry):
    return check_registry(registry)


@pytest.fixture(scope="session")
def profiles_file(checked, tmp_path_factory):
    path = tmp_path_factory.mktemp("profiles") / "profiles.parquet"
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
    write_profiles(profiles, path, ProfileInfo(AS_OF, checked.fingerprint))
    return path


@pytest.fixture(scope="session")
def repository():
    return load_catalogue()


@pytest.fixture
def settings(tmp_path, registry, profiles_file):
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry").symlink_to(registry, target_is_directory=True)
    shutil.copy(profiles_file, data / "profiles.parquet")
    return Settings(data_dir=data, database_url="sqlite:///unused-the-engine-fixture-is-used")


@pytest.fixture
def app(settings, engine, repository):
    service = create_app(settings, engine=engine, repository=repository)
    yield service
    service.state.service.runner.shutdown()  # runs and trainings started by a test finish before its database goes
    service.state.service.trainer.shutdown()


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def matched_template(derived_templates, checked, repository):
    """A database after one run as of AS_OF with this test's registry and catalogue, built once per test process.

    Safe to share: `database_url` copies it for each test (a file copy, or a PostgreSQL template), so a test's
    writes reach its own copy only; the run is the one each test would make (same registry, catalogue and date).
    Keyed by the objects themselves, so a module that brings its own catalogue gets a run of its own."""
    return derived_templates.get(
        ("matched", id(checked), id(repository)),
        lambda engine: run_matching(engine, checked, AS_OF, repository.in_force(AS_OF)),
        keep=(checked, repository),
    )


@pytest.fixture
def matched(matched_template, engine):
    """The database after one run as of AS_OF with the repository catalogue (the engine's copy of the template)."""
    return matched_template[1]


def notice_of(engine, kind: str):
    with engine.connect() as connection:
        return connection.execute(select(notices).where(notices.c.kind == kind).order_by(notices.c.id)).first()


class Tokens(dict):
    """role → bearer token; 'enterprise' acts for ``uscc``, 'other' for another enterprise."""

    uscc: str
    other_uscc: str

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self[role]}"}


@pytest.fixture
def tokens(engine, matched) -> Tokens:
    """One token per role; the enterprise is one with a notice awaiting confirmation."""
    uscc = notice_of(engine, "awaiting_confirmation").uscc
    with engine.connect() as connection:
        other = connection.execute(
            select(notices.c.uscc).where(notices.c.uscc != uscc).order_by(notices.c.id).limit(1)
        ).scalar_one()
    out = Tokens()
    out.uscc, out.other_uscc = uscc, other
    for role in ("officer", "analyst", "admin"):
        out[role] = issue_token(engine, role=role, name=f"test {role}")[0]
    out["enterprise"] = issue_token(engine, role="enterprise", uscc=uscc, name="test enterprise")[0]
    out["other"] = issue_token(engine, role="enterprise", uscc=other, name="other enterprise")[0]
    return out

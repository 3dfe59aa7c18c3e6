"""One service for the web tests: a small synthetic registry matched once, served by uvicorn on a free local
port (the real ASGI server, cookies and redirects included), with a token per role. Its database is a SQLite
file, or a PostgreSQL database of its own when HUIQI_TEST_DATABASE_URL is set (as every other test's)."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from api.service import create_app
from api.service.tokens import issue_token
from api.settings import Settings
from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.db import make_engine, upgrade
from matcher.db.models import notices
from matcher.run import run_matching
from policies.load import load_catalogue
from tests.conftest import postgresql_database

AS_OF = date(2025, 6, 30)

# The browser every page test drives: Debian's Chromium (Playwright never downloads one here).
CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes say: without the background-networking flags Chromium keeps calling Google's hosts.
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
IN_A_BROWSER = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"),
]


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:  # Playwright gives it a fresh empty profile
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield browser
        browser.close()


ENTERPRISES = 200


@dataclass
class Site:
    base: str
    settings: Settings
    engine: object
    tokens: dict[str, str]
    uscc: str  # has a notice awaiting confirmation
    other_uscc: str
    needs_data_uscc: str | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first(engine, kind: str, not_uscc: str | None = None) -> str | None:
    query = select(notices.c.uscc).where(notices.c.kind == kind).order_by(notices.c.id).limit(1)
    if not_uscc:
        query = query.where(notices.c.uscc != not_uscc)
    with engine.connect() as connection:
        return connection.execute(query).scalar()


def _busiest(engine, kind: str) -> str | None:
    """The enterprise with a notice of ``kind`` that has the most notices (the pages' tests answer several)."""
    has_kind = select(notices.c.uscc).where(notices.c.kind == kind)
    query = (
        select(notices.c.uscc)
        .where(notices.c.uscc.in_(has_kind))
        .group_by(notices.c.uscc)
        .order_by(func.count().desc(), func.min(notices.c.id))
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar()


@pytest.fixture(scope="package")
def site_database(tmp_path_factory):
    """The site's database URL: a SQLite file, or a PostgreSQL database created for the package and dropped after."""
    server = os.environ.get("HUIQI_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path_factory.mktemp('web-db') / 'huiqi.db'}"
        return
    with postgresql_database(server, "huiqi_web") as own:
        yield own


@pytest.fixture(scope="package")
def site(tmp_path_factory, site_database) -> Site:
    data = tmp_path_factory.mktemp("web") / "data"
    generate(data / "registry", enterprises=ENTERPRISES, seed=5)
    engine = make_engine(site_database)
    upgrade(engine)
    repository = load_catalogue()
    run_matching(engine, check_registry(data / "registry"), AS_OF, repository.in_force(AS_OF))
    settings = Settings(data_dir=data, database_url=site_database)
    uscc = _busiest(engine, "awaiting_confirmation")
    other = _first(engine, "granted", not_uscc=uscc) or _first(engine, "near_miss", not_uscc=uscc)
    tokens = {role: issue_token(engine, role=role, name=f"web {role}")[0] for role in ("officer", "analyst")}
    tokens["enterprise"] = issue_token(engine, role="enterprise", uscc=uscc, name="web enterprise")[0]
    app = create_app(settings, engine=engine, repository=repository)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield Site(base, settings, engine, tokens, uscc, other, _first(engine, "needs_data"))
    server.should_exit = True
    thread.join(30)
    app.state.service.runner.shutdown()
    app.state.service.trainer.shutdown()
    engine.dispose()


SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"

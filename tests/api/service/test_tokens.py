"""`huiqi token create` prints a token once and stores only its hash; revoked tokens stop working."""

from __future__ import annotations

import time

from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app as cli
from api.service import auth
from api.service.tokens import PRINCIPAL_TTL, hash_token, lookup_token, revoke_token
from matcher.db import make_engine
from matcher.db.models import api_tokens
from tests.factories import uscc


def test_token_create_when_run_prints_the_token_once_and_stores_its_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUIQI_DATABASE_URL", raising=False)
    company = uscc(7)
    done = CliRunner().invoke(cli, ["token", "create", "--role", "enterprise", "--uscc", company])
    assert done.exit_code == 0, done.output
    token = done.stdout.strip().splitlines()[-1]
    engine = make_engine(f"sqlite:///{tmp_path / 'huiqi.db'}")
    with engine.connect() as connection:
        row = connection.execute(select(api_tokens)).one()
    assert token.startswith("hq_") and token not in str(tuple(row))
    assert row.token_hash == hash_token(token) and row.role == "enterprise" and row.uscc == company
    principal = lookup_token(engine, token)
    assert principal is not None and principal.uscc == company
    assert revoke_token(engine, row.id) and lookup_token(engine, token) is None
    engine.dispose()


def test_token_create_when_an_enterprise_token_lacks_a_valid_uscc_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUIQI_DATABASE_URL", raising=False)
    runner = CliRunner(env={"COLUMNS": "400"})  # one line per message, as rich would otherwise wrap them
    missing = runner.invoke(cli, ["token", "create", "--role", "enterprise"])
    assert missing.exit_code == 2 and "--uscc" in missing.output
    bad = runner.invoke(cli, ["token", "create", "--role", "enterprise", "--uscc", "91440300MA5G00000X"])
    assert bad.exit_code == 2 and "check character" in bad.output
    officer = runner.invoke(cli, ["token", "create", "--role", "officer", "--uscc", uscc(1)])
    assert officer.exit_code == 2 and "only enterprise tokens" in officer.output
    assert runner.invoke(cli, ["token", "create", "--role", "mayor"]).exit_code == 2


def test_token_revoke_when_run_says_when_running_servers_stop_accepting_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUIQI_DATABASE_URL", raising=False)
    runner = CliRunner(env={"COLUMNS": "400"})
    assert runner.invoke(cli, ["token", "create", "--role", "officer"]).exit_code == 0
    done = runner.invoke(cli, ["token", "revoke", "1"])
    assert done.exit_code == 0, done.output
    assert f"servers already running refuse it within {PRINCIPAL_TTL} seconds" in done.output
    assert "at once" not in runner.invoke(cli, ["token", "revoke", "--help"]).output


def test_token_when_revoked_is_refused_by_a_running_server_once_its_cached_principal_expires(client, engine, tokens):
    headers = tokens.headers("officer")
    assert client.get("/runs", headers=headers).status_code == 200
    assert revoke_token(engine, lookup_token(engine, tokens["officer"]).token_id)
    # Remembered for at most PRINCIPAL_TTL seconds by the server that saw it (docs/service.md) ...
    assert client.get("/runs", headers=headers).status_code == 200
    auth._principals.expire(time.monotonic() + PRINCIPAL_TTL)  # ... which have now passed for its cache
    refused = client.get("/runs", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

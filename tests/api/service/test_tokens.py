"""`huiqi token create` prints a token once and stores only its hash; revoked tokens stop working."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app as cli
from api.service.tokens import hash_token, lookup_token, revoke_token
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

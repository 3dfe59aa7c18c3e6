"""The event loop's own connection (api/service/reads.py) answers as SQLAlchemy would, sees every commit,
leaves no transaction open, and survives the database dropping it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from api.service.reads import LoopReader
from api.service.routes.enterprises import _DECISION_PAGES
from api.service.tokens import TOKEN_ROW, issue_token, token_lookup
from matcher.db.models import decisions


def test_rows_when_read_equal_sqlalchemys_with_the_same_python_types(engine, matched):
    uscc = _an_enterprise(engine)
    page = {"uscc": uscc, "limit": 100, "offset": 0}
    reader = LoopReader(engine)
    for (history, by_status), query in _DECISION_PAGES.items():  # current and history pages alike
        params = page | ({"status": "granted"} if by_status else {})
        with engine.connect() as connection:
            expected = [tuple(r) for r in connection.execute(query, params)]
        got = reader.rows(query, params)
        assert got == expected and len(got) > 0, (history, by_status)
        assert [type(v) for v in got[0]] == [type(v) for v in expected[0]]  # dates as dates, also on SQLite
    reader.close()


def test_rows_when_a_token_expires_carry_its_timestamp_as_an_aware_comparable_datetime(engine):
    token, _ = issue_token(engine, role="officer", name="t", expires_in=timedelta(hours=1))
    reader = LoopReader(engine)
    (row,) = reader.rows(TOKEN_ROW, token_lookup(token))
    expires = row[-1]
    assert isinstance(expires, datetime)
    assert abs(expires.replace(tzinfo=expires.tzinfo or UTC) - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(
        minutes=1
    )
    reader.close()


def test_rows_when_another_connection_commits_show_the_commit_and_no_transaction_stays_open(engine):
    reader = LoopReader(engine)
    assert reader.rows(TOKEN_ROW, {"token_hash": "x" * 64}) == []
    token, token_id = issue_token(engine, role="analyst", name="later")  # committed after the first read
    assert [r[0] for r in reader.rows(TOKEN_ROW, token_lookup(token))] == [token_id]
    driver = reader._connect().driver_connection
    if engine.dialect.name == "postgresql":
        assert driver.info.transaction_status.name == "IDLE"  # not "idle in transaction" between requests
    else:
        assert not driver.in_transaction
    reader.close()


def test_rows_when_the_database_drops_the_connection_reconnect_once(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("a server dropping a connection: PostgreSQL only")
    reader = LoopReader(engine)
    reader.rows(TOKEN_ROW, {"token_hash": "y" * 64})
    pid = reader._connect().driver_connection.info.backend_pid
    with engine.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    token, token_id = issue_token(engine, role="admin", name="after the drop")
    assert [r[0] for r in reader.rows(TOKEN_ROW, token_lookup(token))] == [token_id]
    assert reader._connect().driver_connection.info.backend_pid != pid
    reader.close()


def _an_enterprise(engine) -> str:
    with engine.connect() as connection:
        return connection.execute(select(decisions.c.uscc).where(decisions.c.status == "granted").limit(1)).scalar_one()

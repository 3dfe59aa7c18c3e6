"""Dead letters over HTTP and at the command line: counted truly, paged, and sent again by an officer, audited."""

from __future__ import annotations

from sqlalchemy import select, update
from typer.testing import CliRunner

from api.cli import app as cli
from matcher.db.models import audit_log, notices


def _kill(engine, ids: list[int] | None = None) -> list[int]:
    """Dead-letter ``ids`` (every notice when None); their ids, ascending."""
    with engine.begin() as connection:
        where = [] if ids is None else [notices.c.id.in_(ids)]
        connection.execute(
            update(notices).where(*where).values(delivery_status="dead", attempts=6, last_error="HTTP 503")
        )
        return list(connection.execute(select(notices.c.id).where(*where).order_by(notices.c.id)).scalars())


def _status(engine, ids: list[int]) -> list[tuple[str, int]]:
    query = select(notices.c.delivery_status, notices.c.attempts).where(notices.c.id.in_(ids)).order_by(notices.c.id)
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(query)]


def _audit(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(audit_log).where(audit_log.c.action == "notices.requeue")).all()


def test_dead_notices_when_more_than_a_page_are_dead_answer_the_total_and_page_through(client, engine, tokens):
    dead = _kill(engine)
    assert len(dead) > 200
    seen = []
    for offset in range(0, len(dead), 100):
        response = client.get(f"/notices/dead?limit=100&offset={offset}", headers=tokens.headers("officer"))
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == str(len(dead))
        seen += [row["id"] for row in response.json()]
    assert seen == dead[::-1]  # newest first, each once
    assert client.get(f"/notices/dead?offset={len(dead)}", headers=tokens.headers("admin")).json() == []


def test_requeue_when_an_officer_sends_ids_resends_only_dead_ones_and_audits_it(client, engine, tokens):
    dead = _kill(engine, [1, 2, 3])
    response = client.post("/notices/dead/requeue", json={"ids": [1, 2, 4]}, headers=tokens.headers("officer"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["requeued"] == 2 and answer["ids"] == [1, 2]
    assert answer["skipped"] == [{"id": 4, "reason": "it is pending, not dead"}]
    assert _status(engine, dead) == [("pending", 0), ("pending", 0), ("dead", 6)]
    (entry,) = _audit(engine)
    assert entry.actor.startswith("officer:test officer#") and entry.detail["requeued"] == [1, 2]


def test_requeue_when_all_resends_every_dead_notice(client, engine, tokens):
    dead = _kill(engine, list(range(1, 31)))
    response = client.post("/notices/dead/requeue", json={"ids": "all"}, headers=tokens.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["requeued"] == len(dead)
    assert {s for s, _ in _status(engine, dead)} == {"pending"}
    assert _audit(engine)[0].subject == "notices:dead"


def test_requeue_when_ids_are_missing_or_malformed_is_a_422_naming_them(client, engine, tokens):
    _kill(engine, [1])
    for body in ({}, {"ids": []}, {"ids": "every"}, {"ids": [0]}, {"ids": [1], "all": True}):
        response = client.post("/notices/dead/requeue", json=body, headers=tokens.headers("officer"))
        assert response.status_code == 422, (body, response.text)
        assert "body." in response.json()["detail"], body
    assert _status(engine, [1]) == [("dead", 6)] and _audit(engine) == []


def _cli(database_url, monkeypatch, *args: str):
    monkeypatch.setenv("HUIQI_DATABASE_URL", database_url)
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["notices", *args])


def test_notices_dead_cli_when_more_than_a_page_are_dead_says_how_many_and_pages(
    database_url, engine, matched, monkeypatch
):
    dead = _kill(engine)
    done = _cli(database_url, monkeypatch, "dead", "--limit", "10", "--offset", "20")
    assert done.exit_code == 0, done.output
    assert f"{len(dead):,} dead-lettered notices (21–30 shown)" in done.output
    listed = [int(line.split()[1]) for line in done.output.splitlines() if line.startswith("│ ")]
    assert listed == dead[::-1][20:30]


def test_notices_requeue_cli_when_given_ids_resends_them_and_audits_the_operator(
    database_url, engine, matched, monkeypatch
):
    dead = _kill(engine, [5, 6])
    done = _cli(database_url, monkeypatch, "requeue", "5", "6", "7", "--by", "Li Wei")
    assert done.exit_code == 0, done.output
    assert "2 notices re-queued" in done.output and "notice 7 left alone: it is pending, not dead" in done.output
    assert _status(engine, dead) == [("pending", 0), ("pending", 0)]
    (entry,) = _audit(engine)
    assert entry.actor == "cli:Li Wei" and entry.detail["requeued"] == [5, 6]


def test_notices_requeue_cli_when_all_resends_every_dead_notice_as_the_os_user(
    database_url, engine, matched, monkeypatch
):
    dead = _kill(engine, [8, 9, 10])
    monkeypatch.setenv("LOGNAME", "wang")  # getpass reads it first
    done = _cli(database_url, monkeypatch, "requeue", "--all")
    assert done.exit_code == 0, done.output
    assert {s for s, _ in _status(engine, dead)} == {"pending"}
    assert _audit(engine)[0].actor == "cli:wang"


def test_notices_requeue_cli_when_given_neither_ids_nor_all_says_what_to_give(
    database_url, engine, matched, monkeypatch
):
    _kill(engine, [5])
    for args in ((), ("5", "--all")):
        done = _cli(database_url, monkeypatch, "requeue", *args)
        assert done.exit_code == 2 and "give the ids of dead notices" in done.output, done.output
    assert _status(engine, [5]) == [("dead", 6)]

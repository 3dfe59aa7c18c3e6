"""A NUL character (U+0000) anywhere in a request is a 422 naming the field, on SQLite and PostgreSQL alike.

PostgreSQL cannot store it: before, `GET /publicity?period_key=%00` failed in the database with a 500 (found by
schemathesis run against PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from matcher.db.models import responses
from tests.api.service.conftest import notice_of


def _refused(answer, field: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["errors"] == [{"field": field, "message": "contains a NUL character (U+0000)", "type": "nul_character"}]
    assert "U+0000" in body["detail"] and "remove it" in body["detail"] and "空字符" in body["detail_zh"]


def test_a_nul_in_a_query_parameter_is_refused_naming_it(client, tokens):
    _refused(client.get("/publicity?period_key=%00", headers=tokens.headers("officer")), "query.period_key")
    _refused(client.get("/publicity?period_key=2025%00x", headers=tokens.headers("officer")), "query.period_key")
    assert client.get("/publicity?period_key=2025", headers=tokens.headers("officer")).status_code == 200


def test_a_nul_in_a_json_body_is_refused_naming_its_field_and_nothing_is_recorded(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    url = f"/enterprises/{notice.uscc}/notices/{notice.id}/object"
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(responses)).scalar_one()
    _refused(client.post(url, json={"reason": "数据有误\u0000"}, headers=tokens.headers("enterprise")), "body.reason")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(responses)).scalar_one() == before
    # The six characters \u0000 written as text (an escaped backslash) are not a NUL: the objection is taken.
    kept = client.post(url, json={"reason": "the text \\u0000 as typed"}, headers=tokens.headers("enterprise"))
    assert kept.status_code == 200, kept.text


def test_a_nul_in_a_form_body_or_the_path_is_refused(client, tokens):
    _refused(client.post("/web/sign-in", data={"token": "hq_\x00", "csrf": "x"}), "body.token")
    raw = b"token=hq_\x00&csrf=x"  # not even percent-encoded
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    _refused(client.post("/web/sign-in", content=raw, headers=form), "body.token")
    _refused(client.get("/enterprises/9144%00/decisions", headers=tokens.headers("officer")), "path")


def test_a_nul_deep_inside_a_nested_body_gets_the_answer_the_body_would_get_without_it(client, engine, tokens):
    """30,000 levels of arrays fit the 64 KiB cap; parsing them to look for the NUL raised RecursionError (a 500)."""
    notice = notice_of(engine, "awaiting_confirmation")
    url = f"/enterprises/{notice.uscc}/notices/{notice.id}/object"
    headers = tokens.headers("enterprise") | {"Content-Type": "application/json"}
    for inner in ("", '"\\u0000"'):
        answer = client.post(url, content="[" * 30_000 + inner + "]" * 30_000, headers=headers)
        assert answer.status_code == 400 and "parsing the body" in answer.json()["detail"]

"""POST /runs refuses an as-of date no run can decide for, naming the field, before anything is queued."""

import pytest
from sqlalchemy import func, select

from matcher.db.models import run_requests


@pytest.mark.parametrize("as_of", ["0001-01-01", "1989-12-31", "9999-12-31"])
def test_start_run_when_as_of_is_outside_the_window_answers_422_and_queues_nothing(client, engine, tokens, as_of):
    answer = client.post("/runs", json={"as_of": as_of}, headers=tokens.headers("officer"))
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["errors"][0]["field"] == "body.as_of"
    assert f"as-of date {as_of} is outside the window" in problem["errors"][0]["message"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(run_requests)).scalar_one() == 0

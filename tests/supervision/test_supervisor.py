"""A supervisor sees an overdue objection turn yellow, then red, escalated once; handling it turns it green and its
handling time enters the statistics. The clock is the app's injected one, never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from api.service.routes.supervision import Supervision
from api.service.tokens import issue_token
from matcher.db.models import audit_log, objection_reviews, responses, supervision_events
from matcher.supervision import CHINA, TimeLimits
from tests.api.service.conftest import notice_of

OBJECTED = datetime(2026, 2, 12, 16, 30, tzinfo=CHINA)  # a Thursday, before the Spring Festival


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _objection(client, engine) -> int:
    granted = notice_of(engine, "granted")
    token = issue_token(engine, role="enterprise", uscc=granted.uscc, name="objector")[0]
    done = client.post(
        f"/enterprises/{granted.uscc}/notices/{granted.id}/object",
        json={"reason": "参保人数有误"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert done.status_code == 200, done.text
    with engine.begin() as connection:  # as if made on OBJECTED
        objection = connection.execute(select(responses.c.id).where(responses.c.kind == "objected")).scalar_one()
        connection.execute(
            update(responses).where(responses.c.id == objection).values(at=OBJECTED.astimezone(UTC))
        )  # in UTC, as the service writes
    return objection


def _card(client, headers, objection):
    queue = client.get("/supervision/queue", params={"step": "objection"}, headers=headers)
    assert queue.status_code == 200, queue.text
    (matter,) = [m for m in queue.json()["matters"] if m["matter_id"] == objection]
    return matter


def test_supervisor_when_an_objection_runs_over_sees_it_red_escalated_once_then_green_with_its_time(
    app, client, engine, tokens
):
    objection = _objection(client, engine)
    clock = Clock(datetime(2026, 2, 13, 10, tzinfo=CHINA))
    app.state.supervision = Supervision(TimeLimits(), clock=clock)
    supervisor = {"Authorization": f"Bearer {issue_token(engine, role='supervisor', name='Zhao Jian')[0]}"}
    officer = tokens.headers("officer")

    matter = _card(client, officer, objection)
    assert matter["colour"] == "green" and matter["limit_days"] == 5
    assert matter["due_at"].startswith("2026-02-26T16:00:00")  # end of Thu 26 Feb in China = 16:00 UTC
    assert matter["holder"] == "queue:" + matter["office"]

    # Wed 25 Feb, noon: 3.5 of 5 working days used (Fri 13, Sat 14 make-up, Tue 24, half of Wed) → green;
    # Thu 26 Feb, 06:00: 4.25 (85 %) → yellow.
    clock.now = datetime(2026, 2, 25, 12, tzinfo=CHINA)
    assert _card(client, officer, objection)["colour"] == "green"
    clock.now = datetime(2026, 2, 26, 6, tzinfo=CHINA)
    assert _card(client, officer, objection)["colour"] == "yellow"
    # During the holiday, a weekday count would have it overdue; the official calendar keeps it green.
    clock.now = datetime(2026, 2, 20, 12, tzinfo=CHINA)
    assert _card(client, officer, objection)["colour"] == "green"

    clock.now = datetime(2026, 2, 27, 9, tzinfo=CHINA)
    assert _card(client, officer, objection)["colour"] == "red"
    # Officers may not see the supervisors' views or run the watch.
    assert client.get("/supervision/overview", headers=officer).status_code == 403
    assert client.post("/supervision/watch", headers=officer).status_code == 403

    first = client.post("/supervision/watch", headers=supervisor)
    assert first.status_code == 200, first.text
    assert first.json()["escalated"] == [f"objection:{objection}"]
    assert client.post("/supervision/watch", headers=supervisor).json()["escalated"] == []  # once only
    overview = client.get("/supervision/overview", headers=supervisor).json()
    assert overview["totals"]["red"] >= 1
    (row,) = [o for o in overview["offices"] if o["office"] == matter["office"] and o["step"] == "objection"]
    assert row["red"] == 1
    (escalated,) = client.get("/supervision/escalations", headers=supervisor).json()
    assert escalated["matter_id"] == objection and escalated["handled_at"] is None
    with engine.connect() as connection:
        audited = (
            connection.execute(select(audit_log.c.subject).where(audit_log.c.action == "supervision.escalate"))
            .scalars()
            .all()
        )
    assert audited == [f"objection:{objection}"]

    reviewed = client.post(
        f"/objections/{objection}/review", json={"outcome": "dismissed", "note": "已核实"}, headers=officer
    )
    assert reviewed.status_code == 200, reviewed.text
    with engine.begin() as connection:  # reviewed on Monday 2 March, 10:00
        connection.execute(
            update(objection_reviews).values(reviewed_at=datetime(2026, 3, 2, 10, tzinfo=CHINA).astimezone(UTC))
        )
    clock.now = datetime(2026, 3, 2, 11, tzinfo=CHINA)
    assert all(m["matter_id"] != objection for m in client.get("/supervision/queue", headers=officer).json()["matters"])
    assert client.post("/supervision/watch", headers=supervisor).json()["recorded"] == {"green": 1}
    with engine.connect() as connection:
        events = connection.execute(
            select(supervision_events.c.event, supervision_events.c.holder)
            .where(supervision_events.c.matter_id == objection)
            .order_by(supervision_events.c.id)
        ).all()
    assert [e.event for e in events] == ["red", "escalated", "green"]
    assert events[-1].holder.startswith("officer:")
    (escalated,) = client.get("/supervision/escalations", headers=supervisor).json()
    assert escalated["handled_at"] is not None

    # Handled on Mon 2 March 10:00: Fri 13, Sat 14, Tue 24 – Sat 28 (make-up), and 10/24 of Monday.
    (handled,) = client.get("/supervision/handling", params={"by": "step"}, headers=supervisor).json()
    assert handled["step"] == "objection" and handled["handled"] == 1 and handled["late"] == 1
    assert handled["median_days"] == round(7 + 10 / 24, 2) == handled["p90_days"]

"""Notices that ask something: reminders before the date, a lapse after it, each sent once."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from features.synthetic import generate
from matcher.db.models import notices, responses
from matcher.deadlines import watch_deadlines
from matcher.delivery import moot
from matcher.run import run_matching
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
TODAY = date(2025, 7, 10)


@pytest.fixture
def asking(engine, tmp_path):
    """Five delivered notices awaiting confirmation, with deadlines around TODAY."""
    generate(tmp_path / "registry", enterprises=300, seed=6)
    run_matching(engine, tmp_path / "registry", AS_OF, load_catalogue().in_force(AS_OF))
    with engine.begin() as connection:
        ids = (
            connection.execute(
                select(notices.c.id).where(notices.c.kind == "awaiting_confirmation").order_by(notices.c.id).limit(5)
            )
            .scalars()
            .all()
        )
        assert len(ids) == 5
        deadlines = [TODAY + timedelta(days=2), TODAY + timedelta(days=10), TODAY - timedelta(days=1),
                     TODAY + timedelta(days=2), TODAY + timedelta(days=2)]  # fmt: skip
        for notice_id, respond_by in zip(ids, deadlines, strict=True):
            connection.execute(
                update(notices)
                .where(notices.c.id == notice_id)
                .values(respond_by=respond_by, delivery_status="delivered")
            )
        connection.execute(update(notices).where(notices.c.id == ids[4]).values(delivery_status="pending"))
    return ids


def _answer(engine, notice_id: int, kind: str) -> None:
    with engine.begin() as connection:
        n = connection.execute(select(notices).where(notices.c.id == notice_id)).one()
        connection.execute(
            insert(responses).values(notice_id=n.id, uscc=n.uscc, policy_id=n.policy_id, period_key=n.period_key,
                                     kind=kind, actor="enterprise:test", at=datetime.now(UTC))
        )  # fmt: skip


def _of_kind(engine, kind: str) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return connection.execute(
            select(notices.c.topic, notices.c.uscc).where(notices.c.kind == kind).order_by(notices.c.topic)
        ).all()


def test_deadlines_when_a_deadline_nears_remind_once_and_lapse_the_day_after(engine, asking):
    near, _far, late, answered, _undelivered = asking
    _answer(engine, answered, "confirmed")
    report = watch_deadlines(engine, TODAY)
    # Two days left: the 3-day reminder; ten days left: none yet; answered or never delivered: none.
    assert report.reminded == 1 and [t for t, _ in _of_kind(engine, "reminder")] == [f"{near}:3"]
    assert report.lapsed == 1 and [t for t, _ in _of_kind(engine, "lapsed")] == [str(late)]
    with engine.connect() as connection:
        lapse = connection.execute(select(responses).where(responses.c.kind == "lapsed")).one()
    assert lapse.notice_id == late and lapse.actor == "system:deadlines"
    assert lapse.detail == {"respond_by": (TODAY - timedelta(days=1)).isoformat()}

    again = watch_deadlines(engine, TODAY)  # the same day again: nothing twice
    assert (again.reminded, again.lapsed) == (0, 0)
    next_day = watch_deadlines(engine, TODAY + timedelta(days=1))  # one day left: the last reminder
    assert next_day.reminded == 1 and f"{near}:1" in [t for t, _ in _of_kind(engine, "reminder")]
    with engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(responses).where(responses.c.kind == "lapsed")).scalar()
            == 1
        )


def test_reminder_when_the_enterprise_answers_before_it_is_sent_is_withdrawn(engine, asking):
    near = asking[0]
    watch_deadlines(engine, TODAY)
    _answer(engine, near, "confirmed")
    with engine.connect() as connection:
        reminder = connection.execute(
            select(notices.c.id).where(notices.c.kind == "reminder", notices.c.topic == f"{near}:3")
        ).scalar_one()
        assert connection.execute(select(moot()).select_from(notices).where(notices.c.id == reminder)).scalar()


def test_cli_deadlines_when_run_says_what_it_queued_and_lapsed(tmp_path):
    from tests.api.test_cli import huiqi

    env = {"HUIQI_DATA_DIR": str(tmp_path)}
    done = huiqi("notices", "deadlines", "--today", "2025-07-10", env=env)
    assert done.returncode == 0, done.stderr
    assert "2025-07-10: 0 reminders queued, 0 notices lapsed" in done.stderr + done.stdout

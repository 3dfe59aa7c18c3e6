"""The supervision pages and the enterprise's clock: cards on the desk and the supervision page, the time left
on a notice, and the watch at the command line."""

from __future__ import annotations

import json
from datetime import date

from typer.testing import CliRunner

from api.cli import app as cli
from api.web.texts import left
from tests.supervision.test_supervisor import OBJECTED, Clock, _objection


def test_left_when_a_deadline_nears_says_how_long_in_the_readers_language():
    today = date(2026, 3, 2)
    assert left(date(2026, 3, 5), "zh", today) == "还剩 3 天" and left(date(2026, 3, 5), "en", today) == "3 days left"
    assert left(date(2026, 3, 3), "en", today) == "1 day left"
    assert left(today, "zh", today) == "今天截止" and left(date(2026, 3, 1), "en", today) == "the date has passed"
    assert left(None, "zh", today) == ""


def _sign_in(client, engine, role, name):
    from api.service.tokens import issue_token

    token = issue_token(engine, role=role, name=name)[0]
    form = client.get("/web/sign-in")
    assert form.status_code == 200
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    data = {"token": token} | ({"csrf": csrf.group(1)} if csrf else {})
    done = client.post("/web/sign-in", data=data, follow_redirects=False)
    assert done.status_code == 303, done.text


def test_pages_when_an_objection_is_overdue_show_red_on_the_desk_and_to_the_supervisor(app, client, engine, tokens):
    from datetime import datetime

    from api.service.routes.supervision import Supervision
    from matcher.supervision import CHINA, TimeLimits

    objection = _objection(client, engine)
    app.state.supervision = Supervision(TimeLimits(), clock=Clock(datetime(2026, 2, 27, 9, tzinfo=CHINA)))
    _sign_in(client, engine, "officer", "Li Wei")
    desk = client.get("/web/desk")
    assert desk.status_code == 200 and 'class="card-red"' in desk.text and "红牌" in desk.text
    page = client.get("/web/supervision")
    assert page.status_code == 200 and f"{objection}" in page.text and "card-red" in page.text
    assert "各单位在办事项" not in page.text  # the offices are the supervisors' view
    client.post("/web/sign-out", data={"csrf": ""})
    client.cookies.clear()
    _sign_in(client, engine, "supervisor", "Zhao Jian")
    page = client.get("/web/supervision")
    assert page.status_code == 200 and "各单位在办事项" in page.text and "办理时长" in page.text


def test_cli_when_watching_twice_escalates_once(client, engine, tokens, settings, monkeypatch):
    _objection(client, engine)
    monkeypatch.setenv("HUIQI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HUIQI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    later = "2026-02-27T01:00:00"  # 09:00 in China, the day after the objection's limit (made on OBJECTED)
    first = runner.invoke(cli, ["supervision", "watch", "--now", later, "--json"])
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.output)["escalated"]) == 1
    second = runner.invoke(cli, ["supervision", "watch", "--now", later, "--json"])
    assert json.loads(second.output)["escalated"] == []
    queue = runner.invoke(cli, ["supervision", "queue", "--step", "objection", "--now", later, "--json"])
    assert queue.exit_code == 0 and json.loads(queue.output)[0]["colour"] == "red"
    beyond = runner.invoke(cli, ["supervision", "queue", "--now", "2031-01-05T01:00:00"])
    assert beyond.exit_code != 0 and "not known" in str(beyond.exception or beyond.output)
    assert OBJECTED.year == 2026

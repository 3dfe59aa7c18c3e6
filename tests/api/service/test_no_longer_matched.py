"""A decision a later run no longer matches is not current any more: flagged in the list, the detail and the inbox.

A later, completed run that decided a policy and period (for any enterprise) evaluated it for its whole
population; an enterprise it decided nothing for no longer matches it, and its earlier decision for that
policy and period is shown as "no longer matched", its history one click away (``?history=true``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import insert, select

from api.service.tokens import issue_token
from matcher.db.models import decisions, runs

LATER = date(2025, 9, 30)


def _later_run(engine, run_id: str, status: str, decided: list) -> None:
    """A run after the first one that decided ``decided`` (earlier decisions, copied for their enterprise and
    policy) and nothing else."""
    with engine.begin() as connection:
        connection.execute(
            insert(runs).values(
                id=run_id, as_of=LATER, registry_fingerprint="r", catalogue_fingerprint="c", policy_versions={},
                status=status, started_at=datetime.now(UTC), finished_at=datetime.now(UTC),
            )
        )  # fmt: skip
        for row in decided:
            copied = {k: v for k, v in row._mapping.items() if k != "id"}
            connection.execute(insert(decisions).values(copied | {"run_id": run_id}))


def _two_deciding_alike(first: list) -> tuple:
    """Two decisions of the first run on the same policy and period, for two enterprises."""
    by_policy: dict[tuple[str, str], list] = {}
    for row in first:
        by_policy.setdefault((row.policy_id, row.period_key), []).append(row)
    return next(rows[:2] for _, rows in sorted(by_policy.items()) if len(rows) >= 2)


def _mine(client, uscc: str, **params) -> dict[int, dict]:
    token = issue_token(client.app.state.service.engine, role="enterprise", uscc=uscc, name="firm")[0]
    answer = client.get(f"/enterprises/{uscc}/decisions", params=params, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {d["id"]: d for d in answer.json()}


def test_decisions_when_a_later_run_no_longer_matches_the_enterprise_are_flagged_not_current(client, engine, matched):
    with engine.connect() as connection:
        first = connection.execute(select(decisions).order_by(decisions.c.id)).all()
    dropped, kept = _two_deciding_alike(first)  # the later run decides the policy and period for `kept` only
    policy, period = dropped.policy_id, dropped.period_key
    other = next(r for r in first if r.uscc == dropped.uscc and (r.policy_id, r.period_key) != (policy, period))
    _later_run(engine, "later", "completed", [kept])

    mine = _mine(client, dropped.uscc)
    assert mine[dropped.id]["no_longer_matched"] is True  # still listed: the latest this enterprise had
    assert mine[other.id]["no_longer_matched"] is False  # the later run decided nothing of that policy at all
    theirs = _mine(client, kept.uscc)
    assert kept.id not in theirs  # superseded by the later run's own decision, which is current
    assert [d["no_longer_matched"] for d in theirs.values() if d["policy_id"] == policy] == [False]
    history = _mine(client, dropped.uscc, history="true")
    assert history[dropped.id]["no_longer_matched"] is True and set(mine) <= set(history)

    token = issue_token(engine, role="officer", name="officer")[0]
    detail = client.get(
        f"/enterprises/{dropped.uscc}/decisions/{dropped.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert detail.status_code == 200 and detail.json()["no_longer_matched"] is True

    # The web inbox lists it apart, under its own heading, not under its old status.
    sign_in = client.get("/web/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', sign_in.text).group(1)
    enterprise = issue_token(engine, role="enterprise", uscc=dropped.uscc, name="firm")[0]
    assert client.post("/web/sign-in", data={"token": enterprise, "csrf": csrf}).status_code in (200, 303)
    inbox = client.get(f"/web/e/{dropped.uscc}")
    assert inbox.status_code == 200 and "最近一次测算已不再符合" in inbox.text
    # Its notice asks nothing any more: listed with the earlier notices, not with what needs the enterprise now.
    link = f'href="/web/e/{dropped.uscc}/notices/{mine[dropped.id]["notice_id"]}"'
    to_do = inbox.text.split('id="todo"')[1].split('id="decisions"')[0]
    earlier = inbox.text.split('id="earlier"')[1]
    assert mine[dropped.id]["notice_id"] and link in earlier and link not in to_do


def test_decisions_when_the_later_run_is_still_running_stay_current(client, engine, matched):
    with engine.connect() as connection:
        first = connection.execute(select(decisions).order_by(decisions.c.id)).all()
    dropped, kept = _two_deciding_alike(first)
    _later_run(engine, "running", "running", [kept])  # a run half written says nothing yet about the others
    assert _mine(client, dropped.uscc)[dropped.id]["no_longer_matched"] is False

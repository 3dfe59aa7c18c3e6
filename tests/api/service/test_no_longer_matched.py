"""A decision a later run no longer matches is not current any more: flagged in the list, the detail and the inbox.

A later, completed run that decided a policy and period (for any enterprise) evaluated it for its whole
population; an enterprise it decided nothing for no longer matches it, and its earlier decision for that
policy and period is shown as "no longer matched", its history one click away (``?history=true``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import insert, select, update

from api.service.tokens import issue_token
from matcher.db.keys import same_benefit
from matcher.db.models import (
    benefit_journal,
    benefits,
    decisions,
    ledger_proposals,
    notices,
    responses,
    runs,
    webhooks,
)
from matcher.delivery import deliver_due

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


# What the flag stops: confirming, supplying facts, delivering. Declining and objecting stay open.


def _dropped_and_kept(engine, kind: str) -> tuple:
    """Two notices of ``kind`` of the first run on the same policy and period, for two enterprises; a later
    completed run then decides that policy and period for the second (``kept``) only."""
    with engine.connect() as connection:
        found = connection.execute(select(notices).where(notices.c.kind == kind).order_by(notices.c.id)).all()
        first = connection.execute(select(decisions).order_by(decisions.c.id)).all()
    dropped, kept = _two_deciding_alike(found)
    kept_decision = next(d for d in first if (d.uscc, d.policy_id, d.period_key) == (kept.uscc, kept.policy_id,
                                                                                        kept.period_key))  # fmt: skip
    _later_run(engine, "later", "completed", [kept_decision])
    return dropped, kept


def _as(client, engine, uscc: str) -> dict[str, str]:
    token = issue_token(engine, role="enterprise", uscc=uscc, name="firm")[0]
    return {"Authorization": f"Bearer {token}"}


BENEFIT_KEY = ("uscc", "policy_id", "period_key")


def _written(engine, notice) -> tuple:
    """What the ledger and the feedback hold for the notice's benefit."""
    with engine.connect() as connection:
        held = connection.execute(select(benefits).where(same_benefit(notice))).all()
        journal = connection.execute(
            select(benefit_journal).where(*(benefit_journal.c[k] == getattr(notice, k) for k in BENEFIT_KEY))
        )
        said = connection.execute(
            select(responses.c.kind).where(responses.c.notice_id == notice.id).order_by(responses.c.id)
        ).scalars()
        return held, journal.all(), said.all()


def test_confirm_when_a_later_run_no_longer_matches_the_enterprise_is_refused_and_writes_nothing(
    client, engine, matched
):
    dropped, kept = _dropped_and_kept(engine, "awaiting_confirmation")
    headers = _as(client, engine, dropped.uscc)
    # The notice says so (reading it records 'opened', so before it is taken after).
    detail = client.get(f"/enterprises/{dropped.uscc}/notices/{dropped.id}", headers=headers).json()
    assert detail["no_longer_matched"] is True
    before = _written(engine, dropped)

    refused = client.post(f"/enterprises/{dropped.uscc}/notices/{dropped.id}/confirm", headers=headers)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert "后续核定已不再符合" in problem["detail_zh"] and "no longer meets" in problem["detail"]
    assert _written(engine, dropped) == before  # no benefit, no journal entry, no response
    # The web form calls the same action: the same refusal, in Chinese first.
    sign_in = client.get("/web/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', sign_in.text).group(1)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert client.post("/web/sign-in", data={"token": token, "csrf": csrf}).status_code in (200, 303)
    # Its page offers no confirm button; the check page, reached by its address, still refuses.
    page = client.get(f"/web/e/{dropped.uscc}/notices/{dropped.id}")
    assert "后续核定已不再符合" in page.text and f"/notices/{dropped.id}/confirm" not in page.text
    assert f"/notices/{dropped.id}/object" in page.text
    check = client.get(f"/web/e/{dropped.uscc}/notices/{dropped.id}/confirm")
    csrf = re.search(r'name="csrf" value="([^"]+)"', check.text).group(1)
    form = client.post(f"/web/e/{dropped.uscc}/notices/{dropped.id}/confirm", data={"csrf": csrf})
    assert form.status_code == 409 and "后续核定已不再符合" in form.text
    assert _written(engine, dropped) == before
    with engine.connect() as connection:
        assert connection.execute(select(benefits).where(same_benefit(dropped))).first() is None

    # Still current: the later run decided the kept enterprise's benefit alike, so its notice stands.
    kept_headers = _as(client, engine, kept.uscc)
    current = client.get(f"/enterprises/{kept.uscc}/notices/{kept.id}", headers=kept_headers).json()
    assert current["no_longer_matched"] is False
    done = client.post(f"/enterprises/{kept.uscc}/notices/{kept.id}/confirm", headers=kept_headers)
    assert done.status_code == 200, done.text
    with engine.connect() as connection:
        ledger = connection.execute(select(benefits).where(same_benefit(kept))).one()
    assert ledger.amount_fen == kept.amount_fen

    # The enterprise may still say no, or object.
    objected = client.post(
        f"/enterprises/{dropped.uscc}/notices/{dropped.id}/object", json={"reason": "we still qualify"}, headers=headers
    )
    assert objected.status_code == 200, objected.text
    declined = client.post(f"/enterprises/{dropped.uscc}/notices/{dropped.id}/decline", json={}, headers=headers)
    assert declined.status_code == 200, declined.text
    assert _written(engine, dropped)[2] == ["opened", "objected", "declined"]


def test_confirm_when_the_later_run_is_still_running_is_allowed(client, engine, matched):
    with engine.connect() as connection:
        found = connection.execute(
            select(notices).where(notices.c.kind == "awaiting_confirmation").order_by(notices.c.id)
        ).all()
        first = connection.execute(select(decisions).order_by(decisions.c.id)).all()
    dropped, kept = _two_deciding_alike(found)
    _later_run(engine, "running", "running", [d for d in first if (d.uscc, d.policy_id) == (kept.uscc, kept.policy_id)])
    answer = client.post(
        f"/enterprises/{dropped.uscc}/notices/{dropped.id}/confirm", headers=_as(client, engine, dropped.uscc)
    )
    assert answer.status_code == 200, answer.text


def test_supply_when_a_later_run_no_longer_matches_the_enterprise_is_refused(client, engine, matched):
    dropped, _ = _dropped_and_kept(engine, "needs_data")
    with engine.connect() as connection:
        asked = connection.execute(
            select(decisions.c.unknown_facts).where(
                decisions.c.run_id == dropped.run_id,
                decisions.c.uscc == dropped.uscc,
                decisions.c.policy_id == dropped.policy_id,
            )
        ).scalar_one()
    name = asked.split(";")[0].strip()
    answer = client.post(
        f"/enterprises/{dropped.uscc}/notices/{dropped.id}/supply",
        json={"facts": {name: True}},
        headers=_as(client, engine, dropped.uscc),
    )
    assert answer.status_code == 409, answer.text
    assert "后续核定已不再符合" in answer.json()["detail_zh"]
    assert _written(engine, dropped)[2] == []


def _only_these_due(engine, *due) -> None:
    """Webhooks for the enterprises of ``due``, and every other notice waiting a day."""
    with engine.begin() as connection:
        connection.execute(insert(webhooks), [{"uscc": u, "url": f"https://example.test/{u}"}
                                              for u in sorted({n.uscc for n in due})])  # fmt: skip
        connection.execute(
            update(notices)
            .where(notices.c.id.not_in([n.id for n in due]))
            .values(next_attempt_at=datetime.now(UTC) + timedelta(days=1))
        )


def _receiver(posted: list[str]) -> httpx.Client:
    """A client whose every post is answered 204, its idempotency key noted in ``posted``."""

    def receive(request: httpx.Request) -> httpx.Response:
        posted.append(request.headers["Idempotency-Key"])
        return httpx.Response(204)

    return httpx.Client(transport=httpx.MockTransport(receive))


def test_deliver_when_a_later_run_no_longer_matches_the_enterprise_withdraws_its_notice_unsent(
    engine, matched, repository
):
    dropped, kept = _dropped_and_kept(engine, "awaiting_confirmation")
    _only_these_due(engine, dropped, kept)
    posted: list[str] = []
    with _receiver(posted) as http:
        report = deliver_due(engine, repository, http)
    assert report.withdrawn == 1 and report.delivered == 1
    assert len(posted) == 1 and posted[0].startswith(f"{kept.uscc}:")
    with engine.connect() as connection:
        status = dict(connection.execute(select(notices.c.id, notices.c.delivery_status).where(
            notices.c.id.in_([dropped.id, kept.id]))).all())  # fmt: skip
    assert status == {dropped.id: "withdrawn", kept.id: "delivered"}


def _cancel_proposed(engine, notice) -> int:
    """The later run's open proposal to cancel ``notice``'s benefit: its id."""
    with engine.begin() as connection:
        return connection.execute(
            insert(ledger_proposals)
            .values(uscc=notice.uscc, policy_id=notice.policy_id, period_key=notice.period_key, action="cancel",
                    run_id="later", reason="no longer eligible", reason_zh="不再符合条件", status="open",
                    created_at=datetime.now(UTC))
            .returning(ledger_proposals.c.id)
        ).scalar_one()  # fmt: skip


def test_dismissing_the_proposal_that_withdrew_a_grant_notice_sends_it_after_all(
    client, engine, matched, repository, tokens
):
    dropped, kept = _dropped_and_kept(engine, "granted")  # benefits in the ledger: only a proposal unmatches them
    _only_these_due(engine, dropped, kept)
    with engine.begin() as connection:
        # Held back five days before delivery first looked at it: the enterprise keeps its whole time to answer.
        connection.execute(
            update(notices)
            .where(notices.c.id == dropped.id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(days=5))
        )
    proposal = _cancel_proposed(engine, dropped)
    posted: list[str] = []
    with _receiver(posted) as http:
        assert deliver_due(engine, repository, http).withdrawn == 1
        officer = tokens.headers("officer")
        note = {"note": "复核后仍符合条件"}
        dismissed = client.post(f"/ledger/proposals/{proposal}/dismiss", json=note, headers=officer)
        assert dismissed.status_code == 200, dismissed.text
        with engine.connect() as connection:
            resent = connection.execute(select(notices).where(notices.c.id == dropped.id)).one()
        assert resent.delivery_status == "pending" and resent.attempts == 0
        assert resent.respond_by == dropped.respond_by + timedelta(days=5)
        report = deliver_due(engine, repository, http)
    assert report.delivered == 1 and report.withdrawn == 0
    assert [key.split(":")[0] for key in posted] == [kept.uscc, dropped.uscc]


def test_dismissing_a_proposal_leaves_a_notice_withdrawn_for_another_reason_withdrawn(
    client, engine, matched, repository, tokens
):
    with engine.connect() as connection:
        granted = connection.execute(select(notices).where(notices.c.kind == "granted").order_by(notices.c.id)).first()
    with engine.begin() as connection:
        # the enterprise declined the benefit: the notice is moot whatever becomes of the proposal
        connection.execute(insert(responses).values(
            notice_id=granted.id, uscc=granted.uscc, policy_id=granted.policy_id, period_key=granted.period_key,
            kind="declined", actor="enterprise", at=datetime.now(UTC)))  # fmt: skip
        connection.execute(update(notices).where(notices.c.id == granted.id).values(delivery_status="withdrawn"))
    _later_run(engine, "later", "completed", [])
    proposal = _cancel_proposed(engine, granted)
    dismissed = client.post(
        f"/ledger/proposals/{proposal}/dismiss", json={"note": "复核后仍符合条件"}, headers=tokens.headers("officer")
    )
    assert dismissed.status_code == 200, dismissed.text
    with engine.connect() as connection:
        status = connection.execute(select(notices.c.delivery_status).where(notices.c.id == granted.id)).scalar_one()
    assert status == "withdrawn"

"""Maker-checker: a draft is published only after a different person approved it; every illegal move is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from api.service.problems import Conflict
from api.service.routes.drafts import _draft_row, _move
from api.service.tokens import issue_token
from matcher.db.models import audit_log
from tests.api.service.test_policies import CHANGED, JULY, YAML


@pytest.fixture
def people(engine, tokens):
    """The author (tokens' officer), a checker (another officer), and the author again with an admin token."""
    checker = issue_token(engine, role="officer", name="Zhang Min")[0]
    author_as_admin = issue_token(engine, role="admin", name="  TEST   officer ")[0]  # same person, other token
    return {
        "author": tokens.headers("officer"),
        "checker": {"Authorization": f"Bearer {checker}"},
        "author_as_admin": {"Authorization": f"Bearer {author_as_admin}"},
    }


def _new(client, people, text: str = CHANGED) -> int:
    response = client.post("/policy-drafts", content=text, headers=YAML | people["author"])
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _post(client, path: str, who: dict, json: dict | None = None):
    return client.post(path, json=json, headers=who)


def _refused(response, *words: str) -> None:
    assert response.status_code == 409, response.text
    assert all(w in response.json()["detail"] for w in words), response.json()["detail"]


def test_review_when_the_author_submits_a_second_officer_approves_and_the_author_publishes(client, engine, people):
    draft = _new(client, people)
    submitted = _post(client, f"/policy-drafts/{draft}/submit", people["author"], JULY)
    assert submitted.status_code == 200 and submitted.json()["review_state"] == "submitted"
    assert submitted.json()["effective_from"] == "2025-07-01"

    _refused(_post(client, f"/policy-drafts/{draft}/publish", people["author"]), "submitted", "approval")
    _refused(_post(client, f"/policy-drafts/{draft}/approve", people["author"]), "another officer")
    _refused(_post(client, f"/policy-drafts/{draft}/approve", people["author_as_admin"]), "another officer")
    assert client.get(f"/policy-drafts/{draft}", headers=people["author"]).json()["review_state"] == "submitted"

    review = {"revision": 1, "comment": "核对无误"}
    approved = _post(client, f"/policy-drafts/{draft}/approve", people["checker"], review)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["review_state"] == "approved" and body["reviewed_by"].startswith("officer:Zhang Min#")
    assert body["review_comment"] == "核对无误"

    published = _post(client, f"/policy-drafts/{draft}/publish", people["author"])
    assert published.status_code == 201, published.text
    assert published.json()["effective_from"] == "2025-07-01" and published.json()["version"] == 2
    versions = client.get("/policies/job-retention-refund", headers=people["author"]).json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    done = client.get(f"/policy-drafts/{draft}", headers=people["author"]).json()
    assert done["review_state"] == "published" and done["published_by"].startswith("officer:test officer#")

    with engine.connect() as connection:
        rows = connection.execute(select(audit_log.c.action, audit_log.c.detail).order_by(audit_log.c.id)).all()
    actions = [a for a, _ in rows if a.startswith(("draft.", "policy."))]
    assert actions == ["draft.create", "draft.submit", "draft.approve", "policy.publish"]
    assert rows[-1].detail["approved_by"] == body["reviewed_by"]


def test_review_when_moves_are_out_of_order_each_is_refused_saying_why(client, people):
    draft = _new(client, people)
    url = f"/policy-drafts/{draft}"
    _refused(_post(client, f"{url}/approve", people["checker"]), "is draft", "submit it for review first")
    _refused(_post(client, f"{url}/reject", people["checker"], {"comment": "x"}), "is draft")
    _refused(_post(client, f"{url}/publish", people["author"]), "is draft", "submit it for review first")
    assert _post(client, f"{url}/submit", people["author"], JULY).status_code == 200
    _refused(_post(client, f"{url}/submit", people["author"], JULY), "is submitted")
    no_comment = _post(client, f"{url}/reject", people["checker"], {})
    assert no_comment.status_code == 422 and "comment" in no_comment.text
    assert _post(client, f"{url}/approve", people["checker"]).status_code == 200
    _refused(_post(client, f"{url}/approve", people["checker"]), "is approved")
    _refused(_post(client, f"{url}/submit", people["author"], JULY), "is approved")
    _refused(
        _post(client, f"{url}/publish", people["author"], {"effective_from": "2025-08-01"}),
        "approved for 2025-07-01, not 2025-08-01",
    )
    assert _post(client, f"{url}/publish", people["author"], JULY).status_code == 201
    for move, body in (("submit", JULY), ("approve", None), ("reject", {"comment": "x"}), ("publish", None)):
        answer = _post(client, f"{url}/{move}", people["checker"], body)
        assert answer.status_code == 409 and answer.json()["review_state"] == "published", (move, answer.text)
    assert client.put(url, content=CHANGED, headers=YAML | people["author"]).status_code == 409


def test_review_when_the_text_changes_after_approval_it_needs_approval_again(client, people):
    draft = _new(client, people)
    url = f"/policy-drafts/{draft}"
    _post(client, f"{url}/submit", people["author"], JULY)
    assert _post(client, f"{url}/approve", people["checker"], {"revision": 1}).status_code == 200

    changed = client.put(url, content=CHANGED.replace("<= 2%", "<= 3%"), headers=YAML | people["author"])
    assert changed.status_code == 200
    assert changed.json()["review_state"] == "draft" and changed.json()["revision"] == 2
    _refused(_post(client, f"{url}/publish", people["author"]), "is draft")

    _post(client, f"{url}/submit", people["author"], JULY)
    _refused(_post(client, f"{url}/approve", people["checker"], {"revision": 1}), "revision 1", "revision 2")
    assert _post(client, f"{url}/approve", people["checker"], {"revision": 2}).status_code == 200
    assert _post(client, f"{url}/publish", people["author"]).status_code == 201


def test_review_when_the_checker_edits_the_draft_they_may_no_longer_approve_it(client, people):
    draft = _new(client, people)
    url = f"/policy-drafts/{draft}"
    client.put(url, content=CHANGED.replace("<= 2%", "<= 3%"), headers=YAML | people["checker"])
    _post(client, f"{url}/submit", people["author"], JULY)
    _refused(_post(client, f"{url}/approve", people["checker"]), "Zhang Min last changed the text")


def test_review_when_sent_back_keeps_the_comment_and_the_author_resubmits(client, people):
    draft = _new(client, people)
    url = f"/policy-drafts/{draft}"
    _post(client, f"{url}/submit", people["author"], JULY)
    _refused(_post(client, f"{url}/reject", people["author"], {"comment": "自己退回"}), "another officer")
    comment = "裁员率阈值请与文件核对"
    returned = _post(client, f"{url}/reject", people["checker"], {"comment": comment})
    assert returned.status_code == 200
    assert returned.json()["review_state"] == "returned" and returned.json()["review_comment"] == comment
    _refused(_post(client, f"{url}/publish", people["author"]), "is returned", "submit it again")
    again = _post(client, f"{url}/submit", people["author"], JULY)
    assert again.status_code == 200 and again.json()["review_state"] == "submitted"


def test_review_when_submitted_a_draft_that_would_not_publish_is_refused(client, people):
    broken = _new(client, people, CHANGED.replace('"ui_paid_months >= 12"', '"ui_paid_month >= 12"'))
    answer = _post(client, f"/policy-drafts/{broken}/submit", people["author"], JULY)
    assert answer.status_code == 409 and "does not load" in answer.json()["detail"]
    assert client.get(f"/policy-drafts/{broken}", headers=people["author"]).json()["review_state"] == "draft"


def test_review_when_two_checkers_race_only_the_state_they_read_moves(client, engine, people):
    draft = _new(client, people)
    _post(client, f"/policy-drafts/{draft}/submit", people["author"], JULY)
    with engine.begin() as connection:
        seen = _draft_row(connection, draft)  # read by the first checker
    assert _post(client, f"/policy-drafts/{draft}/reject", people["checker"], {"comment": "退回"}).status_code == 200
    with engine.begin() as connection, pytest.raises(Conflict, match="meanwhile"):
        _move(connection, seen, review_state="approved", reviewed_at=datetime.now(UTC))
    assert client.get(f"/policy-drafts/{draft}", headers=people["author"]).json()["review_state"] == "returned"


def test_review_when_drafts_are_submitted_as_a_set_they_move_and_publish_together(client, people):
    from tests.api.service.test_publish_sets import pair

    a, b = (_new(client, people, pair("pair-a", "pair-b")), _new(client, people, pair("pair-b", "pair-a")))
    body = {"draft_ids": [a, b], "effective_from": "2025-07-01"}
    assert _post(client, "/policy-drafts/submit", people["author"], body).status_code == 200
    _refused(_post(client, f"/policy-drafts/{a}/approve", people["author"]), "another officer")
    assert _post(client, f"/policy-drafts/{a}/approve", people["checker"]).status_code == 200
    assert client.get(f"/policy-drafts/{b}", headers=people["author"]).json()["review_state"] == "approved"
    _refused(_post(client, f"/policy-drafts/{a}/publish", people["author"]), "as one set", "publish them together")

    # Changing one member sends the whole set back: it was one review.
    client.put(f"/policy-drafts/{b}", content=pair("pair-b", "pair-a"), headers=YAML | people["author"])
    states = [client.get(f"/policy-drafts/{i}", headers=people["author"]).json() for i in (a, b)]
    assert [(s["review_state"], s["review_set"]) for s in states] == [("draft", []), ("draft", [])]
    _refused(_post(client, "/policy-drafts/publish", people["author"], {"draft_ids": [a, b]}), "is draft")

    assert _post(client, "/policy-drafts/submit", people["author"], body).status_code == 200
    assert _post(client, f"/policy-drafts/{b}/approve", people["checker"]).status_code == 200
    done = _post(client, "/policy-drafts/publish", people["author"], {"draft_ids": [a, b]})
    assert done.status_code == 201, done.text
    assert [p["policy_id"] for p in done.json()] == ["pair-a", "pair-b"]


def test_review_when_drafts_reviewed_apart_are_published_as_a_set_it_is_refused(client, people):
    from tests.api.service.test_publish_sets import pair

    a, b = (_new(client, people, pair("solo-a", "x", excludes=False)), _new(client, people, pair("solo-b", "x", False)))
    for draft in (a, b):
        assert _post(client, f"/policy-drafts/{draft}/submit", people["author"], JULY).status_code == 200
        assert _post(client, f"/policy-drafts/{draft}/approve", people["checker"]).status_code == 200
    _refused(
        _post(client, "/policy-drafts/publish", people["author"], {"draft_ids": [a, b]}),
        "not approved as one set",
        "reviewed alone",
    )


def test_withdrawal_when_approved_and_published_ends_the_version_from_a_future_date(client, engine, people):
    today = datetime.now(UTC).date()
    past = {"policy_id": "rd-super-deduction", "version": 1, "withdraw_from": str(today)}
    _refused(_post(client, "/policy-drafts/withdrawals", people["author"], past), "future date")
    missing = past | {"version": 9, "withdraw_from": str(today + timedelta(days=30))}
    _refused(_post(client, "/policy-drafts/withdrawals", people["author"], missing), "no version 9", "[1]")

    day = today + timedelta(days=30)
    created = _post(client, "/policy-drafts/withdrawals", people["author"], past | {"withdraw_from": str(day)})
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["kind"] == "withdrawal" and draft["effective_from"] == str(day)
    assert f"to: {day - timedelta(days=1)}" in draft["text"]
    url = f"/policy-drafts/{draft['id']}"
    assert client.put(url, content=draft["text"], headers=YAML | people["author"]).status_code == 409
    assert client.post(f"{url}/validate", headers=people["author"]).json()["valid"] is True
    _refused(_post(client, f"{url}/publish", people["author"]), "is draft")
    assert _post(client, f"{url}/submit", people["author"]).status_code == 200
    _refused(_post(client, f"{url}/approve", people["author"]), "another officer")
    assert _post(client, f"{url}/approve", people["checker"]).status_code == 200
    published = _post(client, f"{url}/publish", people["author"])
    assert published.status_code == 201, published.text
    assert published.json()["effective_to"] == str(day - timedelta(days=1))

    versions = client.get("/policies/rd-super-deduction", headers=people["author"]).json()["versions"]
    assert [(v["version"], v["effective_to"]) for v in versions] == [(1, str(day - timedelta(days=1)))]
    with engine.connect() as connection:
        assert "policy.withdraw" in connection.execute(select(audit_log.c.action)).scalars().all()
    assert date.fromisoformat(versions[0]["effective_from"]) < day

"""Publishing related drafts together: two new policies that exclude each other, all or nothing."""

from __future__ import annotations

from tests.policies.test_load import GOOD

YAML = {"content-type": "application/yaml"}


def pair(pid: str, other: str, excludes: bool = True) -> str:
    text = GOOD.replace("id: test-policy", f"id: {pid}")
    return text.replace("  excludes: []\n", f"  excludes: [{other}]\n" if excludes else "  excludes: []\n")


def drafts(client, tokens, *texts: str) -> list[int]:
    ids = []
    for text in texts:
        response = client.post("/policy-drafts", content=text, headers=YAML | tokens.headers("officer"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def test_publish_set_when_two_new_policies_exclude_each_other_publishes_both_at_once(client, tokens):
    officer = tokens.headers("officer")
    a, b = drafts(client, tokens, pair("pair-a", "pair-b"), pair("pair-b", "pair-a"))
    alone = client.post(f"/policy-drafts/{a}/submit", json={"effective_from": "2025-07-01"}, headers=officer)
    assert alone.status_code == 422 and "names unknown policy 'pair-b'" in alone.text
    submitted = client.post(
        "/policy-drafts/submit", json={"draft_ids": [a, b], "effective_from": "2025-07-01"}, headers=officer
    )
    assert submitted.status_code == 200 and [d["review_set"] for d in submitted.json()] == [[a, b], [a, b]]
    approved = client.post(f"/policy-drafts/{b}/approve", headers=tokens.headers("admin"))  # approves the set
    assert approved.status_code == 200, approved.text

    done = client.post(
        "/policy-drafts/publish", json={"draft_ids": [a, b], "effective_from": "2025-07-01"}, headers=officer
    )
    assert done.status_code == 201, done.text
    assert [(p["policy_id"], p["version"], p["effective_from"]) for p in done.json()] == [
        ("pair-a", 1, "2025-07-01"),
        ("pair-b", 1, "2025-07-01"),
    ]
    for pid in ("pair-a", "pair-b"):
        assert client.get(f"/policies/{pid}", headers=officer).status_code == 200
    again = client.post(
        "/policy-drafts/publish", json={"draft_ids": [a, b], "effective_from": "2025-07-01"}, headers=officer
    )
    assert again.status_code == 409 and "already published" in again.json()["detail"]


def test_publish_set_when_the_set_breaks_the_catalogue_publishes_none_and_says_why(client, tokens):
    officer = tokens.headers("officer")
    a, b = drafts(client, tokens, pair("pair-a", "pair-b"), pair("pair-b", "pair-a", excludes=False))
    refused = client.post(
        "/policy-drafts/submit", json={"draft_ids": [a, b], "effective_from": "2025-07-01"}, headers=officer
    )
    assert refused.status_code == 422
    assert "'pair-a' excludes 'pair-b' but 'pair-b' does not exclude 'pair-a'" in refused.text
    for pid in ("pair-a", "pair-b"):
        assert client.get(f"/policies/{pid}", headers=officer).status_code == 404
    for draft in (a, b):
        assert client.get(f"/policy-drafts/{draft}", headers=officer).json()["published_at"] is None


def test_publish_set_when_a_draft_is_named_twice_or_alone_is_refused(client, tokens):
    officer = tokens.headers("officer")
    (a,) = drafts(client, tokens, pair("pair-a", "pair-b", excludes=False))
    one = client.post(
        "/policy-drafts/publish", json={"draft_ids": [a], "effective_from": "2025-07-01"}, headers=officer
    )
    assert one.status_code == 422
    twice = client.post(
        "/policy-drafts/publish", json={"draft_ids": [a, a], "effective_from": "2025-07-01"}, headers=officer
    )
    assert twice.status_code == 409 and "more than once" in twice.json()["detail"]

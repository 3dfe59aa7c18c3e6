"""An officer sees, before publishing, the enterprises whose amount a draft cannot pay."""

from tests.api.service.test_policies import CHANGED, YAML

NEGATIVE = CHANGED.replace(
    "amount: \"round(ui_paid_last_year * if(size_class == 'large', 30%, 60%), 2)\"",
    'amount: "round(1000 - ui_paid_last_year, 2)"',
)


def test_impact_when_the_draft_computes_negative_amounts_lists_them_for_the_officer(client, tokens):
    assert NEGATIVE != CHANGED
    officer = tokens.headers("officer")
    draft = client.post("/policy-drafts", content=NEGATIVE, headers=YAML | officer).json()
    assert draft["valid"], draft["problems"]
    answer = client.get(f"/policy-drafts/{draft['id']}/impact", headers=officer)
    assert answer.status_code == 200
    errors = answer.json()["amount_errors"]
    assert errors["enterprises"] > 0 and errors["reasons"] == ["negative"]
    assert all(e["amount_yuan"] < 0 for e in errors["examples"])
    # The enterprises with an unpayable amount are not counted as paid at a negative cost.
    assert answer.json()["draft"]["amount_fen"] >= 0


def test_publish_when_the_draft_computes_negative_amounts_is_refused_at_the_amount(client, engine, tokens):
    officer = tokens.headers("officer")
    draft = client.post("/policy-drafts", content=NEGATIVE, headers=YAML | officer).json()
    line = next(i for i, t in enumerate(NEGATIVE.splitlines(), 1) if "1000 - ui_paid_last_year" in t)
    checked = client.post(f"/policy-drafts/{draft['id']}/validate", headers=officer).json()
    assert checked["valid"] is False
    (problem,) = [p for p in checked["problems"] if "cannot be paid" in p["message"]]
    assert problem["line"] == line and "negative" in problem["message"]
    refused = client.post(
        f"/policy-drafts/{draft['id']}/submit", json={"effective_from": "2025-07-01"}, headers=officer
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["line"] == line
    assert client.get("/policies/job-retention-refund", headers=officer).json()["versions"][-1]["version"] == 1

"""Enterprises: their decisions and notices, the explanation, and their actions (stored, audited, isolated)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update

from api.service.explain import evidence
from api.service.schemas.enterprises import DecisionDetail
from matcher.db.keys import same_benefit
from matcher.db.models import audit_log, benefit_journal, benefits, decisions, notices, responses
from policies.trace import trace
from tests.api.service.conftest import AS_OF, notice_of


def _count(engine, table, *where) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_decisions_when_read_by_the_enterprise_lists_only_its_own_with_amounts(client, engine, tokens):
    response = client.get(f"/enterprises/{tokens.uscc}/decisions", headers=tokens.headers("enterprise"))
    assert response.status_code == 200
    rows = response.json()
    assert rows and {r["uscc"] for r in rows} == {tokens.uscc}
    assert len(rows) == _count(engine, decisions, decisions.c.uscc == tokens.uscc)
    assert all(r["title"]["zh"] and r["title"]["en"] for r in rows)
    granted = [r for r in rows if r["status"] == "granted"]
    assert all(r["benefit_status"] == "granted" for r in granted), granted


def test_decisions_of_a_run_list_in_the_order_the_run_pushed_them(client, engine, tokens):
    """An enterprise reads one run's decisions in the order the run pushed their notices (``position``, which a run
    that ranks records: tests/matcher/ranking/test_serve.py), not in the order they were written."""
    with engine.connect() as connection:
        ids = connection.execute(
            select(decisions.c.id).where(decisions.c.uscc == tokens.uscc).order_by(decisions.c.id)
        ).all()
    assert len(ids) >= 3  # else no order tells the positions from the ids
    pushed = [ids[1], *ids[2:][::-1], ids[0]]  # neither the ids' order nor its reverse
    with engine.begin() as connection:
        for place, row in enumerate(pushed, start=1):
            connection.execute(update(decisions).where(decisions.c.id == row.id).values(position=place))
    listed = client.get(f"/enterprises/{tokens.uscc}/decisions", headers=tokens.headers("enterprise")).json()
    assert [d["id"] for d in listed] == [r.id for r in pushed]


def test_decision_when_explained_shows_each_condition_with_registry_and_date(client, engine, tokens, repository):
    with engine.connect() as connection:
        decision_id = connection.execute(
            select(decisions.c.id).where(decisions.c.uscc == tokens.uscc, decisions.c.status == "awaiting_confirmation")
        ).scalar()
    body = client.get(
        f"/enterprises/{tokens.uscc}/decisions/{decision_id}", headers=tokens.headers("enterprise")
    ).json()
    explanation = body["explanation"]
    assert explanation["available"] and explanation["eligible"] == "met"
    leaves = [c for c in explanation["conditions"] if c["facts"]]
    assert leaves and all(c["result"] in ("met", "not_met", "unknown") for c in leaves)
    fact = leaves[0]["facts"][0]
    assert fact["registries"] and fact["registries"][0]["zh"] and fact["as_of"] == "2025-06-30"
    assert "截至2025-06-30" in explanation["lines"]["zh"][1] and "as of 2025-06-30" in explanation["lines"]["en"][1]
    assert explanation["ranking_reasons"] is None  # hook for the ranker's explanations
    # The lines are the tracer's own, as delivery renders them into notices.
    with engine.connect() as connection:
        facts = connection.execute(select(decisions.c.facts).where(decisions.c.id == decision_id)).scalar_one()
    traced = trace(
        repository.get(body["policy_id"], body["policy_version"]), evidence(facts) | {"uscc": tokens.uscc}, AS_OF
    )
    assert explanation["lines"] == {"zh": traced.lines("zh"), "en": traced.lines("en")}


def test_decision_when_explained_is_written_byte_for_byte_as_the_schema_writes_it(client, engine, tokens):
    # The route writes its JSON without validating (that cost more than the rest): what a client reads must still
    # be DecisionDetail's JSON — no stored field beyond it, every default, its order, its floats — for a decision
    # of each status and policy, and one whose policy version left the catalogue.
    def explained(uscc: str, decision_id: int) -> dict:
        response = client.get(f"/enterprises/{uscc}/decisions/{decision_id}", headers=tokens.headers("officer"))
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert response.content == DecisionDetail.model_validate_json(response.content).model_dump_json().encode()
        return response.json()["explanation"]

    with engine.connect() as connection:
        first = select(func.min(decisions.c.id)).group_by(decisions.c.status, decisions.c.policy_id)
        picked = connection.execute(select(decisions.c.uscc, decisions.c.id).where(decisions.c.id.in_(first))).all()
        gone = connection.execute(select(decisions.c.uscc, decisions.c.id).order_by(decisions.c.id)).first()
    assert len(picked) >= 10
    for uscc, decision_id in picked:
        explained(uscc, decision_id)
    with engine.begin() as connection:
        connection.execute(update(decisions).where(decisions.c.id == gone.id).values(policy_version=99))
    unavailable = explained(gone.uscc, gone.id)
    assert unavailable["available"] is False and unavailable["note"]["en"].startswith("this policy version")


def test_near_miss_when_explained_says_what_is_missing(client, engine, tokens):
    near = notice_of(engine, "near_miss") or notice_of(engine, "needs_data")
    response = client.get(f"/enterprises/{near.uscc}/notices/{near.id}", headers=tokens.headers("officer"))
    explanation = response.json()["explanation"]
    if near.kind == "near_miss":
        assert explanation["failing"] and explanation["failing"][0]["condition"]["zh"]
    else:
        assert explanation["missing_facts"] and explanation["missing_facts"][0]["label"]["zh"]


def test_notice_when_opened_by_the_enterprise_is_recorded_once_and_audited(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    url = f"/enterprises/{tokens.uscc}/notices/{notice.id}"
    first = client.get(url, headers=tokens.headers("enterprise")).json()
    client.get(url, headers=tokens.headers("enterprise"))
    client.get(url, headers=tokens.headers("officer"))  # an officer reading is not the enterprise opening it
    assert first["responses"] == ["opened"] and first["title"]["zh"].startswith("【一键确认】")
    assert _count(engine, responses, responses.c.notice_id == notice.id, responses.c.kind == "opened") == 1
    assert _count(engine, audit_log, audit_log.c.action == "notice.opened") == 1


def test_confirm_when_awaiting_confirmation_enters_the_ledger_once(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    url = f"/enterprises/{tokens.uscc}/notices/{notice.id}/confirm"
    done = client.post(url, headers=tokens.headers("enterprise"))
    assert done.status_code == 200 and done.json()["benefit_status"] == "granted", done.text
    assert done.json()["message"]["zh"] and done.json()["message"]["en"]
    again = client.post(url, headers=tokens.headers("enterprise"))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert "detail_zh" in again.json()
    key = (benefits.c.uscc == tokens.uscc, benefits.c.policy_id == notice.policy_id)
    assert _count(engine, benefits, *key) == 1
    with engine.connect() as connection:
        amount = connection.execute(select(benefits.c.amount_fen).where(*key)).scalar_one()
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "notice.confirmed")).one()
    assert amount == notice.amount_fen
    assert entry.actor.startswith(f"enterprise:{tokens.uscc}") and entry.subject == f"notice:{notice.id}"


def test_confirm_when_called_by_an_officer_or_admin_is_refused(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    for role in ("officer", "admin"):
        refused = client.post(f"/enterprises/{tokens.uscc}/notices/{notice.id}/confirm", headers=tokens.headers(role))
        assert refused.status_code == 403 and "act for it" in refused.json()["detail"]
    assert _count(engine, responses) == 0 and _count(engine, audit_log) == 0


def test_objection_when_granted_holds_the_payout_and_pending_notices(client, engine, tokens):
    granted = notice_of(engine, "granted")
    headers = {"Authorization": f"Bearer {_token_for(engine, granted.uscc)}"}
    url = f"/enterprises/{granted.uscc}/notices/{granted.id}/object"
    short = client.post(url, json={"reason": "no"}, headers=headers)
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "body.reason"
    done = client.post(url, json={"reason": "我单位参保人数有误，请核实"}, headers=headers)
    assert done.status_code == 200 and done.json()["benefit_status"] == "held"
    with engine.connect() as connection:
        status = connection.execute(
            select(benefits.c.status).where(benefits.c.uscc == granted.uscc, benefits.c.policy_id == granted.policy_id)
        ).scalar_one()
        delivery = connection.execute(select(notices.c.delivery_status).where(notices.c.id == granted.id)).scalar_one()
        feedback = connection.execute(select(responses).where(responses.c.notice_id == granted.id)).one()
    assert status == "held" and delivery == "held"
    assert feedback.kind == "objected" and feedback.detail == {"reason": "我单位参保人数有误，请核实"}


def test_decline_when_granted_cancels_the_benefit(client, engine, tokens):
    granted = notice_of(engine, "granted")
    headers = {"Authorization": f"Bearer {_token_for(engine, granted.uscc)}"}
    done = client.post(f"/enterprises/{granted.uscc}/notices/{granted.id}/decline", json={}, headers=headers)
    assert done.status_code == 200 and done.json()["benefit_status"] == "cancelled"


def test_supply_when_a_fact_was_not_asked_for_names_the_field(client, engine, tokens):
    asking = notice_of(engine, "needs_data")
    headers = {"Authorization": f"Bearer {_token_for(engine, asking.uscc)}"}
    url = f"/enterprises/{asking.uscc}/notices/{asking.id}/supply"
    with engine.connect() as connection:
        asked = connection.execute(
            select(decisions.c.unknown_facts).where(
                decisions.c.uscc == asking.uscc, decisions.c.policy_id == asking.policy_id
            )
        ).scalar_one()
    wrong = client.post(url, json={"facts": {"registered_capital_typo": 1}}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.facts.registered_capital_typo"
    assert asked.split("; ")[0] in wrong.json()["errors"][0]["message"]
    assert _count(engine, responses, responses.c.kind == "supplied_data") == 0


def test_supply_when_facts_are_asked_for_stores_them_with_a_preview(client, engine, tokens):
    from features.profiles.catalogue import fact

    asking = notice_of(engine, "needs_data")
    headers = {"Authorization": f"Bearer {_token_for(engine, asking.uscc)}"}
    with engine.connect() as connection:
        asked = connection.execute(
            select(decisions.c.unknown_facts).where(
                decisions.c.uscc == asking.uscc, decisions.c.policy_id == asking.policy_id
            )
        ).scalar_one()
    samples = {"bool": False, "int": 12, "number": 12.0, "str": "x", "date": "2024-01-01"}
    facts = {}
    for name in asked.split("; "):
        f = fact(name)
        facts[name] = f.values[0] if f.kind == "str" and f.values else samples[f.kind]
    done = client.post(f"/enterprises/{asking.uscc}/notices/{asking.id}/supply", json={"facts": facts}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["preview"]["eligible"] in ("met", "not_met", "unknown")
    assert _count(engine, responses, responses.c.kind == "supplied_data") == 1


def test_enterprise_when_reaching_for_another_enterprise_is_refused_everywhere(client, engine, tokens):
    theirs = notice_of(engine, "awaiting_confirmation")
    mine = tokens.headers("other")
    for path in ("decisions", "notices", f"notices/{theirs.id}"):
        assert client.get(f"/enterprises/{tokens.uscc}/{path}", headers=mine).status_code == 403
    assert client.post(f"/enterprises/{tokens.uscc}/notices/{theirs.id}/confirm", headers=mine).status_code == 403
    # Its own path with the other enterprise's notice id finds nothing.
    response = client.post(f"/enterprises/{tokens.other_uscc}/notices/{theirs.id}/confirm", headers=mine)
    assert response.status_code == 404 and response.json()["detail_zh"]
    assert _count(engine, benefits, benefits.c.uscc == tokens.uscc, benefits.c.policy_id == theirs.policy_id) == 0


def test_request_when_the_token_is_missing_or_unknown_is_401_problem(client, tokens):
    for headers in ({}, {"Authorization": "Bearer hq_not-a-token"}, {"Authorization": "Basic abc"}):
        response = client.get("/policies", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["status"] == 401 and response.json()["detail"]


def _token_for(engine, uscc: str) -> str:
    from api.service.tokens import issue_token

    return issue_token(engine, role="enterprise", uscc=uscc, name="test")[0]


def test_decline_when_confirmed_and_unpaid_cancels_it_with_journal_entries(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    base = f"/enterprises/{tokens.uscc}/notices/{notice.id}"
    assert client.post(f"{base}/confirm", headers=tokens.headers("enterprise")).status_code == 200
    done = client.post(f"{base}/decline", json={"reason": "不再需要"}, headers=tokens.headers("enterprise"))
    assert done.status_code == 200 and done.json()["benefit_status"] == "cancelled", done.text
    with engine.connect() as connection:
        ledger = connection.execute(select(benefits.c.status, benefits.c.amount_fen).where(same_benefit(notice))).one()
        journal = connection.execute(
            select(benefit_journal)
            .where(
                benefit_journal.c.uscc == notice.uscc,
                benefit_journal.c.policy_id == notice.policy_id,
                benefit_journal.c.period_key == notice.period_key,
            )
            .order_by(benefit_journal.c.id)
        ).all()
    assert tuple(ledger) == ("cancelled", 0)
    assert [(j.entry, j.amount_before_fen, j.amount_after_fen) for j in journal] == [
        ("confirmed", 0, notice.amount_fen),
        ("cancelled", notice.amount_fen, 0),
    ]
    assert all(j.actor.startswith(f"enterprise:{tokens.uscc}") for j in journal)
    assert journal[1].reason == "declined by the enterprise: 不再需要"


def test_confirm_when_the_deadline_has_passed_is_refused_with_the_date(client, engine, tokens):
    notice = notice_of(engine, "awaiting_confirmation")
    with engine.begin() as connection:
        connection.execute(update(notices).where(notices.c.id == notice.id).values(respond_by=date(2024, 7, 15)))
    late = client.post(f"/enterprises/{tokens.uscc}/notices/{notice.id}/confirm", headers=tokens.headers("enterprise"))
    assert late.status_code == 409
    assert late.json()["detail"] == "the deadline to confirm this notice was 2024-07-15; it has passed"
    assert late.json()["detail_zh"] == "该事项的确认期限为 2024-07-15，已逾期"
    assert _count(engine, benefits, same_benefit(notice)) == 0


def test_objection_when_nothing_is_in_the_ledger_does_not_say_a_payout_is_held(client, engine, tokens):
    asked = notice_of(engine, "needs_data")
    headers = {"Authorization": f"Bearer {_token_for(engine, asked.uscc)}"}
    done = client.post(
        f"/enterprises/{asked.uscc}/notices/{asked.id}/object", json={"reason": "我单位数据已齐全"}, headers=headers
    )
    assert done.status_code == 200 and done.json()["benefit_status"] is None
    assert done.json()["message"]["en"] == "Objection received: an officer will review it."
    assert "暂缓拨付" not in done.json()["message"]["zh"]

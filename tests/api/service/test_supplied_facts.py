"""The supplied-facts loop end to end: a needs-data notice → the enterprise supplies → an officer accepts or
rejects → the next run decides with what was accepted and says where it came from."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from api.service.problems import Conflict, Invalid
from api.service.supplied_facts import attest, check_attester, review_supplied
from api.service.tokens import Principal, issue_token
from matcher.db.models import audit_log, decisions, notices, runs, supplied_facts
from matcher.run import run_matching
from policies.load import CATALOGUE_DIR, load_catalogue
from tests.api.service.conftest import AS_OF

P1 = "job-retention-refund"
EXCLUSIONS = {"zombie_firm", "in_bankruptcy"}
# P1 with its zombie and bankruptcy exclusions on declared facts (the shipped P1 leaves them out: docs/policies.md).
DECLARED_P1 = Path(__file__).resolve().parents[2] / "policies/declared/p01-job-retention-refund.yaml"


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalogue")
    for file in CATALOGUE_DIR.glob("*.yaml"):
        shutil.copy(file, folder / file.name)
    shutil.copy(DECLARED_P1, folder / DECLARED_P1.name)
    return load_catalogue(folder)


def _asking_for_exclusions(engine, n: int):
    """``n`` P1 needs-data notices that ask for the declared exclusions only (otherwise eligible)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(notices, decisions.c.unknown_facts)
            .join(
                decisions,
                (decisions.c.run_id == notices.c.run_id)
                & (decisions.c.uscc == notices.c.uscc)
                & (decisions.c.policy_id == notices.c.policy_id),
            )
            .where(notices.c.kind == "needs_data", notices.c.policy_id == P1)
            .order_by(notices.c.id)
        ).all()
    chosen = [r for r in rows if set(r.unknown_facts.split("; ")) == EXCLUSIONS][:n]
    assert len(chosen) == n, "the synthetic registry should hold otherwise-eligible P1 firms"
    return chosen


def _enterprise(engine, uscc: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(engine, role='enterprise', uscc=uscc, name='test')[0]}"}


def _officer(engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(engine, role='officer', name='王科员')[0]}"}


def _decision(engine, run_id: str, uscc: str):
    with engine.connect() as connection:
        return connection.execute(
            select(decisions).where(decisions.c.run_id == run_id, decisions.c.uscc == uscc, decisions.c.policy_id == P1)
        ).first()


def test_supplied_facts_when_accepted_decide_the_next_run_with_their_lineage_and_rejected_ones_do_not(
    client, engine, checked, repository, matched
):
    kept, refused = _asking_for_exclusions(engine, 2)
    officer = _officer(engine)

    # The enterprise answers in two goes; the second preview combines both answers.
    url = f"/enterprises/{kept.uscc}/notices/{kept.id}/supply"
    first = client.post(
        url, json={"facts": {"zombie_firm": False}, "note": "承诺书"}, headers=_enterprise(engine, kept.uscc)
    )
    assert first.status_code == 200, first.text
    assert first.json()["preview"]["eligible"] == "unknown"  # bankruptcy not yet answered
    second = client.post(
        url, json={"facts": {"in_bankruptcy": False}, "note": "承诺书"}, headers=_enterprise(engine, kept.uscc)
    )
    assert second.json()["preview"]["eligible"] == "met"
    assert second.json()["preview"]["amount_yuan"] > 0

    no = f"/enterprises/{refused.uscc}/notices/{refused.id}/supply"
    answer = {"facts": {"zombie_firm": False, "in_bankruptcy": False}, "note": "承诺书"}
    assert client.post(no, json=answer, headers=_enterprise(engine, refused.uscc)).status_code == 200

    queue = client.get("/supplied-facts?status=open", headers=officer).json()
    assert [(q["uscc"], q["fact"]) for q in queue] == [
        (kept.uscc, "zombie_firm"), (kept.uscc, "in_bankruptcy"),
        (refused.uscc, "zombie_firm"), (refused.uscc, "in_bankruptcy"),
    ]  # fmt: skip
    assert queue[0]["notice_id"] == kept.id and queue[0]["evidence"] == "承诺书"
    for q in queue:
        body = (
            {"outcome": "accepted"} if q["uscc"] == kept.uscc else {"outcome": "rejected", "reason": "已被法院受理破产"}
        )
        assert client.post(f"/supplied-facts/{q['id']}/review", json=body, headers=officer).status_code == 200

    # The enterprise sees the outcome on its notice.
    seen = client.get(f"/enterprises/{refused.uscc}/notices/{refused.id}", headers=_enterprise(engine, refused.uscc))
    outcomes = seen.json()["supplied_facts"]
    assert {o["status"] for o in outcomes} == {"rejected"} and outcomes[0]["reason"] == "已被法院受理破产"

    # The next run is a new run (the accepted facts are among its inputs) and decides with them.
    later = run_matching(engine, checked, AS_OF, repository.in_force(AS_OF))
    assert later.run_id != matched.run_id and later.outcome == "completed"
    assert _decision(engine, later.run_id, kept.uscc).status == "granted"
    assert _decision(engine, later.run_id, refused.uscc).status == "needs_data"

    with engine.connect() as connection:
        granted = connection.execute(
            select(notices.c.id).where(
                notices.c.uscc == kept.uscc, notices.c.policy_id == P1, notices.c.run_id == later.run_id
            )
        ).scalar_one()
    read = client.get(f"/enterprises/{kept.uscc}/notices/{granted}", headers=_enterprise(engine, kept.uscc)).json()
    used = {f["name"]: f for c in read["explanation"]["conditions"] for f in c["facts"]}
    today = datetime.now(UTC).date().isoformat()
    assert used["zombie_firm"]["value"] is False
    assert used["zombie_firm"]["lineage"]["en"] == (
        f"supplied by the enterprise on {today}, accepted by officer:王科员#"
        + used["zombie_firm"]["lineage"]["en"].split("#")[1]
    )
    assert used["zombie_firm"]["lineage"]["zh"].startswith(f"由企业于{today}补充，经officer:王科员")
    sentences = " ".join(read["explanation"]["lines"]["zh"])
    assert "核实采纳" in sentences and "zombie_firm" not in sentences
    # The decision, read on its own, says the same about where the fact came from.
    decision = _decision(engine, later.run_id, kept.uscc)
    detail = client.get(f"/enterprises/{kept.uscc}/decisions/{decision.id}", headers=_enterprise(engine, kept.uscc))
    same = {f["name"]: f for c in detail.json()["explanation"]["conditions"] for f in c["facts"]}
    assert same["zombie_firm"]["lineage"] == used["zombie_firm"]["lineage"]


def test_review_when_repeated_or_a_rejection_has_no_reason_changes_nothing(client, engine, matched):
    (notice,) = _asking_for_exclusions(engine, 1)
    headers = _enterprise(engine, notice.uscc)
    client.post(
        f"/enterprises/{notice.uscc}/notices/{notice.id}/supply",
        json={"facts": {"zombie_firm": False}},
        headers=headers,
    )
    officer = _officer(engine)
    (row,) = client.get("/supplied-facts", headers=officer).json()
    unreasoned = client.post(f"/supplied-facts/{row['id']}/review", json={"outcome": "rejected"}, headers=officer)
    assert unreasoned.status_code == 422 and unreasoned.json()["errors"][0]["field"] == "body.rejected.reason"
    assert (
        client.post(f"/supplied-facts/{row['id']}/review", json={"outcome": "accepted"}, headers=officer).status_code
        == 200
    )
    again = client.post(
        f"/supplied-facts/{row['id']}/review", json={"outcome": "rejected", "reason": "x"}, headers=officer
    )
    assert again.status_code == 409 and "accepted" in again.json()["detail"]
    with engine.connect() as connection:
        assert connection.execute(select(supplied_facts.c.status)).scalars().all() == ["accepted"]
        actions = connection.execute(select(audit_log.c.action).where(audit_log.c.action.like("supplied_fact.%")))
        assert actions.scalars().all() == ["supplied_fact.accepted"]


def test_supply_when_the_enterprise_resupplies_a_fact_replaces_its_open_value(client, engine, matched):
    (notice,) = _asking_for_exclusions(engine, 1)
    url, headers = f"/enterprises/{notice.uscc}/notices/{notice.id}/supply", _enterprise(engine, notice.uscc)
    client.post(url, json={"facts": {"in_bankruptcy": True}}, headers=headers)
    client.post(url, json={"facts": {"in_bankruptcy": False}}, headers=headers)
    with engine.connect() as connection:
        rows = connection.execute(select(supplied_facts.c.value, supplied_facts.c.status).order_by(supplied_facts.c.id))
        assert [tuple(r) for r in rows] == [(True, "superseded"), (False, "open")]


def test_attester_when_the_declaration_does_not_name_them_is_refused(engine, matched):
    with pytest.raises(Invalid) as refused:
        check_attester({"unfixed_audit_findings": False}, "enterprise")
    assert "officer, department" in refused.value.detail and "审计" in refused.value.detail_zh
    officer = Principal.operator("李科长")
    with pytest.raises(Invalid):
        attest(engine, officer, uscc="9" * 18, name="zombie_firm", value=True, source="officer", evidence="名单")
    row = attest(
        engine, officer, uscc="9" * 18, name="zombie_firm", value=True, source="department", evidence="发改〔2025〕3号"
    )
    assert row["status"] == "accepted" and row["reviewed_by"] == "cli:李科长"
    with pytest.raises(Conflict):
        review_supplied(engine, officer, row["id"], accept=False, reason="重复")


def test_next_run_when_nothing_new_was_accepted_is_the_same_run(engine, checked, repository, matched):
    again = run_matching(engine, checked, AS_OF, repository.in_force(AS_OF))
    assert (again.run_id, again.outcome) == (matched.run_id, "unchanged")
    with engine.connect() as connection:
        assert connection.execute(select(runs.c.id)).scalars().all() == [matched.run_id]

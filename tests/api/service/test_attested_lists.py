"""POST /supplied-facts/lists: a department's complete list over HTTP — officers only, refused whole when a row
is wrong (422 naming each row), counted and listed when taken; a draft's impact sees it."""

from __future__ import annotations

from sqlalchemy import func, select

from api.service.tokens import issue_token
from features.synthetic.generate import LISTS
from matcher.db.models import attested_lists
from tests.api.service.conftest import AS_OF

QUERY = {"fact": "in_bankruptcy", "department": "court", "as_of": AS_OF.isoformat(), "reference": "(2025)破产名单"}


def _headers(engine, role: str, **kw) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(engine, role=role, name='t', **kw)[0]}", "Content-Type": "text/csv"}


def test_list_import_over_http_is_for_officers_refused_whole_on_a_bad_row_and_listed_when_taken(
    client, engine, registry
):
    data = (registry / LISTS / "in_bankruptcy.csv").read_bytes()
    officer = _headers(engine, "officer")
    analyst = _headers(engine, "analyst")
    assert client.post("/supplied-facts/lists", params=QUERY, content=data, headers=analyst).status_code == 403

    bad = data + b"NOT-A-USCC,true,\n"
    refused = client.post("/supplied-facts/lists", params=QUERY, content=bad, headers=officer)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    rows = data.decode().count("\n")  # header + the good rows: the bad one is data row `rows`
    assert body["errors"][0]["field"] == f"row {rows}.uscc" and "not a valid USCC" in body["errors"][0]["message"]
    assert body["detail_zh"].startswith("名单未导入")
    wrong = client.post("/supplied-facts/lists", params=QUERY | {"department": "sasac"}, content=data, headers=officer)
    assert wrong.status_code == 422 and "who does: market_regulation, court" in wrong.json()["detail"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(attested_lists)).scalar_one() == 0

    taken = client.post("/supplied-facts/lists", params=QUERY, content=data, headers=officer)
    assert taken.status_code == 201, taken.text
    assert (taken.json()["entries"], taken.json()["unknown"]) == (rows - 1, 0)  # every firm is in the profiles
    listed = client.get("/supplied-facts/lists", headers=officer).json()
    assert [(r["fact"], r["current"], r["entries"]) for r in listed] == [("in_bankruptcy", True, rows - 1)]


def test_decision_and_notice_explanations_over_http_name_the_list_a_firm_is_not_on(
    client, engine, registry, checked, repository
):
    from matcher.db.models import decisions, notices
    from matcher.run import run_matching

    data = (registry / LISTS / "in_bankruptcy.csv").read_bytes()
    assert client.post(
        "/supplied-facts/lists", params=QUERY, content=data, headers=_headers(engine, "officer")
    ).is_success
    zombies = (registry / LISTS / "zombie_firm.csv").read_bytes()
    query = QUERY | {"fact": "zombie_firm", "department": "development_reform"}
    assert client.post(
        "/supplied-facts/lists", params=query, content=zombies, headers=_headers(engine, "officer")
    ).is_success
    run = run_matching(engine, checked, AS_OF, repository.in_force(AS_OF))
    with engine.connect() as connection:
        uscc, decision_id = connection.execute(
            select(decisions.c.uscc, decisions.c.id).where(
                decisions.c.run_id == run.run_id, decisions.c.policy_id == "job-retention-refund",
                decisions.c.status == "granted",
            ).limit(1)
        ).one()  # fmt: skip
        notice_id = connection.execute(
            select(notices.c.id).where(notices.c.uscc == uscc, notices.c.policy_id == "job-retention-refund")
        ).scalar()
    reader = {"Authorization": _headers(engine, "enterprise", uscc=uscc)["Authorization"]}
    want = f"not on the list of firms in bankruptcy proceedings of the people's court of {AS_OF}"
    for path in (f"/enterprises/{uscc}/decisions/{decision_id}", f"/enterprises/{uscc}/notices/{notice_id}"):
        got = client.get(path, headers=reader)
        assert got.status_code == 200, got.text
        facts = [f for c in got.json()["explanation"]["conditions"] for f in c["facts"]]
        lineage = {f["name"]: f["lineage"] for f in facts if f["lineage"]}
        assert lineage["in_bankruptcy"]["en"].startswith(want), lineage
        assert lineage["zombie_firm"]["zh"].startswith("未列入发展改革部门")

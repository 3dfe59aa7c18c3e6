"""Complete lists end to end: P1's zombie and bankruptcy exclusions are in the shipped rules; before a department
imports its list every firm is asked (never a silent pass), after it the firms not on the list are paid and the
listed ones are not, and the explanation says "not on the <department>'s list of <date>"."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from api.service.attested_lists import (
    LIST_LINEAGE,
    import_generated_lists,
    import_list,
    list_lineage_from,
    lists,
    merged_lineage,
)
from api.service.explain import explain
from api.service.problems import Invalid
from api.service.tokens import Principal
from features.profiles.declared import load_complete_lists, load_declared
from features.registries.validate import check_registry
from features.synthetic import generate
from features.synthetic.generate import LISTS
from matcher.db.models import attested_list_entries, attested_lists, audit_log, decisions
from matcher.run import run_matching
from policies.errors import PolicyFileError
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
P1 = "job-retention-refund"
OFFICER = Principal.operator("王科员")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    out = tmp_path_factory.mktemp("lists") / "registry"
    generate(out, enterprises=2500, seed=3)
    return out


@pytest.fixture(scope="module")
def checked(registry):
    return check_registry(registry)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _p1(engine, run_id: str) -> pl.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(
            select(decisions.c.uscc, decisions.c.status, decisions.c.facts, decisions.c.unknown_facts).where(
                decisions.c.run_id == run_id, decisions.c.policy_id == P1
            )
        ).all()
    return pl.DataFrame([r._asdict() for r in rows], infer_schema_length=None)


def test_p1_when_no_list_is_imported_asks_and_once_the_lists_are_imported_pays_all_but_the_listed(
    engine, registry, checked, catalogue
):
    policies = catalogue.in_force(AS_OF)
    before = run_matching(engine, checked, AS_OF, policies)
    asked = _p1(engine, before.run_id)
    assert "granted" not in asked["status"].to_list()  # the exclusions are unknown: nobody is paid silently
    assert asked.filter(pl.col("status") == "needs_data")["unknown_facts"].str.contains("zombie_firm").any()

    imported = import_generated_lists(engine, OFFICER, registry / LISTS, AS_OF)
    assert {i["fact"] for i in imported} == {"zombie_firm", "in_bankruptcy"}
    listed = set(pl.read_csv(registry / LISTS / "in_bankruptcy.csv")["uscc"]) | set(
        pl.read_csv(registry / LISTS / "zombie_firm.csv")["uscc"]
    )
    after = run_matching(engine, checked, AS_OF, policies)
    assert after.run_id != before.run_id and after.outcome == "completed"  # the lists are part of the run's id
    paid = _p1(engine, after.run_id).filter(pl.col("status") == "granted")
    assert paid.height > 0
    assert not set(paid["uscc"]) & listed  # a firm on either list is not paid
    assert all(json.loads(f)["in_bankruptcy"] is False for f in paid["facts"])

    # The same files imported again change nothing: no new list, the same run.
    again = import_generated_lists(engine, OFFICER, registry / LISTS, AS_OF)
    assert all(i["unchanged"] for i in again)
    assert run_matching(engine, checked, AS_OF, policies).outcome == "unchanged"

    # Explanations name the list: not on it for a paid firm, on it for a listed one.
    uscc, facts = paid["uscc"][0], paid["facts"][0]
    with engine.connect() as connection:
        found = connection.execute(LIST_LINEAGE, {"uscc": uscc, "run_id": after.run_id}).mappings().all()
        assert connection.execute(LIST_LINEAGE, {"uscc": uscc, "run_id": before.run_id}).all() == []
    lineage = merged_lineage(list_lineage_from(found), {})
    assert lineage["in_bankruptcy"]["words"]["en"].startswith(
        f"not on the list of firms in bankruptcy proceedings of the market-regulation bureau of {AS_OF}"
    )
    assert lineage["zombie_firm"]["words"]["zh"].startswith(f"未列入发展改革部门{AS_OF}的僵尸企业名单")
    explained = explain(catalogue.get(P1), uscc, facts, AS_OF, ranked={}, attested=lineage)
    sources = {f["name"]: f["lineage"] for c in explained["conditions"] for f in c["facts"] if f["lineage"]}
    assert sources["in_bankruptcy"]["en"] == lineage["in_bankruptcy"]["words"]["en"]

    bankrupt = pl.read_csv(registry / LISTS / "in_bankruptcy.csv").row(0, named=True)
    with engine.connect() as connection:
        found = connection.execute(LIST_LINEAGE, {"uscc": bankrupt["uscc"], "run_id": after.run_id}).mappings()
        on = list_lineage_from(found)["in_bankruptcy"]
    assert on["value"] is True and bankrupt["evidence"] in on["words"]["zh"] and on["words"]["zh"].startswith("列入")


def test_an_officers_attestation_over_a_list_counts_only_when_it_overrides_it():
    listed = {"in_bankruptcy": {"value": True, "words": {"zh": "列入", "en": "on"}}}
    attested = {
        "in_bankruptcy": {"value": False, "words": {"zh": "认定", "en": "attested"}, "overrides_registry": False}
    }
    assert merged_lineage(listed, attested)["in_bankruptcy"]["value"] is True  # the list wins, as in the run
    attested["in_bankruptcy"]["overrides_registry"] = True
    assert merged_lineage(listed, attested)["in_bankruptcy"]["value"] is False


def _count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_import_when_a_row_is_wrong_stores_nothing_and_names_each_row(engine, registry):
    good = (registry / LISTS / "in_bankruptcy.csv").read_text(encoding="utf-8")
    first = good.splitlines()[1].split(",")[0]
    bad = good + f"{first},true,dup\nNOT-A-USCC,yes,\n"
    with pytest.raises(Invalid) as refused:
        import_list(engine, OFFICER, bad.encode(), name="in_bankruptcy", department="court", as_of=AS_OF,
                    reference="(2025)粤03破申名单")  # fmt: skip
    fields = [e["field"] for e in refused.value.extensions["errors"]]
    rows = len(good.splitlines())  # the header is line 1, so the first bad row is data row `rows`
    assert fields == [f"row {rows}.uscc", f"row {rows + 1}.uscc"], fields
    assert "listed twice" in refused.value.extensions["errors"][0]["message"]
    assert (_count(engine, attested_lists), _count(engine, attested_list_entries)) == (0, 0)
    with engine.connect() as connection:
        assert connection.execute(select(audit_log)).all() == []


def test_import_when_the_terms_are_wrong_says_which_and_who_keeps_the_list(engine, registry):
    data = (registry / LISTS / "zombie_firm.csv").read_bytes()

    def errors(**terms) -> list[dict]:
        args = {"name": "zombie_firm", "department": "development_reform", "as_of": AS_OF, "reference": "名单"}
        with pytest.raises(Invalid) as refused:
            import_list(engine, OFFICER, data, **(args | terms))
        return refused.value.extensions["errors"]

    assert "who does: development_reform, sasac" in errors(department="court")[0]["message"]
    assert (
        "facts with a complete list: in_bankruptcy, unfixed_audit_findings, zombie_firm"
        in errors(name="wages_last_year")[0]["message"]
    )
    assert errors(name="no_such_fact")[0]["message"].startswith("'no_such_fact' is no fact")
    future = errors(as_of=datetime.now(UTC).date().replace(year=datetime.now(UTC).year + 1), reference=" ")
    assert [e["field"] for e in future] == ["as_of", "reference"]
    assert _count(engine, attested_lists) == 0


def test_import_keeps_a_usccs_no_profile_knows_counts_it_and_writes_it_for_the_officer(engine, registry, tmp_path):
    data = (registry / LISTS / "zombie_firm.csv").read_bytes()
    known = pl.read_csv(registry / LISTS / "zombie_firm.csv")["uscc"]
    profiles = tmp_path / "profiles.parquet"
    pl.DataFrame({"uscc": known[1:]}).write_parquet(profiles)  # the first listed firm is not in the profiles
    done = import_list(engine, OFFICER, data, name="zombie_firm", department="sasac", as_of=AS_OF, reference="名单",
                       profiles=profiles, quarantine_dir=tmp_path / "quarantine")  # fmt: skip
    assert (done["entries"], done["unknown"]) == (known.len(), 1)
    written = pl.read_csv(done["unknown_file"])
    assert written["uscc"].to_list() == [known[0]] and "kept" in written["reason"][0]
    assert _count(engine, attested_list_entries) == known.len()  # kept, not dropped
    with engine.connect() as connection:
        assert [(r["fact"], r["current"]) for r in lists(connection)] == [("zombie_firm", True)]


def test_declared_complete_lists_are_checked_like_a_policy_file(tmp_path):
    assert load_complete_lists()["in_bankruptcy"].absent is False
    text = Path("policies/facts/declared.yaml").read_text(encoding="utf-8")
    wrong = tmp_path / "declared.yaml"
    wrong.write_text(text.replace("absent: false", "absent: 'no'", 1), encoding="utf-8")
    with pytest.raises(PolicyFileError) as err:
        load_declared(wrong)
    assert "complete_list.absent must be a value of this bool fact" in str(err.value) and "declared.yaml:2" in str(
        err.value
    )
    wrong.write_text(text.replace("attested_by: [enterprise, department]", "attested_by: [enterprise]", 1))
    with pytest.raises(PolicyFileError) as err:
        load_declared(wrong)
    assert "needs 'department' in attested_by" in str(err.value)


def test_impact_of_a_draft_sees_the_lists_the_next_run_would_lay_over(engine, registry, checked, catalogue):
    from api.service.impact import impact
    from features.profiles import build_profiles
    from matcher.supplied import lay_over

    bare = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
    p1 = catalogue.get(P1)
    baseline = [p for p in catalogue.in_force(AS_OF) if p.id != P1]
    assert impact(bare, baseline, p1, AS_OF)["draft"]["eligible"] == 0  # nobody: the exclusions are unknown
    import_generated_lists(engine, OFFICER, registry / LISTS, AS_OF)
    laid = lay_over(bare, engine)
    assert laid["in_bankruptcy"].null_count() == 0 and laid["zombie_firm"].null_count() == 0
    seen = impact(laid, baseline, p1, AS_OF, limit=100_000)
    listed = set(pl.read_csv(registry / LISTS / "in_bankruptcy.csv")["uscc"])
    assert seen["draft"]["eligible"] > 0 and not listed & set(seen["newly_eligible"]["uscc"])

"""Benefits paid once per certificate are keyed by the certificate's number, run against a real database.

A renewal (a new number) is paid again, the same certificate never twice (also when it was paid under the key
benefits had before, its validity start), a certificate without a number is asked for, and a number two firms
share is set aside by the registry check.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import insert, select, update

from features.profiles import build_profiles
from features.registries.validate import check_registry
from matcher.db.keys import same_decision
from matcher.db.models import benefit_journal, benefits, decisions, notices
from matcher.notices import notice_texts
from matcher.run import run_matching
from policies.load import load_catalogue
from policies.trace import trace
from tests.factories import uscc, write_registry

SHANTOU, SHANTOU_TOO = uscc(1, "440507"), uscc(2, "440511")
REWARD = "high-tech-reward-shantou"
AS_OF = date(2025, 6, 30)


def policies(on: date):
    return [p for p in load_catalogue().in_force(on) if p.id == REWARD]


def certificate(firm: str, number: str | None, valid_from: date) -> dict:
    valid_to = date(valid_from.year + 3, valid_from.month, valid_from.day)
    return {"uscc": firm, "certificate_no": number, "valid_from": valid_from, "valid_to": valid_to}


def registry(directory: Path, *certificates: dict) -> Path:
    firms = [{"uscc": u, "division_code": u[2:8]} for u in (SHANTOU, SHANTOU_TOO)]
    return write_registry(directory, {"business": firms, "certifications": list(certificates)})


def rewarded(engine) -> list[tuple]:
    with engine.connect() as connection:
        query = select(benefits.c.uscc, benefits.c.period_key, benefits.c.amount_fen).where(
            benefits.c.policy_id == REWARD
        )
        return sorted(connection.execute(query).all())


def decided(engine, run_id: str) -> dict[str, tuple]:
    with engine.connect() as connection:
        query = select(decisions.c.uscc, decisions.c.status, decisions.c.period_key, decisions.c.unknown_facts)
        rows = connection.execute(query.where(decisions.c.run_id == run_id, decisions.c.policy_id == REWARD))
        return {r.uscc: (r.status, r.period_key, r.unknown_facts) for r in rows}


def test_run_keys_a_certificate_by_its_number_and_pays_a_renewal_once(engine, tmp_path):
    first = registry(tmp_path / "r1", certificate(SHANTOU, "GR202444000001", date(2024, 12, 10)))
    run_matching(engine, first, AS_OF, policies(AS_OF))
    assert rewarded(engine) == [(SHANTOU, "cert:GR202444000001", 8_000_000)]

    run_matching(engine, first, date(2026, 3, 31), policies(date(2026, 3, 31)))  # the same certificate: nothing
    assert rewarded(engine) == [(SHANTOU, "cert:GR202444000001", 8_000_000)]

    renewed = registry(
        tmp_path / "r2",
        certificate(SHANTOU, "GR202444000001", date(2024, 12, 10)),
        certificate(SHANTOU, "GR202744000007", date(2027, 12, 10)),
    )
    run_matching(engine, renewed, date(2028, 1, 31), policies(date(2028, 1, 31)))
    run_matching(engine, renewed, date(2028, 6, 30), policies(date(2028, 6, 30)))
    assert rewarded(engine) == [
        (SHANTOU, "cert:GR202444000001", 8_000_000),
        (SHANTOU, "cert:GR202744000007", 8_000_000),
    ]


def test_run_after_the_change_never_pays_again_a_certificate_paid_under_its_validity_start(engine, tmp_path):
    data = registry(tmp_path / "r1", certificate(SHANTOU, "GR202444000001", date(2024, 12, 10)))
    run_matching(engine, data, AS_OF, policies(AS_OF))
    with engine.begin() as connection:  # as the ledger held it before certificates were keyed by number
        for table in (benefits, benefit_journal, notices):
            connection.execute(update(table).values(period_key="cert:2024-12-10"))
    assert rewarded(engine) == [(SHANTOU, "cert:2024-12-10", 8_000_000)]

    later = run_matching(engine, data, date(2026, 3, 31), policies(date(2026, 3, 31)))
    assert rewarded(engine) == [(SHANTOU, "cert:2024-12-10", 8_000_000)]
    assert SHANTOU not in decided(engine, later.run_id)


def test_run_when_the_certificate_has_no_number_asks_for_it_and_pays_nothing(engine, tmp_path):
    data = registry(tmp_path / "r1", certificate(SHANTOU, None, date(2024, 12, 10)))
    summary = run_matching(engine, data, AS_OF, policies(AS_OF))
    status, key, unknown = decided(engine, summary.run_id)[SHANTOU]
    assert (status, key) == ("needs_data", "cert:unknown")
    assert "high_tech_certificate_no" in unknown
    assert rewarded(engine) == []


def test_profile_names_the_valid_certificate_and_leaves_an_unusable_number_unknown(tmp_path):
    data = registry(
        tmp_path / "r1",
        certificate(SHANTOU, "GR202144000001", date(2021, 12, 1)),  # expired
        certificate(SHANTOU, " GR202444000002 ", date(2024, 12, 10)),  # spaces around it are no part of it
        certificate(SHANTOU, None, date(2024, 12, 10)),  # starting the same day, no number: the known one wins
        certificate(SHANTOU_TOO, "GR 2024/44", date(2024, 12, 10)),
    )
    checked = check_registry(data)
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
    got = dict(profiles.select("uscc", "high_tech_certificate_no").iter_rows())
    assert got == {SHANTOU: "GR202444000002", SHANTOU_TOO: None}


def test_registry_check_sets_aside_one_number_held_by_two_firms(tmp_path):
    data = registry(
        tmp_path / "r1",
        certificate(SHANTOU, "GR202444000001", date(2024, 12, 10)),
        certificate(SHANTOU_TOO, "GR202444000001", date(2024, 12, 10)),
    )
    checked = check_registry(data)
    quarantined = checked.tables["certifications"].quarantine.filter(pl.col("rule") == "duplicate")
    assert quarantined["row"].to_list() == [1, 2]
    assert checked.clean("certifications").is_empty()


def test_ledger_holds_a_key_of_the_longest_certificate_number(engine):
    # SQLite enforces no length; PostgreSQL refused any key over 16 characters before migration 0020.
    key = "cert:G" + "1" * 58  # PERIOD_KEY_LENGTH: 64 characters
    row = {"uscc": SHANTOU, "policy_id": REWARD, "policy_version": 1, "period_key": key, "status": "granted"}
    with engine.begin() as connection:
        connection.execute(insert(benefits).values(**row, amount_fen=0, run_id="r1", granted_at=datetime.now(UTC)))
        assert connection.execute(select(benefits.c.period_key)).scalar() == key


def test_notice_says_which_certificate_it_is_about(engine, tmp_path):
    data = registry(tmp_path / "r1", certificate(SHANTOU, "GR202444000001", date(2024, 12, 10)))
    run_matching(engine, data, AS_OF, policies(AS_OF))
    with engine.connect() as connection:  # what the service reads to render a notice (routes/enterprises.py)
        query = select(
            *(notices.c[k] for k in ("policy_id", "policy_version", "period_key", "kind", "amount_fen", "respond_by")),
            decisions.c.facts,
            decisions.c.unknown_facts,
            decisions.c.failing,
            decisions.c.failing_zh,
        ).join(decisions, same_decision(notices.c))
        frame = pl.DataFrame([dict(r) for r in connection.execute(query).mappings()], infer_schema_length=None)
    text = notice_texts(frame, policies(AS_OF)).row(0, named=True)
    assert "证书 GR202444000001（2024-12-10 起有效）。" in text["body_zh"]
    assert "Certificate GR202444000001 (valid from 2024-12-10)." in text["body_en"]


def test_notice_of_a_benefit_keyed_by_its_validity_start_names_the_start():
    policy = policies(AS_OF)
    row = {"policy_id": REWARD, "policy_version": policy[0].version, "period_key": "cert:2024-12-10"}
    row |= {"kind": "granted", "amount_fen": 8_000_000, "respond_by": date(2025, 7, 15), "facts": None}
    row |= {"unknown_facts": None, "failing": None, "failing_zh": None}
    text = notice_texts(pl.DataFrame([row]), policy).row(0, named=True)
    assert text["body_zh"].endswith("证书有效期自 2024-12-10 起。")
    assert text["body_en"].endswith(" Certificate valid from 2024-12-10.")


def test_explanation_names_the_certificate_and_asks_for_a_missing_number():
    policy = policies(AS_OF)[0]
    facts = {"division_code": "440507", "high_tech": True, "status": "operating", "serious_dishonesty": False}
    facts |= {"abnormal_operation": False, "high_tech_valid_from": date(2024, 12, 10)}
    known = trace(policy, facts | {"high_tech_certificate_no": "GR202444000001"}, AS_OF)
    assert known.eligible is True and known.unknown_facts() == []
    assert known.lines("zh")[-1] == "证书 GR202444000001（2024-12-10 起有效）"
    assert known.lines("en")[-1] == "certificate GR202444000001 (valid from 2024-12-10)"
    missing = trace(policy, facts | {"high_tech_certificate_no": None}, AS_OF)
    assert missing.eligible is None and missing.unknown_facts() == ["high_tech_certificate_no"]
    assert missing.lines("zh")[-1].startswith("证书编号：未知，须补充后方可发放")

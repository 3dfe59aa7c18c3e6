"""Entitlements per certificate, per person and top-ups, run against a real database: exactly once."""

from datetime import date
from pathlib import Path

from sqlalchemy import select, update

from matcher.db.models import benefit_journal, benefit_persons, benefits, runs
from matcher.ledger import BenefitKey, JournalEntry, move
from matcher.run import run_matching
from policies.load import load_catalogue
from tests.factories import uscc, write_registry

SHANTOU, SHENZHEN, ZHENGZHOU = uscc(1, "440507"), uscc(2, "440305"), uscc(3, "410102")
OTHER = uscc(4, "440305")
TAKEN = ("one-off-hiring-subsidy", "high-tech-reward-shantou", "zhengzhou-little-giant-award")
TAKEN += ("zhengzhou-specialised-innovative-award",)


def policies(on: date):
    return [p for p in load_catalogue().in_force(on) if p.id in TAKEN]


def youth(firm: str, person: str, hired: date) -> dict:
    # a graduate of the year of hire, on a one-year contract, still insured
    return {
        "uscc": firm,
        "person_id": person,
        "hire_date": hired,
        "graduate_year": hired.year,
        "birth_date": date(2002, 5, 1),
    }


def registry(directory: Path, *, certificate_from: date, hires: list[dict], little_giant: bool = False) -> Path:
    firms = [{"uscc": u, "division_code": u[2:8]} for u in (SHANTOU, SHENZHEN, ZHENGZHOU, OTHER)]
    certificates = [
        {
            "uscc": SHANTOU,
            "certificate_no": f"GR{certificate_from.year}44000001",
            "valid_from": certificate_from,
            "valid_to": date(certificate_from.year + 3, certificate_from.month, certificate_from.day),
        },
        {
            "uscc": ZHENGZHOU,
            "certification": "specialised_innovative",
            "level": "provincial",
            "certificate_no": "ZJTX2023001",
            "valid_from": date(2023, 1, 1),
            "valid_to": date(2026, 12, 31),
        },
    ]
    if little_giant:
        certificates.append(
            {
                "uscc": ZHENGZHOU,
                "certification": "little_giant",
                "level": "national",
                "certificate_no": "XJR2025001",
                "valid_from": date(2025, 7, 1),
                "valid_to": date(2028, 6, 30),
            }
        )
    return write_registry(directory, {"business": firms, "certifications": certificates, "si_hires": hires})


def ledger(engine) -> dict:
    with engine.connect() as connection:
        return {
            "benefits": sorted(
                connection.execute(
                    select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key, benefits.c.amount_fen)
                ).all()
            ),
            "persons": sorted(
                connection.execute(
                    select(benefit_persons.c.person_id, benefit_persons.c.uscc, benefit_persons.c.period_key)
                ).all()
            ),
            "journal": connection.execute(select(benefit_journal.c.uscc)).all().__len__(),
        }


def resume(engine, summary) -> None:
    """As if the run had been killed after writing: its row says running, so the next call resumes it."""
    with engine.begin() as connection:
        connection.execute(update(runs).where(runs.c.id == summary.run_id).values(status="running"))


def test_run_when_persons_are_hired_across_firms_and_quarters_pays_each_once(engine, tmp_path):
    hires = [
        youth(SHENZHEN, "p1", date(2025, 1, 10)),
        youth(SHENZHEN, "p2", date(2025, 2, 10)),
        youth(OTHER, "p2", date(2025, 3, 1)),  # the same person, hired later by another firm: counted once
        youth(OTHER, "p3", date(2025, 3, 1)),
        youth(SHENZHEN, "p4", date(2025, 6, 15)),  # insured 3 months only by the third quarter
    ]
    data = registry(tmp_path / "r1", certificate_from=date(2024, 12, 10), hires=hires)
    june = run_matching(engine, data, date(2025, 6, 30), policies(date(2025, 6, 30)))
    after_june = ledger(engine)
    hiring = sorted(b for b in after_june["benefits"] if b[1] == "one-off-hiring-subsidy")
    # SHENZHEN: p1, p2 (hired first); OTHER: p3 only — p2 is counted once, for the firm that hired them first
    assert hiring == sorted(
        [
            (SHENZHEN, "one-off-hiring-subsidy", "2025-Q2", 300_000),
            (OTHER, "one-off-hiring-subsidy", "2025-Q2", 150_000),
        ]
    )
    assert [p[0] for p in after_june["persons"]] == ["p1", "p2", "p3"]

    resume(engine, june)  # a killed run resumed: nothing written twice, nobody counted again
    assert run_matching(engine, data, date(2025, 6, 30), policies(date(2025, 6, 30))).outcome == "completed"
    assert ledger(engine) == after_june

    september = run_matching(engine, data, date(2025, 9, 30), policies(date(2025, 9, 30)))
    assert september.run_id != june.run_id
    after = ledger(engine)
    new = sorted(set(after["benefits"]) - set(after_june["benefits"]))
    assert new == [(SHENZHEN, "one-off-hiring-subsidy", "2025-Q3", 150_000)]  # p4 only: p1..p3 were paid
    assert [p[0] for p in after["persons"]] == ["p1", "p2", "p3", "p4"]
    assert len({p[0] for p in after["persons"]}) == len(after["persons"])


def test_run_when_a_certificate_is_renewed_rewards_it_once_and_the_old_one_never_again(engine, tmp_path):
    first = registry(tmp_path / "r1", certificate_from=date(2024, 12, 10), hires=[])
    june = run_matching(engine, first, date(2025, 6, 30), policies(date(2025, 6, 30)))
    rewarded = [b for b in ledger(engine)["benefits"] if b[1] == "high-tech-reward-shantou"]
    assert rewarded == [(SHANTOU, "high-tech-reward-shantou", "cert:GR202444000001", 8_000_000)]

    # a later run with the same certificate: a new snapshot date, a new year, the same certificate: nothing
    run_matching(engine, first, date(2026, 3, 31), policies(date(2026, 3, 31)))
    assert [b for b in ledger(engine)["benefits"] if b[1] == "high-tech-reward-shantou"] == rewarded

    renewed = registry(tmp_path / "r2", certificate_from=date(2027, 12, 10), hires=[])
    later = run_matching(engine, renewed, date(2028, 1, 31), policies(date(2028, 1, 31)))
    resume(engine, later)
    run_matching(engine, renewed, date(2028, 1, 31), policies(date(2028, 1, 31)))
    assert [b for b in ledger(engine)["benefits"] if b[1] == "high-tech-reward-shantou"] == [
        *rewarded,
        (SHANTOU, "high-tech-reward-shantou", "cert:GR202744000001", 8_000_000),
    ]
    assert june.outcome == "completed"


def test_run_when_a_higher_award_follows_in_a_top_up_group_pays_the_difference_with_its_reason(engine, tmp_path):
    before = registry(tmp_path / "r1", certificate_from=date(2024, 12, 10), hires=[])
    june = run_matching(engine, before, date(2025, 6, 30), policies(date(2025, 6, 30)))
    with engine.begin() as connection:  # the provincial award is confirmed by the enterprise (delivery confirm)
        move(
            connection,
            BenefitKey(ZHENGZHOU, "zhengzhou-specialised-innovative-award", "once"),
            JournalEntry.CONFIRMED,
            actor="enterprise",
            reason="confirmed by the enterprise",
            ref="notice:1",
            amount_fen=50_000_000,
            policy_version=1,
            run_id=june.run_id,
        )
    after = registry(tmp_path / "r2", certificate_from=date(2024, 12, 10), hires=[], little_giant=True)
    september = run_matching(engine, after, date(2025, 9, 30), policies(date(2025, 9, 30)))
    resume(engine, september)
    run_matching(engine, after, date(2025, 9, 30), policies(date(2025, 9, 30)))
    with engine.connect() as connection:
        awards = sorted(
            connection.execute(
                select(benefits.c.policy_id, benefits.c.amount_fen).where(benefits.c.uscc == ZHENGZHOU)
            ).all()
        )
        reasons = (
            connection.execute(
                select(benefit_journal.c.reason).where(
                    benefit_journal.c.uscc == ZHENGZHOU, benefit_journal.c.policy_id == "zhengzhou-little-giant-award"
                )
            )
            .scalars()
            .all()
        )
    assert awards == [
        ("zhengzhou-little-giant-award", 150_000_000),
        ("zhengzhou-specialised-innovative-award", 50_000_000),
    ]
    assert len(reasons) == 1 and "top-up (补差)" in reasons[0] and "500,000 yuan" in reasons[0]
    assert september.counts["top_up"] == 1

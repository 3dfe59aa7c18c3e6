"""Entitlement keys, delivery by condition, regions, supersedes and top-ups, decided on hand-made profiles."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from matcher.decide import decide
from matcher.periods import period_key
from policies.errors import CatalogueError
from policies.load import load_catalogue
from tests.matcher.test_decide import AS_OF, profiles, statuses
from tests.policies.test_load import GOOD

PRIOR = {"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "amount_fen": pl.Int64}


def policy(tmp_path: Path, pid: str, **edits: str):
    """GOOD with id ``pid``; each edit replaces the text after ``old=`` with the text after ``new=``."""
    text = GOOD.replace("id: test-policy", f"id: {pid}")
    for old, new in edits.values():
        assert old in text, old
        text = text.replace(old, new)
    (tmp_path / f"{pid}.yaml").write_text(text, encoding="utf-8")


def in_force(tmp_path: Path, on: date = AS_OF):
    return load_catalogue(tmp_path).in_force(on)


def prior(*rows: tuple[str, str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PRIOR, orient="row")


def test_period_key_when_quarterly_names_the_quarter_of_the_as_of_date():
    assert [period_key("quarterly", date(2025, m, 1)) for m in (1, 3, 4, 6, 7, 12)] == [
        "2025-Q1",
        "2025-Q1",
        "2025-Q2",
        "2025-Q2",
        "2025-Q3",
        "2025-Q4",
    ]


# per certificate


def certified(tmp_path: Path):
    policy(
        tmp_path,
        "cert-reward",
        period=("  period: once\n", "  period: once\n  certificate: high_tech_certificate_no\n"),
        rule=('    - "ui_paid_months >= 12"\n', '    - "high_tech"\n'),
        examples=(
            "examples:\n  - name: eligible\n    facts: {ui_paid_months: 12, serious_dishonesty: false}",
            "examples:\n  - name: eligible\n    facts: {high_tech: true, high_tech_certificate_no: GR202444000001,"
            " high_tech_valid_from: 2024-01-01, serious_dishonesty: false}",
        ),
        ex2=(
            "facts: {ui_paid_months: 11, serious_dishonesty: false}",
            "facts: {high_tech: false, serious_dishonesty: false}",
        ),
        ex3=(
            "facts: {ui_paid_months: 24, serious_dishonesty: true}",
            "facts: {high_tech: true, serious_dishonesty: true}",
        ),
    )
    return in_force(tmp_path)


def holding(uscc: str, number: str | None, valid_from: date | None) -> dict:
    return {"uscc": uscc, "high_tech": True, "high_tech_certificate_no": number, "high_tech_valid_from": valid_from}


def test_decide_when_a_certificate_was_rewarded_rewards_a_renewal_but_never_the_same_one_again(tmp_path):
    policies = certified(tmp_path)
    firms = profiles(
        holding("SAME", "GR202244000001", date(2022, 12, 1)),
        holding("RENEWED", "GR202544000002", date(2025, 12, 1)),  # a new number: a new certificate
        holding("NEW", "GR202544000003", date(2025, 3, 1)),
    )
    earlier = prior(
        ("SAME", "cert-reward", "cert:GR202244000001", 100_000),
        ("RENEWED", "cert-reward", "cert:GR202244000009", 100_000),
    )
    got = decide(firms, policies, AS_OF, prior=earlier)
    rows = {r["uscc"]: r for r in got.decisions.iter_rows(named=True)}
    assert set(rows) == {"RENEWED", "NEW"}
    assert rows["RENEWED"]["period_key"] == "cert:GR202544000002" and rows["RENEWED"]["status"] == "granted"
    assert rows["NEW"]["period_key"] == "cert:GR202544000003"
    assert got.counts["already_granted"] == 1


def test_decide_when_a_certificate_was_rewarded_under_its_validity_start_never_rewards_it_again(tmp_path):
    # Benefits granted before certificates were keyed by number keep their key, cert:<validity start>.
    policies = certified(tmp_path)
    firms = profiles(
        holding("SAME", "GR202244000001", date(2022, 12, 1)),
        holding("RENEWED", "GR202544000002", date(2025, 3, 1)),
        holding("UNNUMBERED", None, date(2022, 12, 1)),
    )
    earlier = prior(
        ("SAME", "cert-reward", "cert:2022-12-01", 100_000),
        ("RENEWED", "cert-reward", "cert:2022-03-01", 100_000),  # the certificate before the renewal
        ("UNNUMBERED", "cert-reward", "cert:2022-12-01", 100_000),
    )
    got = decide(firms, policies, AS_OF, prior=earlier)
    rows = {r["uscc"]: r for r in got.decisions.iter_rows(named=True)}
    assert set(rows) == {"RENEWED"}
    assert (rows["RENEWED"]["period_key"], rows["RENEWED"]["status"]) == ("cert:GR202544000002", "granted")
    assert got.counts["already_granted"] == 2


def test_decide_when_the_certificate_number_is_unknown_asks_for_it_instead_of_paying(tmp_path):
    policies = certified(tmp_path)
    got = decide(profiles(holding("E1", None, date(2024, 12, 1))), policies, AS_OF)
    row = got.decisions.row(0, named=True)
    assert (row["status"], row["period_key"]) == ("needs_data", "cert:unknown")
    assert "high_tech_certificate_no" in row["unknown_facts"]


def test_decide_when_a_budget_is_per_certificate_counts_every_certificate_already_paid(tmp_path):
    policies = certified(tmp_path)
    text = (
        (tmp_path / "cert-reward.yaml")
        .read_text()
        .replace("category: employment", "category: employment\nbudget: 1500")
    )
    (tmp_path / "cert-reward.yaml").write_text(text)
    policies = in_force(tmp_path)
    earlier = prior(("OTHER", "cert-reward", "cert:GR202044000001", 100_000))  # 1,000 of the 1,500 yuan spent
    got = decide(profiles(holding("E1", "GR202544000001", date(2025, 1, 1))), policies, AS_OF, prior=earlier)
    assert got.decisions["amount_fen"].to_list() == [50_000]
    assert got.budgets["cert-reward"]["spent_before_fen"] == 100_000


@pytest.mark.parametrize("named", ["high_tech", "high_tech_valid_from"])
def test_policy_when_certificate_names_no_certificate_number_is_refused_at_its_line(tmp_path, named):
    certified(tmp_path)
    text = (
        (tmp_path / "cert-reward.yaml")
        .read_text()
        .replace("certificate: high_tech_certificate_no", f"certificate: {named}")
    )
    (tmp_path / "cert-reward.yaml").write_text(text)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    error = info.value.errors[0]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if f"certificate: {named}" in t)
    assert "'benefit.certificate' must name the fact holding the certificate's number" in str(error)
    assert "high_tech_certificate_no" in str(error) and error.location.line == line


# each person once


def hiring(tmp_path: Path, pid: str, amount: int = 1500):
    policy(
        tmp_path,
        pid,
        amount=(
            'amount: "1000"\n  period: once\n',
            f'amount: "{amount}"\n  per: person\n  count: "youth_hires_12m"\n  period: quarterly\n  persons: hiring\n',
        ),
        rule=('    - "ui_paid_months >= 12"\n', '    - "youth_hires_12m >= 1"\n'),
        ex1=(
            "facts: {ui_paid_months: 12, serious_dishonesty: false}\n    expect: {eligible: true, amount: 1000}",
            "facts: {youth_hires_12m: 1, serious_dishonesty: false}\n"
            f"    expect: {{eligible: true, amount: {amount}}}",
        ),
        ex2=(
            "facts: {ui_paid_months: 11, serious_dishonesty: false}",
            "facts: {youth_hires_12m: 0, serious_dishonesty: false}",
        ),
        ex3=(
            "facts: {ui_paid_months: 24, serious_dishonesty: true}",
            "facts: {youth_hires_12m: 2, serious_dishonesty: true}",
        ),
    )


PERSONS = {"uscc": pl.String, "person_id": pl.String, "hire_date": pl.Date, "fact": pl.String}


def test_decide_when_persons_were_counted_before_pays_only_for_the_others_once_across_firms(tmp_path):
    hiring(tmp_path, "youth-a")
    hiring(tmp_path, "youth-b", amount=2000)
    policies = in_force(tmp_path)
    firms = profiles({"uscc": "A", "youth_hires_12m": 3}, {"uscc": "B", "youth_hires_12m": 2})
    persons = pl.DataFrame(
        [
            ("A", "p1", date(2025, 1, 5), "youth_hires_12m"),
            ("A", "p2", date(2025, 2, 5), "youth_hires_12m"),
            ("A", "p3", date(2025, 3, 5), "youth_hires_12m"),  # also hired by B, later: counts for A
            ("B", "p3", date(2025, 4, 5), "youth_hires_12m"),
            ("B", "p4", date(2025, 4, 5), "youth_hires_12m"),
        ],
        schema=PERSONS,
        orient="row",
    )
    counted = pl.DataFrame({"family": ["hiring"], "person_id": ["p1"]})
    got = decide(firms, policies, AS_OF, persons=persons, counted=counted)
    amounts = {(r["uscc"], r["policy_id"]): r["amount_fen"] for r in got.decisions.iter_rows(named=True)}
    # A: p2, p3 (p1 was counted by an earlier run); B: p4 only. Each policy of the family sees each person once.
    assert amounts == {("A", "youth-a"): 300_000, ("B", "youth-a"): 150_000}
    assert sorted(got.persons["person_id"]) == ["p2", "p3", "p4"]
    assert set(got.persons["period_key"]) == {"2025-Q2"}


def test_decide_when_every_person_was_counted_grants_nothing_again(tmp_path):
    hiring(tmp_path, "youth-a")
    persons = pl.DataFrame([("A", "p1", date(2025, 1, 5), "youth_hires_12m")], schema=PERSONS, orient="row")
    counted = pl.DataFrame({"family": ["hiring"], "person_id": ["p1"]})
    got = decide(
        profiles({"uscc": "A", "youth_hires_12m": 1}), in_force(tmp_path), AS_OF, persons=persons, counted=counted
    )
    assert got.decisions.height == 0 and got.counts["already_granted"] == 1


def test_policy_when_persons_count_is_not_a_hire_count_is_refused(tmp_path):
    hiring(tmp_path, "youth-a")
    text = (tmp_path / "youth-a.yaml").read_text().replace('count: "youth_hires_12m"', 'count: "youth_hires_12m + 1"')
    (tmp_path / "youth-a.yaml").write_text(text)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    assert "write count as one of" in str(info.value.errors[0])


# delivery by condition


def dispatch_rules(tmp_path: Path):
    policy(
        tmp_path,
        "refund",
        delivery=(
            "delivery: automatic\n",
            "delivery:\n  - when: labour_dispatch\n    mode: notify\n"
            '  - when: "insured_headcount > 1000"\n    mode: confirm\n  - mode: automatic\n',
        ),
    )
    return in_force(tmp_path)


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        ({"labour_dispatch": False, "insured_headcount": 10}, "granted"),
        ({"labour_dispatch": True, "insured_headcount": 10}, "recommended"),
        ({"labour_dispatch": False, "insured_headcount": 5000}, "awaiting_confirmation"),
        ({"labour_dispatch": None, "insured_headcount": 10}, "recommended"),  # unknown: the safest
        ({"labour_dispatch": False, "insured_headcount": None}, "awaiting_confirmation"),
        ({"labour_dispatch": True, "insured_headcount": None}, "recommended"),  # the first rule holds
    ],
)
def test_decide_when_delivery_depends_on_facts_takes_the_first_rule_or_the_safest_when_unknown(tmp_path, facts, status):
    policies = dispatch_rules(tmp_path)
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24, **facts}), policies, AS_OF)
    assert statuses(got) == {("E1", "refund"): status}
    assert got.decisions["amount_fen"].to_list() == [100_000]
    assert (
        policies[0].delivery_for(
            {"labour_dispatch": facts["labour_dispatch"], "insured_headcount": facts["insured_headcount"]}, AS_OF
        )
        == {"granted": "automatic", "recommended": "notify", "awaiting_confirmation": "confirm"}[status]
    )


def test_policy_when_the_last_delivery_rule_has_a_condition_is_refused(tmp_path):
    policy(
        tmp_path,
        "refund",
        delivery=("delivery: automatic\n", "delivery:\n  - when: labour_dispatch\n    mode: notify\n"),
    )
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    assert "the last delivery rule has no 'when'" in str(info.value.errors[0])


# regions and supersedes


def test_decide_when_a_region_is_excluded_leaves_it_out_and_an_unknown_division_unknown(tmp_path):
    policy(tmp_path, "national", region=("category: employment", "category: employment\nregion_exclude: ['4403']"))
    got = decide(
        profiles(
            {"uscc": "SZ", "division_code": "440305", "ui_paid_months": 24},
            {"uscc": "GZ", "division_code": "440106", "ui_paid_months": 24},
            {"uscc": "UNK", "division_code": None, "ui_paid_months": 24},
        ),
        in_force(tmp_path),
        AS_OF,
    )
    assert statuses(got) == {("GZ", "national"): "granted", ("UNK", "national"): "needs_data"}


def test_decide_when_a_regional_variant_supersedes_drops_the_national_notices_it_covers(tmp_path):
    policy(tmp_path, "national")
    policy(
        tmp_path,
        "variant",
        region=("category: employment", "category: employment\nregion: ['44']"),
        rel=("relations:\n  excludes: []\n", "relations:\n  supersedes: [national]\n"),
        rule=('    - "ui_paid_months >= 12"\n', '    - "ui_paid_months >= 12"\n    - "insured_headcount >= 1"\n'),
        ex1=(
            "facts: {ui_paid_months: 12, serious_dishonesty: false}",
            "facts: {division_code: '440305', ui_paid_months: 12, insured_headcount: 3, serious_dishonesty: false}",
        ),
    )
    got = decide(
        profiles(
            {"uscc": "GD-UNKNOWN"},  # both unknown: asked once, by the variant
            {"uscc": "GD-NEAR", "ui_paid_months": 11, "insured_headcount": 3},  # both nearly: told once
            {"uscc": "GD-OTHER", "ui_paid_months": 24, "insured_headcount": 0},  # not the variant: the national pays
            {"uscc": "HN", "division_code": "430102"},  # outside the variant: the national asks
        ),
        in_force(tmp_path),
        AS_OF,
    )
    assert statuses(got) == {
        ("GD-UNKNOWN", "variant"): "needs_data",
        ("GD-NEAR", "variant"): "near_miss",
        ("GD-OTHER", "national"): "granted",
        ("HN", "national"): "needs_data",
    }


# top-ups in exclusive groups


def awards(tmp_path: Path, top_up: bool):
    group = "  exclusive_group: awards" + ("\n  top_up: true" if top_up else "")
    policy(tmp_path, "small", amount=('amount: "1000"', 'amount: "500"'), rel=("  excludes: []\n", group + "\n"))
    policy(
        tmp_path,
        "big",
        amount=('amount: "1000"', 'amount: "2000"'),
        rel=("  excludes: []\n", group + "\n"),
        rule=('"ui_paid_months >= 12"', '"ui_paid_months >= 24"'),
        ex1=(
            "facts: {ui_paid_months: 12, serious_dishonesty: false}\n    expect: {eligible: true, amount: 1000}",
            "facts: {ui_paid_months: 24, serious_dishonesty: false}\n    expect: {eligible: true, amount: 2000}",
        ),
        ex3=(
            "facts: {ui_paid_months: 24, serious_dishonesty: true}",
            "facts: {ui_paid_months: 30, serious_dishonesty: true}",
        ),
    )
    return in_force(tmp_path)


def test_decide_when_a_top_up_group_meets_a_higher_award_pays_the_difference(tmp_path):
    earlier = prior(("E1", "small", "once", 50_000))
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), awards(tmp_path, top_up=True), AS_OF, prior=earlier)
    assert statuses(got) == {("E1", "big"): "granted"}
    assert got.decisions["amount_fen"].to_list() == [150_000]
    assert got.top_ups.select("over_policy_id", "over_fen").row(0) == ("small", 50_000)


def test_decide_when_a_group_keeps_the_first_award_pays_nothing_more(tmp_path):
    earlier = prior(("E1", "small", "once", 50_000))
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), awards(tmp_path, top_up=False), AS_OF, prior=earlier)
    assert got.decisions.height == 0 and got.top_ups.height == 0


def test_decide_when_a_top_up_was_granted_reviews_it_at_the_difference_not_the_full_award(tmp_path):
    earlier = prior(("E1", "small", "once", 50_000), ("E1", "big", "once", 150_000))
    got = decide(profiles({"uscc": "E1", "ui_paid_months": 24}), awards(tmp_path, top_up=True), AS_OF, prior=earlier)
    standing = {r["policy_id"]: r["amount_now_fen"] for r in got.standing.iter_rows(named=True)}
    assert standing == {"small": 50_000, "big": 150_000}  # nothing for the review to adjust
    assert got.decisions.height == 0


def test_policy_when_top_up_has_no_group_is_refused(tmp_path):
    policy(tmp_path, "lonely", rel=("  excludes: []\n", "  top_up: true\n"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    assert "'top_up' applies within an exclusive_group" in str(info.value.errors[0])

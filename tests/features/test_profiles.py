from datetime import date
from typing import Any

import polars as pl
import pytest

from features.profiles import FACTS, build_profiles
from features.registries.schema import CERTIFICATIONS, TABLES
from tests.factories import frame, uscc

A, B = uscc(1), uscc(2)
AS_OF = date(2025, 5, 31)  # May 2025 is the last complete month


def months(first: date, last: date, **values: Any) -> list[dict[str, Any]]:
    rows, d = [], first
    while d <= last:
        rows.append({"uscc": A, "month": d, **values})
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return rows


def profiles(tables: dict[str, list[dict[str, Any]]], as_of: date = AS_OF) -> pl.DataFrame:
    tables = {"business": [{"uscc": A}], **tables}
    return build_profiles({n: frame(n, tables.get(n, [])) for n in TABLES}, as_of).collect()


def profile(tables: dict[str, list[dict[str, Any]]], as_of: date = AS_OF) -> dict[str, Any]:
    return profiles(tables, as_of).row(0, named=True)


def test_profiles_when_built_have_one_row_per_enterprise_and_every_catalogue_fact():
    p = profiles({"business": [{"uscc": A}, {"uscc": B}, {"uscc": uscc(3), "established_on": date(2025, 6, 1)}]})
    assert p["uscc"].to_list() == [A, B]  # the one established after as_of is not yet there
    assert p.columns == ["uscc", *(f.name for f in FACTS)]
    assert dict(p.schema) == {"uscc": pl.String, **{f.name: f.dtype for f in FACTS}}


def test_profile_when_every_month_paid_in_full_counts_the_whole_run():
    p = profile({"si_monthly": months(date(2024, 1, 1), date(2025, 5, 1))})
    assert p["ui_paid_months"] == 17
    assert p["ui_arrears_12m"] is False


def test_profile_when_a_month_was_underpaid_restarts_the_run_after_it():
    rows = months(date(2024, 1, 1), date(2025, 5, 1))
    rows[11]["ui_paid"] = 100.0  # December 2024
    p = profile({"si_monthly": rows})
    assert p["ui_paid_months"] == 5
    assert p["ui_arrears_12m"] is True


def test_profile_when_a_month_is_missing_restarts_the_run_after_the_gap():
    rows = [r for r in months(date(2024, 1, 1), date(2025, 5, 1)) if r["month"] != date(2025, 2, 1)]
    assert profile({"si_monthly": rows})["ui_paid_months"] == 3


def test_profile_when_the_last_complete_month_is_missing_has_no_current_run():
    rows = months(date(2024, 1, 1), date(2025, 4, 1))
    p = profile({"si_monthly": rows})
    assert p["ui_paid_months"] == 0
    assert p["insured_headcount"] is None  # the current month is unknown, not zero


def test_profile_when_mid_month_as_of_counts_only_complete_months():
    rows = months(date(2024, 1, 1), date(2025, 6, 1))
    rows[-1]["ui_paid"] = 0.0  # June is still in progress on 15 June: it must not break the run
    assert profile({"si_monthly": rows}, as_of=date(2025, 6, 15))["ui_paid_months"] == 17


def test_profile_when_no_social_insurance_records_leaves_its_facts_unknown():
    p = profile({})
    for name in ["ui_paid_months", "ui_arrears_12m", "ui_paid_last_year", "layoff_rate_last_year", "hires_12m"]:
        assert p[name] is None, name


def test_profile_when_claimants_last_year_gives_layoff_rate_over_average_headcount():
    rows = months(date(2024, 1, 1), date(2024, 12, 1), insured_headcount=40, ui_paid=1200.0, ui_due=1200.0)
    for r, n in zip(rows[:6], [60, 60, 60, 60, 60, 60], strict=False):
        r["insured_headcount"] = n
    rows[3]["new_ui_claimants"] = 2
    rows[7]["new_ui_claimants"] = 1
    p = profile({"si_monthly": rows})
    assert p["insured_headcount_avg_last_year"] == 50
    assert p["ui_claimants_last_year"] == 3
    assert p["layoff_rate_last_year"] == pytest.approx(0.06)
    assert p["ui_paid_last_year"] == 12 * 1200.0


def test_profile_when_last_years_filing_not_yet_received_leaves_tax_facts_unknown():
    filing = {"uscc": A, "year": 2024, "filed_on": date(2025, 6, 10)}
    p = profile({"tax_filings": [filing]})
    assert p["revenue_last_year"] is None
    assert p["small_low_profit"] is None
    assert p["size_class"] is None
    later = profile({"tax_filings": [filing]}, as_of=date(2025, 6, 30))
    assert later["revenue_last_year"] == 10_000_000.0
    assert later["size_class"] == "small"  # C3911: 50 staff, 1000 (10k yuan) revenue


def test_profile_when_small_low_profit_thresholds_are_met_exactly_qualifies_and_one_yuan_over_does_not():
    at = {"uscc": A, "year": 2024, "taxable_income": 3_000_000.0, "employees": 300, "total_assets": 50_000_000.0}
    assert profile({"tax_filings": [at]})["small_low_profit"] is True
    over = at | {"total_assets": 50_000_001.0}
    assert profile({"tax_filings": [over]})["small_low_profit"] is False


def test_profile_when_r_and_d_over_three_years_uses_the_filed_years():
    filings = [
        {"uscc": A, "year": 2022, "revenue": 1e7, "rd_expense": 3e5},
        {"uscc": A, "year": 2023, "revenue": 2e7, "rd_expense": 1e6},
        {"uscc": A, "year": 2024, "revenue": 3e7, "rd_expense": 2e6},
        {"uscc": A, "year": 2021, "revenue": 9e9, "rd_expense": 0.0},  # outside the three years
    ]
    p = profile({"tax_filings": filings})
    assert p["rd_ratio_3y"] == pytest.approx(3.3e6 / 6e7)
    assert p["rd_ratio_last_year"] == pytest.approx(2e6 / 3e7)


def test_profile_when_ratings_published_takes_the_latest_published_by_as_of():
    ratings = [
        {"uscc": A, "year": 2023, "rating": "A"},
        {"uscc": A, "year": 2024, "rating": "C", "rated_on": date(2025, 4, 20)},
    ]
    assert profile({"tax_credit": ratings}, as_of=date(2025, 4, 19))["tax_credit_rating"] == "A"
    assert profile({"tax_credit": ratings})["tax_credit_rating"] == "C"


def test_profile_when_hires_counts_only_target_groups_still_insured_long_enough():
    hire = {"uscc": A, "hire_date": date(2025, 1, 10), "contract_months": 12}
    hires = [
        hire | {"person_id": "grad", "graduate_year": 2025},  # graduate of the year
        hire | {"person_id": "young", "birth_date": date(2003, 1, 1), "registered_unemployed": True},  # aged 22
        hire | {"person_id": "old", "birth_date": date(1980, 1, 1), "registered_unemployed": True},  # not youth
        hire | {"person_id": "new", "graduate_year": 2025, "hire_date": date(2025, 4, 1)},  # insured < 3 months
        hire | {"person_id": "left", "graduate_year": 2025, "insured_until": date(2025, 5, 1)},  # left
        hire | {"person_id": "early", "graduate_year": 2024, "hire_date": date(2024, 5, 31)},  # > 12 months ago
        hire | {"person_id": "poor", "poverty_alleviated": True},
        hire
        | {"person_id": "lt", "registered_unemployed": True, "unemployed_months": 6, "birth_date": date(1985, 1, 1)},
    ]
    p = profile({"si_hires": hires})
    assert p["hires_12m"] == 7
    assert p["youth_hires_12m"] == 2
    assert p["priority_hires_12m"] == 2
    assert p["poverty_hires_12m"] == 0  # hired in January: under 6 months insured on 31 May
    assert profile({"si_hires": hires}, as_of=date(2025, 7, 10))["poverty_hires_12m"] == 1


def test_profile_when_social_insurance_known_but_no_recent_hires_counts_zero():
    p = profile({"si_monthly": months(date(2025, 1, 1), date(2025, 5, 1))})
    assert p["hires_12m"] == 0
    assert p["youth_hires_12m"] == 0


def test_profile_when_patents_expired_or_pending_does_not_count_them():
    patents = [
        {"uscc": A, "patent_no": "1", "patent_type": "invention"},
        {"uscc": A, "patent_no": "2", "patent_type": "utility_model", "filed_on": date(2014, 1, 1),
         "granted_on": date(2014, 9, 1)},  # 10-year term ended
        {"uscc": A, "patent_no": "3", "patent_type": "utility_model", "granted_on": None},  # pending
        {"uscc": A, "patent_no": "4", "patent_type": "design", "granted_on": date(2025, 6, 1)},  # after as_of
        {"uscc": A, "patent_no": "5", "patent_type": "design", "granted_on": date(2025, 5, 1)},
    ]  # fmt: skip
    p = profile({"patents": patents, "business": [{"uscc": A}, {"uscc": B}]})
    assert (p["patents_invention"], p["patents_utility_model"], p["patents_design"]) == (1, 0, 1)
    none = profiles({"patents": patents, "business": [{"uscc": A}, {"uscc": B}]}).row(1, named=True)
    assert none["patents_invention"] == 0  # absent from a registry that lists every patent: none


def test_profile_when_removed_from_a_credit_list_after_as_of_is_still_listed():
    listing = {"uscc": A, "list": "serious_dishonesty", "listed_on": date(2024, 1, 1)}
    assert profile({"credit_lists": [listing | {"removed_on": date(2025, 6, 1)}]})["serious_dishonesty"] is True
    assert profile({"credit_lists": [listing | {"removed_on": date(2025, 5, 1)}]})["serious_dishonesty"] is False
    assert profile({})["serious_dishonesty"] is False


def test_profile_when_high_tech_certificate_follows_an_earlier_one_is_a_renewal():
    first = {"uscc": A, "certificate_no": "GR1", "valid_from": date(2021, 1, 1), "valid_to": date(2023, 12, 31)}
    second = {"uscc": A, "certificate_no": "GR2", "valid_from": date(2024, 1, 1), "valid_to": date(2026, 12, 31)}
    p = profile({"certifications": [first, second]})
    assert (p["high_tech"], p["high_tech_valid_from"], p["high_tech_renewal"]) == (True, date(2024, 1, 1), True)
    lapsed = profile({"certifications": [first]})
    assert (lapsed["high_tech"], lapsed["high_tech_valid_from"]) == (False, None)


@pytest.mark.parametrize("certification", CERTIFICATIONS)
def test_profile_when_certificate_valid_on_as_of_sets_its_fact(certification):
    cert = {"uscc": A, "certification": certification, "certificate_no": "X", "valid_from": date(2024, 1, 1),
            "valid_to": date(2025, 5, 31)}  # fmt: skip
    assert profile({"certifications": [cert]})[certification] is True
    assert profile({"certifications": [cert]}, as_of=date(2025, 6, 1))[certification] is False


def test_profile_when_deregistered_after_as_of_is_still_operating():
    biz = {"uscc": A, "status": "deregistered", "status_since": date(2025, 7, 1)}
    assert profile({"business": [biz]})["status"] == "operating"
    assert profile({"business": [biz]}, as_of=date(2025, 7, 1))["status"] == "deregistered"

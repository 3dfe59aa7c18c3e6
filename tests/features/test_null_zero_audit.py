"""Null versus zero, fact by fact: unknown means the registry does not know, never "the registry knows it is zero".

Every registry fact of the catalogue is classified here (a new fact fails the first test until it is): what it
is for an enterprise its registry knows to have none of the thing, and for one no registry but business
registration knows. Then, on a generated registry, no profile leaves a fact unknown that its registry knows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from features.profiles import build_profiles
from features.profiles.catalogue import DECLARED_FACTS, REGISTRY_FACTS
from features.registries.schema import TABLES
from features.registries.validate import check_registry
from features.synthetic import generate
from tests.factories import frame, uscc

AS_OF = date(2025, 5, 31)  # May 2025 is the last complete month
KNOWN, NEW = uscc(1), uscc(2)
ANY = object()  # a value, whatever it is: known


class Undefined(str):
    """A fact that is unknown even for a known enterprise because it has no value to know (why, in words)."""


# fact → (enterprise its registry knows, with none of the thing; enterprise known to business registration only)
EXPECTED: dict[str, tuple[Any, Any]] = {
    # business registration: every profile has its row
    **dict.fromkeys(
        ("name", "enterprise_type", "status", "established_on", "age_years", "registered_capital", "industry_code",
         "industry_section", "industry_division", "division_code", "labour_dispatch"),
        (ANY, ANY),
    ),
    # tax: a filing for last year with no R&D
    "revenue_last_year": (ANY, None),
    "taxable_income_last_year": (ANY, None),
    "total_assets_last_year": (ANY, None),
    "employees_last_year": (ANY, None),
    "rd_expense_last_year": (0.0, None),
    "rd_ratio_last_year": (0.0, None),
    "rd_ratio_3y": (0.0, None),
    "vat_small_scale": (False, None),
    "small_low_profit": (True, None),
    "size_class": (ANY, None),
    "tax_credit_rating": (ANY, None),
    # social insurance: insured since January 2025 (none last year), paid in full, nobody hired in 12 months
    "ui_paid_months": (5, None),
    "ui_arrears_12m": (False, None),
    "ui_paid_last_year": (0.0, None),
    "insured_headcount": (50, None),
    "insured_headcount_avg_last_year": (0.0, None),
    "ui_claimants_last_year": (0, None),
    "layoff_rate_last_year": (Undefined("no staff last year: a rate of 0 / 0"), None),
    "hires_12m": (0, None),
    "hires_12m_contract_1y": (0, None),
    "youth_hires_12m": (0, None),
    "priority_hires_12m": (0, None),
    "poverty_hires_12m": (0, None),
    # registries that list every case: absence is none
    "patents_invention": (0, 0),
    "patents_utility_model": (0, 0),
    "patents_design": (0, 0),
    "serious_dishonesty": (False, False),
    "abnormal_operation": (False, False),
    "high_tech": (False, False),
    "high_tech_valid_from": (Undefined("no valid certificate: no date"), None),
    "high_tech_certificate_no": (Undefined("no valid certificate: no number"), None),
    "high_tech_renewal": (False, False),
    "specialised_innovative": (False, False),
    "little_giant": (False, False),
    "single_champion": (False, False),
}  # fmt: skip


def _profiles() -> dict[str, dict[str, Any]]:
    months = [{"uscc": KNOWN, "month": date(2025, m, 1), "insured_headcount": 50} for m in range(1, 6)]
    tables = {
        "business": [{"uscc": KNOWN}, {"uscc": NEW}],
        "tax_filings": [{"uscc": KNOWN, "year": 2024, "rd_expense": 0.0}],
        "tax_credit": [{"uscc": KNOWN, "year": 2024}],
        "si_monthly": months,
        # hired two years ago: social insurance knows the enterprise, and that it hired nobody since
        "si_hires": [{"uscc": KNOWN, "person_id": "p1", "hire_date": date(2023, 3, 1)}],
    }
    built = build_profiles({n: frame(n, tables.get(n, [])) for n in TABLES}, AS_OF).collect()
    return {row["uscc"]: row for row in built.iter_rows(named=True)}


def test_audit_when_a_registry_fact_is_added_it_must_be_classified_here():
    assert set(EXPECTED) == {f.name for f in REGISTRY_FACTS}


@pytest.mark.parametrize("name", [f.name for f in REGISTRY_FACTS])
def test_fact_when_its_registry_knows_there_is_none_is_zero_and_only_unknown_when_it_does_not_know(name):
    rows = _profiles()
    for who, want in zip((KNOWN, NEW), EXPECTED[name], strict=True):
        got = rows[who][name]
        if want is ANY:
            assert got is not None, f"{name} is unknown for an enterprise its registry knows"
        elif isinstance(want, Undefined):
            assert got is None, f"{name}: {want}"
        else:
            assert got == want and type(got) is type(want), f"{name} for {who}: expected {want!r}, found {got!r}"


def test_declared_facts_when_nobody_attested_them_are_unknown_for_everyone():
    rows = _profiles()
    assert DECLARED_FACTS, "policies/facts/declared.yaml declares facts"
    assert all(rows[who][f.name] is None for who in (KNOWN, NEW) for f in DECLARED_FACTS)


def _known_to(tables: dict[str, pl.DataFrame]) -> dict[str, set[str]]:
    """Per registry fact, the enterprises whose registry holds what it is computed from (as of AS_OF)."""
    monthly = set(tables["si_monthly"].filter(pl.col("month") < date(2025, 6, 1))["uscc"])
    hired = set(tables["si_hires"].filter(pl.col("hire_date") <= AS_OF)["uscc"])
    filed = tables["tax_filings"].filter((pl.col("year") == 2024) & (pl.col("filed_on") <= AS_OF))
    out: dict[str, set[str]] = {}
    for name in ("ui_paid_months", "ui_arrears_12m", "ui_paid_last_year", "ui_claimants_last_year"):
        out[name] = monthly
    out["insured_headcount_avg_last_year"] = monthly
    for name in ("hires_12m", "hires_12m_contract_1y", "youth_hires_12m", "priority_hires_12m", "poverty_hires_12m"):
        out[name] = monthly | hired
    for name, column in (("revenue_last_year", "revenue"), ("taxable_income_last_year", "taxable_income"),
                         ("total_assets_last_year", "total_assets"), ("employees_last_year", "employees"),
                         ("rd_expense_last_year", "rd_expense"), ("vat_small_scale", "vat_small_scale")):  # fmt: skip
        out[name] = set(filed.filter(pl.col(column).is_not_null())["uscc"])
    everyone = set(tables["business"]["uscc"])
    for f in REGISTRY_FACTS:
        if f.absent == "none":
            out[f.name] = everyone
    return out


def test_profiles_of_a_generated_registry_when_the_registry_knows_a_fact_never_leave_it_unknown(tmp_path):
    generate(tmp_path / "registry", enterprises=400, seed=13)
    checked = check_registry(tmp_path / "registry")
    tables = {t: checked.clean(t) for t in checked.tables}
    profiles = build_profiles(tables, AS_OF).collect()
    wrongly_unknown = {}
    for name, known in _known_to(tables).items():
        unknown = set(profiles.filter(pl.col(name).is_null())["uscc"])
        if missed := unknown & known:
            wrongly_unknown[name] = len(missed)
    assert wrongly_unknown == {}
    # The generated registry has enterprises social insurance knows that hired nobody on a one-year contract.
    assert profiles.filter(pl.col("hires_12m_contract_1y") == 0).height > 0

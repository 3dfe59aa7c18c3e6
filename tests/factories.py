"""Builders of small hand-made registries for tests.

``write_registry`` writes every table of the contract; tables not given are
written empty, and each row given needs only the columns the test cares about
(the rest come from ``DEFAULTS``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from features.registries.schema import TABLES
from features.standards.uscc import ALPHABET, gb11714_check_char, uscc_check_char

DEFAULTS: dict[str, dict[str, Any]] = {
    "business": {
        "name": "测试企业",
        "enterprise_type": "limited_company",
        "registered_capital": 100.0,
        "established_on": date(2015, 3, 1),
        "industry_code": "C3911",
        "division_code": "440305",
        "status": "operating",
        "status_since": None,
        "labour_dispatch": False,
    },
    "tax_filings": {
        "filed_on": None,  # filled from the year: 31 March of the next year
        "revenue": 10_000_000.0,
        "taxable_income": 500_000.0,
        "total_assets": 8_000_000.0,
        "employees": 50,
        "rd_expense": 400_000.0,
        "vat_small_scale": False,
    },
    "tax_credit": {"rating": "B", "rated_on": None},
    "si_monthly": {"insured_headcount": 50, "ui_due": 1500.0, "ui_paid": 1500.0, "new_ui_claimants": 0},
    "si_hires": {
        "birth_date": date(2000, 1, 1),
        "contract_months": 12,
        "insured_until": None,
        "graduate_year": None,
        "registered_unemployed": False,
        "unemployed_months": None,
        "poverty_alleviated": False,
    },
    "patents": {"patent_type": "invention", "filed_on": date(2020, 1, 1), "granted_on": date(2021, 6, 1)},
    "credit_lists": {"list": "abnormal_operation", "removed_on": None, "reason": None},
    "certifications": {"certification": "high_tech", "level": "national"},
}


def uscc(i: int, division: str = "440305", prefix: str = "91") -> str:
    """A valid USCC, distinct for each ``i``."""
    body = ""
    n = i
    for _ in range(8):
        body = ALPHABET[n % 31] + body
        n //= 31
    first17 = prefix + division + body + gb11714_check_char(body)
    return first17 + uscc_check_char(first17)


def _complete(name: str, row: dict[str, Any]) -> dict[str, Any]:
    full = {**DEFAULTS[name], **row}
    if name == "tax_filings" and full.get("filed_on") is None:
        full["filed_on"] = date(full["year"] + 1, 3, 31)
    if name == "tax_credit" and full.get("rated_on") is None:
        full["rated_on"] = date(full["year"] + 1, 4, 20)
    return full


def frame(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = TABLES[name].schema
    completed = [_complete(name, r) for r in rows]
    return pl.DataFrame(completed, schema=schema) if rows else pl.DataFrame(schema=schema)


def write_registry(
    directory: Path, tables: dict[str, list[dict[str, Any]] | pl.DataFrame], fmt: str = "parquet"
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        given = tables.get(name, [])
        df = given if isinstance(given, pl.DataFrame) else frame(name, given)
        path = directory / f"{name}.{fmt}"
        if fmt == "parquet":
            df.write_parquet(path)
        else:
            df.write_csv(path)
    return directory

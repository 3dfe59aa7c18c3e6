"""Assemble one profile per enterprise, strictly as of a date.

Every builder filters its records to what was known on ``as_of`` before
aggregating, so no record dated later can influence a profile. Builders are
lazy frames keyed by USCC, left-joined onto business registration; polars
plans the whole assembly as one query.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from features.profiles import business, lists, social_insurance, tax
from features.profiles.catalogue import DECLARED_FACTS, FACTS, REGISTRY_FACTS
from features.standards.size_class import size_class_expr

__all__ = ["build_profiles", "left_out"]

SMALL_LOW_PROFIT = {"taxable_income": 3_000_000, "employees": 300, "total_assets": 50_000_000}

Frames = Mapping[str, pl.LazyFrame | pl.DataFrame]


def build_profiles(tables: Frames, as_of: date) -> pl.LazyFrame:
    """Profiles of every enterprise registered on or before ``as_of``: one row each, columns in catalogue order.

    ``tables`` maps each registry table name to its clean (validated) rows.
    """
    t = {name: frame.lazy() for name, frame in tables.items()}
    si_monthly = social_insurance.monthly_facts(t["si_monthly"], as_of).with_columns(_si=pl.lit(True))
    si_hires = social_insurance.hire_facts(t["si_hires"], as_of).with_columns(_hires=pl.lit(True))
    listed = [
        lists.patent_facts(t["patents"], as_of),
        lists.credit_list_facts(t["credit_lists"], as_of),
        lists.certification_facts(t["certifications"], as_of),
    ]
    joined = business.business_facts(t["business"], as_of)
    for part in [
        tax.filing_facts(t["tax_filings"], as_of),
        tax.credit_rating_facts(t["tax_credit"], as_of),
        si_monthly,
        si_hires,
        *listed,
    ]:
        joined = joined.join(part, on="uscc", how="left", maintain_order="left")

    # Unknown means the registry does not know; a registry that knows the enterprise and holds none of a thing
    # knows it is zero (tests/features/test_null_zero_audit.py pins every fact).
    none_means_zero = [f.name for f in REGISTRY_FACTS if f.absent == "none"]
    hire_counts = [c for c in si_hires.collect_schema().names() if c != "uscc" and not c.startswith("_")]
    has_si = pl.col("_si").is_not_null() | pl.col("_hires").is_not_null()
    return joined.with_columns(
        *(
            pl.col(c).fill_null(strategy="zero") if c.startswith("patents_") else pl.col(c).fill_null(False)
            for c in none_means_zero
        ),
        # Hire counts are zero for an enterprise social insurance knows, unknown otherwise.
        *(pl.when(has_si).then(pl.col(c).fill_null(0)).otherwise(None).alias(c) for c in hire_counts),
        # Last year's contributions and claims are zero for an employer insured since but not then.
        *(
            pl.when(pl.col("_si")).then(pl.col(c).fill_null(0)).otherwise(None).alias(c)
            for c in social_insurance.LAST_YEAR_SUMS
        ),
        *(pl.lit(None, dtype=f.dtype).alias(f.name) for f in DECLARED_FACTS),  # null until attested
        size_class=size_class_expr(
            pl.col("industry_code"),
            pl.col("employees_last_year"),
            pl.col("revenue_last_year") / 10_000,
            pl.col("total_assets_last_year") / 10_000,
        ),
        small_low_profit=(pl.col("taxable_income_last_year") <= SMALL_LOW_PROFIT["taxable_income"])
        & (pl.col("employees_last_year") <= SMALL_LOW_PROFIT["employees"])
        & (pl.col("total_assets_last_year") <= SMALL_LOW_PROFIT["total_assets"]),
    ).select(pl.col("uscc"), *(pl.col(f.name).cast(f.dtype) for f in FACTS))


def left_out(tables: Frames, as_of: date) -> dict[str, int]:
    """Enterprises among the clean business rows that get no profile as of ``as_of``, counted by reason.

    Rows quarantined by the registry check are not here: the check counts them (``RegistryCheck``).
    """
    later = tables["business"].lazy().filter(~business.established_by(as_of)).select(pl.len()).collect().item()
    return {f"established after {as_of}": later} if later else {}

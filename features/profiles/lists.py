"""Facts from registries that list every case: patents, credit lists, certifications.

Absence from these registries means none, so their counts and flags are
filled with 0 / false when the profile is assembled.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.periods import years_before

__all__ = ["PATENT_TERM_YEARS", "certification_facts", "credit_list_facts", "patent_facts"]

# Protection terms from filing (专利法 art. 42, as amended in 2020: designs 15 years).
PATENT_TERM_YEARS = {"invention": 20, "utility_model": 10, "design": 15}


def patent_facts(patents: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    in_force = pl.lit(False)
    for kind, years in PATENT_TERM_YEARS.items():
        in_force = in_force | ((pl.col("patent_type") == kind) & (pl.col("filed_on") > years_before(as_of, years)))
    return (
        patents.filter((pl.col("granted_on") <= as_of) & in_force)
        .group_by("uscc")
        .agg(
            (pl.col("patent_type") == kind).sum().cast(pl.Int32).alias(f"patents_{kind}") for kind in PATENT_TERM_YEARS
        )
    )


def credit_list_facts(lists: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    removed = pl.col("removed_on")
    on_list = (pl.col("listed_on") <= as_of) & (removed.is_null() | (removed > as_of))
    return (
        lists.filter(on_list)
        .group_by("uscc")
        .agg((pl.col("list") == name).any().alias(name) for name in ("serious_dishonesty", "abnormal_operation"))
    )


def certification_facts(certs: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Certifications valid on ``as_of``, and whether the high-tech one is a renewal."""
    started = certs.filter(pl.col("valid_from") <= as_of)
    valid = pl.col("valid_to") >= as_of
    high_tech = pl.col("certification") == "high_tech"
    current_from = pl.col("valid_from").filter(high_tech & valid).max()
    return started.group_by("uscc").agg(
        (high_tech & valid).any().alias("high_tech"),
        current_from.alias("high_tech_valid_from"),
        (pl.col("valid_from").filter(high_tech).min() < current_from).alias("high_tech_renewal"),
        ((pl.col("certification") == "specialised_innovative") & valid).any().alias("specialised_innovative"),
        ((pl.col("certification") == "little_giant") & valid).any().alias("little_giant"),
        ((pl.col("certification") == "single_champion") & valid).any().alias("single_champion"),
    )

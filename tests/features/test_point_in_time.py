"""Point in time: no record dated after as_of influences any profile."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.profiles import build_profiles
from features.registries.validate import check_registry
from features.synthetic import generate


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> dict[str, pl.DataFrame]:
    out: Path = tmp_path_factory.mktemp("registry")
    generate(out, enterprises=3_000, seed=11)
    result = check_registry(out)
    return {name: result.clean(name) for name in result.tables}


def known_on(tables: dict[str, pl.DataFrame], as_of: date) -> dict[str, pl.DataFrame]:
    """The registries exactly as they stood on ``as_of``: later records gone, later events undone."""

    def undo_later(col: str) -> pl.Expr:
        return pl.when(pl.col(col) <= as_of).then(pl.col(col)).alias(col)

    b = tables["business"].filter(pl.col("established_on") <= as_of)
    later_status = pl.col("status_since") > as_of
    return {
        "business": b.with_columns(
            pl.when(later_status).then(pl.lit("operating")).otherwise(pl.col("status")).alias("status"),
            undo_later("status_since"),
        ),
        "tax_filings": tables["tax_filings"].filter(pl.col("filed_on") <= as_of),
        "tax_credit": tables["tax_credit"].filter(pl.col("rated_on") <= as_of),
        "si_monthly": tables["si_monthly"].filter(pl.col("month") <= as_of),
        "si_hires": tables["si_hires"].filter(pl.col("hire_date") <= as_of).with_columns(undo_later("insured_until")),
        "patents": tables["patents"].filter(pl.col("filed_on") <= as_of).with_columns(undo_later("granted_on")),
        "credit_lists": tables["credit_lists"]
        .filter(pl.col("listed_on") <= as_of)
        .with_columns(undo_later("removed_on")),
        "certifications": tables["certifications"].filter(pl.col("valid_from") <= as_of),
    }


@pytest.mark.parametrize("as_of", [date(2023, 1, 31), date(2024, 3, 15), date(2024, 12, 31), date(2025, 6, 30)])
def test_profiles_when_records_dated_after_as_of_are_added_change_nothing(registry, as_of):
    everything = build_profiles(registry, as_of).collect()
    then = build_profiles(known_on(registry, as_of), as_of).collect()
    assert everything.height > 0
    assert_frame_equal(everything, then)


def test_profiles_when_as_of_moves_forward_do_change(registry):
    # The equality above would hold trivially if the data ignored dates; it must not.
    early = build_profiles(registry, date(2023, 6, 30)).collect()
    late = build_profiles(registry, date(2025, 6, 30)).collect()
    assert late.height > early.height
    assert early["revenue_last_year"].to_list() != late.head(early.height)["revenue_last_year"].to_list()

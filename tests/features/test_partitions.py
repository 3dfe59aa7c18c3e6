"""Partitions of the population: stable across machines and versions, balanced, and lossless for profiles."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.profiles import build_profiles
from features.registries.partitions import partition_of, partition_of_uscc, partition_tables
from features.registries.validate import check_registry
from features.synthetic.generate import generate

CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the USCC's alphabet (GB 32100)
usccs = st.text(alphabet=CHARS, min_size=18, max_size=18)


def test_partition_when_computed_is_pinned_so_no_upgrade_moves_an_enterprise():
    # Golden values: if these change, every stored partitioning (and a distributed run's) would disagree.
    codes = ["91440300MA5G00000X", "91110000100000001Y", "92500107MA5U3Y7L4K", "00000000000000000X"]
    assert [partition_of_uscc(c, 16) for c in codes] == [2, 7, 10, 2]
    assert pl.DataFrame({"uscc": codes}).select(partition_of(16))["uscc"].to_list() == [2, 7, 10, 2]


@settings(max_examples=50, deadline=None)
@given(st.lists(usccs, min_size=1, max_size=200), st.integers(1, 4096))
def test_partition_when_computed_in_polars_equals_the_python_reference(codes, n):
    found = pl.DataFrame({"uscc": codes}).select(partition_of(n))["uscc"].to_list()
    assert found == [partition_of_uscc(c, n) for c in codes]


def test_partition_when_the_code_is_missing_or_malformed_is_the_first_never_none():
    codes = [None, "", "not a code!", "91440300MA5G00000X"]
    assert pl.DataFrame({"uscc": codes}).select(partition_of(16))["uscc"].to_list() == [0, 0, 0, 2]


def test_partitions_when_many_hold_about_the_same_number_of_enterprises(tmp_path):
    generate(tmp_path / "registry", enterprises=20_000, seed=11)
    business = pl.read_parquet(next((tmp_path / "registry").glob("business*")))
    sizes = business.group_by(partition_of(8)).len()["len"]
    assert sizes.len() == 8 and sizes.min() > 0.9 * business.height / 8 and sizes.max() < 1.1 * business.height / 8


def test_profiles_when_built_per_partition_together_equal_the_whole_population(tmp_path):
    generate(tmp_path / "registry", enterprises=3_000, seed=12)
    checked = check_registry(tmp_path / "registry")
    tables = {t: checked.clean(t) for t in checked.tables}
    as_of = date(2025, 6, 30)
    whole = build_profiles(tables, as_of).collect().sort("uscc")
    parts = [build_profiles(partition_tables(tables, 4, k), as_of).collect() for k in range(4)]
    assert all(p.height for p in parts)
    assert pl.concat(parts).sort("uscc").equals(whole)


def test_partition_when_asked_for_an_impossible_one_says_what_is_allowed():
    with pytest.raises(ValueError, match="expected 1 to 4096, got 0"):
        partition_of(0)
    with pytest.raises(ValueError, match="expected 0 to 3, got 4"):
        partition_tables({}, 4, 4)

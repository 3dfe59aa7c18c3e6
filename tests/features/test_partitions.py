"""Partitions of the population: ranges of the USCC, balanced, the same for the same files, lossless for profiles."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.profiles import build_profiles
from features.registries.partitions import Partitioning, partition_tables
from features.registries.validate import check_registry
from features.synthetic.generate import generate

CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the USCC's alphabet (GB 32100)
usccs = st.text(alphabet=CHARS, min_size=18, max_size=18)


@settings(max_examples=50, deadline=None)
@given(st.lists(usccs, min_size=1, max_size=200), st.lists(usccs, min_size=1, max_size=200), st.integers(1, 64))
def test_partition_when_computed_in_polars_equals_the_python_reference(population, codes, n):
    cut = Partitioning.of_codes(population, n)
    found = pl.DataFrame({"uscc": codes}).select(cut.of())["uscc"].to_list()
    assert found == [cut.of_uscc(c) for c in codes]


@settings(max_examples=50, deadline=None)
@given(st.lists(usccs, min_size=1, max_size=300, unique=True), st.integers(1, 16))
def test_partitions_when_cut_are_ranges_of_about_equal_size_in_code_order(codes, n):
    cut = Partitioning.of_codes(codes, n)
    parts = pl.DataFrame({"uscc": codes}).with_columns(part=cut.of()).sort("uscc")["part"].to_list()
    assert parts == sorted(parts)  # each partition a range: the index pages a partition writes lie together
    sizes = [parts.count(k) for k in range(cut.n)]
    assert max(sizes) - min(sizes) <= 1 or len(codes) < n


def test_partition_when_the_code_is_missing_or_malformed_is_one_partition_never_none():
    cut = Partitioning.of_codes(["91110000100000001Y", "91440300MA5G00000X", "92500107MA5U3Y7L4K"], 3)
    codes = [None, "", "not a code!", "91440300MA5G00000X"]
    found = pl.DataFrame({"uscc": codes}).select(cut.of())["uscc"].to_list()
    assert found == [0, 0, 2, 1] == [cut.of_uscc(c) for c in codes]


def test_partitions_when_many_hold_about_the_same_number_of_enterprises(tmp_path):
    generate(tmp_path / "registry", enterprises=20_000, seed=11)
    business = pl.scan_parquet(next((tmp_path / "registry").glob("business*")))
    cut = Partitioning.of_frame(business, 8)
    sizes = business.collect().group_by(cut.of()).len()["len"]
    height = business.select(pl.len()).collect().item()
    assert sizes.len() == 8 and sizes.min() > 0.99 * height / 8 and sizes.max() < 1.01 * height / 8
    assert Partitioning.of_frame(business, 8) == cut  # the same files cut the same: a resumed run finds its parts


def test_profiles_when_built_per_partition_together_equal_the_whole_population(tmp_path):
    generate(tmp_path / "registry", enterprises=3_000, seed=12)
    checked = check_registry(tmp_path / "registry")
    tables = {t: checked.clean(t) for t in checked.tables}
    as_of = date(2025, 6, 30)
    whole = build_profiles(tables, as_of).collect().sort("uscc")
    cut = Partitioning.of_frame(tables["business"].lazy(), 4)
    parts = [build_profiles(partition_tables(tables, cut, k), as_of).collect() for k in range(4)]
    assert all(p.height for p in parts)
    assert pl.concat(parts).sort("uscc").equals(whole)


def test_partition_when_asked_for_an_impossible_one_says_what_is_allowed():
    with pytest.raises(ValueError, match="expected 1 to 4096, got 0"):
        Partitioning.of_codes([], 0)
    with pytest.raises(ValueError, match="expected 0 to 3, got 4"):
        partition_tables({}, Partitioning.of_codes(["A", "B", "C", "D"], 4), 4)
    with pytest.raises(ValueError, match="ascending"):
        Partitioning(("B", "A"))

"""A registry split into partitions and checked one partition at a time: together, exactly the whole check."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from features.registries.partitions import Partitioning
from features.registries.split import check_part, split_registry
from features.registries.validate import check_registry
from features.synthetic.generate import generate

DAY = date(2025, 7, 1)
N = 3


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A generated registry with repeats a partition cannot see alone: one patent number delivered for two
    enterprises of different partitions (conflicting versions: both set aside) and an exact copy of a business
    row; and a social insurance row whose code is no code at all (it belongs to the partition its text sorts in)."""
    out = tmp_path_factory.mktemp("registry")
    generate(out, enterprises=1_500, seed=21)
    patents = pl.read_parquet(out / "patents.parquet").with_columns(_p=_cut(out).of())
    a = patents.filter(pl.col("_p") == 1).row(0, named=True)
    b_index = patents.with_row_index().filter(pl.col("_p") == 2)["index"][0]
    patents = patents.drop("_p").with_columns(
        patent_no=pl.when(pl.int_range(pl.len()) == b_index).then(pl.lit(a["patent_no"])).otherwise("patent_no")
    )
    patents.write_parquet(out / "patents.parquet")
    business = pl.read_parquet(out / "business.parquet")
    pl.concat([business, business.slice(7, 1)]).write_parquet(out / "business.parquet")
    monthly = pl.read_parquet(out / "si_monthly.parquet")
    pl.concat([monthly, monthly.head(1).with_columns(uscc=pl.lit("not a code"))]).write_parquet(
        out / "si_monthly.parquet"
    )
    return out, a["patent_no"]


def _cut(directory) -> Partitioning:
    """The run's partitions of this registry: ranges of the USCC cut at equal steps through its enterprises."""
    return Partitioning.of_frame(pl.scan_parquet(directory / "business.parquet"), N)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_check_when_taken_per_partition_together_equals_the_whole_check(registry, tmp_path):
    directory, shared_patent = registry
    whole = check_registry(directory, checked_on=DAY)
    split = split_registry(directory, _cut(directory), tmp_path / "split", checked_on=DAY)
    parts = [check_part(split, k) for k in range(N)]

    assert split.fingerprint == whole.fingerprint
    for name, table in whole.tables.items():
        assert sum(p.tables[name].rows_read for p in parts) == table.rows_read, name
        assert _sorted(pl.concat([p.clean(name) for p in parts])).equals(_sorted(table.clean)), name
        found = pl.concat([p.tables[name].quarantine for p in parts], how="vertical_relaxed")
        assert _sorted(found).equals(_sorted(table.quarantine)), name
    # The repeats were found although their rows lie in different partitions.
    patents = pl.concat([p.tables["patents"].quarantine for p in parts])
    assert patents.filter((pl.col("rule") == "duplicate") & pl.col("value").str.contains(shared_patent)).height == 2
    assert all(shared_patent not in p.clean("patents")["patent_no"] for p in parts)
    assert pl.concat([p.tables["business"].quarantine for p in parts]).filter(pl.col("rule") == "duplicate").height
    last = parts[_cut(directory).of_uscc("not a code")]
    unknown = last.tables["si_monthly"].quarantine.filter(pl.col("source.uscc") == "not a code")
    assert unknown.height >= 1


def test_check_part_when_the_partition_is_out_of_range_says_which_exist(registry, tmp_path):
    split = split_registry(registry[0], _cut(registry[0]), tmp_path / "split", checked_on=DAY)
    with pytest.raises(ValueError, match="expected 0 to 2, got 3"):
        check_part(split, 3)

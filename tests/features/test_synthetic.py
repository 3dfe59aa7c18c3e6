"""The synthetic registry generator: contract, determinism, realism and dirty mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.registries.schema import TABLES
from features.standards.divisions import division_problem_expr
from features.standards.industry import industry_problem_expr
from features.standards.size_class import size_class_expr
from features.standards.uscc import uscc_problem_expr
from features.synthetic import STAGES, generate
from features.synthetic.codes import UsccMinter
from features.synthetic.dirty import rules_for
from features.synthetic.enterprises import draw_firms
from features.synthetic.social_insurance import si_monthly

START, END = date(2022, 1, 1), date(2025, 6, 30)  # a mid-year snapshot: filings and ratings are cut off by it
N = 1500


def _read(directory: Path, name: str, fmt: str = "parquet") -> pl.DataFrame:
    path = directory / f"{name}.{fmt}"
    return pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path, schema=TABLES[name].schema)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, enterprises=N, seed=11, start=START, end=END)
    return out


@pytest.fixture(scope="module")
def tables(clean: Path) -> dict[str, pl.DataFrame]:
    return {name: _read(clean, name) for name in TABLES}


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, enterprises=N, seed=11, start=START, end=END, dirty=0.05)
    return out


def _generate_in_process(out: Path, env: dict[str, str]) -> None:
    code = f"from features.synthetic import generate; generate({str(out)!r}, enterprises=400, seed=3, dirty=0.05)"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, **env})


def test_generate_when_same_seed_is_deterministic(tmp_path: Path) -> None:
    # Separate processes with different hash seeds and thread counts: nothing may depend on either.
    _generate_in_process(tmp_path / "a", {"PYTHONHASHSEED": "1"})
    _generate_in_process(tmp_path / "b", {"PYTHONHASHSEED": "2", "POLARS_MAX_THREADS": "1"})
    for name in [*TABLES, "manifest"]:
        suffix = "json" if name == "manifest" else "parquet"
        assert (tmp_path / "a" / f"{name}.{suffix}").read_bytes() == (tmp_path / "b" / f"{name}.{suffix}").read_bytes()


def test_generate_when_seeds_differ_gives_different_enterprises(tmp_path: Path) -> None:
    generate(tmp_path / "a", enterprises=400, seed=1)
    generate(tmp_path / "b", enterprises=400, seed=2)
    a, b = (set(_read(tmp_path / d, "business")["uscc"]) for d in ("a", "b"))
    assert not a & b


def test_generate_writes_every_table_with_the_contract_schema(clean: Path) -> None:
    for name, table in TABLES.items():
        schema = pl.read_parquet_schema(clean / f"{name}.parquet")
        assert list(schema.items()) == list(table.schema.items()), name


def test_generate_returns_the_path_of_every_table(tmp_path: Path) -> None:
    paths = generate(tmp_path, enterprises=50, seed=0, fmt="csv")
    assert paths == {name: tmp_path / f"{name}.csv" for name in TABLES}
    assert all(p.is_file() for p in paths.values())


def test_generate_codes_pass_their_standard_checks(tables: dict[str, pl.DataFrame]) -> None:
    business = tables["business"]
    problems = business.select(
        uscc=uscc_problem_expr().drop_nulls(),
        industry=industry_problem_expr().drop_nulls(),
        division=division_problem_expr().drop_nulls(),
    )
    assert problems.height == 0
    # Positions 3-8 of the USCC are the registering division.
    assert (business["uscc"].str.slice(2, 6) == business["division_code"]).all()
    # Positions 1-2 name the registering authority and kind of entity.
    expected = {"individual_business": "92", "cooperative": "93", "public_institution": "12",
                "government_agency": "11", "social_organization": "51"}  # fmt: skip
    pairs = business.select("enterprise_type", pl.col("uscc").str.slice(0, 2)).unique()
    assert all(prefix == expected.get(kind, "91") for kind, prefix in pairs.iter_rows())


def test_generate_keys_are_unique(tables: dict[str, pl.DataFrame]) -> None:
    for name, table in TABLES.items():
        frame = tables[name]
        assert frame.height > 0, name
        assert not frame.select(pl.struct(list(table.key)).is_duplicated().any()).item(), name


def test_generate_has_no_record_dated_after_the_snapshot(tables: dict[str, pl.DataFrame]) -> None:
    for name, frame in tables.items():
        # A certificate in force expires after the snapshot: its valid_to is known in advance.
        dates = [c for c, t in frame.schema.items() if t == pl.Date and (name, c) != ("certifications", "valid_to")]
        for column in dates:
            assert frame[column].max() <= END, (name, column)
    assert tables["si_monthly"]["month"].max() == date(END.year, END.month, 1)
    assert tables["tax_filings"]["year"].max() == END.year - 1
    assert tables["si_hires"]["graduate_year"].max() <= END.year


def test_generate_ordered_date_pairs_hold(tables: dict[str, pl.DataFrame]) -> None:
    for name, table in TABLES.items():
        for earlier, later in table.ordered:
            wrong = tables[name].filter(pl.col(later) < pl.col(earlier))
            assert wrong.height == 0, (name, earlier, later)


def test_generate_every_record_names_a_registered_enterprise(tables: dict[str, pl.DataFrame]) -> None:
    registered = tables["business"]["uscc"].implode()
    for name, frame in tables.items():
        assert frame.filter(~pl.col("uscc").is_in(registered)).height == 0, name


def test_generate_history_stays_within_each_enterprise_lifetime(tables: dict[str, pl.DataFrame]) -> None:
    business = tables["business"].select("uscc", "established_on", "status_since")
    months = tables["si_monthly"].join(business, on="uscc")
    assert months.filter(pl.col("month") <= pl.col("established_on")).height == 0
    assert months.filter(pl.col("month") >= pl.col("status_since")).height == 0
    filings = tables["tax_filings"].join(business, on="uscc")
    # One filing per full calendar year of existence, from start.year - 1.
    assert filings.filter(pl.col("established_on") > pl.date(pl.col("year"), 1, 1)).height == 0
    assert filings["year"].min() == START.year - 1
    assert filings.filter(pl.col("filed_on") <= pl.date(pl.col("year"), 12, 31)).height == 0


def test_generate_size_classes_fall_in_plausible_bands(tables: dict[str, pl.DataFrame]) -> None:
    latest = tables["tax_filings"].sort("year").group_by("uscc").last()
    sized = latest.join(tables["business"], on="uscc").select(
        size_class_expr(
            pl.col("industry_code"), pl.col("employees"), pl.col("revenue") / 1e4, pl.col("total_assets") / 1e4
        ).alias("size")
    )
    share = dict(sized["size"].value_counts(normalize=True).iter_rows())
    assert 0.62 <= share["micro"] <= 0.85
    assert 0.12 <= share["small"] <= 0.32
    assert 0.01 <= share["medium"] <= 0.08
    assert share.get("large", 0.0) <= 0.02


def test_generate_mixes_enterprises_like_a_real_register(tables: dict[str, pl.DataFrame]) -> None:
    business = tables["business"]
    kinds = dict(business["enterprise_type"].value_counts(normalize=True).iter_rows())
    assert 0.62 <= kinds["limited_company"] <= 0.80
    assert 0.06 <= kinds["individual_business"] <= 0.14
    status = dict(business["status"].value_counts(normalize=True).iter_rows())
    assert 0.88 <= status["operating"] <= 0.96
    assert business.filter((pl.col("status") == "operating") != pl.col("status_since").is_null()).height == 0
    without_si = 1 - tables["si_monthly"]["uscc"].n_unique() / business.height
    assert 0.04 <= without_si <= 0.25  # no account, or closed before the window
    ratings = dict(tables["tax_credit"]["rating"].value_counts(normalize=True).iter_rows())
    assert ratings["B"] > ratings["A"] > ratings["C"] > ratings["D"]
    holders = tables["patents"]["uscc"].n_unique() / business.height
    assert 0.10 <= holders <= 0.20
    high_tech = tables["certifications"].filter(pl.col("certification") == "high_tech")["uscc"].n_unique()
    assert 0.015 <= high_tech / business.height <= 0.04


def test_generate_layoff_rates_straddle_the_refund_thresholds(tables: dict[str, pl.DataFrame]) -> None:
    last_year = (
        tables["si_monthly"]
        .filter(pl.col("month").dt.year() == END.year - 1)
        .group_by("uscc")
        .agg(pl.col("insured_headcount").mean().alias("staff"), pl.col("new_ui_claimants").sum().alias("left"))
        .with_columns(rate=pl.col("left") / pl.col("staff"))
    )
    small = last_year.filter(pl.col("staff") <= 30)["rate"]
    assert 0.01 <= (small > 0.20).mean() <= 0.3
    assert (small == 0).mean() > 0.5
    arrears = tables["si_monthly"].filter(pl.col("ui_paid") < pl.col("ui_due"))["uscc"].n_unique()
    assert 0.01 <= arrears / tables["si_monthly"]["uscc"].n_unique() <= 0.12


def test_generate_hires_describe_plausible_persons(tables: dict[str, pl.DataFrame]) -> None:
    hires = tables["si_hires"]
    age = (pl.col("hire_date") - pl.col("birth_date")).dt.total_days() / 365.2425
    assert hires.select(age.min()).item() >= 16
    assert hires.select(age.max()).item() < 61
    graduates = hires["graduate_year"].is_not_null().mean()
    assert 0.2 <= graduates <= 0.4
    assert hires.filter(pl.col("registered_unemployed") != pl.col("unemployed_months").is_not_null()).height == 0
    # A person hired by two firms is one person: same birth date everywhere.
    people = hires.group_by("person_id").agg(pl.col("uscc").n_unique(), pl.col("birth_date").n_unique())
    assert people.filter(pl.col("uscc") > 1).height > 0
    assert (people["birth_date"] == 1).all()


def test_generate_certificates_run_three_years(tables: dict[str, pl.DataFrame]) -> None:
    certs = tables["certifications"]
    expected_to = pl.col("valid_from").dt.offset_by("3y") - pl.duration(days=1)
    assert certs.filter(pl.col("valid_to") != expected_to).height == 0
    assert certs["valid_from"].max() <= END
    renewed = certs.filter(pl.col("certification") == "high_tech").group_by("uscc").len()
    assert renewed.filter(pl.col("len") > 1).height > 0


def test_si_monthly_when_the_last_enterprise_has_no_account() -> None:
    firms = draw_firms(200, END, np.random.default_rng(0), UsccMinter(np.random.default_rng(1)))
    firms.has_si[-3:] = False
    frame, accounts = si_monthly(firms, START, END, np.random.default_rng(2))
    assert frame.height == int(np.maximum(accounts.last - accounts.first + 1, 0).sum())
    assert not frame["uscc"].is_in(firms.uscc[-3:].implode()).any()


def test_generate_csv_holds_the_same_rows_as_parquet(tmp_path: Path, clean: Path) -> None:
    generate(tmp_path, enterprises=N, seed=11, start=START, end=END, fmt="csv")
    for name in TABLES:
        assert _read(tmp_path, name, "csv").equals(_read(clean, name)), name


def test_generate_dirty_counts_every_applicable_rule(dirty: Path, clean: Path) -> None:
    manifest = json.loads((dirty / "manifest.json").read_text())
    assert manifest["dirty"] == 0.05
    for name, table in TABLES.items():
        counts = manifest["dirty_rows"][name]
        assert list(counts) == rules_for(table, "parquet"), name
        assert all(k > 0 for k in counts.values()), name
        rows = _read(dirty, name)
        original = _read(clean, name)
        assert rows.height == manifest["rows"][name] == original.height + sum(counts.values()), name
        # Bad rows are added after the clean ones, which stay untouched.
        assert rows.head(original.height).equals(original), name
    assert "uscc" in manifest["dirty_rows"]["business"]
    assert "unknown_enterprise" not in manifest["dirty_rows"]["business"]
    assert "type" in manifest["dirty_rows"]["si_monthly"]  # NaN / inf in a float column
    assert "type" not in manifest["dirty_rows"]["patents"]  # Parquet dates and text always parse


def _unparseable(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Date:
        parsed = raw.str.to_date("%Y-%m-%d", strict=False)
    elif dtype == pl.Boolean:
        parsed = raw.str.to_lowercase().replace_strict({"true": True, "false": False}, default=None)
    else:
        parsed = raw.cast(dtype, strict=False)
    return raw.is_not_null() & parsed.is_null()


def test_generate_dirty_csv_adds_unparseable_values(tmp_path: Path) -> None:
    generate(tmp_path, enterprises=300, seed=5, dirty=0.05, fmt="csv")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for name, table in TABLES.items():
        raw = pl.read_csv(tmp_path / f"{name}.csv", infer_schema=False)
        typed = [_unparseable(pl.col(c), t) for c, t in table.schema.items() if t != pl.String]
        assert raw.filter(pl.any_horizontal(typed)).height == manifest["dirty_rows"][name]["type"] > 0, name


def test_generate_dirty_rows_are_exactly_what_the_validator_quarantines(dirty: Path) -> None:
    validate = pytest.importorskip("features.registries.validate")
    manifest = json.loads((dirty / "manifest.json").read_text())
    result = validate.check_registry(dirty)
    for name, check in result.tables.items():
        per_rule = check.quarantine.group_by("rule").agg(pl.col("row").n_unique())
        assert dict(per_rule.iter_rows()) == manifest["dirty_rows"][name], name
        assert check.rows_quarantined == sum(manifest["dirty_rows"][name].values()), name


def test_generate_reports_each_stage_in_order(tmp_path: Path) -> None:
    seen: list[str] = []
    generate(tmp_path, enterprises=50, seed=0, progress=seen.append)
    assert seen == list(STAGES)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enterprises": 0}, "enterprises"),
        ({"dirty": 1.5}, "dirty"),
        ({"start": date(2025, 1, 1), "end": date(2024, 1, 1)}, "start"),
        ({"fmt": "xlsx"}, "fmt"),
    ],
)
def test_generate_rejects_impossible_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"enterprises": 10, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, **arguments)


def test_generate_when_past_one_batch_joins_the_batches_into_one_registry(tmp_path: Path) -> None:
    # Three batches (100, 100, 50 enterprises): one file per table, codes never repeated across batches, and the
    # bad rows of every batch exactly what the validator quarantines, as for a registry drawn at once.
    validate = pytest.importorskip("features.registries.validate")
    seen: list[str] = []
    generate(tmp_path / "dirty", enterprises=250, seed=4, dirty=0.05, batch=100, progress=seen.append)
    assert seen[0] == "business registration (batch 1 of 3)" and seen[-1] == "manifest"
    assert not (tmp_path / "dirty" / ".pieces").exists()
    manifest = json.loads((tmp_path / "dirty" / "manifest.json").read_text())
    result = validate.check_registry(tmp_path / "dirty")
    assert result.tables["business"].clean["uscc"].n_unique() == 250  # bad rows come on top of the firms
    for name, check in result.tables.items():
        assert check.rows_read == manifest["rows"][name], name
        per_rule = check.quarantine.group_by("rule").agg(pl.col("row").n_unique())
        assert dict(per_rule.iter_rows()) == manifest["dirty_rows"][name], name
    assert sum(manifest["lists"].values()) > 0

    generate(tmp_path / "parquet", enterprises=250, seed=4, batch=100)
    generate(tmp_path / "csv", enterprises=250, seed=4, batch=100, fmt="csv")
    for name in TABLES:
        assert _read(tmp_path / "csv", name, "csv").equals(_read(tmp_path / "parquet", name)), name
    business = _read(tmp_path / "parquet", "business")
    assert business.height == 250 and business["uscc"].n_unique() == 250
    assert validate.check_registry(tmp_path / "parquet").tables["si_monthly"].rows_quarantined == 0

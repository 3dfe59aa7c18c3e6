"""Reading a registry directory: file-level errors, dtype conversion, CSV parsing, fingerprint."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from features.errors import RegistryFileError, SchemaMismatchError
from features.registries.schema import TABLES
from features.registries.validate import RegistryCheck, check_registry
from tests.factories import frame, uscc, write_registry

FIRM = uscc(1)


def _registry(tmp_path: Path, tables: dict, fmt: str = "parquet") -> Path:
    return write_registry(tmp_path / "registry", {"business": [{"uscc": FIRM}], **tables}, fmt)


def _as_text(table: str, rows: list[dict], /, **text: list[str | None]) -> pl.DataFrame:
    """The table as a CSV would carry it: every column text, some replaced by raw strings."""
    df = frame(table, rows).with_columns(pl.all().cast(pl.String))
    return df.with_columns(pl.Series(column, values, dtype=pl.String) for column, values in text.items())


def _records(result: RegistryCheck, table: str, rule: str) -> list[dict]:
    q = result.tables[table].quarantine
    return q.filter(pl.col("rule") == rule).to_dicts()


# ---------------------------------------------------------------------------------------------- files


def test_check_registry_when_table_file_missing_raises_naming_directory_and_expected_files(tmp_path):
    directory = _registry(tmp_path, {})
    (directory / "patents.parquet").unlink()

    with pytest.raises(RegistryFileError) as err:
        check_registry(directory)

    message = str(err.value)
    assert str(directory) in message
    assert "patents.parquet or patents.csv" in message
    assert "empty file with the header" in message


def test_check_registry_when_table_delivered_as_parquet_and_csv_raises_naming_both(tmp_path):
    directory = _registry(tmp_path, {})
    frame("patents", []).write_csv(directory / "patents.csv")

    with pytest.raises(RegistryFileError, match=r"patents\.parquet and patents\.csv") as err:
        check_registry(directory)
    assert "keep one" in err.value.fix


def test_check_registry_when_parquet_file_corrupt_raises_naming_the_file(tmp_path):
    directory = _registry(tmp_path, {})
    (directory / "tax_credit.parquet").write_bytes(b"PAR1 this is not parquet")

    with pytest.raises(RegistryFileError) as err:
        check_registry(directory)
    assert err.value.path == directory / "tax_credit.parquet"
    assert "cannot be read as Parquet" in str(err.value)


def test_check_registry_when_csv_not_utf8_raises_asking_for_utf8(tmp_path):
    directory = _registry(tmp_path, {}, fmt="csv")
    header = ",".join(TABLES["business"].schema)
    row = f"{FIRM},测试企业,limited_company,100,2015-03-01,C3911,440305,operating,,false"
    (directory / "business.csv").write_bytes(f"{header}\n{row}\n".encode("gbk"))

    with pytest.raises(RegistryFileError) as err:
        check_registry(directory)
    assert err.value.path == directory / "business.csv"
    assert "UTF-8" in err.value.fix


# ---------------------------------------------------------------------------------------------- columns


def test_check_registry_when_column_missing_raises_naming_file_column_and_found_columns(tmp_path):
    directory = _registry(tmp_path, {"tax_credit": frame("tax_credit", []).drop("rating")})

    with pytest.raises(SchemaMismatchError) as err:
        check_registry(directory)

    e = err.value
    assert e.path == directory / "tax_credit.parquet"
    assert e.column == "rating"
    assert "'uscc', 'year', 'rated_on'" in e.found


def test_check_registry_when_column_name_misspelt_suggests_the_contract_name(tmp_path):
    misspelt = frame("business", [{"uscc": FIRM}]).rename({"industry_code": "industy_code"})
    directory = write_registry(tmp_path / "registry", {"business": misspelt})

    with pytest.raises(SchemaMismatchError) as err:
        check_registry(directory)
    assert err.value.column == "industry_code"
    assert "rename column 'industy_code' to 'industry_code'" in err.value.fix


def test_check_registry_when_several_files_are_wrong_reports_them_all_at_once(tmp_path):
    directory = _registry(
        tmp_path,
        {"tax_credit": frame("tax_credit", []).drop("rating"), "patents": frame("patents", []).drop("filed_on")},
    )

    with pytest.raises(SchemaMismatchError) as err:
        check_registry(directory)
    assert err.value.column == "rating"
    [note] = err.value.__notes__
    assert "patents.parquet" in note
    assert "filed_on" in note


def test_check_registry_when_parquet_revenue_is_text_raises_with_expected_and_found_dtypes(tmp_path):
    filings = frame("tax_filings", [{"uscc": FIRM, "year": 2023}]).with_columns(pl.col("revenue").cast(pl.String))
    directory = _registry(tmp_path, {"tax_filings": filings})

    with pytest.raises(SchemaMismatchError) as err:
        check_registry(directory)
    e = err.value
    assert (e.column, e.expected, e.found) == ("revenue", "Float64", "String")
    assert "CSV" in e.fix


def test_check_registry_when_parquet_date_is_a_timestamp_raises_instead_of_guessing_the_day(tmp_path):
    patents = frame("patents", [{"uscc": FIRM, "patent_no": "P1"}]).with_columns(pl.col("filed_on").cast(pl.Datetime))
    directory = _registry(tmp_path, {"patents": patents})

    with pytest.raises(SchemaMismatchError) as err:
        check_registry(directory)
    assert (err.value.column, err.value.expected) == ("filed_on", "Date")
    assert "Datetime" in err.value.found
    assert "time zone" in err.value.fix


def test_check_registry_when_parquet_uses_wider_or_integer_types_converts_them_losslessly(tmp_path):
    row = {"uscc": FIRM, "year": 2023, "employees": 40, "revenue": 7, "rd_expense": 1.25}
    filings = frame("tax_filings", [row]).with_columns(
        pl.col("uscc").cast(pl.Categorical),
        pl.col("year").cast(pl.Int16),
        pl.col("employees").cast(pl.Int64),
        pl.col("revenue").cast(pl.Int64),
        pl.col("rd_expense").cast(pl.Decimal(12, 2)),  # how databases export money
    )
    directory = _registry(tmp_path, {"tax_filings": filings})

    clean = check_registry(directory).clean("tax_filings")

    assert clean.schema == pl.Schema(TABLES["tax_filings"].schema)
    assert clean.select("uscc", "year", "employees", "revenue", "rd_expense").row(0) == (FIRM, 2023, 40, 7.0, 1.25)


def test_check_registry_when_parquet_int64_does_not_fit_int32_quarantines_that_row_as_type(tmp_path):
    filings = frame(
        "tax_filings", [{"uscc": FIRM, "year": 2022}, {"uscc": FIRM, "year": 2023, "employees": 0}]
    ).with_columns(pl.Series("employees", [12, 3_000_000_000], dtype=pl.Int64))
    directory = _registry(tmp_path, {"tax_filings": filings})

    result = check_registry(directory)

    [record] = _records(result, "tax_filings", "type")
    assert (record["row"], record["column"], record["value"]) == (2, "employees", "3000000000")
    assert "between -2147483648 and 2147483647" in record["reason"]
    assert result.clean("tax_filings")["employees"].to_list() == [12]


def test_check_registry_when_parquet_amount_is_nan_quarantines_it_as_type(tmp_path):
    filings = [{"uscc": FIRM, "year": 2023, "revenue": float("nan")}]
    result = check_registry(_registry(tmp_path, {"tax_filings": filings}))

    [record] = _records(result, "tax_filings", "type")
    assert record["column"] == "revenue"
    assert "expected a finite number" in record["reason"]


def test_check_registry_when_file_has_extra_columns_ignores_and_reports_them(tmp_path):
    business = frame("business", [{"uscc": FIRM}]).with_columns(pl.lit("张三").alias("legal_representative"))
    result = check_registry(write_registry(tmp_path / "registry", {"business": business}))

    assert result.tables["business"].ignored_columns == ("legal_representative",)
    assert result.clean("business").columns == list(TABLES["business"].schema)
    assert result.summary().filter(table="business")["ignored_columns"].item() == "legal_representative"


# ---------------------------------------------------------------------------------------------- CSV


def test_check_registry_when_csv_is_clean_gives_the_same_frames_as_parquet(tmp_path):
    tables = {
        "business": [{"uscc": FIRM, "status": "deregistered", "status_since": date(2020, 5, 1)}],
        "tax_filings": [{"uscc": FIRM, "year": 2023, "vat_small_scale": True}],
        "si_hires": [{"uscc": FIRM, "person_id": "p1", "hire_date": date(2023, 1, 9), "graduate_year": 2022}],
    }
    from_parquet = check_registry(write_registry(tmp_path / "p", tables))
    from_csv = check_registry(write_registry(tmp_path / "c", tables, fmt="csv"))

    for name in TABLES:
        assert from_csv.clean(name).equals(from_parquet.clean(name)), name
        assert from_csv.tables[name].quarantine.is_empty()


def test_check_registry_when_csv_saved_by_excel_with_bom_and_crlf_reads_it(tmp_path):
    directory = _registry(tmp_path, {"tax_credit": [{"uscc": FIRM, "year": 2023}]}, fmt="csv")
    path = directory / "tax_credit.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))

    result = check_registry(directory)

    assert result.clean("tax_credit").select("uscc", "year").row(0) == (FIRM, 2023)
    assert result.tables["tax_credit"].quarantine.is_empty()


def test_check_registry_when_csv_date_not_iso_quarantines_it_with_the_data_row_number(tmp_path):
    rows = [{"uscc": FIRM, "year": y} for y in (2021, 2022, 2023)]
    text = _as_text("tax_credit", rows, rated_on=["2022-04-20", "2024/13/01", "2023-4-2"])
    result = check_registry(_registry(tmp_path, {"tax_credit": text}, fmt="csv"))

    records = _records(result, "tax_credit", "type")
    assert [(r["row"], r["value"]) for r in records] == [(2, "2024/13/01"), (3, "2023-4-2")]
    assert records[0]["reason"].startswith("expected a date as YYYY-MM-DD, found '2024/13/01'")
    assert "YYYY-MM-DD" in records[0]["reason_zh"]
    assert records[0]["source.rated_on"] == "2024/13/01"
    assert result.clean("tax_credit")["year"].to_list() == [2021]


def test_check_registry_when_csv_number_has_thousands_separator_suggests_removing_it(tmp_path):
    text = _as_text("tax_filings", [{"uscc": FIRM, "year": 2023}], revenue=["12,000"])
    result = check_registry(_registry(tmp_path, {"tax_filings": text}, fmt="csv"))

    [record] = _records(result, "tax_filings", "type")
    assert record["column"] == "revenue"
    assert "remove the thousands separators (write 12000)" in record["reason"]


@pytest.mark.parametrize(
    ("column", "raw", "expected"),
    [
        ("employees", "12.5", "expected a whole number such as 12, found '12.5'"),
        ("employees", "99999999999", "between -2147483648 and 2147483647"),
        ("rd_expense", "¥100", "expected a plain number such as 1234.5, found '¥100'"),
        ("rd_expense", "inf", "expected a finite number, found 'inf'"),
        ("vat_small_scale", "yes", "expected true/false or 1/0, found 'yes'"),
    ],
)
def test_check_registry_when_csv_value_does_not_parse_says_what_was_expected(tmp_path, column, raw, expected):
    text = _as_text("tax_filings", [{"uscc": FIRM, "year": 2023}], **{column: [raw]})
    result = check_registry(_registry(tmp_path, {"tax_filings": text}, fmt="csv"))

    [record] = _records(result, "tax_filings", "type")
    assert (record["column"], record["value"]) == (column, raw)
    assert expected in record["reason"]


def test_check_registry_when_csv_booleans_use_any_case_or_digits_reads_them(tmp_path):
    rows = [{"uscc": FIRM, "year": y} for y in (2020, 2021, 2022, 2023)]
    text = _as_text("tax_filings", rows, vat_small_scale=["TRUE", "False", "1", " 0 "])
    result = check_registry(_registry(tmp_path, {"tax_filings": text}, fmt="csv"))

    assert result.clean("tax_filings")["vat_small_scale"].to_list() == [True, False, True, False]


def test_check_registry_when_csv_cell_empty_treats_it_as_null(tmp_path):
    # status_since is nullable (empty is fine); name is required (empty is quarantined as missing).
    text = _as_text("business", [{"uscc": FIRM}, {"uscc": uscc(2)}], name=["甲公司", ""], status_since=["", ""])
    result = check_registry(write_registry(tmp_path / "registry", {"business": text}, fmt="csv"))

    assert result.clean("business")["status_since"].to_list() == [None]
    [record] = _records(result, "business", "missing")
    assert (record["row"], record["column"]) == (2, "name")


# ---------------------------------------------------------------------------------------------- fingerprint


def test_check_registry_fingerprint_is_stable_for_identical_files_and_changes_with_content(tmp_path):
    tables = {"tax_credit": [{"uscc": FIRM, "year": 2023}]}
    first = check_registry(_registry(tmp_path / "a", tables)).fingerprint
    again = check_registry(_registry(tmp_path / "b", tables)).fingerprint
    changed = check_registry(_registry(tmp_path / "c", {"tax_credit": [{"uscc": FIRM, "year": 2022}]})).fingerprint

    assert len(first) == 64
    assert first == again
    assert first != changed

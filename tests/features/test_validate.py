"""Validating a registry: each rule quarantines the bad rows with a reason, and nothing is lost."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.errors import RegistryFileError
from features.profiles import build_profiles
from features.profiles.store import ProfileInfo, write_profiles
from features.registries.rules import RULES
from features.registries.schema import STATUSES, TABLES
from features.registries.validate import RegistryCheck, check_registry, write_quarantine
from features.standards.uscc import ALPHABET, uscc_problem
from tests.factories import uscc, write_registry

FIRM = uscc(1)
PUBLIC_USCCS = ["91110000600037341L", "91110108551385082Q", "91350100M000100Y43", "91440101MA5CJQ4N59"]


def _check(tmp_path: Path, tables: dict, fmt: str = "parquet") -> RegistryCheck:
    tables = {"business": [{"uscc": FIRM}], **tables}
    result = check_registry(write_registry(tmp_path / "registry", tables, fmt))
    _assert_nothing_lost(result)
    return result


def _assert_nothing_lost(result: RegistryCheck) -> None:
    for name, t in result.tables.items():
        assert t.rows_read == t.clean.height + t.rows_quarantined, name
        assert t.clean.schema == pl.Schema(TABLES[name].schema), name


def _records(result: RegistryCheck, table: str, rule: str | None = None) -> list[dict]:
    q = result.tables[table].quarantine
    return (q if rule is None else q.filter(pl.col("rule") == rule)).to_dicts()


# ---------------------------------------------------------------------------------------------- clean data


def test_check_registry_when_standard_codes_valid_keeps_every_row_with_the_contract_schema(tmp_path):
    business = [{"uscc": code, "division_code": "350102"} for code in PUBLIC_USCCS]
    hires = [{"uscc": PUBLIC_USCCS[0], "person_id": "p1", "hire_date": date(2024, 2, 1)}]
    result = _check(tmp_path, {"business": business, "si_hires": hires})

    assert result.clean("business")["uscc"].to_list() == PUBLIC_USCCS
    assert result.clean("si_hires").height == 1
    assert all(t.quarantine.is_empty() for t in result.tables.values())


def test_check_registry_when_industry_code_lacks_section_letter_adds_it(tmp_path):
    result = _check(tmp_path, {"business": [{"uscc": FIRM, "industry_code": "6513"}, {"uscc": uscc(2)}]})

    assert result.clean("business")["industry_code"].to_list() == ["I6513", "C3911"]


# ---------------------------------------------------------------------------------------------- rules of one row


def test_check_registry_when_uscc_check_char_wrong_quarantines_row(tmp_path):
    result = _check(tmp_path, {"business": [{"uscc": "91350100M000100Y4Z"}, {"uscc": FIRM}]})

    [record] = _records(result, "business")
    assert (record["row"], record["column"], record["rule"]) == (1, "uscc", "uscc")
    assert record["value"] == "91350100M000100Y4Z"
    assert "check character (position 18) should be '3', found 'Z'" in record["reason"]
    assert "统一社会信用代码" in record["reason_zh"]
    assert result.clean("business")["uscc"].to_list() == [FIRM]


def test_check_registry_when_required_value_missing_quarantines_it_as_missing(tmp_path):
    result = _check(tmp_path, {"business": [{"uscc": FIRM, "name": None}]})

    [record] = _records(result, "business")
    assert (record["rule"], record["column"], record["value"]) == ("missing", "name", None)
    assert "required value is empty" in record["reason"]
    assert "企业名称" in record["reason_zh"]


def test_check_registry_when_nullable_value_missing_keeps_the_row(tmp_path):
    result = _check(tmp_path, {"business": [{"uscc": FIRM, "registered_capital": None}]})

    assert result.clean("business").height == 1


@pytest.mark.parametrize(
    ("column", "code", "rule", "expected"),
    [
        ("industry_code", "C6513", "industry", "division '65' belongs to section 'I', not 'C'"),
        ("industry_code", "Z12", "industry", "expected a GB/T 4754-2017 code"),
        ("division_code", "990101", "division", "province '99' does not exist"),
        ("division_code", "4403", "division", "expected a 6-digit GB/T 2260 division code"),
    ],
)
def test_check_registry_when_code_breaks_its_standard_names_the_standard(tmp_path, column, code, rule, expected):
    result = _check(tmp_path, {"business": [{"uscc": FIRM, column: code}]})

    [record] = _records(result, "business")
    assert (record["rule"], record["column"], record["value"]) == (rule, column, code)
    assert expected in record["reason"]


def test_check_registry_when_value_outside_vocabulary_suggests_the_nearest(tmp_path):
    business = [{"uscc": FIRM, "status": "Operating"}, {"uscc": uscc(2), "status": "closed"}]
    result = _check(tmp_path, {"business": business})

    near, far = _records(result, "business", "allowed")
    assert near["reason"] == (
        "expected one of operating, deregistered, revoked, found 'Operating'; did you mean 'operating'?"
    )
    assert "是否应为 'operating'" in near["reason_zh"]
    assert far["value"] == "closed"
    assert "did you mean" not in far["reason"]


def test_check_registry_when_count_negative_quarantines_it_with_the_value(tmp_path):
    months = [{"uscc": FIRM, "month": date(2024, m, 1)} for m in (1, 2)]
    months[1]["insured_headcount"] = -3
    result = _check(tmp_path, {"si_monthly": months})

    [record] = _records(result, "si_monthly")
    assert (record["row"], record["rule"], record["column"], record["value"]) == (
        2,
        "negative",
        "insured_headcount",
        "-3",
    )
    assert "expected zero or more, found -3" in record["reason"]
    assert result.clean("si_monthly")["month"].to_list() == [date(2024, 1, 1)]


def test_check_registry_when_validity_ends_before_it_starts_quarantines_as_order(tmp_path):
    cert = {"uscc": FIRM, "certificate_no": "GR1", "valid_from": date(2023, 1, 1), "valid_to": date(2022, 12, 31)}
    result = _check(tmp_path, {"certifications": [cert]})

    [record] = _records(result, "certifications")
    assert (record["rule"], record["column"]) == ("order", "valid_to")
    assert record["reason"].startswith("valid_to 2022-12-31 is before valid_from 2023-01-01")


def test_check_registry_when_row_fails_several_checks_lists_each_but_counts_it_once(tmp_path):
    business = [{"uscc": FIRM, "status": "Operating", "registered_capital": -5.0}, {"uscc": uscc(2)}]
    result = _check(tmp_path, {"business": business})

    records = _records(result, "business")
    assert [(r["row"], r["rule"]) for r in records] == [(1, "negative"), (1, "allowed")]
    assert result.tables["business"].rows_quarantined == 1
    assert result.summary().filter(table="business").select("rows_read", "rows_clean", "rows_quarantined").row(0) == (
        2,
        1,
        1,
    )


# ---------------------------------------------------------------------------------------------- duplicates


def test_check_registry_when_rows_are_exact_copies_keeps_the_first(tmp_path):
    credit = [{"uscc": FIRM, "year": 2023}, {"uscc": FIRM, "year": 2022}, {"uscc": FIRM, "year": 2023}]
    result = _check(tmp_path, {"tax_credit": credit})

    [record] = _records(result, "tax_credit")
    assert (record["row"], record["rule"], record["column"]) == (3, "duplicate", "uscc, year")
    assert record["reason"].startswith("exact copy of row 1")
    assert result.clean("tax_credit")["year"].to_list() == [2023, 2022]


def test_check_registry_when_rows_share_a_key_but_conflict_quarantines_all_naming_each_other(tmp_path):
    credit = [
        {"uscc": FIRM, "year": 2023, "rating": "A"},
        {"uscc": FIRM, "year": 2022},
        {"uscc": FIRM, "year": 2023, "rating": "D"},
        {"uscc": FIRM, "year": 2023, "rating": "A"},
    ]
    result = _check(tmp_path, {"tax_credit": credit})

    records = _records(result, "tax_credit", "duplicate")
    assert [r["row"] for r in records] == [1, 3, 4]
    assert "as row(s) 3, 4 with different values" in records[0]["reason"]
    assert "as row(s) 1, 3 with different values" in records[2]["reason"]
    assert result.clean("tax_credit")["year"].to_list() == [2022]


def test_check_registry_when_many_rows_conflict_names_the_first_ten_others_and_counts_the_rest(tmp_path):
    credit = [{"uscc": FIRM, "year": 2023, "rated_on": date(2024, 4, day)} for day in range(1, 14)]
    result = _check(tmp_path, {"tax_credit": credit})

    first = _records(result, "tax_credit", "duplicate")[0]
    assert "as row(s) 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more with different values" in first["reason"]
    assert result.tables["tax_credit"].rows_quarantined == 13


def test_check_registry_when_business_uscc_conflicts_sets_aside_its_other_rows_too(tmp_path):
    business = [{"uscc": FIRM, "name": "甲"}, {"uscc": FIRM, "name": "乙"}]
    result = _check(tmp_path, {"business": business, "tax_credit": [{"uscc": FIRM, "year": 2023}]})

    assert result.clean("business").is_empty()
    [record] = _records(result, "tax_credit")
    assert record["rule"] == "unknown_enterprise"
    assert "row(s) 1, 2 were quarantined (duplicate)" in record["reason"]


# ---------------------------------------------------------------------------------------------- unknown enterprise


def test_check_registry_when_enterprise_not_registered_quarantines_its_rows(tmp_path):
    stranger = uscc(99)
    filings = [{"uscc": FIRM, "year": 2023}, {"uscc": stranger, "year": 2023}]
    result = _check(tmp_path, {"tax_filings": filings})

    [record] = _records(result, "tax_filings")
    assert (record["row"], record["rule"], record["value"]) == (2, "unknown_enterprise", stranger)
    assert f"enterprise '{stranger}' is not in the business registration (business.parquet)" in record["reason"]
    assert "不在企业登记信息" in record["reason_zh"]


def test_check_registry_when_business_row_quarantined_says_so_for_dependent_rows(tmp_path):
    business = [{"uscc": uscc(2)}, {"uscc": FIRM, "status": "Operating"}]
    result = _check(tmp_path, {"business": business, "patents": [{"uscc": FIRM, "patent_no": "ZL1"}]})

    [record] = _records(result, "patents")
    assert record["rule"] == "unknown_enterprise"
    assert "is in business.parquet but its row(s) 2 were quarantined (allowed)" in record["reason"]


def test_check_registry_checks_other_tables_uscc_by_reference_only(tmp_path):
    # A malformed code in a dependent table is reported once, as an unknown enterprise.
    result = _check(tmp_path, {"tax_credit": [{"uscc": "91350100M000100Y4Z", "year": 2023}]})

    assert [r["rule"] for r in _records(result, "tax_credit")] == ["unknown_enterprise"]


# ---------------------------------------------------------------------------------------------- reporting


def test_rule_counts_when_rows_quarantined_counts_rows_per_table_rule_and_column(tmp_path):
    business = [{"uscc": FIRM}, {"uscc": uscc(2), "status": "Operating"}, {"uscc": uscc(3), "status": "gone"}]
    months = [{"uscc": FIRM, "month": date(2024, 1, 1), "ui_paid": -1.0}]
    result = _check(tmp_path, {"business": business, "si_monthly": months})

    counts = result.rule_counts()
    assert counts.select("table", "rule", "column", "rows").rows() == [
        ("business", "allowed", "status", 2),
        ("si_monthly", "negative", "ui_paid", 1),
    ]
    assert counts["meaning"].to_list()[0] == RULES["allowed"][1]


def test_write_quarantine_writes_excel_readable_csv_with_reasons_and_original_values(tmp_path):
    result = _check(tmp_path, {"business": [{"uscc": FIRM}, {"uscc": uscc(2), "status": "Operating"}]})

    written = write_quarantine(result, tmp_path / "quarantine")

    assert written == [tmp_path / "quarantine" / "business.csv"]
    raw = written[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel shows the Chinese correctly
    back = pl.read_csv(written[0], infer_schema=False)
    assert back.columns[:8] == ["table", "file", "row", "column", "rule", "value", "reason", "reason_zh"]
    [row] = back.to_dicts()
    assert row["row"] == "2"
    assert row["source.status"] == "Operating"
    assert row["source.name"] == "测试企业"
    assert "did you mean 'operating'" in row["reason"]


def test_write_quarantine_when_table_now_clean_removes_its_stale_file(tmp_path):
    out = tmp_path / "quarantine"
    out.mkdir()
    (out / "patents.csv").write_text("old problems\n")

    written = write_quarantine(_check(tmp_path, {}), out)

    assert written == []
    assert not (out / "patents.csv").exists()


def test_write_quarantine_when_pointed_at_the_registry_refuses_to_overwrite_it(tmp_path):
    result = _check(tmp_path, {"business": [{"uscc": FIRM, "status": "Operating"}]}, fmt="csv")

    with pytest.raises(RegistryFileError, match="registry directory itself"):
        write_quarantine(result, result.directory)
    assert (result.directory / "business.csv").read_text().count("\n") == 2


# ---------------------------------------------------------------------------------------------- property

_BUSINESS_KINDS = ("ok", "bad_uscc", "bad_status", "negative_capital", "missing_name", "exact_copy", "conflict")
_MONTH_KINDS = ("ok", "negative", "exact_copy", "conflict", "none")


def _business_rows(i: int, kind: str) -> list[dict]:
    code = uscc(i)
    row = {"uscc": code}
    if kind == "bad_uscc":
        row["uscc"] = code[:17] + ALPHABET[(ALPHABET.index(code[17]) + 1) % 31]
    if kind == "bad_status":
        row["status"] = "Operating"
    if kind == "negative_capital":
        row["registered_capital"] = -1.0
    if kind == "missing_name":
        row["name"] = None
    if kind == "exact_copy":
        return [row, dict(row)]
    if kind == "conflict":
        return [row, {**row, "name": "另一名称"}]
    return [row]


def _month_rows(i: int, kind: str) -> list[dict]:
    row = {"uscc": uscc(i), "month": date(2024, 1, 1)}
    if kind == "negative":
        row["ui_paid"] = -10.0
    if kind == "exact_copy":
        return [row, dict(row)]
    if kind == "conflict":
        return [row, {**row, "insured_headcount": 7}]
    return [] if kind == "none" else [row]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    firms=st.lists(st.tuples(st.sampled_from(_BUSINESS_KINDS), st.sampled_from(_MONTH_KINDS)), max_size=12),
    strangers=st.integers(0, 3),
    fmt=st.sampled_from(["parquet", "csv"]),
    shuffle=st.randoms(use_true_random=False),
)
def test_check_registry_for_any_mix_of_good_and_bad_rows_loses_none_and_keeps_only_good(firms, strangers, fmt, shuffle):
    business = [row for i, (kind, _) in enumerate(firms) for row in _business_rows(i, kind)]
    months = [row for i, (_, kind) in enumerate(firms) for row in _month_rows(i, kind)]
    months += [{"uscc": uscc(1000 + j), "month": date(2024, 1, 1)} for j in range(strangers)]
    shuffle.shuffle(business)
    shuffle.shuffle(months)

    with tempfile.TemporaryDirectory() as tmp:
        result = check_registry(write_registry(Path(tmp), {"business": business, "si_monthly": months}, fmt))

    _assert_nothing_lost(result)
    registered = {i for i, (kind, _) in enumerate(firms) if kind in ("ok", "exact_copy")}
    kept_months = sum(1 for i, (_, kind) in enumerate(firms) if i in registered and kind in ("ok", "exact_copy"))
    assert result.tables["business"].rows_read == len(business)
    assert result.clean("business").height == len(registered)
    assert result.tables["si_monthly"].rows_read == len(months)
    assert result.clean("si_monthly").height == kept_months

    clean_business = result.clean("business")
    assert all(uscc_problem(code) is None for code in clean_business["uscc"])
    assert set(clean_business["status"]) <= set(STATUSES)
    assert clean_business["name"].null_count() == 0
    assert (clean_business["registered_capital"].fill_null(0) >= 0).all()
    assert clean_business["uscc"].is_unique().all()
    clean_months = result.clean("si_monthly")
    assert set(clean_months["uscc"]) <= set(clean_business["uscc"])
    assert (clean_months["ui_paid"] >= 0).all()
    assert clean_months.select("uscc", "month").is_unique().all()


def test_check_registry_when_established_after_the_day_of_the_check_quarantines_it_as_future(tmp_path):
    tables = {"business": [{"uscc": FIRM}, {"uscc": uscc(2), "established_on": date(2031, 5, 1)}]}
    result = check_registry(write_registry(tmp_path / "registry", tables), checked_on=date(2026, 11, 30))
    (record,) = _records(result, "business", "future")
    assert (record["column"], record["row"], record["value"]) == ("established_on", 2, "2031-05-01")
    assert "2031-05-01 is after 2026-11-30" in record["reason"] and "correct" in record["reason"]
    assert "2031-05-01" in record["reason_zh"]
    assert result.clean("business")["uscc"].to_list() == [FIRM]
    _assert_nothing_lost(result)


def test_check_registry_when_no_day_is_given_checks_dates_against_today_in_china(tmp_path):
    tables = {
        "business": [{"uscc": FIRM}],
        "patents": [{"uscc": FIRM, "patent_no": "ZL1", "filed_on": date(2999, 1, 1)}],
    }
    result = check_registry(write_registry(tmp_path / "registry", tables))
    assert [r["column"] for r in _records(result, "patents", "future")] == ["filed_on"]
    assert result.clean("business").height == 1


def test_check_registry_when_a_date_is_the_day_of_the_check_keeps_the_row(tmp_path):
    tables = {"business": [{"uscc": FIRM, "established_on": date(2026, 11, 30)}]}
    result = check_registry(write_registry(tmp_path / "registry", tables), checked_on=date(2026, 11, 30))
    assert result.clean("business").height == 1


def test_write_quarantine_when_names_are_formulas_neutralises_the_csv_and_keeps_profiles_exact(tmp_path):
    clean_hostile, bad_hostile = '=HYPERLINK("http://evil","点此")', "+cmd|' /C calc'!A0"
    tables = {
        "business": [
            {"uscc": uscc(1), "name": clean_hostile},
            {"uscc": uscc(2), "name": bad_hostile, "enterprise_type": "limted_company"},
            {"uscc": uscc(3), "name": "@SUM(1+1)", "registered_capital": -5.0},
        ]
    }
    result = check_registry(write_registry(tmp_path / "registry", tables))
    (written,) = write_quarantine(result, tmp_path / "quarantine")
    sheet = pl.read_csv(written)
    assert sheet["source.name"].to_list() == ["'" + bad_hostile, "'@SUM(1+1)"]
    assert sheet.filter(pl.col("rule") == "negative")["value"].to_list() == ["-5.0"]  # a number stays a number
    assert result.tables["business"].quarantine["source.name"].to_list() == [bad_hostile, "@SUM(1+1)"]
    profiles = build_profiles({t: result.clean(t) for t in result.tables}, date(2025, 6, 30)).collect()
    write_profiles(profiles, tmp_path / "profiles.parquet", ProfileInfo(date(2025, 6, 30), result.fingerprint))
    assert pl.read_parquet(tmp_path / "profiles.parquet")["name"].to_list() == [clean_hostile]

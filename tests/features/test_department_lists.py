"""A department's complete list, read as hostile input and laid over profiles (department_lists.py)."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pytest

from features.profiles import department_lists
from features.profiles.catalogue import fact
from features.profiles.department_lists import ListFileError, ListOverlay, apply_lists, read_list
from tests.factories import uscc

A, B, C = uscc(1), uscc(2), uscc(3)
BANKRUPTCY = fact("in_bankruptcy")


def _refused(data: bytes, f=BANKRUPTCY) -> ListFileError:
    with pytest.raises(ListFileError) as err:
        read_list(data, f, source="zombie.csv")
    return err.value


def test_list_when_well_formed_is_read_in_the_facts_type_from_csv_or_parquet():
    text = f"\ufeffuscc,value,evidence\n{A},true,(2025)粤03破申1号\n {B.lower()} ,是,\n{C},0,\n"
    rows = read_list(text.encode(), BANKRUPTCY)
    assert rows.to_dicts() == [
        {"uscc": A, "value": True, "evidence": "(2025)粤03破申1号"},
        {"uscc": B, "value": True, "evidence": None},  # spaces and case of a USCC are an export's, not the list's
        {"uscc": C, "value": False, "evidence": None},
    ]
    buffer = io.BytesIO()
    pl.DataFrame({"uscc": [A], "value": [True]}).write_parquet(buffer)  # evidence may be left out
    assert read_list(buffer.getvalue(), BANKRUPTCY).to_dicts() == [{"uscc": A, "value": True, "evidence": None}]


def test_list_when_any_row_is_wrong_is_refused_whole_with_every_row_and_column_named():
    bad = f"uscc,value,evidence\n{A},true,\n{A},maybe,\n91440300MA5ABCDEF1,true,{'x' * 300}\n,true,\n{B},true,\n"
    err = _refused(bad.encode())
    assert err.total == 5
    assert [(p.row, p.column) for p in err.problems] == [
        (2, "uscc"), (2, "value"), (3, "evidence"), (3, "uscc"), (4, "uscc"),
    ]  # fmt: skip
    text = str(err)
    assert "row 2, column 'uscc': listed twice (first on row 1)" in text
    assert "row 2, column 'value': expected true or false" in text and "'maybe'" in text
    assert "row 3, column 'uscc': not a valid USCC" in text and "row 4, column 'uscc': empty USCC" in text
    assert "taken whole or not at all" in text


def test_list_when_a_text_holds_a_nul_character_names_its_row_and_column():
    """PostgreSQL cannot store U+0000: the import failed in the database with no row named."""
    err = _refused(f"uscc,value,evidence\n{A},true,(2025)\x00号\n{B},tr\x00ue,\n".encode())
    assert [(p.row, p.column) for p in err.problems] == [(1, "evidence"), (2, "value"), (2, "value")]
    text = str(err)  # row 2's value is also not a yes or no
    assert "row 1, column 'evidence': contains a NUL character (U+0000)" in text
    assert "row 2, column 'value': contains a NUL character (U+0000)" in text


def test_list_when_the_header_is_wrong_names_every_column_with_a_suggestion():
    err = _refused(f"uscc,valeu,note\n{A},true,x\n".encode())
    text = str(err)
    assert "column 'valeu': unexpected column; did you mean 'value'?" in text
    assert "column 'note': unexpected column" in text and "column 'value': missing column" in text


def test_list_when_too_large_or_not_text_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(department_lists, "MAX_LIST_BYTES", 100)
    assert "at most 100 are read" in str(_refused(b"uscc,value\n" + b"x" * 200))
    monkeypatch.undo()
    gbk = f"uscc,value,evidence\n{A},true,破产\n".encode("gbk")
    assert "not UTF-8" in str(_refused(gbk)) and "CSV UTF-8" in str(_refused(gbk))
    assert "cannot be read as CSV or Parquet" in str(_refused(b'uscc,value\n"unterminated,true\n1,2,3\n'))


def test_list_of_a_str_or_date_fact_checks_its_words_and_dates():
    level = fact("specialised_innovative_level")
    assert read_list(f"uscc,value\n{A},national\n".encode(), level)["value"].to_list() == ["national"]
    assert "expected one of national, provincial, municipal" in str(
        _refused(f"uscc,value\n{A},国家级\n".encode(), level)
    )
    first = fact("high_tech_first_recognised_on")
    assert read_list(f"uscc,value\n{A},2019-11-28\n".encode(), first)["value"].to_list() == [date(2019, 11, 28)]
    assert "expected a date YYYY-MM-DD" in str(_refused(f"uscc,value\n{A},2019/11/28\n".encode(), first))


def test_lists_when_laid_over_profiles_set_the_fact_for_every_firm_and_keep_a_value_already_there():
    profiles = pl.DataFrame(
        {"uscc": [A, B, C], "in_bankruptcy": [None, None, True], "ui_paid_months": [12, 12, 12]},
        schema={"uscc": pl.String, "in_bankruptcy": pl.Boolean, "ui_paid_months": pl.Int32},
    )
    listed = pl.DataFrame({"uscc": [B, "91000000000000000X"], "value": [True, True]})
    zombies = pl.DataFrame({"uscc": [A], "value": [True]})
    out = apply_lists(
        profiles, [ListOverlay(BANKRUPTCY, False, listed), ListOverlay(fact("zombie_firm"), False, zombies)]
    )
    assert out.height == 3 and out["uscc"].to_list() == [A, B, C]  # a USCC no profile has adds no row
    assert out["in_bankruptcy"].to_list() == [False, True, True]  # not on the list: false; C kept its own value
    assert out["zombie_firm"].to_list() == [True, False, False]  # a column the profiles lacked is added
    assert apply_lists(profiles, []).equals(profiles)

"""Files huiqi writes for people: whole or not at all, and harmless when opened in a spreadsheet."""

from __future__ import annotations

import errno
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from features.errors import FileWriteError
from features.files import atomic_write, spreadsheet_safe, write_csv_for_people
from features.profiles.store import ProfileInfo, write_profiles

HOSTILE = ["+cmd|' /C calc'!A0", "@SUM(1+1)", '=HYPERLINK("http://x","y")', "-2+3", "\t=1", "\r=1", " =1+1"]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def test_atomic_write_when_the_disk_fills_part_way_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "profiles.parquet"
    pl.DataFrame({"uscc": ["A"]}).write_parquet(target)

    def fill_the_disk(partial: Path) -> None:
        partial.write_bytes(b"PAR1 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(FileWriteError) as raised, atomic_write(target) as partial:
        fill_the_disk(partial)
    message = str(raised.value)
    assert str(target) in message and "No space left on device" in message and "Free space" in message
    assert pl.read_parquet(target)["uscc"].to_list() == ["A"]
    assert _leftovers(tmp_path) == []


def test_atomic_write_when_polars_reports_a_full_disk_names_the_system_reason(tmp_path):
    # /dev/full fails every write with ENOSPC: polars reports it as a ComputeError carrying "os error 28".
    with pytest.raises(FileWriteError, match=r"No space left on device.*Free space"), atomic_write(tmp_path / "p"):
        pl.DataFrame({"a": range(100_000)}).write_parquet("/dev/full")
    assert _leftovers(tmp_path) == []


def test_atomic_write_when_the_folder_is_a_file_says_so_without_an_oserror(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    target = blocker / "out" / "profiles.parquet"
    with pytest.raises(FileWriteError, match=r"not-a-folder.*Not a directory.*another --out"), atomic_write(target):
        pass


def test_atomic_write_when_the_writer_fails_for_another_reason_re_raises_it_and_cleans_up(tmp_path):
    with pytest.raises(ZeroDivisionError), atomic_write(tmp_path / "x.csv") as partial:
        partial.write_text("half")
        _ = 1 / 0
    assert list(tmp_path.iterdir()) == []


def test_write_profiles_when_the_folder_is_read_only_keeps_the_previous_profiles(tmp_path, monkeypatch):
    target = tmp_path / "profiles.parquet"
    info = ProfileInfo(date(2025, 6, 30), "f" * 64)
    write_profiles(pl.DataFrame({"uscc": ["A"]}), target, info)

    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", read_only)
    with pytest.raises(FileWriteError, match=r"Read-only file system.*read-only"):
        write_profiles(pl.DataFrame({"uscc": ["B"]}), target, info)
    monkeypatch.undo()
    assert pl.read_parquet(target)["uscc"].to_list() == ["A"] and _leftovers(tmp_path) == []


def test_spreadsheet_safe_when_a_cell_starts_a_formula_prefixes_a_quote_and_leaves_the_rest(tmp_path):
    frame = pl.DataFrame({"value": [*HOSTILE, "-5", "+1.25", "a=b", "测试企业", None], "row": range(12)})
    safe = spreadsheet_safe(frame)
    assert safe["value"].to_list() == [*("'" + v for v in HOSTILE), "-5", "+1.25", "a=b", "测试企业", None]
    assert safe["row"].to_list() == list(range(12))


def test_write_csv_for_people_when_values_start_formulas_writes_them_as_text_with_a_bom(tmp_path):
    path = write_csv_for_people(pl.DataFrame({"name": ["@SUM(1+1)"]}), tmp_path / "q.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"'@SUM(1+1)" in raw
    assert _leftovers(tmp_path) == []

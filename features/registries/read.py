"""Reading a registry directory: find each table's file, check its columns, parse its values.

Everything wrong with a file as a whole (missing, unreadable, a column missing or of a type that
cannot be converted without loss) raises before any data is loaded. A single value that does not
parse is not raised: it becomes a ``type`` check and its row is quarantined by the validator.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.errors import RegistryFileError, SchemaMismatchError
from features.registries.quarantine import ROW, Check
from features.registries.schema import TABLES, Column, Table

__all__ = ["FORMATS", "TableScan", "fingerprint", "load", "locate", "scan_registry", "scan_table"]

FORMATS = ("parquet", "csv")
_RAW = "__raw_"
_INT32 = (-(2**31), 2**31 - 1)
# Integer widths that always fit the contract's Int32; wider ones are cast value by value.
_SMALL_INTS = (pl.Int8, pl.Int16, pl.UInt8, pl.UInt16)
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_OUT_OF_RANGE = (
    "expected a whole number between -2147483648 and 2147483647, found '{}': check the value and its unit",
    "应为 -2147483648 到 2147483647 之间的整数，实际为 '{}'：请核对数值及单位",
)


@dataclass(frozen=True)
class TableScan:
    """A table's file, checked at the column level and ready to be read in one pass."""

    table: Table
    path: Path
    frame: pl.LazyFrame  # ROW, each contract column parsed to its dtype, and the delivered value of parsed columns
    delivered: dict[str, str]  # contract column -> frame column holding the value as delivered
    type_checks: dict[str, Check]  # contract column -> its `type` check, where a value can fail to parse
    ignored_columns: tuple[str, ...]


def locate(directory: Path) -> dict[str, Path]:
    """The file of every table of the contract, by table name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RegistryFileError(
            directory, "is not a directory", "pass the folder holding one <table>.parquet or <table>.csv per table"
        )
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in TABLES:
        candidates = [directory / f"{name}.{fmt}" for fmt in FORMATS if (directory / f"{name}.{fmt}").is_file()]
        if len(candidates) > 1:
            raise RegistryFileError(
                directory,
                f"table '{name}' is delivered twice: {' and '.join(p.name for p in candidates)}",
                "keep one of the two files, so there is no doubt which one is read",
            )
        if candidates:
            found[name] = candidates[0]
        else:
            missing.append(name)
    if missing:
        expected = ", ".join(f"{n}.parquet or {n}.csv" for n in missing)
        raise RegistryFileError(
            directory,
            f"missing table file(s): expected {expected}",
            "deliver every table; if a registry has no rows for a table, deliver an empty file with the header "
            "(`huiqi registries schema` lists the columns)",
        )
    return found


def fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over each file's name and content, streamed: identical files give an identical fingerprint."""
    total = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as f:
            content = hashlib.file_digest(f, "sha256").digest()
        total.update(Path(path).name.encode() + b"\0" + content)
    return total.hexdigest()


def scan_registry(directory: Path) -> dict[str, TableScan]:
    """Every table's scan, before any data is read.

    Every file is checked, so one round of fixes can mend them all: the first problem is raised and
    the others ride along as notes on it (``__notes__``, shown under the traceback).
    """
    scans: dict[str, TableScan] = {}
    problems: list[RegistryFileError] = []
    for name, path in locate(directory).items():
        try:
            scans[name] = scan_table(TABLES[name], path)
        except RegistryFileError as e:
            problems.append(e)
    if problems:
        first, *others = problems
        for other in others:
            first.add_note(f"also: {other}")
        raise first
    return scans


def scan_table(table: Table, path: Path) -> TableScan:
    path = Path(path)
    if path.suffix == ".parquet":
        return _scan_parquet(table, path)
    if path.suffix == ".csv":
        return _scan_csv(table, path)
    raise RegistryFileError(path, f"has an unknown format '{path.suffix}'", "deliver .parquet or .csv")


def load(scan: TableScan) -> pl.DataFrame:
    """Read the table's data in one pass; a file that breaks half-way raises naming the file."""
    try:
        return scan.frame.collect()
    except pl.exceptions.PolarsError as e:
        raise _unreadable(scan.path, "Parquet" if scan.path.suffix == ".parquet" else "CSV", e) from e


def _unreadable(path: Path, fmt: str, error: Exception) -> RegistryFileError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    fix = f"re-export the file as {fmt} from the source system and deliver it again"
    if fmt == "CSV" and ("utf" in detail.lower() or "encoding" in detail.lower()):
        fix = "save the file as UTF-8 (in Excel: Save As 'CSV UTF-8'); files in GBK must be converted to UTF-8"
    return RegistryFileError(path, f"cannot be read as {fmt} ({detail})", fix)


def _check_columns(table: Table, path: Path, found: list[str]) -> tuple[str, ...]:
    """Raise on the first missing contract column; return the extra columns, which are ignored."""
    missing = [c.name for c in table.columns if c.name not in found]
    if missing:
        name = missing[0]
        extra = [f for f in found if f not in table.schema]
        by_normal = {f.strip().lower(): f for f in extra}
        near = by_normal.get(name) or next(iter(difflib.get_close_matches(name, extra, n=1, cutoff=0.75)), None)
        col = table.column(name)
        fix = f"rename column '{near}' to '{name}'" if near else f"add the column '{name}' ({col.en}, {col.zh})"
        if len(missing) > 1:
            fix += f"; also missing: {', '.join(missing[1:])}"
        raise SchemaMismatchError(
            path,
            name,
            f"a column '{name}' of {col.dtype}",
            f"none; the file has {', '.join(repr(f) for f in found) or 'no columns'}",
            fix + ". `huiqi registries schema` lists every table's columns",
        )
    return tuple(f for f in found if f not in table.schema)


# ---------------------------------------------------------------------------------------------- Parquet


def _scan_parquet(table: Table, path: Path) -> TableScan:
    try:
        found = pl.read_parquet_schema(path)
    except Exception as e:  # polars raises several kinds for a truncated or foreign file
        raise _unreadable(path, "Parquet", e) from e
    ignored = _check_columns(table, path, list(found))
    exprs: list[pl.Expr] = [pl.col(ROW)]
    delivered: dict[str, str] = {}
    type_checks: dict[str, Check] = {}
    for col in table.columns:
        have = found[col.name]
        delivered[col.name] = col.name
        if have == col.dtype:
            exprs.append(pl.col(col.name))
        elif _widens(have, col.dtype):
            exprs.append(pl.col(col.name).cast(col.dtype))
        elif have.is_integer() and col.dtype == pl.Int32:
            # Int64 and friends: accepted value by value; a value beyond Int32 is quarantined as `type`.
            raw = _RAW + col.name
            delivered[col.name] = raw
            exprs += [pl.col(col.name).alias(raw), pl.col(col.name).cast(pl.Int32, strict=False)]
            type_checks[col.name] = _type_check(
                col,
                pl.col(raw).is_not_null() & ~pl.col(raw).is_between(*_INT32),
                *_msg(*_OUT_OF_RANGE, pl.col(raw)),
                pl.col(raw),
            )
        else:
            raise SchemaMismatchError(path, col.name, str(col.dtype), str(have), _dtype_fix(col, have))
        if col.dtype == pl.Float64:
            type_checks[col.name] = _finite_check(col, pl.col(col.name))
    try:
        frame = pl.scan_parquet(path, row_index_name=ROW, row_index_offset=1).select(exprs)
    except Exception as e:
        raise _unreadable(path, "Parquet", e) from e
    return TableScan(table, path, frame, delivered, type_checks, ignored)


def _widens(have: pl.DataType, want: pl.DataType) -> bool:
    """Whether every value of ``have`` converts to ``want`` without loss (or, for Decimal, as the contract intends)."""
    if have == pl.Null:
        return True
    if want == pl.String:
        return isinstance(have, pl.Categorical | pl.Enum)
    if want == pl.Int32:
        return any(have == t for t in _SMALL_INTS)
    if want == pl.Float64:
        # Databases export money as DECIMAL; the contract holds amounts as Float64 by design.
        return have.is_integer() or have == pl.Float32 or have.is_decimal()
    return False


def _dtype_fix(col: Column, have: pl.DataType) -> str:
    where = "store it with that type in the Parquet file"
    csv = "or deliver the table as CSV, where each value is parsed and bad values are quarantined row by row"
    if col.dtype == pl.Date and isinstance(have, pl.Datetime):
        return (
            f"store '{col.name}' as a Parquet DATE: a timestamp is not turned into a date silently because the day "
            f"depends on the time zone (in polars: pl.col('{col.name}').dt.date() before writing)"
        )
    if col.dtype == pl.Date:
        return f"store '{col.name}' as a Parquet DATE (in polars: pl.col('{col.name}').str.to_date()), {csv}"
    if col.dtype in (pl.Float64, pl.Int32):
        kind = "a whole number (INT32)" if col.dtype == pl.Int32 else "a number (DOUBLE)"
        return f"store '{col.name}' as {kind}, without units or separators, {csv}"
    if col.dtype == pl.Boolean:
        return f"store '{col.name}' as BOOLEAN (true/false), {csv}"
    return f"{where} ({col.dtype}), {csv}"


# ---------------------------------------------------------------------------------------------- CSV


def _scan_csv(table: Table, path: Path) -> TableScan:
    lazy = pl.scan_csv(path, infer_schema=False, row_index_name=ROW, row_index_offset=1)
    try:
        found = [c for c in lazy.collect_schema() if c != ROW]
    except Exception as e:
        raise _unreadable(path, "CSV", e) from e
    ignored = _check_columns(table, path, found)
    exprs: list[pl.Expr] = [pl.col(ROW)]
    delivered: dict[str, str] = {}
    type_checks: dict[str, Check] = {}
    for col in table.columns:
        cell = pl.col(col.name)
        if col.dtype == pl.String:
            delivered[col.name] = col.name
            exprs.append(pl.when(cell != "").then(cell).alias(col.name))  # empty string = null
            continue
        raw = _RAW + col.name
        delivered[col.name] = raw
        text = cell.str.strip_chars()
        exprs.append(pl.when(text != "").then(cell).alias(raw))  # empty or blank = null
        value, failed, reasons = _parse(col, text)
        exprs.append(value.alias(col.name))
        type_checks[col.name] = _type_check(col, pl.col(raw).is_not_null() & failed, *reasons, pl.col(raw))
    return TableScan(table, path, lazy.select(exprs), delivered, type_checks, ignored)


def _parse(col: Column, text: pl.Expr) -> tuple[pl.Expr, pl.Expr, tuple[pl.Expr, pl.Expr]]:
    """The parsed value, whether a non-empty value failed (evaluated after parsing), and the reasons.

    ``failed`` refers to the parsed column by name, so it reads the result instead of parsing again.
    """
    parsed = pl.col(col.name)
    raw = pl.col(_RAW + col.name)
    if col.dtype == pl.Date:
        value = pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(text.str.to_date("%Y-%m-%d", strict=False))
        reasons = _msg(
            "expected a date as YYYY-MM-DD, found '{}': write it as an ISO date such as 2024-03-31",
            "应为 YYYY-MM-DD 格式的日期，实际为 '{}'：请写成 ISO 日期，例如 2024-03-31",
            raw,
        )
        return value, parsed.is_null(), reasons
    if col.dtype == pl.Boolean:
        value = text.str.to_lowercase().replace_strict(_BOOLEANS, default=None, return_dtype=pl.Boolean)
        reasons = _msg(
            "expected true/false or 1/0, found '{}': write true or false",
            "应为 true/false 或 1/0，实际为 '{}'：请填写 true 或 false",
            raw,
        )
        return value, parsed.is_null(), reasons
    if col.dtype == pl.Int32:
        value = text.cast(pl.Int32, strict=False)
        fallback = _msg(
            "expected a whole number such as 12, found '{}': write digits only, without units",
            "应为整数（如 12），实际为 '{}'：请只填写数字，不带单位",
            raw,
        )
        out_of_range = _msg(*_OUT_OF_RANGE, raw)
        en = pl.when(raw.str.strip_chars().str.contains(r"^[+-]?\d+$")).then(out_of_range[0]).otherwise(fallback[0])
        zh = pl.when(raw.str.strip_chars().str.contains(r"^[+-]?\d+$")).then(out_of_range[1]).otherwise(fallback[1])
        return value, parsed.is_null(), _with_separator_hint(raw, en, zh)
    if col.dtype == pl.Float64:
        value = text.cast(pl.Float64, strict=False)
        fallback = _msg(
            "expected a plain number such as 1234.5, found '{}': write digits with an optional sign and '.', "
            "without units or currency symbols",
            "应为普通数字（如 1234.5），实际为 '{}'：只写数字、正负号和小数点，不带单位或货币符号",
            raw,
        )
        infinite = _msg(
            "expected a finite number, found '{}': deliver the actual amount",
            "应为有限数值，实际为 '{}'：请填写实际数额",
            raw,
        )
        nonfinite = raw.str.strip_chars().cast(pl.Float64, strict=False).is_not_null()
        en = pl.when(nonfinite).then(infinite[0]).otherwise(fallback[0])
        zh = pl.when(nonfinite).then(infinite[1]).otherwise(fallback[1])
        return value, ~parsed.is_finite().fill_null(False), _with_separator_hint(raw, en, zh)
    raise TypeError(f"no CSV parser for {col.dtype} (column '{col.name}'): add one to read.py")


def _with_separator_hint(raw: pl.Expr, en: pl.Expr, zh: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """'12,000' gets its own advice: the value is fine once the thousands separators are removed."""
    separated = raw.str.strip_chars().str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
    plain = raw.str.strip_chars().str.replace_all(",", "", literal=True)
    sep_en, sep_zh = _msg(
        "expected a plain number, found '{}': remove the thousands separators (write {})",
        "应为不带千位分隔符的数字，实际为 '{}'：请去掉分隔符（写作 {}）",
        raw,
        plain,
    )
    return pl.when(separated).then(sep_en).otherwise(en), pl.when(separated).then(sep_zh).otherwise(zh)


# ---------------------------------------------------------------------------------------------- shared


def _finite_check(col: Column, value: pl.Expr) -> Check:
    return _type_check(
        col,
        value.is_nan() | value.is_infinite(),
        *_msg(
            "expected a finite number, found {}: deliver the actual amount",
            "应为有限数值，实际为 {}：请填写实际数额",
            value,
        ),
        value,
    )


def _type_check(col: Column, failed: pl.Expr, reason: pl.Expr, reason_zh: pl.Expr, value: pl.Expr) -> Check:
    return Check("type", col.name, failed, reason, reason_zh, value.cast(pl.String))


def _msg(en: str, zh: str, *args: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    return pl.format(en, *args), pl.format(zh, *args)

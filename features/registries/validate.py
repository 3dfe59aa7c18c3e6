"""Validating a registry: each row passes every check of the contract or is quarantined with its reasons.

Checks are whole-column polars expressions (``Check``). One pass per table computes whether each row
fails each check; only the failing rows are turned into text. Nothing is dropped silently: for every
table, rows read = clean rows + distinct quarantined rows.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import reduce
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from features.registries.quarantine import ROW, Check, quarantine_records, write_quarantine
from features.registries.read import TableScan, fingerprint, load, scan_registry
from features.registries.rules import RULES
from features.registries.schema import Column, Table
from features.standards.divisions import division_problem_expr
from features.standards.industry import industry_code_expr, industry_problem_expr
from features.standards.uscc import uscc_problem_expr

__all__ = [
    "ENTERPRISES",
    "RegistryCheck",
    "TableCheck",
    "check_registry",
    "check_table",
    "duplicate_rows",
    "write_quarantine",
]

# The register of enterprises. Its USCCs are checked against GB 32100; the other tables' USCCs are
# checked by reference: they must name an enterprise among its clean rows.
ENTERPRISES = "business"
_SHOWN_ROWS = 10  # a duplicate names at most this many other rows
# Registries are Chinese: "today" is the day in China, so a record made this morning is never in the future.
CHINA = ZoneInfo("Asia/Shanghai")


def today_in_china() -> date:
    return datetime.now(CHINA).date()


@dataclass(frozen=True)
class TableCheck:
    table: Table
    path: Path
    rows_read: int
    clean: pl.DataFrame  # exactly table.schema; industry codes carry their section letter
    quarantine: pl.DataFrame  # one record per (bad row, failed check), then the source row as text
    ignored_columns: tuple[str, ...] = ()  # columns of the file outside the contract

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine["row"].n_unique()


@dataclass(frozen=True)
class RegistryCheck:
    directory: Path
    tables: dict[str, TableCheck] = field(repr=False)
    fingerprint: str

    def clean(self, name: str) -> pl.DataFrame:
        if name not in self.tables:
            raise KeyError(f"no table '{name}' in the registry check; tables are {', '.join(self.tables)}")
        return self.tables[name].clean

    def enterprises_quarantined(self) -> int:
        """Enterprises with no clean business row: each business row quarantined, once per USCC.

        An exact copy is not counted (its first row is kept); a row without a USCC counts as one.
        """
        business = self.tables[ENTERPRISES]
        codes = business.quarantine.unique("row").get_column("source.uscc")
        named = codes.drop_nulls().unique()
        return int((~named.is_in(business.clean["uscc"].implode())).sum()) + codes.null_count()

    def summary(self) -> pl.DataFrame:
        """One row per table: the file read, rows read, clean and quarantined, and the columns ignored."""
        return pl.DataFrame(
            [
                {
                    "table": name,
                    "file": t.path.name,
                    "rows_read": t.rows_read,
                    "rows_clean": t.clean.height,
                    "rows_quarantined": t.rows_quarantined,
                    "ignored_columns": ", ".join(t.ignored_columns),
                }
                for name, t in self.tables.items()
            ],
            schema={
                "table": pl.String,
                "file": pl.String,
                "rows_read": pl.Int64,
                "rows_clean": pl.Int64,
                "rows_quarantined": pl.Int64,
                "ignored_columns": pl.String,
            },
        )

    def rule_counts(self) -> pl.DataFrame:
        """Quarantined rows per (table, rule, column), with what the rule means in English and Chinese."""
        meaning = pl.DataFrame(
            {
                "rule": list(RULES),
                "meaning": [en for _, en in RULES.values()],
                "meaning_zh": [zh for zh, _ in RULES.values()],
            }
        )
        records = pl.concat([t.quarantine.select("table", "rule", "column", "row") for t in self.tables.values()])
        return (
            records.group_by("table", "rule", "column", maintain_order=True)
            .agg(pl.col("row").n_unique().cast(pl.Int64).alias("rows"))
            .join(meaning, on="rule", how="left", maintain_order="left")
        )


def check_registry(
    directory: Path,
    *,
    progress: Callable[[str], None] | None = None,
    checked_on: date | None = None,
    digest: str | None = None,
) -> RegistryCheck:
    """Read and validate every table of the registry in ``directory``.

    Raises ``RegistryFileError`` (or ``SchemaMismatchError``) for a file that is missing, unreadable or
    of the wrong shape, before loading any data; bad rows are quarantined, never raised. ``checked_on``
    (default: today in China) is the day no date of a past event may be after: an extract cannot hold
    an establishment, a filing or a hire that has not happened yet.
    """
    say = progress or (lambda _message: None)
    day = checked_on or today_in_china()
    directory = Path(directory)
    scans = scan_registry(directory)
    if digest is None:  # ``digest``: the files' fingerprint, when the caller took it already
        say("fingerprinting the registry files")
        digest = fingerprint(scan.path for scan in scans.values())
    results: dict[str, TableCheck] = {}
    for name in [ENTERPRISES, *(name for name in scans if name != ENTERPRISES)]:
        say(f"checking {scans[name].path.name}")
        results[name] = check_table(scans[name], enterprises=results.get(ENTERPRISES), checked_on=day)
    return RegistryCheck(directory, {name: results[name] for name in scans}, digest)


def check_table(
    scan: TableScan,
    *,
    enterprises: TableCheck | None,
    checked_on: date | None = None,
    duplicates: pl.DataFrame | None = None,
) -> TableCheck:
    """Validate one table; ``enterprises`` is the checked business table (None for the business table itself).

    ``duplicates``: the verdicts of ``duplicate_rows`` over the whole table, when ``scan`` reads only part of it
    (a partition of a registry whose key does not hold the USCC: its repeats may lie in other partitions)."""
    table = scan.table
    frame = load(scan)
    checks = _row_checks(scan, frame, checked_on or today_in_china())
    verdicts = duplicate_rows(frame, scan) if duplicates is None else duplicates
    duplicate = None if verdicts is None or verdicts.is_empty() else _duplicate_check(verdicts, scan)
    if duplicate is not None:
        checks.append(duplicate)
    if enterprises is not None:
        checks.append(_unknown_enterprise(enterprises, frame))
    failed = [check.failed.fill_null(False) for check in checks]
    is_bad = frame.select(pl.any_horizontal(failed)).to_series()
    clean = frame.select(  # select before filtering: the frame also holds delivered values of parsed columns
        industry_code_expr(c.name).alias(c.name) if c.standard == "industry" else pl.col(c.name) for c in table.columns
    )
    if is_bad.any():
        clean = clean.filter(~is_bad)
    # Which checks each bad row fails is worked out on the bad rows alone.
    flags = [f"__fails_{i}" for i in range(len(checks))]
    bad = frame.filter(is_bad).with_columns(f.alias(flag) for f, flag in zip(failed, flags, strict=True))
    quarantine = quarantine_records(
        bad,
        list(zip(flags, checks, strict=True)),
        table=table.name,
        file=scan.path.name,
        source={c.name: pl.col(scan.delivered[c.name]).cast(pl.String) for c in table.columns},
    )
    if quarantine["row"].n_unique() != bad.height:  # a check that is not row-local would lose rows here
        raise RuntimeError(f"{scan.path}: {bad.height} rows failed but {quarantine['row'].n_unique()} were recorded")
    return TableCheck(table, scan.path, frame.height, clean, quarantine, scan.ignored_columns)


# ---------------------------------------------------------------------------------------------- checks of one row


def _row_checks(scan: TableScan, frame: pl.DataFrame, checked_on: date) -> list[Check]:
    table = scan.table
    checks: list[Check] = []
    for col in table.columns:
        if col.name in scan.type_checks:
            checks.append(scan.type_checks[col.name])
        if not col.nullable:
            checks.append(_missing(col, pl.col(scan.delivered[col.name])))
        if col.standard in ("industry", "division", "cnaps") or (col.standard == "uscc" and table.name == ENTERPRISES):
            checks.append(_standard(col, frame))
        if col.allowed:
            checks.append(_allowed(col))
        if col.non_negative:
            checks.append(_negative(col, pl.col(scan.delivered[col.name])))
        if col.past:
            checks.append(_future(col, checked_on))
    checks += [_order(table.column(earlier), table.column(later)) for earlier, later in table.ordered]
    return checks


def _missing(col: Column, delivered: pl.Expr) -> Check:
    empty = delivered.is_null()
    if col.dtype == pl.String:
        empty = empty | (delivered == "")
    return Check(
        "missing",
        col.name,
        empty,
        pl.lit(f"required value is empty: '{col.name}' ({col.en}) must be filled in; complete it in the source system"),
        pl.lit(f"必填项“{col.zh}”（{col.name}）为空：请在源系统中补全"),
        pl.lit(None, pl.String),
    )


def _cnaps_problem(name: str) -> pl.Expr:
    """Why a CNAPS bank code (支付系统行号) is wrong, or null: it is 12 digits."""
    length = pl.col(name).str.len_chars()
    found = pl.when(length == 12).then(pl.lit("a character that is not a digit"))
    return (
        pl.when(~pl.col(name).str.contains(r"^[0-9]{12}$"))
        .then(found.otherwise(pl.format("{} characters", length)))
        .otherwise(None)
    )


_STANDARDS = {
    "uscc": (
        uscc_problem_expr,
        "USCC '{}' fails its GB 32100 checks: {}; copy the code again from the business licence",
        "统一社会信用代码 '{}' 未通过 GB 32100 校验（{}）：请按营业执照重新填写",
    ),
    "industry": (
        industry_problem_expr,
        "industry code '{}' is not GB/T 4754-2017: {}; use the code of the class, e.g. 'C3911'",
        "行业代码 '{}' 不符合 GB/T 4754-2017（{}）：请填写正确的行业代码，例如 'C3911'",
    ),
    "division": (
        division_problem_expr,
        "division code '{}' is not GB/T 2260: {}; use the 6-digit code of the registering county-level office",
        "区划代码 '{}' 不符合 GB/T 2260（{}）：请填写登记机关所在县级区划的 6 位代码",
    ),
    "cnaps": (
        _cnaps_problem,
        "CNAPS bank code '{}' is not 12 digits: {}; copy the 12-digit bank code (行号) from the account's"
        " opening certificate",
        "支付系统行号 '{}' 不是 12 位数字（{}）：请按开户许可证或开户银行提供的 12 位行号填写",
    ),
}


def _standard(col: Column, frame: pl.DataFrame) -> Check:
    problem_expr, en, zh = _STANDARDS[col.standard]
    problem = problem_expr(col.name)
    value = pl.col(col.name)
    failed = problem.is_not_null()
    if col.standard != "uscc":  # industry, division and bank codes repeat across thousands of rows: check each once
        failing = frame.select(value.unique()).filter(failed).to_series()
        failed = _among(value, failing)
    return Check(
        col.standard,
        col.name,
        failed,
        pl.format(en, value, problem),
        pl.format(zh, value, problem),
        value,
    )


def _among(value: pl.Expr, values: pl.Series) -> pl.Expr:
    """Whether each value is one of ``values``; skips probing every row when there are none (a clean registry)."""
    return value.is_in(values.implode()) if len(values) else pl.lit(False)


def _allowed(col: Column) -> Check:
    allowed = list(col.allowed or ())
    value = pl.col(col.name)
    listed = ", ".join(allowed)
    hint = value.map_batches(lambda s: _nearest(s, allowed), return_dtype=pl.String)
    return Check(
        "allowed",
        col.name,
        value.is_not_null() & ~value.is_in(allowed),
        pl.concat_str(
            pl.format(f"expected one of {listed}, found '{{}}'", value),
            pl.format("; did you mean '{}'?", hint),
            ignore_nulls=True,
        ),
        pl.concat_str(
            pl.format(f"应为以下取值之一：{listed}，实际为 '{{}}'", value),
            pl.format("；是否应为 '{}'？", hint),
            ignore_nulls=True,
        ),
        value,
    )


def _nearest(values: pl.Series, allowed: list[str]) -> pl.Series:
    """The allowed value each value most likely meant (null when none is close), once per distinct value."""
    by_normal = {a.lower(): a for a in allowed}
    guesses = {}
    for v in values.drop_nulls().unique():
        normal = v.strip().lower().replace(" ", "_").replace("-", "_")
        close = difflib.get_close_matches(normal, allowed, n=1, cutoff=0.6)
        guesses[v] = by_normal.get(normal) or (close[0] if close else None)
    return values.replace_strict(guesses, default=None, return_dtype=pl.String)


def _negative(col: Column, delivered: pl.Expr) -> Check:
    value = pl.col(col.name)
    return Check(
        "negative",
        col.name,
        value < 0,
        pl.format(
            f"expected zero or more, found {{}}: {col.en} cannot be negative; check the sign in the source", delivered
        ),
        pl.format(f"应为零或正数，实际为 {{}}：{col.zh}不能为负数，请核对源数据中的符号", delivered),
        delivered,
    )


def _order(earlier: Column, later: Column) -> Check:
    a, b = pl.col(earlier.name), pl.col(later.name)
    return Check(
        "order",
        later.name,
        b < a,
        pl.format(
            f"{later.name} {{}} is before {earlier.name} {{}}: expected {later.name} on or after {earlier.name}; "
            "correct whichever date is wrong",
            b,
            a,
        ),
        pl.format(f"{later.zh} {{}} 早于{earlier.zh} {{}}：应不早于{earlier.zh}，请更正有误的日期", b, a),
        b,
    )


def _future(col: Column, checked_on: date) -> Check:
    """A past event dated after the day of the check: impossible, like 30 February or a window that ends first."""
    value = pl.col(col.name)
    return Check(
        "future",
        col.name,
        value > checked_on,
        pl.format(
            f"{col.name} {{}} is after {checked_on}, the day the registry was checked: expected the {col.en} "
            "on or before that day; correct the date in the source",
            value,
        ),
        pl.format(f"{col.zh} {{}} 晚于校验当日 {checked_on}：该日期不应在未来，请在源系统中更正", value),
        value.cast(pl.String),
    )


# ---------------------------------------------------------------------------------------------- checks across rows


def duplicate_rows(frame: pl.DataFrame, scan: TableScan) -> pl.DataFrame | None:
    """The rows of ``frame`` sharing a key, with why (``ROW``, ``value``, ``reason``, ``reason_zh``): exact copies
    keep their first row; conflicting versions are all set aside. None when no key repeats.

    Sorting a 64-bit hash of the key finds the few repeated hashes cheaply; only the rows carrying one
    are then compared exactly (a hash collision costs a comparison, never a wrong verdict).
    """
    key = list(scan.table.key)
    source = [scan.delivered[c.name] for c in scan.table.columns]
    key_hash = frame.select(
        reduce(operator.xor, (pl.col(k).hash(seed=i) for i, k in enumerate(key))).alias("hash")
    ).to_series()
    ordered = key_hash.sort()
    repeated = ordered.filter(ordered == ordered.shift(1))
    if repeated.is_empty():
        return None
    complete = pl.all_horizontal(pl.col(k).is_not_null() for k in key)
    groups = (
        frame.filter(key_hash.is_in(repeated.unique().implode()))
        .filter(complete)
        .group_by(key)
        .agg(pl.col(ROW).sort().alias("rows"), pl.struct(source).n_unique().alias("versions"))
        .filter(pl.col("rows").list.len() > 1)
    )
    if groups.is_empty():
        return None
    key_text = pl.concat_str([pl.format(f"{k}={{}}", pl.col(k)) for k in key], separator=", ")
    first = pl.col("rows").list.first()
    others = pl.col("rows").list.set_difference(pl.concat_list(ROW)).list.sort()
    listed = others.list.head(_SHOWN_ROWS).cast(pl.List(pl.String)).list.join(", ")
    more = others.list.len().cast(pl.Int64) - _SHOWN_ROWS
    shown = pl.when(more > 0).then(pl.format("{} and {} more", listed, more)).otherwise(listed)
    shown_zh = pl.when(more > 0).then(pl.format("{} 等（另有 {} 行）", listed, more)).otherwise(listed)
    return (
        groups.with_columns(pl.col("rows").alias(ROW))
        .explode(ROW)
        .filter((pl.col("versions") > 1) | (pl.col(ROW) != first))
        .select(
            ROW,
            key_text.alias("value"),
            pl.when(pl.col("versions") == 1)
            .then(pl.format("exact copy of row {} ({}); the first copy is kept, remove the repeats", first, key_text))
            .otherwise(
                pl.format(
                    "same key ({}) as row(s) {} with different values: nobody can tell which is right, so all are "
                    "set aside; correct the source so the key appears once",
                    key_text,
                    shown,
                )
            )
            .alias("reason"),
            pl.when(pl.col("versions") == 1)
            .then(pl.format("与第 {} 行完全相同（{}）：保留第一行，请删除重复行", first, key_text))
            .otherwise(
                pl.format(
                    "与第 {} 行主键相同（{}）但内容不同：无法判断哪行正确，已全部隔离；请更正源数据使主键唯一",
                    shown_zh,
                    key_text,
                )
            )
            .alias("reason_zh"),
        )
    )


def _duplicate_check(rows: pl.DataFrame, scan: TableScan) -> Check:
    at_row = pl.col(ROW)
    return Check(
        "duplicate",
        ", ".join(scan.table.key),
        at_row.is_in(rows[ROW].implode()),
        at_row.replace_strict(rows[ROW], rows["reason"], default=None),
        at_row.replace_strict(rows[ROW], rows["reason_zh"], default=None),
        at_row.replace_strict(rows[ROW], rows["value"], default=None),
    )


def _unknown_enterprise(enterprises: TableCheck, frame: pl.DataFrame) -> Check:
    """The row's USCC must be among the clean business rows; a quarantined business row is named."""
    file = enterprises.path.name
    uscc = pl.col("uscc")
    # An anti-join finds the few unknown codes; probing a small set is then cheap for every row.
    unknown = (
        frame.lazy()
        .select(uscc)
        .join(enterprises.clean.lazy().select(uscc), on="uscc", how="anti")
        .unique()
        .collect()
        .to_series()
    )
    set_aside = (
        enterprises.quarantine.group_by("source.uscc")
        .agg(
            pl.col("row").unique().sort().cast(pl.String).str.join(", ").alias("rows"),
            pl.col("rule").unique(maintain_order=True).str.join(", ").alias("rules"),
        )
        .drop_nulls("source.uscc")
    )
    rows = uscc.replace_strict(set_aside["source.uscc"], set_aside["rows"], default=None)
    rules = uscc.replace_strict(set_aside["source.uscc"], set_aside["rules"], default=None)
    return Check(
        "unknown_enterprise",
        "uscc",
        _among(uscc, unknown.drop_nulls()),
        pl.when(rows.is_not_null())
        .then(
            pl.format(
                f"enterprise '{{}}' is in {file} but its row(s) {{}} were quarantined ({{}}): fix that row first; "
                "this row is set aside until then",
                uscc,
                rows,
                rules,
            )
        )
        .otherwise(
            pl.format(
                f"enterprise '{{}}' is not in the business registration ({file}): deliver its business row, "
                "or correct the USCC",
                uscc,
            )
        ),
        pl.when(rows.is_not_null())
        .then(
            pl.format(
                f"企业 '{{}}' 在 {file} 中的第 {{}} 行已被隔离（{{}}）：请先更正该行，本行暂不使用", uscc, rows, rules
            )
        )
        .otherwise(
            pl.format(f"企业 '{{}}' 不在企业登记信息（{file}）中：请补报其登记信息，或更正统一社会信用代码", uscc)
        ),
        uscc,
    )

"""Quarantined rows: how a check is stated, how failing rows become quarantine records, and the files.

A ``Check`` is one way a row can fail, written as whole-column polars expressions: ``failed`` runs
over every row and must stay cheap; ``reason``, ``reason_zh`` and ``value`` run only on the rows that
failed, so the text of the quarantine is never built for clean rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from features.errors import RegistryFileError
from features.files import make_folder, write_csv_for_people
from features.registries.rules import RULES

if TYPE_CHECKING:
    from features.registries.validate import RegistryCheck

__all__ = ["QUARANTINE_COLUMNS", "ROW", "SOURCE_PREFIX", "Check", "quarantine_records", "write_quarantine"]

ROW = "__row"  # 1-based data row number in the file, added by the reader
SOURCE_PREFIX = "source."  # the source row's own columns, prefixed: credit_lists has a column named 'reason'
QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    "table": pl.String(),
    "file": pl.String(),
    "row": pl.Int64(),
    "column": pl.String(),
    "rule": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
    "reason_zh": pl.String(),
}


@dataclass(frozen=True)
class Check:
    rule: str
    column: str  # the column reported; a key check names all its columns, comma-separated
    failed: pl.Expr  # Boolean over every row; null counts as passed
    reason: pl.Expr  # English: what was expected, what was found, how to fix
    reason_zh: pl.Expr
    value: pl.Expr  # the offending value as text

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown quarantine rule {self.rule!r}; rules are {', '.join(RULES)}")


def quarantine_records(
    bad: pl.DataFrame, checks: list[tuple[str, Check]], *, table: str, file: str, source: dict[str, pl.Expr]
) -> pl.DataFrame:
    """One record per (bad row, failed check), ordered by row and then by check.

    ``bad`` holds the failing rows only, with one Boolean column per check (named by the first item
    of each pair); ``source`` gives each contract column's delivered value as text.
    """
    empty = pl.DataFrame(schema=QUARANTINE_COLUMNS | {SOURCE_PREFIX + name: pl.String() for name in source})
    if bad.is_empty():
        return empty
    source_exprs = [expr.alias(SOURCE_PREFIX + name) for name, expr in source.items()]
    failing = bad.select(pl.col(flag).any() for flag, _ in checks).row(0)
    parts = [
        bad.filter(pl.col(flag)).select(
            pl.lit(table).alias("table"),
            pl.lit(file).alias("file"),
            pl.col(ROW).cast(pl.Int64).alias("row"),
            pl.lit(check.column).alias("column"),
            pl.lit(check.rule).alias("rule"),
            check.value.cast(pl.String).alias("value"),
            check.reason.cast(pl.String).alias("reason"),
            check.reason_zh.cast(pl.String).alias("reason_zh"),
            *source_exprs,
            pl.lit(order, pl.Int32).alias("__check"),
        )
        for order, ((flag, check), fails) in enumerate(zip(checks, failing, strict=True))
        if fails
    ]
    return pl.concat(parts).sort("row", "__check").drop("__check")


def write_quarantine(check: RegistryCheck, out_dir: Path) -> list[Path]:
    """Write ``out_dir/<table>.csv`` for each table with quarantined rows; return the files written.

    The files are meant for Excel or WPS (``write_csv_for_people``): UTF-8 with a byte-order mark,
    formulas in delivered values neutralised, each file replaced whole or not at all. A
    ``<table>.csv`` left by an earlier run for a table that is now clean is removed, so the folder
    never shows problems that were already fixed.
    """
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(check.directory).resolve():
        raise RegistryFileError(
            out_dir,
            "is the registry directory itself: quarantine files would overwrite the delivered <table>.csv",
            "choose another directory for the quarantine, e.g. a 'quarantine' folder next to the registry",
        )
    make_folder(out_dir)
    written = []
    for name, result in check.tables.items():
        path = out_dir / f"{name}.csv"
        if result.quarantine.is_empty():
            path.unlink(missing_ok=True)
            continue
        written.append(write_csv_for_people(result.quarantine, path))
    return written

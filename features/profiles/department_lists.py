"""A department's complete list attesting a declared fact for every enterprise: read, checked, laid over profiles.

A list (CSV or Parquet; columns ``uscc``, ``value`` and optionally ``evidence``) is hostile input: its size is
bounded before it is parsed, and every row is checked at once (vectorised) — a malformed USCC, a value that is
not of the fact's type, a duplicate USCC, an oversized evidence reference. Any such row refuses the WHOLE list,
every problem located by row and column: a complete list with a row dropped would pay the firm that row named.
A well-formed USCC that names no enterprise the profiles know is not an error (the firm may be registered after
the profiles were built); the import reports it and keeps it (api/service/attested_lists.py).

Laid over profiles (``apply_lists``), a firm on the list takes the list's value and every other firm the fact's
declared ``absent`` value — unless the profile already has one (a registry's value wins, as everywhere).
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from features.errors import FeaturesError
from features.profiles.fact import Fact
from features.standards.uscc import uscc_problem_expr

__all__ = [
    "COLUMNS",
    "MAX_EVIDENCE_CHARS",
    "MAX_LIST_BYTES",
    "MAX_LIST_ROWS",
    "ListFileError",
    "ListOverlay",
    "ListProblem",
    "apply_lists",
    "read_list",
]

MAX_LIST_BYTES = 64 * 1024 * 1024  # a national list of every enterprise in bankruptcy fits many times over
MAX_LIST_ROWS = 2_000_000  # after reading: a list names the firms a fact is true of, not every firm
MAX_EVIDENCE_CHARS = 200
COLUMNS = ("uscc", "value", "evidence")  # evidence may be left out
NUL, NUL_PROBLEM = "\x00", "contains a NUL character (U+0000), which cannot be stored: remove it"
SHOWN_PROBLEMS = 20
_TRUE, _FALSE = ("true", "1", "yes", "是", "y"), ("false", "0", "no", "否", "n")


@dataclass(frozen=True)
class ListProblem:
    row: int | None  # 1-based data row (the header is not counted); None: the file as a whole
    column: str | None
    problem: str
    found: str | None = None

    def __str__(self) -> str:
        where = ", ".join(p for p in (f"row {self.row}" if self.row else "", f"column '{self.column}'" if self.column
                                      else "") if p)  # fmt: skip
        found = f" (found {self.found!r})" if self.found is not None else ""
        return f"{where + ': ' if where else ''}{self.problem}{found}"


class ListFileError(FeaturesError):
    """The list was refused whole; ``problems`` locates each reason (the first ``SHOWN_PROBLEMS`` in the text)."""

    def __init__(self, source: str, problems: Sequence[ListProblem], fix: str, total: int | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        self.fix = fix
        shown = "; ".join(str(p) for p in self.problems[:SHOWN_PROBLEMS])
        more = f" (and {self.total - SHOWN_PROBLEMS} more)" if self.total > SHOWN_PROBLEMS else ""
        super().__init__(f"{source}: the list was not imported: {shown}{more}. {fix}")


@dataclass(frozen=True)
class ListOverlay:
    """The latest list of one fact, as a run lays it over the profiles: ``entries`` has ``uscc`` and ``value``
    (in the fact's dtype); ``absent`` is the value of every firm not on it."""

    fact: Fact
    absent: Any
    entries: pl.DataFrame


def _frame(data: bytes, source: str) -> pl.DataFrame:
    if len(data) > MAX_LIST_BYTES:
        raise ListFileError(
            source,
            [ListProblem(None, None, f"the file has {len(data):,} bytes; at most {MAX_LIST_BYTES:,} are read")],
            "deliver it as Parquet, far smaller than CSV (the bound is in docs/limits.md); a complete list cannot be"
            " split into parts, each part would say the firms of the others are not on it",
        )
    try:
        if data[:4] == b"PAR1":
            frame = pl.read_parquet(io.BytesIO(data))
            return frame.select(pl.all().cast(pl.String))
        text = data.removeprefix(b"\xef\xbb\xbf")  # Excel's byte-order mark
        text.decode("utf-8")  # a GBK file fails here, with its position, rather than garbling names
        # No n_rows: with it polars returns an empty frame for a file whose quoting is broken. The byte bound
        # above already bounds the rows.
        return pl.read_csv(io.BytesIO(text), infer_schema=False, truncate_ragged_lines=False)
    except UnicodeDecodeError as err:
        raise ListFileError(
            source,
            [ListProblem(None, None, f"not UTF-8 text: byte {err.start} cannot be read ({err.reason})")],
            "save the CSV as UTF-8 (Excel: 'CSV UTF-8'), or deliver Parquet",
        ) from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as err:
        raise ListFileError(
            source,
            [ListProblem(None, None, f"cannot be read as CSV or Parquet: {str(err).splitlines()[0][:300]}")],
            "deliver a CSV with a header row (uscc,value,evidence) or a Parquet file with those columns",
        ) from None


def _header(frame: pl.DataFrame, source: str) -> None:
    problems = []
    for name in frame.columns:
        if name not in COLUMNS:
            near = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            problems.append(ListProblem(None, name, f"unexpected column{hint} a list has uscc, value and evidence"))
    for name in ("uscc", "value"):
        if name not in frame.columns:
            problems.append(ListProblem(None, name, "missing column"))
    if problems:
        raise ListFileError(source, problems, "the header must be uscc,value[,evidence]")
    if frame.height > MAX_LIST_ROWS:
        raise ListFileError(
            source,
            [ListProblem(None, None, f"more than {MAX_LIST_ROWS:,} rows")],
            "a complete list names the firms the fact is true of, not every firm; check the file",
        )


def _parsed(value: pl.Expr, fact: Fact) -> tuple[pl.Expr, str]:
    """The value in the fact's dtype (null where it cannot be read) and what was expected."""
    lower = value.str.to_lowercase()
    if fact.kind == "bool":
        parsed = pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False)
        return parsed.otherwise(None), "true or false (是/否, 1/0)"
    if fact.kind == "int":
        return value.cast(pl.Int32, strict=False), "a whole number"
    if fact.kind == "number":
        return value.cast(pl.Float64, strict=False), "a number"
    if fact.kind == "date":
        return value.str.to_date("%Y-%m-%d", strict=False), "a date YYYY-MM-DD"
    if fact.values:
        return pl.when(value.is_in(fact.values)).then(value), f"one of {', '.join(fact.values)}"
    return value, "a text"


def read_list(data: bytes, fact: Fact, *, source: str = "the list") -> pl.DataFrame:
    """The rows of a complete list of ``fact`` (``uscc``, ``value`` in the fact's dtype, ``evidence``), checked
    whole; a ``ListFileError`` naming every bad row and column otherwise. Nothing is dropped."""
    frame = _frame(data, source)
    _header(frame, source)
    if "evidence" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("evidence"))
    value, expected = _parsed(pl.col("value").str.strip_chars(), fact)
    checked = frame.with_row_index("row", offset=1).with_columns(
        pl.col("uscc").str.strip_chars().str.to_uppercase(),
        pl.col("evidence").str.strip_chars().replace("", None),
        value.alias("_typed"),
    )
    checked = checked.with_columns(
        uscc_problem_expr("uscc").alias("_uscc"),
        pl.col("row").first().over("uscc").alias("_first"),
    )

    def bad(where: pl.Expr, column: str, problem: pl.Expr | str, found: pl.Expr | None) -> pl.DataFrame:
        problem = pl.lit(problem) if isinstance(problem, str) else problem
        found = pl.lit(None, pl.String) if found is None else found
        return checked.filter(where).select(
            "row", pl.lit(column).alias("column"), problem.alias("problem"), found.alias("found")
        )

    uscc = pl.col("uscc")
    problems = pl.concat(
        [
            bad(uscc.is_null(), "uscc", "empty USCC", None),
            bad(pl.col("_uscc").is_not_null(), "uscc", "not a valid USCC: " + pl.col("_uscc"), uscc),
            bad(
                uscc.is_not_null() & (pl.col("row") != pl.col("_first")),
                "uscc",
                "listed twice (first on row " + pl.col("_first").cast(pl.String) + ")",
                uscc,
            ),
            bad(pl.col("_typed").is_null(), "value", f"expected {expected}", pl.col("value")),
            bad(
                pl.col("evidence").str.len_chars() > MAX_EVIDENCE_CHARS,
                "evidence",
                f"longer than {MAX_EVIDENCE_CHARS} characters",
                pl.col("evidence").str.slice(0, 40),
            ),
            # A database's text cannot hold it (PostgreSQL refuses the whole import): named here, with its row.
            *(
                bad(pl.col(name).str.contains(NUL, literal=True), name, NUL_PROBLEM, None)
                for name in ("value", "evidence")
            ),
        ]
    ).sort("row", "column")
    if problems.height:
        shown = [ListProblem(int(r), c, p, f) for r, c, p, f in problems.head(SHOWN_PROBLEMS).iter_rows()]
        raise ListFileError(
            source,
            shown,
            "correct these rows and import the whole list again: a complete list is taken whole or not at all",
            total=problems.height,
        )
    return checked.select("uscc", pl.col("_typed").cast(fact.dtype).alias("value"), "evidence")


def apply_lists(profiles: pl.DataFrame, lists: Sequence[ListOverlay]) -> pl.DataFrame:
    """``profiles`` with each listed fact set for every enterprise: the list's value for firms on it, the
    declared ``absent`` value for the others; a value the profile already has is kept."""
    if not lists:
        return profiles
    out = profiles.lazy()
    for overlay in lists:
        name, dtype = overlay.fact.name, overlay.fact.dtype
        if name not in profiles.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(name))
        given = overlay.entries.select("uscc", pl.col("value").cast(dtype).alias("_listed")).lazy()
        out = (
            out.join(given, on="uscc", how="left", maintain_order="left")
            .with_columns(pl.coalesce(pl.col(name), pl.col("_listed"), pl.lit(overlay.absent, dtype=dtype)).alias(name))
            .drop("_listed")
        )
    return out.collect()

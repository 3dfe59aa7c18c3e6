"""Bad rows for ``--dirty``: extra rows appended to a table, each breaking exactly one quarantine rule.

A validator must quarantine exactly the rows added here, under the rule recorded in the manifest, so
each bad row is built from a clean one with a fresh key (it can never collide with a clean row or
another bad row and trip ``duplicate`` as well) and then gets one defect. ``duplicate`` rows are
exact copies of distinct clean rows: the clean first copy is kept. Bad business rows are extra
enterprises that appear in no other table, so quarantining them cascades nowhere.

``type`` is a value that does not parse as the column's type: in CSV any non-text column can hold
one; Parquet columns are typed, so there the only such value is a non-finite float (NaN, inf).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.registries.rules import RULES
from features.registries.schema import CERTIFICATIONS, PATENT_TYPES, Table
from features.synthetic.certifications import certificate_numbers
from features.synthetic.codes import PersonIds, Serials, UsccMinter, ascii_matrix, gb32100_chars, strings
from features.synthetic.dates import add_months, day, month_of, month_start
from features.synthetic.patents import patent_numbers

__all__ = ["Fresh", "bad_rows", "rules_for"]

# Values outside each closed vocabulary (case variants count: the contract is case-sensitive).
BAD_ALLOWED = {
    "enterprise_type": ("company", "Limited_Company", "有限责任公司", "individual"),
    "status": ("active", "Operating", "存续", "closed"),
    "rating": ("E", "AA", "A+", "N"),
    "patent_type": ("trademark", "software_copyright", "发明"),
    "list": ("blacklist", "watch_list", "失信"),
    "certification": ("iso9001", "tech_sme", "高新"),
    "level": ("county", "city", "国家级"),
}
BAD_INDUSTRY = ("C9911", "F3911", "Z1234", "C39111", "6513X", "X")  # no division 99; C's division under F; …
BAD_CNAPS = ("10258400001", "1025840000123", "10258400001O", "102 584000012", "中国工商银行")  # 11, 13, letter O, …
BAD_DIVISION = ("440300", "990101", "44030", "4403O5", "449905", "4403051")  # prefecture level, no province, …
# Text that no parser should accept for the column's type (CSV only).
BAD_TEXT = {
    pl.Date: ("2024/13/01", "2023-02-30", "20240115", "15.01.2024", "2024年1月15日"),
    pl.Int32: ("12,000", "abc", "3.5", "十二", "12人"),
    pl.Float64: ("12,000.50", "abc", "¥300", "1.2.3", "3万"),
    pl.Boolean: ("abc", "yes", "是", "2"),
}
FORBIDDEN_USCC_LETTERS = np.frombuffer(b"IOZSV", dtype=np.uint8)


@dataclass
class Fresh:
    """Issuers of keys never used by a clean row, shared with the clean tables."""

    minter: UsccMinter
    persons: PersonIds
    patent_serials: Serials
    cert_serials: Serials
    start: date


def rules_for(table: Table, fmt: str) -> list[str]:
    """The rules a bad row of ``table`` can break, in ``RULES`` order."""
    cols = table.columns
    # CSV: any non-text value can fail to parse; Parquet: only a float can be non-finite.
    typed = any(c.dtype != pl.String if fmt == "csv" else c.dtype == pl.Float64 for c in cols)
    applies = {
        "type": typed,
        "missing": any(not c.nullable for c in cols),
        "uscc": table.name == "business",  # elsewhere a bad USCC is simply an unknown enterprise
        "industry": any(c.standard == "industry" for c in cols),
        "division": any(c.standard == "division" for c in cols),
        "cnaps": any(c.standard == "cnaps" for c in cols),
        "allowed": any(c.allowed for c in cols),
        "negative": any(c.non_negative for c in cols),
        "order": bool(table.ordered),
        "future": any(c.past for c in cols),
        "duplicate": True,
        "unknown_enterprise": table.name != "business" and any(c.standard == "uscc" for c in cols),
    }
    return [rule for rule in RULES if applies[rule]]


def bad_rows(
    table: Table,
    clean: pl.DataFrame,
    *,
    dirty: float,
    fmt: str,
    rng: np.random.Generator,
    fresh: Fresh,
    enterprises: pl.Series,
) -> tuple[pl.DataFrame | None, dict[str, int]]:
    """Bad rows to append (all-text columns for CSV), and how many break each rule.

    ``dirty`` is the number of bad rows relative to the clean ones, spread evenly over the rules that
    apply (at least one per rule, so every rule shows up even in small samples).
    """
    n = clean.height
    if dirty <= 0 or n == 0:
        return None, {}
    rules = rules_for(table, fmt)
    per_rule = max(1, round(dirty * n / len(rules)))
    keyed = [r for r in rules if r != "duplicate"]
    sample = clean[rng.integers(0, n, per_rule * len(keyed))]
    templates = _with_fresh_keys(table, clean, sample, rng, fresh, enterprises)
    per_rule = min(per_rule, templates.height // len(keyed))
    if per_rule == 0:
        return None, {}
    parts: dict[str, pl.DataFrame] = {}
    for i, rule in enumerate(keyed):
        rows = templates.slice(i * per_rule, per_rule)
        if rule == "type":
            parts[rule] = _bad_text(table, rows, rng) if fmt == "csv" else _non_finite(table, rows, rng)
        else:
            parts[rule] = _DEFECTS[rule](table, rows, rng, fresh)
    parts["duplicate"] = clean[np.sort(rng.choice(n, min(per_rule, n), replace=False))]
    # CSV rows are text so that a value can fail to parse; Parquet rows keep the contract's types.
    schema = {c: pl.String for c in table.schema} if fmt == "csv" else table.schema
    bad = pl.concat([parts[r].cast(schema) for r in rules])
    counts = {r: parts[r].height for r in rules}
    return bad[rng.permutation(bad.height)], counts


# ---------------------------------------------------------------------------------------------- fresh keys


def _with_fresh_keys(
    table: Table,
    clean: pl.DataFrame,
    rows: pl.DataFrame,
    rng: np.random.Generator,
    fresh: Fresh,
    enterprises: pl.Series,
) -> pl.DataFrame:
    """The rows with a key no clean row and no other bad row has (possibly fewer rows, see credit_lists)."""
    k = rows.height
    name = table.name
    if name == "business":
        return rows.with_columns(_fresh_uscc(rows["uscc"], fresh))
    if name in ("tax_filings", "tax_credit", "si_monthly"):
        # Periods before the extract's window are never used by clean rows; each repeat of an enterprise
        # goes one period further back.
        back = rows.select(pl.int_range(pl.len()).over("uscc") + 1).to_series().to_numpy()
        if name == "si_monthly":
            month = month_start(month_of(day(fresh.start)) - back)
            return rows.with_columns(pl.Series("month", month.astype(np.int32)).cast(pl.Date))
        year = fresh.start.year - 1 - back
        date_col = "filed_on" if name == "tax_filings" else "rated_on"
        shift = (rows["year"].to_numpy() - year) * 12
        moved = add_months(rows[date_col].cast(pl.Int32).to_numpy(), -shift)
        return rows.with_columns(
            pl.Series("year", year, dtype=pl.Int32), pl.Series(date_col, moved.astype(np.int32)).cast(pl.Date)
        )
    if name == "si_hires":
        return rows.with_columns(fresh.persons.mint(k).alias("person_id"))
    if name == "patents":
        kind = rows["patent_type"].replace_strict(PATENT_TYPES, list(range(3))).to_numpy()
        year = rows["filed_on"].dt.year().to_numpy()
        return rows.with_columns(patent_numbers(year, kind, fresh.patent_serials.take(k)).alias("patent_no"))
    if name == "certifications":
        kind = rows["certification"].replace_strict(CERTIFICATIONS, list(range(len(CERTIFICATIONS)))).to_numpy()
        year = rows["valid_from"].dt.year().to_numpy()
        province = rows["uscc"].str.slice(2, 2).to_numpy()
        serial = fresh.cert_serials.take(k)
        return rows.with_columns(certificate_numbers(kind, year, province, serial).alias("certificate_no"))
    if name == "credit_lists":
        # Enterprises on no list: one bad row each (there are fewer only if nearly all are listed).
        unlisted = enterprises.filter(~enterprises.is_in(clean["uscc"].implode()))
        pick = np.sort(rng.choice(unlisted.len(), min(k, unlisted.len()), replace=False))
        return rows.head(len(pick)).with_columns(unlisted.gather(pick).alias("uscc"))
    if name == "accounts":
        # Accounts put on file before the extract's window: each repeat of an enterprise a day earlier.
        back = rows.select(pl.int_range(pl.len()).over("uscc") + 1).to_series().to_numpy()
        valid_from = day(fresh.start) - 400 - back
        return rows.with_columns(pl.Series("valid_from", valid_from.astype(np.int32)).cast(pl.Date))
    raise ValueError(f"no fresh-key rule for table '{name}'")


def _fresh_uscc(uscc: pl.Series, fresh: Fresh) -> pl.Series:
    """New valid USCCs with the same type prefix and division as ``uscc``."""
    head = ascii_matrix(uscc.str.slice(0, 8).to_list())
    code = fresh.minter.mint(head[:, :2], head[:, 2:8], np.zeros(len(uscc), dtype=bool))
    return strings(code).alias("uscc")


# ---------------------------------------------------------------------------------------------- defects


def _choose(options: list[str], k: int, rng: np.random.Generator) -> np.ndarray:
    return np.array(options)[rng.integers(0, len(options), k)]


def _distinct(column: np.ndarray) -> list[str]:
    """Sorted, never in set order: that varies between processes, and random draws follow it."""
    return sorted(set(column.tolist()))


def _set_where(rows: pl.DataFrame, column: np.ndarray, values: dict[str, pl.Series]) -> pl.DataFrame:
    """Replace ``values[c]`` into the rows whose chosen column is ``c``."""
    return rows.with_columns(
        pl.when(pl.lit(pl.Series(column == c))).then(pl.lit(v)).otherwise(pl.col(c)).alias(c) for c, v in values.items()
    )


def _missing(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    column = _choose([c.name for c in table.columns if not c.nullable], rows.height, rng)
    return _set_where(
        rows, column, {c: pl.Series(c, [None] * rows.height, dtype=rows[c].dtype) for c in _distinct(column)}
    )


def _uscc(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    """Four typical mistakes: a wrong check character at 18 or at 17, a letter the code never uses, a
    character too few or too many."""
    code = ascii_matrix(rows["uscc"].to_list())
    k = len(code)
    variant = rng.integers(0, 4, k)
    at18 = variant == 0
    code[at18, 17] = np.where(code[at18, 17] == ord("0"), ord("1"), ord("0"))
    at17 = variant == 1
    code[at17, 16] = np.where(code[at17, 16] == ord("1"), ord("2"), ord("1"))
    code[at17, 17] = gb32100_chars(code[at17, :17])  # only position 17 is wrong
    letter = variant == 2
    code[letter, 8 + rng.integers(0, 8, int(letter.sum()))] = FORBIDDEN_USCC_LETTERS[
        rng.integers(0, 5, int(letter.sum()))
    ]
    text = strings(code)
    short = pl.Series(rng.random(k) < 0.5)
    wrong_length = pl.when(short).then(pl.lit(text).str.slice(0, 17)).otherwise(pl.lit(text) + "7")
    fixed = pl.select(pl.when(pl.lit(pl.Series(variant == 3))).then(wrong_length).otherwise(pl.lit(text))).to_series()
    return rows.with_columns(fixed.alias("uscc"))


def _industry(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    return rows.with_columns(pl.Series("industry_code", _choose(list(BAD_INDUSTRY), rows.height, rng)))


def _division(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    return rows.with_columns(pl.Series("division_code", _choose(list(BAD_DIVISION), rows.height, rng)))


def _cnaps(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    return rows.with_columns(pl.Series("bank_code", _choose(list(BAD_CNAPS), rows.height, rng)))


def _allowed(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    column = _choose([c.name for c in table.columns if c.allowed], rows.height, rng)
    return _set_where(
        rows, column, {c: pl.Series(c, _choose(list(BAD_ALLOWED[c]), rows.height, rng)) for c in _distinct(column)}
    )


def _negative(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    column = _choose([c.name for c in table.columns if c.non_negative], rows.height, rng)
    values = {c: (-rows[c].abs().fill_null(1).clip(lower_bound=1)).alias(c) for c in _distinct(column)}
    return _set_where(rows, column, values)


def _order(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    """The later date of a pair set 1-365 days before the earlier one."""
    pair = rng.integers(0, len(table.ordered), rows.height)
    gap = pl.Series(rng.integers(1, 366, rows.height), dtype=pl.Int32)
    for i, (earlier, later) in enumerate(table.ordered):
        rows = rows.with_columns(
            pl.when(pl.lit(pl.Series(pair == i)))
            .then(pl.col(earlier) - pl.duration(days=pl.lit(gap)))
            .otherwise(pl.col(later))
            .alias(later)
        )
    if table.name == "business":  # a status date only exists for a closed firm
        rows = rows.with_columns(status=pl.lit("deregistered"))
    return rows


def _future(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    """Every date of a past event set to one first-of-month a century after the window, distinct per row.

    All of a row's past dates move together so no pair among them falls out of order; distinct because
    a month is part of a key (si_monthly). A later date that is not a past event (a validity's end)
    is cleared, or it would now come first.
    """
    months = month_of(day(date(fresh.start.year + 100, 1, 1))) + np.arange(rows.height)
    when = pl.Series(month_start(months).astype(np.int32)).cast(pl.Date)
    past = [c.name for c in table.columns if c.past]
    rows = rows.with_columns(
        pl.when(pl.col(c).is_not_null()).then(pl.lit(when)).otherwise(pl.col(c)).alias(c) for c in past
    )
    for earlier, later in table.ordered:
        if table.column(earlier).past and not table.column(later).past:
            rows = rows.with_columns(
                pl.lit(None, pl.Date).alias(later) if table.column(later).nullable else pl.lit(when).alias(later)
            )
    return rows


def _unknown_enterprise(table: Table, rows: pl.DataFrame, rng: np.random.Generator, fresh: Fresh) -> pl.DataFrame:
    return rows.with_columns(_fresh_uscc(rows["uscc"], fresh))


_DEFECTS = {
    "missing": _missing,
    "uscc": _uscc,
    "industry": _industry,
    "division": _division,
    "cnaps": _cnaps,
    "allowed": _allowed,
    "negative": _negative,
    "order": _order,
    "future": _future,
    "unknown_enterprise": _unknown_enterprise,
}


def _bad_text(table: Table, rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Rows as text with one value that does not parse (CSV)."""
    column = _choose([c.name for c in table.columns if c.dtype != pl.String], rows.height, rng)
    text = rows.cast({c: pl.String for c in table.schema})
    values = {c: pl.Series(c, _choose(list(BAD_TEXT[table.schema[c]]), rows.height, rng)) for c in _distinct(column)}
    return _set_where(text, column, values)


def _non_finite(table: Table, rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Rows with NaN or +inf in a float column (Parquet): a broken export, not a number."""
    column = _choose([c.name for c in table.columns if c.dtype == pl.Float64], rows.height, rng)
    values = {c: pl.Series(c, _choose(["nan", "inf"], rows.height, rng).astype(float)) for c in _distinct(column)}
    return _set_where(rows, column, values)

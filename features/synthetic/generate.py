"""Generate a full synthetic registry directory: every table of the contract, plus a manifest.

Each table is generated, given its bad rows (``dirty``), written and dropped before the next one, so
memory holds one large table at a time. Every stage draws from its own random stream spawned from
the seed: the same seed gives the same files, and the clean rows do not depend on ``dirty``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from features.files import atomic_write, make_folder, write_file
from features.registries.schema import TABLES
from features.synthetic.accounts import bank_accounts
from features.synthetic.certifications import CERT_SERIALS, certifications
from features.synthetic.codes import PersonIds, Serials, UsccMinter
from features.synthetic.department_lists import department_lists
from features.synthetic.dirty import Fresh, bad_rows
from features.synthetic.enterprises import FIRST_YEAR, business_frame, draw_firms
from features.synthetic.hires import si_hires
from features.synthetic.lists import credit_lists
from features.synthetic.patents import PATENT_SERIALS, patents
from features.synthetic.social_insurance import si_monthly
from features.synthetic.tax import tax_credit, tax_filings

__all__ = ["LISTS", "STAGES", "generate"]

# What ``progress`` is told, in order: one message as each stage starts.
STAGES = (
    "business registration",
    "tax filings",
    "tax credit ratings",
    "social insurance months",
    "social insurance hires",
    "patents",
    "credit lists",
    "certifications",
    "bank accounts",
    "department lists",
    "manifest",
)
# Appended, never inserted: each stream is the seed's n-th child, so earlier tables stay the same for a seed.
_STREAMS = (
    "codes",
    "business",
    "tax",
    "credit",
    "si",
    "hires",
    "patents",
    "lists",
    "certs",
    "dirty",
    "accounts",
    "dept_lists",
)
MANIFEST = "manifest.json"
LISTS = "lists"  # departments' complete lists, beside the tables (features/synthetic/department_lists.py)


def generate(
    out: Path,
    *,
    enterprises: int,
    seed: int,
    dirty: float = 0.0,
    start: date = date(2022, 1, 1),
    end: date = date(2025, 12, 31),
    fmt: Literal["parquet", "csv"] = "parquet",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write every registry table to ``out/<table>.<fmt>`` and ``out/manifest.json``; return the table paths.

    ``end`` is the snapshot date of the extract: no record is dated after it. ``start`` opens the
    window of monthly and yearly records (tax years from ``start.year - 1``).
    """
    if enterprises < 1:
        raise ValueError(f"enterprises must be at least 1, found {enterprises}")
    if not 0.0 <= dirty <= 1.0:
        raise ValueError(f"dirty must be a fraction between 0 and 1, found {dirty}")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', found {fmt!r}")
    if not date(FIRST_YEAR + 1, 1, 1) <= start <= end:
        raise ValueError(f"expected {FIRST_YEAR + 1}-01-01 <= start <= end, found start {start} and end {end}")
    say = progress or (lambda _message: None)
    out = make_folder(Path(out))
    rng = {
        name: np.random.default_rng(s)
        for name, s in zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True)
    }
    fresh = Fresh(
        minter=UsccMinter(rng["codes"]),
        persons=PersonIds(rng["codes"]),
        patent_serials=Serials(rng["codes"], PATENT_SERIALS, "patents"),
        cert_serials=Serials(rng["codes"], CERT_SERIALS, "certificates"),
        start=start,
    )
    stage = iter(STAGES)

    say(next(stage))
    firms = draw_firms(enterprises, end, rng["business"], fresh.minter)
    writer = _Writer(out, fmt, dirty, rng["dirty"], fresh, firms.uscc)
    writer.write("business", business_frame(firms))
    say(next(stage))
    frame, filings = tax_filings(firms, start, end, rng["tax"])
    writer.write("tax_filings", frame)
    say(next(stage))
    writer.write("tax_credit", tax_credit(firms, filings, end, rng["credit"]))
    del filings
    say(next(stage))
    frame, accounts = si_monthly(firms, start, end, rng["si"])
    writer.write("si_monthly", frame)
    del frame
    say(next(stage))
    writer.write("si_hires", si_hires(firms, accounts, end, rng["hires"], fresh.persons))
    say(next(stage))
    writer.write("patents", patents(firms, end, rng["patents"], fresh.patent_serials))
    say(next(stage))
    writer.write("credit_lists", credit_lists(firms, end, rng["lists"]))
    say(next(stage))
    writer.write("certifications", certifications(firms, end, rng["certs"], fresh.cert_serials))
    say(next(stage))
    writer.write("accounts", bank_accounts(firms, end, rng["accounts"]))
    say(next(stage))
    # Not registry tables: what departments would import with `huiqi supplied-facts attest-list` (complete lists).
    listed = {}
    for name, frame in department_lists(firms, end, rng["dept_lists"]).items():
        write_file(make_folder(out / LISTS) / f"{name}.csv", lambda partial, frame=frame: frame.write_csv(partial))
        listed[name] = frame.height

    say(next(stage))
    manifest = {
        "enterprises": enterprises,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "dirty": dirty,
        "format": fmt,
        "rows": writer.rows,
        "dirty_rows": writer.dirty_rows,
        "lists": listed,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    write_file(out / MANIFEST, lambda partial: partial.write_text(text, encoding="utf-8"))
    return writer.paths


class _Writer:
    """Appends each table's bad rows, writes the file, and keeps the counts for the manifest."""

    def __init__(
        self, out: Path, fmt: str, dirty: float, rng: np.random.Generator, fresh: Fresh, enterprises: pl.Series
    ) -> None:
        self.out, self.fmt, self.dirty, self.rng, self.fresh, self.enterprises = (
            out,
            fmt,
            dirty,
            rng,
            fresh,
            enterprises,
        )
        self.paths: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self.dirty_rows: dict[str, dict[str, int]] = {}

    def write(self, name: str, clean: pl.DataFrame) -> None:
        table = TABLES[name]
        if clean.schema != table.schema:
            raise AssertionError(f"{name}: generated {clean.schema}, contract is {table.schema}")
        bad, counts = bad_rows(
            table, clean, dirty=self.dirty, fmt=self.fmt, rng=self.rng, fresh=self.fresh, enterprises=self.enterprises
        )
        path = self.out / f"{name}.{self.fmt}"
        # Registry extracts are data read back by huiqi, not sheets for people: CSV values stay exact.
        with atomic_write(path) as partial:
            if self.fmt == "parquet":
                (clean if bad is None else pl.concat([clean, bad], rechunk=False)).write_parquet(partial)
            else:
                clean.write_csv(partial)
                if bad is not None:
                    with partial.open("ab") as f:
                        bad.write_csv(f, include_header=False)
        self.paths[name] = path
        self.rows[name] = clean.height + (0 if bad is None else bad.height)
        self.dirty_rows[name] = counts

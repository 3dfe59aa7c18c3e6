"""Generate a full synthetic registry directory: every table of the contract, plus a manifest.

Each table is generated, given its bad rows (``dirty``), written and dropped before the next one, so
memory holds one large table at a time. Every stage draws from its own random stream spawned from
the seed: the same seed gives the same files, and the clean rows do not depend on ``dirty``.

Past ``BATCH`` enterprises (a million: about 3 GiB while generating), the firms are drawn in batches, each
batch's tables written as pieces and the pieces of a table joined into its file at the end by a streaming copy,
so that memory holds one batch whatever the registry's size (ten million enterprises: 320 million social
insurance months). Codes, person ids and serial numbers come from minters shared by every batch: never repeated.
A registry of at most ``BATCH`` enterprises is one batch, written as before.
"""

from __future__ import annotations

import json
import shutil
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

__all__ = ["BATCH", "LISTS", "STAGES", "generate"]

BATCH = 1_000_000

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
    batch: int = BATCH,
) -> dict[str, Path]:
    """Write every registry table to ``out/<table>.<fmt>`` and ``out/manifest.json``; return the table paths.

    ``end`` is the snapshot date of the extract: no record is dated after it. ``start`` opens the
    window of monthly and yearly records (tax years from ``start.year - 1``).
    """
    if enterprises < 1:
        raise ValueError(f"enterprises must be at least 1, found {enterprises}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1 enterprise, found {batch}")
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
    sizes = [batch] * (enterprises // batch) + ([enterprises % batch] if enterprises % batch else [])
    writer = _Writer(out, fmt, dirty, rng["dirty"], fresh, pieces=len(sizes))
    listed: dict[str, list[pl.DataFrame]] = {}
    for piece, size in enumerate(sizes):
        stage = iter(STAGES)

        def say_stage(stage=stage, piece=piece) -> None:
            name = next(stage)
            say(name if len(sizes) == 1 else f"{name} (batch {piece + 1} of {len(sizes)})")

        say_stage()
        firms = draw_firms(size, end, rng["business"], fresh.minter)
        writer.start(piece, firms.uscc)
        writer.write("business", business_frame(firms))
        say_stage()
        frame, filings = tax_filings(firms, start, end, rng["tax"])
        writer.write("tax_filings", frame)
        say_stage()
        writer.write("tax_credit", tax_credit(firms, filings, end, rng["credit"]))
        del filings
        say_stage()
        frame, accounts = si_monthly(firms, start, end, rng["si"])
        writer.write("si_monthly", frame)
        del frame
        say_stage()
        writer.write("si_hires", si_hires(firms, accounts, end, rng["hires"], fresh.persons))
        del accounts
        say_stage()
        writer.write("patents", patents(firms, end, rng["patents"], fresh.patent_serials))
        say_stage()
        writer.write("credit_lists", credit_lists(firms, end, rng["lists"]))
        say_stage()
        writer.write("certifications", certifications(firms, end, rng["certs"], fresh.cert_serials))
        say_stage()
        writer.write("accounts", bank_accounts(firms, end, rng["accounts"]))
        say_stage()
        # Not registry tables: what departments would import with `huiqi supplied-facts attest-list` (complete lists).
        for name, frame in department_lists(firms, end, rng["dept_lists"]).items():
            listed.setdefault(name, []).append(frame)
        del firms
    writer.join()
    for name, frames in listed.items():
        lists = pl.concat(frames)
        write_file(make_folder(out / LISTS) / f"{name}.csv", lambda partial, frame=lists: frame.write_csv(partial))

    say(STAGES[-1])
    manifest = {
        "enterprises": enterprises,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "dirty": dirty,
        "format": fmt,
        "rows": writer.rows,
        "dirty_rows": writer.dirty_rows,
        "lists": {name: sum(f.height for f in frames) for name, frames in listed.items()},
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    write_file(out / MANIFEST, lambda partial: partial.write_text(text, encoding="utf-8"))
    return writer.paths


class _Writer:
    """Appends each table's bad rows, writes the file (or a batch's piece of it), and keeps the counts for the
    manifest."""

    def __init__(self, out: Path, fmt: str, dirty: float, rng: np.random.Generator, fresh: Fresh, pieces: int) -> None:
        self.out, self.fmt, self.dirty, self.rng, self.fresh, self.pieces = out, fmt, dirty, rng, fresh, pieces
        self.piece = 0
        self.enterprises = pl.Series("uscc", [], pl.String)
        self.paths: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self.dirty_rows: dict[str, dict[str, int]] = {}

    def start(self, piece: int, enterprises: pl.Series) -> None:
        """The next batch: its enterprises are those its bad rows may name."""
        self.piece, self.enterprises = piece, enterprises

    def _target(self, name: str) -> Path:
        if self.pieces == 1:
            return self.out / f"{name}.{self.fmt}"
        return make_folder(self.out / ".pieces" / name) / f"{self.piece:05d}.{self.fmt}"

    def write(self, name: str, clean: pl.DataFrame) -> None:
        table = TABLES[name]
        if clean.schema != table.schema:
            raise AssertionError(f"{name}: generated {clean.schema}, contract is {table.schema}")
        bad, counts = bad_rows(
            table, clean, dirty=self.dirty, fmt=self.fmt, rng=self.rng, fresh=self.fresh, enterprises=self.enterprises
        )
        path = self._target(name)
        # Registry extracts are data read back by huiqi, not sheets for people: CSV values stay exact.
        with atomic_write(path) as partial:
            if self.fmt == "parquet":
                (clean if bad is None else pl.concat([clean, bad], rechunk=False)).write_parquet(partial)
            else:
                clean.write_csv(partial, include_header=self.piece == 0)  # pieces after the first: rows only
                if bad is not None:
                    with partial.open("ab") as f:
                        bad.write_csv(f, include_header=False)
        self.paths[name] = self.out / f"{name}.{self.fmt}"
        self.rows[name] = self.rows.get(name, 0) + clean.height + (0 if bad is None else bad.height)
        into = self.dirty_rows.setdefault(name, {})
        for rule, n in counts.items():
            into[rule] = into.get(rule, 0) + n

    def join(self) -> None:
        """Each table's pieces, in batch order, into its file (streamed: never a whole table in memory)."""
        if self.pieces == 1:
            return
        for name, path in self.paths.items():
            pieces = sorted((self.out / ".pieces" / name).iterdir())
            with atomic_write(path) as partial:
                if self.fmt == "parquet":
                    pl.scan_parquet(pieces).sink_parquet(partial)
                else:
                    with partial.open("wb") as joined:
                        for piece in pieces:
                            with piece.open("rb") as f:
                                shutil.copyfileobj(f, joined)
        shutil.rmtree(self.out / ".pieces")

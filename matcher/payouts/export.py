"""Exporting an approved batch: the payment file for the bank, written whole or not at all, the same every time.

The first export marks the batch exported and records the file's SHA-256; a later export of the same batch
(a lost file, a second copy for the bank) writes the very same bytes, or refuses if the data behind them
has changed — which nothing in huiqi does once a batch is approved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select, update

from features.files import write_file
from matcher.db.models import payment_batches, payment_items
from matcher.payouts.batches import Progress, get_batch, lock_batch, refuse_state
from matcher.payouts.chunks import read_frame
from matcher.payouts.errors import BatchRefused
from matcher.payouts.files import payment_file

__all__ = ["Export", "export", "read_items"]

_SCHEMA = {"line": pl.Int64, "reference": pl.String, "uscc": pl.String, "policy_id": pl.String,
           "period_key": pl.String, "amount_fen": pl.Int64, "bank_code": pl.String, "account_no": pl.String,
           "account_name": pl.String}  # fmt: skip


@dataclass(frozen=True)
class Export:
    batch_id: int
    path: Path
    count: int
    total_fen: int
    sha256: str
    again: bool  # exported before: the same bytes written again


def read_items(connection, batch_id: int) -> pl.DataFrame:
    query = select(*(payment_items.c[c] for c in _SCHEMA)).where(payment_items.c.batch_id == batch_id)
    return read_frame(connection, query.order_by(payment_items.c.line), _SCHEMA)


def export(
    engine: Engine,
    batch_id: int,
    out: Path,
    *,
    actor: str,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> Export:
    say = progress or (lambda _stage: None)
    with engine.connect() as connection:
        batch = get_batch(connection, batch_id)
        refuse_state(batch, "export", ("approved", "exported"), "导出（须先经另一名工作人员审批）")
        items = read_items(connection, batch_id)
    data = payment_file(batch, items)
    digest = hashlib.sha256(data).hexdigest()
    if batch.file_sha256 is not None and batch.file_sha256 != digest:
        raise BatchRefused(
            f"batch {batch_id} was exported as a file with SHA-256 {batch.file_sha256}, but its items now give"
            f" {digest}: the batch changed after export; nothing was written. Report this to the administrator",
            f"付款批次 {batch_id} 导出后数据发生变化，未写出文件，请联系系统管理员",
        )
    say("read")
    write_file(Path(out), lambda partial: partial.write_bytes(data))
    say("written")
    with engine.begin() as connection:
        batch = lock_batch(connection, batch_id)
        again = batch.status == "exported"
        if not again:
            refuse_state(batch, "export", ("approved",), "导出")
            connection.execute(
                update(payment_batches)
                .where(payment_batches.c.id == batch_id)
                .values(status="exported", exported_by=actor, exported_at=now or datetime.now(UTC), file_sha256=digest)
            )
    say("exported")
    return Export(
        batch_id, Path(out), items.height, int(items["amount_fen"].sum()) if items.height else 0, digest, again
    )

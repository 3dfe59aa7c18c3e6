"""Reconciling the bank's return file: each payment of the batch paid or failed, in the ledger and to the enterprise.

The file is checked whole before anything is written (``parse_return``, then against the batch: every
payment answered once, no unknown reference, each amount the amount sent); a file that fails any check is
refused whole. Then, chunk by chunk (each chunk one transaction, two at once on PostgreSQL, so a crash resumes where it
stopped):
the items take their outcome, the benefits move to ``paid`` or ``payment_failed`` (journal ref
``batch:<id>``), and the enterprise gets a ``paid`` or ``payment_failed`` notice (topic ``batch:<id>``).
The same file imported again changes nothing ("already reconciled"); another file for a reconciled
batch is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from matcher.db.bulk import CHUNK_ROWS, insert_missing, write_missing
from matcher.db.models import benefits, notices, payment_batches, payment_items, payment_returns
from matcher.ledger import BenefitStatus, DeliveryStatus, JournalEntry, move_all
from matcher.payouts.batches import Progress, batch_ref, lock_batch, refuse_state
from matcher.payouts.chunks import each_chunk, read_frame
from matcher.payouts.errors import BatchRefused, ReturnFileRefused
from matcher.payouts.files import REASONS, ReturnFile, parse_return, yuan
from matcher.payouts.statistics import refresh_statistics

__all__ = ["Reconciliation", "reconcile", "reconcile_file"]


@dataclass(frozen=True)
class Reconciliation:
    batch_id: int
    paid: int
    paid_fen: int
    failed: int
    failed_fen: int
    already: bool  # the same file was reconciled before: nothing changed


def _check_against_batch(engine: Engine, returned: ReturnFile, source: str) -> pl.DataFrame:
    """Refuse a file that does not answer each payment of the batch once, with its amount; else the answers with
    their item's line and benefit (``_SETTLING``'s columns), by line."""
    with engine.connect() as connection:
        sent = select(
            payment_items.c.reference, payment_items.c.amount_fen, payment_items.c.line, payment_items.c.benefit_id
        ).where(payment_items.c.batch_id == returned.batch_id)
        schema = {"reference": pl.String, "sent_fen": pl.Int64, "item_line": pl.Int64, "benefit_id": pl.Int64}
        items = read_frame(connection, sent, schema)
    joined = returned.lines.join(items, on="reference", how="left")
    unknown = joined.filter(pl.col("sent_fen").is_null())
    if unknown.height:
        first = unknown.row(0, named=True)
        raise ReturnFileRefused(
            f"return file refused whole, nothing was applied — {source}, line {first['line']}: reference"
            f" {first['reference']} is not a payment of batch {returned.batch_id} ({unknown.height} such lines);"
            " check that the file answers this batch",
            f"银行回执文件整体退回——{source} 第 {first['line']} 行：参考号 {first['reference']} 不属于付款批次"
            f" {returned.batch_id}（共 {unknown.height} 行）",
            line=first["line"],
        )
    wrong = joined.filter(pl.col("amount_fen") != pl.col("sent_fen"))
    if wrong.height:
        first = wrong.row(0, named=True)
        raise ReturnFileRefused(
            f"return file refused whole, nothing was applied — {source}, line {first['line']}: reference"
            f" {first['reference']} answers {yuan(first['amount_fen'])} yuan, but {yuan(first['sent_fen'])} yuan"
            f" was sent ({wrong.height} such lines)",
            f"银行回执文件整体退回——{source} 第 {first['line']} 行：参考号 {first['reference']} 金额为"
            f" {yuan(first['amount_fen'])} 元，实际付款 {yuan(first['sent_fen'])} 元",
            line=first["line"],
        )
    if returned.lines.height != items.height:
        missing = items.join(returned.lines, on="reference", how="anti")
        raise ReturnFileRefused(
            f"return file refused whole, nothing was applied — {source}: batch {returned.batch_id} has"
            f" {items.height} payments, the file answers {returned.lines.height}; no answer for"
            f" {', '.join(missing['reference'].head(5))}{' …' if missing.height > 5 else ''}; ask the bank for the"
            " complete status report",
            f"银行回执文件整体退回——{source}：付款批次 {returned.batch_id} 共 {items.height} 笔，回执仅"
            f" {returned.lines.height} 笔，请向银行索取完整回执",
        )
    return joined.select(
        line="item_line", benefit_id="benefit_id", status="status", reason_code="reason_code", reason="reason"
    ).sort("line")


# The bank's answers to one chunk's payments (item line, benefit, status, reason), staged for its transaction from
# the checked file (the same lines as ``payment_returns``): each statement of the chunk joins these 100,000 rows,
# not the whole batch's answers, which PostgreSQL hashed once per statement and chunk (a million rows each time).
_SETTLING = Table(
    "payout_settling",
    MetaData(),
    Column("line", BigInteger),
    Column("benefit_id", BigInteger),
    Column("status", String),
    Column("reason_code", String),
    Column("reason", Text),
)
_SETTLING_DDL = {
    "postgresql": "CREATE TEMP TABLE IF NOT EXISTS payout_settling (line bigint, benefit_id bigint, status text,"
    " reason_code text, reason text) ON COMMIT DROP",
    # SQLite joins by nested loops only: the key makes each item's answer a lookup, not a scan of the chunk's.
    "sqlite": "CREATE TEMP TABLE IF NOT EXISTS payout_settling (line INTEGER PRIMARY KEY, benefit_id INTEGER,"
    " status TEXT, reason_code TEXT, reason TEXT)",
}


def _stage(connection: Connection, answers: pl.DataFrame) -> None:
    connection.exec_driver_sql(_SETTLING_DDL[connection.dialect.name])
    connection.execute(delete(_SETTLING))  # SQLite keeps a temporary table for the connection's life
    write_missing(connection, _SETTLING, answers)
    # A temporary table has no statistics until analysed: PostgreSQL counted 185 answers "paid" and 185
    # "failed" in a chunk of 100,000, and built the 25 failures' notices by hashing all 100,000 items and
    # benefits of the chunk (0.4 s a chunk for a handful of rows).
    refresh_statistics(connection, _SETTLING)


def _notices(dialect: str, batch_id: int, kind: str, status: str, chunk, ids, now: datetime, fresh: bool):
    """The ``kind`` notice of every payment of the chunk the bank answered ``status``, not yet sent.

    ``fresh``: this transaction settled every item of the chunk, so none of its notices can exist (they are
    written only here, in the transaction that settles their items): a plain insert, which a notice there
    after all would make fail whole. Otherwise (a rerun finishing a chunk) "not yet sent" is the notices'
    unique key (``ON CONFLICT DO NOTHING``), not an anti-join: the notices of the chunks settled before are in
    the table but not in its statistics, and PostgreSQL, counting on no notice of the batch, scanned them
    once per item. The plain insert skips the conflict check's index probe and its extra WAL record per
    notice (speculative insertion).
    """
    rows = (
        select(
            payment_items.c.uscc,
            payment_items.c.policy_id,
            payment_items.c.policy_version,
            payment_items.c.period_key,
            literal(kind),
            benefits.c.run_id,
            payment_items.c.amount_fen,
            literal(str(DeliveryStatus.PENDING)),
            literal(0),
            literal(now),
            literal(batch_ref(batch_id)),
        )
        .join(_SETTLING, _SETTLING.c.line == payment_items.c.line)
        .join(benefits, benefits.c.id == payment_items.c.benefit_id)
        .where(chunk, _SETTLING.c.status == status, benefits.c.id.between(*ids))  # ids: see ``move_all``
    )
    columns = ["uscc", "policy_id", "policy_version", "period_key", "kind", "run_id", "amount_fen"]
    columns += ["delivery_status", "attempts", "created_at", "topic"]
    if fresh:
        return notices.insert().from_select(columns, rows)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(notices).from_select(columns, rows).on_conflict_do_nothing()


def _settlements(batch_id: int, codes: list[str]) -> list[tuple[JournalEntry, str, str | None, str]]:
    """(entry, the bank's status, reason code, journal reason): paid, then one move per reason a transfer failed for."""
    out: list[tuple[JournalEntry, str, str | None, str]] = [
        (JournalEntry.PAID, "paid", None, f"the bank confirmed the transfer of payment batch {batch_id}")
    ]
    for code in codes:
        en, zh = REASONS[code]
        why = f"the bank returned the transfer of batch {batch_id}: {code} {en} ({zh}); waits for a corrected account"
        out.append((JournalEntry.PAYMENT_FAILED, "failed", code, why))
    return out


def reconcile(
    engine: Engine,
    returned: ReturnFile,
    *,
    actor: str,
    source: str = "return file",
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> Reconciliation:
    say = progress or (lambda _stage: None)
    now = now or datetime.now(UTC)
    batch_id = returned.batch_id
    with engine.connect() as connection:
        batch = connection.execute(select(payment_batches).where(payment_batches.c.id == batch_id)).first()
    if batch is None:
        raise ReturnFileRefused(
            f"return file refused whole — {source}, line 1: it answers batch {batch_id}, which does not exist",
            f"银行回执文件整体退回——{source}：付款批次 {batch_id} 不存在",
            line=1,
        )
    if batch.status == "reconciled":
        if batch.return_sha256 == returned.sha256:
            return Reconciliation(
                batch_id, batch.paid_count, batch.paid_fen, batch.failed_count, batch.failed_fen, True
            )
        raise BatchRefused(
            f"batch {batch_id} was already reconciled on {batch.reconciled_at:%Y-%m-%d} from another return file"
            f" (SHA-256 {batch.return_sha256}); this file (SHA-256 {returned.sha256}) is refused: a batch is"
            " reconciled once",
            f"付款批次 {batch_id} 已于 {batch.reconciled_at:%Y-%m-%d} 依据另一份回执完成对账，本文件不予处理",
        )
    refuse_state(batch, "reconcile", ("exported",), "对账（须先导出付款文件并发送银行）")
    if batch.return_sha256 is not None and batch.return_sha256 != returned.sha256:
        raise BatchRefused(
            f"batch {batch_id} is being reconciled from another return file (SHA-256 {batch.return_sha256}), which"
            " was interrupted; import that file again to finish",
            f"付款批次 {batch_id} 正在依据另一份回执对账（已中断），请重新导入该回执以完成对账",
        )
    settling = _check_against_batch(engine, returned, source)
    say("checked")
    with engine.begin() as connection:
        lock_batch(connection, batch_id)
        connection.execute(
            update(payment_batches).where(payment_batches.c.id == batch_id).values(return_sha256=returned.sha256)
        )
    insert_missing(
        engine, payment_returns, returned.lines.with_columns(batch_id=pl.lit(batch_id, pl.Int64)), chunk_rows=chunk_rows
    )
    with engine.begin() as connection:
        refresh_statistics(connection, payment_items, benefits)
    say("stored")

    ref = batch_ref(batch_id)
    codes = sorted(set(returned.lines["reason_code"].drop_nulls()))
    lows = range(1, batch.item_count + 1, chunk_rows)

    def settle(connection: Connection, low: int) -> None:
        high = low + chunk_rows - 1
        answers = settling.filter(pl.col("line").is_between(low, high))
        if not answers.height:
            return
        _stage(connection, answers)
        ids = (answers["benefit_id"].min(), answers["benefit_id"].max())
        chunk = and_(payment_items.c.batch_id == batch_id, payment_items.c.line.between(low, high))
        settled = connection.execute(
            update(payment_items)
            .where(chunk, payment_items.c.outcome.is_(None), _SETTLING.c.line == payment_items.c.line)
            .values(
                outcome=_SETTLING.c.status, reason_code=_SETTLING.c.reason_code, reason=_SETTLING.c.reason, open=None
            )
        ).rowcount
        fresh = settled == answers.height  # no item of the chunk was settled before: a first pass
        for entry, status, code, why in _settlements(batch_id, codes):
            chosen = select(_SETTLING.c.benefit_id).where(_SETTLING.c.status == status)
            if code is not None:
                chosen = chosen.where(_SETTLING.c.reason_code == code)
            where = benefits.c.id.in_(chosen)
            move_all(connection, entry, where, actor=actor, reason=why, ref=ref, at=now, ids=ids)
        for kind, status in (("paid", "paid"), ("payment_failed", "failed")):
            connection.execute(_notices(connection.dialect.name, batch_id, kind, status, chunk, ids, now, fresh))

    each_chunk(engine, lows, settle, lambda: say("settled"))

    with engine.begin() as connection:
        lock_batch(connection, batch_id)
        is_paid = payment_items.c.outcome == "paid"
        totals = connection.execute(
            select(
                func.count().filter(is_paid),
                func.coalesce(func.sum(case((is_paid, payment_items.c.amount_fen), else_=0)), 0),
                func.count().filter(payment_items.c.outcome == "failed"),
                func.coalesce(func.sum(case((is_paid, 0), else_=payment_items.c.amount_fen)), 0),
                func.count().filter(payment_items.c.outcome.is_(None)),
            ).where(payment_items.c.batch_id == batch_id)
        ).one()
        paid, paid_fen, failed, failed_fen, unsettled = (int(v) for v in totals)
        if unsettled:  # cannot happen after the checks above; never mark a batch reconciled with payments open
            raise RuntimeError(f"batch {batch_id}: {unsettled} payments have no outcome after reconciliation")
        still = connection.execute(
            select(func.count())
            .select_from(payment_items)
            .join(benefits, benefits.c.id == payment_items.c.benefit_id)
            .where(payment_items.c.batch_id == batch_id, benefits.c.status == BenefitStatus.IN_BATCH)
        ).scalar_one()
        if still:
            raise RuntimeError(f"batch {batch_id}: {still} benefits are still in the batch after reconciliation")
        connection.execute(
            update(payment_batches)
            .where(payment_batches.c.id == batch_id)
            .values(
                status="reconciled",
                reconciled_by=actor,
                reconciled_at=now,
                paid_count=paid,
                paid_fen=paid_fen,
                failed_count=failed,
                failed_fen=failed_fen,
            )
        )
    say("reconciled")
    return Reconciliation(batch_id, paid, paid_fen, failed, failed_fen, False)


def reconcile_file(engine: Engine, path: Path, *, actor: str, **kw) -> Reconciliation:
    """Read the return file at ``path`` and reconcile it."""
    path = Path(path)
    return reconcile(engine, parse_return(path.read_bytes(), str(path)), actor=actor, source=str(path), **kw)

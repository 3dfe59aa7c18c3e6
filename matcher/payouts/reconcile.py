"""Reconciling the bank's return file: each payment of the batch paid or failed, in the ledger and to the enterprise.

The file is checked whole before anything is written (``parse_return``, then against the batch: every
payment answered once, no unknown reference, each amount the amount sent); a file that fails any check is
refused whole. Then, chunk by chunk (each chunk one transaction, so a crash resumes where it stopped):
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
from sqlalchemy import Engine, and_, case, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from matcher.db.bulk import CHUNK_ROWS, insert_missing
from matcher.db.models import benefits, notices, payment_batches, payment_items, payment_returns
from matcher.ledger import BenefitStatus, DeliveryStatus, JournalEntry, move_all
from matcher.payouts.batches import Progress, batch_ref, lock_batch, refuse_state
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


def _check_against_batch(engine: Engine, returned: ReturnFile, source: str) -> None:
    with engine.connect() as connection:
        rows = connection.execute(
            select(payment_items.c.reference, payment_items.c.amount_fen).where(
                payment_items.c.batch_id == returned.batch_id
            )
        ).all()
    items = pl.DataFrame([tuple(r) for r in rows], schema={"reference": pl.String, "sent_fen": pl.Int64}, orient="row")
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


# The bank's answers, joined to the items to choose what each chunk settles: the item's ``outcome`` is the same
# once the chunk's update ran, but its statistics still say "open" for every item (ANALYZE'd before the update),
# so a choice on it is planned for one row and probes an index per item; the answers' are fresh.
_ANSWER = payment_returns.alias("answer")


def _answered(batch_id: int):
    return and_(_ANSWER.c.batch_id == batch_id, _ANSWER.c.reference == payment_items.c.reference)


def _notices(dialect: str, batch_id: int, kind: str, status: str, low: int, high: int, now: datetime):
    """The ``kind`` notice of every item of lines ``low``..``high`` the bank answered ``status``, not yet sent.

    "Not yet sent" is the notices' unique key (``ON CONFLICT DO NOTHING``), not an anti-join: the notices of the
    chunks settled before are in the table but not in its statistics, and PostgreSQL, counting on no notice of
    the batch, scanned them once per item (a chunk of 100,000 against the 100,000 of the chunk before).
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
        .join(_ANSWER, _answered(batch_id))
        .join(benefits, benefits.c.id == payment_items.c.benefit_id)
        .where(
            payment_items.c.batch_id == batch_id,
            payment_items.c.line.between(low, high),
            _ANSWER.c.status == status,
        )
    )
    columns = ["uscc", "policy_id", "policy_version", "period_key", "kind", "run_id", "amount_fen"]
    columns += ["delivery_status", "attempts", "created_at", "topic"]
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
    _check_against_batch(engine, returned, source)
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
        refresh_statistics(connection, payment_returns, payment_items, benefits)
    say("stored")

    answer = _ANSWER
    ref = batch_ref(batch_id)
    codes = sorted(set(returned.lines["reason_code"].drop_nulls()))
    for low in range(1, batch.item_count + 1, chunk_rows):
        high = low + chunk_rows - 1
        chunk = and_(payment_items.c.batch_id == batch_id, payment_items.c.line.between(low, high))
        with engine.begin() as connection:
            connection.execute(
                update(payment_items)
                .where(
                    chunk,
                    payment_items.c.outcome.is_(None),
                    answer.c.batch_id == batch_id,
                    answer.c.reference == payment_items.c.reference,
                )
                .values(outcome=answer.c.status, reason_code=answer.c.reason_code, reason=answer.c.reason, open=None)
            )

            for entry, status, code, why in _settlements(batch_id, codes):
                chosen = select(payment_items.c.benefit_id).join(answer, _answered(batch_id))
                chosen = chosen.where(chunk, answer.c.status == status)
                if code is not None:
                    chosen = chosen.where(answer.c.reason_code == code)
                move_all(connection, entry, benefits.c.id.in_(chosen), actor=actor, reason=why, ref=ref, at=now)
            connection.execute(_notices(connection.dialect.name, batch_id, "paid", "paid", low, high, now))
            connection.execute(_notices(connection.dialect.name, batch_id, "payment_failed", "failed", low, high, now))
        say("settled")

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

"""Payment batches: prepared by one officer, approved by another, exported, reconciled — or withdrawn.

```
  prepare ──► PREPARED ── approve (another officer) ──► APPROVED ── export ──► EXPORTED ── reconcile ──► RECONCILED
  (PREPARING       │                                        │           (again: the same bytes)
   while it runs)  └──────────── withdraw ──────────────────┴──► WITHDRAWN (its benefits payable again)
```

``prepare`` makes payable every granted cash benefit nothing holds any more (its objection window
closed, its publicity over), then puts every payable cash benefit with an account and an amount
outstanding into a new batch, one item each, with the account used. It commits chunk by chunk and
resumes where it stopped: rerun after a crash, it finishes the same batch.

A benefit is in at most one open batch: the ledger moves it payable → in_batch only once, and the
items' unique index on the benefit over the open items (``open = 1``) refuses a second open item whatever
the code does. The maker cannot be the checker: ``approve`` refuses the preparer, and so does a CHECK
constraint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from matcher.db.bulk import CHUNK_ROWS, write_missing
from matcher.db.keys import TOPIC_KINDS
from matcher.db.models import benefit_journal, benefits, notices, payment_batches, payment_items
from matcher.ledger import BenefitStatus, JournalEntry, move_all
from matcher.payouts.accounts import accounts_in_force
from matcher.payouts.chunks import each_chunk, read_frame, tune
from matcher.payouts.errors import BatchRefused
from matcher.payouts.statistics import refresh_statistics
from matcher.payouts.terms import PolicyKey, cash_policy, in_publicity

__all__ = [
    "PrepareSummary",
    "approve",
    "batch_ref",
    "get_batch",
    "list_batches",
    "lock_batch",
    "prepare",
    "refuse_state",
]
__all__ += ["reference", "withdraw"]

Progress = Callable[[str], None]
_SHOWN = 20  # benefits without an account listed by name in the summary
_ITEM_COLUMNS = ["batch_id", "line", "reference", "benefit_id", "uscc", "policy_id", "policy_version", "period_key"]
_ITEM_COLUMNS += ["amount_fen", "bank_code", "account_no", "account_name", "account_source", "open"]


def batch_ref(batch_id: int) -> str:
    """The journal's ``ref`` of every entry a batch causes."""
    return f"batch:{batch_id}"


def reference(batch_id: int, line: int) -> str:
    """A payment's end-to-end reference in the payment and return files (at most 35 characters, as pain.001)."""
    return f"HQ{batch_id}-{line}"


@dataclass
class PrepareSummary:
    batch_id: int
    as_of: date
    status: str  # prepared, or withdrawn when there was nothing to pay
    made_payable: int
    items: int
    total_fen: int
    without_account: int
    without_account_shown: list[dict[str, str]] = field(default_factory=list)
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lock_batch(connection: Connection, batch_id: int) -> Any:
    """The batch's row, locked until commit (PostgreSQL: the row; SQLite: the database's write lock)."""
    connection.execute(
        update(payment_batches).where(payment_batches.c.id == batch_id).values(status=payment_batches.c.status)
    )
    row = connection.execute(select(payment_batches).where(payment_batches.c.id == batch_id)).first()
    if row is None:
        raise BatchRefused(
            f"no payment batch {batch_id}: `huiqi payouts list` shows them", f"未找到付款批次 {batch_id}"
        )
    return row


def get_batch(connection: Connection, batch_id: int) -> Any:
    row = connection.execute(select(payment_batches).where(payment_batches.c.id == batch_id)).first()
    if row is None:
        raise BatchRefused(
            f"no payment batch {batch_id}: `huiqi payouts list` shows them", f"未找到付款批次 {batch_id}"
        )
    return row


def list_batches(connection: Connection, limit: int = 100, offset: int = 0) -> list[Any]:
    return connection.execute(
        select(payment_batches).order_by(payment_batches.c.id.desc()).limit(limit).offset(offset)
    ).all()


def refuse_state(row: Any, step: str, allowed: tuple[str, ...], zh: str) -> None:
    if row.status not in allowed:
        raise BatchRefused(
            f"cannot {step} batch {row.id}: it is {row.status}; expected a batch that is {' or '.join(allowed)}"
            f" (`huiqi payouts show {row.id}` shows its history)",
            f"付款批次 {row.id} 当前状态为 {row.status}，不能{zh}",
            batch_id=row.id,
            status=row.status,
        )


def _open_batch(engine: Engine, as_of: date, actor: str, person: str, now: datetime) -> tuple[int, bool]:
    with engine.begin() as connection:
        running = connection.execute(select(payment_batches).where(payment_batches.c.preparing == 1)).first()
        if running is not None:
            if running.as_of != as_of:
                raise BatchRefused(
                    f"batch {running.id} is being prepared as of {running.as_of} (started by {running.prepared_by}"
                    f" on {running.prepared_at:%Y-%m-%d %H:%M}) and did not finish; finish it first:"
                    f" huiqi payouts prepare --as-of {running.as_of}",
                    f"付款批次 {running.id}（截至 {running.as_of}）尚未生成完毕，请先以相同日期重新执行生成",
                    batch_id=running.id,
                )
            return running.id, True
        try:
            batch_id = connection.execute(
                insert(payment_batches)
                .values(
                    status="preparing", as_of=as_of, preparing=1, prepared_by=actor, preparer=person, prepared_at=now
                )
                .returning(payment_batches.c.id)
            ).scalar_one()
        except IntegrityError:
            raise BatchRefused(
                "another officer is preparing a batch at this moment: wait for it, then prepare again",
                "另一名工作人员正在生成付款批次，请稍后再试",
            ) from None
    return batch_id, False


def _uscc_ranges(connection: Connection, chunk_rows: int) -> list[tuple[str | None, str | None]]:
    """Half-open USCC ranges ``[low, high)`` (None: unbounded) of about ``chunk_rows`` granted benefits each.

    By USCC, not by id: the notices that hold a benefit are found by its USCC, so a chunk reads the notices of
    its own range (an index range scan) instead of all of them, three times, for every chunk."""
    ranked = (
        select(benefits.c.uscc, func.row_number().over(order_by=benefits.c.uscc).label("n"))
        .where(benefits.c.status == BenefitStatus.GRANTED)
        .subquery()
    )
    firsts = connection.execute(
        select(ranked.c.uscc).where((ranked.c.n - 1) % chunk_rows == 0).order_by(ranked.c.uscc)
    ).scalars()
    starts = sorted(set(firsts))
    return [(None if i == 0 else low, starts[i + 1] if i + 1 < len(starts) else None) for i, low in enumerate(starts)]


def _in_range(column, low: str | None, high: str | None) -> ColumnElement[bool]:
    return and_(true() if low is None else column >= low, true() if high is None else column < high)


def _nothing_holds(terms: Mapping[PolicyKey, int], as_of: date, low: str | None, high: str | None):
    """The enterprise was told (a granted or awaiting-confirmation notice), every deadline to object or confirm
    is before ``as_of`` — an officer's correction (a ``corrected`` notice) opens a new one — and no publicity of
    the benefit's list still runs on ``as_of``. For the benefits of USCCs in ``[low, high)``: the notices' range
    is spelled out too, as the planner does not carry a range across the join's equality."""
    same = and_(
        _in_range(notices.c.uscc, low, high),
        notices.c.uscc == benefits.c.uscc,
        notices.c.policy_id == benefits.c.policy_id,
        notices.c.period_key == benefits.c.period_key,
    )
    told = and_(same, notices.c.kind.in_(TOPIC_KINDS))
    still_open = or_(
        notices.c.respond_by.is_(None),
        notices.c.respond_by >= as_of,
        in_publicity(terms, as_of, notices.c.created_at),
    )
    corrected_open = and_(same, notices.c.kind == "corrected", notices.c.respond_by >= as_of)
    ours = _in_range(benefits.c.uscc, low, high)
    return and_(ours, exists().where(told), ~exists().where(told, still_open), ~exists().where(corrected_open))


def _candidates(connection: Connection, batch_id: int, terms: Mapping[PolicyKey, int]) -> pl.DataFrame:
    """Payable cash benefits with an amount outstanding, and those already in this batch (a resumed prepare)."""
    # An IN subquery, not a correlated EXISTS: there is no index on the items' benefit (migration 0023), and
    # SQLite, which joins by nested loops only, materialises the subquery once instead of scanning per benefit.
    in_this_batch = benefits.c.id.in_(select(payment_items.c.benefit_id).where(payment_items.c.batch_id == batch_id))
    query = select(
        benefits.c.id.label("benefit_id"),
        benefits.c.uscc,
        benefits.c.policy_id,
        benefits.c.policy_version,
        benefits.c.period_key,
        (benefits.c.amount_fen - benefits.c.paid_fen).label("amount_fen"),
    ).where(
        cash_policy(terms),
        or_(
            and_(benefits.c.status == BenefitStatus.PAYABLE, benefits.c.amount_fen > benefits.c.paid_fen),
            and_(benefits.c.status == BenefitStatus.IN_BATCH, in_this_batch),
        ),
    )
    schema = {"benefit_id": pl.Int64, "uscc": pl.String, "policy_id": pl.String, "policy_version": pl.Int64,
              "period_key": pl.String, "amount_fen": pl.Int64}  # fmt: skip
    return read_frame(connection, query, schema).sort("benefit_id")


def prepare(
    engine: Engine,
    as_of: date,
    terms: Mapping[PolicyKey, int],
    registry_accounts: pl.DataFrame,
    *,
    actor: str,
    person: str,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> PrepareSummary:
    """Make payable what is due on ``as_of`` and batch every payable cash benefit that has an account.

    ``terms``: publicity days per cash policy version (``cash_terms``); ``registry_accounts``: the registry's
    accounts extract; ``actor`` is the audit name, ``person`` the officer (the maker, who may not approve).
    """
    say = progress or (lambda _stage: None)
    now = now or datetime.now(UTC)
    batch_id, resumed = _open_batch(engine, as_of, actor, person, now)
    ref = batch_ref(batch_id)
    say("opened")

    with engine.begin() as connection:
        tune(connection)
        refresh_statistics(connection, benefits, notices)  # a run may just have written them
        ranges = _uscc_ranges(connection, chunk_rows)

    def make_payable(connection: Connection, uscc_range: tuple[str | None, str | None]) -> None:
        move_all(
            connection,
            JournalEntry.MADE_PAYABLE,
            and_(cash_policy(terms), _nothing_holds(terms, as_of, *uscc_range)),
            actor=actor,
            reason=f"objection window closed and publicity over as of {as_of}",
            ref=ref,
            at=now,
        )

    each_chunk(engine, ranges, make_payable, lambda: say("made payable"))

    with engine.connect() as connection:
        candidates = _candidates(connection, batch_id, terms)
        accounts = accounts_in_force(connection, registry_accounts, as_of)
    items = candidates.join(accounts, on="uscc", how="left")
    missing = items.filter(pl.col("bank_code").is_null())
    items = items.filter(pl.col("bank_code").is_not_null()).with_row_index("line", offset=1)
    items = items.select(
        batch_id=pl.lit(batch_id, pl.Int64),
        line=pl.col("line").cast(pl.Int64),
        reference=pl.format("HQ{}-{}", pl.lit(batch_id), pl.col("line")),
        benefit_id="benefit_id",
        uscc="uscc",
        policy_id="policy_id",
        policy_version="policy_version",
        period_key="period_key",
        amount_fen="amount_fen",
        bank_code="bank_code",
        account_no="account_no",
        account_name="account_name",
        account_source="account_source",
        open=pl.lit(1, pl.Int64),
    )

    def put_in_batch(connection: Connection, start: int) -> None:
        chunk = items.slice(start, chunk_rows)
        first, last = chunk["line"][0], chunk["line"][-1]
        write_missing(connection, payment_items, chunk)
        if start == 0:  # the later chunks' plans too: the planner scales the rows counted to the table's size
            refresh_statistics(connection, payment_items, benefits)
        lines = select(payment_items.c.benefit_id).where(
            payment_items.c.batch_id == batch_id, payment_items.c.line.between(first, last)
        )
        ids = (chunk["benefit_id"].min(), chunk["benefit_id"].max())
        moved = move_all(
            connection,
            JournalEntry.BATCHED,
            benefits.c.id.in_(lines),
            actor=actor,
            reason=f"put in payment batch {batch_id} (as of {as_of})",
            ref=ref,
            at=now,
            ids=ids,
        )
        # An item whose benefit did not move (held by an objection meanwhile) is no payment of the batch: gone in
        # the transaction that wrote it, so that no item of the batch ever lacks its benefit (and no statement
        # over the whole batch has to look for such items at the end). Short of a chunk: a resumed one.
        if moved < chunk.height:
            # Not limited to ``ids``: a resumed chunk's lines may hold items an earlier run numbered otherwise.
            in_batch = and_(benefits.c.id == payment_items.c.benefit_id, benefits.c.status == BenefitStatus.IN_BATCH)
            connection.execute(
                payment_items.delete().where(
                    payment_items.c.batch_id == batch_id,
                    payment_items.c.line.between(first, last),
                    ~exists().where(in_batch),
                )
            )

    starts = list(range(0, items.height, chunk_rows))
    # The first chunk alone: it refreshes the statistics the others are planned with.
    each_chunk(engine, starts[:1], put_in_batch, lambda: say("batched"))
    each_chunk(engine, starts[1:], put_in_batch, lambda: say("batched"))

    with engine.begin() as connection:
        lock_batch(connection, batch_id)
        count, total = connection.execute(
            select(func.count(), func.coalesce(func.sum(payment_items.c.amount_fen), 0)).where(
                payment_items.c.batch_id == batch_id
            )
        ).one()
        status = "prepared" if count else "withdrawn"
        # Counted from the journal, not this call's moves: a resumed prepare reports the whole batch's.
        made_payable = connection.execute(
            select(func.count()).where(
                benefit_journal.c.entry == JournalEntry.MADE_PAYABLE, benefit_journal.c.ref == ref
            )
        ).scalar_one()
        shown = missing.head(_SHOWN).select("uscc", "policy_id", "period_key").to_dicts()
        summary = PrepareSummary(
            batch_id, as_of, status, made_payable, count, int(total), missing.height, shown, resumed
        )
        extra = {} if count else {"withdrawn_by": actor, "withdrawn_at": now, "withdrawn_reason": "nothing to pay"}
        connection.execute(
            update(payment_batches)
            .where(payment_batches.c.id == batch_id)
            .values(
                status=status,
                preparing=None,
                item_count=count,
                total_fen=total,
                summary={k: v for k, v in summary.as_dict().items() if k != "as_of"},
                **extra,
            )
        )
    say("prepared")
    return summary


def approve(connection: Connection, batch_id: int, *, actor: str, person: str, at: datetime | None = None) -> Any:
    """The checker approves the batch the maker prepared; in the caller's transaction."""
    row = lock_batch(connection, batch_id)
    refuse_state(row, "approve", ("prepared",), "审批")
    if person == row.preparer:
        raise BatchRefused(
            f"cannot approve batch {batch_id}: {person} prepared it, and a batch needs a second officer's approval"
            " (maker-checker); ask another officer to approve it",
            f"付款批次 {batch_id} 由 {person} 生成，生成人不能审批本批次（双人复核），请由另一名工作人员审批",
            batch_id=batch_id,
        )
    connection.execute(
        update(payment_batches)
        .where(payment_batches.c.id == batch_id)
        .values(status="approved", approved_by=actor, approver=person, approved_at=at or datetime.now(UTC))
    )
    return get_batch(connection, batch_id)


def withdraw(connection: Connection, batch_id: int, *, actor: str, reason: str, at: datetime | None = None) -> Any:
    """Withdraw a batch not yet exported: its benefits are payable again (``unbatched``)."""
    at = at or datetime.now(UTC)
    row = lock_batch(connection, batch_id)
    refuse_state(row, "withdraw", ("prepared", "approved"), "撤回（已导出的批次须等待银行回执）")
    in_batch = select(payment_items.c.benefit_id).where(payment_items.c.batch_id == batch_id)
    move_all(
        connection,
        JournalEntry.UNBATCHED,
        benefits.c.id.in_(in_batch),
        actor=actor,
        reason=f"payment batch {batch_id} withdrawn: {reason}",
        ref=batch_ref(batch_id),
        at=at,
    )
    connection.execute(
        update(payment_items).where(payment_items.c.batch_id == batch_id).values(outcome="withdrawn", open=None)
    )
    connection.execute(
        update(payment_batches)
        .where(payment_batches.c.id == batch_id)
        .values(status="withdrawn", withdrawn_by=actor, withdrawn_at=at, withdrawn_reason=reason)
    )
    return get_batch(connection, batch_id)

"""What an enterprise does with a notice: confirm, supply a missing fact, decline, object.

Each action is one transaction: the state change, the feedback row the ranker
learns from (``responses``) and the audit entry commit together. Each first
locks the benefit's key (``matcher.db.locks``) and only then reads the state it
checks, so two actions at the same moment act one after the other: confirm
and decline sent together leave one of them, never both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import Connection, insert, select, update

from api.service.audit import audit
from api.service.problems import Conflict, Invalid
from api.service.tokens import Principal
from features.profiles.catalogue import fact as catalogue_fact
from matcher.db.keys import no_longer_matched, same_benefit
from matcher.db.locks import lock_benefit
from matcher.db.models import benefits, notices, responses, runs
from matcher.errors import IllegalMove
from matcher.ledger import BenefitKey, BenefitStatus, DecisionStatus, DeliveryStatus, JournalEntry, current, move

__all__ = [
    "benefit_of",
    "check_supplied",
    "confirm",
    "decline",
    "done_before",
    "lock",
    "object_to",
    "record",
    "refuse_no_longer_matched",
]


def lock(connection: Connection, notice: Any) -> None:
    """Hold the notice's benefit until commit: call before reading the state an action checks."""
    lock_benefit(connection, notice.uscc, notice.policy_id, notice.period_key)


def benefit_of(connection: Connection, notice: Any) -> Any:
    return connection.execute(select(benefits).where(same_benefit(notice))).first()


def done_before(connection: Connection, notice_id: int) -> dict[str, datetime]:
    rows = connection.execute(select(responses.c.kind, responses.c.at).where(responses.c.notice_id == notice_id))
    return {kind: at for kind, at in rows}


def record(
    connection: Connection,
    principal: Principal,
    notice: Any,
    kind: str,
    detail: Any = None,
    now: datetime | None = None,
) -> datetime:
    """The feedback row and the audit entry for one action on a notice."""
    at = now or datetime.now(UTC)
    connection.execute(
        insert(responses).values(
            notice_id=notice.id,
            uscc=notice.uscc,
            policy_id=notice.policy_id,
            period_key=notice.period_key,
            kind=kind,
            detail=jsonable_encoder(detail),
            actor=principal.actor,
            at=at,
        )
    )
    audit(connection, principal, f"notice.{kind}", f"notice:{notice.id}", {"uscc": notice.uscc} | (detail or {}))
    return at


def _refuse_after(done: dict[str, datetime], *kinds: str) -> None:
    for kind in kinds:
        if kind in done:
            word = {"confirmed": "确认", "declined": "放弃", "objected": "提出异议"}[kind]
            raise Conflict(
                f"this notice was already {kind} on {done[kind]:%Y-%m-%d}",
                detail_zh=f"该事项已于 {done[kind]:%Y-%m-%d} {word}",
            )


def _ledger_status(connection: Connection, notice: Any) -> BenefitStatus | None:
    """Where the notice's benefit stands in the ledger; None when the ledger holds nothing for it."""
    benefit = current(connection, BenefitKey.of(notice))
    return None if benefit is None else BenefitStatus(benefit.status)


def _refuse_late(notice: Any, today: date) -> None:
    if notice.respond_by is not None and today > notice.respond_by:
        raise Conflict(
            f"the deadline to confirm this notice was {notice.respond_by:%Y-%m-%d}; it has passed",
            detail_zh=f"该事项的确认期限为 {notice.respond_by:%Y-%m-%d}，已逾期",
        )


def _refuse_replaced(connection: Connection, notice: Any) -> None:
    """A later run decided the benefit again and announced it in a newer notice: only that one may be confirmed,
    so the ledger takes the amount of the current decision, the one the enterprise saw last."""
    newer = connection.execute(
        select(notices.c.id, notices.c.amount_fen)
        .where(
            notices.c.uscc == notice.uscc,
            notices.c.policy_id == notice.policy_id,
            notices.c.period_key == notice.period_key,
            notices.c.id > notice.id,
            notices.c.kind.in_(list(DecisionStatus)),  # a later decision's notice, not a reminder
        )
        .order_by(notices.c.id.desc())
        .limit(1)
    ).first()
    if newer is not None:
        amount = "" if newer.amount_fen is None else f" ({newer.amount_fen / 100:,.2f} yuan)"
        amount_zh = "" if newer.amount_fen is None else f"（{newer.amount_fen / 100:,.2f} 元）"
        raise Conflict(
            f"this notice was replaced by notice {newer.id}{amount} after a later decision: act on that one",
            detail_zh=f"该通知已被第 {newer.id} 号通知{amount_zh}取代，请办理最新通知",
            replaced_by=newer.id,
        )


def refuse_no_longer_matched(connection: Connection, notice: Any) -> None:
    """A later completed run decided the notice's policy and period but not for this enterprise: what the notice
    announced is no longer current, so nothing may be confirmed or supplied for it (declining and objecting stay
    open). Call under ``lock``, in the transaction that then changes the state. A benefit already in the ledger
    is the ledger review's to propose cancelling or recovering (``matcher.ledger.review``)."""
    unmatched = connection.execute(select(no_longer_matched(notice, runs.c)).where(runs.c.id == notice.run_id)).scalar()
    if unmatched:
        raise Conflict(
            f"a later completed run decided '{notice.policy_id}' for period {notice.period_key} and your enterprise"
            " no longer meets its conditions: this notice can no longer be confirmed or completed;"
            " you may still decline it or object to it",
            detail_zh="后续核定已不再符合该政策条件，该通知不能再确认或补充信息；如有异议可提出异议",
        )


def confirm(connection: Connection, principal: Principal, notice: Any) -> tuple[str, datetime]:
    """The benefit enters the ledger at the amount the notice announced, once, and only by its deadline."""
    if notice.kind != DecisionStatus.AWAITING_CONFIRMATION:
        raise Conflict(
            f"only a notice awaiting confirmation can be confirmed; this one is '{notice.kind}'",
            detail_zh="只有待确认的事项可以确认",
        )
    lock(connection, notice)
    _refuse_after(done_before(connection, notice.id), "confirmed", "declined", "objected")
    _refuse_replaced(connection, notice)
    refuse_no_longer_matched(connection, notice)
    now = datetime.now(UTC)
    _refuse_late(notice, now.date())
    try:
        change = move(
            connection,
            BenefitKey.of(notice),
            JournalEntry.CONFIRMED,
            actor=principal.actor,
            reason="confirmed by the enterprise",
            ref=f"notice:{notice.id}",
            amount_fen=notice.amount_fen or 0,
            policy_version=notice.policy_version,
            run_id=notice.run_id,
            at=now,
        )
    except IllegalMove:
        raise Conflict(
            f"'{notice.policy_id}' for period {notice.period_key} is already in the benefit ledger",
            detail_zh="该政策本期待遇已入账，无需重复确认",
        ) from None
    record(connection, principal, notice, "confirmed", {"amount_fen": notice.amount_fen}, now)
    return change.status_after, now


def decline(
    connection: Connection, principal: Principal, notice: Any, reason: str | None
) -> tuple[str | None, datetime]:
    """A benefit not yet on its way to the bank is cancelled; one being paid or paid cannot be declined."""
    lock(connection, notice)
    _refuse_after(done_before(connection, notice.id), "declined")
    status = _ledger_status(connection, notice)
    if status is not None and status != BenefitStatus.CANCELLED:
        try:
            status = move(
                connection,
                BenefitKey.of(notice),
                JournalEntry.CANCELLED,
                actor=principal.actor,
                reason="declined by the enterprise" + (f": {reason}" if reason else ""),
                ref=f"notice:{notice.id}:declined",
            ).status_after
        except IllegalMove:
            raise Conflict(
                f"this benefit is {status} and can no longer be declined; object with a reason instead",
                detail_zh="该款项已进入拨付程序或已拨付，无法放弃；如有异议请提出异议",
            ) from None
    return status, record(connection, principal, notice, "declined", {"reason": reason})


def object_to(connection: Connection, principal: Principal, notice: Any, reason: str) -> tuple[str | None, datetime]:
    """Record the objection; a benefit not yet paid is held, with its pending notices, until it is reviewed."""
    lock(connection, notice)
    _refuse_after(done_before(connection, notice.id), "declined", "objected")
    status = _ledger_status(connection, notice)
    if status in (BenefitStatus.GRANTED, BenefitStatus.PAYABLE):
        status = move(
            connection,
            BenefitKey.of(notice),
            JournalEntry.HELD,
            actor=principal.actor,
            reason=f"objection: {reason}",
            ref=f"notice:{notice.id}:objected",
        ).status_after
    connection.execute(
        update(notices)
        .where(
            notices.c.uscc == notice.uscc,
            notices.c.policy_id == notice.policy_id,
            notices.c.period_key == notice.period_key,
            notices.c.delivery_status == DeliveryStatus.PENDING,
        )
        .values(delivery_status=DeliveryStatus.HELD)
    )
    return status, record(connection, principal, notice, "objected", {"reason": reason})


def _typed(name: str, value: Any) -> Any:
    kind = catalogue_fact(name).kind
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "date": isinstance(value, str),
    }[kind]
    if not ok:
        raise ValueError(f"expected a {kind} value, found {value!r}")
    if kind == "date":
        return date.fromisoformat(value)
    values = catalogue_fact(name).values
    if kind == "str" and values and value not in values:
        raise ValueError(f"expected one of {', '.join(values)}, found {value!r}")
    return value


def check_supplied(asked: list[str], facts: dict[str, Any]) -> dict[str, Any]:
    """The supplied facts, typed; 422 naming each fact that was not asked for or has the wrong type."""
    errors, typed = [], {}
    for name, value in facts.items():
        field = f"body.facts.{name}"
        if name not in asked:
            errors.append({"field": field, "message": f"not asked for; this notice asks for: {', '.join(asked)}"})
            continue
        try:
            typed[name] = _typed(name, value)
        except ValueError as err:
            errors.append({"field": field, "message": str(err)})
    if errors:
        raise Invalid(
            f"invalid {', '.join(e['field'] for e in errors)}: {errors[0]['message']}",
            detail_zh="补充的信息有误：" + "、".join(e["field"].removeprefix("body.facts.") for e in errors),
            errors=errors,
        )
    return typed

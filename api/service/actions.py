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
from sqlalchemy.dialects import postgresql, sqlite

from api.service.audit import audit
from api.service.problems import Conflict, Invalid
from api.service.tokens import Principal
from features.profiles.catalogue import fact as catalogue_fact
from matcher.db.keys import same_benefit
from matcher.db.locks import lock_benefit
from matcher.db.models import benefits, notices, responses

__all__ = ["benefit_of", "check_supplied", "confirm", "decline", "done_before", "lock", "object_to", "record"]


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


def confirm(connection: Connection, principal: Principal, notice: Any) -> tuple[str, datetime]:
    if notice.kind != "awaiting_confirmation":
        raise Conflict(
            f"only a notice awaiting confirmation can be confirmed; this one is '{notice.kind}'",
            detail_zh="只有待确认的事项可以确认",
        )
    lock(connection, notice)
    _refuse_after(done_before(connection, notice.id), "confirmed", "declined", "objected")
    now = datetime.now(UTC)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    inserted = connection.execute(
        dialect.insert(benefits)
        .values(
            uscc=notice.uscc,
            policy_id=notice.policy_id,
            policy_version=notice.policy_version,
            period_key=notice.period_key,
            amount_fen=notice.amount_fen or 0,
            status="granted",
            run_id=notice.run_id,
            granted_at=now,
        )
        .on_conflict_do_nothing(index_elements=["uscc", "policy_id", "period_key"])
        .returning(benefits.c.id)  # rowcount is not reported for this statement on every driver
    )
    if inserted.first() is None:
        raise Conflict(
            f"'{notice.policy_id}' for period {notice.period_key} is already in the benefit ledger",
            detail_zh="该政策本期待遇已入账，无需重复确认",
        )
    record(connection, principal, notice, "confirmed", {"amount_fen": notice.amount_fen}, now)
    return "granted", now


def decline(
    connection: Connection, principal: Principal, notice: Any, reason: str | None
) -> tuple[str | None, datetime]:
    lock(connection, notice)
    _refuse_after(done_before(connection, notice.id), "confirmed", "declined")
    benefit = benefit_of(connection, notice)
    status = benefit.status if benefit else None
    if status == "paid":
        raise Conflict(
            "this benefit is already paid and cannot be declined; object with a reason instead",
            detail_zh="该款项已拨付，无法放弃；如有异议请提出异议",
        )
    if status in ("granted", "held"):
        connection.execute(update(benefits).where(benefits.c.id == benefit.id).values(status="cancelled"))
        status = "cancelled"
    return status, record(connection, principal, notice, "declined", {"reason": reason})


def object_to(connection: Connection, principal: Principal, notice: Any, reason: str) -> tuple[str | None, datetime]:
    """Record the objection and hold the payout and the pending notices of that benefit until it is resolved."""
    lock(connection, notice)
    _refuse_after(done_before(connection, notice.id), "declined", "objected")
    benefit = benefit_of(connection, notice)
    status = benefit.status if benefit else None
    if status == "granted":
        connection.execute(update(benefits).where(benefits.c.id == benefit.id).values(status="held"))
        status = "held"
    connection.execute(
        update(notices)
        .where(
            notices.c.uscc == notice.uscc,
            notices.c.policy_id == notice.policy_id,
            notices.c.period_key == notice.period_key,
            notices.c.delivery_status == "pending",
        )
        .values(delivery_status="held")
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

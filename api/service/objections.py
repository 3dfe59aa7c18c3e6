"""Officers review enterprises' objections: the held payout is released or cancelled, and the enterprise told why.

An objection (``responses.kind = objected``) holds the benefit in the ledger
and the benefit's undelivered notices. The review closes it, at most once:

- **dismissed** — the decision stands: a held benefit goes back to granted
  and the held notices to pending, so delivery sends them;
- **upheld** — the decision was wrong: a held benefit is cancelled and the
  held notices withdrawn. Correcting the registry data or the rule and
  running again is the way to a right decision; the cancelled entry keeps
  the period from being granted twice meanwhile.

The state change, the review row and the audit entry commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Select, func, select, update
from sqlalchemy.exc import IntegrityError

from api.service.audit import audit
from api.service.problems import Conflict, NotFound
from api.service.tokens import Principal
from matcher.db.keys import same_benefit
from matcher.db.locks import lock_benefit
from matcher.db.models import benefits, notices, objection_reviews, responses
from matcher.ledger import BenefitKey, BenefitStatus, DeliveryStatus, JournalEntry, current, move

__all__ = ["count_objections", "list_objections", "review_objection"]

Outcome = Literal["dismissed", "upheld"]
# (the held benefit's journal entry, notices held → ?) per outcome
_RELEASE: dict[str, tuple[JournalEntry, DeliveryStatus]] = {
    "dismissed": (JournalEntry.RELEASED, DeliveryStatus.PENDING),
    "upheld": (JournalEntry.CANCELLED, DeliveryStatus.WITHDRAWN),
}

_OBJECTIONS = (
    select(
        responses.c.id,
        responses.c.notice_id,
        responses.c.uscc,
        responses.c.policy_id,
        responses.c.period_key,
        responses.c.detail,
        responses.c.actor,
        responses.c.at,
        benefits.c.status.label("benefit_status"),
        objection_reviews.c.outcome,
        objection_reviews.c.note,
        objection_reviews.c.reviewed_by,
        objection_reviews.c.reviewed_at,
    )
    .outerjoin(benefits, same_benefit(responses.c))
    .outerjoin(objection_reviews, objection_reviews.c.response_id == responses.c.id)
    .where(responses.c.kind == "objected")
)


def _out(row: Any) -> dict[str, Any]:
    review = None
    if row.outcome is not None:
        review = {"outcome": row.outcome, "note": row.note, "by": row.reviewed_by, "at": row.reviewed_at}
    return {
        "id": row.id,
        "notice_id": row.notice_id,
        "uscc": row.uscc,
        "policy_id": row.policy_id,
        "period_key": row.period_key,
        "reason": (row.detail or {}).get("reason", ""),
        "objected_by": row.actor,
        "objected_at": row.at,
        "benefit_status": row.benefit_status,
        "review": review,
    }


def _objections(state: str, where: Sequence[ColumnElement[bool]]) -> Select:
    query = _OBJECTIONS.where(*where)
    if state == "open":
        return query.where(objection_reviews.c.id.is_(None))
    return query.where(objection_reviews.c.id.is_not(None)) if state == "reviewed" else query


def list_objections(
    connection: Connection, state: str, limit: int, offset: int, where: Sequence[ColumnElement[bool]] = ()
) -> list[dict[str, Any]]:
    """Objections, oldest open first (``open``), or newest first (``reviewed``, ``all``); ``where`` narrows them
    (``api.service.queues.Narrow`` over ``responses``' columns)."""
    order = responses.c.id if state == "open" else responses.c.id.desc()
    query = _objections(state, where).order_by(order).limit(limit).offset(offset)
    return [_out(r) for r in connection.execute(query)]


def count_objections(connection: Connection, state: str, where: Sequence[ColumnElement[bool]] = ()) -> int:
    return connection.execute(select(func.count()).select_from(_objections(state, where).subquery())).scalar_one()


def review_objection(
    connection: Connection, principal: Principal, objection_id: int, outcome: Outcome, note: str
) -> dict[str, Any]:
    """Close the objection with ``outcome``: release or cancel what it held. 404 for no such objection, 409 for
    one reviewed already."""
    row = connection.execute(_OBJECTIONS.where(responses.c.id == objection_id)).first()
    if row is None:
        raise NotFound(f"no objection {objection_id}", detail_zh="未找到该异议")
    # Hold the benefit, then read again what the review checks: an objection or a decline arriving meanwhile
    # is either wholly before this review or wholly after it.
    lock_benefit(connection, row.uscc, row.policy_id, row.period_key)
    row = connection.execute(_OBJECTIONS.where(responses.c.id == objection_id)).one()
    if row.outcome is not None:
        raise Conflict(
            f"objection {objection_id} was already reviewed ({row.outcome}) on {row.reviewed_at:%Y-%m-%d}",
            detail_zh="该异议已处理",
        )
    same = {"uscc": row.uscc, "policy_id": row.policy_id, "period_key": row.period_key}
    now = datetime.now(UTC)
    try:
        with connection.begin_nested():  # a concurrent review of the same objection loses on the unique key
            connection.execute(
                objection_reviews.insert().values(
                    response_id=objection_id, outcome=outcome, note=note, reviewed_by=principal.actor, reviewed_at=now
                )
            )
    except IntegrityError:
        raise Conflict(f"objection {objection_id} was already reviewed", detail_zh="该异议已处理") from None
    audit(connection, principal, f"objection.{outcome}", f"objection:{objection_id}", same | {"note": note})
    still_open = connection.execute(
        _OBJECTIONS.where(*(responses.c[k] == v for k, v in same.items()), objection_reviews.c.id.is_(None))
    ).first()
    if still_open is not None:  # another objection to the same benefit keeps it held until it is reviewed too
        return _out(connection.execute(_OBJECTIONS.where(responses.c.id == objection_id)).one())
    entry, notices_to = _RELEASE[outcome]
    key = BenefitKey.of(row)
    benefit = current(connection, key)
    if benefit is not None and benefit.status == BenefitStatus.HELD:
        move(
            connection,
            key,
            entry,
            actor=principal.actor,
            reason=f"objection {outcome}: {note}",
            ref=f"objection:{objection_id}",
            at=now,
        )
    connection.execute(
        update(notices)
        .where(*(notices.c[k] == v for k, v in same.items()), notices.c.delivery_status == DeliveryStatus.HELD)
        .values(delivery_status=notices_to)
    )
    return _out(connection.execute(_OBJECTIONS.where(responses.c.id == objection_id)).one())

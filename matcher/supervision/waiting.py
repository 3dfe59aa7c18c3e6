"""Matters that wait on officers, derived from their own tables in one query per step: nothing is copied.

| step             | a matter is                                   | opens              | is handled               |
|------------------|-----------------------------------------------|--------------------|--------------------------|
| objection        | a response of kind ``objected``               | when it was made   | its review               |
| supplied_fact    | a fact an enterprise supplied                 | when supplied      | accepted or rejected     |
| payment_approval | a prepared payment batch                      | prepared           | approved (or withdrawn)  |
| payment          | an approved batch                             | approved           | reconciled (or withdrawn)|
| dead_letter      | a notice whose delivery attempts ran out      | its last attempt   | sent again               |

A dead letter has no column saying when it died, nor when it was sent again: its opening is its last attempt's
lease (``next_attempt_at``, within the lease's minutes of the attempt), and its handling is when the watch
(``matcher.supervision.watcher``) first saw it gone, its ``green`` event. Every other time is the domain's own.

The office that holds an enterprise's matter is the administrative division in its USCC (characters 3 to 8, the
first ``office_digits`` of them); payment batches belong to the treasury desk (``treasury``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, func, literal, null, or_, select, union_all

from matcher.db.models import (
    notices,
    objection_reviews,
    payment_batches,
    responses,
    supervision_events,
    supplied_facts,
)
from matcher.supervision.limits import Step

__all__ = ["MATTER_SCHEMA", "TREASURY", "matters"]

TREASURY = "treasury"
QUEUE = "queue"  # the holder of a matter nobody has taken yet: the office's queue

MATTER_SCHEMA = {
    "step": pl.String,
    "matter_id": pl.Int64,
    "uscc": pl.String,
    "policy_id": pl.String,
    "opened_at": pl.Datetime("us", "UTC"),
    "handled_at": pl.Datetime("us", "UTC"),
    "handled_by": pl.String,
    "waiting_on": pl.String,
}


def _selects() -> list[Any]:
    objection = (
        select(
            literal(Step.OBJECTION.value).label("step"),
            responses.c.id.label("matter_id"),
            responses.c.uscc,
            responses.c.policy_id,
            responses.c.at.label("opened_at"),
            objection_reviews.c.reviewed_at.label("handled_at"),
            objection_reviews.c.reviewed_by.label("handled_by"),
            null().label("waiting_on"),
        )
        .outerjoin(objection_reviews, objection_reviews.c.response_id == responses.c.id)
        .where(responses.c.kind == "objected")
    )
    # Only what an enterprise supplied waits for a review; an officer's or a department's attestation does not.
    # A supply superseded while open (the enterprise corrected it) was never handled: left out; one accepted and
    # later replaced by a newer value was handled when accepted.
    supplied = select(
        literal(Step.SUPPLIED_FACT.value),
        supplied_facts.c.id,
        supplied_facts.c.uscc,
        supplied_facts.c.policy_id,
        supplied_facts.c.supplied_at,
        supplied_facts.c.reviewed_at,
        supplied_facts.c.reviewed_by,
        null(),
    ).where(
        supplied_facts.c.source == "enterprise",
        or_(supplied_facts.c.status != "superseded", supplied_facts.c.reviewed_at.is_not(None)),
    )
    approval = select(
        literal(Step.PAYMENT_APPROVAL.value),
        payment_batches.c.id,
        null(),
        null(),
        payment_batches.c.prepared_at,
        func.coalesce(payment_batches.c.approved_at, payment_batches.c.withdrawn_at),
        func.coalesce(payment_batches.c.approver, payment_batches.c.withdrawn_by),
        # The checker is anyone but the maker: who the batch waits on.
        ("checker, not " + payment_batches.c.preparer).label("waiting_on"),
    ).where(payment_batches.c.status != "preparing")
    payment = select(
        literal(Step.PAYMENT.value),
        payment_batches.c.id,
        null(),
        null(),
        payment_batches.c.approved_at,
        func.coalesce(payment_batches.c.reconciled_at, payment_batches.c.withdrawn_at),
        func.coalesce(payment_batches.c.reconciled_by, payment_batches.c.withdrawn_by),
        null(),
    ).where(payment_batches.c.approved_at.is_not(None))
    dead = select(
        literal(Step.DEAD_LETTER.value),
        notices.c.id,
        notices.c.uscc,
        notices.c.policy_id,
        notices.c.next_attempt_at,
        null(),
        null(),
        null(),
    ).where(notices.c.delivery_status == "dead")
    handled_dead = select(
        literal(Step.DEAD_LETTER.value),
        supervision_events.c.matter_id,
        null(),
        supervision_events.c.policy_id,
        supervision_events.c.opened_at,
        supervision_events.c.at,
        supervision_events.c.holder,
        null(),
    ).where(and_(supervision_events.c.step == Step.DEAD_LETTER.value, supervision_events.c.event == "green"))
    return [objection, supplied, approval, payment, dead, handled_dead]


def matters(connection: Connection, *, office_digits: int = 6) -> pl.DataFrame:
    """Every matter, open (``handled_at`` null) or handled, with its office: one row per matter."""
    rows = connection.execute(union_all(*_selects())).all()
    # SQLite hands datetimes back naive (stored in UTC), PostgreSQL aware: the UTC dtype reads both right.
    frame = pl.DataFrame([tuple(r) for r in rows], schema=MATTER_SCHEMA, orient="row")
    # A dead letter handled and then dead again is one matter each time; the open one wins over an old green.
    frame = frame.unique(subset=["step", "matter_id", "opened_at"], keep="first", maintain_order=True)
    return frame.with_columns(
        office=pl.when(pl.col("uscc").is_not_null())
        .then(pl.col("uscc").str.slice(2, office_digits))
        .otherwise(pl.lit(TREASURY))
    )

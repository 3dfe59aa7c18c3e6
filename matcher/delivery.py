"""The outbox worker: push pending notices to each enterprise's webhook, at least once, never lost.

Each notice is posted with its idempotency key (header ``Idempotency-Key``), so
a receiver recognises a repeat after a lost acknowledgement. A failure (no
answer, or any status outside 2xx) is retried with exponential backoff; after
``max_attempts`` the notice is dead-lettered (``delivery_status = 'dead'``),
where officers see it. The payload carries the full explanation, rendered by
the tracer from the decision's stored facts.

Several workers may run at once (processes or hosts): a worker claims each
notice before posting it by moving its ``next_attempt_at`` a lease ahead, in a
conditional update only one worker can win, and records the outcome only if it
still holds that lease. A worker that dies mid-post leaves the notice to be
retried when the lease runs out.

Officers page through the dead letters (``dead_letters``, with their true
count) and send them again (``requeue_dead``) once the receiver is mended.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import polars as pl
from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, func, or_, select, update

from matcher.db.keys import no_longer_matched, same_benefit, same_decision
from matcher.db.models import benefits, decisions, notices, objection_reviews, responses, runs, webhooks
from matcher.ledger import BenefitStatus, DecisionStatus, DeliveryStatus
from matcher.notices import idempotency_key, notice_texts
from policies.catalogue import Catalogue
from policies.trace import trace

__all__ = [
    "DeliveryPolicy",
    "DeliveryReport",
    "Requeued",
    "dead_letters",
    "deliver_due",
    "requeue_dead",
    "resend_withdrawn",
]


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    batch: int = 200
    timeout_seconds: float = 10.0
    lease: timedelta = timedelta(minutes=2)  # how long a claimed notice is left to its worker: well over a post

    def __post_init__(self) -> None:
        if self.lease.total_seconds() <= self.timeout_seconds:
            raise ValueError(f"lease ({self.lease}) must outlast a post's timeout ({self.timeout_seconds} s)")

    def delay(self, attempts: int) -> timedelta:
        """Wait before the next try after ``attempts`` failures: base, 2×base, 4×base, … capped."""
        return min(self.base_delay * (2 ** (attempts - 1)), self.max_delay)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    withdrawn: int = 0  # moot before sending (replaced, answered, cancelled, no longer matched): never posted
    errors: list[str] = field(default_factory=list)


def _payload(row: dict, catalogue: Catalogue, links: Callable[[str], str] | None = None) -> dict:
    explanation: dict[str, list[str]] = {}
    try:
        policy = catalogue.get(row["policy_id"], row["policy_version"])
    except KeyError:
        policy = None
    if policy is not None and row["facts"]:
        traced = trace(policy, json.loads(row["facts"]) | {"uscc": row["uscc"]}, row["as_of"])
        explanation = {"zh": traced.lines("zh"), "en": traced.lines("en")}
    # The signed link to the enterprise's inbox (api/web/links.py), in the payload and at the end of the text.
    link = links(row["uscc"]) if links else None
    opens = {"zh": f"\n查看详情并办理：{link}", "en": f"\nRead it and answer: {link}"} if link else {"zh": "", "en": ""}
    return {
        "idempotency_key": row["idempotency_key"],
        "uscc": row["uscc"],
        "policy_id": row["policy_id"],
        "policy_version": row["policy_version"],
        "period": row["period_key"],
        "kind": row["kind"],
        "amount_yuan": None if row["amount_fen"] is None else row["amount_fen"] / 100,
        "respond_by": row["respond_by"].isoformat() if row["respond_by"] else None,
        "title": {"zh": row["title_zh"], "en": row["title_en"]},
        "body": {"zh": row["body_zh"] + opens["zh"], "en": row["body_en"] + opens["en"]},
        "explanation": explanation,
        "link": link,
    }


_later = notices.alias("later")
_notice_run = runs.alias("notice_run")


@functools.cache  # one expression, built once: rebuilding it was most of a claim's time (it is reused as is)
def moot() -> ColumnElement[bool]:
    """A notice that must never be posted any more: a later notice for its benefit replaced it (a later run's
    decision), or the enterprise already confirmed (a confirmation notice) or declined it, or the ledger
    cancelled it, or an officer corrected the amount a grant announces, or a later completed run no longer
    matches the enterprise (``matcher.db.keys.no_longer_matched``: it decided the policy and period for others,
    not for it). Delivery withdraws such a notice instead of sending it."""
    same = and_(*(responses.c[k] == notices.c[k] for k in ("uscc", "policy_id", "period_key")))
    replaced = exists().where(  # by a later decision's notice (a reminder or a payment notice replaces nothing)
        *(_later.c[k] == notices.c[k] for k in ("uscc", "policy_id", "period_key")),
        _later.c.id > notices.c.id,
        _later.c.kind.in_(list(DecisionStatus)),
    )
    answered = exists().where(
        same,
        or_(
            responses.c.kind == "declined",
            and_(
                responses.c.kind == "confirmed", notices.c.kind.in_((DecisionStatus.AWAITING_CONFIRMATION, "reminder"))
            ),
            # a reminder of a notice the enterprise has answered in any way, or that lapsed meanwhile
            and_(notices.c.kind == "reminder", responses.c.kind.in_(("objected", "supplied_data", "lapsed"))),
        ),
    )
    cancelled = exists().where(same_benefit(notices.c), benefits.c.status == BenefitStatus.CANCELLED)
    # a grant whose amount an officer has corrected since: the correction's own notice says the new amount
    corrected = exists().where(
        same_benefit(notices.c),
        notices.c.kind == DecisionStatus.GRANTED,
        benefits.c.amount_fen != notices.c.amount_fen,
    )
    # a decision's notice, or a reminder of one, whose decision a later run no longer matches (a notice of the
    # ledger's — paid, corrected, ... — says what happened to money and still goes out)
    unmatched = exists().where(
        notices.c.kind.in_([*DecisionStatus, "reminder"]),
        _notice_run.c.id == notices.c.run_id,
        no_longer_matched(notices.c, _notice_run.c),
    )
    return or_(replaced, answered, cancelled, corrected, unmatched)


def _due(engine: Engine, catalogue: Catalogue, now: datetime, limit: int) -> list[dict]:
    """The notices due now, with their decision's evidence and their text."""
    query = (
        select(
            notices.c.id,
            notices.c.uscc,
            notices.c.policy_id,
            notices.c.policy_version,
            notices.c.period_key,
            notices.c.kind,
            notices.c.topic,
            notices.c.amount_fen,
            notices.c.respond_by,
            notices.c.attempts,
            webhooks.c.url,
            decisions.c.facts,
            decisions.c.unknown_facts,
            decisions.c.failing,
            decisions.c.failing_zh,
            runs.c.as_of,
            moot().label("moot"),
        )
        .join(webhooks, webhooks.c.uscc == notices.c.uscc)
        .join(runs, runs.c.id == notices.c.run_id)
        .outerjoin(decisions, same_decision(notices.c))
        .where(notices.c.delivery_status == "pending", notices.c.next_attempt_at <= now)
        .order_by(notices.c.next_attempt_at, notices.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    if not rows:
        return []
    frame = pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)
    frame = frame.with_columns(idempotency_key()).pipe(notice_texts, catalogue.policies)
    return frame.to_dicts()


def deliver_due(
    engine: Engine,
    catalogue: Catalogue,
    client: httpx.Client,
    *,
    policy: DeliveryPolicy = DeliveryPolicy(),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    links: Callable[[str], str] | None = None,
) -> DeliveryReport:
    """One pass over the notices due now; call again (after the backoff) until nothing is due. ``links`` gives
    the address that opens an enterprise's inbox (by USCC), put in each payload as ``link``."""
    report = DeliveryReport()
    due = _due(engine, catalogue, now(), policy.batch)
    report.withdrawn = _withdraw(engine, [row["id"] for row in due if row["moot"]])
    for row in (r for r in due if not r["moot"]):
        lease = _claim(engine, row["id"], now(), policy.lease)
        if lease is None:  # another worker took it since the batch was read
            continue
        try:
            response = client.post(
                row["url"],
                json=_payload(row, catalogue, links),
                headers={"Idempotency-Key": row["idempotency_key"]},
                timeout=policy.timeout_seconds,
            )
            error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts = row["attempts"] + 1
        if error is None:
            values = {"delivery_status": "delivered", "delivered_at": now(), "attempts": attempts, "last_error": None}
            report.delivered += 1
        elif attempts >= policy.max_attempts:
            values = {"delivery_status": "dead", "attempts": attempts, "last_error": error}
            report.dead += 1
        else:
            values = {"attempts": attempts, "last_error": error, "next_attempt_at": now() + policy.delay(attempts)}
            report.retried += 1
        if error:
            report.errors.append(f"{row['idempotency_key']}: {error}")
        with engine.begin() as connection:  # only while the lease is ours: after it ran out the notice is not
            connection.execute(
                update(notices).where(notices.c.id == row["id"], notices.c.next_attempt_at == lease).values(**values)
            )
    return report


def _withdraw(engine: Engine, notice_ids: list[int]) -> int:
    """The batch's moot notices, withdrawn in one statement: how many were still pending."""
    if not notice_ids:
        return 0
    with engine.begin() as connection:
        return connection.execute(
            update(notices)
            .where(notices.c.id.in_(notice_ids), notices.c.delivery_status == DeliveryStatus.PENDING)
            .values(delivery_status=DeliveryStatus.WITHDRAWN)
        ).rowcount


def resend_withdrawn(connection: Connection, uscc: str, policy_id: str, period_key: str, now: datetime) -> int:
    """Put the benefit's withdrawn decision notices that are no longer moot back in the outbox, due now: a notice
    withdrawn because a later run proposed cancelling its benefit must still reach the enterprise once an officer
    dismisses that proposal. Its deadline moves on by the days it was held back, so the enterprise keeps the whole
    time to answer. Run it in the dismissal's transaction, after the proposal is marked dismissed."""
    held = connection.execute(
        select(notices.c.id, notices.c.respond_by, notices.c.next_attempt_at).where(
            notices.c.uscc == uscc,
            notices.c.policy_id == policy_id,
            notices.c.period_key == period_key,
            notices.c.kind.in_(list(DecisionStatus)),
            notices.c.delivery_status == DeliveryStatus.WITHDRAWN,
            ~moot(),
        )
    ).all()
    for row in held:  # a benefit has one decision notice per run that decided it: a handful of rows at most
        respond_by = row.respond_by
        if respond_by is not None and row.next_attempt_at is not None:
            due = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=UTC)
            respond_by += timedelta(days=max((now - due).days, 0))
        connection.execute(
            update(notices)
            .where(notices.c.id == row.id, notices.c.delivery_status == DeliveryStatus.WITHDRAWN)
            .values(
                delivery_status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                attempts=0,
                last_error=None,
                respond_by=respond_by,
            )
        )
    return len(held)


def _claim(engine: Engine, notice_id: int, now: datetime, lease: timedelta) -> datetime | None:
    """Take the notice for ``lease`` if it is still pending, due and not moot: the lease's end, or None if another
    worker holds it (or it was delivered, or the enterprise answered it) meanwhile."""
    until = now + lease
    with engine.begin() as connection:
        claimed = connection.execute(
            update(notices)
            .where(
                notices.c.id == notice_id,
                notices.c.delivery_status == DeliveryStatus.PENDING,
                notices.c.next_attempt_at <= now,
                ~moot(),
            )
            .values(next_attempt_at=until)
        ).rowcount
    return until if claimed == 1 else None


def dead_letters(
    engine: Engine, *, limit: int = 100, offset: int = 0, where: Sequence[ColumnElement[bool]] = ()
) -> tuple[int, list[dict]]:
    """How many notices exhausted their attempts, and ``limit`` of them from ``offset``, newest first: for
    officers to follow up by other means, or to send again. ``where`` narrows them (over ``notices``' columns)."""
    dead = and_(notices.c.delivery_status == "dead", *where)
    query = (
        select(
            notices.c.id,
            notices.c.uscc,
            notices.c.policy_id,
            notices.c.period_key,
            notices.c.kind,
            notices.c.topic,
            notices.c.attempts,
            notices.c.last_error,
            notices.c.created_at,
        )
        .where(dead)
        .order_by(notices.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.begin() as connection:  # one transaction: the count and the page agree
        total = connection.execute(select(func.count()).select_from(notices).where(dead)).scalar_one()
        rows = [dict(r) for r in connection.execute(query).mappings()]
    parts = ("uscc", "policy_id", "period_key", "kind", "topic")
    keyed = [r | {"idempotency_key": ":".join(r[p] for p in parts if r[p])} for r in rows]
    return total, keyed


@dataclass(frozen=True)
class Requeued:
    """What ``requeue_dead`` did: the notices pending again, and each asked-for one it left alone, with why."""

    ids: list[int]
    skipped: dict[int, str]


def _refused() -> ColumnElement[bool]:
    # The enterprise declined the benefit the notice announces, or objected to it (an objection not dismissed),
    # or the ledger holds or cancelled it: sending the notice again would say what the ledger no longer does.
    same = and_(*(responses.c[k] == notices.c[k] for k in ("uscc", "policy_id", "period_key")))
    dismissed = exists().where(
        objection_reviews.c.response_id == responses.c.id, objection_reviews.c.outcome == "dismissed"
    )
    said_no = exists().where(
        same, or_(responses.c.kind == "declined", and_(responses.c.kind == "objected", ~dismissed))
    )
    stopped = exists().where(same_benefit(notices.c), benefits.c.status.in_(("held", "cancelled")))
    return or_(said_no, stopped)


_REFUSED = "the enterprise objected to or declined this benefit, or the ledger holds or cancelled it: not sent again"


def requeue_dead(connection: Connection, ids: Sequence[int] | None = None, *, now: datetime | None = None) -> Requeued:
    """Dead letters (``ids``, or every one when None) back to pending, due now, with their attempts reset so
    delivery tries each afresh. One conditional update: a notice that is not dead is not touched."""
    where = [notices.c.delivery_status == "dead", ~_refused()]
    if ids is not None:
        where.append(notices.c.id.in_(ids))
    statement = (
        update(notices)
        .where(*where)
        .values(delivery_status="pending", attempts=0, next_attempt_at=now or datetime.now(UTC))
        .returning(notices.c.id)
    )
    requeued = sorted(connection.execute(statement).scalars())
    left = sorted(set(ids or ()) - set(requeued))
    found = select(notices.c.id, notices.c.delivery_status).where(notices.c.id.in_(left))
    status = {i: s for i, s in connection.execute(found)}
    return Requeued(requeued, {i: _why_left(status.get(i)) for i in left})


def _why_left(status: str | None) -> str:
    if status is None:
        return "no notice has this id"
    return _REFUSED if status == "dead" else f"it is {status}, not dead"

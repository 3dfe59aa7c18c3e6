"""The publicity list (公示): granted cash benefits whose policy publishes them before paying, while published.

A benefit is listed from the day its notice went out for ``publicity_days`` calendar days; an objection
during that time holds it (it stays listed, as held); only after the period does ``prepare`` make it
payable. Enterprise names come from the latest profiles (the registered name).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from matcher.db.keys import TOPIC_KINDS
from matcher.db.models import benefits, notices
from matcher.ledger import BenefitStatus
from matcher.payouts.terms import PolicyKey, cash_policy, in_publicity, publicity_ends

__all__ = ["publicity_list"]


def publicity_list(
    connection: Connection,
    terms: Mapping[PolicyKey, int],
    as_of: date,
    names: Mapping[str, str],
    *,
    policy_id: str | None = None,
    period_key: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of the list on ``as_of``: name, uscc, policy, period, amount (fen), status, publicity ends."""
    published = (
        select(
            notices.c.uscc,
            notices.c.policy_id,
            notices.c.period_key,
            func.max(notices.c.created_at).label("published_at"),
        )
        .where(notices.c.kind.in_(TOPIC_KINDS))
        .group_by(notices.c.uscc, notices.c.policy_id, notices.c.period_key)
        .subquery()
    )
    query = (
        select(
            benefits.c.uscc,
            benefits.c.policy_id,
            benefits.c.policy_version,
            benefits.c.period_key,
            benefits.c.amount_fen,
            benefits.c.status,
            published.c.published_at,
        )
        .join(
            published,
            and_(
                published.c.uscc == benefits.c.uscc,
                published.c.policy_id == benefits.c.policy_id,
                published.c.period_key == benefits.c.period_key,
            ),
        )
        .where(
            cash_policy(terms),
            benefits.c.status.in_([BenefitStatus.GRANTED, BenefitStatus.HELD]),
            in_publicity(terms, as_of, published.c.published_at),
        )
        .order_by(benefits.c.policy_id, benefits.c.period_key, benefits.c.uscc)
    )
    if policy_id:
        query = query.where(benefits.c.policy_id == policy_id)
    if period_key:
        query = query.where(benefits.c.period_key == period_key)
    return [
        {
            "name": names.get(row.uscc, ""),
            "uscc": row.uscc,
            "policy_id": row.policy_id,
            "period_key": row.period_key,
            "amount_fen": row.amount_fen,
            "status": row.status,
            "publicity_ends": publicity_ends(row.published_at, terms[(row.policy_id, row.policy_version)]),
        }
        for row in connection.execute(query)
    ]

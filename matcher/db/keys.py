"""How the tables meet: join conditions on their natural keys, written once.

``source`` is anything with ``uscc``, ``policy_id``, ... attributes: a table's
columns (``notices.c``) for a join, or a fetched row for a lookup.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

from matcher.db.models import benefits, decisions

__all__ = ["same_benefit", "same_decision"]


def same_benefit(source: Any) -> ColumnElement[bool]:
    """The ledger entry of ``source``'s (enterprise, policy, period): one per period, whichever run granted it."""
    return and_(
        benefits.c.uscc == source.uscc,
        benefits.c.policy_id == source.policy_id,
        benefits.c.period_key == source.period_key,
    )


def same_decision(source: Any) -> ColumnElement[bool]:
    """The decision behind ``source`` (a notice): same enterprise, policy and run."""
    return and_(
        decisions.c.uscc == source.uscc,
        decisions.c.run_id == source.run_id,
        decisions.c.policy_id == source.policy_id,
    )

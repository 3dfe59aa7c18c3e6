"""How the tables meet: join conditions on their natural keys, written once.

``source`` is anything with ``uscc``, ``policy_id``, ... attributes: a table's
columns (``notices.c``) for a join, or a fetched row for a lookup.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, literal_column, or_

from matcher.db.models import benefits, decisions, notices, rank_features

__all__ = ["TOPIC_KINDS", "decision_topic", "ranked_notice", "same_benefit", "same_decision", "same_notice"]

# Decisions whose notice is told apart by the amount it announces: a later run that changes the amount notifies
# again. (matcher.notices builds the same topic in polars.)
TOPIC_KINDS = ("granted", "awaiting_confirmation")


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


def decision_topic(source: Any) -> ColumnElement[str]:
    """The topic of the notice announcing ``source`` (a decision): its amount for an eligible one, else ''."""
    # Constants inlined, not bound: the service's loop reader (api/service/reads.py) binds only its own parameters.
    eligible = or_(*(source.status == literal_column(f"'{kind}'") for kind in TOPIC_KINDS))
    amount = cast(source.amount_fen, String)
    return case((and_(eligible, source.amount_fen.is_not(None)), amount), else_=literal_column("''"))


def same_notice(source: Any) -> ColumnElement[bool]:
    """The notice announcing ``source`` (a decision): same benefit, kind and topic, whichever run sent it."""
    return and_(
        notices.c.uscc == source.uscc,
        notices.c.policy_id == source.policy_id,
        notices.c.period_key == source.period_key,
        notices.c.kind == source.status,
        notices.c.topic == decision_topic(source),
    )


def ranked_notice() -> ColumnElement[bool]:
    """A notice and the ranker's row for the same decision: same run, enterprise and policy."""
    return and_(
        notices.c.run_id == rank_features.c.run_id,
        notices.c.uscc == rank_features.c.uscc,
        notices.c.policy_id == rank_features.c.policy_id,
    )

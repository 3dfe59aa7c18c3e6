"""How the tables meet: join conditions on their natural keys, written once.

``source`` is anything with ``uscc``, ``policy_id``, ... attributes: a table's
columns (``notices.c``) for a join, or a fetched row for a lookup.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, exists, literal_column, or_

from matcher.db.models import benefits, decisions, ledger_proposals, notices, runs

__all__ = [
    "TOPIC_KINDS",
    "covered_later",
    "decided_later",
    "decision_topic",
    "ledger_no_longer_grants",
    "left_out_later",
    "no_longer_matched",
    "same_benefit",
    "same_decision",
    "same_notice",
]

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


# The rule of a decision that is no longer matched. Each subquery correlates everything but its own aliases
# (``correlate_except``), so ``source`` and ``run`` may sit any number of levels out (delivery nests it twice).


def _after(later_run: Any, run: Any) -> ColumnElement[bool]:
    """``later_run`` came after ``run``: a later as-of date, or the same date started later."""
    return or_(
        later_run.as_of > run.as_of,
        and_(later_run.as_of == run.as_of, later_run.started_at > run.started_at),
    )


def _later_run_that(run: Any, *where: Any, completed: bool = False) -> ColumnElement[bool]:
    """Some run after ``run`` for which ``where(later_run)`` holds. Driven from ``runs`` (a few rows), each run
    probing one index on ``decisions``: a planner left to itself walks every decision of the policy and period
    instead (SQLite measured: 20 ms an enterprise at 20,000 enterprises, against 0.3 ms)."""
    later_run = runs.alias("later_run")
    completed_only = [later_run.c.status == literal_column("'completed'")] if completed else []
    return (
        exists()
        .where(*completed_only, _after(later_run.c, run), *(w(later_run) for w in where))
        .correlate_except(later_run)
    )


def decided_later(source: Any, run: Any) -> ColumnElement[bool]:
    """A run after ``run`` (the columns of the run that decided ``source``: a decision, or a notice announcing
    one) decided the same benefit (enterprise, policy, period): ``source``'s decision is history."""

    def decided(later_run: Any) -> ColumnElement[bool]:
        later = decisions.alias("decided_later")
        return (
            exists()
            .where(  # the unique index (uscc, run_id, policy_id)
                later.c.uscc == source.uscc,
                later.c.run_id == later_run.c.id,
                later.c.policy_id == source.policy_id,
                later.c.period_key == source.period_key,
            )
            .correlate_except(later)
        )

    return _later_run_that(run, decided)


def covered_later(source: Any, run: Any) -> ColumnElement[bool]:
    """A completed run after ``run`` decided ``source``'s policy and period, for any enterprise: it evaluated
    them for its whole population. A later run that decided the period for nobody at all cannot be told apart
    from one that never evaluated it."""

    def covered(later_run: Any) -> ColumnElement[bool]:
        covering = decisions.alias("covering")
        return (
            exists()
            .where(  # the index (policy_id, period_key, run_id): one probe per later run
                covering.c.policy_id == source.policy_id,
                covering.c.period_key == source.period_key,
                covering.c.run_id == later_run.c.id,
            )
            .correlate_except(covering)
        )

    return _later_run_that(run, covered, completed=True)


def ledger_no_longer_grants(source: Any, run: Any) -> ColumnElement[bool]:
    """A run after ``run`` proposed cancelling or recovering ``source``'s benefit (``matcher.ledger.review``),
    and no officer dismissed that: for a benefit already in the ledger, the only word a later run leaves."""
    proposal, proposal_run = ledger_proposals.alias("unmatched_proposal"), runs.alias("unmatched_proposal_run")
    return (
        exists()
        .where(
            proposal.c.uscc == source.uscc,
            proposal.c.policy_id == source.policy_id,
            proposal.c.period_key == source.period_key,
            or_(proposal.c.action == literal_column("'cancel'"), proposal.c.action == literal_column("'recover'")),
            proposal.c.status != literal_column("'dismissed'"),
            proposal_run.c.id == proposal.c.run_id,
            _after(proposal_run.c, run),
        )
        .correlate_except(proposal, proposal_run)
    )


def left_out_later(source: Any, run: Any) -> ColumnElement[bool]:
    """A later completed run evaluated ``source``'s policy and period and left its enterprise out.

    A run decides nothing for a benefit already in the ledger (``matcher.decide``: it judges it in its ledger
    review instead), so for such a benefit a missing decision says nothing and the review's proposal to cancel
    or recover it decides. Of any other benefit, a later run that covered the policy and period without
    deciding it found the enterprise neither eligible nor nearly so."""
    in_ledger = exists().where(same_benefit(source)).correlate_except(benefits)
    return and_(covered_later(source, run), or_(~in_ledger, ledger_no_longer_grants(source, run)))


def no_longer_matched(source: Any, run: Any) -> ColumnElement[bool]:
    """``source``'s decision is the enterprise's latest for its benefit (enterprise, policy, period), but a later
    completed run left the enterprise out (``left_out_later``): it no longer matches. The one rule the service's
    reads (the ``no_longer_matched`` flag), the enterprise's actions (no confirming, no supplying facts) and
    delivery (withdrawn unsent) share.

    ``source``: a decision's or a notice's columns, or a fetched row; ``run``: the columns of the run that
    decided it (``runs.c``, or an alias's)."""
    return and_(~decided_later(source, run), left_out_later(source, run))

"""What the payouts need of each policy version: is it paid in cash, and how long is it published first (公示)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, or_

from matcher.db.models import benefits
from policies.compiled import CompiledPolicy

__all__ = ["CHINA", "PolicyKey", "cash_policy", "cash_terms", "in_publicity", "publicity_ends"]

CHINA = ZoneInfo("Asia/Shanghai")

PolicyKey = tuple[str, int]


def cash_terms(policies: Iterable[CompiledPolicy]) -> dict[PolicyKey, int]:
    """(policy id, version) → publicity days, for every cash policy version: the only ones paid by transfer."""
    return {p.policy.key: p.policy.publicity_days for p in policies if p.policy.benefit.form == "cash"}


def _of(keys: Iterable[PolicyKey]) -> ColumnElement[bool]:
    return or_(false(), *(and_(benefits.c.policy_id == pid, benefits.c.policy_version == v) for pid, v in keys))


def cash_policy(terms: Mapping[PolicyKey, int]) -> ColumnElement[bool]:
    """The benefits of a cash policy version."""
    return _of(terms)


def _first_instant(day: date) -> datetime:
    """Midnight starting ``day`` in China, in UTC (what the database compares timestamps in)."""
    return datetime.combine(day, time.min, CHINA).astimezone(UTC)


def publicity_ends(published_at: datetime, days: int) -> date:
    """The first day a benefit published at ``published_at`` is out of publicity (calendar days, China)."""
    return published_at.astimezone(CHINA).date() + timedelta(days=days)


def in_publicity(terms: Mapping[PolicyKey, int], as_of: date, published_at: ColumnElement) -> ColumnElement[bool]:
    """Benefits (of ``benefits``) whose list, published at ``published_at`` (a notice's ``created_at``), is still
    in publicity on ``as_of``: published on day P for d days, it runs P … P+d-1. Calendar days for now;
    working days need a holiday calendar."""
    by_days: dict[int, list[PolicyKey]] = {}
    for key, days in terms.items():
        if days > 0:
            by_days.setdefault(days, []).append(key)
    return or_(
        false(),
        *(
            and_(_of(keys), published_at >= _first_instant(as_of - timedelta(days - 1)))
            for days, keys in sorted(by_days.items())
        ),
    )

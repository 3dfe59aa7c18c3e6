"""Entitlement periods: the key under which a benefit is granted at most once."""

from __future__ import annotations

from datetime import date, timedelta

from matcher.errors import AsOfOutOfRange

__all__ = ["EARLIEST_AS_OF", "check_as_of", "latest_as_of", "period_key"]

# Registries hold no record older than the reform era; a date far outside the window is a typo
# (0001-01-01, 9999-12-31) that would fail deep inside date arithmetic instead of here.
EARLIEST_AS_OF = date(1990, 1, 1)


def latest_as_of(today: date | None = None) -> date:
    """A run may look up to a year ahead (a period being planned), no further."""
    return (today or date.today()) + timedelta(days=366)


def check_as_of(as_of: date, today: date | None = None) -> date:
    """``as_of`` itself, or AsOfOutOfRange saying the window a run can decide for."""
    latest = latest_as_of(today)
    if not EARLIEST_AS_OF <= as_of <= latest:
        raise AsOfOutOfRange(
            f"as-of date {as_of.isoformat()} is outside the window a run can decide for"
            f" ({EARLIEST_AS_OF.isoformat()} to {latest.isoformat()}): give the date the profiles should be"
            " built for, e.g. the end of the last quarter"
        )
    return as_of


def period_key(period: str, as_of: date) -> str:
    """``once`` → 'once'; ``yearly`` → '2025'; ``monthly`` → '2025-06' (the period containing as_of)."""
    if period == "once":
        return "once"
    if period == "yearly":
        return f"{as_of.year}"
    if period == "monthly":
        return f"{as_of:%Y-%m}"
    raise ValueError(f"unknown entitlement period {period!r}: expected once, yearly or monthly")

"""Entitlement periods: the key under which a benefit is granted at most once."""

from __future__ import annotations

from datetime import date

from matcher.errors import AsOfOutOfRange

__all__ = ["AS_OF_PATTERN", "EARLIEST_AS_OF", "LATEST_AS_OF", "check_as_of", "period_key"]

# Registries hold no record older than the reform era, and a date past this century is a typo
# (0001-01-01, 9999-12-31) that would otherwise fail deep inside date arithmetic instead of here.
# A fixed window, so the API can declare it (a pattern on the year) and a client can check it.
EARLIEST_AS_OF = date(1990, 1, 1)
LATEST_AS_OF = date(2099, 12, 31)
AS_OF_PATTERN = r"^(199[0-9]|20[0-9]{2})-[0-9]{2}-[0-9]{2}$"


def check_as_of(as_of: date) -> date:
    """``as_of`` itself, or AsOfOutOfRange saying the window a run can decide for."""
    if not EARLIEST_AS_OF <= as_of <= LATEST_AS_OF:
        raise AsOfOutOfRange(
            f"as-of date {as_of.isoformat()} is outside the window a run can decide for"
            f" ({EARLIEST_AS_OF.isoformat()} to {LATEST_AS_OF.isoformat()}): give the date the profiles should"
            " be built for, e.g. the end of the last quarter"
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

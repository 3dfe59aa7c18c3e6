"""Entitlement periods: the key under which a benefit is granted at most once."""

from __future__ import annotations

from datetime import date

__all__ = ["period_key"]


def period_key(period: str, as_of: date) -> str:
    """``once`` → 'once'; ``yearly`` → '2025'; ``monthly`` → '2025-06' (the period containing as_of)."""
    if period == "once":
        return "once"
    if period == "yearly":
        return f"{as_of.year}"
    if period == "monthly":
        return f"{as_of:%Y-%m}"
    raise ValueError(f"unknown entitlement period {period!r}: expected once, yearly or monthly")

"""Entitlement periods: the key under which a benefit is granted at most once.

The ledger's key is (uscc, policy_id, period_key). Per enterprise the period
key names the calendar period containing the as-of date (``once``, ``2025``,
``2025-Q2``, ``2025-06``); per certificate it names the certificate
(``cert:2024-12-10``: the start of its validity), so a renewed certificate is a
new entitlement and the same one is never paid twice, whatever the run's date.
Per person (each insured person once per policy family) the key stays the
enterprise's period, and the persons a benefit counted are recorded beside it
(``matcher.ledger.persons``).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from matcher.errors import AsOfOutOfRange

__all__ = [
    "AS_OF_PATTERN",
    "CERTIFICATE_PREFIX",
    "EARLIEST_AS_OF",
    "LATEST_AS_OF",
    "UNKNOWN_CERTIFICATE",
    "certificate_key",
    "check_as_of",
    "period_key",
]

CERTIFICATE_PREFIX = "cert:"
# The key of a decision on a per-certificate benefit whose certificate is not known (needs data, near miss):
# such a decision never enters the ledger.
UNKNOWN_CERTIFICATE = f"{CERTIFICATE_PREFIX}unknown"

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
    """``once`` → 'once'; ``yearly`` → '2025'; ``quarterly`` → '2025-Q2'; ``monthly`` → '2025-06' (the period
    containing as_of)."""
    if period == "once":
        return "once"
    if period == "yearly":
        return f"{as_of.year}"
    if period == "quarterly":
        return f"{as_of.year}-Q{(as_of.month - 1) // 3 + 1}"
    if period == "monthly":
        return f"{as_of:%Y-%m}"
    raise ValueError(f"unknown entitlement period {period!r}: expected once, yearly, quarterly or monthly")


def certificate_key(certificate: pl.Expr) -> pl.Expr:
    """The period key of a per-certificate benefit: 'cert:' and the fact naming the certificate (null when
    unknown)."""
    return pl.concat_str(pl.lit(CERTIFICATE_PREFIX), certificate.cast(pl.String))

"""Entitlement periods: the key under which a benefit is granted at most once.

The ledger's key is (uscc, policy_id, period_key). Per enterprise the period
key names the calendar period containing the as-of date (``once``, ``2025``,
``2025-Q2``, ``2025-06``); per certificate it names the certificate by its
number (``cert:GR202344001234``), so a renewed certificate (a new number) is a
new entitlement and the same one is never paid twice, whatever the run's date.
Benefits granted before certificates were keyed by number carry the start of
the certificate's validity (``cert:2024-12-10``, ``LEGACY_CERTIFICATE``): they
keep that key, and a run takes such a benefit for the certificate the
enterprise holds when that certificate started on that day.
Per person (each insured person once per policy family) the key stays the
enterprise's period, and the persons a benefit counted are recorded beside it
(``matcher.ledger.persons``).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.lists import CERTIFICATES
from matcher.db.models import PERIOD_KEY_LENGTH  # 'cert:' and a number (CERTIFICATE_NO_PATTERN: 59 at most)
from matcher.errors import AsOfOutOfRange

__all__ = [
    "AS_OF_PATTERN",
    "CERTIFICATES",
    "CERTIFICATE_PREFIX",
    "EARLIEST_AS_OF",
    "LATEST_AS_OF",
    "PERIOD_KEY_LENGTH",
    "PERIOD_KEY_PATTERN",
    "UNKNOWN_CERTIFICATE",
    "certificate_key",
    "check_as_of",
    "legacy_certificate_key",
    "period_key",
]

CERTIFICATE_PREFIX = "cert:"
# Every key a benefit can have: per enterprise, per certificate by number, and the legacy per-certificate keys.
PERIOD_KEY_PATTERN = r"^(once|[0-9]{4}(-[0-9]{2}|-Q[1-4])?|cert:([0-9]{4}-[0-9]{2}-[0-9]{2}|[A-Za-z0-9]{1,59}))$"
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


def certificate_key(number: pl.Expr) -> pl.Expr:
    """The period key of a per-certificate benefit: 'cert:' and the certificate's number (null when unknown)."""
    return pl.concat_str(pl.lit(CERTIFICATE_PREFIX), number.cast(pl.String))


def legacy_certificate_key(valid_from: pl.Expr) -> pl.Expr:
    """The key a per-certificate benefit got before certificates were keyed by number: 'cert:' and the start of
    the certificate's validity (null when unknown)."""
    return pl.concat_str(pl.lit(CERTIFICATE_PREFIX), valid_from.cast(pl.Date).dt.strftime("%Y-%m-%d"))

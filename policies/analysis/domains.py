"""What values a fact can take, from the fact catalogue: the analyser's assumptions about an enterprise.

Few false alarms matter more than many findings, so each fact is bounded to
what a registry can hold: money in yuan and counts are never negative, a
ratio is never negative, a text fact with a closed vocabulary takes one of
its values, a division code is six digits, dates fall in a plausible window.
A bound too tight would make a proof wrong (a rule said "never eligible"
while some enterprise is), so where a registry can hold more (taxable income
is negative for a loss; R&D spending can exceed revenue) nothing is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from features.profiles.catalogue import FACTS
from features.profiles.fact import Fact
from features.standards.divisions import PROVINCES
from policies.limits import MAX_NUMBER

__all__ = ["DATE_WINDOW", "DOMAINS", "Domain"]

# Dates an enterprise's facts and the evaluation date may take. Establishment dates reach further back: a
# state-owned enterprise registered in the 1950s still operates.
DATE_WINDOW = (date(1990, 1, 1), date(2099, 12, 31))
_ESTABLISHED_FROM = date(1949, 10, 1)

# Units whose values are never negative; a number fact with another unit (or none) may be negative.
_NON_NEGATIVE_UNITS = {"yuan", "10k yuan", "persons", "months", "years", "patents", "ratio"}
# Facts in a non-negative unit that a registry can still report below zero.
_SIGNED = {"taxable_income_last_year"}


@dataclass(frozen=True)
class Domain:
    kind: str  # bool | int | number | str | date
    low: float | date | None = None
    high: float | date | None = None
    values: tuple[str, ...] | None = None
    prefixes: tuple[str, ...] | None = None  # a text fact starts with one of these
    always_known: bool = False  # a registry listing every case: absence means none, never unknown


def _domain(f: Fact) -> Domain:
    always = f.absent == "none"
    if f.kind in ("int", "number"):
        low = 0.0 if f.unit in _NON_NEGATIVE_UNITS and f.name not in _SIGNED else -float(MAX_NUMBER)
        return Domain(f.kind, low, float(MAX_NUMBER), always_known=always)
    if f.kind == "date":
        start = _ESTABLISHED_FROM if f.name == "established_on" else DATE_WINDOW[0]
        return Domain("date", start, DATE_WINDOW[1], always_known=always)
    if f.kind == "str":
        prefixes = tuple(PROVINCES) if f.name == "division_code" else None
        return Domain("str", values=f.values, prefixes=prefixes, always_known=always)
    return Domain(f.kind, always_known=always)


DOMAINS: dict[str, Domain] = {f.name: _domain(f) for f in FACTS}

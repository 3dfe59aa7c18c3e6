"""Bounds on policy text, checked as it is read so hostile or mistaken text is refused quickly.

Each limit sits well above what the shipped catalogue uses (in brackets) and
well below what would cost seconds, memory or a RecursionError. docs/limits.md
lists them with the reasons.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_ALIASES",
    "MAX_DATE_DAYS",
    "MAX_EXPRESSION_CHARS",
    "MAX_EXPRESSION_DEPTH",
    "MAX_NUMBER",
    "MAX_POLICY_BYTES",
    "MAX_ROUND_DIGITS",
    "MAX_VALUES",
    "MAX_YAML_DEPTH",
    "MIN_EXAMPLES",
    "out_of_range",
]

MAX_POLICY_BYTES = 64 * 1024  # UTF-8 text of one policy file (largest shipped: 6.7 KB)
MAX_YAML_DEPTH = 32  # mappings and lists inside each other, aliases expanded (deepest shipped: 10)
MAX_ALIASES = 100  # *alias references in one file (shipped: none)
MAX_VALUES = 10_000  # keys, values and items once aliases are expanded (largest shipped: 338)
MAX_EXPRESSION_CHARS = 1_000  # one condition leaf, amount or count (longest shipped: 120)
MAX_EXPRESSION_DEPTH = 32  # operators inside each other in one expression (deepest shipped: 5)
MAX_NUMBER = 10**15  # largest magnitude of a number written in a policy (yuan, months, counts, ...)
MAX_ROUND_DIGITS = 10  # digits round() may keep (shipped: 2)
MIN_EXAMPLES = 3  # examples a policy must carry (docs/policies.md)
MAX_DATE_DAYS = 36_600  # a constant number of days added to or taken from a date: a century (shipped: 365)


def out_of_range(value: object) -> bool:
    """True for a number (not a bool) that is infinite, NaN or larger in size than MAX_NUMBER."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return True
    return abs(value) > MAX_NUMBER  # compared as int when it is one: a huge int does not fit a float

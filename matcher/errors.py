"""Errors the matcher raises; each message says what was expected, what was found and how to fix it.

MatcherError
 └── AsOfOutOfRange     an as-of date outside the window a run can decide for
"""

from __future__ import annotations

__all__ = ["AsOfOutOfRange", "MatcherError"]


class MatcherError(Exception):
    """Base of the matcher's errors."""


class AsOfOutOfRange(MatcherError, ValueError):
    """A ValueError too, so a pydantic validator that calls the check reports it as a field error."""

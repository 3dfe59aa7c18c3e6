"""Errors the matcher raises; each message says what was expected, what was found and how to fix it.

MatcherError
 ├── AsOfOutOfRange     an as-of date outside the window a run can decide for
 └── LedgerError        a change of a benefit the ledger refuses
      └── IllegalMove   an entry that does not apply to the benefit's status
"""

from __future__ import annotations

__all__ = ["AsOfOutOfRange", "IllegalMove", "LedgerError", "MatcherError"]


class MatcherError(Exception):
    """Base of the matcher's errors."""


class AsOfOutOfRange(MatcherError, ValueError):
    """A ValueError too, so a pydantic validator that calls the check reports it as a field error."""


class LedgerError(MatcherError):
    """A change of a benefit the ledger refuses."""

    def __init__(self, message: str, **context: str | None) -> None:
        super().__init__(message)
        self.context = context


class IllegalMove(LedgerError):
    """A journal entry that does not apply to the benefit's current status (e.g. declining a paid benefit)."""

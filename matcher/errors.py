"""Errors the matcher raises; each message says what was expected, what was found and how to fix it.

MatcherError
 ├── AsOfOutOfRange     an as-of date outside the window a run can decide for
 ├── NotOnThisMachine   a worker of a partitioned run cannot read the run's files by their paths
 └── LedgerError        a change of a benefit the ledger refuses
      └── IllegalMove   an entry that does not apply to the benefit's status
"""

from __future__ import annotations

__all__ = ["AsOfOutOfRange", "IllegalMove", "LedgerError", "MatcherError", "NotOnThisMachine"]


class MatcherError(Exception):
    """Base of the matcher's errors."""


class AsOfOutOfRange(MatcherError, ValueError):
    """A ValueError too, so a pydantic validator that calls the check reports it as a field error."""


class NotOnThisMachine(MatcherError):
    """A partition's pass, on a worker of another machine, cannot read the registry or the run's folder."""


class LedgerError(MatcherError):
    """A change of a benefit the ledger refuses."""

    def __init__(self, message: str, **context: str | None) -> None:
        super().__init__(message)
        self.context = context


class IllegalMove(LedgerError):
    """A journal entry that does not apply to the benefit's current status (e.g. declining a paid benefit)."""

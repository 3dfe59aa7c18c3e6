"""Refusals of the payout lifecycle; each says what was expected, what was found, and what to do, in en and zh.

PayoutError (matcher.errors.MatcherError)
 ├── BatchRefused        the batch's state or the officer does not allow the step (HTTP 409)
 ├── ReturnFileRefused   the bank's return file is refused whole: a line, a total or a reference is wrong (422)
 └── AccountRefused      an account an enterprise gave is not one a transfer can reach (422)
"""

from __future__ import annotations

from matcher.errors import MatcherError

__all__ = ["AccountRefused", "BatchRefused", "PayoutError", "ReturnFileRefused"]


class PayoutError(MatcherError):
    def __init__(self, message: str, zh: str, **context: object) -> None:
        super().__init__(message)
        self.zh = zh
        self.context = context


class BatchRefused(PayoutError):
    """A step the batch's state does not allow (approve twice, export before approval), or the maker approving."""


class ReturnFileRefused(PayoutError):
    """The bank's return file does not add up or names what is not in the batch: nothing of it was applied."""


class AccountRefused(PayoutError):
    """A bank account that cannot be paid into (bank code, name not the registered one)."""

    def __init__(self, message: str, zh: str, *, field: str) -> None:
        super().__init__(message, zh, field=field)
        self.field = field

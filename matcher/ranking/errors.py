"""Errors of the ranker. Every message says what was expected, what was found and how to fix it.

RankingError
 ├── NoFeedbackError     nothing to train on yet
 ├── ModelStoreError     the MLflow store or a registered model cannot be used
 ├── UnrankedPair        no run ranked this enterprise's decision on this policy (nothing to explain)
 └── HeldOutPair         the run held the enterprise out of the model's order (the fallback order placed it)
"""

from __future__ import annotations

__all__ = ["HeldOutPair", "ModelStoreError", "NoFeedbackError", "RankingError", "UnrankedPair"]


class RankingError(Exception):
    """Base class of every error in ``matcher.ranking``."""


class NoFeedbackError(RankingError):
    pass


class ModelStoreError(RankingError):
    pass


class UnrankedPair(RankingError):
    pass


class HeldOutPair(RankingError):
    pass

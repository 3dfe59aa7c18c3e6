"""The holdout: a small random share of each run's enterprises whose notices follow the fallback order.

Comparing their take-up with the ranked enterprises' — from the responses
actually received (``matcher.ranking.uplift``) — measures what the ranker
changes for people, which no offline metric can. Membership is drawn per run
from a generator seeded by the run's id over the run's enterprises in USCC
order, so a resumed run draws the same enterprises; it is recorded on every
decision's ``rank_features`` row. The holdout changes order and push times
only, never a decision or an amount.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["holdout_draws", "holdout_members"]


def holdout_draws(enterprises: int, run_id: str, share: float) -> np.ndarray:
    """Whether each of ``enterprises`` enterprises, taken in USCC order, is held out (bool array)."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"ranking holdout: expected a share from 0 to below 1, found {share}")
    seed = int.from_bytes(run_id.encode(), "big") % 2**63  # the run id is a hex digest: any of its bits will do
    return np.random.default_rng(seed).random(enterprises) < share


def holdout_members(usccs: pl.Series, run_id: str, share: float) -> pl.DataFrame:
    """uscc, holdout (bool) for each distinct enterprise of ``usccs``: about ``share`` of them held out."""
    enterprises = usccs.unique().sort()
    return pl.DataFrame({"uscc": enterprises, "holdout": holdout_draws(enterprises.len(), run_id, share)})

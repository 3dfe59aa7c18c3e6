"""The holdout: a small random share of each run's enterprises whose notices follow the fallback order.

Comparing their take-up with the ranked enterprises' — from the responses
actually received (``matcher.ranking.uplift``) — measures what the ranker
changes for people, which no offline metric can. Membership is drawn per run
and enterprise from a stable hash of the USCC mixed with the run's id, so a
resumed run draws the same enterprises, and an enterprise's draw does not
depend on which others are ranked with it (a partitioned run ranks a part at a
time); it is stored with every decision's ranking features
(``matcher.ranking.parts``). The holdout changes order and push times only,
never a decision or an amount.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from features.registries.partitions import uscc_hash

__all__ = ["held_out", "holdout_members"]


_MIX = 0xD6E8FEB86659FD93  # odd 64-bit multiplier: spreads the run's seed over the high bits


def held_out(usccs: pl.Series, run_id: str, share: float) -> np.ndarray:
    """Whether the enterprise of each of ``usccs`` is held out in run ``run_id`` (bool array, one per row)."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"ranking holdout: expected a share from 0 to below 1, found {share}")
    seed = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big")
    u64 = pl.UInt64
    draw = (uscc_hash().xor(pl.lit(seed, dtype=u64)) * pl.lit(_MIX, dtype=u64)) // pl.lit(2**32, dtype=u64)
    # Not a code at all (never in a run: the registry check quarantines it): never held out.
    below = (draw.cast(pl.Float64) / 2**32 < share).fill_null(False)
    return usccs.to_frame("uscc").select(below).to_series().to_numpy()


def holdout_members(usccs: pl.Series, run_id: str, share: float) -> pl.DataFrame:
    """uscc, holdout (bool) for each distinct enterprise of ``usccs``: about ``share`` of them held out."""
    enterprises = usccs.unique().sort()
    return pl.DataFrame({"uscc": enterprises, "holdout": held_out(enterprises, run_id, share)})

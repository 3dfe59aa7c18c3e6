"""Bootstrap confidence intervals over enterprises, for ratios of sums (numpy, vectorised).

Every metric here is a ratio of two sums over enterprises — take-up captured
(notices acted on in the first wave ÷ notices acted on), a mean over queries
(sum of the query values ÷ number of queries) — so one enterprise's queries
move together: the enterprise is the unit resampled. ``draws`` resamples of
the enterprises (with replacement) give each ratio's percentile interval;
comparisons of two scorers use the *same* resamples (a paired bootstrap), so
the interval of a difference is narrower than the two intervals side by side
suggest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DRAWS", "LEVEL", "Estimate", "bootstrap_ratios"]

DRAWS = 1_000
LEVEL = 0.95
_CHUNK = 100  # resamples per matrix product: bounds memory at chunk × enterprises counts


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def overlaps(self, other: Estimate) -> bool:
        return self.low <= other.high and other.low <= self.high


def bootstrap_ratios(
    numerators: np.ndarray,
    denominators: np.ndarray,
    *,
    differences: list[tuple[int, int]] = (),
    draws: int = DRAWS,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[list[Estimate], list[Estimate]]:
    """Ratios ``numerators[:, j].sum() / denominators[:, j].sum()`` (rows: enterprises, columns: statistics)
    with their percentile intervals, and the paired differences ``ratio[a] − ratio[b]`` for each (a, b) of
    ``differences``. A ratio with a zero denominator is NaN."""
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    if num.shape != den.shape or num.ndim != 2:
        raise ValueError(
            f"expected numerators and denominators of one shape (enterprises, statistics), found "
            f"{num.shape} and {den.shape}"
        )
    n = num.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        point = num.sum(axis=0) / den.sum(axis=0)
    if n == 0:
        nan = Estimate(float("nan"), float("nan"), float("nan"))
        return [nan] * num.shape[1], [nan] * len(differences)
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)  # (size, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append((counts @ num) / (counts @ den))
    resampled = np.vstack(ratios)  # (draws, statistics)
    tail = (1 - level) / 2 * 100

    def estimate(value: float, samples: np.ndarray) -> Estimate:
        low, high = np.nanpercentile(samples, [tail, 100 - tail]) if np.isfinite(samples).any() else (np.nan,) * 2
        return Estimate(float(value), float(low), float(high))

    return (
        [estimate(point[j], resampled[:, j]) for j in range(num.shape[1])],
        [estimate(point[a] - point[b], resampled[:, a] - resampled[:, b]) for a, b in differences],
    )

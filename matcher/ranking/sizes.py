"""Sizes the ranker works within, importable without polars or LightGBM (a command's help shows them)."""

from __future__ import annotations

__all__ = ["MAX_QUERIES"]

# Above this many training queries, training uses a sample (docs/ranking.md, "Training at scale"): held-out NDCG
# stops improving well below it, and LightGBM's peak of about 650 bytes per pair keeps it near half a GiB.
MAX_QUERIES = 200_000

"""Accepted attestations laid over registry profiles: a fact no registry holds, or one a registry did not know.

Pure frames in, frames out; the run reads the accepted rows (matcher/supplied.py). For each attested
(enterprise, fact) the profile keeps the registry's value when it has one — registry data that arrives after
the attestation wins — unless the officer who accepted it let it override the registry. Declared facts have no
registry value, so an accepted attestation is always their value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from features.profiles.catalogue import DECLARED_FACTS, fact

__all__ = ["apply_attested", "with_declared"]


def apply_attested(profiles: pl.DataFrame, attested: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """``attested``: rows with ``uscc``, ``fact``, ``value`` (typed: bool, number, str or date) and
    ``overrides_registry``, at most one per (uscc, fact). Enterprises without a profile are ignored."""
    by_fact: dict[str, list[Mapping[str, Any]]] = {}
    for row in attested:
        by_fact.setdefault(row["fact"], []).append(row)
    if not by_fact:
        return profiles
    out = profiles.lazy()
    for name, rows in sorted(by_fact.items()):
        f = fact(name)
        given = pl.DataFrame(
            {
                "uscc": [r["uscc"] for r in rows],
                "_value": pl.Series([r["value"] for r in rows], dtype=f.dtype, strict=False),
                "_override": [bool(r["overrides_registry"]) for r in rows],
            },
            schema={"uscc": pl.String, "_value": f.dtype, "_override": pl.Boolean},
        ).lazy()
        registry = pl.col(name)
        out = (
            out.join(given, on="uscc", how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("_override").fill_null(False))
                .then(pl.coalesce(pl.col("_value"), registry))
                .otherwise(pl.coalesce(registry, pl.col("_value")))
                .alias(name)
            )
            .drop("_value", "_override")
        )
    return out.collect()


def with_declared(profiles: pl.DataFrame) -> pl.DataFrame:
    """``profiles`` with a null column for each declared fact it lacks (a file written before it was declared)."""
    missing = [f for f in DECLARED_FACTS if f.name not in profiles.columns]
    return profiles.with_columns(pl.lit(None, dtype=f.dtype).alias(f.name) for f in missing) if missing else profiles

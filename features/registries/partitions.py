"""Partitions of the enterprise population by a stable hash of the USCC: the unit a partitioned run works on.

Every registry row is keyed by its enterprise's USCC and a profile reads only its own enterprise's rows, so
the profiles of a partition are built from that partition's rows alone, and the partitions' profiles together
are the whole population's. The hash is plain integer arithmetic on the code's characters (read as two base-36
numbers, mixed by multiplication modulo 2**64), not polars' ``hash``, which may change between versions: an
enterprise's partition must be the same on every machine, in every run and after every upgrade, because the
same function is what a distributed engine runs on each worker.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

__all__ = [
    "MAX_PARTITIONS",
    "partition_of",
    "partition_of_uscc",
    "partition_tables",
    "uscc_hash",
]

MAX_PARTITIONS = 4096
_MASK = 2**64 - 1
_K1, _K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F  # odd 64-bit constants (golden ratio, xxHash prime)
_HIGH = 2**32  # keep the high bits: the well-mixed ones


def _check(n: int) -> None:
    if not 1 <= n <= MAX_PARTITIONS:
        raise ValueError(f"partitions: expected 1 to {MAX_PARTITIONS}, got {n}")


def uscc_hash(uscc: pl.Expr | None = None) -> pl.Expr:
    """A stable 64-bit hash of each USCC in ``uscc`` (default ``pl.col("uscc")``); null when it is not a code."""
    code = pl.col("uscc") if uscc is None else uscc
    u64 = pl.UInt64

    def half(start: int) -> pl.Expr:
        return code.str.slice(start, 9).str.to_integer(base=36, strict=False).cast(u64)

    return (half(0) * pl.lit(_K1, dtype=u64)).xor(half(9) * pl.lit(_K2, dtype=u64))


def partition_of(n: int, uscc: pl.Expr | None = None) -> pl.Expr:
    """The partition (0 … n-1) of each USCC in ``uscc`` (default ``pl.col("uscc")``), as UInt32."""
    _check(n)
    u64 = pl.UInt64
    # A row whose code is missing or not a code at all still belongs to exactly one partition (the first),
    # where the registry check quarantines it: no row falls between partitions.
    return ((uscc_hash(uscc) // pl.lit(_HIGH, dtype=u64)) % pl.lit(n, dtype=u64)).fill_null(0).cast(pl.UInt32)


def partition_of_uscc(uscc: str, n: int) -> int:
    """``partition_of`` for one code, in plain Python: the reference the expression is tested against."""
    _check(n)
    try:
        int(uscc[:9], 36), int(uscc[9:18], 36)
    except ValueError:
        return 0
    mixed = ((int(uscc[:9], 36) * _K1) & _MASK) ^ ((int(uscc[9:18], 36) * _K2) & _MASK)
    return (mixed // _HIGH) % n


def partition_tables(tables: Mapping[str, pl.LazyFrame | pl.DataFrame], n: int, k: int) -> dict[str, pl.LazyFrame]:
    """Partition ``k`` of ``n`` of every registry table: the rows of the enterprises in it (lazy)."""
    _check(n)
    if not 0 <= k < n:
        raise ValueError(f"partition: expected 0 to {n - 1}, got {k}")
    return {name: frame.lazy().filter(partition_of(n) == k) for name, frame in tables.items()}

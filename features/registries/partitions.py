"""Partitions of the enterprise population by ranges of the USCC: the unit a partitioned run works on.

Every registry row is keyed by its enterprise's USCC and a profile reads only its own enterprise's rows, so
the profiles of a partition are built from that partition's rows alone, and the partitions' profiles together
are the whole population's.

Ranges, not a hash: every unique index the run writes leads with the USCC, so a partition whose codes are a
range lands in one stretch of each index, and the run touches each index page about once — as a run taken whole
does. A hash spreads every partition over the whole key space: each partition rewrites (and, after a checkpoint,
logs in full) nearly every page of every index, and a run in P partitions writes its indexes about P/2 times
over (measured: docs/scale.md, "Partitions by range"). The bounds are the codes at equal steps through the
registry's enterprises, sorted: partitions of equal size, the same for the same files on every machine (a rerun
of a killed run cuts the same partitions), and a distributed engine's workers are handed them with the files.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

__all__ = ["MAX_PARTITIONS", "Partitioning", "partition_tables", "uscc_hash"]

MAX_PARTITIONS = 4096
_K1, _K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F  # odd 64-bit constants (golden ratio, xxHash prime)


def _check(n: int) -> None:
    if not 1 <= n <= MAX_PARTITIONS:
        raise ValueError(f"partitions: expected 1 to {MAX_PARTITIONS}, got {n}")


def uscc_hash(uscc: pl.Expr | None = None) -> pl.Expr:
    """A stable 64-bit hash of each USCC in ``uscc`` (default ``pl.col("uscc")``); null when it is not a code.

    Plain integer arithmetic on the code's characters (two base-36 numbers mixed by multiplication modulo 2**64),
    not polars' ``hash``, which may change between versions: samples drawn with it (training's, the hold-out)
    must draw the same enterprises on every machine and after every upgrade."""
    code = pl.col("uscc") if uscc is None else uscc
    u64 = pl.UInt64

    def half(start: int) -> pl.Expr:
        return code.str.slice(start, 9).str.to_integer(base=36, strict=False).cast(u64)

    return (half(0) * pl.lit(_K1, dtype=u64)).xor(half(9) * pl.lit(_K2, dtype=u64))


@dataclass(frozen=True)
class Partitioning:
    """``n`` partitions cut at ``bounds`` (n - 1 codes, ascending): partition k holds the codes from
    ``bounds[k - 1]`` (included) up to ``bounds[k]`` (excluded). A missing code belongs to the first."""

    bounds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.n)
        if list(self.bounds) != sorted(self.bounds):
            raise ValueError("partition bounds: expected codes in ascending order")

    @property
    def n(self) -> int:
        return len(self.bounds) + 1

    @classmethod
    def of_codes(cls, codes: pl.Series | Sequence[str], n: int) -> Partitioning:
        """``n`` partitions of about equal size over ``codes`` (an enterprise's code once or more: counted once)."""
        _check(n)
        found = pl.Series("uscc", codes, dtype=pl.String).drop_nulls().unique().sort()
        if found.is_empty():
            return cls(("",) * (n - 1))
        return cls(tuple(found[found.len() * k // n] for k in range(1, n)))

    @classmethod
    def of_frame(cls, frame: pl.LazyFrame, n: int) -> Partitioning:
        """``of_codes`` over the ``uscc`` column of ``frame`` (a registry table: only that column is read)."""
        _check(n)
        if n == 1:
            return cls()
        return cls.of_codes(frame.select(pl.col("uscc").cast(pl.String)).collect(engine="streaming")["uscc"], n)

    def of(self, uscc: pl.Expr | None = None) -> pl.Expr:
        """The partition (0 … n-1) of each USCC in ``uscc`` (default ``pl.col("uscc")``), as UInt32."""
        code = pl.col("uscc") if uscc is None else uscc
        name = code.meta.output_name(raise_if_undetermined=False) or "uscc"  # named as its input, as a column is
        bounds = pl.Series(self.bounds, dtype=pl.String)

        def place(codes: pl.Series) -> pl.Series:
            return bounds.search_sorted(codes.cast(pl.String), side="right").cast(pl.UInt32)

        # Batch by batch (elementwise): the bounds as a literal column would make polars' streaming engine collect
        # a whole table first (si_monthly at ten million enterprises: 16 GiB). A row whose code is missing still
        # belongs to exactly one partition (the first), where the registry check quarantines it.
        found = code.map_batches(place, return_dtype=pl.UInt32, is_elementwise=True)
        return pl.when(code.is_null()).then(pl.lit(0, dtype=pl.UInt32)).otherwise(found).alias(name)

    def of_uscc(self, uscc: str | None) -> int:
        """``of`` for one code, in plain Python: the reference the expression is tested against."""
        return 0 if uscc is None else bisect.bisect_right(self.bounds, uscc)


def partition_tables(
    tables: Mapping[str, pl.LazyFrame | pl.DataFrame], partitioning: Partitioning, k: int
) -> dict[str, pl.LazyFrame]:
    """Partition ``k`` of every registry table: the rows of the enterprises in it (lazy)."""
    if not 0 <= k < partitioning.n:
        raise ValueError(f"partition: expected 0 to {partitioning.n - 1}, got {k}")
    return {name: frame.lazy().filter(partitioning.of() == k) for name, frame in tables.items()}

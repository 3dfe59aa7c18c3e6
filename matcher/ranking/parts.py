"""The ranker's stored view of a run's pairs: Parquet pieces in ``rank_feature_parts``, written and read here only.

A run ranks millions of (enterprise, policy) pairs; storing each as a row cost ~15 µs a pair. Here a run's
pairs are written per *part* (the run's partition of enterprises; 0 when unpartitioned) as *pieces* of at most
``PIECE_PAIRS`` pairs, each one zstd-compressed Parquet blob in one row:

- sorted by uscc, policy_id, and split by position in that order: a rerun of a killed run makes the same
  pieces, and writes only those whose key (run_id, part, piece) is missing — exactly once;
- the features as typed columns: float64, or the narrowest integer type that holds a column's values exactly
  (codes, counts), chosen per piece; readers always get float64 back. Nulls stay nulls and NaN stays NaN (the
  score is null under the fallback order, a model's NaN stays NaN);
- row groups of ``ROW_GROUP`` pairs with statistics, and each piece's USCC range in its row: one pair is
  found by the index, then by the row groups' statistics, without decoding the whole piece.

Readers: a run's pairs (or several runs', some columns only) as one frame, and one pair of a run or of the
latest run (the explanation endpoint; the pieces' bytes are kept in a small bytes-bounded per-process cache).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl
from cachetools import LRUCache
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from matcher.db.models import rank_feature_parts as parts
from matcher.db.models import runs
from matcher.ranking.features import FEATURE_SET, FEATURES

__all__ = [
    "COLUMNS",
    "PIECE_PAIRS",
    "ROW_GROUP",
    "forget_pairs",
    "read_pair",
    "read_pairs",
    "write_pieces",
]

PIECE_PAIRS = 50_000  # pairs per piece: ~1 MB compressed; measured in bench/ranking_stage.py
ROW_GROUP = 2_000  # pairs per row group: one pair's lookup decodes about this many rows
CACHE_BYTES = 128 * 1024 * 1024  # compressed pieces kept per process for one-pair lookups

KEY = ("uscc", "policy_id")
TAIL = {"score": pl.Float64, "position": pl.Int32, "wave": pl.Int32, "holdout": pl.Boolean}
COLUMNS: tuple[str, ...] = (*KEY, *FEATURES, *TAIL)
_NARROW = ((pl.Int8, 2**7), (pl.Int16, 2**15), (pl.Int32, 2**31))  # type, and -bound ≤ value < bound


def _schema(features: Sequence[str] = FEATURES) -> dict[str, pl.DataType]:
    return {"uscc": pl.String, "policy_id": pl.String, **dict.fromkeys(features, pl.Float64), **TAIL}


def _narrowed(frame: pl.DataFrame, features: Sequence[str]) -> pl.DataFrame:
    """Feature columns whose values are all whole numbers (or null) in an integer type's range, as that type:
    exact, and smaller once compressed. NaN, infinities and -0.0 keep a column float64. numpy, column by column
    (a polars expression per check cost ten times more here)."""
    casts = []
    for name in features:
        column = frame[name]
        values = column.drop_nulls().to_numpy()
        if values.size == 0 or not np.isfinite(values).all() or not (values == np.trunc(values)).all():
            continue  # all null (costs nothing as float64 anyway), or not whole numbers
        if (np.signbit(values) & (values == 0)).any():
            continue
        low, high = values.min(), values.max()
        for dtype, bound in _NARROW:
            if -bound <= low and high < bound:
                casts.append(pl.col(name).cast(dtype))
                break
    return frame.with_columns(casts) if casts else frame


def _encode(frame: pl.DataFrame, features: Sequence[str]) -> bytes:
    out = io.BytesIO()
    _narrowed(frame, features).write_parquet(out, compression="zstd", statistics=True, row_group_size=ROW_GROUP)
    return out.getvalue()


def _decode(data: bytes, columns: Sequence[str] | None = None, where: pl.Expr | None = None) -> pl.DataFrame:
    frame = pl.scan_parquet(data)
    if where is not None:
        frame = frame.filter(where)  # pushed down to the row groups' statistics: only matching groups decode
    if columns is not None:
        frame = frame.select(columns)
    found = frame.collect()
    floats = [n for n, t in found.schema.items() if t.is_integer() and n not in TAIL]
    return found.with_columns(pl.col(floats).cast(pl.Float64)) if floats else found


def _sorted(frame: pl.DataFrame) -> bool:
    """Whether ``frame`` is in (uscc, policy_id) order with no pair twice: one pass, no sort."""
    uscc, policy = pl.col("uscc"), pl.col("policy_id")
    after = (uscc > uscc.shift(1)) | ((uscc == uscc.shift(1)) & (policy > policy.shift(1)))
    return bool(frame.select(after.slice(1).all()).item()) if frame.height > 1 else True


def _insert_missing(engine: Engine, row: dict[str, Any]) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as connection:
        connection.execute(dialect.insert(parts).values(row).on_conflict_do_nothing())


def write_pieces(
    engine: Engine,
    run_id: str,
    pairs: pl.DataFrame,
    *,
    part: int = 0,
    feature_set: str = FEATURE_SET,
    piece_pairs: int = PIECE_PAIRS,
) -> int:
    """Store ``pairs`` (uscc, policy_id, the features, score, position, wave, holdout) as part ``part`` of run
    ``run_id``; pieces already there (a rerun) are skipped. Each piece commits on its own. Returns the number of
    pieces written now."""
    missing = [c for c in COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(
            f"rank features of run {run_id}, part {part}: expected columns {list(COLUMNS)}, missing {missing};"
            " pass the frame rank_decisions builds"
        )
    if piece_pairs < 1:
        raise ValueError(f"piece_pairs: expected at least 1 pair per piece, found {piece_pairs}")
    with engine.connect() as connection:
        there = {
            r.piece: (r.first_uscc, r.last_uscc, r.pairs)
            for r in connection.execute(
                select(parts.c.piece, parts.c.first_uscc, parts.c.last_uscc, parts.c.pairs).where(
                    parts.c.run_id == run_id, parts.c.part == part
                )
            )
        }
    ordered = pairs.select(COLUMNS).cast(_schema())
    if not _sorted(ordered):  # a string sort of millions of pairs costs seconds: callers may hand them sorted
        ordered = ordered.sort(KEY)
        if not _sorted(ordered):
            twice = ordered.filter(pl.struct(KEY).is_duplicated()).select(KEY).head(3).rows()
            raise ValueError(
                f"rank features of run {run_id}, part {part}: expected each (uscc, policy_id) pair once, found"
                f" {twice} more than once; pass one row per decision"
            )
    ordered = _narrowed(ordered, FEATURES)  # types chosen once per part: one pass over it, not one per piece
    for piece, found in sorted(there.items()):  # a rerun finds the very pieces it would write; anything else is
        chunk = ordered.slice(piece * piece_pairs, piece_pairs)  # another set of pairs, which would be lost
        expected = (chunk["uscc"][0], chunk["uscc"][-1], chunk.height) if chunk.height else None
        if found != expected:
            raise ValueError(
                f"rank features of run {run_id}, part {part}: piece {piece} is stored with USCCs {found[0]} …"
                f" {found[1]} ({found[2]} pairs), these pairs would make it {expected}: not a rerun of the same"
                " pairs. Each partition of a run needs its own part number (rank_decisions(..., part=partition))"
            )

    def stored(piece: int) -> dict[str, Any]:
        chunk = ordered.slice(piece * piece_pairs, piece_pairs)
        out = io.BytesIO()
        chunk.write_parquet(out, compression="zstd", statistics=True, row_group_size=ROW_GROUP)
        return {
            "run_id": run_id,
            "part": part,
            "piece": piece,
            "first_uscc": chunk["uscc"][0],
            "last_uscc": chunk["uscc"][-1],
            "feature_set": feature_set,
            "pairs": chunk.height,
            "parquet": out.getvalue(),
        }

    # Encoding the next piece while the database writes this one: both cores busy, one piece held in waiting.
    todo = [p for p in range(-(-ordered.height // piece_pairs)) if p not in there]
    with ThreadPoolExecutor(max_workers=1) as encoder:
        ahead = encoder.submit(stored, todo[0]) if todo else None
        for i in range(len(todo)):
            row = ahead.result()
            ahead = encoder.submit(stored, todo[i + 1]) if i + 1 < len(todo) else None
            _insert_missing(engine, row)
    return len(todo)


def _columns(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"rank features: unknown columns {unknown}; expected some of {list(COLUMNS)}")
    return list(columns)


def read_pairs(
    engine: Engine,
    run_ids: str | Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    *,
    feature_set: str | None = FEATURE_SET,
) -> pl.DataFrame:
    """The stored pairs of run ``run_ids`` (one id, several, or every run when None) with feature set
    ``feature_set`` (None: any, for columns other than the features): run_id, then ``columns`` (default all), in
    run, part, piece (USCC) order."""
    wanted = _columns(columns)
    query = select(parts.c.run_id, parts.c.parquet)
    if feature_set is not None:
        query = query.where(parts.c.feature_set == feature_set)
    if isinstance(run_ids, str):
        query = query.where(parts.c.run_id == run_ids)
    elif run_ids is not None:
        query = query.where(parts.c.run_id.in_(list(run_ids)))
    frames = []
    with engine.connect() as connection:
        for run_id, data in connection.execute(query.order_by(parts.c.run_id, parts.c.part, parts.c.piece)):
            frames.append(_decode(data, wanted).select(pl.lit(run_id, pl.String).alias("run_id"), pl.all()))
    schema = {"run_id": pl.String, **{n: t for n, t in _schema().items() if wanted is None or n in wanted}}
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical_relaxed")


class _Pieces:
    """Compressed pieces by (run_id, part, piece, pairs), least recently used out past ``limit`` bytes. ``pairs``
    is in the key so a piece rewritten by ``forget_pairs`` is never served from an older copy."""

    def __init__(self, limit: int) -> None:
        self._cache: LRUCache = LRUCache(maxsize=limit, getsizeof=len)
        self._lock = threading.Lock()

    def get(self, engine: Engine, key: tuple[str, int, int, int]) -> bytes:
        with self._lock:
            data = self._cache.get(key)
        if data is None:
            with engine.connect() as connection:
                data = connection.execute(
                    select(parts.c.parquet).where(
                        parts.c.run_id == key[0], parts.c.part == key[1], parts.c.piece == key[2]
                    )
                ).scalar_one()
            if len(data) <= self._cache.maxsize:
                with self._lock:
                    self._cache[key] = data
        return data

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


_PIECES = _Pieces(CACHE_BYTES)


def read_pair(engine: Engine, uscc: str, policy_id: str, run_id: str | None = None) -> dict[str, Any] | None:
    """The stored row of (uscc, policy_id) in run ``run_id``, or in the latest run that ranked it (latest as-of
    date, then latest finished): run_id and every column of ``COLUMNS``; None when no run ranked it."""
    query = (
        select(parts.c.run_id, parts.c.part, parts.c.piece, parts.c.pairs)
        .join(runs, runs.c.id == parts.c.run_id)
        .where(
            parts.c.first_uscc <= uscc,
            parts.c.last_uscc >= uscc,
            parts.c.feature_set == FEATURE_SET,
        )
        .order_by(runs.c.as_of.desc(), runs.c.finished_at.desc(), parts.c.part, parts.c.piece)
    )
    if run_id is not None:
        query = query.where(parts.c.run_id == run_id)
    with engine.connect() as connection:
        candidates = connection.execute(query).all()
    where = (pl.col("uscc") == uscc) & (pl.col("policy_id") == policy_id)
    for key in candidates:  # hash partitions overlap in USCC range: a few pieces may cover it; one holds it
        found = _decode(_PIECES.get(engine, tuple(key)), where=where)
        if found.height:
            return {"run_id": key.run_id, **found.row(0, named=True)}
    return None


def forget_pairs(engine: Engine, run_id: str, pairs: pl.DataFrame) -> int:
    """Remove ``pairs`` (uscc, policy_id) from run ``run_id``'s stored features, rewriting the pieces that held
    them (a piece left empty is deleted): e.g. an enterprise's data erased. Returns the number of pairs removed."""
    drop = pairs.select(pl.col(KEY).cast(pl.String)).unique()
    if drop.height == 0:
        return 0
    low, high = drop["uscc"].min(), drop["uscc"].max()
    removed = 0
    with engine.begin() as connection:
        held = connection.execute(
            select(parts).where(parts.c.run_id == run_id, parts.c.first_uscc <= high, parts.c.last_uscc >= low)
        ).all()
        for row in held:
            stored = _decode(row.parquet)
            kept = stored.join(drop, on=list(KEY), how="anti").sort(KEY)
            if kept.height == stored.height:
                continue
            removed += stored.height - kept.height
            key = (parts.c.run_id == run_id) & (parts.c.part == row.part) & (parts.c.piece == row.piece)
            if kept.height == 0:
                connection.execute(delete(parts).where(key))
                continue
            connection.execute(
                update(parts)
                .where(key)
                .values(
                    first_uscc=kept["uscc"][0],
                    last_uscc=kept["uscc"][-1],
                    pairs=kept.height,
                    parquet=_encode(kept, [c for c in kept.columns if c not in (*KEY, *TAIL)]),
                )
            )
    return removed

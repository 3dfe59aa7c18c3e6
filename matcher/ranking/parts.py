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
  found by the index, then in the one row group (or two) holding its enterprise, without decoding the piece.

Readers: a run's pairs (or several runs', some columns only) as one frame, and one pair of a run or of the
latest run (the explanation endpoint). For the latter each process keeps, bounded in bytes and least recently
used out, the pieces it read (compressed, with their USCCs) and the row groups it decoded: a lookup then costs
one indexed query and microseconds, where decoding a row group from Parquet for each request cost ~1.5 ms.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from cachetools import LRUCache
from sqlalchemy import Engine, Select, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from matcher.db.bulk import ahead
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
CACHE_BYTES = 128 * 1024 * 1024  # pieces kept per process for one-pair lookups: ~2 MiB each with their USCCs
GROUP_BYTES = 64 * 1024 * 1024  # and their row groups decoded: ~0.2 MiB each (2,000 pairs; 100k enterprises: 150)

KEY = ("uscc", "policy_id")
TAIL = {"score": pl.Float64, "position": pl.Int32, "wave": pl.Int32, "holdout": pl.Boolean}
COLUMNS: tuple[str, ...] = (*KEY, *FEATURES, *TAIL)
_FEATURES = frozenset(FEATURES)
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
    for _, row in ahead(stored, todo):
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


Rows = Callable[[Select, dict[str, Any]], Sequence[Sequence[Any]]]  # a statement's rows for its bind parameters

# One pair's lookup, built once (a statement costs more to build than to run): the pieces whose USCC range holds
# it, in the run asked for or in any (latest as-of date, then latest finished, first); a piece's bytes.
_COVERING = (parts.c.first_uscc <= bindparam("uscc"), parts.c.last_uscc >= bindparam("uscc"))
_CANDIDATES = select(parts.c.run_id, parts.c.part, parts.c.piece, parts.c.pairs).where(
    *_COVERING, parts.c.feature_set == bindparam("feature_set")
)
_OF_RUN = _CANDIDATES.where(parts.c.run_id == bindparam("run_id")).order_by(parts.c.part, parts.c.piece)
_OF_LATEST = _CANDIDATES.join(runs, runs.c.id == parts.c.run_id).order_by(
    runs.c.as_of.desc(), runs.c.finished_at.desc(), parts.c.part, parts.c.piece
)
_BYTES = select(parts.c.pairs, parts.c.parquet).where(
    parts.c.run_id == bindparam("run_id"), parts.c.part == bindparam("part"), parts.c.piece == bindparam("piece")
)


def _engine_rows(engine: Engine) -> Rows:
    def rows(statement: Select, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        with engine.connect() as connection:
            return connection.execute(statement, params).all()

    return rows


@dataclass(frozen=True)
class _Piece:
    data: bytes  # as stored: compressed
    uscc: np.ndarray  # each pair's USCC as UTF-8 bytes, sorted (as the strings: by code point): searched by bisection

    @classmethod
    def decoded(cls, data: bytes) -> _Piece:
        uscc = pl.scan_parquet(data).select("uscc").collect()["uscc"].cast(pl.Binary).to_list()
        return cls(data, np.array(uscc, dtype=bytes))

    @property
    def nbytes(self) -> int:
        return len(self.data) + self.uscc.nbytes


@dataclass(frozen=True)
class _Group:
    """ROW_GROUP pairs of a piece (fewer at its end), decoded and kept small: policy ids as codes, the other columns
    in their stored (narrow) types."""

    policy: np.ndarray  # code of each pair's policy id in ``codes``
    codes: dict[str, int]
    values: pl.DataFrame  # the features and the tail, in (uscc, policy_id) order

    @classmethod
    def decoded(cls, data: bytes, at: int) -> _Group:
        found = pl.scan_parquet(data).slice(at * ROW_GROUP, ROW_GROUP).collect()  # only the row groups it spans
        names, policy = np.unique(found["policy_id"].to_numpy(), return_inverse=True)
        return cls(policy.astype(np.int32), {n: i for i, n in enumerate(names)}, found.drop(KEY))

    @property
    def nbytes(self) -> int:
        return self.values.estimated_size() + self.policy.nbytes + 100 * len(self.codes)

    def find(self, low: int, high: int, policy_id: str) -> dict[str, Any] | None:
        """The row of ``policy_id`` among rows ``low`` … ``high`` - 1 (one enterprise's), features as float."""
        code = self.codes.get(policy_id)
        at = np.flatnonzero(self.policy[low:high] == code) if code is not None else ()
        if not len(at):
            return None
        row = self.values.row(low + int(at[0]), named=True)
        return {n: float(v) if n in _FEATURES and v is not None else v for n, v in row.items()}


class _Cache:
    """Pieces (compressed, with their pairs' USCCs) and decoded groups of ROW_GROUP pairs, least recently used out
    past a number of bytes each. Keys hold (run_id, part, piece, pairs): ``pairs`` changes when ``forget_pairs``
    rewrites a piece, so a rewritten piece is never served from an older copy. Once its piece is in memory, a
    piece without the enterprise costs a bisection (hash partitions of a run overlap in USCC range) and a pair's
    group of pairs is decoded (about a millisecond) once: a lookup then costs an indexed query and microseconds."""

    def __init__(self, piece_bytes: int, group_bytes: int) -> None:
        self._pieces: LRUCache = LRUCache(maxsize=piece_bytes, getsizeof=lambda p: p.nbytes)
        self._groups: LRUCache = LRUCache(maxsize=group_bytes, getsizeof=lambda g: g.nbytes)
        self._lock = threading.Lock()

    def _get(self, cache: LRUCache, key: tuple) -> Any:
        with self._lock:
            return cache.get(key)

    def _kept(self, cache: LRUCache, key: tuple, value: Any) -> None:
        if value.nbytes <= cache.maxsize:
            with self._lock:
                cache[key] = value

    def _piece(self, rows: Rows, key: tuple[str, int, int, int]) -> _Piece | None:
        piece = self._get(self._pieces, key)
        if piece is None:
            found = rows(_BYTES, {"run_id": key[0], "part": key[1], "piece": key[2]})
            if not found:
                return None  # deleted since it was listed: every pair of it forgotten
            pairs, data = found[0]
            piece = _Piece.decoded(bytes(data))
            self._kept(self._pieces, (*key[:3], pairs), piece)  # as read now, should it have changed since listed
        return piece

    def find(self, rows: Rows, key: tuple[str, int, int, int], uscc: str, policy_id: str) -> dict[str, Any] | None:
        piece = self._piece(rows, key)
        if piece is None:
            return None
        code = uscc.encode()
        low, high = int(np.searchsorted(piece.uscc, code, "left")), int(np.searchsorted(piece.uscc, code, "right"))
        if low == high:
            return None  # none of the enterprise's pairs is in this piece: nothing to decode
        for at in range(low // ROW_GROUP, -(-high // ROW_GROUP)):  # the one or two groups holding its pairs
            group = self._get(self._groups, (*key, at))
            if group is None:
                group = _Group.decoded(piece.data, at)
                self._kept(self._groups, (*key, at), group)
            start = at * ROW_GROUP
            found = group.find(max(low - start, 0), min(high - start, ROW_GROUP), policy_id)
            if found is not None:
                return {"uscc": uscc, "policy_id": policy_id} | found
        return None

    def clear(self) -> None:
        with self._lock:
            self._pieces.clear()
            self._groups.clear()


_CACHE = _Cache(CACHE_BYTES, GROUP_BYTES)


def read_pair(
    engine: Engine, uscc: str, policy_id: str, run_id: str | None = None, *, rows: Rows | None = None
) -> dict[str, Any] | None:
    """The stored row of (uscc, policy_id) in run ``run_id``, or in the latest run that ranked it (latest as-of
    date, then latest finished): run_id and every column of ``COLUMNS``; None when no run ranked it. ``rows``
    runs the lookup's statements (e.g. the service's event-loop connection, ``LoopReader.rows``); by default a
    connection of ``engine``."""
    rows = rows or _engine_rows(engine)
    params = {"uscc": uscc, "feature_set": FEATURE_SET}
    candidates = rows(_OF_LATEST, params) if run_id is None else rows(_OF_RUN, params | {"run_id": run_id})
    for key in candidates:  # hash partitions overlap in USCC range: a few pieces may cover it; one holds it
        found = _CACHE.find(rows, tuple(key), uscc, policy_id)
        if found is not None:
            return {"run_id": key[0], **found}
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

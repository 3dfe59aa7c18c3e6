"""A registry cut once into partitions of enterprises, so that a run checks and profiles one partition at a time.

Checking a registry whole holds every table in memory (about 2 GiB a million enterprises): a run of ten million
would not fit. ``split_registry`` instead streams each table once into one Arrow IPC file per partition (a range
of USCCs: ``features.registries.partitions``), row numbers and all, and ``check_part`` checks one
partition's files as ``check_registry`` checks a whole registry. Every check is local to an enterprise's rows —
the business register, its duplicates, the reference from a table's row to its enterprise — except the
duplicate checks of the two tables whose key does not hold the USCC (``patents.patent_no``,
``certifications.certificate_no``): the same number may be delivered for enterprises of two partitions, so those
verdicts are worked out once over the whole table (its key columns, then the few rows whose key repeats) and
handed to every partition. The union of the partitions' checks is the whole check, row for row
(tests/features/test_split.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from features.registries.partitions import Partitioning
from features.registries.quarantine import ROW
from features.registries.read import TableScan, fingerprint, scan_registry
from features.registries.validate import (
    ENTERPRISES,
    RegistryCheck,
    TableCheck,
    check_table,
    duplicate_rows,
    today_in_china,
)

__all__ = ["RegistrySplit", "check_part", "split_registry"]

_PART = "_part"


@dataclass(frozen=True)
class RegistrySplit:
    """Where a registry's partitions wait, and what every partition's check needs from the whole registry.

    Small and picklable: a worker of another process reads its partition's files itself (on a cluster of
    several machines, ``folder`` must be one they all reach)."""

    directory: Path
    fingerprint: str
    partitions: int
    folder: Path
    checked_on: date
    across: dict[str, pl.DataFrame]  # duplicate verdicts over the whole table, for keys without the USCC


def split_registry(
    directory: Path,
    partitioning: Partitioning,
    folder: Path,
    *,
    digest: str | None = None,
    checked_on: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> RegistrySplit:
    """Stream every table of the registry in ``directory`` into ``folder``, one file per partition.

    Raises as ``check_registry`` does for a file that is missing or of the wrong shape, before reading any row.
    ``digest``: the files' fingerprint when the caller already took it."""
    say = progress or (lambda _message: None)
    directory = Path(directory)
    scans = scan_registry(directory)
    if digest is None:
        say("fingerprinting the registry files")
        digest = fingerprint(scan.path for scan in scans.values())
    across: dict[str, pl.DataFrame] = {}
    for name, scan in scans.items():
        say(f"splitting {scan.path.name} into {partitioning.n} partitions")
        # The scan's frame already numbers the rows and holds each value as delivered beside its parsed one:
        # what a partition's check reads is what the whole check reads, filtered.
        # Arrow IPC, lz4: written in about half the time Parquet takes (measured at a million enterprises), a
        # third of the uncompressed size on disk; the files live only as long as the run.
        scan.frame.with_columns(partitioning.of().alias(_PART)).sink_ipc(
            pl.PartitionBy(folder / name, key=_PART, include_key=False), compression="lz4", mkdir=True
        )
        if "uscc" not in scan.table.key:
            verdicts = _across(scan)
            if verdicts is not None:
                across[name] = verdicts
    return RegistrySplit(directory, digest, partitioning.n, Path(folder), checked_on or today_in_china(), across)


def _across(scan: TableScan) -> pl.DataFrame | None:
    """``duplicate_rows`` over the whole table, reading only its key columns and then the rows whose key repeats."""
    key = list(scan.table.key)
    keys = scan.frame.select(ROW, *key).collect(engine="streaming")
    repeated = keys.filter(pl.struct(key).is_duplicated()).get_column(ROW)
    if repeated.is_empty():
        return None
    return duplicate_rows(scan.frame.filter(pl.col(ROW).is_in(repeated.implode())).collect(), scan)


def check_part(split: RegistrySplit, k: int) -> RegistryCheck:
    """Partition ``k`` of the split registry, checked: its clean rows and its quarantine."""
    if not 0 <= k < split.partitions:
        raise ValueError(f"partition: expected 0 to {split.partitions - 1}, got {k}")
    scans = scan_registry(split.directory)  # the column-level reading of each file: its schema only
    results: dict[str, TableCheck] = {}
    for name in [ENTERPRISES, *(name for name in scans if name != ENTERPRISES)]:
        results[name] = check_table(
            _part_scan(scans[name], split.folder / name / f"{_PART}={k}"),
            enterprises=results.get(ENTERPRISES),
            checked_on=split.checked_on,
            duplicates=split.across.get(name, pl.DataFrame()) if "uscc" not in scans[name].table.key else None,
        )
    return RegistryCheck(split.directory, {name: results[name] for name in scans}, split.fingerprint)


def _part_scan(scan: TableScan, files: Path) -> TableScan:
    """``scan`` reading one partition's file; an empty frame of the same columns when the partition has no row."""
    schema = scan.frame.collect_schema()
    frame = pl.scan_ipc(files).select(schema.names()) if files.is_dir() else pl.LazyFrame(schema=schema)
    return dataclasses.replace(scan, frame=frame)

"""One matching run in its own process, so its peak memory is its own.

    python bench/_run.py REGISTRY DATABASE_URL AS_OF [PARTITIONS] [ENGINE] [one-after-another]

Prints one JSON line: per-stage seconds, per-stage CPU seconds of this process (the database server's are not
counted: a figure less sensitive to a busy machine than the wall clock), the peak RSS reached by the end of each
stage, total, rerun (no-op) seconds, counts, peak RSS in bytes; on PostgreSQL, the WAL the server wrote during
the run (``pg_stat_wal``: the whole server's, so anything else writing to it is counted too).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, text

from matcher.db import make_engine, upgrade
from matcher.engines import open_engine
from matcher.ranking.serve import PushPlan
from matcher.run import run_matching
from policies.load import load_catalogue


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class _Stages:
    """The run's progress callback: at each stage's start, what the stage before it cost."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self._stage: str | None = None
        self._cpu = time.process_time()

    def __call__(self, stage: str) -> None:
        self.close()
        # "deciding (partition 2 of 8)": a partitioned run's stages are summed over its partitions
        self._stage, self._cpu = stage.split(" (partition ")[0], time.process_time()

    def close(self) -> None:
        if self._stage is not None:
            self.cpu[self._stage] = round(self.cpu.get(self._stage, 0.0) + time.process_time() - self._cpu, 3)
            self.peak[self._stage] = _peak()
        self._stage = None


def _wal_bytes(engine: Engine) -> int | None:
    """Bytes of WAL the server has written since its statistics were reset; None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT wal_bytes FROM pg_stat_wal")).scalar_one())


def main(
    registry: str, url: str, as_of: str, partitions: str = "1", engine_name: str = "local", pass_3: str = ""
) -> None:
    if pass_3 == "one-after-another":  # the old pass 3, for a side-by-side figure: no partition ranked ahead
        import matcher.run
        from matcher.engines import Local
        from matcher.run_passes import write_part

        matcher.run.write_parts_overlapped = lambda calls, done: Local().map(write_part, calls, done)
    day = date.fromisoformat(as_of)
    engine = make_engine(url)
    upgrade(engine)
    policies = load_catalogue().in_force(day)
    stages = _Stages()
    wal = _wal_bytes(engine)
    started = time.perf_counter()
    # As `huiqi run` on a fresh install: ranked by the fallback order (no champion yet), pushed in waves.
    summary = run_matching(
        engine,
        Path(registry),
        day,
        policies,
        push=PushPlan(),
        progress=stages,
        partitions=int(partitions),
        passes=open_engine(engine_name),  # Ray: a local cluster of this machine's cores, started here
    )
    total = time.perf_counter() - started
    stages.close()
    wal = None if wal is None else _wal_bytes(engine) - wal
    peak = _peak()
    started = time.perf_counter()
    again = run_matching(engine, Path(registry), day, policies, push=PushPlan(), partitions=int(partitions))
    rerun = time.perf_counter() - started
    assert again.outcome == "unchanged", again.outcome
    written = sum(
        summary.counts.get(s, 0) for s in ("granted", "awaiting_confirmation", "recommended", "needs_data", "near_miss")
    )
    print(
        json.dumps(
            {
                "timings": summary.timings,
                "cpu": stages.cpu,
                "stage_peak_bytes": stages.peak,
                "seconds": total,
                "rerun_seconds": rerun,
                "counts": summary.counts,
                "decisions": written,
                "peak_bytes": peak,
                "wal_bytes": wal,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:7])

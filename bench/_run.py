"""One matching run in its own process, so its peak memory is its own.

    python bench/_run.py REGISTRY DATABASE_URL AS_OF

Prints one JSON line: per-stage seconds, total, rerun (no-op) seconds, counts, peak RSS in bytes.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date
from pathlib import Path

from matcher.db import make_engine, upgrade
from matcher.ranking.serve import PushPlan
from matcher.run import run_matching
from policies.load import load_catalogue


def main(registry: str, url: str, as_of: str) -> None:
    day = date.fromisoformat(as_of)
    engine = make_engine(url)
    upgrade(engine)
    policies = load_catalogue().in_force(day)
    started = time.perf_counter()
    # As `huiqi run` on a fresh install: ranked by the fallback order (no champion yet), pushed in waves.
    summary = run_matching(engine, Path(registry), day, policies, push=PushPlan())
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    started = time.perf_counter()
    again = run_matching(engine, Path(registry), day, policies, push=PushPlan())
    rerun = time.perf_counter() - started
    assert again.outcome == "unchanged", again.outcome
    written = sum(
        summary.counts.get(s, 0) for s in ("granted", "awaiting_confirmation", "recommended", "needs_data", "near_miss")
    )
    print(
        json.dumps(
            {
                "timings": summary.timings,
                "seconds": total,
                "rerun_seconds": rerun,
                "counts": summary.counts,
                "decisions": written,
                "peak_bytes": peak,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])

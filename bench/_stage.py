"""One benchmark stage in its own process, so its peak memory is its own.

Prints one JSON line: stage, seconds, peak RSS in bytes, and stage figures.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date
from pathlib import Path


def main(stage: str, registry: str, n: int, as_of: str) -> None:
    started = time.perf_counter()
    figures: dict[str, float | int] = {}
    if stage == "generate":
        from features.synthetic import generate

        paths = generate(Path(registry), enterprises=n, seed=1)
        import polars as pl

        figures["rows"] = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in paths.values())
    elif stage == "check":
        from features.registries.validate import check_registry

        result = check_registry(Path(registry))
        figures["rows"] = sum(t.rows_read for t in result.tables.values())
    elif stage == "profiles":
        from features.profiles import build_profiles
        from features.profiles.store import ProfileInfo, write_profiles
        from features.registries.validate import check_registry

        result = check_registry(Path(registry))
        checked = time.perf_counter()
        built = build_profiles({t: result.clean(t) for t in result.tables}, date.fromisoformat(as_of))
        built = built.collect(engine="streaming")
        figures["assemble_seconds"] = time.perf_counter() - checked
        write_profiles(built, Path(registry) / "profiles.parquet", ProfileInfo(date.fromisoformat(as_of), "bench"))
        figures["rows"] = built.height
    elif stage.startswith("parts"):  # e.g. parts8: split into 8 partitions, then check and profile one at a time
        import tempfile

        from features.profiles import build_profiles
        from features.registries.partitions import Partitioning
        from features.registries.read import scan_registry
        from features.registries.split import check_part, split_registry
        from features.registries.validate import ENTERPRISES

        n_parts = int(stage.removeprefix("parts"))
        with tempfile.TemporaryDirectory(prefix="huiqi-split-") as folder:
            cut = Partitioning.of_frame(scan_registry(Path(registry))[ENTERPRISES].frame, n_parts)
            split = split_registry(Path(registry), cut, Path(folder))
            figures["split_seconds"] = time.perf_counter() - started
            rows = 0
            for k in range(n_parts):
                part = check_part(split, k)
                tables = {t: part.clean(t).lazy() for t in part.tables}
                del part
                built = build_profiles(tables, date.fromisoformat(as_of)).collect(engine="streaming")
                rows += built.height
                del tables, built
        figures["rows"] = rows
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"stage": stage, "seconds": seconds, "peak_bytes": peak, **figures}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])

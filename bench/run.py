"""Benchmark: the matching run end to end, at two sizes, on SQLite and PostgreSQL.

    .venv/bin/python bench/run.py [--sizes 100000 1000000] [--databases sqlite postgresql]
                                  [--partitions 1 8] [--engines local local-sequential ray] [--postgresql-url URL]
                                  [--registries DIR] [--json FILE]

Generates the registries once per size (``--registries``: kept in DIR and
reused by the next call), then runs `huiqi run`'s code path (check → profiles
→ decide → rank → write decisions, ledger, notices) on a fresh database each
time, in its own process, and runs it again to show the
rerun is a no-op. Prints per-stage seconds, per-stage CPU seconds of
the run's process, the peak memory reached by the end of each stage (the
database server's own memory is not counted), and the ratio of the largest
size to the smallest; ``--json`` also writes every figure to FILE. ``--partitions``: the run whole (1) and in
that many parts (``huiqi run --partitions``), side by side: the same rows, less memory; ``--engines``: each
partitioned run also on a local Ray cluster of this machine's cores (``--engine ray``; Ray's start-up is in its
time), or in this process with pass 3 one partition after another (``local-sequential``: how it ran before the
next partition was ranked while one is written, on PostgreSQL; there the stages' seconds overlap). Targets
(issue 17, on 2 cores): 1,000,000 enterprises in at most 60 s and 4 GiB; 10,000,000 in at most 12 minutes and
12 GiB, for the embedded engine (``local``); another engine's line says what it adds to local's time in as many
parts. With two sizes, the last lines also say how much more (or less) an enterprise costs at the larger.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _databases import DEFAULT_PG, postgresql_schema  # bench/ is on the path: these scripts run from there
from rich.console import Console
from rich.table import Table

AS_OF = "2025-06-30"
HERE = Path(__file__).resolve().parent


def _process(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def _run(registry: Path, url: str, partitions: int, engine: str, pass_3: str = "") -> dict:
    return json.loads(_process(str(HERE / "_run.py"), str(registry), url, AS_OF, str(partitions), engine, pass_3))


# Issue 17's targets on 2 cores: enterprises → (seconds, GiB of peak memory).
TARGETS = {1_000_000: (60, 4), 10_000_000: (720, 12)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1], help="runs whole (1) or in parts")
    parser.add_argument("--engines", nargs="+", default=["local"], choices=["local", "local-sequential", "ray"])
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    parser.add_argument("--registries", type=Path, help="keep the generated registries here and reuse them")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    console = Console(width=150)
    root = Path(tempfile.mkdtemp(prefix="huiqi-bench-run-"))
    results: dict[tuple[int, str, int, str], dict] = {}
    try:
        for n in args.sizes:
            registry = (args.registries or root) / f"n{n}"
            if not (registry / "manifest.json").exists():  # written last: the registry was generated whole
                _process(str(HERE / "_stage.py"), "generate", str(registry), str(n), AS_OF)
            for db in args.databases:
                for parts, on in [(p, e) for p in args.partitions for e in args.engines if p > 1 or e == "local"]:
                    if db == "sqlite":
                        url, cleanup = f"sqlite:///{root / f'n{n}-p{parts}-{on}.db'}", lambda: None
                    else:
                        url, cleanup = postgresql_schema(args.postgresql_url)
                    try:
                        sequential = on == "local-sequential"  # the old pass 3, beside the new
                        results[n, db, parts, on] = r = _run(
                            registry, url, parts, "local" if sequential else on, "one-after-another" * sequential
                        )
                    finally:
                        cleanup()
                    console.print(
                        f"{n:>9,} {db:<10} {parts:>3} part(s) {on:<5} {r['seconds']:6.1f} s"
                        f"  {r['peak_bytes'] / 2**30:5.2f} GiB  {r['decisions']:,} decisions"
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    keys = list(results)
    table = Table(title=f"matching run as of {AS_OF} (2 cores)")
    table.add_column("stage")
    for n, db, parts, on in keys:
        table.add_column(f"{n:,}\n{db}" + (f"\n{parts} parts\n{on}" if parts > 1 else ""), justify="right")
    # A Ray run reports its passes (its workers' stages overlap), a local run its stages: every name, in order.
    stages = list(dict.fromkeys(stage for r in results.values() for stage in r["timings"]))
    for stage in stages:
        table.add_row(stage, *(f"{results[k]['timings'].get(stage, 0):.1f} s" for k in keys))
    table.add_row("[bold]total", *(f"[bold]{results[k]['seconds']:.1f} s" for k in keys))
    for stage in stages:
        table.add_row(f"CPU: {stage}", *(f"{results[k].get('cpu', {}).get(stage, 0):.1f} s" for k in keys))
    for stage in stages:
        peaks = (results[k].get("stage_peak_bytes", {}).get(stage, 0) / 2**30 for k in keys)
        table.add_row(f"peak by the end of: {stage}", *(f"{p:.2f} GiB" for p in peaks))
    table.add_row("rerun (no-op)", *(f"{results[k]['rerun_seconds']:.1f} s" for k in keys))
    # On Ray, the driver's own peak: each worker's is its own process's (a partition's frames), not counted here.
    table.add_row("peak memory (Ray: the driver's)", *(f"{results[k]['peak_bytes'] / 2**30:.2f} GiB" for k in keys))
    wal = [results[k].get("wal_bytes") for k in keys]
    if any(w is not None for w in wal):  # the server's, during the run: what its disk had to take
        table.add_row("WAL written (PostgreSQL)", *("" if w is None else f"{w / 2**30:.1f} GiB" for w in wal))
    table.add_row("decisions written", *(f"{results[k]['decisions']:,}" for k in keys))
    table.add_row("ledger entries", *(f"{results[k]['counts'].get('granted', 0):,}" for k in keys))
    table.add_row(
        "enterprises/s", *(f"{results[k]['counts']['enterprises'] / results[k]['seconds']:,.0f}" for k in keys)
    )
    console.print(table)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"enterprises": n, "database": db, "partitions": p, "engine": on, **r}
                    for (n, db, p, on), r in results.items()
                ]
            )
        )
    small, large = args.sizes[0], args.sizes[-1]
    for db in args.databases:
        for n, at, parts, on in keys:
            if n != large or at != db:
                continue
            big = results[large, db, parts, on]
            peak = big["peak_bytes"] / 2**30
            line = f"{db} in {parts} part(s) on {on} at {large:,}: {big['seconds']:.1f} s, peak {peak:.2f} GiB"
            if large != small:
                base = results[small, db, parts, on]
                cost = (big["seconds"] / large) / (base["seconds"] / small) - 1
                line += f" (an enterprise costs {cost:+.1%} against {small:,})"
            local = results.get((large, db, parts, "local"))
            if on != "local" and local is not None:  # Ray or the older pass 3: its overhead, not the target
                extra = big["seconds"] - local["seconds"]
                line += f" — {extra:+.1f} s ({extra / local['seconds']:+.0%}) against local in as many parts"
            elif large in TARGETS and on == "local":
                seconds, gib = TARGETS[large]
                verdict = "meets" if big["seconds"] <= seconds and big["peak_bytes"] <= gib * 2**30 else "MISSES"
                line += f" — {verdict} the {seconds} s / {gib} GiB target"
            console.print(line)


if __name__ == "__main__":
    main()

"""Benchmark: the matching run end to end, at two sizes, on SQLite and PostgreSQL.

    .venv/bin/python bench/run.py [--sizes 100000 1000000] [--databases sqlite postgresql]
                                  [--postgresql-url URL]

Generates the registries once per size, then runs `huiqi run`'s code path
(check → profiles → decide → rank → write decisions, ledger, notices) on a
fresh database each time, in its own process, and runs it again to show the
rerun is a no-op. Prints per-stage seconds, total, peak memory of the run's
process (the database server's own memory is not counted), and the ratio of
the largest size to the smallest. Target (issue 4): 1,000,000 enterprises in
at most 3 minutes and 8 GiB on 2 cores.
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


def _run(registry: Path, url: str) -> dict:
    return json.loads(_process(str(HERE / "_run.py"), str(registry), url, AS_OF))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    args = parser.parse_args()
    console = Console(width=150)
    root = Path(tempfile.mkdtemp(prefix="huiqi-bench-run-"))
    results: dict[tuple[int, str], dict] = {}
    try:
        for n in args.sizes:
            registry = root / f"n{n}"
            _process(str(HERE / "_stage.py"), "generate", str(registry), str(n), AS_OF)
            for db in args.databases:
                if db == "sqlite":
                    url, cleanup = f"sqlite:///{root / f'n{n}.db'}", lambda: None
                else:
                    url, cleanup = postgresql_schema(args.postgresql_url)
                try:
                    results[n, db] = r = _run(registry, url)
                finally:
                    cleanup()
                console.print(
                    f"{n:>9,} {db:<10} {r['seconds']:6.1f} s  {r['peak_bytes'] / 2**30:5.2f} GiB"
                    f"  {r['decisions']:,} decisions"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    keys = list(results)
    table = Table(title=f"matching run as of {AS_OF} (2 cores)")
    table.add_column("stage")
    for n, db in keys:
        table.add_column(f"{n:,}\n{db}", justify="right")
    stages = list(next(iter(results.values()))["timings"])
    for stage in stages:
        table.add_row(stage, *(f"{results[k]['timings'].get(stage, 0):.1f} s" for k in keys))
    table.add_row("[bold]total", *(f"[bold]{results[k]['seconds']:.1f} s" for k in keys))
    table.add_row("rerun (no-op)", *(f"{results[k]['rerun_seconds']:.1f} s" for k in keys))
    table.add_row("peak memory", *(f"{results[k]['peak_bytes'] / 2**30:.2f} GiB" for k in keys))
    table.add_row("decisions written", *(f"{results[k]['decisions']:,}" for k in keys))
    table.add_row("ledger entries", *(f"{results[k]['counts'].get('granted', 0):,}" for k in keys))
    table.add_row(
        "enterprises/s", *(f"{results[k]['counts']['enterprises'] / results[k]['seconds']:,.0f}" for k in keys)
    )
    console.print(table)
    small, large = args.sizes[0], args.sizes[-1]
    for db in args.databases:
        big = results[large, db]
        ratio = big["seconds"] / results[small, db]["seconds"]
        verdict = "meets" if big["seconds"] <= 180 and big["peak_bytes"] <= 8 * 2**30 else "MISSES"
        console.print(
            f"{db} at {large:,}: {big['seconds']:.1f} s, peak {big['peak_bytes'] / 2**30:.2f} GiB"
            f" ({ratio:.1f}× the time for {large // small}× the enterprises) — {verdict} the 3 min / 8 GiB target"
        )


if __name__ == "__main__":
    main()

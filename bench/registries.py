"""Benchmark: registry generation, validation and profile assembly at two sizes.

    .venv/bin/python bench/registries.py [--sizes 100000 1000000] [--partitions 8] [--keep]

Each stage runs in its own process (peak memory is that stage's own). Prints
seconds, peak memory and throughput per stage and size, and the ratio of the
largest size to the smallest side by side. Target (issue 2): 1,000,000
profiles (check + assemble + write) in at most 60 s and 8 GiB on 2 cores.
The last stage, ``parts N``, is what a run in N partitions does instead of
the whole check and profiles: split the registry into one file per
partition, then check and profile one partition at a time (issue 17: the
peak no longer grows with the population).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

STAGES = ("generate", "check", "profiles")
AS_OF = "2025-06-30"
HERE = Path(__file__).resolve().parent


def run_stage(stage: str, registry: Path, n: int) -> dict:
    cmd = [sys.executable, str(HERE / "_stage.py"), stage, str(registry), str(n), AS_OF]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE.parent).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the generated registries")
    parser.add_argument("--partitions", type=int, default=8, help="the partitions of the last stage")
    parser.add_argument("--registries", type=Path, help="generate into (or reuse) DIR/n<size>")
    args = parser.parse_args()
    stages = (*STAGES, f"parts{args.partitions}")
    console = Console()
    results: dict[int, dict[str, dict]] = {}
    root = args.registries or Path(tempfile.mkdtemp(prefix="huiqi-bench-"))
    try:
        for n in args.sizes:
            registry = root / f"n{n}"
            results[n] = {}
            for stage in stages:
                if stage == "generate" and (registry / "manifest.json").exists():
                    continue  # kept from an earlier call
                results[n][stage] = r = run_stage(stage, registry, n)
                console.print(f"{n:>9,} {stage:<9} {r['seconds']:7.1f} s  {r['peak_bytes'] / 2**30:5.2f} GiB")
    finally:
        if not args.keep and not args.registries:
            shutil.rmtree(root, ignore_errors=True)

    table = Table(title="registries → profiles (2 cores)")
    for col in ("stage", *(f"{n:,}" for n in args.sizes), "peak GiB", "rows/s", "time ratio"):
        table.add_column(col, justify="right")
    small, large = args.sizes[0], args.sizes[-1]
    for stage in stages:
        if stage not in results[large] or stage not in results[small]:
            continue
        big = results[large][stage]
        ratio = big["seconds"] / results[small][stage]["seconds"]
        table.add_row(
            stage,
            *(f"{results[n][stage]['seconds']:.1f} s" for n in args.sizes),
            " / ".join(f"{results[n][stage]['peak_bytes'] / 2**30:.2f}" for n in args.sizes),
            f"{big['rows'] / big['seconds']:,.0f}",
            f"{ratio:.1f}× for {large // small}× data",
        )
    console.print(table)
    p = results[large]["profiles"]
    verdict = "meets" if p["seconds"] <= 60 and p["peak_bytes"] <= 8 * 2**30 else "MISSES"
    console.print(
        f"profiles at {large:,}: {p['seconds']:.1f} s (assembly {p['assemble_seconds']:.1f} s),"
        f" peak {p['peak_bytes'] / 2**30:.2f} GiB — {verdict} the 60 s / 8 GiB target"
    )


if __name__ == "__main__":
    main()

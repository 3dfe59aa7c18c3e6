"""Benchmark: the whole catalogue over every profile (bulk) beside the tracer over a sample.

    .venv/bin/python bench/rules.py [--enterprises 1000000] [--sample 2000]

Builds (and caches under bench/out/) synthetic registries and profiles for the
requested size, then times bulk evaluation of every in-force policy and the
per-enterprise tracer, and prints both with their ratio. Target (issue 3): the
catalogue over 1,000,000 profiles in at most 2 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from features.profiles import build_profiles
from features.registries.validate import check_registry
from features.synthetic import generate
from policies.conditions import Leaf
from policies.evaluate import evaluate_policies
from policies.load import load_catalogue
from policies.trace import trace

AS_OF = date(2025, 6, 30)
OUT = Path(__file__).resolve().parent / "out"


def profiles_for(n: int) -> pl.DataFrame:
    path = OUT / f"profiles-{n}.parquet"
    if not path.exists():
        registry = OUT / f"registry-{n}"
        if not (registry / "manifest.json").exists():
            generate(registry, enterprises=n, seed=1)
        result = check_registry(registry)
        build_profiles({t: result.clean(t) for t in result.tables}, AS_OF).collect(engine="streaming").write_parquet(
            path
        )
    return pl.read_parquet(path)


def leaf_count(cond) -> int:
    return 1 if isinstance(cond, Leaf) else sum(leaf_count(c) for c in cond.children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    console = Console()

    profiles = profiles_for(args.enterprises)
    policies = load_catalogue().in_force(AS_OF)
    leaves = sum(leaf_count(p.eligibility) + 1 for p in policies)  # conditions plus the amount

    bulk_times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        wide = evaluate_policies(profiles, policies, AS_OF).collect()
        bulk_times.append(time.perf_counter() - started)
    bulk = min(bulk_times)

    sample = profiles.head(args.sample).to_dicts()
    started = time.perf_counter()
    for facts in sample:
        for p in policies:
            trace(p, facts, AS_OF)
    tracer = (time.perf_counter() - started) / len(sample)

    n = profiles.height
    per_profile_bulk = bulk / n
    table = Table(title=f"{len(policies)} in-force policies ({leaves} rule expressions) over {n:,} profiles")
    for col in ("back-end", "time", "per profile", "rule evaluations / s"):
        table.add_column(col, justify="right")
    table.add_row("bulk (polars)", f"{bulk:.2f} s", f"{per_profile_bulk * 1e6:.2f} µs", f"{n * leaves / bulk:,.0f}")
    table.add_row(f"tracer ({len(sample):,} sample)", f"{tracer * n:.0f} s (extrapolated)", f"{tracer * 1e6:.0f} µs",
                  f"{leaves / tracer:,.0f}")  # fmt: skip
    console.print(table)
    eligible = {p.id: int(wide[f"{p.id}:eligible"].sum()) for p in policies}
    console.print(f"bulk is {tracer / per_profile_bulk:,.0f}× faster per profile than the tracer")
    console.print(f"eligible per policy: {eligible}")
    verdict = "meets" if bulk <= 2 else "MISSES"
    console.print(f"catalogue over {n:,} profiles: {bulk:.2f} s (best of {args.repeat}) — {verdict} the 2 s target")


if __name__ == "__main__":
    main()

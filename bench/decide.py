"""Benchmark: ``decide()`` for the shipped catalogue over every profile, beside the implementation before issue 17.

    .venv/bin/python bench/decide.py [--enterprises 1000000] [--repeat 3] [--prior-share 0.05]

Builds (and caches under bench/out/) the synthetic profiles of ``bench/rules.py`` and the persons behind their
hire counts, then decides the in-force catalogue (loaded as ``huiqi run`` loads it on a fresh install) twice:
first with no earlier run, then with a share of that run's payable benefits as the ledger of an earlier run
(``prior``: already granted, blocking, spending budgets, judged in ``standing``). Each implementation runs in
its own process, so its peak memory is its own: the current ``matcher.decide`` (time per stage) and
``bench/_decide_before.py`` (the code before issue 17, total only).
Every output of the two (decisions, counts, budgets, amount errors, standing, top-ups, persons counted) must be
the same, row for row and value for value. Target (issue 17): 1,000,000 profiles in at most 1.5 s on 2 cores.
Wall-clock seconds are only comparable on a quiet machine: the CPU seconds (all threads, best of the repeats) and
the load average printed at the end say how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench/ modules, when run as a script from the repository root

from rules import AS_OF, OUT, profiles_for  # noqa: E402

FRAMES = ("decisions", "standing", "top_ups", "persons")


def persons_for(n: int, policies) -> pl.DataFrame:
    """The persons behind the hire counts of the per-person policies, as ``huiqi run`` reads them."""
    from features.profiles.social_insurance import hired_persons
    from features.registries.validate import check_registry
    from matcher.persons import person_families

    path = OUT / f"persons-{n}.parquet"
    if not path.exists():
        profiles_for(n)  # generates the registry too
        facts = sorted({fact for _, fact in person_families(policies).values()})
        hires = check_registry(OUT / f"registry-{n}").clean("si_hires")
        hired_persons(hires.lazy(), AS_OF, facts).collect().write_parquet(path)
    return pl.read_parquet(path)


def prior_for(n: int, share: float, policies) -> pl.DataFrame:
    """An earlier run's ledger: ``share`` of the payable benefits the current ``decide`` gives with none."""
    from matcher.decide import decide
    from matcher.ledger.statuses import PAYABLE_DECISIONS

    path = OUT / f"prior-{n}-{share}.parquet"
    if not path.exists():
        decided = decide(profiles_for(n), policies, AS_OF, persons=persons_for(n, policies))
        payable = decided.decisions.filter(pl.col("status").is_in([str(s) for s in PAYABLE_DECISIONS]))
        payable.sample(fraction=share, seed=17).select("uscc", "policy_id", "period_key", "amount_fen").sort(
            "policy_id", "uscc"
        ).write_parquet(path)
    return pl.read_parquet(path)


def worker(which: str, n: int, share: float, repeat: int, out: Path) -> None:
    """One implementation in this process: best-of-``repeat`` seconds, peak RSS over the loaded inputs, outputs."""
    from policies.load import load_catalogue

    policies = load_catalogue().in_force(AS_OF)
    profiles, persons = profiles_for(n), persons_for(n, policies)
    prior = prior_for(n, share, policies) if share else None
    if which == "new":
        from matcher.decide import decide
    else:
        from _decide_before import decide  # type: ignore[no-redef]
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    best, cpu, stages = float("inf"), float("inf"), {}
    for _ in range(repeat):
        timings: dict[str, float] = {}
        started, cpu_started = time.perf_counter(), time.process_time()
        decided = (
            decide(profiles, policies, AS_OF, prior=prior, persons=persons, timings=timings)
            if which == "new"
            else decide(profiles, policies, AS_OF, prior=prior, persons=persons)
        )
        seconds = time.perf_counter() - started
        cpu = min(cpu, time.process_time() - cpu_started)  # every thread's: what a loaded machine cannot inflate
        if seconds < best:
            best, stages = seconds, timings
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for name in FRAMES:
        getattr(decided, name).write_parquet(out / f"{which}-{name}.parquet")
    (out / f"{which}.json").write_text(
        json.dumps(
            {
                "counts": decided.counts,
                "budgets": decided.budgets,
                "amount_errors": decided.amount_errors,
                "seconds": best,
                "cpu_seconds": cpu,
                "stages": stages,
                "loaded_bytes": loaded,
                "peak_bytes": peak,
            },
            default=str,
        )
    )


def _run(which: str, n: int, share: float, repeat: int, out: Path) -> dict:
    args = [sys.executable, __file__, "--worker", which, "--enterprises", str(n), "--prior-share", str(share)]
    done = subprocess.run([*args, "--repeat", str(repeat), "--out", str(out)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{which} failed:\n{done.stderr[-3000:]}")
    return json.loads((out / f"{which}.json").read_text())


def _same(old: dict, new: dict, out: Path) -> int:
    """Assert every output of the two implementations is the same; the number of decisions."""
    for key in ("counts", "budgets", "amount_errors"):
        assert old[key] == new[key], f"{key} differ:\nbefore {old[key]}\nnow    {new[key]}"
    for name in FRAMES:
        before, now = (pl.read_parquet(out / f"{which}-{name}.parquet") for which in ("old", "new"))
        try:
            assert_frame_equal(before, now, check_exact=True)
        except AssertionError as err:
            raise AssertionError(f"{name} differ before and now: {err}") from None
    return pl.scan_parquet(out / "new-decisions.parquet").select(pl.len()).collect().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prior-share", type=float, default=0.05, help="share of payable benefits granted before")
    parser.add_argument("--worker", choices=["old", "new"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.enterprises, args.prior_share, args.repeat, args.out)
        return
    console = Console(width=150)
    n = args.enterprises
    from policies.load import load_catalogue

    policies = load_catalogue().in_force(AS_OF)
    started = time.perf_counter()
    profiles_for(n), persons_for(n, policies)
    if args.prior_share:
        prior_for(n, args.prior_share, policies)
    console.print(f"inputs ready in {time.perf_counter() - started:.1f} s (cached under {OUT})")

    results = {}
    for share in sorted({0.0, args.prior_share}):
        with tempfile.TemporaryDirectory(prefix="huiqi-bench-decide-") as tmp:
            out = Path(tmp)
            old = _run("old", n, share, args.repeat, out)
            new = _run("new", n, share, args.repeat, out)
            rows = _same(old, new, out)
        results[share] = (old, new, rows)
        console.print(f"prior share {share:.0%}: {rows:,} decisions, identical before and now")

    table = Table(title=f"decide(): {len(policies)} in-force policies over {n:,} profiles as of {AS_OF}")
    table.add_column("")
    for share in results:
        table.add_column(f"before\nprior {share:.0%}", justify="right")
        table.add_column(f"now\nprior {share:.0%}", justify="right")
    stages = list(next(iter(results.values()))[1]["stages"])
    for stage in stages:
        table.add_row(stage, *(c for old, new, _ in results.values() for c in ("", f"{new['stages'][stage]:.2f} s")))
    table.add_row(
        "[bold]total", *(f"[bold]{r['seconds']:.2f} s" for old, new, _ in results.values() for r in (old, new))
    )
    table.add_row("CPU (all threads)", *(f"{r['cpu_seconds']:.2f} s" for o, n_, _ in results.values() for r in (o, n_)))
    table.add_row(
        "peak memory over inputs",
        *(f"{(r['peak_bytes'] - r['loaded_bytes']) / 2**30:.2f} GiB" for o, n_, _ in results.values() for r in (o, n_)),
    )
    table.add_row(
        "peak memory", *(f"{r['peak_bytes'] / 2**30:.2f} GiB" for o, n_, _ in results.values() for r in (o, n_))
    )
    table.add_row("decisions", *(f"{rows:,}" for _, _, rows in results.values() for _ in range(2)))
    console.print(table)
    for share, (old, new, _) in results.items():
        verdict = "meets" if new["seconds"] <= 1.5 else "MISSES"
        console.print(
            f"prior share {share:.0%}: {old['seconds']:.2f} s before, {new['seconds']:.2f} s now"
            f" ({old['seconds'] / new['seconds']:.1f}× faster; best of {args.repeat}) — {verdict} the 1.5 s target;"
            f" CPU {old['cpu_seconds']:.2f} s before, {new['cpu_seconds']:.2f} s now"
        )
    console.print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

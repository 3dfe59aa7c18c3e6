"""Benchmark: the ranking stage of a matching run at 1,000,000 enterprises, old path beside new (issue 17).

    .venv/bin/python bench/ranking_stage.py [--enterprises 1000000] [--databases sqlite postgresql]
                                            [--postgresql-url URL] [--cache DIR]

1. Registries for ``--enterprises`` enterprises (``features.synthetic``), their profiles as of 2025-06-30 and
   the shipped catalogue's decisions (``matcher.decide``); ``--cache DIR`` keeps them for the next time.
2. A champion trained through the project's own code: a 3,000-enterprise registry, feedback simulated over
   three as-of dates (``matcher.ranking.simulate``), ``matcher.ranking.train`` into an MLflow store in a
   temporary directory, the version loaded as serving loads it.
3. Per database, on a fresh one each: the old path (``bench/_ranking_before.py``) and the new
   (``matcher.ranking.serve.rank_decisions``), same run id, 5 % holdout, cap 3, timed per sub-stage (history,
   features, scoring, ordering, encoding, storing). Then the stored ``rank_features`` rows (position, wave,
   holdout, score) and the decisions' ``rank`` of both are compared: they must be identical.

Wall clock on a shared 2-core machine: the figures include time other processes took.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl
from _databases import DEFAULT_PG, postgresql_schema  # bench/ is on the path: these scripts run from there
from _ranking_before import rank_decisions_before
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

AS_OF = date(2025, 6, 30)
RUN_ID = "1" * 32
STAGES = ("history", "features", "scoring", "ordering", "encoding", "storing")


def population(n: int, cache: Path | None, console: Console) -> tuple[pl.DataFrame, pl.DataFrame]:
    from features.profiles import build_profiles
    from features.registries.validate import check_registry
    from features.synthetic import generate
    from matcher.decide import decide
    from policies.load import load_catalogue

    root = cache or Path(tempfile.mkdtemp(prefix="huiqi-bench-ranking-"))
    profiles_at, decisions_at = root / f"profiles-{n}.parquet", root / f"decisions-{n}.parquet"
    if profiles_at.exists() and decisions_at.exists():
        return pl.read_parquet(profiles_at), pl.read_parquet(decisions_at)
    started = time.perf_counter()
    generate(root / f"registry-{n}", enterprises=n, seed=1)
    checked = check_registry(root / f"registry-{n}")
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect(engine="streaming")
    decisions = decide(profiles, load_catalogue().in_force(AS_OF), AS_OF).decisions
    console.print(
        f"population: {profiles.height:,} profiles, {decisions.height:,} decisions"
        f" in {time.perf_counter() - started:.0f} s"
    )
    if cache is not None:
        profiles.write_parquet(profiles_at)
        decisions.write_parquet(decisions_at)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return profiles, decisions


def champion(directory: Path, console: Console):
    """A small model trained and registered by the project's code, loaded as a run loads its champion."""
    from features.synthetic import generate
    from matcher.db import make_engine, upgrade
    from matcher.ranking.registry import ModelStore
    from matcher.ranking.simulate import as_of_dates, simulate
    from matcher.ranking.train import train
    from policies.load import load_catalogue

    started = time.perf_counter()
    generate(directory / "registry", enterprises=3_000, seed=11)
    engine = make_engine(f"sqlite:///{directory / 'feedback.db'}")
    upgrade(engine)
    simulate(engine, directory / "registry", as_of_dates(date(2024, 6, 1), AS_OF, 6), load_catalogue().in_force)
    store = ModelStore(f"sqlite:///{directory / 'mlflow.db'}", directory / "artifacts")
    store.create()
    report = train(engine, store)
    engine.dispose()
    console.print(
        f"champion {report.version} trained on {report.train_pairs:,} pairs in {time.perf_counter() - started:.0f} s"
    )
    return store.load(report.version)


def stored(engine) -> pl.DataFrame:
    from matcher.db.models import rank_features as rf

    query = select(rf.c.uscc, rf.c.policy_id, rf.c.position, rf.c.wave, rf.c.holdout, rf.c.score, rf.c.features)
    with engine.connect() as connection:
        rows = connection.execute(query.where(rf.c.run_id == RUN_ID)).all()
    return pl.DataFrame(
        rows, schema=["uscc", "policy_id", "position", "wave", "holdout", "score", "features"], orient="row"
    ).sort("uscc", "policy_id")


def measure(url: str, profiles, decisions, plan) -> dict:
    from matcher.db import make_engine, upgrade
    from matcher.ranking.serve import rank_decisions
    from policies.load import load_catalogue

    policies = load_catalogue().in_force(AS_OF)
    out: dict = {}
    for path in ("old", "new"):
        engine = make_engine(url)
        upgrade(engine)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        if path == "old":
            ranked, _ = rank_decisions_before(
                engine, RUN_ID, decisions, profiles, policies, AS_OF, plan, chunk_rows=100_000, timings=timings
            )
        else:
            ranked = rank_decisions(
                engine, RUN_ID, decisions, profiles, policies, AS_OF, plan, chunk_rows=100_000, timings=timings
            ).decisions
        timings["total"] = time.perf_counter() - started
        out[path] = {
            "timings": timings,
            "rank": ranked.select("uscc", "policy_id", "rank").sort("uscc", "policy_id"),
            "stored": stored(engine),
        }
        engine.dispose()
        if path == "old":  # the same database for both, emptied between them
            from sqlalchemy import delete

            from matcher.db.models import rank_features

            engine = make_engine(url)
            with engine.begin() as connection:
                connection.execute(delete(rank_features))
            engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    parser.add_argument("--cache", type=Path, help="keep the generated population here and reuse it")
    args = parser.parse_args()
    console = Console(width=150)
    from matcher.ranking.serve import PushPlan

    profiles, decisions = population(args.enterprises, args.cache, console)
    work = Path(tempfile.mkdtemp(prefix="huiqi-bench-ranking-"))
    results: dict[str, dict] = {}
    try:
        plan = PushPlan(champion(work / "model", console), cap=3, holdout=0.05)
        for db in args.databases:
            if db == "sqlite":
                url, cleanup = f"sqlite:///{work / 'ranking.db'}", lambda: None
            else:
                url, cleanup = postgresql_schema(args.postgresql_url)
            try:
                results[db] = measure(url, profiles, decisions, plan)
            finally:
                cleanup()
            old, new = results[db]["old"], results[db]["new"]
            same_rank = old["rank"].equals(new["rank"])
            same_rows = old["stored"].equals(new["stored"])
            console.print(
                f"{db}: old {old['timings']['total']:.1f} s, new {new['timings']['total']:.1f} s;"
                f" identical rank: {same_rank}, identical rank_features rows: {same_rows}"
            )
            if not (same_rank and same_rows):
                sys.exit(f"{db}: the new path does not order, time or store as the old one")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Table(
        title=f"ranking stage, {decisions.height:,} decisions of {profiles.height:,} enterprises"
        " (wall clock, shared 2-core machine)"
    )
    table.add_column("sub-stage")
    for db in results:
        table.add_column(f"{db}\nold", justify="right")
        table.add_column(f"{db}\nnew", justify="right")
    for stage in (*STAGES, "total"):
        cells = []
        for db in results:
            for path in ("old", "new"):
                value = results[db][path]["timings"].get(stage)
                cells.append("—" if value is None else f"{value:.1f} s")
        table.add_row(f"[bold]{stage}" if stage == "total" else stage, *cells)
    console.print(table)


if __name__ == "__main__":
    main()

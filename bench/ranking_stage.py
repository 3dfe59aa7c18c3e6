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
   features, scoring, ordering, encoding, storing). The old path stores one row per pair (features as text) in
   a table of the old layout made for it; the new stores Parquet pieces (``matcher.ranking.parts``). Then what
   both stored (uscc, policy_id, position, wave, holdout, score, the features rounded as the old text kept them)
   and the decisions' ``rank`` of both are compared: they must be identical. The stored bytes are printed too.

Wall clock on a shared 2-core machine: the figures include time other processes took.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import _ranking_before
import polars as pl
from _databases import DEFAULT_PG, postgresql_schema  # bench/ is on the path: these scripts run from there
from _ranking_before import rank_decisions_before
from rich.console import Console
from rich.table import Table as Shown
from sqlalchemy import (
    delete,
    func,
    insert,
    select,
    text,
)

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


LEGACY = _ranking_before.rank_features  # the old path's own table of the old layout
SAME = ["uscc", "policy_id", "position", "wave", "holdout", "score"]


def stored(engine, path: str) -> tuple[pl.DataFrame, int]:
    """What a path stored (features rounded to 6 decimals, as the old text) and its size in bytes."""
    from matcher.db.models import rank_feature_parts
    from matcher.ranking.features import FEATURES, decode_features
    from matcher.ranking.parts import read_pairs

    if path == "old":
        with engine.connect() as connection:
            rows = connection.execute(select(LEGACY).where(LEGACY.c.run_id == RUN_ID)).all()
        frame = pl.DataFrame(rows, schema=[c.name for c in LEGACY.columns], orient="row").with_columns(
            decode_features()
        )
        if engine.dialect.name == "postgresql":  # the table with its key index, as the server stores it
            with engine.connect() as connection:
                size = connection.execute(text(f"SELECT pg_total_relation_size('{LEGACY.name}')")).scalar_one()
        else:  # SQLite: the rows' bytes (text plus four 8-byte numbers), before the key index
            size = int(frame.select(pl.col("features").str.len_bytes().sum()).item()) + 8 * 4 * frame.height
    else:
        frame = read_pairs(engine, RUN_ID).with_columns(pl.col(FEATURES).round(6))
        with engine.connect() as connection:
            size = connection.execute(
                select(func.sum(func.length(rank_feature_parts.c.parquet))).where(rank_feature_parts.c.run_id == RUN_ID)
            ).scalar_one()
    frame = frame.select(*SAME, *FEATURES).cast({"position": pl.Int32, "wave": pl.Int32, "score": pl.Float64})
    return frame.sort("uscc", "policy_id"), int(size)


def _explain_before(engine, scorer, uscc: str, policy_id: str):
    """The explanation's lookup as it was before: the pair's row of the latest run, its text parsed."""
    import math

    import numpy as np

    from matcher.db.models import runs
    from matcher.ranking.explain import _explained
    from matcher.ranking.features import FEATURES

    query = (
        select(LEGACY.c.features)
        .join(runs, runs.c.id == LEGACY.c.run_id)
        .where(LEGACY.c.uscc == uscc, LEGACY.c.policy_id == policy_id)
        .order_by(runs.c.as_of.desc(), runs.c.finished_at.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        features = connection.execute(query).scalar_one()
    values = [float(v) if v else math.nan for v in features.split(",")]
    return _explained(scorer, np.array([values[: len(FEATURES)]]), [(uscc, policy_id)], 3)[0]


def explanations(engine, path: str, scorer, pairs: pl.DataFrame) -> list[float]:
    """Seconds per explanation of each of ``pairs`` (the service's work for GET .../explanation, no HTTP)."""
    from matcher.ranking.explain import explain_pair

    seconds = []
    for uscc, policy_id in pairs.iter_rows():
        started = time.perf_counter()
        if path == "old":
            _explain_before(engine, scorer, uscc, policy_id)
        else:
            explain_pair(engine, scorer, uscc, policy_id, top=3)
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(url: str, profiles, decisions, plan, explain: int) -> dict:
    from matcher.db import make_engine, upgrade
    from matcher.db.models import runs
    from matcher.ranking.holdout import held_out
    from matcher.ranking.serve import rank_decisions
    from policies.load import load_catalogue

    policies = load_catalogue().in_force(AS_OF)
    # Pairs the model ranked: a pair of the run's holdout has no ranking reasons to explain (``HeldOutPair``).
    ranked_by_model = decisions.filter(pl.Series(~held_out(decisions["uscc"], RUN_ID, plan.holdout)))
    asked = ranked_by_model.select("uscc", "policy_id").sample(n=min(explain, ranked_by_model.height), seed=7)
    out: dict = {}
    for path in ("old", "new"):
        engine = make_engine(url)
        upgrade(engine)
        LEGACY.create(engine, checkfirst=True)
        with engine.begin() as connection:  # the run the explanations look up (latest run of each pair)
            connection.execute(delete(runs).where(runs.c.id == RUN_ID))
            connection.execute(
                insert(runs).values(
                    id=RUN_ID,
                    as_of=AS_OF,
                    registry_fingerprint="bench",
                    catalogue_fingerprint="bench",
                    policy_versions={},
                    status="completed",
                    started_at=datetime.now(UTC),
                    finished_at=datetime.now(UTC),
                )
            )
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
        rows, size = stored(engine, path)
        seconds = explanations(engine, path, plan.scorer, asked)
        out[path] = {
            "explain": seconds,
            "timings": timings,
            "rank": ranked.select("uscc", "policy_id", "rank").sort("uscc", "policy_id"),
            "stored": rows,
            "bytes": size,
        }
        if path == "old":  # the same database for both: the old rows dropped before the new path runs
            LEGACY.drop(engine)
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    parser.add_argument("--cache", type=Path, help="keep the generated population here and reuse it")
    parser.add_argument("--explain", type=int, default=300, help="explanations of random pairs timed per path")
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
                results[db] = measure(url, profiles, decisions, plan, args.explain)
            finally:
                cleanup()
            old, new = results[db]["old"], results[db]["new"]
            same_rank = old["rank"].equals(new["rank"])
            same_rows = old["stored"].equals(new["stored"])
            console.print(
                f"{db}: old {old['timings']['total']:.1f} s, new {new['timings']['total']:.1f} s;"
                f" identical rank: {same_rank}, identical stored pairs: {same_rows};"
                f" stored {old['bytes'] / 2**20:.1f} MiB (old rows{'' if db == 'postgresql' else ', before the index'})"
                f" → {new['bytes'] / 2**20:.1f} MiB (new Parquet pieces)"
            )
            if not (same_rank and same_rows):
                sys.exit(f"{db}: the new path does not order, time or store as the old one")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Shown(
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
    for db in results:
        for path in ("old", "new"):
            seconds = pl.Series(results[db][path]["explain"]) * 1000
            console.print(
                f"{db} {path}: one pair's explanation (lookup + contributions, no HTTP), {seconds.len()} random"
                f" pairs: median {seconds.median():.2f} ms, p99 {seconds.quantile(0.99):.2f} ms,"
                f" first {seconds[0]:.2f} ms"
            )


if __name__ == "__main__":
    main()

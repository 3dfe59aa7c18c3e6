"""Benchmark: what the ranker's number of rounds buys in ranking quality, against what each round costs.

    .venv/bin/python bench/rounds.py --workdir DIR [--rounds 60 30 20] [--seeds 0 1 2]

DIR is what `bench/service.py --champion --workdir DIR` prepared (its `<size>-champion` folder: a database with
feedback simulated over three as-of dates). For each number of rounds and training seed, trains the ranker as
`huiqi train` does (the production parameters otherwise, the same time-based split, position-aware) and prints,
side by side: the ranking metrics on the held-out queries (NDCG@5, NDCG@10, MAP), the decision metrics the
promotion gate judges by (take-up captured by the first wave, NDCG@cap, MRR; push cap 3), and the cost of the
trees — one pair's contributions (LightGBM's TreeSHAP, what each explanation's ranking reasons take), the same
per pair in a batch of 2,000, and scoring per pair in a batch of the held-out pairs, one thread each.
The rounds `matcher.ranking.model.ROUNDS` sets are chosen from these figures (docs/ranking.md, "Training").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine

from matcher.ranking.evaluate import ranking_metrics, usable_groups
from matcher.ranking.first_wave import decision_metrics
from matcher.ranking.labels import load_feedback
from matcher.ranking.model import ROUNDS, fit_ranker, matrix
from matcher.ranking.propensity import examination, weights
from matcher.ranking.train import split_by_time

CAP = 3  # the push cap the decision metrics judge the first wave by (HUIQI_PUSH_CAP's default)


def _per_call_us(fn, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="bench/service.py's --workdir")
    parser.add_argument("--enterprises", type=int, default=100_000, help="the size it was prepared at")
    parser.add_argument("--rounds", type=int, nargs="+", default=[60, ROUNDS, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    database = args.workdir / f"{args.enterprises}-champion" / "huiqi.db"
    if not database.exists():
        raise SystemExit(
            f"nothing prepared at {database.parent}: run bench/service.py --enterprises {args.enterprises} "
            f"--champion --endpoints explanation --workdir {args.workdir} first"
        )
    engine = create_engine(f"sqlite:///{database.resolve()}")
    train, holdout = split_by_time(usable_groups(load_feedback(engine)), 0.2)
    engine.dispose()
    x, one, batch = matrix(holdout), matrix(holdout)[:1], matrix(holdout)[:2_000]
    weight = weights(holdout, examination(train))
    console = Console(width=170)
    console.print(f"{train.height:,} training pairs, {holdout.height:,} held out; production rounds: {ROUNDS}")
    table = Table(title="rounds: ranking quality on the held-out queries, and what the trees cost (one thread)")
    columns = ("rounds", "seed", "NDCG@5", "NDCG@10", "MAP", "take-up 1st wave", "NDCG@cap", "MRR")
    for name in (*columns, "TreeSHAP 1 pair µs", "TreeSHAP µs/pair (2,000)", "scoring µs/pair"):
        table.add_column(name, justify="right")
    for rounds in args.rounds:
        for seed in args.seeds:
            booster = fit_ranker(train, rounds=rounds, seed=seed)
            scores = booster.predict(x, num_threads=1)
            ranked = ranking_metrics(holdout, scores)
            gate = decision_metrics(holdout, {"ranker": scores}, cap=CAP, weight=weight, draws=100, seed=seed)
            decided = {k: v.value for k, v in gate.estimates["ranker"].items()}
            contrib_one = _per_call_us(lambda b=booster: b.predict(one, pred_contrib=True, num_threads=1), 300)
            contrib_batch = _per_call_us(lambda b=booster: b.predict(batch, pred_contrib=True, num_threads=1), 3)
            scoring = _per_call_us(lambda b=booster: b.predict(x, num_threads=1), 3)
            table.add_row(
                str(rounds),
                str(seed),
                *(f"{ranked[k]:.4f}" for k in ("ndcg_5", "ndcg_10", "map")),
                *(f"{decided[k]:.4f}" for k in ("take_up_first_wave", "ndcg_cap", "mrr")),
                f"{contrib_one:,.0f}",
                f"{contrib_batch / len(batch):,.1f}",
                f"{scoring / len(x):.2f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()

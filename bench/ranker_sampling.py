"""Benchmark: training the ranker on a stratified sample of queries against the full set (issue 17).

    .venv/bin/python bench/ranker_sampling.py [--queries 20000 100000 300000] [--fractions 0.5 0.25 0.1]
                                              [--holdout 20000] [--seed 0]

Synthetic feedback shaped as the label frame (``matcher.ranking.labels``):
queries of 1–8 candidate pairs (one enterprise on one of two as-of dates),
USCCs carrying a registering division drawn from the synthetic registries'
districts (weighted, so some prefectures are rare), 40 policies of uneven
popularity (Zipf), each with fixed category, level, delivery, period and
amount scale. Whether a notice is acted on follows a noisy utility of the
amount, the policy's category against the industry, a preference of each
region for each category, a per-policy appeal and the enterprise's history —
so policy and region matter, as stratification assumes they might.

For each size: the full set and, per fraction, a stratified sample
(``matcher.ranking.sampling``) and a uniform random sample of the same number
of queries, all trained with the production parameters and scored on the same
held-out queries (another seed). Printed side by side: NDCG@5 and NDCG@10 on
the held-out queries, training wall time (sampling included) and CPU time,
peak resident memory above the baseline during training (VmHWM, reset before
each fit through /proc/self/clear_refs; each run in a fresh process, so its
peak is its own), and the largest deviation of a
(policy, region) stratum's share of pairs from its share in the full set.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
from ranker import random_features  # bench/ is on the path: these scripts run from there
from rich.console import Console
from rich.table import Table

from features.standards.divisions import DISTRICTS
from matcher.ranking.evaluate import ranking_metrics, usable_groups
from matcher.ranking.features import CODES
from matcher.ranking.model import fit_ranker, matrix
from matcher.ranking.sampling import region, sample_queries, strata_shares

POLICIES = 40
DATES = (np.datetime64("2024-12-31"), np.datetime64("2025-03-31"))


def feedback(queries: int, seed: int) -> pl.DataFrame:
    """Labelled pairs of ``queries`` queries; the world (policies, regional tastes) is the same for every seed,
    the enterprises and their draws are not."""
    world = np.random.default_rng(2025)
    category = world.integers(0, len(CODES["policy_category"]), POLICIES)
    appeal = world.normal(0, 0.5, POLICIES)
    amount_scale = world.normal(4.5, 0.8, POLICIES)
    popularity = 1.0 / np.arange(1, POLICIES + 1) ** 1.1
    districts = np.array(sorted(DISTRICTS))
    district_weight = 1.0 / np.arange(1, len(districts) + 1)
    prefectures = sorted({d[:4] for d in districts})
    taste = world.normal(0, 0.8, (len(prefectures), len(CODES["policy_category"])))

    rng = np.random.default_rng(seed)
    district = rng.choice(len(districts), queries, p=district_weight / district_weight.sum())
    serial = np.char.zfill((np.arange(queries) + seed * 10_000_000).astype(str), 10)
    uscc = np.char.add(np.char.add("91", districts[district]), serial)
    prefecture = np.searchsorted(prefectures, np.array([d[:4] for d in districts]))[district]
    sizes = rng.integers(1, 9, queries)
    q = np.repeat(np.arange(queries), sizes)
    n = len(q)
    policy = rng.choice(POLICIES, n, p=popularity / popularity.sum())
    columns = random_features(rng, n)
    columns["policy_category"] = category[policy].astype(np.float64)
    columns["log_amount"] = amount_scale[policy] + rng.normal(0, 0.5, n)
    industry = rng.integers(0, len(CODES["industry_section"]), queries)
    columns["industry_section"] = industry[q].astype(np.float64)
    utility = (
        0.8 * columns["log_amount"]
        + 1.2 * (category[policy] == industry[q] % 5)
        + taste[prefecture[q], category[policy]]
        + appeal[policy]
        - 0.7 * (columns["status"] >= 3)
        + 0.3 * columns["past_acted"]
        + rng.normal(0, 1.0, n)
    )
    acted_above, opened_above = np.quantile(utility, [0.8, 0.5])
    label = np.select([utility > acted_above, utility > opened_above], [3, 1], 0)
    frame = pl.DataFrame(
        {
            "as_of": np.array(DATES)[rng.integers(0, len(DATES), queries)][q],
            "uscc": uscc[q],
            "policy_id": np.char.add("P", policy.astype(str)),
            "label": label,
            **columns,
        }
    )
    return (
        frame.unique(["as_of", "uscc", "policy_id"], keep="first", maintain_order=True)
        .with_columns(
            acted=(pl.col("label") == 3).cast(pl.Int32),
            position=(pl.int_range(pl.len()).over("as_of", "uscc") + 1).cast(pl.Int32),
        )
        .with_columns(wave=((pl.col("position") - 1) // 3).cast(pl.Int32))
    )


def _status(field: str) -> int:
    """A memory figure of this process in bytes (VmRSS, VmHWM)."""
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(found.group(1)) * 1024 if found else 0


def _run(size: int, fraction: float | None, how: str, seed: int, holdout_queries: int) -> dict[str, float]:
    """One training run in a fresh process (so its peak memory is its own): generate, sample, train, score."""
    full = feedback(size, seed=1)
    holdout = usable_groups(feedback(holdout_queries, seed=999))
    fit_ranker(full.head(2_000), rounds=2)  # load LightGBM's library before measuring
    cap = size if fraction is None else max(1, round(size * fraction))
    with contextlib.suppress(OSError):  # not Linux: the peak then includes what the process held before
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    if fraction is None:
        rows = full
    elif how == "stratified":
        rows = sample_queries(full, cap, seed=seed).rows
    else:
        rows = _uniform(full, cap, seed)
    booster = fit_ranker(rows)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = max(_status("VmHWM") - before, 0)
    found = ranking_metrics(holdout, booster.predict(matrix(holdout)))
    return {
        "pairs_full": full.height,
        "strata": _strata(full),
        "holdout": holdout.select(pl.struct("as_of", "uscc").n_unique()).item(),
        "queries": rows.select(pl.struct("as_of", "uscc").n_unique()).item(),
        "pairs": rows.height,
        "ndcg_5": found["ndcg_5"],
        "ndcg_10": found["ndcg_10"],
        "wall": wall,
        "cpu": cpu,
        "peak": peak,
        "kept": _strata(rows),
        "deviation": _deviation(rows, full),
    }


def _strata(frame: pl.DataFrame) -> int:
    return frame.select(pl.struct("policy_id", region(pl.col("uscc"))).n_unique()).item()


def _deviation(rows: pl.DataFrame, full: pl.DataFrame) -> float:
    joined = strata_shares(full).join(strata_shares(rows), on=["policy_id", "region"], how="left", suffix="_s")
    return float(joined.select((pl.col("share_s").fill_null(0) - pl.col("share")).abs().max()).item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, nargs="+", default=[20_000, 100_000, 300_000])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.5, 0.25, 0.1])
    parser.add_argument("--holdout", type=int, default=20_000, help="held-out queries, the same for every run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples")
    args = parser.parse_args()
    console = Console(width=160)

    spawn = multiprocessing.get_context("spawn")
    for size in args.queries:
        runs = [("full set", None, "full")]
        runs += [(f"{how} {f:.0%}", f, how) for f in args.fractions for how in ("stratified", "uniform")]
        found = []
        for _, fraction, how in runs:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                found.append(pool.submit(_run, size, fraction, how, args.seed, args.holdout).result())
        first = found[0]
        table = Table(
            title=f"{size:,} queries ({first['pairs_full']:,} pairs, {first['strata']} (policy, region) strata); "
            f"NDCG on the same {first['holdout']:,} held-out queries; 2 cores shared with other jobs"
        )
        for column in ("training set", "queries", "pairs", "NDCG@5", "NDCG@10", "time", "CPU", "peak memory",
                       "strata kept", "max share dev."):  # fmt: skip
            table.add_column(column, justify="left" if column == "training set" else "right")
        for (name, _, _), r in zip(runs, found, strict=True):
            table.add_row(
                name,
                f"{r['queries']:,}",
                f"{r['pairs']:,}",
                f"{r['ndcg_5']:.4f}",
                f"{r['ndcg_10']:.4f}",
                f"{r['wall']:.1f} s",
                f"{r['cpu']:.1f} s",
                f"{r['peak'] / 2**20:,.0f} MiB",
                f"{r['kept']}/{r['strata']}",
                f"{r['deviation']:.4f}",
            )
        console.print(table)


def _uniform(frame: pl.DataFrame, cap: int, seed: int) -> pl.DataFrame:
    """A simple random sample of ``cap`` whole queries: what stratification is compared with."""
    queries = frame.select("as_of", "uscc").unique().sort("as_of", "uscc").sample(cap, seed=seed)
    return frame.join(queries, on=["as_of", "uscc"], how="semi")


if __name__ == "__main__":
    main()

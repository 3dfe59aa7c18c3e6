"""Benchmark: the static analysis (policies/analysis) on the shipped catalogue and on generated policies.

    .venv/bin/python bench/analysis.py [--generated 500] [--workers 2] [--seed 1]

Targets (issue 14): every check on the shipped catalogue in at most 5 s; on 500 generated policies of
realistic size (the shipped ones with their thresholds and regions moved at random, in exclusive groups of
five, so the pairwise checks run too) in at most 60 s on 2 cores. The generated catalogue is split between
``--workers`` processes by whole groups (every relation lies inside one): each loads its share of the texts
and runs every check on it.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from policies.analysis import analyse
from policies.analysis.checks import _Clusters, _pairs, acknowledge, check_pair, check_policy
from policies.compiled import CompiledPolicy
from policies.load import CATALOGUE_DIR, load_catalogue, load_policy_text

GROUP_SIZE = 5
_NUMBER = re.compile(r"(?<=[<>=] )(\d+(?:\.\d+)?)(%?)")
_REGIONS = ["[]", "['44']", "['4403']", "['11']", "['4101']", "['6101']", "['50']", "['3201']"]


def generated(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` policy texts: shipped policies with every threshold moved by up to ±50 % and a random region."""
    rng = random.Random(seed)
    shipped = sorted(CATALOGUE_DIR.glob("*.yaml"))
    texts = []
    for i in range(n):
        text = shipped[i % len(shipped)].read_text(encoding="utf-8")
        old_id = re.search(r"^id: (\S+)$", text, re.M).group(1)  # type: ignore[union-attr]
        text = text.replace(f"id: {old_id}", f"id: gen-{i}", 1)

        def move(m: re.Match[str]) -> str:
            value = float(m.group(1)) * rng.uniform(0.5, 1.5)
            shown = str(round(value)) if value >= 100 else f"{value:.3f}".rstrip("0").rstrip(".")
            return shown + m.group(2)

        head, _, tail = text.partition("\nexamples:")
        head = _NUMBER.sub(move, head)
        head = re.sub(r"^region: .*$", f"region: {rng.choice(_REGIONS)}", head, flags=re.M)
        head = re.sub(r"^relations:(\n  .*)*", f"relations:\n  exclusive_group: g{i // GROUP_SIZE}", head, flags=re.M)
        head = re.sub(r"^  (supersedes|excludes|requires|top_up): .*\n", "", head, flags=re.M)
        texts.append((head + "\nexamples:" + tail, f"gen-{i}.yaml"))
    return texts


def _load(texts: list[tuple[str, str]]) -> list[CompiledPolicy]:
    return [load_policy_text(text, file)[0] for text, file in texts]


def _work(texts: list[tuple[str, str]]) -> tuple[list[tuple[str, str, str]], float, float]:
    """One worker's share (whole exclusive groups: every relation lies inside one): its findings (code,
    severity, policy), the seconds loading the texts took and the seconds the analysis took."""
    start = time.perf_counter()
    policies = _load(texts)
    loaded = time.perf_counter()
    found = [f for p in policies for f in check_policy(p)]
    clusters = _Clusters()  # a group's pairs share one encoder
    found += [f for pair in _pairs(policies) for f in check_pair(*pair, clusters=clusters)]
    findings = [(f.code, f.severity, f.policy_id) for f in acknowledge(found, policies)]
    return findings, loaded - start, time.perf_counter() - loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    catalogue = load_catalogue()
    start = time.perf_counter()
    findings = analyse(list(catalogue.policies))
    shipped = time.perf_counter() - start
    errors = sum(f.severity == "error" for f in findings)
    open_warnings = sum(f.severity == "warning" and f.acknowledged is None for f in findings)
    print(
        f"shipped catalogue: {len(catalogue.policies)} policies, {len(findings)} findings ({errors} errors,"
        f" {open_warnings} warnings not acknowledged) in {shipped:.2f} s (target ≤ 5 s)"
    )

    texts = generated(args.generated, args.seed)
    groups = [texts[i : i + GROUP_SIZE] for i in range(0, len(texts), GROUP_SIZE)]
    shares = [[t for group in groups[w :: args.workers] for t in group] for w in range(args.workers)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(_work, shares))
    took = time.perf_counter() - start
    results = [r for found, _, _ in parts for r in found]
    pairs = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    print(
        f"generated: {len(texts)} policies, {pairs} related pairs, {len(results)} findings in {took:.1f} s wall"
        f" on {args.workers} workers (target ≤ 60 s on 2 cores): analysis"
        f" {max(a for _, _, a in parts):.1f} s, loading the files {max(b for _, b, _ in parts):.1f} s"
        " (slowest worker)"
    )
    counts = Counter(code for code, _, _ in results)
    for code, n in counts.most_common():
        print(f"  {code}: {n}")


if __name__ == "__main__":
    main()

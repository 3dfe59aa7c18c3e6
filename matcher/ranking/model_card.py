"""The model card kept with every registered version: what it was trained on, how it measured, what moved.

A JSON document (``model_card.json``) and the same in Markdown
(``model_card.md``, also the registered version's description in MLflow):
the data window (training and held-out as-of dates), the queries, the held-out
metrics with their intervals beside every baseline's, the examination
propensities the evaluation weighted by, the drift of the held-out pairs from
the training pairs at registration, and the verdict.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from matcher.ranking.drift import THRESHOLD
from matcher.ranking.evaluate import GROUP
from matcher.ranking.first_wave import DecisionMetrics

__all__ = ["BASELINE_NOTES", "card_markdown", "model_card"]

BASELINE_NOTES = {
    "fallback": "the order runs use without a champion: by status (granted first), then the larger amount",
    "amount": "the larger amount first",
    "rule_margin": "the most conditions met, then the smallest gap to a missed threshold",
    "random": "a random order (seeded)",
    "champion": "the champion in service when this model was trained, re-scored on the same pairs",
}
_TITLES = {"take_up_first_wave": "take-up captured by the first wave", "ndcg_cap": "NDCG@cap", "mrr": "MRR"}


def model_card(
    *,
    train_dates: list[date],
    holdout_dates: list[date],
    train_rows: pl.DataFrame,
    holdout: pl.DataFrame,
    metrics: dict[str, dict[str, float]],
    decisions: DecisionMetrics,
    propensities: pl.DataFrame,
    drift: pl.DataFrame,
    promoted: bool,
    reason: str,
    champion_before: str | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    def groups(frame: pl.DataFrame) -> int:
        return frame.select(pl.struct(*GROUP).n_unique()).item() if frame.height else 0

    return {
        "data_window": {
            "train_dates": [str(d) for d in train_dates],
            "holdout_dates": [str(d) for d in holdout_dates],
        },
        "queries": {
            "train_pairs": train_rows.height,
            "train_queries": groups(train_rows),
            "holdout_pairs": holdout.height,
            "holdout_queries": groups(holdout),
            "decision_queries": decisions.queries,
            "decision_enterprises": decisions.enterprises,
            "push_cap": decisions.cap,
        },
        "metrics": decisions.to_dict(),
        "ranking_metrics": metrics,
        "baselines": {name: BASELINE_NOTES[name] for name in metrics if name != "ranker"},
        "propensities": propensities.select("position_id", "notices", "propensity").to_dicts(),
        "drift_at_registration": {
            "threshold": THRESHOLD,
            "features": drift.select("feature", "psi", "drifted").to_dicts(),
            "drifted": drift.filter(pl.col("drifted"))["feature"].to_list(),
        },
        "params": params,
        "promoted": promoted,
        "reason": reason,
        "champion_before": champion_before,
    }


def _interval(e: dict[str, float]) -> str:
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def card_markdown(card: dict[str, Any], version: str | None = None) -> str:
    window, queries, found, params = card["data_window"], card["queries"], card["metrics"], card["params"]
    sample = (
        f" — a stratified sample of the {params['train_queries_available']:,} there were, seed {params['sample_seed']}"
        if params.get("sampled")
        else ""
    )
    lines = [
        f"# huiqi-ranker{' version ' + version if version else ''}",
        "",
        f"- Trained on as-of dates {', '.join(window['train_dates'])} ({queries['train_queries']:,} queries{sample}, "
        f"{queries['train_pairs']:,} pairs); held out {', '.join(window['holdout_dates'])} "
        f"({queries['holdout_queries']:,} queries, {queries['holdout_pairs']:,} pairs).",
        f"- Decision metrics on the {found['queries']:,} held-out queries with more than {found['cap']} candidates "
        f"({found['enterprises']:,} enterprises), {found['level']:.0%} bootstrap intervals over enterprises:",
        "",
        "| scorer | " + " | ".join(_TITLES.values()) + " |",
        "|---|" + "---|" * len(_TITLES),
    ]
    for scorer, by in found["metrics"].items():
        lines.append(f"| {scorer} | " + " | ".join(_interval(by[m]) for m in _TITLES) + " |")
    lines += ["", "Differences in take-up captured by the first wave (paired):", ""]
    lines += [f"- {pair}: {_interval(e)}" for pair, e in found["differences"].items()]
    drifted = card["drift_at_registration"]["drifted"]
    top = card["drift_at_registration"]["features"][:3]
    lines += [
        "",
        "Drift of the held-out pairs from the training pairs (PSI): "
        + ", ".join(f"{f['feature']} {f['psi']:.3f}" for f in top)
        + (f" — above {THRESHOLD}: {', '.join(drifted)}" if drifted else " — none above the threshold"),
        "",
        f"Verdict: {'promoted' if card['promoted'] else 'not promoted'} — {card['reason']}",
    ]
    return "\n".join(lines) + "\n"

"""`huiqi simulate`, `huiqi train`, `huiqi model ...`: the ranker's feedback, training, registry and explanations."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console, stages
from api.ranking import model_store, push_plan
from api.settings import Settings
from matcher.db import open_database
from policies.load import load_catalogue

model_app = typer.Typer(no_args_is_help=True, help="The ranker's models in the MLflow registry.")
app.add_typer(model_app, name="model")

_LABELS = {"ranker": "ranker (new)", "amount": "amount-sorted", "rule_margin": "rule-margin-sorted", "random": "random"}


def _engine(settings: Settings):
    return open_database(settings.database)


@app.command()
def simulate(
    registry: Annotated[Path, typer.Option(exists=True, file_okay=False, help="Directory of registry extracts.")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First as-of date (its month end).")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last as-of date.")],
    every: Annotated[int, typer.Option(min=1, help="Months between as-of dates.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the simulated enterprises' responses.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the matcher on successive month-end as-of dates and record simulated responses (feedback).

    The responses come from a documented simulator with a hidden preference model (docs/ranking.md);
    they are stored with actor 'simulator'. Each run uses the current champion, or the fallback order.
    """
    from matcher.ranking.simulate import as_of_dates
    from matcher.ranking.simulate import simulate as run_simulation

    settings = Settings()
    try:
        dates = as_of_dates(start.date(), end.date(), every)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--from/--to/--every") from None
    if not dates:
        raise typer.BadParameter(
            f"no month end falls between {start.date()} and {end.date()}: widen the period", param_hint="--from/--to"
        )
    engine = _engine(settings)
    catalogue = load_catalogue()
    with stages("simulate") as step:
        report = run_simulation(
            engine, registry, dates, catalogue.in_force, plan=push_plan(settings), seed=seed, progress=step
        )
    if as_json:
        print(json.dumps(asdict(report), default=str, indent=2))
        return
    console.print(
        f"{len(report.dates)} runs ({report.dates[0]} … {report.dates[-1]}), {report.notices:,} notices answered: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(report.responses.items()))
    )
    console.print("[bold]Next:[/] `huiqi train` trains the ranker on this feedback.")


@app.command()
def train(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    holdout_share: Annotated[
        float, typer.Option(min=0.05, max=0.9, help="Share of groups held out (the latest as-of dates).")
    ] = 0.2,
    shuffle_labels: Annotated[
        bool, typer.Option(help="Sanity check: train on shuffled labels (such a model must not become champion).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
) -> None:
    """Train the ranker (LightGBM LambdaRank) on stored feedback, compare with baselines and the champion,
    log and register it in MLflow; the `champion` alias moves only when it beats the champion on held-out NDCG@5."""
    from matcher.ranking.train import train as run_training

    settings = Settings()
    engine = _engine(settings)
    with stages("train") as step:
        step("training, evaluating, registering")
        report = run_training(
            engine, model_store(settings), holdout_share=holdout_share, shuffle_labels=shuffle_labels, seed=seed
        )
    if as_json:
        print(json.dumps(report.to_dict(), default=str, indent=2))
        return
    table = Table(
        title=f"held out: {', '.join(map(str, report.holdout_dates))} — {report.holdout_groups:,} enterprises, "
        f"{report.holdout_pairs:,} pairs (trained on {report.train_pairs:,} pairs)"
    )
    table.add_column("metric")
    names = list(report.metrics)
    for name in names:
        label = _LABELS.get(name, f"champion ({report.champion_before})" if name == "champion" else name)
        table.add_column(label, justify="right")
    for metric, title in (("ndcg_5", "NDCG@5"), ("ndcg_10", "NDCG@10"), ("map", "MAP")):
        values = [report.metrics[n][metric] for n in names]
        best = max(values)
        table.add_row(title, *(f"[bold]{v:.4f}[/]" if v == best else f"{v:.4f}" for v in values))
    console.print(table)
    verdict = "[green]promoted to champion[/]" if report.promoted else "[yellow]registered, not promoted[/]"
    console.print(f"model version {report.version}: {verdict} — {report.reason} ({report.seconds:.1f} s)")


@model_app.command("show")
def model_show(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Registered versions of the ranker, their held-out NDCG@5, and which one is champion."""
    settings = Settings()
    rows = model_store(settings).versions()
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        console.print(
            "no ranker registered yet: runs use the fallback order (granted, awaiting confirmation, recommended, "
            "needs data, near miss; larger amounts first). `huiqi simulate` then `huiqi train` registers one."
        )
        return
    table = Table(title=f"ranker versions in {settings.mlflow_tracking_uri}")
    for column in ("version", "champion", "held-out NDCG@5", "note"):
        table.add_column(column)
    for r in rows:
        ndcg = "" if r["ndcg_5"] is None else f"{r['ndcg_5']:.4f}"
        note = "trained on shuffled labels" if r["shuffled_labels"] else ""
        table.add_row(r["version"], "★" if r["champion"] else "", ndcg, note)
    console.print(table)


@model_app.command("explain")
def model_explain(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    policy: Annotated[str, typer.Option(help="Policy id, e.g. job-retention-refund.")],
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    top: Annotated[int, typer.Option(min=1, max=10, help="How many features.")] = 3,
) -> None:
    """Why the champion puts this notice where it is: the top contributing features, in plain words."""
    from matcher.ranking.errors import RankingError
    from matcher.ranking.explain import explain_pair

    if lang not in ("zh", "en"):
        raise typer.BadParameter(f"expected zh or en, found {lang!r}", param_hint="--lang")
    settings = Settings()
    champion = model_store(settings).champion()
    if champion is None:
        raise RankingError("no champion model: notices follow the fallback order; `huiqi train` registers a model")
    explanation = explain_pair(_engine(settings), champion, uscc, policy, top=top)
    console.print(f"{uscc} · {policy} · {champion.version}", highlight=False)
    for line in explanation.lines(lang):
        console.print(f"  - {line}", highlight=False)


@model_app.command("demote")
def model_demote() -> None:
    """Remove the champion alias: runs go back to the fallback order until a model is promoted again."""
    model_store(Settings()).demote()
    console.print("no champion now: runs use the fallback order")

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
from api.settings import Settings
from matcher.ranking.sizes import MAX_QUERIES

model_app = typer.Typer(no_args_is_help=True, help="The ranker's models in the MLflow registry.")
app.add_typer(model_app, name="model")

_LABELS = {
    "ranker": "ranker (new)",
    "fallback": "fallback order",
    "amount": "amount-sorted",
    "rule_margin": "rule-margin-sorted",
    "random": "random",
}
_DECISION_TITLES = {
    "take_up_first_wave": "take-up, 1st wave",
    "ndcg_cap": "NDCG@cap",
    "mrr": "MRR",
}


def _interval(e: dict) -> str:
    if e["value"] != e["value"]:  # NaN: no query to measure on
        return "–"
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def _engine(settings: Settings):
    from matcher.db import open_database  # here: `huiqi model --help` needs neither SQLAlchemy nor the catalogue

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
    from api.ranking import push_plan
    from matcher.ranking.simulate import as_of_dates
    from matcher.ranking.simulate import simulate as run_simulation
    from policies.load import load_catalogue

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
    seed: Annotated[int, typer.Option(help="Training seed (also draws the sample past --max-queries).")] = 0,
    max_queries: Annotated[
        int,
        typer.Option(
            min=0,
            help="Past this many training queries (enterprise × as-of date), train on a sample of that many whole "
            "queries, stratified by policy and region (docs/ranking.md, 'Training at scale'); 0 trains on all.",
        ),
    ] = MAX_QUERIES,
) -> None:
    """Train the ranker (LightGBM LambdaRank) on stored feedback, compare with baselines and the champion,
    log and register it in MLflow with its model card; the `champion` alias moves only when its take-up captured by
    the first wave beats the champion's (or the fallback order's) with a bootstrap interval above zero."""
    from api.ranking import model_store
    from matcher.ranking.train import train as run_training

    settings = Settings()
    engine = _engine(settings)
    with stages("train") as step:
        step("training, evaluating, registering")
        report = run_training(
            engine,
            model_store(settings),
            holdout_share=holdout_share,
            shuffle_labels=shuffle_labels,
            seed=seed,
            cap=settings.push_cap,
            max_queries=max_queries or None,
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
    found = report.decision_metrics
    decided = Table(
        title=f"what the order decides: {found['queries']:,} held-out queries with more than {found['cap']} "
        f"candidates ({found['enterprises']:,} enterprises), {found['level']:.0%} bootstrap intervals"
    )
    decided.add_column("scorer")
    for title in _DECISION_TITLES.values():
        decided.add_column(title, justify="right")
    decided.add_column("ranker − scorer (take-up)", justify="right")
    for name, by in found["metrics"].items():
        label = _LABELS.get(name, f"champion ({report.champion_before})" if name == "champion" else name)
        diff = found["differences"].get(f"ranker - {name}")
        decided.add_row(label, *(_interval(by[m]) for m in _DECISION_TITLES), "" if diff is None else _interval(diff))
    console.print(decided)
    if report.sampled:
        console.print(
            f"trained on a stratified sample: {report.train_queries:,} of {report.train_queries_available:,} "
            f"training queries (--max-queries {max_queries:,}, seed {seed})"
        )
    verdict = "[green]promoted to champion[/]" if report.promoted else "[yellow]registered, not promoted[/]"
    console.print(f"model version {report.version}: {verdict} — {report.reason} ({report.seconds:.1f} s)")


@model_app.command("show")
def model_show(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Registered versions of the ranker, their held-out metrics, which one is champion, and how far the latest
    run's features drifted from the champion's training data."""
    from api.ranking import model_store
    from matcher.ranking.drift import champion_drift

    settings = Settings()
    store = model_store(settings)
    rows = store.versions()
    drift = champion_drift(_engine(settings), store) if rows else None
    if as_json:
        print(json.dumps({"versions": rows, "drift": drift}, default=str, indent=2))
        return
    if not rows:
        console.print(
            "no ranker registered yet: runs use the fallback order (granted, awaiting confirmation, recommended, "
            "needs data, near miss; larger amounts first). `huiqi simulate` then `huiqi train` registers one."
        )
        return
    table = Table(title=f"ranker versions in {settings.mlflow_tracking_uri}")
    for column in ("version", "champion", "held-out NDCG@5", "take-up, 1st wave", "note"):
        table.add_column(column)
    for r in rows:
        ndcg = "" if r["ndcg_5"] is None else f"{r['ndcg_5']:.4f}"
        m = r["metrics"]
        take_up = (
            _interval({k: m[f"take_up_first_wave{s}"] for k, s in (("value", ""), ("low", "_low"), ("high", "_high"))})
            if "take_up_first_wave_low" in m
            else ""
        )
        note = "trained on shuffled labels" if r["shuffled_labels"] else ""
        table.add_row(r["version"], "★" if r["champion"] else "", ndcg, take_up, note)
    console.print(table)
    _print_drift(drift)


def _print_drift(drift: dict | None) -> None:
    if drift is None:
        return
    if not drift["features"]:
        console.print(
            f"drift: nothing to compare — the champion (version {drift['champion']}) kept no training distribution"
            " (retrain to keep one) or no run ranked its notices yet"
        )
        return
    top = ", ".join(f"{f['feature']} {f['psi']:.3f}" for f in drift["features"][:5])
    console.print(
        f"drift of run {drift['run_id'][:12]} (as of {drift['as_of']}, {drift['pairs']:,} pairs) from the champion's "
        f"training data, population stability index, top movers: {top}",
        highlight=False,
    )
    if drift["drifted"]:
        console.print(
            f"[yellow]warning[/]: {', '.join(drift['drifted'])} drifted past {drift['threshold']} — the champion was "
            "not trained on data like this: retrain (`huiqi train`) or look at what changed in the registries"
        )


@model_app.command("uplift")
def model_uplift(
    run: Annotated[str | None, typer.Option("--run", help="One run's id (default: every run a model ordered).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Take-up of ranked enterprises against the holdout (kept on the fallback order), from the responses
    actually received, with bootstrap intervals over enterprises."""
    from matcher.ranking.uplift import uplift

    settings = Settings()
    report = uplift(_engine(settings), run_id=run)
    if as_json:
        print(json.dumps(report.to_dict(), default=str, indent=2))
        return
    if not report.runs:
        console.print(
            "no run was ordered by a model yet: the uplift compares ranked and held-out enterprises within such "
            "runs. Train a champion (`huiqi train`), run (`huiqi run`), then wait for responses."
        )
        return
    table = Table(title=f"{len(report.runs)} runs ordered by a model, {report.level:.0%} intervals over enterprises")
    for column in ("arm", "enterprises", "notices", "answered", "acted on", "take-up", "acted per enterprise"):
        table.add_column(column, justify="right")
    for arm, row in report.arms.items():
        table.add_row(
            arm,
            f"{row['enterprises']:,}",
            f"{row['notices']:,}",
            f"{row['answered']:,}",
            f"{row['acted']:,}",
            _interval(row["take_up"]),
            _interval(row["acted_per_enterprise"]),
        )
    table.add_row(
        "uplift", "", "", "", "", _interval(report.uplift["take_up"]), _interval(report.uplift["acted_per_enterprise"])
    )
    console.print(table)


@model_app.command("card")
def model_card(
    version: Annotated[str | None, typer.Argument(help="A registered version (default: the champion).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The model card of a registered version: data window, queries, metrics with intervals, baselines, drift."""
    from api.ranking import model_store
    from matcher.ranking.errors import ModelStoreError
    from matcher.ranking.model_card import card_markdown

    store = model_store(Settings())
    version = version or store.champion_version()
    if version is None:
        raise ModelStoreError("no champion to show the card of: name a version (`huiqi model show` lists them)")
    card = store.card(version)
    if card is None:
        raise ModelStoreError(f"version {version} has no model card: it was registered before cards were kept")
    if as_json:
        print(json.dumps(card, default=str, indent=2))
        return
    console.print(card_markdown(card, version), highlight=False)


@model_app.command("explain")
def model_explain(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    policy: Annotated[str, typer.Option(help="Policy id, e.g. job-retention-refund.")],
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    top: Annotated[int, typer.Option(min=1, max=10, help="How many features.")] = 3,
) -> None:
    """Why the champion puts this notice where it is: the top contributing features, in plain words."""
    from api.ranking import model_store
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
    from api.ranking import model_store

    model_store(Settings()).demote()
    console.print("no champion now: runs use the fallback order")

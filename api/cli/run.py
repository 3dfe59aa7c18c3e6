"""`huiqi run` and `huiqi db upgrade`: a matching run into the database."""

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
from api.ranking import push_plan
from api.service.published import PublishedCatalogue
from api.settings import Settings
from matcher.db import make_engine, open_database, upgrade
from matcher.run import RunSummary, run_matching

db_app = typer.Typer(no_args_is_help=True, help="The database: create or upgrade its schema.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema (Alembic) of the database in HUIQI_DATABASE_URL (default: SQLite in data/)."""
    settings = Settings()
    upgrade(make_engine(settings.database))
    console.print(f"schema up to date: {settings.database_shown}")


def print_summary(summary: RunSummary) -> None:
    verb = "completed" if summary.outcome == "completed" else "already completed earlier: nothing changed"
    console.print(f"run {summary.run_id} as of {summary.as_of}: {verb}")
    table = Table(title="decisions")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for name, count in summary.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    scaled = {pid: b for pid, b in summary.budgets.items() if b["scale"] < 1}
    for pid, b in scaled.items():
        console.print(
            f"[yellow]budget[/] {pid}: {b['demanded_fen'] / 100:,.2f} yuan due, {b['remaining_fen'] / 100:,.2f} left"
            f" → every amount scaled by {b['scale']:.4f} (pro rata)",
            highlight=False,
        )
    if summary.timings:
        console.print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items()))


@app.command()
def run(
    registry: Annotated[Path, typer.Option(exists=True, file_okay=False, help="Directory of registry extracts.")],
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Decide as of this date.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (for scripts).")] = False,
) -> None:
    """Decide every in-force policy for every enterprise, and write decisions, ledger and notices once."""
    settings = Settings()
    engine = open_database(settings.database)
    day = as_of.date()
    policies = PublishedCatalogue().load(engine).in_force(day)  # repository files + versions published over HTTP
    with stages("run") as step:
        summary = run_matching(engine, registry, day, policies, progress=step, push=push_plan(settings))
    if as_json:
        print(json.dumps(asdict(summary), default=str, ensure_ascii=False, indent=2))
    else:
        print_summary(summary)

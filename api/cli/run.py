"""`huiqi run` and `huiqi db upgrade`: a matching run into the database."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console, stages
from api.settings import Settings

# The run's machinery (polars, SQLAlchemy, the ranker) is imported by the commands that run, not to print their help.
if TYPE_CHECKING:
    from matcher.run import RunSummary


class RunInterrupted(Exception):
    """The database failed part-way through a run; every stage writes what it decides in committed chunks."""

    def __init__(self, exc: Exception, stage: str, command: str) -> None:
        orig = getattr(exc, "orig", None) or exc
        reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        what = "the database connection was lost" if connection_lost(exc) else "the database stopped the run"
        super().__init__(
            f"{what} during '{stage}' ({reason}). Nothing written so far is lost: every chunk written was"
            " committed, and the run resumes where it stopped. Check that the database is reachable (and has"
            f" room), then run the same command again: {command}"
        )


def connection_lost(exc: BaseException) -> bool:
    """Whether the connection itself went: server restarted, backend terminated, network dropped."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, psycopg.OperationalError):  # bulk writes use the driver directly: its errors come raw
        state = orig.sqlstate or ""  # none: the client saw the connection close; 08: connection; 57P: shutdown
        return not state or state.startswith(("08", "57P"))
    return False


def database_failed(exc: BaseException) -> bool:
    """A failure of the database itself (connection, disk, locks), not of what the run asked of it."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError | psycopg.OperationalError) or connection_lost(exc)


db_app = typer.Typer(no_args_is_help=True, help="The database: create or upgrade its schema.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema (Alembic) of the database in HUIQI_DATABASE_URL (default: SQLite in data/)."""
    from matcher.db import open_database

    settings = Settings()
    open_database(settings.database).dispose()  # a database it cannot open or write is said plainly
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
    for pid, error in summary.amount_errors.items():  # the rule's mistake: an officer must fix the amount
        shown = ", ".join(e["uscc"] for e in error["examples"])
        console.print(
            f"[bold red]amount error[/] {pid}: {error['enterprises']:,} enterprises got an amount that cannot be"
            f" paid ({'; '.join(error['reasons'])}), e.g. {shown}; they got no decision. Fix the policy's"
            " amount and run again.",
            highlight=False,
            soft_wrap=True,
        )
    if summary.timings:
        console.print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items()))


class EngineName(StrEnum):  # typer shows and checks the choices
    local = "local"
    ray = "ray"


@app.command()
def run(
    registry: Annotated[Path, typer.Option(exists=True, file_okay=False, help="Directory of registry extracts.")],
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Decide as of this date.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (for scripts).")] = False,
    partitions: Annotated[
        int,
        typer.Option(
            min=1,
            max=4096,
            help="Decide, rank and write the population in this many parts, one after another (less memory;"
            " the same rows). See docs/scale.md.",
        ),
    ] = 1,
    engine_name: Annotated[
        EngineName,
        typer.Option(
            "--engine",
            # \\[: rich would read [scale] as markup and drop it from the help.
            help="Where the partitions run: in this process (local) or on a Ray cluster (ray: pip install"
            " 'huiqi\\[scale]').",
        ),
    ] = EngineName.local,
    address: Annotated[
        str | None,
        typer.Option(help="With --engine ray: the cluster's address (e.g. ray://head:10001); none starts one here."),
    ] = None,
    spill: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            writable=True,
            help="With --partitions: where the run's temporary files go (the split registry, the frames between"
            " passes; removed at the end). On a Ray cluster of several machines: a folder every worker mounts."
            " Default: the system's temporary folder.",
        ),
    ] = None,
) -> None:
    """Decide every in-force policy for every enterprise, and write decisions, ledger and notices once."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from api.ranking import push_plan
    from api.service.published import PublishedCatalogue
    from matcher.db import open_database
    from matcher.engines import RayUnavailable, open_engine
    from matcher.run import run_matching

    try:  # before the database: a cluster that cannot be reached is said before any work
        passes = open_engine(engine_name.value, address)
    except (RayUnavailable, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--engine / --address") from exc
    settings = Settings()
    engine = open_database(settings.database)
    day = as_of.date()
    current = ["loading the published policies"]

    def step_and_remember(stage: str) -> None:
        current[0] = stage
        step(stage)

    try:
        policies = PublishedCatalogue().load(engine).in_force(day)  # repository files + versions published over HTTP
        with stages("run") as step:
            summary = run_matching(
                engine,
                registry,
                day,
                policies,
                progress=step_and_remember,
                push=push_plan(settings),
                partitions=partitions,
                passes=passes,
                spill=spill,
            )
    except (DBAPIError, psycopg.OperationalError) as exc:
        if not database_failed(exc):
            raise
        raise RunInterrupted(
            exc, current[0], f"huiqi run --registry {shlex.quote(str(registry))} --as-of {day}"
        ) from exc
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(asdict(summary), default=str, ensure_ascii=False, indent=2))
    else:
        print_summary(summary)

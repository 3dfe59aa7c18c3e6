"""`huiqi supervision watch | queue | overview | handling | limits`: e-supervision (电子监察) at the command line.

The same functions as the `/supervision` routes (matcher/supervision, docs/supervision.md). `watch` is the pass
to schedule (hourly or daily): it records each card turned and escalates new red cards, once each.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.settings import Settings
from matcher.supervision.limits import BY, Step

if TYPE_CHECKING:
    import polars as pl

supervision_app = typer.Typer(no_args_is_help=True, help="E-supervision: cards, queues, escalations, handling times.")
app.add_typer(supervision_app, name="supervision")

Now = Annotated[
    datetime | None,
    typer.Option("--now", help="Judge as of this moment (ISO 8601, UTC unless it says); default: now."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
COLOURS = {"red": "bold red", "yellow": "yellow", "green": "green"}


def _context(now: datetime | None):
    from matcher.db import open_database
    from matcher.supervision import WorkingCalendar, load_limits

    settings = Settings()
    limits = load_limits(settings.data_dir / "supervision.yaml")
    moment = (now.replace(tzinfo=UTC) if now and now.tzinfo is None else now) or datetime.now(UTC)
    calendar = WorkingCalendar(supplement=settings.data_dir / "working_calendar.yaml")
    return open_database(settings.database), limits, calendar, moment


def _print(frame: pl.DataFrame, as_json: bool, title: str) -> None:
    if as_json:
        console.print_json(json.dumps(frame.to_dicts(), default=str))
        return
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column)
    for row in frame.iter_rows(named=True):
        style = COLOURS.get(row.get("colour") or "")
        table.add_row(*("" if v is None else str(v) for v in row.values()), style=style)
    console.print(table)


@supervision_app.command("watch")
def watch_command(
    now: Now = None,
    escalate: Annotated[bool, typer.Option(help="Escalate new red cards to the supervisors.")] = True,
    by: Annotated[str, typer.Option("--by", help="Who runs the pass (audited).")] = "scheduler",
    as_json: Json = False,
) -> None:
    """Record the cards open matters turned and escalate new red ones (repeatable: nothing twice)."""
    from matcher.db.models import audit_log
    from matcher.supervision import watch

    engine, limits, calendar, moment = _context(now)
    report = watch(engine, calendar=calendar, limits=limits, now=moment, escalate=escalate)
    with engine.begin() as connection:
        detail = {"recorded": report.recorded, "escalated": report.escalated}
        connection.execute(
            audit_log.insert().values(
                at=datetime.now(UTC),
                actor=f"cli:{by}",
                action="supervision.watch",
                subject="supervision",
                detail=detail,
            )
        )
    out = {"open": report.open, "recorded": report.recorded, "escalated": report.escalated}
    if as_json:
        console.print_json(json.dumps(out))
        return
    console.print(
        f"open matters: {report.open.get('red', 0)} red, {report.open.get('yellow', 0)} yellow, "
        f"{report.open.get('green', 0)} green; recorded {report.recorded or 'nothing new'}; "
        f"escalated {len(report.escalated)}" + (f": {', '.join(report.escalated)}" if report.escalated else "")
    )


@supervision_app.command("queue")
def queue_command(
    now: Now = None,
    step: Annotated[Step | None, typer.Option(help="Only this step.")] = None,
    office: Annotated[str, typer.Option(help="Only offices whose code starts so (or 'treasury').")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Json = False,
) -> None:
    """Open matters, most urgent first, with their cards and who holds them."""
    import polars as pl

    from matcher.supervision import open_cards

    engine, limits, calendar, moment = _context(now)
    with engine.connect() as connection:
        frame = open_cards(connection, calendar=calendar, limits=limits, now=moment)
    if step is not None:
        frame = frame.filter(pl.col("step") == step.value)
    if office:
        frame = frame.filter(pl.col("office").str.starts_with(office))
    columns = ["colour", "step", "matter_id", "office", "policy_id", "opened_at", "used_days", "limit_days", "due_at"]
    _print(frame.select(*columns, "holder").head(limit), as_json, f"open matters as of {moment:%Y-%m-%d %H:%M} UTC")


@supervision_app.command("overview")
def overview_command(now: Now = None, as_json: Json = False) -> None:
    """Every office's open matters per step by colour (the supervisor's view)."""
    import polars as pl

    from matcher.supervision import open_cards

    engine, limits, calendar, moment = _context(now)
    with engine.connect() as connection:
        frame = open_cards(connection, calendar=calendar, limits=limits, now=moment)
    grouped = (
        frame.group_by("office", "step")
        .agg(
            open=pl.len(),
            red=(pl.col("colour") == "red").sum(),
            yellow=(pl.col("colour") == "yellow").sum(),
            green=(pl.col("colour") == "green").sum(),
        )
        .sort("red", "yellow", "open", descending=True)
    )
    _print(grouped, as_json, f"open matters by office as of {moment:%Y-%m-%d %H:%M} UTC")


@supervision_app.command("handling")
def handling_command(
    by: Annotated[list[str], typer.Option("--by", help=f"Group by any of: {', '.join(BY)} (repeat).")] = ["step"],  # noqa: B006
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    as_json: Json = False,
) -> None:
    """Handled matters: count, median and p90 working days, how many late."""
    from matcher.supervision import handling_times

    unknown = sorted(set(by) - set(BY))
    if unknown:
        raise typer.BadParameter(f"expected some of {', '.join(BY)}, found {', '.join(unknown)}", param_hint="--by")
    engine, limits, calendar, _ = _context(None)
    with engine.connect() as connection:
        frame = handling_times(
            connection,
            calendar=calendar,
            limits=limits,
            by=[b for b in BY if b in by],
            since=_day(since),
            until=_day(until),
        )
    _print(frame, as_json, "handling times (working days)")


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


@supervision_app.command("limits")
def limits_command() -> None:
    """The time limits in force (data/supervision.yaml over the defaults)."""
    _, limits, _, _ = _context(None)
    console.print_json(json.dumps(limits.table()))

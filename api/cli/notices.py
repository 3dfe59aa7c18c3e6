"""`huiqi deliver`, `huiqi webhook set`, `huiqi notices dead | requeue`: the push side of notices."""

from __future__ import annotations

import getpass
import time
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.settings import Settings

webhook_app = typer.Typer(no_args_is_help=True, help="Where each enterprise receives its notices.")
notices_app = typer.Typer(no_args_is_help=True, help="Notices: what could not be delivered, and sending it again.")
app.add_typer(webhook_app, name="webhook")
app.add_typer(notices_app, name="notices")


def _engine():
    from matcher.db import open_database

    return open_database(Settings().database)


@webhook_app.command("set")
def webhook_set(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    url: Annotated[str, typer.Option(help="http(s) URL that receives the enterprise's notices.")],
) -> None:
    """Set (or replace) the webhook an enterprise's notices are posted to."""
    from sqlalchemy.dialects import postgresql, sqlite

    from matcher.db.models import webhooks

    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"expected an http:// or https:// URL, found {url!r}", param_hint="--url")
    engine = _engine()
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(webhooks).values(uscc=uscc, url=url)
    with engine.begin() as connection:
        connection.execute(statement.on_conflict_do_update(index_elements=["uscc"], set_={"url": url}))
    console.print(f"notices for {uscc} go to {url}")


@app.command()
def deliver(
    once: Annotated[bool, typer.Option(help="One pass over what is due, then stop.")] = False,
    max_attempts: Annotated[int, typer.Option(min=1, help="Tries before a notice is dead-lettered.")] = 6,
    base_delay: Annotated[float, typer.Option(min=0, help="Seconds before the first retry; doubles each time.")] = 30,
) -> None:
    """Post pending notices to the enterprises' webhooks, retrying with backoff; stops when nothing is due."""
    import httpx

    from api.service.published import PublishedCatalogue
    from api.web.links import link_url
    from matcher.delivery import DeliveryPolicy, deliver_due

    engine = _engine()
    catalogue = PublishedCatalogue().load(engine)  # notices of versions published over HTTP render too
    policy = DeliveryPolicy(max_attempts=max_attempts, base_delay=timedelta(seconds=base_delay))
    totals = {"delivered": 0, "retried": 0, "dead": 0, "withdrawn": 0}
    with httpx.Client() as client:
        while True:
            report = deliver_due(engine, catalogue, client, policy=policy, links=partial(link_url, Settings()))
            for name in totals:
                totals[name] += getattr(report, name)
            if once or report.delivered + report.retried + report.dead + report.withdrawn == 0:
                break
            if report.delivered == 0 and report.retried:  # only retries left: wait for the earliest backoff
                time.sleep(min(policy.base_delay.total_seconds(), 5))
    console.print(", ".join(f"{k}: {v:,}" for k, v in totals.items()))


@notices_app.command("dead")
def dead(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="List at most this many, newest first.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
) -> None:
    """List dead-lettered notices (delivery failed after every attempt), with how many there are in all."""
    from matcher.delivery import dead_letters

    total, rows = dead_letters(_engine(), limit=limit, offset=offset)
    shown = f" ({offset + 1:,}–{offset + len(rows):,} shown)" if rows and len(rows) < total else ""
    if not rows and total:
        shown = f" (none from --offset {offset:,})"
    table = Table(title=f"{total:,} dead-lettered notices{shown}")
    for col in ("id", "notice", "attempts", "last error", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["idempotency_key"],
            str(r["attempts"]),
            r["last_error"] or "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def _operator(by: str | None) -> str:
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (e.g. a container without a passwd entry)
        raise typer.BadParameter("could not tell who you are: give your name", param_hint="--by") from None


@notices_app.command("requeue")
def requeue(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids of dead notices (huiqi notices dead).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead notice.")] = False,
    by: Annotated[str | None, typer.Option(help="Who sends them again (the audit log); default: your login.")] = None,
) -> None:
    """Send dead notices again: back to pending with their attempts reset, for `huiqi deliver`. Audited."""
    from api.service.dead_letters import requeue as requeue_audited
    from api.service.schemas.notices import MAX_REQUEUE_IDS
    from api.service.tokens import Principal

    if bool(ids) == all_:
        raise typer.BadParameter(
            "give the ids of dead notices (huiqi notices dead), or --all; not both", param_hint="IDS"
        )
    if ids and len(ids) > MAX_REQUEUE_IDS:
        raise typer.BadParameter(
            f"at most {MAX_REQUEUE_IDS:,} ids at once, found {len(ids):,}; or use --all", param_hint="IDS"
        )
    done = requeue_audited(_engine(), Principal.operator(_operator(by)), None if all_ else ids)
    console.print(f"{len(done.ids):,} notice{'' if len(done.ids) == 1 else 's'} re-queued: `huiqi deliver` sends them")
    for notice_id, why in done.skipped.items():
        console.print(f"notice {notice_id} left alone: {why}", highlight=False)


@notices_app.command("deadlines")
def deadlines(
    today: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="The day to act for (default: today).")
    ] = None,
) -> None:
    """Remind enterprises of notices they have not answered as the date nears (7, 3, 1 days before), and lapse
    those past their date. Run it once a day (cron); running it again the same day sends nothing twice."""
    from matcher.deadlines import watch_deadlines

    day = today.date() if today else date.today()
    report = watch_deadlines(_engine(), day)
    console.print(f"{day}: {report.reminded:,} reminders queued, {report.lapsed:,} notices lapsed")

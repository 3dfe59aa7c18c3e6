"""`huiqi deliver`, `huiqi webhook set`, `huiqi notices dead`: the push side of notices."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated

import httpx
import typer
from rich.table import Table
from sqlalchemy.dialects import postgresql, sqlite

from api.cli import app
from api.cli.progress import console
from api.service.published import PublishedCatalogue
from api.settings import Settings
from matcher.db import open_database
from matcher.db.models import webhooks
from matcher.delivery import DeliveryPolicy, dead_letters, deliver_due

webhook_app = typer.Typer(no_args_is_help=True, help="Where each enterprise receives its notices.")
notices_app = typer.Typer(no_args_is_help=True, help="Notices: what could not be delivered.")
app.add_typer(webhook_app, name="webhook")
app.add_typer(notices_app, name="notices")


def _engine():
    return open_database(Settings().database)


@webhook_app.command("set")
def webhook_set(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    url: Annotated[str, typer.Option(help="http(s) URL that receives the enterprise's notices.")],
) -> None:
    """Set (or replace) the webhook an enterprise's notices are posted to."""
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
    engine = _engine()
    catalogue = PublishedCatalogue().load(engine)  # notices of versions published over HTTP render too
    policy = DeliveryPolicy(max_attempts=max_attempts, base_delay=timedelta(seconds=base_delay))
    totals = {"delivered": 0, "retried": 0, "dead": 0}
    with httpx.Client() as client:
        while True:
            report = deliver_due(engine, catalogue, client, policy=policy)
            for name in totals:
                totals[name] += getattr(report, name)
            if once or report.delivered + report.retried + report.dead == 0:
                break
            if report.delivered == 0 and report.retried:  # only retries left: wait for the earliest backoff
                time.sleep(min(policy.base_delay.total_seconds(), 5))
    console.print(", ".join(f"{k}: {v:,}" for k, v in totals.items()))


@notices_app.command("dead")
def dead() -> None:
    """List dead-lettered notices (delivery failed after every attempt)."""
    rows = dead_letters(_engine())
    table = Table(title=f"{len(rows)} dead-lettered notices")
    for col in ("notice", "attempts", "last error", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["idempotency_key"], str(r["attempts"]), r["last_error"] or "", str(r["created_at"]))
    console.print(table)

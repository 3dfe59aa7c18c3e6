"""`huiqi payouts prepare | approve | withdraw | export | reconcile | list | show | publicity` (docs/payouts.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.settings import Settings

payouts_app = typer.Typer(no_args_is_help=True, help="Payment batches: prepare, approve, export, reconcile.")
app.add_typer(payouts_app, name="payouts")

By = Annotated[str, typer.Option("--by", help="The officer acting (audited; the preparer may not approve).")]
BatchId = Annotated[int, typer.Argument(min=1, help="The batch's number (`huiqi payouts list`).")]


def _day(value: datetime | None) -> date:
    return value.date() if value else date.today()


def _show(row) -> None:
    from matcher import payouts

    console.print(
        f"batch {row.id} [bold]{row.status}[/] as of {row.as_of}: {row.item_count:,} payments,"
        f" {payouts.yuan(row.total_fen)} yuan",
        highlight=False,
    )
    steps = [("prepared", row.prepared_by, row.prepared_at), ("approved", row.approved_by, row.approved_at),
             ("exported", row.exported_by, row.exported_at), ("reconciled", row.reconciled_by, row.reconciled_at),
             ("withdrawn", row.withdrawn_by, row.withdrawn_at)]  # fmt: skip
    for step, who, when in steps:
        if who:
            console.print(f"  {step} by {who} at {when:%Y-%m-%d %H:%M}", highlight=False)
    if row.file_sha256:
        console.print(f"  payment file SHA-256 {row.file_sha256}", highlight=False)
    if row.status == "reconciled":
        console.print(
            f"  paid {row.paid_count:,} ({payouts.yuan(row.paid_fen)} yuan), failed {row.failed_count:,}"
            f" ({payouts.yuan(row.failed_fen)} yuan)",
            highlight=False,
        )


@payouts_app.command("prepare")
def prepare(
    by: By,
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Default: today.")] = None,
    registry: Annotated[
        Path | None, typer.Option(exists=True, file_okay=False, help="Registry with the accounts extract.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Make payable what nothing holds any more, and gather every payable cash benefit into a new batch."""
    from api.service import payouts as service
    from api.service.tokens import Principal
    from matcher import payouts
    from matcher.db import open_database

    settings = Settings()
    engine = open_database(settings.database)
    try:
        summary = service.prepare_batch(engine, settings, Principal.operator(by), _day(as_of), registry=registry)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(asdict(summary), default=str, ensure_ascii=False, indent=2))
        return
    verb = "resumed and prepared" if summary.resumed else "prepared"
    if summary.status == "withdrawn":
        console.print(f"nothing to pay as of {summary.as_of}: batch {summary.batch_id} closed empty")
    else:
        console.print(
            f"batch {summary.batch_id} {verb} as of {summary.as_of}: {summary.items:,} payments,"
            f" {payouts.yuan(summary.total_fen)} yuan; made payable now: {summary.made_payable:,}",
            highlight=False,
        )
        console.print(f"next: another officer approves it — huiqi payouts approve {summary.batch_id} --by NAME")
    if summary.without_account:
        shown = ", ".join(f"{r['uscc']} ({r['policy_id']} {r['period_key']})" for r in summary.without_account_shown)
        console.print(
            f"[yellow]{summary.without_account:,} payable benefits have no account on file[/] and wait for one"
            f" (the enterprise gives it: PUT /enterprises/{{uscc}}/account): {shown}",
            highlight=False,
            soft_wrap=True,
        )


@payouts_app.command("approve")
def approve(batch_id: BatchId, by: By) -> None:
    """Approve a prepared batch: a second officer, never the one who prepared it."""
    from api.service import payouts as service
    from api.service.tokens import Principal
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        _show(service.approve_batch(engine, Principal.operator(by), batch_id))
    finally:
        engine.dispose()


@payouts_app.command("withdraw")
def withdraw(batch_id: BatchId, by: By, reason: Annotated[str, typer.Option(help="Why, for the audit log.")]) -> None:
    """Withdraw a batch not yet exported: its benefits become payable again."""
    from api.service import payouts as service
    from api.service.tokens import Principal
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        _show(service.withdraw_batch(engine, Principal.operator(by), batch_id, reason))
    finally:
        engine.dispose()


@payouts_app.command("export")
def export(
    batch_id: BatchId,
    by: By,
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="The payment file to write (JSON Lines).")],
) -> None:
    """Write the payment file of an approved batch (again: the same bytes)."""
    from api.service import payouts as service
    from api.service.tokens import Principal
    from matcher import payouts
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        done = service.export_batch(engine, Principal.operator(by), batch_id, out)
    finally:
        engine.dispose()
    again = " (again: the same file as before)" if done.again else ""
    console.print(
        f"wrote {out}{again}: {done.count:,} payments, {payouts.yuan(done.total_fen)} yuan, SHA-256 {done.sha256}",
        highlight=False,
        soft_wrap=True,
    )


@payouts_app.command("reconcile")
def reconcile(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The bank's return file.")], by: By
) -> None:
    """Apply the bank's return file: each payment paid or failed; the whole file is refused if it does not add up."""
    from api.service import payouts as service
    from api.service.tokens import Principal
    from matcher import payouts
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        done = service.reconcile_return(engine, Principal.operator(by), file.read_bytes(), str(file))
    finally:
        engine.dispose()
    if done.already:
        console.print(f"batch {done.batch_id}: already reconciled from this very file; nothing changed")
        return
    console.print(
        f"batch {done.batch_id} reconciled: paid {done.paid:,} ({payouts.yuan(done.paid_fen)} yuan),"
        f" failed {done.failed:,} ({payouts.yuan(done.failed_fen)} yuan); the enterprises are notified",
        highlight=False,
    )


@payouts_app.command("list")
def list_batches(limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """The latest batches."""
    from matcher import payouts
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        with engine.connect() as connection:
            rows = payouts.list_batches(connection, limit)
    finally:
        engine.dispose()
    table = Table(title="payment batches")
    for name in ("batch", "status", "as of", "payments", "yuan", "prepared by", "approved by"):
        table.add_column(name, justify="right" if name in ("batch", "payments", "yuan") else "left")
    for r in rows:
        table.add_row(str(r.id), r.status, str(r.as_of), f"{r.item_count:,}", payouts.yuan(r.total_fen),
                      r.prepared_by, r.approved_by or "")  # fmt: skip
    console.print(table)


@payouts_app.command("show")
def show(batch_id: BatchId) -> None:
    """One batch: its status and who did each step when."""
    from matcher import payouts
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        with engine.connect() as connection:
            _show(payouts.get_batch(connection, batch_id))
    finally:
        engine.dispose()


@payouts_app.command("publicity")
def publicity(
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="CSV file to write (spreadsheet-safe).")],
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Default: today.")] = None,
    policy_id: Annotated[str | None, typer.Option(help="Only this policy.")] = None,
    period_key: Annotated[str | None, typer.Option(help="Only this period.")] = None,
) -> None:
    """Export the publicity list (公示): granted cash benefits in their publicity period."""
    import polars as pl

    from api.service import payouts as service
    from features.files import write_csv_for_people
    from matcher import payouts
    from matcher.db import open_database

    settings = Settings()
    engine = open_database(settings.database)
    try:
        rows = service.publicity(engine, settings, _day(as_of), policy_id=policy_id, period_key=period_key)
    finally:
        engine.dispose()
    frame = pl.DataFrame(
        [
            {"企业名称 name": r["name"], "统一社会信用代码 uscc": r["uscc"], "政策 policy": r["policy_id"],
             "期间 period": r["period_key"], "金额（元）amount (yuan)": payouts.yuan(r["amount_fen"]),
             "状态 status": r["status"], "公示截止 publicity ends": r["publicity_ends"].isoformat()}
            for r in rows
        ],
        schema=["企业名称 name", "统一社会信用代码 uscc", "政策 policy", "期间 period", "金额（元）amount (yuan)",
                "状态 status", "公示截止 publicity ends"],
    )  # fmt: skip
    write_csv_for_people(frame, out)
    console.print(f"wrote {out}: {frame.height:,} benefits in publicity as of {_day(as_of)}")

"""`huiqi supplied-facts list | review | attest | attest-list | lists`: officers review what enterprises supplied,
attest facts, and import a department's complete list of a declared fact.

The same domain functions as `GET /supplied-facts` and `POST /supplied-facts/{id}/review`
(api/service/supplied_facts.py): one transaction each, audited, a review once only.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.settings import Settings

supplied_app = typer.Typer(
    no_args_is_help=True, help="Facts supplied by enterprises or attested by officers: list, review, attest."
)
app.add_typer(supplied_app, name="supplied-facts")

By = Annotated[str, typer.Option("--by", help="The officer acting (audited).")]
_TRUE, _FALSE = ("true", "yes", "1", "是"), ("false", "no", "0", "否")


def _value(name: str, text: str) -> Any:
    """``text`` read as the fact's type; a BadParameter saying what was expected otherwise."""
    from features.profiles.catalogue import fact

    f = fact(name)
    try:
        if f.kind == "bool":
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError(f"expected true or false (是/否), found {text!r}")
            return text.lower() in _TRUE
        if f.kind == "int":
            return int(text)
        if f.kind == "number":
            return float(text)
        if f.kind == "date":
            return date.fromisoformat(text)
    except ValueError as err:
        raise typer.BadParameter(f"'{name}' is a {f.kind} fact: {err}", param_hint="--value") from None
    if f.values and text not in f.values:
        raise typer.BadParameter(f"expected one of {', '.join(f.values)}, found {text!r}", param_hint="--value")
    return text


def _call(action, *args, **kwargs) -> Any:
    """Run a domain function; its problem (not found, already reviewed, invalid) is printed, exit 1."""
    from api.service.problems import Problem
    from matcher.db import open_database

    engine = open_database(Settings().database)
    try:
        return action(engine, *args, **kwargs)
    except Problem as problem:
        console.print(f"[bold red]error:[/] {problem.detail}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _list(engine, status: str, uscc: str | None, limit: int) -> list[dict[str, Any]]:
    from api.service import supplied_facts as service

    with engine.connect() as connection:
        return service.list_supplied(connection, status, limit, 0, uscc)


@supplied_app.command("list")
def list_(
    status: Annotated[str, typer.Option(help="open, accepted, rejected, superseded or all.")] = "open",
    uscc: Annotated[str | None, typer.Option(help="One enterprise's only.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Supplied and attested facts: open ones (the queue) oldest first."""
    if status not in ("open", "accepted", "rejected", "superseded", "all"):
        raise typer.BadParameter(f"expected open, accepted, rejected, superseded or all, found {status!r}")
    rows = _call(_list, status, uscc, limit)
    table = Table(title=f"{len(rows)} supplied facts ({status})")
    for col in ("id", "enterprise", "fact", "value", "from", "supplied", "evidence", "notice", "status", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]), r["uscc"], r["label"]["zh"], str(r["value"]), r["supplied_by"],
            f"{r['supplied_at']:%Y-%m-%d}", r["evidence"] or "", str(r["notice_id"] or ""),
            r["status_words"]["zh"], r["reason"] or "",
        )  # fmt: skip
    console.print(table)


@supplied_app.command("review")
def review(
    supplied_id: Annotated[int, typer.Argument(min=1, help="The supplied fact's id (`huiqi supplied-facts list`).")],
    by: By,
    accept: Annotated[bool, typer.Option("--accept/--reject", help="Accept it, or reject it with --reason.")],
    reason: Annotated[str | None, typer.Option(help="Why (required to reject: the enterprise reads it).")] = None,
    overrides_registry: Annotated[
        bool, typer.Option(help="Keep the value even when a registry later reports another.")
    ] = False,
) -> None:
    """Accept a supplied fact (it enters the next run's profiles) or reject it with a reason. Once only."""
    from api.service import supplied_facts as service
    from api.service.tokens import Principal

    row = _call(
        service.review_supplied,
        Principal.operator(by),
        supplied_id,
        accept=accept,
        reason=reason,
        overrides_registry=overrides_registry,
    )
    console.print(
        f"supplied fact {row['id']} ({row['uscc']}, {row['fact']} = {row['value']}): {row['status']}", highlight=False
    )


@supplied_app.command("attest")
def attest(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    fact_name: Annotated[str, typer.Option("--fact", help="The fact's name (`huiqi facts`).")],
    value: Annotated[str, typer.Option(help="Its value: true/false, a number, a word, a date YYYY-MM-DD.")],
    evidence: Annotated[str, typer.Option(help="What it rests on: a document's reference.")],
    by: By,
    source: Annotated[str, typer.Option(help="officer, or department (the officer records another's).")] = "officer",
    overrides_registry: Annotated[
        bool, typer.Option(help="Keep the value even when a registry later reports another.")
    ] = False,
) -> None:
    """Attest a fact for an enterprise (accepted as it is recorded): it enters the next run's profiles."""
    from api.service import supplied_facts as service
    from api.service.tokens import Principal
    from features.profiles.catalogue import FACTS

    if fact_name not in {f.name for f in FACTS}:
        raise typer.BadParameter(f"no fact '{fact_name}'; `huiqi facts` lists every fact", param_hint="--fact")
    row = _call(
        service.attest,
        Principal.operator(by),
        uscc=uscc,
        name=fact_name,
        value=_value(fact_name, value),
        source=source,
        evidence=evidence,
        overrides_registry=overrides_registry,
    )
    console.print(f"attested {row['fact']} = {row['value']} for {row['uscc']} (id {row['id']})", highlight=False)


@supplied_app.command("attest-list")
def attest_list(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8) or Parquet: uscc, value[, evidence].")],
    fact_name: Annotated[str, typer.Option("--fact", help="The declared fact it attests (`huiqi facts`).")],
    department: Annotated[str, typer.Option(help="Who keeps the list: its id in policies/facts/declared.yaml.")],
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="The date it is complete for.")],
    reference: Annotated[str, typer.Option(help="The list's document reference.")],
    by: By,
) -> None:
    """Import a department's COMPLETE list of a declared fact: firms on it take its value, every other firm the
    fact's value for firms not on it, from the next run. Refused whole when any row is wrong."""
    from api.service import attested_lists as lists_service
    from api.service.tokens import Principal
    from features.profiles.department_lists import MAX_LIST_BYTES

    settings = Settings()
    if not file.is_file():
        raise typer.BadParameter(f"no file at {file}", param_hint="FILE")
    if file.stat().st_size > MAX_LIST_BYTES:
        raise typer.BadParameter(
            f"{file} has {file.stat().st_size:,} bytes; at most {MAX_LIST_BYTES:,} are read (deliver Parquet)",
            param_hint="FILE",
        )
    row = _call(
        lists_service.import_list,
        Principal.operator(by),
        file.read_bytes(),
        name=fact_name,
        department=department,
        as_of=as_of.date(),
        reference=reference,
        source=str(file),
        profiles=settings.profiles_path,
        quarantine_dir=settings.quarantine_dir,
    )
    console.print(
        f"list {row['id']}: {row['entries']:,} firms on the {fact_name} list of {department} as of {row['as_of']};"
        " every other firm is not on it, from the next run",
        highlight=False,
        soft_wrap=True,
    )
    if row.get("unchanged"):
        console.print("the same file is already the current list of this fact: nothing changed", highlight=False)
    elif row.get("checked_against") is None:
        console.print(
            "[yellow]no profiles to check the USCCs against[/] (`huiqi profiles` builds them): rows naming no"
            " enterprise were not counted",
            highlight=False,
            soft_wrap=True,
        )
    if row["unknown"]:
        console.print(
            f"[yellow]{row['unknown']:,} rows name no enterprise in the latest profiles:[/] kept (they apply once the"
            f" firm is known), listed in {row['unknown_file'] or 'the list'}",
            highlight=False,
            soft_wrap=True,
        )


@supplied_app.command("lists")
def lists_(
    fact_name: Annotated[str | None, typer.Option("--fact", help="One fact's lists only.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Imported complete lists, newest first; the newest of each fact is the one the next run uses."""

    from api.service import attested_lists as lists_service

    def read(engine, *args):
        with engine.connect() as connection:
            return lists_service.lists(connection, *args)

    rows = _call(read, fact_name, limit)
    table = Table(title=f"{len(rows)} complete lists")
    for col in ("id", "fact", "department", "as of", "reference", "firms", "unknown", "imported", "by", "current"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]), r["fact"], r["department"], str(r["as_of"]), r["reference"], f"{r['entries']:,}",
            f"{r['unknown']:,}", f"{r['imported_at']:%Y-%m-%d %H:%M}", r["imported_by"], "yes" if r["current"] else "",
        )  # fmt: skip
    console.print(table)

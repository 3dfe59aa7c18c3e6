"""`huiqi supplied-facts list | review | attest`: officers review what enterprises supplied, and attest facts.

The same domain functions as `GET /supplied-facts` and `POST /supplied-facts/{id}/review`
(api/service/supplied_facts.py): one transaction each, audited, a review once only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.service import supplied_facts as service
from api.service.problems import Problem
from api.service.tokens import Principal
from api.settings import Settings
from features.profiles.catalogue import FACTS, fact
from matcher.db import open_database

supplied_app = typer.Typer(
    no_args_is_help=True, help="Facts supplied by enterprises or attested by officers: list, review, attest."
)
app.add_typer(supplied_app, name="supplied-facts")

By = Annotated[str, typer.Option("--by", help="The officer acting (audited).")]
_TRUE, _FALSE = ("true", "yes", "1", "是"), ("false", "no", "0", "否")


def _value(name: str, text: str) -> Any:
    """``text`` read as the fact's type; a BadParameter saying what was expected otherwise."""
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
    engine = open_database(Settings().database)
    try:
        return action(engine, *args, **kwargs)
    except Problem as problem:
        console.print(f"[bold red]error:[/] {problem.detail}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _list(engine, status: str, uscc: str | None, limit: int) -> list[dict[str, Any]]:
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

"""The watch (电子监察): one pass that records each card a matter turned and escalates red cards to supervisors.

Run it as often as wanted (``huiqi supervision watch``, daily or hourly; ``POST /supervision/watch``): every event
is unique by (step, matter, opening, event), so a second pass, or two at once, records nothing twice and
escalates each red card once. What a pass records, with who held the matter at that moment:

- ``opened`` — a dead letter first seen (its own table forgets when it was handled: this is how it is known);
- ``yellow``, ``red`` — the colour an open matter shows now, the first time it shows it;
- ``green`` — a matter that had turned yellow or red (or a dead letter seen open) is handled: at its handling
  time, by whoever handled it (a dead letter: when the pass saw it gone);
- ``escalated`` — a red card sent to the supervisors (their queue: ``escalations``), with an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from matcher.db.models import audit_log, supervision_events
from matcher.supervision.calendar import WorkingCalendar
from matcher.supervision.cards import card
from matcher.supervision.limits import Step, TimeLimits
from matcher.supervision.waiting import QUEUE, matters

__all__ = ["WatchReport", "open_cards", "watch"]

ACTOR = "system:supervision"


@dataclass
class WatchReport:
    """What one pass found and recorded."""

    open: dict[str, int] = field(default_factory=dict)  # open matters by colour
    recorded: dict[str, int] = field(default_factory=dict)  # new events by kind
    escalated: list[str] = field(default_factory=list)  # step:matter_id of the red cards escalated now


def open_cards(connection: Connection, *, calendar: WorkingCalendar, limits: TimeLimits, now: datetime) -> pl.DataFrame:
    """The open matters with their cards, most urgent first (``card``), and who holds each."""
    frame = matters(connection, office_digits=limits.office_digits).filter(pl.col("handled_at").is_null())
    frame = card(frame, calendar=calendar, limits=limits, now=now)
    return frame.with_columns(holder=pl.coalesce("waiting_on", pl.concat_str(pl.lit(QUEUE + ":"), "office")))


def _insert(connection: Connection) -> Any:
    return (sqlite_insert if connection.dialect.name == "sqlite" else pg_insert)(supervision_events)


def _record(connection: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the events not there yet; the ones inserted now (an event already there is skipped, atomically)."""
    inserted = []
    for row in rows:  # few per pass: the transitions since the last one
        statement = _insert(connection).values(**row).on_conflict_do_nothing().returning(supervision_events.c.id)
        if connection.execute(statement).first() is not None:
            inserted.append(row)
    return inserted


def _seen(connection: Connection) -> pl.DataFrame:
    rows = connection.execute(
        select(
            supervision_events.c.step,
            supervision_events.c.matter_id,
            supervision_events.c.opened_at,
            supervision_events.c.event,
            supervision_events.c.office,
            supervision_events.c.policy_id,
        )
    ).all()
    schema = {
        "step": pl.String,
        "matter_id": pl.Int64,
        "opened_at": pl.Datetime("us", "UTC"),
        "event": pl.String,
        "office": pl.String,
        "policy_id": pl.String,
    }
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _event(row: dict[str, Any], event: str, at: datetime, holder: str) -> dict[str, Any]:
    return {
        "step": row["step"],
        "matter_id": row["matter_id"],
        "opened_at": row["opened_at"],
        "event": event,
        "holder": (holder or QUEUE)[:80],
        "office": row["office"],
        "policy_id": row["policy_id"],
        "at": at,
    }


def watch(
    engine: Engine, *, calendar: WorkingCalendar, limits: TimeLimits, now: datetime, escalate: bool = True
) -> WatchReport:
    """One pass, in one transaction: the events and the escalations with their audit entries commit together."""
    report = WatchReport()
    with engine.begin() as connection:
        open_ = open_cards(connection, calendar=calendar, limits=limits, now=now)
        report.open = {c: int(n) for c, n in open_.group_by("colour").len().iter_rows()}
        seen = _seen(connection)
        events: list[dict[str, Any]] = []
        for row in open_.iter_rows(named=True):
            if row["colour"] in ("yellow", "red"):
                events.append(_event(row, row["colour"], now, row["holder"]))
            if row["step"] == Step.DEAD_LETTER.value:
                events.append(_event(row, "opened", now, row["holder"]))
        events += _greens(connection, limits, seen, open_, now)
        recorded = _record(connection, events)
        if escalate:
            reds = [
                _event(r, "escalated", now, r["holder"]) for r in open_.iter_rows(named=True) if r["colour"] == "red"
            ]
            for row in _record(connection, reds):
                subject = f"{row['step']}:{row['matter_id']}"
                connection.execute(
                    insert(audit_log).values(
                        at=now,
                        actor=ACTOR,
                        action="supervision.escalate",
                        subject=subject,
                        detail={"office": row["office"], "policy_id": row["policy_id"], "holder": row["holder"]},
                    )
                )
                report.escalated.append(subject)
                recorded.append(row)
        for row in recorded:
            report.recorded[row["event"]] = report.recorded.get(row["event"], 0) + 1
    return report


def _greens(
    connection: Connection, limits: TimeLimits, seen: pl.DataFrame, open_: pl.DataFrame, now: datetime
) -> list[dict[str, Any]]:
    """Green events for matters seen yellow, red (or, a dead letter, open) that are open no more."""
    keys = ["step", "matter_id", "opened_at"]
    watched = seen.filter(pl.col("event").is_in(["opened", "yellow", "red"])).unique(subset=keys)
    greened = seen.filter(pl.col("event") == "green").select(keys)
    closing = watched.join(greened, on=keys, how="anti").join(open_.select(keys), on=keys, how="anti")
    if closing.is_empty():
        return []
    handled = matters(connection, office_digits=limits.office_digits).filter(pl.col("handled_at").is_not_null())
    found = closing.join(handled.select(*keys, "handled_at", "handled_by"), on=keys, how="left")
    events = []
    for row in found.iter_rows(named=True):
        if row["handled_at"] is not None:
            events.append(_event(row, "green", row["handled_at"], row["handled_by"]))
        elif row["step"] == Step.DEAD_LETTER.value:  # sent again (or withdrawn) since the last pass
            events.append(_event(row, "green", now, "officers"))
    return events

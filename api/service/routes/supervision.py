"""E-supervision over HTTP (matcher/supervision, docs/supervision.md): an officer's queue by urgency with its cards;
for supervisors, every office's open matters, handling times, escalations, and the watch pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from api.service.audit import audit
from api.service.auth import allow
from api.service.problems import PROBLEM_JSON, Problem
from api.service.routes.common import Limit, problems
from api.service.schemas.common import ProblemOut
from api.service.state import StateDep
from api.service.tokens import Principal
from matcher.db.models import supervision_events
from matcher.supervision import (
    CalendarError,
    CalendarUnknown,
    Step,
    TimeLimits,
    WorkingCalendar,
    handling_times,
    load_limits,
    open_cards,
    watch,
)
from matcher.supervision.handling import BY

__all__ = ["Supervision", "router", "supervision_of"]

router = APIRouter(prefix="/supervision", tags=["supervision"])
Officer = Annotated[Principal, Depends(allow("officer", "supervisor", "admin"))]
Supervisor = Annotated[Principal, Depends(allow("supervisor", "admin", why="only supervisors see every office"))]
Office = Annotated[str, Query(max_length=6, pattern=r"^([0-9]{0,6}|treasury)$", description="office code prefix")]
PolicyId = Annotated[str, Query(max_length=80)]


class CalendarMissing(Problem):
    status, title, slug = 503, "Working calendar unknown", "calendar-unknown"


_UNKNOWN_YEAR = (
    "The official working calendar does not know today's year yet: add it to working_calendar.yaml in the data"
    " directory, or upgrade chinesecalendar"
)
_PROBLEMS = problems() | {503: {"model": ProblemOut, "description": _UNKNOWN_YEAR, "content": {PROBLEM_JSON: {}}}}


@dataclass
class Supervision:
    """What the supervision routes share in one process: the limits, the calendar, and the clock (tests set it)."""

    limits: TimeLimits
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def supervision_of(request: Request) -> Supervision:
    state = request.app.state
    if getattr(state, "supervision", None) is None:
        data_dir = state.service.settings.data_dir
        try:
            calendar = WorkingCalendar(supplement=data_dir / "working_calendar.yaml")
        except CalendarError as error:  # the operator's file is wrong: say so, as for an unknown year
            raise CalendarMissing(str(error), detail_zh="法定节假日补充文件有误，无法计算办理时限") from error
        state.supervision = Supervision(load_limits(data_dir / "supervision.yaml"), calendar)
    return state.supervision


SupervisionDep = Annotated[Supervision, Depends(supervision_of)]


def _calendar_problem(error: CalendarUnknown) -> CalendarMissing:
    return CalendarMissing(str(error), detail_zh=f"{error.day.year} 年的法定节假日安排尚未收录，无法计算办理时限")


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def cards(state: StateDep, supervision: Supervision) -> pl.DataFrame:
    try:
        with state.engine.connect() as connection:
            return open_cards(
                connection, calendar=supervision.calendar, limits=supervision.limits, now=supervision.clock()
            )
    except CalendarUnknown as error:
        raise _calendar_problem(error) from error


QUEUE_COLUMNS = (
    "step",
    "matter_id",
    "uscc",
    "policy_id",
    "office",
    "opened_at",
    "limit_days",
    "used_days",
    "share",
    "due_at",
    "colour",
    "holder",
)


@router.get("/queue", responses=_PROBLEMS)
def queue(
    principal: Officer,
    state: StateDep,
    supervision: SupervisionDep,
    step: Annotated[Step | None, Query()] = None,
    office: Office = "",
    policy: PolicyId = "",
    colour: Annotated[Literal["green", "yellow", "red"] | None, Query()] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Open matters most urgent first (red, then the largest share of the limit used), with their card, due time
    (null when past the years the official calendar is known for) and who holds them; filtered as asked."""
    frame = cards(state, supervision)
    if step is not None:
        frame = frame.filter(pl.col("step") == step.value)
    if office:
        frame = frame.filter(pl.col("office").str.starts_with(office))
    if policy:
        frame = frame.filter(pl.col("policy_id") == policy)
    counts = {c: int(n) for c, n in frame.group_by("colour").len().iter_rows()}
    if colour is not None:
        frame = frame.filter(pl.col("colour") == colour)
    return {"counts": counts, "matters": _rows(frame.select(QUEUE_COLUMNS).head(limit))}


@router.get("/overview", responses=_PROBLEMS)
def overview(principal: Supervisor, state: StateDep, supervision: SupervisionDep) -> dict[str, Any]:
    """Every office's open matters per step by colour, and how many are overdue (red)."""
    frame = cards(state, supervision)
    grouped = (
        frame.group_by("office", "step")
        .agg(
            open=pl.len(),
            green=(pl.col("colour") == "green").sum(),
            yellow=(pl.col("colour") == "yellow").sum(),
            red=(pl.col("colour") == "red").sum(),
            oldest=pl.col("opened_at").min(),
        )
        .sort("red", "yellow", "open", descending=True)
    )
    totals = {c: int((frame["colour"] == c).sum()) for c in ("green", "yellow", "red")}
    return {
        "as_of": supervision.clock(),
        "totals": totals,
        "offices": _rows(grouped),
        "limits": supervision.limits.table(),
    }


@router.get("/handling", responses=_PROBLEMS)
def handling(
    principal: Supervisor,
    state: StateDep,
    supervision: SupervisionDep,
    by: Annotated[list[Literal["step", "office", "policy_id", "month"]], Query()] = ["step"],  # noqa: B006
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Handled matters per group of ``by`` (repeat it: ``by=step&by=month``): how many, median and 90th-percentile
    working days taken, and how many were handled late."""
    try:
        with state.engine.connect() as connection:
            frame = handling_times(
                connection,
                calendar=supervision.calendar,
                limits=supervision.limits,
                by=[b for b in BY if b in by],
                since=since,
                until=until,
            )
    except CalendarUnknown as error:
        raise _calendar_problem(error) from error
    return _rows(frame)


@router.get("/escalations", responses=problems())
def escalations(principal: Supervisor, state: StateDep, limit: Limit = 100) -> list[dict[str, Any]]:
    """Red cards escalated to the supervisors, newest first, each with whether it has been handled since."""
    events = supervision_events.c
    green = supervision_events.alias("green")
    query = (
        select(
            events.step,
            events.matter_id,
            events.office,
            events.policy_id,
            events.holder,
            events.opened_at,
            events.at.label("escalated_at"),
            green.c.at.label("handled_at"),
            green.c.holder.label("handled_by"),
        )
        .outerjoin(
            green,
            (green.c.step == events.step)
            & (green.c.matter_id == events.matter_id)
            & (green.c.opened_at == events.opened_at)
            & (green.c.event == "green"),
        )
        .where(events.event == "escalated")
        .order_by(events.at.desc(), events.id.desc())
        .limit(limit)
    )
    with state.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]


@router.post("/watch", responses=_PROBLEMS)
def run_watch(principal: Supervisor, state: StateDep, supervision: SupervisionDep) -> dict[str, Any]:
    """One watch pass now: records each card turned and escalates the new red cards (idempotent)."""
    try:
        report = watch(state.engine, calendar=supervision.calendar, limits=supervision.limits, now=supervision.clock())
    except CalendarUnknown as error:
        raise _calendar_problem(error) from error
    with state.engine.begin() as connection:
        detail = {"recorded": report.recorded, "escalated": report.escalated}
        audit(connection, principal, "supervision.watch", "supervision", detail)
    return {"open": report.open, "recorded": report.recorded, "escalated": report.escalated}


@router.get("/limits", responses=problems())
def limits(principal: Officer, supervision: SupervisionDep) -> dict[str, Any]:
    """The time limits in force, in working days, and the share at which a card turns yellow."""
    return supervision.limits.table()

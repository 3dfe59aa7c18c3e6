"""The supervision page (电子监察): an officer's open matters by urgency with their cards; for supervisors, every
office's open matters, the red cards escalated to them, handling times, and the watch pass. The same functions
as the /supervision routes (api/service/routes/supervision.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from api.service.routes import supervision as routes
from api.web.guard import check_csrf, signed_in
from api.web.render import WebRoute, back, page
from matcher.supervision import Step

router = APIRouter(prefix="/web/supervision", route_class=WebRoute, include_in_schema=False)
READERS, SUPERVISORS = ("officer", "supervisor", "admin"), ("supervisor", "admin")
STEPS = {
    "objection": ("异议复核", "Objection review"),
    "supplied_fact": ("补充信息核实", "Supplied fact review"),
    "payment_approval": ("拨付审批", "Payment approval"),
    "payment": ("审批后拨付", "Payment after approval"),
    "dead_letter": ("推送失败处理", "Undelivered notice"),
}
COLOURS = {"red": ("红牌（已超时）", "Red: overdue"), "yellow": ("黄牌（临近时限）", "Yellow: near the limit"),
           "green": ("绿牌（正常）", "Green: on time")}  # fmt: skip


@router.get("")
def supervision(
    request: Request,
    step: Annotated[Step | None, Query()] = None,
    office: Annotated[str, Query(max_length=8, pattern=r"^([0-9]{0,6}|treasury)$")] = "",
) -> Response:
    principal = signed_in(request, *READERS)
    state, supervision = request.app.state.service, routes.supervision_of(request)
    queue = routes.queue(principal, state, supervision, step=step, office=office, policy="", colour=None, limit=200)
    context = {"queue": queue, "filters": {"step": step.value if step else "", "office": office}}
    if principal.role in SUPERVISORS:
        context |= {
            "overview": routes.overview(principal, state, supervision),
            "escalations": routes.escalations(principal, state, limit=50),
            "handling": routes.handling(principal, state, supervision, by=["step", "office"], since=None, until=None),
        }
    return page(request, "supervision.html", steps=STEPS, colours=COLOURS, **context)


@router.post("/watch")
def watch(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    principal = signed_in(request, *SUPERVISORS)
    check_csrf(request, csrf)
    done = routes.run_watch(principal, request.app.state.service, routes.supervision_of(request))
    n = len(done["escalated"])
    return back(request, "/web/supervision", zh=f"已巡查：新升级红牌 {n} 件", en=f"Watch done: {n} red cards escalated")


def desk_cards(request: Request) -> dict[tuple[str, int], dict[str, str]]:
    """(step, matter id) → its card, for the desk's queues; none when the calendar does not know the year."""
    try:
        frame = routes.cards(request.app.state.service, routes.supervision_of(request))
    except routes.CalendarMissing:
        return {}
    return {
        (row["step"], row["matter_id"]): {
            "colour": row["colour"],
            "label_zh": COLOURS[row["colour"]][0],
            "label_en": COLOURS[row["colour"]][1],
        }
        for row in frame.select("step", "matter_id", "colour").iter_rows(named=True)
        if row["colour"] is not None
    }

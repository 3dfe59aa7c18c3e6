"""The officer's desk: open objections, notices that could not be delivered, runs; filters by policy, region
and date. Each action calls the domain function the API's route calls, and is audited there."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response
from pydantic import AfterValidator

from api.service.dead_letters import requeue
from api.service.objections import count_objections, list_objections, review_objection
from api.service.queues import Narrow
from api.service.routes import runs as run_routes
from api.service.schemas.notices import MAX_REQUEUE_IDS, NoticeId
from api.service.schemas.runs import RunStartIn
from api.service.supplied_facts import count_supplied, list_supplied, review_supplied
from api.web.guard import check_csrf, signed_in
from api.web.render import WebRoute, back, page
from api.web.supervision import desk_cards
from matcher.db.models import notices, responses, supplied_facts
from matcher.delivery import dead_letters
from matcher.periods import EARLIEST_AS_OF, LATEST_AS_OF, check_as_of

router = APIRouter(prefix="/web/desk", route_class=WebRoute, include_in_schema=False)
OFFICERS = ("officer", "admin")
Csrf = Annotated[str, Form(max_length=100)]
# As the JSON API's: notice ids the database can hold, at most MAX_REQUEUE_IDS of them (the page lists QUEUE; past
# 1,000 fields Starlette's form parser refuses the form first, with a 400).
RequeueIds = Annotated[list[NoticeId] | None, Form(max_length=MAX_REQUEUE_IDS)]
# Checked as the form's field, as the JSON API's RunStartIn checks it: out of the window is the sender's 422.
RunAsOf = Annotated[date, Form(), AfterValidator(check_as_of)]
QUEUE = 200  # rows shown per queue; the filters apply in SQL and the headings count every matching matter


@router.get("")
def desk(
    request: Request,
    policy: Annotated[str, Query(max_length=80)] = "",
    region: Annotated[str, Query(max_length=6, pattern=r"^[0-9]*$")] = "",
    since: Annotated[date | None, Query()] = None,
) -> Response:
    principal = signed_in(request, *OFFICERS)
    state = request.app.state.service
    narrow = Narrow(policy, region, since)
    objected = narrow.where(responses.c.uscc, responses.c.policy_id, responses.c.at)
    facts = narrow.where(supplied_facts.c.uscc, supplied_facts.c.policy_id, supplied_facts.c.supplied_at)
    with state.engine.begin() as connection:  # one transaction: each count and its page agree
        objections = list_objections(connection, "open", QUEUE, 0, objected)
        objections_total = count_objections(connection, "open", objected)
        supplied = list_supplied(connection, "open", QUEUE, 0, where=facts)
        supplied_total = count_supplied(connection, "open", facts)
    where = narrow.where(notices.c.uscc, notices.c.policy_id, notices.c.created_at)
    dead_total, dead = dead_letters(state.engine, limit=QUEUE, offset=0, where=where)
    runs = run_routes.list_runs(principal, state, limit=10, offset=0)
    catalogue = state.catalogue.load(state.engine)
    cards = desk_cards(request)  # e-supervision's colour of each open matter (api/web/supervision.py)
    return page(
        request,
        "desk.html",
        objections=objections,
        objections_total=objections_total,
        supplied=supplied,
        supplied_total=supplied_total,
        dead=dead,
        dead_total=dead_total,
        runs=runs,
        as_of_window=(EARLIEST_AS_OF.isoformat(), LATEST_AS_OF.isoformat()),  # the browser's date picker keeps to it
        cards=cards,
        filters={"policy": policy, "region": region, "since": since.isoformat() if since else ""},
        policies=sorted({p.id for p in catalogue.policies}),
        # Policies by their title, as officers know them; the newest version's title for each id.
        titles={p.id: {"zh": p.policy.title.zh, "en": p.policy.title.en} for p in catalogue.policies},
    )


@router.post("/objections/{objection_id}")
def review(
    request: Request,
    objection_id: Annotated[int, Path(ge=1, le=2**62)],
    outcome: Annotated[Literal["dismissed", "upheld"], Form()],
    note: Annotated[str, Form(min_length=1, max_length=2000)],
    csrf: Csrf = "",
) -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    with request.app.state.service.engine.begin() as connection:
        review_objection(connection, principal, objection_id, outcome, note.strip())
    if outcome == "dismissed":
        zh, en = f"异议 {objection_id} 未采纳：款项恢复拨付", f"objection {objection_id} dismissed: payout released"
    else:
        zh, en = f"异议 {objection_id} 成立：该待遇已取消", f"objection {objection_id} upheld: benefit cancelled"
    return back(request, "/web/desk#objections", zh=zh, en=en)


@router.post("/supplied/{supplied_id}")
def review_fact(
    request: Request,
    supplied_id: Annotated[int, Path(ge=1, le=2**62)],
    outcome: Annotated[Literal["accept", "reject"], Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf: Csrf = "",
) -> Response:
    """Accept (the fact enters the next run) or reject it with a reason the enterprise reads."""
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    review_supplied(request.app.state.service.engine, principal, supplied_id, accept=outcome == "accept", reason=reason)
    if outcome == "accept":
        zh, en = f"补充信息 {supplied_id} 已采纳", f"supplied fact {supplied_id} accepted"
    else:
        zh, en = f"补充信息 {supplied_id} 未采纳", f"supplied fact {supplied_id} rejected"
    return back(request, "/web/desk#supplied", zh=zh, en=en)


@router.post("/dead/requeue")
def requeue_dead(request: Request, csrf: Csrf = "", ids: RequeueIds = None) -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    done = requeue(request.app.state.service.engine, principal, ids or None)
    zh = f"已重新推送 {len(done.ids)} 条通知" + (f"，跳过 {len(done.skipped)} 条" if done.skipped else "")
    en = f"{len(done.ids)} notices sent again" + (f", {len(done.skipped)} skipped" if done.skipped else "")
    return back(request, "/web/desk#dead", zh=zh, en=en)


@router.post("/runs")
def start_run(request: Request, as_of: RunAsOf, csrf: Csrf = "") -> Response:
    principal = signed_in(request, *OFFICERS)
    check_csrf(request, csrf)
    run = run_routes.start_run(RunStartIn(as_of=as_of), principal, request.app.state.service)
    return back(request, f"/web/desk/runs/{run['id']}", zh="匹配任务已启动", en="Run started")


@router.get("/runs/{request_id}")
def run_page(request: Request, request_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    principal = signed_in(request, *OFFICERS)
    run = run_routes.read_run(request_id, principal, request.app.state.service)
    return page(request, "run.html", run=run)

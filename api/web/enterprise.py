"""The enterprise's pages: its inbox, one notice with its explanation and forms, and the actions on it.

Every read and action goes through the API's own route functions (api/service/routes/enterprises.py), so
the rules, the audit and the ledger moves are the API's; this module only parses forms and renders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from anyio import from_thread
from fastapi import APIRouter, Form, Path, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.service.auth import USCC_PATTERN
from api.service.problems import Invalid, NotFound
from api.service.routes import benefits as benefit_routes
from api.service.routes import enterprises as routes
from api.service.schemas.enterprises import DeclineIn, ObjectionIn, SupplyIn
from api.web.guard import acting, check_csrf, reading
from api.web.render import WebRoute, back, page
from features.profiles.catalogue import fact as catalogue_fact
from matcher.db.models import objection_reviews, responses

router = APIRouter(prefix="/web/e/{uscc}", route_class=WebRoute, include_in_schema=False)
Uscc = Annotated[str, Path(pattern=USCC_PATTERN)]
NoticeId = Annotated[int, Path(ge=1, le=2**62)]
Action = Literal["confirm", "decline", "object"]
Reason = Annotated[str, Form(max_length=2000)]

# What is waiting for the enterprise, by notice kind; answered notices leave the list.
_TO_DO = ("awaiting_confirmation", "needs_data", "near_miss", "recommended", "granted")
_ANSWERS = ("confirmed", "declined", "objected", "supplied_data")
INBOX_SIZE = 200


def _decisions(request: Request, uscc: str, principal) -> list[dict[str, Any]]:
    # The API's async list, on the event loop it is written for (it reads on the loop's own connection).
    answer = from_thread.run(routes.list_decisions, uscc, principal, request, None, False, INBOX_SIZE, 0)
    return orjson.loads(answer.body)


@router.get("")
def inbox(request: Request, uscc: Uscc) -> Response:
    principal = reading(request, uscc)
    state = request.app.state.service
    by_status: dict[str, list[dict[str, Any]]] = {}
    for decision in _decisions(request, uscc, principal):  # a later run no longer matches it: its own group
        group = "no_longer_matched" if decision.get("no_longer_matched") else decision["status"]
        by_status.setdefault(group, []).append(decision)
    # A notice of a decision a later run no longer matches asks nothing any more: it is only for information.
    stale = {(d["policy_id"], d["period_key"]) for d in by_status.get("no_longer_matched", [])}
    rows = routes.list_notices(uscc, principal, state, limit=INBOX_SIZE, offset=0)
    current, earlier = [], []
    for notice in rows:
        answered = any(kind in _ANSWERS for kind in notice["responses"])
        live = notice["delivery_status"] not in ("withdrawn",) and notice["kind"] in _TO_DO and not answered
        live = live and (notice["policy_id"], notice["period_key"]) not in stale
        (current if live else earlier).append(notice)
    # What needs an answer first, soonest deadline first; then what is only for information.
    current.sort(key=lambda n: (n["respond_by"] is None, str(n["respond_by"] or ""), -n["id"]))
    return page(request, "inbox.html", uscc=uscc, current=current, earlier=earlier, by_status=by_status)


def _form_fields(missing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in missing:
        fact = catalogue_fact(item["name"])
        out.append(item | {"kind": fact.kind, "values": list(fact.values or ())})
    return out


def _history(request: Request, uscc: str, notice: dict[str, Any], principal) -> dict[str, Any]:
    """What the enterprise did on this notice, what officers decided on its objections, the ledger's journal."""
    state = request.app.state.service
    with state.engine.connect() as connection:
        done = connection.execute(
            select(responses.c.id, responses.c.kind, responses.c.at, responses.c.detail)
            .where(responses.c.notice_id == notice["id"])
            .order_by(responses.c.id)
        ).all()
        reviews = (
            connection.execute(
                select(objection_reviews)
                .join(responses, responses.c.id == objection_reviews.c.response_id)
                .where(responses.c.notice_id == notice["id"])
                .order_by(objection_reviews.c.id)
            )
            .mappings()
            .all()
        )
    journal: list[Any] = []
    try:
        benefit = benefit_routes.read_benefit(uscc, notice["policy_id"], notice["period_key"], principal, state)
        journal = benefit["journal"]
    except NotFound:
        pass
    return {"done": done, "reviews": reviews, "journal": journal}


@router.get("/notices/{notice_id}")
def notice_page(request: Request, uscc: Uscc, notice_id: NoticeId) -> Response:
    principal = reading(request, uscc)
    state = request.app.state.service
    notice = routes.read_notice(uscc, notice_id, principal, state)
    policy = routes._policy(state.catalogue.load(state.engine), notice["policy_id"], notice["policy_version"])
    benefit = policy.policy.benefit if policy is not None else None
    answered = [k for k in notice["responses"] if k in _ANSWERS]
    return page(
        request,
        "notice.html",
        uscc=uscc,
        notice=notice,
        benefit=benefit,
        explanation=notice["explanation"],
        fields=_form_fields(notice["explanation"]["missing_facts"]),
        answered=answered,
        history=_history(request, uscc, notice, principal),
        can_act=principal.role == "enterprise",
    )


def _typed(kind: str, raw: str) -> Any:
    """A form's text as the API's JSON would carry it; check_supplied then checks it against the fact."""
    raw = raw.strip()
    if kind == "bool":
        return {"true": True, "false": False}.get(raw, raw)
    if kind in ("int", "number"):
        try:
            number = float(raw.replace(",", ""))
        except ValueError:
            return raw
        return int(number) if kind == "int" and number.is_integer() else number
    return raw


@router.post("/notices/{notice_id}/supply")
async def supply(request: Request, uscc: Uscc, notice_id: NoticeId) -> Response:
    """The facts come as fields named ``fact.<name>``, one per fact the notice asks for."""
    form = await request.form()
    return await run_in_threadpool(_supply, request, uscc, notice_id, {k: str(v) for k, v in form.items()})


def _kind(name: str) -> str:
    try:
        return catalogue_fact(name).kind
    except KeyError:  # not a fact at all: check_supplied names it as not asked for
        return "str"


def _body(model: type[BaseModel], **values: Any) -> Any:
    """The API's request body from a form; its validation errors as a 422 naming each field."""
    try:
        return model(**values)
    except ValidationError as err:
        errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in err.errors()]
        names = "、".join(e["field"] for e in errors)
        raise Invalid(
            f"invalid {names}: {errors[0]['message']}", detail_zh=f"填写内容有误：{names}", errors=errors
        ) from None


def _supply(request: Request, uscc: str, notice_id: int, form: dict[str, str]) -> Response:
    principal = acting(request, uscc)
    check_csrf(request, form.get("csrf"))
    facts = {
        name.removeprefix("fact."): _typed(_kind(name.removeprefix("fact.")), value)
        for name, value in form.items()
        if name.startswith("fact.") and value.strip()
    }
    if not facts:
        return back(
            request,
            f"/web/e/{uscc}/notices/{notice_id}#supply",
            kind="error",
            zh="请至少填写一项信息",
            en="fill in at least one fact",
        )
    try:
        body = _body(SupplyIn, facts=facts, note=form.get("note", "").strip() or None)
        done = routes.supply(uscc, notice_id, body, principal, request.app.state.service)
    except Invalid as err:
        fields = "; ".join(
            f"{e['field'].removeprefix('body.facts.')}: {e['message']}" for e in err.extensions["errors"]
        )
        return back(
            request, f"/web/e/{uscc}/notices/{notice_id}#supply", kind="error", zh=err.detail_zh or fields, en=fields
        )
    message = done["message"]
    return back(request, f"/web/e/{uscc}/notices/{notice_id}", zh=message.zh, en=message.en)


# After /supply: the path template would take 'supply' as an action.
@router.get("/notices/{notice_id}/{action}")
def check_action(request: Request, uscc: Uscc, notice_id: NoticeId, action: Action) -> Response:
    """Asks once: what will happen, then the button that does it."""
    acting(request, uscc)
    notice = routes._one_notice(request.app.state.service, uscc, notice_id)
    return page(request, "check.html", uscc=uscc, notice=notice, action=action)


@router.post("/notices/{notice_id}/{action}")
def act(
    request: Request,
    uscc: Uscc,
    notice_id: NoticeId,
    action: Action,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reason: Reason = "",
) -> Response:
    principal = acting(request, uscc)
    check_csrf(request, csrf)
    state = request.app.state.service
    if action == "object" and not reason.strip():
        raise Invalid(
            "reason: say why you object, so the officer can check it",
            detail_zh="请填写异议理由，以便工作人员核实",
            errors=[{"field": "reason", "message": "required"}],
        )
    if action == "confirm":
        done = routes.confirm(uscc, notice_id, principal, state)
    elif action == "decline":
        done = routes.decline(uscc, notice_id, _body(DeclineIn, reason=reason.strip() or None), principal, state)
    else:
        done = routes.object_to(uscc, notice_id, _body(ObjectionIn, reason=reason.strip()), principal, state)
    message = done["message"]
    return back(request, f"/web/e/{uscc}/notices/{notice_id}", zh=message.zh, en=message.en)

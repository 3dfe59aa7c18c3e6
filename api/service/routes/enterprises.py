"""Enterprises: their decisions and notices, why, and what they do about them."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import polars as pl
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import bindparam, select

from api.service import actions, attested_lists
from api.service import supplied_facts as supplied
from api.service.auth import ActingEnterprise, ReadingEnterprise, UsccPath
from api.service.explain import RESULTS, evidence, explain, ranking_reasons, ranking_reasons_at_once
from api.service.problems import Conflict, NotFound
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.common import Text
from api.service.schemas.enterprises import (
    ActionOut,
    DecisionDetail,
    DecisionOut,
    DecisionStatus,
    DeclineIn,
    NoticeDetail,
    NoticeOut,
    ObjectionIn,
    SupplyIn,
)
from api.service.state import ServiceState, StateDep
from matcher.db.keys import decided_later, left_out_later, no_longer_matched, same_benefit, same_decision, same_notice
from matcher.db.models import benefits, decisions, notices, responses, runs
from matcher.ledger import BenefitStatus
from matcher.notices import notice_texts
from policies.catalogue import Catalogue
from policies.trace import trace

router = APIRouter(prefix="/enterprises/{uscc}", tags=["enterprises"])
NoticeId = Annotated[int, Path(ge=1, le=2**62, description="the notice's id")]
DecisionId = Annotated[int, Path(ge=1, le=2**62, description="the decision's id")]

_DECISION_COLUMNS = (
    decisions.c.id,
    decisions.c.run_id,
    runs.c.as_of,
    decisions.c.uscc,
    decisions.c.policy_id,
    decisions.c.policy_version,
    decisions.c.period_key,
    decisions.c.status,
    decisions.c.amount_fen,
    decisions.c.amount_full_fen,
    benefits.c.status.label("benefit_status"),
    benefits.c.amount_fen.label("benefit_amount_fen"),
    benefits.c.paid_fen.label("benefit_paid_fen"),
    notices.c.id.label("notice_id"),
)


def _decision_select(flag):
    # A notice is sent once per (enterprise, policy, period, kind, topic): a later run reaching the same decision
    # shares it; one that changes the amount announced sends another.
    return (
        select(*_DECISION_COLUMNS, flag.label("no_longer_matched"))
        .join(runs, runs.c.id == decisions.c.run_id)
        .outerjoin(benefits, same_benefit(decisions.c))
        .outerjoin(notices, same_notice(decisions.c))
        .where(decisions.c.uscc == bindparam("uscc"))
    )


def _page(query):
    # The newest run first; a run's decisions in the order it pushed them (its ranking: the champion's scores or the
    # fallback order), then by id (decisions written before runs recorded their order, a run that ordered nothing).
    return (
        query.order_by(
            runs.c.started_at.desc(), decisions.c.run_id, decisions.c.position.asc().nulls_last(), decisions.c.id
        )
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


# Built once: constructing the statement costs more than running it, on the hottest endpoint.
# Every run's decisions, flagged by the rule matcher.db.keys holds (one place: actions and delivery use it too);
# the current ones (no later run decided the benefit), which need not test that twice.
_DECISIONS = _decision_select(no_longer_matched(decisions.c, runs.c))
_DECISION_KEYS = tuple(str(c.key) for c in _DECISIONS.selected_columns)  # plain str: orjson takes no subclass
_CURRENT = _decision_select(left_out_later(decisions.c, runs.c)).where(~decided_later(decisions.c, runs.c))
_DECISION_DETAIL = _DECISIONS.add_columns(decisions.c.facts, decisions.c.unknown_facts, decisions.c.failing).where(
    decisions.c.id == bindparam("id")
)
_DECISION_DETAIL_KEYS = tuple(str(c.key) for c in _DECISION_DETAIL.selected_columns)
_BY_STATUS = decisions.c.status == bindparam("status")
# (history?, by status?) → the page's statement: the current decision per benefit, or every run's.
_DECISION_PAGES = {
    (False, False): _page(_CURRENT),
    (False, True): _page(_CURRENT.where(_BY_STATUS)),
    (True, False): _page(_DECISIONS),
    (True, True): _page(_DECISIONS.where(_BY_STATUS)),
}


def _policy(catalogue: Catalogue, policy_id: str, version: int):
    try:
        return catalogue.get(policy_id, version)
    except KeyError:
        return None


@router.get("/decisions", response_model=list[DecisionOut], responses=problems())
async def list_decisions(
    uscc: UsccPath,
    principal: ReadingEnterprise,
    request: Request,
    status: Annotated[DecisionStatus | None, Query(description="only decisions with this status")] = None,
    history: Annotated[
        bool,
        Query(
            description="every run's decisions; by default only the current one per benefit (enterprise, policy,"
            " period): the latest run's"
        ),
    ] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """The enterprise's current decisions (one per policy and period: the latest run's), the newest run's first and
    each run's in the order it pushed them (the ranking), with amounts and the ledger status of each benefit;
    `history=true` lists every run's."""
    # The busiest endpoint, so: async; the state read off the request (a dependency costs more); its one
    # indexed lookup on the event loop's own connection (no thread hop, no pool checkout); the rows
    # serialised straight to JSON — they come from our own tables in DecisionOut's shape, so validating
    # them again would only cost time.
    page = {"uscc": uscc, "limit": limit, "offset": offset}
    query = _DECISION_PAGES[(history, status is not None)]
    if status is not None:
        page["status"] = str(status)
    state: ServiceState = request.app.state.service
    titles = state.catalogue.load(state.engine).titles
    out = []
    for row in state.reads.rows(query, page):
        decision = dict(zip(_DECISION_KEYS, row, strict=True))
        decision["title"] = titles.get((decision["policy_id"], decision["policy_version"]))
        out.append(decision)
    return Response(orjson.dumps(out), media_type="application/json")


# DecisionDetail's fields in its order: read_decision writes them as FastAPI would after validating.
_DETAIL_FIELDS = tuple(DecisionDetail.model_fields)


@router.get("/decisions/{decision_id}", response_model=DecisionDetail, responses=problems(404))
async def read_decision(
    uscc: UsccPath, decision_id: DecisionId, principal: ReadingEnterprise, request: Request
) -> Response:
    """One decision with its explanation: each condition, the facts read, their registries and dates."""
    # As the list: async, its lookups on the event loop's connection, the ranking reasons' too. Only reading the
    # champion from the model registry (every `ttl` seconds) goes to a thread: under load a hop costs more than the
    # rest, as the request resumes only after the loop has served every other request in flight. Written straight
    # to JSON, as the list: the row is in DecisionOut's shape and `explain` gives Explanation's, so validating the
    # ~15 KB again would change nothing for 0.4 ms, a quarter of the request's CPU; a test holds the bytes to the
    # schema's.
    state: ServiceState = request.app.state.service
    rows = state.reads.rows(_DECISION_DETAIL, {"uscc": uscc, "id": decision_id})
    if not rows:
        raise NotFound(f"enterprise {uscc} has no decision {decision_id}", detail_zh="未找到该决定")
    row = dict(zip(_DECISION_DETAIL_KEYS, rows[0], strict=True))
    ranked = ranking_reasons_at_once(row, state.ranker, state.reads.rows)
    if ranked is None:
        ranked = await run_in_threadpool(ranking_reasons, row, state.ranker)
    found = state.reads.rows(supplied.RUN_LINEAGE, {"uscc": uscc, "run_id": row["run_id"]})
    attested = supplied.lineage_from(dict(zip(supplied.RUN_LINEAGE_KEYS, r, strict=True)) for r in found)
    listed = []
    if attested_lists.may_use_a_list(row["facts"]):
        listed = state.reads.rows(attested_lists.LIST_LINEAGE, {"uscc": uscc, "run_id": row["run_id"]})
    attested = attested_lists.merged_lineage(
        attested_lists.list_lineage_from(dict(zip(attested_lists.LIST_LINEAGE_KEYS, r, strict=True)) for r in listed),
        attested,
    )
    catalogue = state.catalogue.load(state.engine)
    policy = _policy(catalogue, row["policy_id"], row["policy_version"])
    detail = row | {
        "title": catalogue.titles.get((row["policy_id"], row["policy_version"])),
        "explanation": explain(policy, uscc, row["facts"], row["as_of"], ranked=ranked, attested=attested),
    }
    return Response(orjson.dumps({k: detail[k] for k in _DETAIL_FIELDS}), media_type="application/json")


_NOTICE_COLUMNS = (
    *(notices.c[k] for k in ("id", "uscc", "policy_id", "policy_version", "period_key", "kind", "run_id")),
    *(notices.c[k] for k in ("amount_fen", "respond_by", "delivery_status", "created_at")),
    benefits.c.status.label("benefit_status"),
    decisions.c.id.label("decision_id"),
    decisions.c.facts,
    decisions.c.unknown_facts,
    decisions.c.failing,
    decisions.c.failing_zh,
    runs.c.as_of,
)


def _notice_rows(state: ServiceState, uscc: str, notice_id: int | None = None, limit: int = 100, offset: int = 0):
    """Notices with their ledger status, their decision's evidence, their text (rendered) and the responses."""
    query = (
        select(*_NOTICE_COLUMNS)
        .outerjoin(benefits, same_benefit(notices.c))
        .outerjoin(decisions, same_decision(notices.c))
        .outerjoin(runs, runs.c.id == notices.c.run_id)
        .where(notices.c.uscc == uscc)
    )
    if notice_id is not None:
        query = query.where(notices.c.id == notice_id)
    with state.engine.connect() as connection:
        rows = connection.execute(query.order_by(notices.c.id.desc()).limit(limit).offset(offset)).mappings().all()
        done = connection.execute(
            select(responses.c.notice_id, responses.c.kind)
            .where(responses.c.notice_id.in_([r["id"] for r in rows]))
            .order_by(responses.c.id)
        ).all()
    if not rows:
        return []
    kinds: dict[int, list[str]] = {}
    for nid, kind in done:
        kinds.setdefault(nid, []).append(kind)
    frame = pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)
    texts = notice_texts(frame, state.catalogue.load(state.engine).policies)
    return [
        row
        | {
            "title": {"zh": row.pop("title_zh"), "en": row.pop("title_en")},
            "body": {"zh": row.pop("body_zh"), "en": row.pop("body_en")},
            "responses": list(dict.fromkeys(kinds.get(row["id"], []))),
        }
        for row in texts.to_dicts()
    ]


@router.get("/notices", response_model=list[NoticeOut], responses=problems())
def list_notices(
    uscc: UsccPath, principal: ReadingEnterprise, state: StateDep, limit: Limit = 100, offset: Offset = 0
) -> list[dict[str, Any]]:
    """The enterprise's notices, newest first, with delivery and ledger status and what it did about each."""
    return _notice_rows(state, uscc, limit=limit, offset=offset)


def _one_notice(state: ServiceState, uscc: str, notice_id: int) -> dict[str, Any]:
    rows = _notice_rows(state, uscc, notice_id)
    if not rows:
        raise NotFound(f"enterprise {uscc} has no notice {notice_id}", detail_zh="未找到该通知")
    return rows[0]


@router.get("/notices/{notice_id}", response_model=NoticeDetail, responses=problems(404))
def read_notice(uscc: UsccPath, notice_id: NoticeId, principal: ReadingEnterprise, state: StateDep) -> dict[str, Any]:
    """One notice with the full explanation. The enterprise's first reading is recorded as 'opened'."""
    notice = _one_notice(state, uscc, notice_id)
    if principal.role == "enterprise" and "opened" not in notice["responses"]:
        with state.engine.begin() as connection:
            row = connection.execute(select(notices).where(notices.c.id == notice_id)).first()
            actions.lock(connection, row)
            if "opened" not in actions.done_before(connection, notice_id):  # a second tab opened it meanwhile
                actions.record(connection, principal, row, "opened")
        notice["responses"] = [*notice["responses"], "opened"]
    policy = _policy(state.catalogue.load(state.engine), notice["policy_id"], notice["policy_version"])
    if notice["facts"] is None:  # no decision row (should not happen): say so rather than guess
        policy = None
    as_of = notice["as_of"] or notice["created_at"].date()
    with state.engine.connect() as connection:
        started = connection.execute(select(runs.c.started_at).where(runs.c.id == notice["run_id"])).scalar()
        attested = supplied.lineage(connection, uscc, started)
        listed = connection.execute(attested_lists.LIST_LINEAGE, {"uscc": uscc, "run_id": notice["run_id"]})
        attested = attested_lists.merged_lineage(attested_lists.list_lineage_from(listed.mappings()), attested)
        outcomes = supplied.outcomes_for_notice(connection, notice_id)
        row = connection.execute(select(notices).where(notices.c.id == notice_id)).one()
        stale = connection.execute(select(no_longer_matched(row, runs.c)).where(runs.c.id == row.run_id)).scalar()
    explanation = explain(policy, uscc, notice["facts"] or "{}", as_of, notice, ranker=state.ranker, attested=attested)
    return notice | {"explanation": explanation, "supplied_facts": outcomes, "no_longer_matched": bool(stale)}


def _notice_for_action(connection, uscc: str, notice_id: int):
    row = connection.execute(select(notices).where(notices.c.id == notice_id, notices.c.uscc == uscc)).first()
    if row is None:
        raise NotFound(f"enterprise {uscc} has no notice {notice_id}", detail_zh="未找到该通知")
    return row


_MESSAGES = {
    "confirmed": Text(zh="已确认，款项将按程序拨付。", en="Confirmed: the amount will be paid."),
    "declined": Text(zh="已放弃该项待遇。", en="Declined: the benefit will not be paid."),
    "objected": Text(
        zh="异议已受理，款项暂缓拨付，工作人员将核实处理。",
        en="Objection received: the payout is held until an officer has reviewed it.",
    ),
    # An objection to a notice with nothing in the ledger (needs data, near miss, awaiting confirmation).
    "objected_nothing_held": Text(
        zh="异议已受理，工作人员将核实处理。",
        en="Objection received: an officer will review it.",
    ),
    "supplied_data": Text(
        zh="已收到补充信息，工作人员核实后办理。",
        en="Thank you: an officer will check the facts you supplied before the benefit is decided.",
    ),
}
_ACTION_PROBLEMS = problems(404, 409, body=True)


@router.post("/notices/{notice_id}/confirm", response_model=ActionOut, responses=_ACTION_PROBLEMS)
def confirm(uscc: UsccPath, notice_id: NoticeId, principal: ActingEnterprise, state: StateDep) -> dict[str, Any]:
    """Confirm a benefit awaiting confirmation: it enters the benefit ledger (once per policy and period)."""
    with state.engine.begin() as connection:
        notice = _notice_for_action(connection, uscc, notice_id)
        status, at = actions.confirm(connection, principal, notice)
    return {
        "notice_id": notice_id,
        "action": "confirmed",
        "benefit_status": status,
        "message": _MESSAGES["confirmed"],
        "at": at,
    }


@router.post("/notices/{notice_id}/decline", response_model=ActionOut, responses=_ACTION_PROBLEMS)
def decline(
    uscc: UsccPath, notice_id: NoticeId, body: DeclineIn, principal: ActingEnterprise, state: StateDep
) -> dict[str, Any]:
    """Decline a benefit: a granted one not yet paid is cancelled."""
    with state.engine.begin() as connection:
        notice = _notice_for_action(connection, uscc, notice_id)
        status, at = actions.decline(connection, principal, notice, body.reason)
    return {
        "notice_id": notice_id,
        "action": "declined",
        "benefit_status": status,
        "message": _MESSAGES["declined"],
        "at": at,
    }


@router.post("/notices/{notice_id}/object", response_model=ActionOut, responses=_ACTION_PROBLEMS)
def object_to(
    uscc: UsccPath, notice_id: NoticeId, body: ObjectionIn, principal: ActingEnterprise, state: StateDep
) -> dict[str, Any]:
    """Object, with a reason: the payout and the pending notices of this benefit are held until reviewed."""
    with state.engine.begin() as connection:
        notice = _notice_for_action(connection, uscc, notice_id)
        status, at = actions.object_to(connection, principal, notice, body.reason)
    return {
        "notice_id": notice_id,
        "action": "objected",
        "benefit_status": status,
        "message": _MESSAGES["objected" if status == BenefitStatus.HELD else "objected_nothing_held"],
        "at": at,
    }


@router.post("/notices/{notice_id}/supply", response_model=ActionOut, responses=_ACTION_PROBLEMS)
def supply(
    uscc: UsccPath, notice_id: NoticeId, body: SupplyIn, principal: ActingEnterprise, state: StateDep
) -> dict[str, Any]:
    """Supply facts the registries lack. They are checked by an officer; the preview shows what they would give."""
    with state.engine.begin() as connection:
        notice = _notice_for_action(connection, uscc, notice_id)
        actions.lock(connection, notice)
        if notice.kind != "needs_data":
            raise Conflict(
                f"only a notice asking for information takes supplied facts; this one is '{notice.kind}'",
                detail_zh="该通知不需要补充信息",
            )
        actions.refuse_no_longer_matched(connection, notice)
        decision = connection.execute(
            select(decisions.c.facts, decisions.c.unknown_facts, runs.c.as_of)
            .join(runs, runs.c.id == decisions.c.run_id)
            .where(
                decisions.c.run_id == notice.run_id, decisions.c.uscc == uscc, decisions.c.policy_id == notice.policy_id
            )
        ).first()
        asked = [n.strip() for n in (decision.unknown_facts or "").split(";") if n.strip()] if decision else []
        typed = actions.check_supplied(asked, body.facts)
        supplied.check_attester(typed, "enterprise")
        at = actions.record(connection, principal, notice, "supplied_data", {"facts": body.facts, "note": body.note})
        supplied.record_supplied(connection, principal, notice, typed, body.note, at)
        preview = None
        policy = _policy(state.catalogue.load(connection), notice.policy_id, notice.policy_version)
        if policy is not None and decision is not None:
            # Everything supplied for this notice that still stands, not this supply's facts alone.
            given = supplied.combined_for_notice(connection, notice.id)
            traced = trace(policy, evidence(decision.facts) | given | {"uscc": uscc}, decision.as_of)
            preview = {"eligible": RESULTS[traced.eligible], "amount_yuan": traced.amount}
    return {
        "notice_id": notice_id,
        "action": "supplied_data",
        "benefit_status": None,
        "message": _MESSAGES["supplied_data"],
        "preview": preview,
        "at": at,
    }

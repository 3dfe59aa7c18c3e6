"""Policy officers' drafts: write, validate, try the examples, see the impact, submit for review, publish.

Publishing goes through maker-checker (api/service/reviews.py): submit with an effective date, a different
officer approves or sends it back, and only an approved draft is published. Every move is a conditional
UPDATE on the state and revision the caller saw, so two officers racing cannot both win."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.service.audit import audit
from api.service.auth import allow
from api.service.drafts import (
    DraftText,
    PublishPlan,
    draft_file,
    locate,
    normalise_json,
    plan_publish,
    plan_publish_set,
    plan_withdrawal,
    problem_dicts,
    read_draft,
)
from api.service.impact import impact
from api.service.problems import Conflict, Invalid, NotFound, Unsupported
from api.service.reviews import parse_set, person, refusal, same_person, set_key
from api.service.routes.common import Limit, Offset, problems
from api.service.routes.policies import source_text
from api.service.schemas.policies import (
    DraftOut,
    ExampleResultOut,
    ImpactOut,
    PublishIn,
    PublishOut,
    ValidationOut,
)
from api.service.state import ServiceState, StateDep
from api.service.tokens import Principal
from features.profiles.store import read_profile_info
from matcher.db.models import policy_drafts, policy_versions
from matcher.decide import decide
from matcher.supplied import lay_over
from policies.errors import Location, PolicyError
from policies.examples import run_examples
from policies.limits import MAX_POLICY_BYTES

router = APIRouter(prefix="/policy-drafts", tags=["policy drafts"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the draft's id")]
DraftNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]
# A draft is one policy file, whose text the loader caps (policies/limits.py); the body is refused at the same
# size before it is read (api/service/limits.py), so nothing larger is ever stored as a draft.
MAX_BODY = MAX_POLICY_BYTES

_EXAMPLE_YAML = """id: job-retention-refund
version: 2
title: {zh: 失业保险稳岗返还, en: Unemployment-insurance job-retention refund}
authority: {zh: 人力资源社会保障部, en: Ministry of Human Resources and Social Security, level: national}
basis: 人社部发〔2024〕40号
effective: {from: 2025-07-01}
delivery: automatic
category: employment
benefit: {form: cash, amount: "round(ui_paid_last_year * 60%, 2)", period: yearly}
eligibility:
  all: ["ui_paid_months >= 6", "not serious_dishonesty"]
examples:
  - name: paid 6 months
    facts: {ui_paid_months: 6, serious_dishonesty: false, ui_paid_last_year: 1000}
    expect: {eligible: true, amount: 600}
  - name: paid 5 months
    facts: {ui_paid_months: 5, serious_dishonesty: false, ui_paid_last_year: 1000}
    expect: {eligible: false}
  - name: contributions unknown
    facts: {serious_dishonesty: false, ui_paid_last_year: 1000}
    expect: {eligible: unknown}
"""
_BODY = {
    "required": True,
    "description": "The policy file (docs/policies.md) as YAML text, or as a JSON object.",
    "content": {
        "application/yaml": {"schema": {"type": "string", "maxLength": MAX_BODY}, "example": _EXAMPLE_YAML},
        "application/json": {
            "schema": {"type": "object", "additionalProperties": True},
            "example": {"id": "job-retention-refund", "version": 2, "effective": {"from": "2025-07-01"}},
        },
    },
}
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


async def draft_body(request: Request) -> tuple[str, str]:
    """(text, format) from a YAML or JSON body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()  # at most MAX_BODY: BodyLimits answered 413 to a longer one
    if media == "application/json":
        try:
            return normalise_json(raw), "json"
        except ValueError as err:
            raise Invalid(f"body: {err}", errors=[{"field": "body", "message": str(err)}]) from None
    if media in _YAML_TYPES:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid(
                "body: the policy text is not UTF-8", errors=[{"field": "body", "message": "not UTF-8"}]
            ) from None
        if not text.strip() or "\x00" in text:
            raise Invalid("body: the policy text is empty", errors=[{"field": "body", "message": "empty"}])
        return text, "yaml"
    raise Unsupported(f"send the policy as application/yaml or application/json, not {media or 'no content type'!r}")


Body = Annotated[tuple[str, str], Depends(draft_body)]


def _draft_row(connection: Connection, draft_id: int) -> Any:
    row = connection.execute(select(policy_drafts).where(policy_drafts.c.id == draft_id)).first()
    if row is None:
        raise NotFound(f"no policy draft {draft_id}")
    return row


@lru_cache(maxsize=512)
def _parsed(draft_id: int, updated_at: datetime, source: str, fmt: str):
    # A draft's text changes only with its updated_at: listing drafts re-reads none that did not change.
    return read_draft(source, draft_file(draft_id, fmt))


_REVIEW_FIELDS = (
    "kind",
    "review_state",
    "revision",
    "effective_from",
    "submitted_by",
    "submitted_at",
    "reviewed_by",
    "reviewed_at",
    "review_comment",
    "published_by",
)


def _draft_out(row: Any, parsed: DraftText | None = None) -> dict[str, Any]:
    """The draft as the API answers it; ``parsed``: its text as just read (the text is read once per request)."""
    parsed = parsed or _parsed(row.id, row.updated_at, row.source, row.format)
    return {
        **{k: getattr(row, k) for k in ("id", "policy_id", "version", "format", "created_by", "created_at")},
        **{k: getattr(row, k) for k in ("updated_by", "updated_at", "published_at", *_REVIEW_FIELDS)},
        "review_set": parse_set(row.review_set),
        "text": row.source,
        "valid": parsed.compiled is not None,
        "problems": problem_dicts(parsed.problems),
    }


@router.post(
    "",
    status_code=201,
    response_model=DraftOut,
    responses=problems(415, body=True),
    openapi_extra={"requestBody": _BODY},
)
def create_draft(body: Body, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Save a new draft, valid or not; the answer lists its problems with line and column."""
    text, fmt = body
    parsed = read_draft(text, draft_file(None, fmt))
    now = datetime.now(UTC)
    with state.engine.begin() as connection:
        draft_id = connection.execute(
            insert(policy_drafts)
            .values(
                policy_id=parsed.policy_id,
                version=parsed.version,
                source=text,
                format=fmt,
                created_by=principal.actor,
                created_at=now,
                updated_by=principal.actor,
                updated_at=now,
                editor=person(principal),
            )
            .returning(policy_drafts.c.id)
        ).scalar_one()
        audit(connection, principal, "draft.create", f"draft:{draft_id}", {"policy_id": parsed.policy_id})
        row = _draft_row(connection, draft_id)
    return _draft_out(row, parsed)


@router.get("", response_model=list[DraftOut], responses=problems())
def list_drafts(principal: Officer, state: StateDep, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """Drafts, newest first."""
    with state.engine.connect() as connection:
        rows = connection.execute(
            select(policy_drafts).order_by(policy_drafts.c.id.desc()).limit(limit).offset(offset)
        ).all()
    return [_draft_out(r) for r in rows]


@router.get("/{draft_id}", response_model=DraftOut, responses=problems(404))
def read_draft_endpoint(draft_id: DraftId, principal: Officer, state: StateDep) -> dict[str, Any]:
    """One draft with its text and problems."""
    with state.engine.connect() as connection:
        return _draft_out(_draft_row(connection, draft_id))


@router.put(
    "/{draft_id}",
    response_model=DraftOut,
    responses=problems(404, 409, 415, body=True),
    openapi_extra={"requestBody": _BODY},
)
def update_draft(draft_id: DraftId, body: Body, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Replace a draft's text, valid or not. A change after submitting sends the draft back to ``draft`` (and
    every draft of its set): an approval covers the text the checker saw. A published draft is frozen."""
    text, fmt = body
    with state.engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        if row.review_state == "published":
            raise Conflict(f"draft {draft_id} is published and frozen; create a new draft for the next version")
        if row.kind == "withdrawal":
            raise Conflict(
                f"draft {draft_id} withdraws a published version; its text follows from the version and the date:"
                " create a new withdrawal (POST /policy-drafts/withdrawals) for another date"
            )
        parsed = read_draft(text, draft_file(draft_id, fmt))
        _leave_set(connection, row)
        changed = connection.execute(
            update(policy_drafts)
            .where((policy_drafts.c.id == draft_id) & (policy_drafts.c.revision == row.revision))
            .values(
                policy_id=parsed.policy_id,
                version=parsed.version,
                source=text,
                format=fmt,
                updated_by=principal.actor,
                updated_at=datetime.now(UTC),
                editor=person(principal),
                revision=row.revision + 1,
                review_state="draft",
                review_set=None,
            )
        ).rowcount
        if not changed:
            raise Conflict(f"draft {draft_id} was changed meanwhile; reload it and apply your change again")
        detail = {"policy_id": parsed.policy_id, "revision": row.revision + 1}
        if row.review_state != "draft":
            detail["review_state_was"] = row.review_state
        audit(connection, principal, "draft.update", f"draft:{draft_id}", detail)
        return _draft_out(_draft_row(connection, draft_id), parsed)


def _leave_set(connection: Connection, row: Any) -> None:
    """The drafts reviewed with ``row`` go back to ``draft`` when one of them changes: the set was one review."""
    if not row.review_set:
        return
    connection.execute(
        update(policy_drafts)
        .where((policy_drafts.c.review_set == row.review_set) & (policy_drafts.c.id != row.id))
        .values(review_state="draft", review_set=None)
    )


def _compiled(row: Any):
    parsed = read_draft(row.source, draft_file(row.id, row.format))
    if parsed.compiled is None:
        # The request is fine; the draft's text is not (yet): a state to fix first, hence 409 rather than 422.
        raise Conflict(
            f"draft {row.id} does not load: {parsed.problems[0].message}; fix the draft first",
            errors=problem_dicts(parsed.problems),
        )
    return parsed.compiled


def _amount_problem(state: ServiceState, compiled) -> PolicyError | None:
    """The draft's amount over the latest profiles (when there are any): an error when some enterprise would
    get an amount that cannot be paid (negative, not finite, over the ceiling, a division by zero)."""
    if not state.settings.profiles_path.exists():
        return None
    profiles, as_of = latest_profiles(state)
    error = decide(profiles, [compiled], as_of).amount_errors.get(compiled.id)
    if error is None:
        return None
    shown = "; ".join(f"{e['uscc']}: {e['amount_yuan']}" for e in error["examples"])
    return PolicyError(
        f"the amount cannot be paid to {error['enterprises']:,} enterprises of the latest profiles (as of {as_of}):"
        f" {', '.join(error['reasons'])} (e.g. {shown})",
        hint="an amount must be a finite number of yuan, at least 0 and at most 1,000,000,000, for every"
        " enterprise: guard a division, e.g. if(headcount > 0, total / headcount, 0)",
        location=compiled.amount.location,
    )


@router.post("/{draft_id}/validate", response_model=ValidationOut, responses=problems(404))
def validate(
    draft_id: DraftId,
    principal: Officer,
    state: StateDep,
    effective_from: Annotated[
        date | None, Query(description="check publishing from this date (default: the draft's)")
    ] = None,
) -> dict[str, Any]:
    """Everything publishing would check, from the draft's own effective date: the file, the facts and types,
    the relations with the published catalogue, and no overlap with other versions."""
    with state.engine.connect() as connection:
        row = _draft_row(connection, draft_id)
        catalogue = state.catalogue.load(connection)
    file = draft_file(row.id, row.format)
    parsed = read_draft(row.source, file)
    found = list(parsed.problems)
    if row.kind == "withdrawal":  # a version out of force from its date: what publishing the withdrawal checks
        plan = plan_withdrawal(
            catalogue, row.policy_id, row.version, row.effective_from, _today(), lambda p: source_text(state, p)
        )
        found += locate(plan.problems, file)
        if plan.conflict:
            found.append(PolicyError(plan.conflict, location=Location(file)))
    elif parsed.compiled is not None:
        plan = plan_publish(
            catalogue,
            parsed.compiled,
            row.source,
            effective_from or parsed.compiled.policy.effective.start,
            lambda p: source_text(state, p),
        )
        found += locate(plan.problems, file)
        if plan.conflict:
            found.append(PolicyError(plan.conflict, location=Location(file)))
        unpayable = _amount_problem(state, parsed.compiled)
        if unpayable is not None:
            found.append(unpayable)
    return {
        "valid": not found,
        "policy_id": parsed.policy_id,
        "version": parsed.version,
        "problems": problem_dicts(found),
    }


@router.post("/{draft_id}/examples", response_model=list[ExampleResultOut], responses=problems(404, 409))
def run_draft_examples(draft_id: DraftId, principal: Officer, state: StateDep) -> list[dict[str, Any]]:
    """Run the draft's examples through the bulk evaluator and the tracer; each must agree with its expectation."""
    with state.engine.connect() as connection:
        compiled = _compiled(_draft_row(connection, draft_id))
    return [{"example": r.example, "ok": r.ok, "problems": list(r.problems)} for r in run_examples([compiled])]


_profiles_lock = threading.Lock()
_profiles_cache: dict[str, tuple[int, pl.DataFrame]] = {}


def latest_profiles(state: ServiceState) -> tuple[pl.DataFrame, Any]:
    path: FilePath = state.settings.profiles_path
    if not path.exists():
        raise Conflict(f"no profiles at {path}: build them with `huiqi profiles` or start a run (POST /runs) first")
    with _profiles_lock:
        stamp = path.stat().st_mtime_ns
        cached = _profiles_cache.get(str(path))
        if cached is None or cached[0] != stamp:
            cached = (stamp, pl.read_parquet(path))
            _profiles_cache[str(path)] = cached
    return cached[1], read_profile_info(path).as_of


@router.get("/{draft_id}/impact", response_model=ImpactOut, responses=problems(404, 409))
def draft_impact(
    draft_id: DraftId,
    principal: Officer,
    state: StateDep,
    limit: Annotated[int, Query(ge=0, le=100_000, description="how many USCCs to list per change")] = 100,
) -> dict[str, Any]:
    """What the draft would change against the published version, over the latest profiles: who becomes
    eligible or stops being, the total against the budget, and the breakdown by region, size and industry."""
    with state.engine.connect() as connection:
        compiled = _compiled(_draft_row(connection, draft_id))
        catalogue = state.catalogue.load(connection)
    profiles, as_of = impact_profiles(state)
    return impact(profiles, catalogue.in_force(as_of), compiled, as_of, limit=limit)


def impact_profiles(state: ServiceState) -> tuple[pl.DataFrame, Any]:
    """The latest profiles as the next run would decide from them (and the impact page explains them)."""
    profiles, as_of = latest_profiles(state)
    with state.engine.connect() as connection:  # the lists and accepted facts the next run would lay over them
        return lay_over(profiles, connection), as_of


def _today() -> date:
    return datetime.now(UTC).date()


def _refuse(row: Any, move: str) -> None:
    why = refusal(row, move)
    if why is not None:
        raise Conflict(why[0], detail_zh=why[1], review_state=row.review_state)


def _move(connection: Connection, row: Any, **values: Any) -> None:
    """Change the review of ``row`` only if it is still in the state and revision the caller read."""
    key = (
        (policy_drafts.c.id == row.id)
        & (policy_drafts.c.review_state == row.review_state)
        & (policy_drafts.c.revision == row.revision)
    )
    if not connection.execute(update(policy_drafts).where(key).values(**values)).rowcount:
        raise Conflict(f"draft {row.id} was changed or reviewed meanwhile; reload it and try again")


def _members(connection: Connection, row: Any) -> list[Any]:
    """The drafts reviewed with ``row`` (itself included), all in its state: a set moves as one."""
    if not row.review_set:
        return [row]
    members = [_draft_row(connection, i) for i in parse_set(row.review_set)]
    if any(m.review_set != row.review_set or m.review_state != row.review_state for m in members):
        raise Conflict(f"the drafts reviewed with draft {row.id} changed meanwhile; submit the set again")
    return members


def _check_plan(state: ServiceState, row: Any, plan: PublishPlan, compiled) -> None:
    """Refuse (409 / 422, saying why) what publishing the plan would break."""
    if plan.conflict:
        raise Conflict(f"draft {row.id}: {plan.conflict}")
    if plan.problems:
        found = locate(plan.problems, draft_file(row.id, row.format))
        raise Invalid(f"publishing would break the catalogue: {found[0].message}", errors=problem_dicts(found))
    unpayable = _amount_problem(state, compiled) if compiled is not None else None
    if unpayable is not None:
        raise Invalid(
            f"publishing would pay amounts that cannot be paid: {unpayable.message}",
            detail_zh="该草稿的金额公式对部分企业算出的金额无法拨付（为负数、无穷大、超过上限或除以零），请修改后再发布",
            errors=problem_dicts([unpayable]),
        )


def _publishable(connection: Connection, state: ServiceState, row: Any, day: date | None) -> tuple[PublishPlan, date]:
    """What publishing the draft would write from ``day`` (default: its text's effective.from), or 409/422."""
    catalogue = state.catalogue.load(connection)
    if row.kind == "withdrawal":
        plan = plan_withdrawal(
            catalogue, row.policy_id, row.version, row.effective_from, _today(), lambda p: source_text(state, p)
        )
        _check_plan(state, row, plan, None)
        return plan, row.effective_from
    compiled = _compiled(row)
    day = day or compiled.policy.effective.start
    plan = plan_publish(catalogue, compiled, row.source, day, lambda p: source_text(state, p))
    _check_plan(state, row, plan, compiled)
    return plan, day


def _check_set(state: ServiceState, connection: Connection, rows: list[Any], day: date) -> list[PublishPlan]:
    if any(row.kind == "withdrawal" for row in rows):
        raise Conflict("a withdrawal is reviewed and published on its own, not in a set")
    drafts = [(_compiled(row), row.source) for row in rows]
    catalogue = state.catalogue.load(connection)
    plans, problems_found = plan_publish_set(catalogue, drafts, day, lambda p: source_text(state, p))
    for row, plan in zip(rows, plans, strict=False):
        if plan.conflict:
            raise Conflict(f"draft {row.id}: {plan.conflict}")
        if plan.problems:
            found = locate(plan.problems, draft_file(row.id, row.format))
            raise Invalid(f"draft {row.id} does not publish: {found[0].message}", errors=problem_dicts(found))
    if problems_found:
        found = locate(problems_found, "the set")
        raise Invalid(
            f"publishing the set would break the catalogue: {found[0].message}",
            detail_zh="一并发布这些草稿会使政策目录出错，请修改后再发布",
            errors=problem_dicts(found),
        )
    for (compiled, _), row in zip(drafts, rows, strict=True):
        unpayable = _amount_problem(state, compiled)
        if unpayable is not None:
            raise Invalid(
                f"draft {row.id} would pay amounts that cannot be paid: {unpayable.message}",
                detail_zh="该草稿的金额公式对部分企业算出的金额无法拨付，请修改后再发布",
                errors=problem_dicts([unpayable]),
            )
    return plans


def _leave_set_except(connection: Connection, row: Any, keep: set[int]) -> None:
    """Submitting ``row`` anew ends the set it was returned with (its other drafts go back to ``draft``)."""
    if row.review_set and set(parse_set(row.review_set)) != keep:
        connection.execute(
            update(policy_drafts)
            .where((policy_drafts.c.review_set == row.review_set) & policy_drafts.c.id.not_in(keep))
            .values(review_state="draft", review_set=None)
        )


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"effective_from": "2025-07-01"}]})
    effective_from: date | None = Field(
        None, description="the first day in force once published (default: the text's effective.from)"
    )


class SubmitSetIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"draft_ids": [12, 13], "effective_from": "2025-07-01"}]}
    )
    draft_ids: list[DraftNumber] = Field(
        min_length=2, max_length=20, description="drafts reviewed and published as one set"
    )
    effective_from: date = Field(description="the first day the new versions are in force")


class ReviewIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"revision": 3, "comment": "区域条件与文件一致"}]}
    )
    revision: int | None = Field(
        None, ge=1, description="the revision the checker read; refused (409) if the text changed since"
    )
    comment: str | None = Field(None, max_length=2000, description="the checker's comment")


class ReturnIn(ReviewIn):
    comment: str = Field(min_length=1, max_length=2000, description="what the author should change")


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"policy_id": "job-retention-refund", "version": 2, "withdraw_from": "2027-01-01"}]
        },
    )
    policy_id: str = Field(min_length=1, max_length=80)
    version: int = Field(ge=1, le=2**31 - 1)
    withdraw_from: date = Field(description="the first day the version is no longer in force (after today)")


def _submitted(principal: Principal, now: datetime, day: date, key: str | None) -> dict[str, Any]:
    return {
        "review_state": "submitted",
        "effective_from": day,
        "review_set": key,
        "submitted_by": principal.actor,
        "submitter": person(principal),
        "submitted_at": now,
        "reviewed_by": None,
        "reviewed_at": None,
        "review_comment": None,
    }


@router.post("/withdrawals", status_code=201, response_model=DraftOut, responses=problems(409, body=True))
def create_withdrawal(body: WithdrawalIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """A draft that takes a published version out of force from a future date; it is reviewed and published
    like any draft (submit, another officer approves, publish)."""
    now = datetime.now(UTC)
    with state.engine.begin() as connection:
        catalogue = state.catalogue.load(connection)
        plan = plan_withdrawal(
            catalogue, body.policy_id, body.version, body.withdraw_from, _today(), lambda p: source_text(state, p)
        )
        if plan.conflict:
            raise Conflict(plan.conflict)
        if plan.problems:
            found = locate(plan.problems, "the withdrawal")
            raise Invalid(f"withdrawing would break the catalogue: {found[0].message}", errors=problem_dicts(found))
        _, text = plan.closed[0]
        draft_id = connection.execute(
            insert(policy_drafts)
            .values(
                kind="withdrawal",
                policy_id=body.policy_id,
                version=body.version,
                source=text,
                format="yaml",
                created_by=principal.actor,
                created_at=now,
                updated_by=principal.actor,
                updated_at=now,
                editor=person(principal),
                effective_from=body.withdraw_from,
            )
            .returning(policy_drafts.c.id)
        ).scalar_one()
        audit(connection, principal, "draft.create", f"draft:{draft_id}", body.model_dump(mode="json"))
        return _draft_out(_draft_row(connection, draft_id))


@router.post("/{draft_id}/submit", response_model=DraftOut, responses=problems(404, 409, body=True))
def submit(draft_id: DraftId, principal: Officer, state: StateDep, body: SubmitIn | None = None) -> dict[str, Any]:
    """Submit the draft for review, to be published from ``effective_from``: refused (409/422, saying why) when
    publishing it would fail, so the checker reviews only what can be published."""
    day = (body or SubmitIn()).effective_from
    with state.engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        _refuse(row, "submit")
        if row.kind == "withdrawal" and day not in (None, row.effective_from):
            raise Invalid(
                f"draft {draft_id} withdraws from {row.effective_from}; create a new withdrawal for {day}",
                errors=[{"field": "effective_from", "message": "a withdrawal's date is set when it is created"}],
            )
        _, day = _publishable(connection, state, row, day)
        _leave_set_except(connection, row, {row.id})
        _move(connection, row, **_submitted(principal, datetime.now(UTC), day, None))
        audit(
            connection,
            principal,
            "draft.submit",
            f"draft:{draft_id}",
            {"effective_from": day, "revision": row.revision},
        )
        return _draft_out(_draft_row(connection, draft_id))


@router.post("/submit", response_model=list[DraftOut], responses=problems(404, 409, body=True))
def submit_set(body: SubmitSetIn, principal: Officer, state: StateDep) -> list[dict[str, Any]]:
    """Submit related drafts as one set: reviewed, approved or returned, and published together."""
    if len(set(body.draft_ids)) != len(body.draft_ids):
        twice = next(i for i in body.draft_ids if body.draft_ids.count(i) > 1)
        raise Conflict(f"a set reviews one version per draft; draft {twice} is in it more than once")
    key = set_key(body.draft_ids)
    now = datetime.now(UTC)
    with state.engine.begin() as connection:
        rows = [_draft_row(connection, i) for i in body.draft_ids]
        for row in rows:
            _refuse(row, "submit")
        _check_set(state, connection, rows, body.effective_from)
        for row in rows:
            _leave_set_except(connection, row, set(body.draft_ids))
            _move(connection, row, **_submitted(principal, now, body.effective_from, key))
        audit(
            connection,
            principal,
            "draft.submit",
            f"drafts:{key}",
            {"effective_from": body.effective_from, "revisions": {r.id: r.revision for r in rows}},
        )
        return [_draft_out(_draft_row(connection, i)) for i in body.draft_ids]


def _review(draft_id: int, body: ReviewIn, principal: Principal, state: ServiceState, move: str) -> dict[str, Any]:
    with state.engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        _refuse(row, move)
        if body.revision is not None and body.revision != row.revision:
            raise Conflict(
                f"you reviewed revision {body.revision} of draft {draft_id}, but it is at revision {row.revision}"
                " now: review the current text"
            )
        members = _members(connection, row)
        for member in members:
            why = same_person(member, principal)
            if why:
                raise Conflict(why, detail_zh="不能审核自己编写或提交的草稿（双人复核），请由另一名工作人员审核")
        now = datetime.now(UTC)
        for member in members:
            _move(
                connection,
                member,
                review_state="approved" if move == "approve" else "returned",
                reviewed_by=principal.actor,
                reviewed_at=now,
                review_comment=body.comment,
            )
        audit(
            connection,
            principal,
            f"draft.{move}",
            f"draft:{draft_id}" if len(members) == 1 else f"drafts:{row.review_set}",
            {"revision": row.revision, "effective_from": row.effective_from, "comment": body.comment},
        )
        return _draft_out(_draft_row(connection, draft_id))


@router.post("/{draft_id}/approve", response_model=DraftOut, responses=problems(404, 409, body=True))
def approve(draft_id: DraftId, principal: Officer, state: StateDep, body: ReviewIn | None = None) -> dict[str, Any]:
    """Approve a submitted draft (with its set): only an officer who neither wrote nor submitted it."""
    return _review(draft_id, body or ReviewIn(), principal, state, "approve")


@router.post("/{draft_id}/reject", response_model=DraftOut, responses=problems(404, 409, body=True))
def reject(draft_id: DraftId, body: ReturnIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Send a submitted or approved draft (with its set) back to its author with a comment."""
    return _review(draft_id, body, principal, state, "reject")


def _close(connection: Connection, older, text: str, principal: Principal, now: datetime) -> dict[str, Any]:
    """Set an older version's effective.to: its published row, or a row replacing the repository file."""
    key = (policy_versions.c.policy_id == older.id) & (policy_versions.c.version == older.version)
    values = {"source": text, "effective_to": older.policy.effective.end}
    if connection.execute(update(policy_versions).where(key).values(**values)).rowcount == 0:
        connection.execute(
            insert(policy_versions).values(
                policy_id=older.id,
                version=older.version,
                effective_from=older.policy.effective.start,
                published_by=principal.actor,
                published_at=now,
                **values,
            )
        )
    return {"version": older.version, "effective_to": older.policy.effective.end}


def _mark_published(connection: Connection, row: Any, principal: Principal, now: datetime) -> None:
    key = (
        (policy_drafts.c.id == row.id)
        & (policy_drafts.c.review_state == "approved")
        & (policy_drafts.c.revision == row.revision)
    )
    values = {"published_at": now, "review_state": "published", "published_by": principal.actor}
    if not connection.execute(update(policy_drafts).where(key).values(**values)).rowcount:
        raise Conflict(f"draft {row.id} was changed or published meanwhile; reload it")


def _write(connection: Connection, plan: PublishPlan, row: Any, principal: Principal, now: datetime) -> dict:
    """Write a planned publish (new version, closed older versions, the draft marked, the audit entry)."""
    if row.kind == "withdrawal":
        older, text = plan.closed[0]
        _mark_published(connection, row, principal, now)
        _close(connection, older, text, principal, now)
        out = {
            "policy_id": older.id,
            "version": older.version,
            "effective_from": older.policy.effective.start,
            "effective_to": older.policy.effective.end,
            "closed": [],
        }
        detail = {"draft_id": row.id, "approved_by": row.reviewed_by, **out}
        audit(connection, principal, "policy.withdraw", f"policy:{older.id}:v{older.version}", detail)
        return out
    new = plan.new.policy
    _mark_published(connection, row, principal, now)
    connection.execute(
        insert(policy_versions).values(
            policy_id=new.id,
            version=new.version,
            source=plan.new_source,
            effective_from=new.effective.start,
            effective_to=new.effective.end,
            draft_id=row.id,
            published_by=principal.actor,
            published_at=now,
        )
    )
    closed = [_close(connection, older, text, principal, now) for older, text in plan.closed]
    out = {
        "policy_id": new.id,
        "version": new.version,
        "effective_from": new.effective.start,
        "effective_to": new.effective.end,
        "closed": closed,
    }
    detail = {"draft_id": row.id, "approved_by": row.reviewed_by, **out}
    audit(connection, principal, "policy.publish", f"policy:{new.id}:v{new.version}", detail)
    return out


def _approved_for(row: Any, day: date | None) -> None:
    if row.review_state == "published":
        raise Conflict(
            f"draft {row.id} was already published on {row.published_at:%Y-%m-%d}",
            detail_zh=f"草稿 {row.id} 已发布",
            review_state=row.review_state,
        )
    _refuse(row, "publish")
    if day is not None and day != row.effective_from:
        raise Conflict(
            f"draft {row.id} was approved for {row.effective_from}, not {day}: submit it again with the new date",
            detail_zh=f"草稿 {row.id} 经批准的生效日期为 {row.effective_from}，如需改期请重新提交审核",
        )


@router.post("/{draft_id}/publish", status_code=201, response_model=PublishOut, responses=problems(404, 409, body=True))
def publish(draft_id: DraftId, principal: Officer, state: StateDep, body: PublishIn | None = None) -> dict[str, Any]:
    """Publish an approved draft from the date it was approved for; older versions end the day before and are
    kept. Refused (409, saying why) until another officer approved it; a withdrawal ends its version."""
    now = datetime.now(UTC)
    try:
        with state.engine.begin() as connection:
            row = _draft_row(connection, draft_id)
            _approved_for(row, body.effective_from if body else None)
            if row.review_set:
                raise Conflict(
                    f"draft {draft_id} was reviewed with drafts {parse_set(row.review_set)} as one set:"
                    " publish them together (POST /policy-drafts/publish)"
                )
            plan, _ = _publishable(connection, state, row, row.effective_from)
            out = _write(connection, plan, row, principal, now)
    except IntegrityError:
        raise Conflict(
            f"version {row.version} of '{row.policy_id}' was published meanwhile; reload and retry"
        ) from None
    state.catalogue.invalidate()  # this process serves the new version from the next request
    return out


class PublishSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"draft_ids": [12, 13]}]})
    draft_ids: list[DraftNumber] = Field(min_length=2, max_length=20, description="the drafts to publish together")
    effective_from: date | None = Field(
        None, description="the first day the new versions are in force: the date the set was approved for"
    )


@router.post("/publish", status_code=201, response_model=list[PublishOut], responses=problems(404, 409, body=True))
def publish_set(body: PublishSetIn, principal: Officer, state: StateDep) -> list[dict[str, Any]]:
    """Publish a set of drafts approved together (e.g. two new policies that exclude each other), in one
    transaction: the catalogue is checked with all of them, and either every one is published or none."""
    now = datetime.now(UTC)
    if len(set(body.draft_ids)) != len(body.draft_ids):
        twice = next(i for i in body.draft_ids if body.draft_ids.count(i) > 1)
        raise Conflict(f"a set publishes one version per draft; draft {twice} is in it more than once")
    try:
        with state.engine.begin() as connection:
            rows = [_draft_row(connection, i) for i in body.draft_ids]
            for row in rows:
                _approved_for(row, body.effective_from)
            key = set_key(body.draft_ids)
            apart = [row.id for row in rows if row.review_set != key]
            if apart:
                raise Conflict(
                    f"drafts {sorted(body.draft_ids)} were not approved as one set (draft {apart[0]} was reviewed"
                    f" {'alone' if not rows[body.draft_ids.index(apart[0])].review_set else 'with other drafts'}):"
                    " submit them together (POST /policy-drafts/submit)"
                )
            plans = _check_set(state, connection, rows, rows[0].effective_from)
            out = [_write(connection, plan, row, principal, now) for plan, row in zip(plans, rows, strict=True)]
    except IntegrityError:
        raise Conflict("a version in the set was published meanwhile; reload and retry") from None
    state.catalogue.invalidate()
    return out

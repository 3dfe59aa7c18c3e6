"""Policy officers' drafts: write, validate, try the examples, see the impact, publish."""

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
    PublishPlan,
    draft_file,
    locate,
    normalise_json,
    plan_publish,
    plan_publish_set,
    problem_dicts,
    read_draft,
)
from api.service.impact import impact
from api.service.problems import Conflict, Invalid, NotFound, Unsupported
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
from policies.errors import Location, PolicyError
from policies.examples import run_examples
from policies.limits import MAX_POLICY_BYTES

router = APIRouter(prefix="/policy-drafts", tags=["policy drafts"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the draft's id")]
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


def _draft_out(row: Any) -> dict[str, Any]:
    parsed = _parsed(row.id, row.updated_at, row.source, row.format)
    return {
        **{k: getattr(row, k) for k in ("id", "policy_id", "version", "format", "created_by", "created_at")},
        **{k: getattr(row, k) for k in ("updated_by", "updated_at", "published_at")},
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
            )
            .returning(policy_drafts.c.id)
        ).scalar_one()
        audit(connection, principal, "draft.create", f"draft:{draft_id}", {"policy_id": parsed.policy_id})
        row = _draft_row(connection, draft_id)
    return _draft_out(row)


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
    """Replace a draft's text. A published draft is frozen: write a new draft for the next version."""
    text, fmt = body
    with state.engine.begin() as connection:
        if _draft_row(connection, draft_id).published_at is not None:
            raise Conflict(f"draft {draft_id} is published and frozen; create a new draft for the next version")
        parsed = read_draft(text, draft_file(draft_id, fmt))
        connection.execute(
            update(policy_drafts)
            .where(policy_drafts.c.id == draft_id)
            .values(
                policy_id=parsed.policy_id,
                version=parsed.version,
                source=text,
                format=fmt,
                updated_by=principal.actor,
                updated_at=datetime.now(UTC),
            )
        )
        audit(connection, principal, "draft.update", f"draft:{draft_id}", {"policy_id": parsed.policy_id})
        return _draft_out(_draft_row(connection, draft_id))


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
    if parsed.compiled is not None:
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
    profiles, as_of = latest_profiles(state)
    return impact(profiles, catalogue.in_force(as_of), compiled, as_of, limit=limit)


def _write(connection: Connection, plan: PublishPlan, draft_id: int, principal: Principal, now: datetime) -> dict:
    """Write a planned publish (new version, closed older versions, the draft marked, the audit entry)."""
    new = plan.new.policy
    connection.execute(
        insert(policy_versions).values(
            policy_id=new.id,
            version=new.version,
            source=plan.new_source,
            effective_from=new.effective.start,
            effective_to=new.effective.end,
            draft_id=draft_id,
            published_by=principal.actor,
            published_at=now,
        )
    )
    closed = []
    for older, text in plan.closed:
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
        closed.append({"version": older.version, "effective_to": older.policy.effective.end})
    connection.execute(update(policy_drafts).where(policy_drafts.c.id == draft_id).values(published_at=now))
    out = {
        "policy_id": new.id,
        "version": new.version,
        "effective_from": new.effective.start,
        "effective_to": new.effective.end,
        "closed": closed,
    }
    audit(
        connection,
        principal,
        "policy.publish",
        f"policy:{new.id}:v{new.version}",
        {"draft_id": draft_id, **out},
    )
    return out


@router.post("/{draft_id}/publish", status_code=201, response_model=PublishOut, responses=problems(404, 409, body=True))
def publish(draft_id: DraftId, body: PublishIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Publish the draft as a new version from ``effective_from``; older versions end the day before and are kept."""
    now = datetime.now(UTC)
    try:
        with state.engine.begin() as connection:
            row = _draft_row(connection, draft_id)
            if row.published_at is not None:
                raise Conflict(f"draft {draft_id} was already published on {row.published_at:%Y-%m-%d}")
            compiled = _compiled(row)
            catalogue = state.catalogue.load(connection)
            plan = plan_publish(catalogue, compiled, row.source, body.effective_from, lambda p: source_text(state, p))
            if plan.conflict:
                raise Conflict(plan.conflict)
            if plan.problems:
                found = locate(plan.problems, draft_file(row.id, row.format))
                raise Invalid(f"publishing would break the catalogue: {found[0].message}", errors=problem_dicts(found))
            unpayable = _amount_problem(state, compiled)
            if unpayable is not None:
                raise Invalid(
                    f"publishing would pay amounts that cannot be paid: {unpayable.message}",
                    detail_zh="该草稿的金额公式对部分企业算出的金额无法拨付（为负数、无穷大、超过上限或除以零），请修改后再发布",
                    errors=problem_dicts([unpayable]),
                )
            out = _write(connection, plan, draft_id, principal, now)
    except IntegrityError:
        raise Conflict(
            f"version {compiled.version} of '{compiled.id}' was published meanwhile; reload and retry"
        ) from None
    state.catalogue.invalidate()  # this process serves the new version from the next request
    return out


class PublishSetIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"draft_ids": [12, 13], "effective_from": "2025-07-01"}]}
    )
    draft_ids: list[int] = Field(min_length=2, max_length=20, description="the drafts to publish together")
    effective_from: date = Field(description="the first day the new versions are in force")


@router.post("/publish", status_code=201, response_model=list[PublishOut], responses=problems(404, 409, body=True))
def publish_set(body: PublishSetIn, principal: Officer, state: StateDep) -> list[dict[str, Any]]:
    """Publish related drafts together (e.g. two new policies that exclude each other), in one transaction:
    the catalogue is checked with all of them, and either every one is published or none."""
    now = datetime.now(UTC)
    try:
        with state.engine.begin() as connection:
            rows = [_draft_row(connection, i) for i in body.draft_ids]
            for row in rows:
                if row.published_at is not None:
                    raise Conflict(f"draft {row.id} was already published on {row.published_at:%Y-%m-%d}")
            drafts = [(_compiled(row), row.source) for row in rows]
            catalogue = state.catalogue.load(connection)
            plans, problems_found = plan_publish_set(
                catalogue, drafts, body.effective_from, lambda p: source_text(state, p)
            )
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
            out = [_write(connection, plan, row.id, principal, now) for plan, row in zip(plans, rows, strict=True)]
    except IntegrityError:
        raise Conflict("a version in the set was published meanwhile; reload and retry") from None
    state.catalogue.invalidate()
    return out

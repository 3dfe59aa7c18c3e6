"""Matching runs started and followed over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from api.service.audit import audit
from api.service.auth import allow
from api.service.problems import Conflict, NotFound
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.runs import RunRequestOut, RunStartIn
from api.service.state import StateDep
from api.service.tokens import Principal
from matcher.db.models import run_requests

router = APIRouter(tags=["runs"])
Starter = Annotated[Principal, Depends(allow("officer", "admin"))]
Follower = Annotated[Principal, Depends(allow("officer", "analyst", "admin"))]


@router.post("/runs", status_code=202, response_model=RunRequestOut, responses=problems(409, body=True))
def start_run(body: RunStartIn, principal: Starter, state: StateDep) -> dict[str, Any]:
    """Start a matching run in the background with the published catalogue; follow it with GET /runs/{id}."""
    registry = state.settings.registry_dir
    if not registry.is_dir():
        raise Conflict(f"no registry extracts at {registry}: generate or copy them there first")
    with state.engine.begin() as connection:
        request_id = state.runner.submit(body.as_of, principal.actor, connection)
        audit(connection, principal, "run.start", f"run_request:{request_id}", {"as_of": body.as_of})
        row = connection.execute(select(run_requests).where(run_requests.c.id == request_id)).mappings().one()
    state.runner.start(request_id, body.as_of)
    return dict(row)


@router.get("/runs", response_model=list[RunRequestOut], responses=problems())
def list_runs(principal: Follower, state: StateDep, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """Runs started over HTTP, newest first."""
    query = select(run_requests).order_by(run_requests.c.id.desc()).limit(limit).offset(offset)
    with state.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


@router.get("/runs/{request_id}", response_model=RunRequestOut, responses=problems(404))
def read_run(
    request_id: Annotated[int, Path(ge=1, le=2**31 - 1)], principal: Follower, state: StateDep
) -> dict[str, Any]:
    """A run's status: queued, running (with its stage), completed (with its summary) or failed (with why)."""
    with state.engine.connect() as connection:
        row = connection.execute(select(run_requests).where(run_requests.c.id == request_id)).mappings().first()
    if row is None:
        raise NotFound(f"no run request {request_id}")
    return dict(row)

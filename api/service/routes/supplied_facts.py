"""Officers review the facts enterprises supplied (api/service/supplied_facts.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api.service import attested_lists
from api.service.auth import allow
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.supplied_facts import AttestedListOut, SuppliedFactOut, SuppliedFactReviewIn
from api.service.state import StateDep
from api.service.supplied_facts import list_supplied, review_supplied
from api.service.tokens import Principal
from features.profiles.department_lists import MAX_LIST_BYTES

router = APIRouter(prefix="/supplied-facts", tags=["supplied facts"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
SuppliedId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the supplied fact's id")]


@router.get("", response_model=list[SuppliedFactOut], responses=problems())
def read_supplied(
    principal: Officer,
    state: StateDep,
    status: Annotated[
        Literal["open", "accepted", "rejected", "superseded", "all"],
        Query(description="open ones oldest first (the queue), others newest first"),
    ] = "open",
    uscc: Annotated[str | None, Query(min_length=18, max_length=18, description="one enterprise's only")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Facts enterprises supplied for their notices, and officers' or departments' attestations, with who
    supplied them, when, on what evidence and for which notice."""
    with state.engine.connect() as connection:
        return list_supplied(connection, status, limit, offset, uscc)


@router.post("/{supplied_id}/review", response_model=SuppliedFactOut, responses=problems(404, 409, body=True))
def review(supplied_id: SuppliedId, body: SuppliedFactReviewIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Accept (the fact enters the next run's profiles) or reject with a reason (the enterprise reads it on its
    notice). Once only; audited."""
    return review_supplied(
        state.engine,
        principal,
        supplied_id,
        accept=body.outcome == "accepted",
        reason=body.reason,
        overrides_registry=getattr(body, "overrides_registry", False),
    )


# A department's complete list (api/service/attested_lists.py), read as bytes whatever its media type.
MAX_LIST_BODY = MAX_LIST_BYTES
_LIST_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/lists",
    status_code=201,
    response_model=AttestedListOut,
    responses=problems(body=True),
    openapi_extra={"requestBody": _LIST_BODY},
)
async def import_attested_list(
    request: Request,
    principal: Officer,
    state: StateDep,
    fact: Annotated[str, Query(max_length=60, description="the declared fact the list attests")],
    department: Annotated[str, Query(max_length=40, description="who keeps the list (its declared id)")],
    as_of: Annotated[date, Query(description="the date the list is complete for")],
    reference: Annotated[str, Query(min_length=1, max_length=200, description="the list's document reference")],
) -> dict[str, Any]:
    """A department's complete list of a declared fact (CSV or Parquet: uscc, value[, evidence]): firms on it take
    its value, every other firm the fact's declared value for firms not on it, from the next run. Refused whole
    (422, each bad row and column named) when any row is wrong; a USCC no profile knows is kept and counted."""
    data = await request.body()
    return await run_in_threadpool(
        attested_lists.import_list,
        state.engine,
        principal,
        data,
        name=fact,
        department=department,
        as_of=as_of,
        reference=reference,
        source="request body",
        profiles=state.settings.profiles_path,
        quarantine_dir=state.settings.quarantine_dir,
    )


@router.get("/lists", response_model=list[AttestedListOut], responses=problems())
def read_attested_lists(
    principal: Officer,
    state: StateDep,
    fact: Annotated[str | None, Query(max_length=60, description="one fact's lists only")] = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Imported complete lists, newest first; the newest of each fact (``current``) is what the next run uses."""
    with state.engine.connect() as connection:
        return attested_lists.lists(connection, fact, limit)

"""Officers review the facts enterprises supplied (api/service/supplied_facts.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.service.auth import allow
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.supplied_facts import SuppliedFactOut, SuppliedFactReviewIn
from api.service.state import StateDep
from api.service.supplied_facts import list_supplied, review_supplied
from api.service.tokens import Principal

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

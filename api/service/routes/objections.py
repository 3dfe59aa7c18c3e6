"""Officers review enterprises' objections (api/service/objections.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.service.auth import allow
from api.service.objections import list_objections, review_objection
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.objections import ObjectionOut, ReviewIn
from api.service.state import StateDep
from api.service.tokens import Principal

router = APIRouter(tags=["objections"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]


@router.get("/objections", response_model=list[ObjectionOut], responses=problems())
def read_objections(
    principal: Officer,
    state: StateDep,
    status: Annotated[
        Literal["open", "reviewed", "all"], Query(description="open (oldest first), reviewed or all (newest first)")
    ] = "open",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Enterprises' objections with their reasons and the ledger status they hold; open ones first in line."""
    with state.engine.connect() as connection:
        return list_objections(connection, status, limit, offset)


@router.post("/objections/{objection_id}/review", response_model=ObjectionOut, responses=problems(404, 409, body=True))
def review(
    objection_id: Annotated[int, Path(ge=1, le=2**62, description="the objection's id")],
    body: ReviewIn,
    principal: Officer,
    state: StateDep,
) -> dict[str, Any]:
    """Close an objection: dismissed releases the held payout and notices; upheld cancels them. Audited."""
    with state.engine.begin() as connection:
        return review_objection(connection, principal, objection_id, body.outcome, body.note)

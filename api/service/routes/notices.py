"""Notices delivery gave up on: officers page through them and send them again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.service.auth import allow
from api.service.dead_letters import requeue
from api.service.routes.common import Offset, problems
from api.service.schemas.notices import DeadLetterOut, RequeueIn, RequeueOut
from api.service.state import StateDep
from api.service.tokens import Principal
from matcher.delivery import dead_letters

router = APIRouter(prefix="/notices", tags=["notices"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
_TOTAL = {
    200: {
        "headers": {"X-Total-Count": {"description": "how many notices are dead in all", "schema": {"type": "integer"}}}
    }
}


@router.get("/dead", response_model=list[DeadLetterOut], responses=_TOTAL | problems())
def dead_notices(
    principal: Officer,
    state: StateDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many, newest first")] = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Notices whose delivery failed after every attempt, newest first, with their total in `X-Total-Count`:
    to follow up by other means, or to send again once the enterprise's receiver is mended."""
    total, rows = dead_letters(state.engine, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return rows


@router.post("/dead/requeue", response_model=RequeueOut, responses=problems(body=True))
def requeue_dead_notices(body: RequeueIn, principal: Officer, state: StateDep) -> RequeueOut:
    """Send dead notices again (`{"ids": [...]}` or `{"ids": "all"}`): each goes back to pending with its attempts
    reset, and delivery tries it afresh. A notice that is not dead is left alone, and so is one whose benefit the
    enterprise objected to or declined; `skipped` says which and why. Audited."""
    done = requeue(state.engine, principal, None if body.ids == "all" else body.ids)
    skipped = [{"id": i, "reason": why} for i, why in done.skipped.items()]
    return RequeueOut.model_validate({"requeued": len(done.ids), "ids": done.ids, "skipped": skipped})

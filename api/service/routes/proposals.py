"""Officers decide what later runs found about benefits in the ledger (api/service/corrections.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.service.auth import allow
from api.service.corrections import decide_proposal, list_proposals
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.proposals import ProposalDecisionIn, ProposalOut
from api.service.state import StateDep
from api.service.tokens import Principal

router = APIRouter(prefix="/ledger/proposals", tags=["ledger"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
ProposalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the proposal's id")]


@router.get("", response_model=list[ProposalOut], responses=problems())
def read_proposals(
    principal: Officer,
    state: StateDep,
    status: Annotated[
        Literal["open", "accepted", "dismissed", "all"],
        Query(description="open ones oldest first, others newest first"),
    ] = "open",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Benefits a later run found paid but no longer granted (recover), unpaid and no longer granted (cancel), or
    paid and now owed more (top_up): never applied without an officer."""
    with state.engine.connect() as connection:
        return list_proposals(connection, status, limit, offset)


@router.post("/{proposal_id}/accept", response_model=ProposalOut, responses=problems(404, 409, body=True))
def accept(proposal_id: ProposalId, body: ProposalDecisionIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Make the proposed correction: one journal entry with the run's finding and the note, a notice to the
    enterprise, audited. Once only."""
    with state.engine.begin() as connection:
        return decide_proposal(connection, principal, proposal_id, True, body.note)


@router.post("/{proposal_id}/dismiss", response_model=ProposalOut, responses=problems(404, 409, body=True))
def dismiss(proposal_id: ProposalId, body: ProposalDecisionIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Leave the benefit as it is, with the reasons. Once only."""
    with state.engine.begin() as connection:
        return decide_proposal(connection, principal, proposal_id, False, body.note)

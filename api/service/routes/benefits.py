"""A benefit's ledger entry with its journal (the enterprise its own, officers any), and officers' corrections."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import Connection

from api.service.auth import ReadingEnterprise, UsccPath, allow
from api.service.corrections import apply_correction, benefit_or_404
from api.service.routes.common import problems
from api.service.schemas.benefits import BenefitOut, CorrectionIn
from api.service.state import StateDep
from api.service.tokens import Principal
from matcher.ledger import BenefitKey, entries
from matcher.periods import PERIOD_KEY_LENGTH, PERIOD_KEY_PATTERN

router = APIRouter(prefix="/enterprises/{uscc}/benefits", tags=["benefits"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
PolicyId = Annotated[str, Path(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80, description="the policy's id")]
PeriodKey = Annotated[
    str,
    Path(
        pattern=PERIOD_KEY_PATTERN,
        max_length=PERIOD_KEY_LENGTH,
        description="the entitlement period: once, 2025, 2025-Q2, 2025-06, or per certificate its number"
        " (cert:GR202344001234; benefits granted before numbers keyed them: cert:2024-12-10, its validity start)",
    ),
]


def _benefit(connection: Connection, key: BenefitKey) -> dict[str, Any]:
    row = benefit_or_404(connection, key)
    mine = {k: row._mapping[k] for k in BenefitOut.model_fields if k != "journal"}
    return mine | {"journal": entries(connection, key)}


@router.get("/{policy_id}/{period_key}", response_model=BenefitOut, responses=problems(404))
def read_benefit(
    uscc: UsccPath, policy_id: PolicyId, period_key: PeriodKey, principal: ReadingEnterprise, state: StateDep
) -> dict[str, Any]:
    """The benefit as the ledger holds it, with every change: who, when, why, the amounts before and after."""
    with state.engine.connect() as connection:
        return _benefit(connection, BenefitKey(uscc, policy_id, period_key))


@router.post(
    "/{policy_id}/{period_key}/corrections", response_model=BenefitOut, responses=problems(404, 409, body=True)
)
def correct_benefit(
    uscc: UsccPath, policy_id: PolicyId, period_key: PeriodKey, body: CorrectionIn, principal: Officer, state: StateDep
) -> dict[str, Any]:
    """Correct the benefit with a reason (re-grant, adjust, cancel, top up, recover): one journal entry, audited.
    A state that does not allow the action is a 409 naming it."""
    key = BenefitKey(uscc, policy_id, period_key)
    with state.engine.begin() as connection:
        apply_correction(
            connection, principal, key, body.action, reason=body.reason.strip(), amount_fen=body.amount_fen
        )
        return _benefit(connection, key)

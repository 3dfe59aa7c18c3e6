"""A draft's static analysis and its semantic diff against the published version (policies/analysis).

``GET /policy-drafts/{id}/analysis``: what the draft's rules can never or always do, each finding with an
enterprise that shows it; ``GET /policy-drafts/{id}/diff``: which enterprises it newly admits or refuses
against the version in force, as conditions, counted on the latest profiles when there are any.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.service.problems import Conflict
from api.service.routes.common import problems
from api.service.routes.drafts import DraftId, Officer, _compiled, _draft_row, latest_profiles
from api.service.schemas.analysis import AnalysisOut, DiffOut
from api.service.state import StateDep
from policies.analysis import analyse_draft, diff_versions

router = APIRouter(prefix="/policy-drafts", tags=["policy drafts"])

_FIELDS = ("code", "severity", "policy_id", "version", "file", "line", "column", "message_zh", "message_en")


@router.get("/{draft_id}/analysis", response_model=AnalysisOut, responses=problems(404, 409))
def draft_analysis(draft_id: DraftId, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Prove what the draft can never or always do: never eligible, always eligible, a condition redundant or
    contradicting the others, an amount negative, zero, undefined or unknown for an eligible enterprise, and
    with the published policies it relates to (exclusive group, excludes, requires), never or always both."""
    with state.engine.connect() as connection:
        compiled = _compiled(_draft_row(connection, draft_id))
        catalogue = state.catalogue.load(connection)
    findings = analyse_draft(compiled, catalogue.policies)
    return {
        "policy_id": compiled.id,
        "version": compiled.version,
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" and f.acknowledged is None for f in findings),
        "findings": [
            {k: v for k, v in asdict(f).items() if k in (*_FIELDS, "witness", "witness_zh", "witness_en")}
            | {"other_policy": f.other_policy, "acknowledged": f.acknowledged}
            for f in findings
        ],
    }


@router.get("/{draft_id}/diff", response_model=DiffOut, responses=problems(404, 409))
def draft_diff(draft_id: DraftId, principal: Officer, state: StateDep) -> dict[str, Any]:
    """The enterprises the draft newly admits and newly refuses against the published version in force (on
    the latest profiles' date, or today without profiles), each region as a condition with an example
    enterprise and, with profiles, how many fall in it; and the amount's change."""
    with state.engine.connect() as connection:
        compiled = _compiled(_draft_row(connection, draft_id))
        catalogue = state.catalogue.load(connection)
    profiles, as_of = None, None
    if state.settings.profiles_path.exists():
        profiles, as_of = latest_profiles(state)
    day = as_of or datetime.now(UTC).date()
    published = next((p for p in catalogue.in_force(day) if p.id == compiled.id), None)
    if published is None:
        raise Conflict(
            f"no published version of '{compiled.id}' is in force on {day} to compare the draft with; its analysis"
            f" is at /policy-drafts/{draft_id}/analysis"
        )
    counted = profiles.with_columns(as_of=as_of) if profiles is not None and as_of is not None else None
    result = diff_versions(published, compiled, counted)
    return {
        "policy_id": compiled.id,
        "version": compiled.version,
        "against_version": published.version,
        "as_of": as_of,
        "admitted": [asdict(r) for r in result.admitted],
        "refused": [asdict(r) for r in result.refused],
        "amount_change_zh": result.amount_change_zh,
        "amount_change_en": result.amount_change_en,
        "complete": result.complete,
    }

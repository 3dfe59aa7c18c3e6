"""Published policies and their versions: readable by every role (the rules that decide are public)."""

from __future__ import annotations

from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from api.service.auth import allow
from api.service.problems import NotFound
from api.service.routes.common import problems
from api.service.schemas.policies import PolicyOut, PolicySummary, PolicyVersionOut
from api.service.state import ServiceState, StateDep
from api.service.tokens import Principal
from matcher.db.models import policy_versions
from policies.compiled import CompiledPolicy

router = APIRouter(prefix="/policies", tags=["policies"])
Reader = Annotated[Principal, Depends(allow("enterprise", "officer", "analyst", "admin"))]
PolicyId = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80, examples=["job-retention-refund"], description="policy id"
    ),
]


def source_text(state: ServiceState, policy: CompiledPolicy) -> str:
    """The text of a version: the published row's, or the repository file's."""
    if state.catalogue.is_published(policy):
        with state.engine.connect() as connection:
            return connection.execute(
                select(policy_versions.c.source).where(
                    policy_versions.c.policy_id == policy.id, policy_versions.c.version == policy.version
                )
            ).scalar_one()
    return FilePath(policy.file).read_text(encoding="utf-8")


def _summary(state: ServiceState, versions: list[CompiledPolicy], today: date) -> dict[str, Any]:
    latest = versions[-1].policy
    in_force = [p.version for p in versions if p.policy.effective.covers(today)]
    return {
        "id": latest.id,
        "title": latest.title.model_dump(),
        "category": latest.category,
        "delivery": latest.delivery_default,
        "in_force_version": in_force[-1] if in_force else None,
        "versions": [
            {
                "version": p.version,
                "effective_from": p.policy.effective.start,
                "effective_to": p.policy.effective.end,
                "source": "published" if state.catalogue.is_published(p) else "repository",
            }
            for p in versions
        ],
    }


@router.get("", response_model=list[PolicySummary], responses=problems())
def list_policies(principal: Reader, state: StateDep) -> list[dict[str, Any]]:
    """Every policy of the published catalogue, with its versions and the one in force today."""
    catalogue = state.catalogue.load(state.engine)
    return [_summary(state, catalogue.versions(pid), date.today()) for pid in catalogue.ids]


@router.get("/{policy_id}", response_model=PolicyOut, responses=problems(404))
def read_policy(policy_id: PolicyId, principal: Reader, state: StateDep) -> dict[str, Any]:
    """One policy: its latest version's fields and the list of all versions."""
    versions = state.catalogue.load(state.engine).versions(policy_id)
    if not versions:
        raise NotFound(f"no policy '{policy_id}' in the published catalogue", detail_zh="未找到该政策")
    latest = versions[-1].policy
    return _summary(state, versions, date.today()) | {
        "summary": latest.summary.model_dump() if latest.summary else None,
        "authority": {"zh": latest.authority.zh, "en": latest.authority.en},
        "basis": latest.basis,
        "region": latest.region,
        "budget_yuan": latest.budget,
    }


@router.get("/{policy_id}/versions/{version}", response_model=PolicyVersionOut, responses=problems(404))
def read_version(
    policy_id: PolicyId,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    principal: Reader,
    state: StateDep,
) -> dict[str, Any]:
    """One version: its text, its parsed fields and, when published through the service, who published it."""
    try:
        policy = state.catalogue.load(state.engine).get(policy_id, version)
    except KeyError as err:
        raise NotFound(str(err.args[0]), detail_zh="未找到该政策版本") from None
    published = None
    if state.catalogue.is_published(policy):
        with state.engine.connect() as connection:
            published = connection.execute(
                select(policy_versions.c.published_by, policy_versions.c.published_at).where(
                    policy_versions.c.policy_id == policy_id, policy_versions.c.version == version
                )
            ).first()
    return {
        "id": policy_id,
        "version": version,
        "source": "published" if published else "repository",
        "effective_from": policy.policy.effective.start,
        "effective_to": policy.policy.effective.end,
        "published_by": published.published_by if published else None,
        "published_at": published.published_at if published else None,
        "policy": policy.policy.model_dump(mode="json", by_alias=True),
        "text": source_text(state, policy),
    }

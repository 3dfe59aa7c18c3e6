"""Open statistics (政务公开) over HTTP, without a token: per policy and year, how many enterprises the rules found
eligible, granted and paid, by region, size class or industry, the total paid against the budget, and the median
days from the ledger entry to payment. Small cells suppressed (matcher/supervision/open_statistics.py).

Public on purpose: these routes take no token and read no body. Each answer is computed once a minute at most per
(policy, year, dimension) and kept in a small cache, so a stranger cannot make the database work harder by asking
often; the path and query are validated (the policy id by the published catalogue) before anything is read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from cachetools import TTLCache
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import Engine, select

from api.service.problems import NotFound
from api.service.routes.common import problems
from api.service.routes.supervision import supervision_of
from api.service.state import StateDep
from matcher.db.models import benefits, runs
from matcher.supervision.open_statistics import PolicyYear, enterprise_rows, publish, with_dimensions

__all__ = ["open_statistics", "router"]

router = APIRouter(prefix="/statistics", tags=["open statistics"])
# No token, so no 401 or 403: a policy nobody published is 404, a malformed path or query 422.
_PUBLIC_PROBLEMS = {s: r for s, r in problems(404).items() if s in (404, 422)}
FIRST_YEAR, LAST_YEAR = 2000, 2100
_cache: TTLCache[tuple[Any, ...], dict[str, Any]] = TTLCache(maxsize=1024, ttl=60)
_profiles: dict[tuple[Path, float], pl.DataFrame] = {}


def _dimensions(path: Path) -> pl.DataFrame | None:
    """uscc, size_class, industry_section of the latest profiles, re-read only when the file changes."""
    if not path.exists():
        return None
    key = (path, path.stat().st_mtime)
    if key not in _profiles:
        _profiles.clear()
        names = pl.read_parquet_schema(path)
        wanted = [c for c in ("uscc", "size_class", "industry_section") if c in names]
        frame = pl.read_parquet(path, columns=wanted)
        for missing in {"size_class", "industry_section"} - set(wanted):
            frame = frame.with_columns(pl.lit(None, pl.String).alias(missing))
        _profiles[key] = frame
    return _profiles[key]


def _periods(engine: Engine, which: PolicyYear) -> int:
    query = (
        select(benefits.c.period_key)
        .distinct()
        .join(runs, runs.c.id == benefits.c.run_id)
        .where(benefits.c.policy_id == which.policy_id, *which.as_of_in(runs.c.as_of))
    )
    with engine.connect() as connection:
        return len(connection.execute(query).scalars().all())


def open_statistics(
    request: Request, state: StateDep, policy_id: str, year: int, dimension: str | None
) -> dict[str, Any]:
    """The published figures (cached a minute); 404 for a policy the published catalogue does not hold."""
    catalogue = state.catalogue.load(state.engine)
    versions = [p for p in catalogue.policies if p.id == policy_id]
    if not versions:
        raise NotFound(
            f"no published policy {policy_id!r}: see GET /statistics for the policies published",
            detail_zh=f"没有已发布的政策 {policy_id}",
        )
    threshold = supervision_of(request).limits.statistics_threshold
    key = (policy_id, year, dimension, threshold)
    if key in _cache:
        return _cache[key]
    which = PolicyYear(policy_id, year)
    with state.engine.connect() as connection:
        rows = with_dimensions(enterprise_rows(connection, which), _dimensions(state.settings.profiles_path))
    latest = max(versions, key=lambda p: p.version).policy
    periods = _periods(state.engine, which)
    budget = round(latest.budget * 100) * max(periods, 1) if latest.budget is not None else None
    published = publish(rows, dimension=dimension, budget_fen=budget, threshold=threshold)
    out = {
        "policy_id": policy_id,
        "title": {"zh": latest.title.zh, "en": latest.title.en},
        "year": year,
        "periods": periods,
        "computed_at": datetime.now(UTC),
        **published,
    }
    _cache[key] = out
    return out


@router.get("")
def policies(state: StateDep) -> list[dict[str, Any]]:
    """The published policies whose figures may be read (no token needed)."""
    catalogue = state.catalogue.load(state.engine)
    latest = {p.id: p for p in sorted(catalogue.policies, key=lambda p: p.version)}
    return [
        {"policy_id": i, "title": {"zh": p.policy.title.zh, "en": p.policy.title.en}} for i, p in sorted(latest.items())
    ]


@router.get("/policies/{policy_id}/{year}", responses=_PUBLIC_PROBLEMS)
def policy_year(
    request: Request,
    state: StateDep,
    policy_id: Annotated[str, PathParam(max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")],
    year: Annotated[int, PathParam(ge=FIRST_YEAR, le=LAST_YEAR)],
    dimension: Annotated[Literal["region", "size_class", "industry"] | None, Query()] = None,
) -> dict[str, Any]:
    """A policy's figures for a calendar year, overall and by ``dimension``: no token needed. A figure of fewer
    enterprises than the threshold is ``null``, and so are enough others that subtraction recovers none."""
    return open_statistics(request, state, policy_id, year, dimension)

"""Open statistics (政务公开) as a page anyone may read, without signing in: choose a policy, a year and a
breakdown; small cells show as "fewer than N" (api/service/routes/statistics.py computes the figures)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.service.routes import statistics as routes
from api.web.render import WebRoute, page

router = APIRouter(prefix="/web/statistics", route_class=WebRoute, include_in_schema=False)
DIMENSIONS = {
    "": ("合计", "Total only"),
    "region": ("按地区（地级）", "By region (prefecture)"),
    "size_class": ("按企业规模", "By size class"),
    "industry": ("按行业门类", "By industry section"),
}


@router.get("")
def statistics(
    request: Request,
    policy: Annotated[str, Query(max_length=80, pattern=r"^([A-Za-z0-9][A-Za-z0-9_.-]*)?$")] = "",
    year: Annotated[int | None, Query(ge=routes.FIRST_YEAR, le=routes.LAST_YEAR)] = None,
    dimension: Annotated[Literal["", "region", "size_class", "industry"], Query()] = "",
) -> Response:
    state = request.app.state.service
    policies = routes.policies(state)
    year = year or datetime.now(UTC).year
    figures = None
    if policy:
        figures = routes.open_statistics(request, state, policy, year, dimension or None)
    return page(
        request,
        "statistics.html",
        policies=policies,
        figures=figures,
        dimensions=DIMENSIONS,
        filters={"policy": policy, "year": year, "dimension": dimension},
    )

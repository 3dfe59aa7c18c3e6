"""The decision explanation's fast route (api/service/fast_lane.py) answers exactly as the declared route does."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.routing import Match

from api.service.fast_lane import _FastRoute
from matcher.db.models import decisions

DECLARED = "/enterprises/{uscc}/decisions/{decision_id}"


def _fast_route(app) -> _FastRoute:
    route = app.router.routes[0]
    assert isinstance(route, _FastRoute), "the fast route must be matched before every other route"
    return route


def _answer(client, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    response = client.request(method, path, headers=headers, follow_redirects=False)
    kept = {k: v for k, v in response.headers.items() if k != "x-request-id"}  # one per request, by design
    return response.status_code, kept, response.content


@pytest.fixture
def cases(engine, tokens) -> list[tuple[str, str, str | None, bool]]:
    """(method, path, role, taken by the fast route)."""
    with engine.connect() as connection:
        own = connection.execute(select(decisions.c.id).where(decisions.c.uscc == tokens.uscc)).scalar()
        others = connection.execute(select(decisions.c.id).where(decisions.c.uscc == tokens.other_uscc)).scalar()
    mine = f"/enterprises/{tokens.uscc}/decisions"
    return [
        ("GET", f"{mine}/{own}", "enterprise", True),
        ("GET", f"{mine}/{own}", "officer", True),
        ("GET", f"{mine}/{own}", "admin", True),
        ("GET", f"{mine}/{own}", "analyst", True),  # 403: analysts read no enterprise
        ("GET", f"{mine}/{own}", "other", True),  # 403: another enterprise's token
        ("GET", f"{mine}/{own}", None, True),  # 401: no token
        ("GET", f"{mine}/{own}", "unknown", True),  # 401: a token nobody issued
        ("GET", f"{mine}/{others}", "officer", True),  # 404: another enterprise's decision under this code
        ("GET", f"{mine}/999999999999999999", "enterprise", True),  # 404: 18 digits, no such decision
        ("GET", f"/enterprises/{tokens.uscc.lower()}/decisions/{own}", "officer", False),  # 422: not a USCC
        ("GET", f"{mine}/0", "enterprise", False),  # 422: ids start at 1
        ("GET", f"{mine}/{2**62 + 1}", "enterprise", False),  # 422: past the declared bound
        ("GET", f"{mine}/0{own}", "enterprise", False),  # a leading zero: as the declared route reads it
        ("GET", f"{mine}/{own}/", "enterprise", False),  # a trailing slash: the router's redirect
        ("HEAD", f"{mine}/{own}", "enterprise", False),  # 405, as for every GET route
        ("POST", f"{mine}/{own}", "enterprise", False),  # 405
    ]


def test_fast_route_answers_every_case_as_the_declared_route_byte_for_byte(app, client, tokens, cases):
    tokens["unknown"] = "not-a-token-anyone-issued"
    fast = _fast_route(app)
    for method, path, _role, taken in cases:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        assert (fast.matches(scope)[0] is Match.FULL) is taken, (method, path)
    through_fast = [_answer(client, m, p, tokens.headers(r)) for m, p, r, _ in cases]
    app.router.routes.remove(fast)  # now the declared route answers everything
    through_declared = [_answer(client, m, p, tokens.headers(r)) for m, p, r, _ in cases]
    statuses = [status for status, _, _ in through_fast]
    assert statuses[:9] == [200, 200, 200, 403, 403, 401, 401, 404, 404]
    assert statuses[9:12] == [422, 422, 422] and statuses[-2:] == [405, 405]
    for case, fast_answer, declared_answer in zip(cases, through_fast, through_declared, strict=True):
        assert fast_answer == declared_answer, case


def test_fast_route_is_counted_and_logged_under_the_declared_route(app, client, tokens, cases):
    # The metrics' route label and the access log read scope["route"]: the declared route's template, not the
    # fast route's own pattern, so that dashboards see one route whichever answered.
    method, path, role, _ = cases[0]
    assert (
        _fast_route(app).matches({"type": "http", "method": method, "path": path, "root_path": ""})[1]["route"].path
        == DECLARED
    )
    before = _requests_counted(client, tokens)
    for _ in range(3):
        assert client.get(path, headers=tokens.headers(role)).status_code == 200
    after = _requests_counted(client, tokens)
    changed = {label: after[label] - before.get(label, 0.0) for label in after if after[label] != before.get(label)}
    assert changed == {f'method="GET",route="{DECLARED}",status="2xx"': 3.0}


def _requests_counted(client, tokens) -> dict[str, float]:
    """The requests counted per label set, but the scrapes' own (counters live as long as the test process)."""
    scraped = client.get("/metrics", headers=tokens.headers("admin")).text
    out = {}
    for line in scraped.splitlines():
        if line.startswith("huiqi_http_requests_total{") and 'route="/metrics"' not in line:
            labels, value = line.removeprefix("huiqi_http_requests_total{").rsplit("} ", 1)
            out[labels] = float(value)
    return out


def test_openapi_still_declares_the_explanation_route_with_its_parameters_and_security(client):
    operation = client.get("/openapi.json").json()["paths"][DECLARED]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"uscc", "decision_id"}
    assert operation["security"] == [{"bearer": []}]

"""Hostile input on the pages: whatever a signed-in person (or a script holding their session) posts to any page's
form, or asks of any page in its query, the answer is a page or a redirect, never a 500. The pages are not in the
OpenAPI document, so the API's fuzz (test_openapi.py) does not reach them: here every route under /web is found
from the app itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient

from matcher.db.models import notices

# Values a form field may get: any text (no NUL: refused before any route, tests/api/service/test_nul.py), and
# the edges a person or a script sends: numbers past 64 bits, dates that do not exist, markup, paths, long text.
VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.sampled_from(
        ["", "0", "-1", "9223372036854775808", "1e309", "nan", "2025-02-30", "1989-12-31", "2025-06-30", "zh",
         "approve", "reject", "accept", "confirm", "<script>alert(1)</script>", "../../etc/passwd", "a" * 5000]
    ),
)  # fmt: skip


def _web_routes(routes, method: str, prefix: str = "") -> Iterator:
    """The app's routes under /web taking ``method``, included routers walked."""
    for route in routes:
        if hasattr(route, "original_router"):  # an included router: its routes, under its prefix
            yield from _web_routes(route.original_router.routes, method, prefix + (route.include_context.prefix or ""))
        elif (prefix + getattr(route, "path", "")).startswith("/web") and method in (
            getattr(route, "methods", None) or ()
        ):
            yield route


def _signed_in(app, token: str) -> tuple[TestClient, str]:
    client = TestClient(app, raise_server_exceptions=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/web/sign-in").text).group(1)
    assert client.post("/web/sign-in", data={"token": token, "csrf": csrf}, follow_redirects=False).status_code == 303
    return client, csrf


def _known(engine, tokens) -> dict[str, st.SearchStrategy[str]]:
    """Path parameters that exist (so a request reaches the route's own checks), by name."""
    with engine.connect() as connection:
        own = [str(i) for i in connection.execute(select(notices.c.id).where(notices.c.uscc == tokens.uscc)).scalars()]
    return {
        "uscc": st.just(tokens.uscc),
        "notice_id": st.sampled_from(own),
        "action": st.sampled_from(["confirm", "decline", "object"]),
        "draft_id": st.sampled_from(["1", "2"]),
        "objection_id": st.sampled_from(["1", "2"]),
        "supplied_id": st.sampled_from(["1", "2"]),
        "policy_id": st.sampled_from(["rd-super-deduction"]),
    }


PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")  # a path parameter, with its converter if any (`{path:path}`)


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("role", ["enterprise", "officer", "admin"])
def test_any_request_to_any_page_gets_a_page_or_a_redirect_never_a_500(app, engine, tokens, role, method):
    """POST: random forms (with the session's CSRF token, so they reach the route's own checks); GET: random
    queries. Path values: mostly ones that exist, else anything."""
    client, csrf = _signed_in(app, tokens[role])
    real = _known(engine, tokens)
    anything = st.one_of(st.integers(-5, 10**20).map(str), VALUES.filter(bool))
    routes = [
        r
        for r in _web_routes(app.routes, method)
        if getattr(r, "dependant", None) is not None and r.path not in ("/web/sign-in", "/web/sign-out")
    ]
    assert len(routes) > 10, [r.path for r in routes]
    for route in routes:
        given_by = route.dependant.body_params if method == "POST" else route.dependant.query_params
        fields = [p.alias for p in given_by if p.alias != "csrf"]

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(
            values=st.fixed_dictionaries({}, optional=dict.fromkeys(fields, VALUES)),
            path=st.fixed_dictionaries(
                {n: st.one_of(real.get(n, anything), anything) for n in PARAMETER.findall(route.path)}
            ),
        )
        def sent(values, path):
            url = PARAMETER.sub(lambda m: quote(path[m.group(1)], safe=""), route.path)  # noqa: B023 - called at once
            if method == "POST":
                answer = client.post(url, data=values | {"csrf": csrf}, follow_redirects=False)
            else:
                answer = client.get(url, params=values, follow_redirects=False)
            assert answer.status_code < 500, (url, values, answer.status_code, answer.text[:300])

        sent()


def test_a_requeue_of_ids_past_what_the_database_holds_is_refused_naming_them(app, tokens):
    """Found by the fuzz above: a notice id past 64 bits reached the database (500); the form checks ids as the JSON
    API does."""
    client, csrf = _signed_in(app, tokens["officer"])
    answer = client.post("/web/desk/dead/requeue", data={"ids": "9223372036854775808", "csrf": csrf})
    assert answer.status_code == 422 and "ids" in answer.text


def test_a_run_asked_for_a_date_outside_the_window_is_refused_on_the_page(app, tokens):
    """Found by the fuzz above: `as_of=0` read as 1970-01-01 passed the form and failed in the route (500). The
    desk's date picker keeps to the window too, so a person picking a date never meets the refusal."""
    client, csrf = _signed_in(app, tokens["officer"])
    desk = client.get("/web/desk")
    assert 'name="as_of" type="date" required min="1990-01-01" max="2099-12-31"' in desk.text
    answer = client.post("/web/desk/runs", data={"as_of": "0", "csrf": csrf})
    assert answer.status_code == 422 and "1990-01-01" in answer.text


def test_a_form_the_parser_refuses_gets_a_page_in_both_languages_not_json(app, tokens):
    """Past 1,000 fields Starlette's form parser refuses the body before the route: the person (or script) gets the
    site's page saying why, as for any other refusal, not a bare JSON error in English."""
    client, csrf = _signed_in(app, tokens["officer"])
    answer = client.post("/web/desk/dead/requeue", data={"ids": [str(i) for i in range(1, 1002)], "csrf": csrf})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
    assert "提交的内容无法读取" in answer.text and "Maximum number of fields is 1000" in answer.text

"""The decision explanation's route matched past FastAPI's per-request machinery: the same guard, endpoint and answers.

For every request FastAPI resolves a route's parameters and dependencies afresh — a dependency cache, a
sub-response, each path parameter validated through pydantic, an exit stack — about 15 % of an explanation's
CPU in process (bench/explanation.py, docs/scale.md), the largest share that is neither the explanation nor the
network. The explanation is the read that must answer fastest under load (issue 17), so a plain Starlette route
is matched before the declared one. Its path takes only what the declared route accepts without a question — a
well-formed USCC and a decision id of 1 to 18 digits with no leading zero — and only GET; it calls the same
guard (``auth.READING``) and the same endpoint function, inside the same exception handlers, so its answers
(200, 401, 403, 404, 429) are the declared route's byte for byte (tests/api/service/test_fast_lane.py).
Anything else — a malformed code, an id of 19 digits, another method — does not match it and reaches the
declared route, whose validation answers as it always did. The declared route stays the contract: OpenAPI
lists it, and the metrics and the access log name it (``scope["route"]``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Match, Route
from starlette.types import Scope

from api.service.auth import READING, USCC_PATTERN
from api.service.routes.enterprises import read_decision, router

__all__ = ["install"]


class _Uscc(Convertor[str]):
    regex = USCC_PATTERN.removeprefix("^").removesuffix("$")

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _Id(Convertor[int]):
    # At most 18 digits: below the declared route's bound (2**62, 19 digits), which it alone checks.
    regex = "[1-9][0-9]{0,17}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("huiqi_uscc", _Uscc())
register_url_convertor("huiqi_id", _Id())


class _FastRoute(Route):
    """Matches GET requests the declared route would take as they are; hands the request on with the declared
    route as ``scope["route"]``."""

    def __init__(self, path: str, declared: APIRoute, endpoint: Any) -> None:
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.declared = declared

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}  # the declared route answers every other method, 405 included
        match, child = super().matches(scope)
        if match is Match.FULL:
            child["route"] = self.declared
        return match, child


async def _read_decision(request: Request) -> Response:
    principal = await READING(request)
    params = request.path_params
    return await read_decision(params["uscc"], params["decision_id"], principal, request)


def install(app: FastAPI) -> None:
    """Put the fast route for the decision explanation in front of ``app``'s routes (after they are included)."""
    # From the enterprises' router, where the route is declared: FastAPI copies it into the app's routes (before
    # 0.16x) or keeps the router whole behind one entry (since), but the path and the endpoint are the same.
    declared = next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is read_decision)
    path = declared.path.replace("{uscc}", "{uscc:huiqi_uscc}").replace("{decision_id}", "{decision_id:huiqi_id}")
    app.router.routes.insert(0, _FastRoute(path, declared, _read_decision))

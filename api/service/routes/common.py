"""OpenAPI fragments every router shares: the problem responses, and paging parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from api.service.problems import PROBLEM_JSON
from api.service.schemas.common import ProblemOut

__all__ = ["Limit", "Offset", "problems"]

_WHY = {
    400: "Malformed request: the body could not be parsed (not JSON, or not UTF-8)",
    401: "No token, or an unknown, revoked or expired one",
    403: "The token's role or enterprise does not allow this",
    404: "No such resource (for an enterprise: none of its own)",
    409: "The request is valid but the current state does not allow it",
    413: "The body is over this endpoint's size limit (docs/limits.md): it was refused unread",
    415: "The body is in a media type this endpoint does not read",
    422: "Invalid request: each error names the field (or the policy text's line and column)",
    429: "Too many unknown tokens from this address: retry after `Retry-After` seconds with a valid token",
}

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


def problems(*statuses: int, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """Problem responses of an operation: 401, 403, 422, 429 always; 400 and 413 with a ``body``; and
    ``statuses``."""
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ProblemOut, "description": _WHY[status], "content": {PROBLEM_JSON: {}}}
        for status in sorted({401, 403, 422, 429, *statuses, *((400, 413) if body else ())})
    }
    out[429]["headers"] = _RETRY_AFTER
    return out


Limit = Annotated[int, Query(ge=1, le=500, description="at most this many rows")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="skip this many rows")]

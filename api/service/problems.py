"""Errors as problem details (RFC 9457), in one place.

    Problem                 an HTTP error with a clear message (status, title, detail, detail_zh)
     ├── Unauthorized       401: no token, an unknown, revoked or expired token
     ├── Forbidden          403: the token's role or enterprise does not allow this
     ├── NotFound           404
     ├── Conflict           409: the request is valid but the state does not allow it
     ├── Invalid            422: with ``errors``, each naming the field (or the policy file's line and column)
     ├── Unsupported        415: a body in a media type the endpoint does not read
     ├── TooLarge           413: a body over its route's cap (api/service/limits.py)
     └── TooManyRequests    429: too many failed authentications from one address, with Retry-After

Request validation errors from FastAPI become 422 problems naming each field; a move the
benefit ledger refuses (``matcher.errors.LedgerError``) becomes 409; any other exception is
a server fault: 500 with no internals in the body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.service.headers import SECURITY_HEADERS
from matcher.errors import LedgerError

__all__ = [
    "PROBLEM_JSON",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Problem",
    "TooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unsupported",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
_TYPE = "https://huiqi.example.gov.cn/problems/"
log = logging.getLogger("huiqi.service")


class Problem(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, detail_zh: str | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.detail_zh = detail_zh
        self.extensions = extensions
        self.headers: dict[str, str] = {}

    def body(self, instance: str) -> dict[str, Any]:
        out = {"type": _TYPE + self.slug, "title": self.title, "status": self.status, "detail": self.detail}
        if self.detail_zh:
            out["detail_zh"] = self.detail_zh
        return out | {"instance": instance} | self.extensions


class Unauthorized(Problem):
    status, title, slug = 401, "Not authenticated", "unauthorized"

    def __init__(self, detail: str, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.headers = {"WWW-Authenticate": 'Bearer realm="huiqi"'}


class Forbidden(Problem):
    status, title, slug = 403, "Not allowed", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict with the current state", "conflict"


class Invalid(Problem):
    status, title, slug = 422, "Invalid request", "invalid"


class Unsupported(Problem):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class TooLarge(Problem):
    status, title, slug = 413, "Content too large", "too-large"


class TooManyRequests(Problem):
    status, title, slug = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int, **kw: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **kw)
        self.headers = {"Retry-After": str(retry_after)}


def _response(problem_body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem_body, status_code=problem_body["status"], media_type=PROBLEM_JSON, headers=headers)


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    """``problem`` as a response, for code that answers before the app's exception handlers (middleware)."""
    return _response(problem.body(instance), problem.headers)


def _field(loc: tuple | list) -> str:
    # ("body", "reason") → "body.reason"; ("query", "limit") → "query.limit"
    return ".".join(str(p) for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        # The ledger refused a move the request asked for: the request is fine, the benefit's state is not.
        conflict = Conflict(str(exc), detail_zh="该待遇当前状态不允许此操作", benefit=exc.context)
        return problem_response(conflict, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # A parameter read by a dependency and by the route is reported once.
        unique = {(_field(e["loc"]), e["msg"]): e["type"] for e in exc.errors()}
        errors = [{"field": f, "message": m, "type": t} for (f, m), t in unique.items()]
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        problem = Invalid(
            f"invalid {names}: {errors[0]['message']}" if errors else "invalid request",
            detail_zh=f"请求参数有误：{names}",
            errors=errors,
        )
        return _response(problem.body(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Routing errors (unknown path 404, wrong method 405) and any HTTPException raised by a library.
        body = {
            "type": "about:blank",
            "title": {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error"),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "instance": request.url.path,
        }
        return _response(body, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {
            "type": _TYPE + "internal",
            "title": "Internal server error",
            "status": 500,
            "detail": "the service failed to answer; the error is logged for the operators",
            "detail_zh": "服务内部错误，已记录，请稍后重试",
            "instance": request.url.path,
        }
        # Answered outside every middleware (Starlette's outermost error handler): add the headers here.
        return _response(body, SECURITY_HEADERS)

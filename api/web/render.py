"""Pages from templates, and errors as pages: the web part's counterpart of api/service/problems.py.

Every web route is a ``WebRoute``: a domain error (``Problem``, a ledger refusal), a malformed form or path
and a missing sign-in all become an HTML page in the reader's language with the API's own message, never a
JSON body or a bare 500.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.service.problems import Problem
from api.web.session import Session, read_session, write_session
from api.web.texts import day, label, left, say, value, yuan
from matcher.errors import LedgerError

__all__ = ["Denied", "WebRoute", "back", "page", "problem_page", "session_of"]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals |= {"label": label, "say": say, "yuan": yuan, "day": day, "value": value, "left": left}


class Denied(Exception):
    """Not signed in (401: the sign-in page) or signed in as someone who may not see this (403)."""

    def __init__(self, status: int, en: str, zh: str) -> None:
        super().__init__(en)
        self.status, self.en, self.zh = status, en, zh


def session_of(request: Request) -> Session:
    """The request's session, read once per request."""
    if not hasattr(request.state, "web_session"):
        request.state.web_session = read_session(request)
    return request.state.web_session


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    session = session_of(request)
    flash, session.flash = session.flash, None  # shown once
    response = templates.TemplateResponse(
        request,
        name,
        {"lang": session.lang, "zh": session.lang == "zh", "session": session, "who": session.principal}
        | {"flash": flash}
        | context,
        status_code=status,
    )
    return write_session(request, response, session)


def back(request: Request, url: str, *, zh: str | None = None, en: str | None = None, kind: str = "ok") -> Response:
    """Post/redirect/get: 303 to ``url``, with a message for the page it lands on."""
    session = session_of(request)
    if zh or en:
        session.flash = {"kind": kind, "zh": zh or en or "", "en": en or zh or ""}
    return write_session(request, RedirectResponse(url, status_code=303), session)


def problem_page(request: Request, status: int, zh: str, en: str, errors: list[dict] | None = None) -> Response:
    return page(request, "problem.html", status=status, status_code=status, zh_text=zh, en_text=en, errors=errors)


async def _render_error(request: Request, exc: Exception) -> Response:
    # Reading the session may touch the database: off the event loop, as the sync pages do.
    await run_in_threadpool(session_of, request)
    if isinstance(exc, Denied):
        if exc.status == 401:
            return await run_in_threadpool(back, request, f"/web/sign-in?next={request.url.path}", zh=exc.zh, en=exc.en)
        return await run_in_threadpool(problem_page, request, exc.status, exc.zh, exc.en)
    if isinstance(exc, Problem):
        errors = exc.extensions.get("errors")
        return await run_in_threadpool(
            problem_page, request, exc.status, exc.detail_zh or exc.detail, exc.detail, errors
        )
    if isinstance(exc, LedgerError):
        return await run_in_threadpool(problem_page, request, 409, "该待遇当前状态不允许此操作", str(exc))
    if isinstance(exc, HTTPException):  # a body the form parser refused (too many fields, unreadable)
        zh, en = f"提交的内容无法读取（{exc.detail}）：请返回页面后重新提交", f"the form cannot be read: {exc.detail}"
        return await run_in_threadpool(problem_page, request, exc.status_code, zh, en)
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
    fields = "、".join(e["field"] for e in errors)
    return await run_in_threadpool(
        problem_page, request, 422, f"填写内容有误：{fields}", f"please correct: {fields}", errors
    )


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def web_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (Denied, Problem, LedgerError, RequestValidationError) as exc:
                return await _render_error(request, exc)
            except HTTPException as exc:
                if exc.status_code >= 500:
                    raise
                return await _render_error(request, exc)

        return web_handler

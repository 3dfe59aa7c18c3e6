"""Signing in (a token, or the signed link in a notice), signing out, the language switch, each role's home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.service.tokens import lookup_token
from api.web.guard import check_csrf
from api.web.links import LinkError, read_link
from api.web.render import WebRoute, back, page, problem_page, session_of
from api.web.texts import LANGS

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _home(principal) -> str:
    if principal.role == "enterprise":
        return f"/web/e/{principal.uscc}"
    if principal.role == "supervisor":
        return "/web/supervision"
    return "/web/models" if principal.role == "analyst" else "/web/desk"


def _local(url: str | None, default: str) -> str:
    # Only a path on this site: a redirect to another site would make the sign-in an open redirector.
    return url if url and url.startswith("/") and not url.startswith("//") else default


@router.get("/")
def root() -> Response:
    return RedirectResponse("/web/", status_code=307)


@router.get("/web/")
def home(request: Request) -> Response:
    principal = session_of(request).principal
    if principal is None:
        return back(request, "/web/sign-in")
    return back(request, _home(principal))


@router.get("/web/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return page(request, "sign_in.html", next=_local(next, ""))


@router.post("/web/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request, csrf)
    principal = lookup_token(request.app.state.service.engine, token.strip())
    if principal is None:
        return back(
            request,
            "/web/sign-in",
            kind="error",
            zh="令牌无效、已撤销或已过期：请核对后重试，或向管理员申请新令牌",
            en="unknown, revoked or expired token: check it, or ask for a new one (`huiqi token create`)",
        )
    session = session_of(request)
    session.sign_in_token(token.strip())
    session.principal = principal
    return back(
        request, _local(next, _home(principal)), zh=f"已登录：{principal.name}", en=f"Signed in: {principal.name}"
    )


@router.get("/web/link/{token}")
def open_link(request: Request, token: str) -> Response:
    try:
        uscc = read_link(request.app.state.service.settings, token)
    except LinkError as err:
        return problem_page(request, 403, err.zh, err.en)
    session = session_of(request)
    session.sign_in_link(uscc)
    return back(request, f"/web/e/{uscc}")


@router.post("/web/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, csrf)
    session_of(request).sign_out()
    return back(request, "/web/sign-in", zh="已退出登录", en="Signed out")


@router.get("/web/lang/{lang}")
def switch_language(request: Request, lang: str, next: str | None = None) -> Response:
    session = session_of(request)
    session.lang = lang if lang in LANGS else "zh"
    return back(request, _local(next, "/web/"))

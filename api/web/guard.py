"""Who may open which page: api/service/auth.py's role table and tenant rule, applied to the session.

The pages call the API's own route and domain functions, which trust their caller to have checked these, as
the API's guards do before them.
"""

from __future__ import annotations

from fastapi import Request

from api.service.tokens import Principal
from api.web.render import Denied, session_of

__all__ = ["acting", "check_csrf", "reading", "signed_in"]


def signed_in(request: Request, *roles: str) -> Principal:
    principal = session_of(request).principal
    if principal is None:
        raise Denied(401, "sign in first", "请先登录")
    if roles and principal.role not in roles:
        raise Denied(
            403,
            f"a {principal.role} may not open this page; it is for: {', '.join(roles)}",
            "当前身份无权查看此页面",
        )
    return principal


def reading(request: Request, uscc: str) -> Principal:
    """An enterprise reads its own records only; officers and admins any enterprise's."""
    principal = signed_in(request, "enterprise", "officer", "admin")
    if principal.role == "enterprise" and principal.uscc != uscc:
        raise Denied(
            403,
            "you signed in for another enterprise: an enterprise sees and acts on its own records only",
            "您登录的是其他企业：企业只能查看和办理本企业的事项",
        )
    return principal


def acting(request: Request, uscc: str) -> Principal:
    """Only the enterprise itself confirms, supplies, declines or objects."""
    principal = reading(request, uscc)
    if principal.role != "enterprise":
        raise Denied(
            403,
            "only the enterprise itself confirms, supplies facts, declines or objects: no officer may act for it",
            "只有企业本身可以确认、补充信息、放弃或提出异议，工作人员不能代为办理",
        )
    return principal


def check_csrf(request: Request, sent: str | None) -> None:
    """A form must carry the session's CSRF token: another site's page cannot know it."""
    if not session_of(request).csrf_ok(sent):
        raise Denied(
            403,
            "this form has expired or did not come from huiqi's own page (its CSRF token is missing or wrong):"
            " go back, reload the page and send it again",
            "表单已失效或并非来自本系统页面（缺少或错误的校验码）：请返回并刷新页面后重新提交",
        )

"""Who may call what: bearer tokens with roles, and tenant isolation for enterprises.

| audience            | enterprise     | officer | analyst | admin |
|---------------------|----------------|---------|---------|-------|
| read an enterprise  | its own only   | yes     | no      | yes   |
| act for it          | its own only   | no      | no      | no    |
| read policies       | yes            | yes     | yes     | yes   |
| drafts, publish     | no             | yes     | no      | yes   |
| start runs          | no             | yes     | no      | yes   |
| follow runs         | no             | yes     | yes     | yes   |
| dead letters        | no             | yes     | no      | yes   |

Only the enterprise itself confirms, supplies, declines or objects: those are
its declarations, and nobody — officer or admin — may make them in its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.service.problems import Forbidden, Unauthorized
from api.service.state import StateDep
from api.service.tokens import Principal, lookup_token

__all__ = ["USCC_PATTERN", "ActingEnterprise", "ReadingEnterprise", "UsccPath", "allow", "current_principal"]

USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token issued by `huiqi token create --role ROLE [--uscc USCC]`.",
)


def current_principal(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthorized(
            "missing bearer token: send the header `Authorization: Bearer <token>`",
            detail_zh="缺少访问令牌：请在请求头中携带 Authorization: Bearer <令牌>",
        )
    principal = lookup_token(state.engine, credentials.credentials)
    if principal is None:
        raise Unauthorized(
            "unknown, revoked or expired token: ask for a new one (`huiqi token create`)",
            detail_zh="令牌无效、已撤销或已过期，请重新申请",
        )
    return principal


def allow(*roles: str, why: str | None = None) -> Callable[..., Principal]:
    """A dependency letting only ``roles`` through (403 for any other valid token)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                why or f"{principal.role} tokens may not do this; allowed: {', '.join(roles)}",
                detail_zh="当前身份无权执行此操作",
            )
        return principal

    return check


UsccPath = Annotated[
    str,
    Path(
        pattern=USCC_PATTERN,
        description="The enterprise's unified social credit code (18 characters)",
        examples=["91440300MA5G00000X"],
    ),
]


def _own(principal: Principal, uscc: str) -> Principal:
    if principal.role == "enterprise" and principal.uscc != uscc:
        raise Forbidden(
            "this token acts for another enterprise: an enterprise sees and acts on its own records only",
            detail_zh="该令牌属于其他企业：企业只能查看和办理本企业的事项",
        )
    return principal


def _reader(uscc: UsccPath, principal: Annotated[Principal, Depends(allow("enterprise", "officer", "admin"))]):
    return _own(principal, uscc)


_ONLY_THE_ENTERPRISE = (
    "only the enterprise itself confirms, supplies facts, declines or objects: no officer or admin may act for it"
)


def _actor(uscc: UsccPath, principal: Annotated[Principal, Depends(allow("enterprise", why=_ONLY_THE_ENTERPRISE))]):
    return _own(principal, uscc)


ReadingEnterprise = Annotated[Principal, Depends(_reader)]
ActingEnterprise = Annotated[Principal, Depends(_actor)]

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
| review objections   | no             | yes     | no      | yes   |
| ranker models       | no             | read    | yes     | yes   |
| train the ranker    | no             | no      | yes     | yes   |

Only the enterprise itself confirms, supplies, declines or objects: those are
its declarations, and nobody — officer or admin — may make them in its name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.service.problems import Forbidden, Unauthorized
from api.service.tokens import TOKEN_ROW, Principal, live_principal, token_lookup

__all__ = [
    "USCC_PATTERN",
    "ActingEnterprise",
    "ReadingEnterprise",
    "UsccPath",
    "allow",
]

USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
BEARER = {
    "scheme_name": "bearer",
    "description": "A token issued by `huiqi token create --role ROLE [--uscc USCC]`.",
}


# Principals of recently seen tokens, per process: most requests then need no token query and no
# thread hop. A token revoked or expired elsewhere stops working within PRINCIPAL_TTL seconds.
PRINCIPAL_TTL = 10
_principals: TTLCache[str, Principal | None] = TTLCache(maxsize=100_000, ttl=PRINCIPAL_TTL)


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise Unauthorized(
            "missing bearer token: send the header `Authorization: Bearer <token>`",
            detail_zh="缺少访问令牌：请在请求头中携带 Authorization: Bearer <令牌>",
        )
    token = credentials.credentials
    if token in _principals:
        principal = _principals[token]
    else:  # one indexed lookup on the event loop's own connection: cheaper than a hop to a thread
        params = token_lookup(token)
        rows = request.app.state.service.reads.rows(TOKEN_ROW, params) if params else []
        principal = _principals[token] = live_principal(rows[0] if rows else None)
    if principal is None:
        raise Unauthorized(
            "unknown, revoked or expired token: ask for a new one (`huiqi token create`)",
            detail_zh="令牌无效、已撤销或已过期，请重新申请",
        )
    return principal


def _check_role(principal: Principal, roles: tuple[str, ...], why: str | None) -> None:
    if principal.role not in roles:
        raise Forbidden(
            why or f"{principal.role} tokens may not do this; allowed: {', '.join(roles)}",
            detail_zh="当前身份无权执行此操作",
        )


# Each guard is the bearer security scheme itself (so OpenAPI declares it) and checks token, role and
# tenant in one call: FastAPI's cost per dependency, nested ones included, is a large share of a fast request.
class _Guard(HTTPBearer):
    def __init__(self, roles: tuple[str, ...], why: str | None = None) -> None:
        super().__init__(auto_error=False, **BEARER)
        self.roles, self.why = roles, why

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await _principal(request, await super().__call__(request))
        _check_role(principal, self.roles, self.why)
        return principal


def allow(*roles: str, why: str | None = None) -> Callable[..., Awaitable[Principal]]:
    """A dependency letting only ``roles`` through (403 for any other valid token)."""
    return _Guard(roles, why)


UsccPath = Annotated[
    str,
    Path(
        pattern=USCC_PATTERN,
        description="The enterprise's unified social credit code (18 characters)",
        examples=["91440300MA5G00000X"],
    ),
]


class _EnterpriseGuard(_Guard):
    """``allow(*roles)`` on an enterprise's path: an enterprise token passes for its own USCC only."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await super().__call__(request)
        # The raw path segment: the route validates it (a malformed one cannot be this token's own USCC).
        if principal.role == "enterprise" and principal.uscc != request.path_params.get("uscc"):
            raise Forbidden(
                "this token acts for another enterprise: an enterprise sees and acts on its own records only",
                detail_zh="该令牌属于其他企业：企业只能查看和办理本企业的事项",
            )
        return principal


_ONLY_THE_ENTERPRISE = (
    "only the enterprise itself confirms, supplies facts, declines or objects: no officer or admin may act for it"
)

ReadingEnterprise = Annotated[Principal, Depends(_EnterpriseGuard(("enterprise", "officer", "admin")))]
ActingEnterprise = Annotated[Principal, Depends(_EnterpriseGuard(("enterprise",), why=_ONLY_THE_ENTERPRISE))]

"""Who may call what: bearer tokens with roles, and tenant isolation for enterprises.

| audience            | enterprise     | officer | analyst | admin |
|---------------------|----------------|---------|---------|-------|
| read an enterprise  | its own only   | yes     | no      | yes   |
| act for it          | its own only   | no      | no      | no    |
| read policies       | yes            | yes     | yes     | yes   |
| drafts, publish     | no             | yes     | no      | yes   |
| approve a draft     | no             | not own | no      | not own |
| start runs          | no             | yes     | no      | yes   |
| follow runs         | no             | yes     | yes     | yes   |
| dead letters, retry | no             | yes     | no      | yes   |
| review objections   | no             | yes     | no      | yes   |
| payment batches     | no             | yes     | no      | yes   |
| publicity list      | no             | yes     | no      | yes   |
| give its account    | its own only   | no      | no      | no    |
| correct the ledger  | no             | yes     | no      | yes   |
| ledger proposals    | no             | yes     | no      | yes   |
| supplied facts      | no             | yes     | no      | yes   |
| ranker models       | no             | read    | yes     | yes   |
| train the ranker    | no             | no      | yes     | yes   |
| own queue, cards    | no             | yes     | no      | yes   |
| supervision (all)   | no             | no      | no      | yes   |
| metrics             | no             | no      | no      | yes   |

A ``supervisor`` token reads the officers' queues and every office's supervision views and runs the watch
(api/service/routes/supervision.py), and nothing else; a ``monitor`` token reads /metrics and nothing else.
The open statistics and /health need no token at all (PUBLIC_READS).

Only the enterprise itself confirms, supplies, declines or objects: those are
its declarations, and nobody — officer or admin — may make them in its name.

``authenticate`` below checks the token: for a request with a body before the
body is read (api/service/limits.py), and in every guard, which then checks
the role. Past FAILED_AUTH_LIMIT unknown tokens a minute, an address gets 429.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Path, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.service.problems import Forbidden, TooManyRequests, Unauthorized
from api.service.tokens import PRINCIPAL_TTL, TOKEN_ROW, Principal, live_principal, token_lookup

__all__ = [
    "FAILED_AUTH_LIMIT",
    "FAILED_AUTH_WINDOW",
    "PUBLIC_READS",
    "READING",
    "USCC_PATTERN",
    "ActingEnterprise",
    "FailedAuth",
    "ReadingEnterprise",
    "UsccPath",
    "allow",
    "authenticate",
]

# Paths read without any token (GET only; none takes a body): liveness and the open statistics (政务公开,
# api/service/routes/statistics.py), which publish nothing that could single out an enterprise.
PUBLIC_READS = ("/health", "/statistics", "/statistics/policies/{policy_id}/{year}")
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
BEARER = {
    "scheme_name": "bearer",
    "description": "A token issued by `huiqi token create --role ROLE [--uscc USCC]`.",
}


# Principals of recently seen tokens, per process: most requests then need no token query and no
# thread hop. A token revoked or expired elsewhere stops working within PRINCIPAL_TTL seconds.
_principals: TTLCache[str, Principal | None] = TTLCache(maxsize=100_000, ttl=PRINCIPAL_TTL)

# Unknown tokens an address may present per window before it is answered 429, to the whole service: each of its
# worker processes counts its share (``failed_auth_share``, see FailedAuth).
FAILED_AUTH_LIMIT = 20
FAILED_AUTH_WINDOW = 60  # seconds


def failed_auth_share(workers: int, limit: int = FAILED_AUTH_LIMIT) -> int:
    """Each worker's share of ``limit``: the kernel spreads a client's connections over the workers evenly
    (SO_REUSEPORT, api/service/server.py), so the service as a whole answers 429 near ``limit`` guesses, where a
    limit per worker let an address guess ``workers`` times as often. At least one guess per worker."""
    return max(1, math.ceil(limit / max(1, workers)))


@dataclass
class _Window:
    ends: float
    failures: int = 0


class FailedAuth:
    """Unknown tokens presented per client address, in fixed windows, in this process only: each worker counts its
    own against its share of the service's limit (``failed_auth_share``). Memory is bounded: past ``addresses`` the
    least recently counted address is forgotten."""

    def __init__(
        self,
        limit: int = FAILED_AUTH_LIMIT,
        window: int = FAILED_AUTH_WINDOW,
        addresses: int = 100_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self._timer = limit, window, timer
        self._windows: TTLCache[str, _Window] = TTLCache(maxsize=addresses, ttl=window, timer=timer)

    def __len__(self) -> int:
        return len(self._windows)

    def failed(self, address: str) -> int | None:
        """Count a failure; the seconds ``address`` should wait when it is over the limit, else None."""
        window = self._windows.get(address)
        if window is None:  # the entry expires with its window: updated in place, it is never re-timed
            window = self._windows[address] = _Window(ends=self._timer() + self.window)
        window.failures += 1
        if window.failures <= self.limit:
            return None
        return max(1, math.ceil(window.ends - self._timer()))


async def authenticate(request: Request) -> Principal:
    """The principal of the request's bearer token. 401 without one, or for an unknown, revoked or expired one;
    429 instead once the client's address has presented too many unknown ones (a valid token always passes)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:  # no guess: not counted
        raise Unauthorized(
            "missing bearer token: send the header `Authorization: Bearer <token>`",
            detail_zh="缺少访问令牌：请在请求头中携带 Authorization: Bearer <令牌>",
        )
    if token in _principals:
        principal = _principals[token]
    else:  # one indexed lookup on the event loop's own connection: cheaper than a hop to a thread
        params = token_lookup(token)
        rows = request.app.state.service.reads.rows(TOKEN_ROW, params) if params else []
        principal = _principals[token] = live_principal(rows[0] if rows else None)
    if principal is not None:
        return principal
    limiter: FailedAuth = request.app.state.failed_auth
    address = request.client.host if request.client else "unknown"
    wait = limiter.failed(address)
    if wait is not None:
        raise TooManyRequests(
            f"more than {limiter.limit} failed authentications from {address} within {limiter.window} seconds: "
            f"retry after {wait} seconds with a valid token",
            detail_zh=f"身份验证失败次数过多，请在 {wait} 秒后使用有效令牌重试",
            retry_after=wait,
        )
    raise Unauthorized(
        "unknown, revoked or expired token: ask for a new one (`huiqi token create`)",
        detail_zh="令牌无效、已撤销或已过期，请重新申请",
    )


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
        principal = await authenticate(request)
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

# Who may read an enterprise's records: the enterprise itself, officers, admins. One instance, so that a route
# matched outside FastAPI's dependencies (api/service/fast_lane.py) checks exactly what the declared one does.
READING = _EnterpriseGuard(("enterprise", "officer", "admin"))
ReadingEnterprise = Annotated[Principal, Depends(READING)]
ActingEnterprise = Annotated[Principal, Depends(_EnterpriseGuard(("enterprise",), why=_ONLY_THE_ENTERPRISE))]

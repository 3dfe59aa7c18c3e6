"""Request bodies: capped per route, and read only from a caller whose token is valid.

FastAPI reads a route's body (to validate it) before it resolves the route's dependencies, so the
bearer guards of api/service/auth.py run too late to spare the server a body it should never have
read: five 100 MB bodies sent without a token took a server from 169 MB to 1.2 GB. This ASGI
middleware stands in front of the routes. For a request that has a body it

1. answers 413 at once when the declared Content-Length is over the route's cap;
2. authenticates the bearer token (``auth.authenticate``: the same cache, messages and failed-attempt
   limit as the guards) and answers 401 or 429 without reading the body;
3. reads the body while counting — a chunked body declares no length — and answers 413 as soon as it
   passes the cap; then hands the buffered body to the app.

Requests without a body, and reads (GET, HEAD), go on as before, to the guards. A body needs a valid
token on every path but ``public`` ones (/health): no endpoint takes a body from a stranger, and a
path no route serves is refused like any other rather than left to chance.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.service.auth import authenticate
from api.service.problems import Problem, TooLarge, problem_response

__all__ = ["DEFAULT_BODY", "READS", "BodyLimits", "replay"]

# Every JSON body huiqi reads is small: an objection's reason (at most 2,000 characters), supplied facts, a run's
# date, a review note. Routes that take more (a policy draft) say so in ``caps``.
DEFAULT_BODY = 64 * 1024
# No route of these methods reads a body (a test holds the OpenAPI document to it): one sent along is never
# read. Most requests are reads, and they pass here without a look at their headers.
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyLimits:
    """``caps`` maps path templates (``/policy-drafts/{draft_id}``) to the bytes their bodies may have; any
    other path takes ``default``. ``public`` paths read a body without a token."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        caps: Mapping[str, int],
        public: Collection[str] = (),
        public_under: tuple[str, ...] = (),
        default: int = DEFAULT_BODY,
    ) -> None:
        self.app, self.default, self.public = app, default, frozenset(public)
        # Paths under these prefixes (the web pages' forms, api/web) authenticate with their session cookie and
        # CSRF token instead of a bearer token: their bodies are still capped, never read past ``default``.
        self.public_under = public_under
        self.caps = [(compile_path(template)[0], cap) for template, cap in caps.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        declared, chunked = headers.get("content-length"), "transfer-encoding" in headers
        if (declared is None or declared == "0") and not chunked:  # no body: the guards do all the checking
            return await self.app(scope, receive, send)
        path = scope["path"]
        cap = next((c for pattern, c in self.caps if pattern.match(path)), self.default)
        problem = _too_long(declared, cap)
        if problem is None and path not in self.public and not path.startswith(self.public_under):
            try:
                await authenticate(Request(scope))
            except Problem as refused:
                problem = refused
        if problem is None:
            body = await _read(receive, cap)
            if body is None:  # the client went away
                return None
            if not isinstance(body, bytes):
                problem = body
        if problem is not None:
            return await problem_response(problem, path)(scope, receive, send)
        return await self.app(scope, replay(body, receive), send)


def _too_large(cap: int, found: str) -> TooLarge:
    return TooLarge(
        f"the body is over this endpoint's limit of {cap:,} bytes ({cap // 1024} KiB): found {found}; "
        "send a smaller one",
        detail_zh=f"请求内容超过本接口 {cap // 1024} KiB 的上限，请缩小后重试",
        limit_bytes=cap,
    )


def _too_long(declared: str | None, cap: int) -> Problem | None:
    if declared is None:
        return None
    if not declared.isdigit():
        return Problem(
            f"Content-Length: expected a whole number of bytes, found {declared[:40]!r}",
            detail_zh="请求头 Content-Length 应为字节数",
        )
    length = int(declared)
    return _too_large(cap, f"{length:,} bytes") if length > cap else None


async def _read(receive: Receive, cap: int) -> bytes | Problem | None:
    """The body, or 413 as soon as it passes ``cap`` (the rest is never pulled), or None on a disconnect."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return _too_large(cap, f"more than {cap:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the buffered body in one message, then whatever the server says next."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

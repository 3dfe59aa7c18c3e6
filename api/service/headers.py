"""Security headers on every answer (OWASP's REST Security Cheat Sheet).

Answers carry enterprises' records, tokens' holders and objections: no cache may keep them, no
browser may guess another content type for them, frame them in another site's page, or send their
address on as a referrer. ``Cache-Control: no-store`` is on every answer, not only authenticated
ones: that is simplest to keep true, and nothing huiqi serves is worth caching. uvicorn's own
``server`` header is turned off where it starts (api/service/server.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SECURITY_HEADERS", "SecurityHeaders"]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Content-Security-Policy": "frame-ancestors 'none'",  # not default-src: /docs runs Swagger UI's scripts
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # no route sets these itself: append, do not merge
                message["headers"] = [*message.get("headers", ()), *_RAW]
            await send(message)

        return await self.app(scope, receive, send_with_headers)

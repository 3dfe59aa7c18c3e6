"""A NUL character (U+0000) in a request is refused with 422 before any work, the field named.

PostgreSQL's text types cannot hold U+0000 (SQLite's can): sent in a query parameter, a path or a JSON or form
body, it reached the database and failed there with a 500 on PostgreSQL (found by fuzzing the API on it). No
field of huiqi's takes control characters as data, so the character is refused on both databases alike. This
middleware sits inside ``BodyLimits``: a body is looked at only once it is capped, read and its token checked.
Files uploaded as multipart (a department's list) are read by their own parsers, row by row, not here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.service.limits import READS, replay
from api.service.problems import Invalid, problem_response

__all__ = ["RefuseNul"]

NUL = "\x00"


def _nul_field(value: Any, at: str) -> str | None:
    """Where in ``value`` (a parsed JSON document) a text, or a key, holds a NUL: ``at`` + ".reason", ".ids.3"."""
    if isinstance(value, str):
        return at if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = f"{at}.{key}" if NUL in key else _nul_field(item, f"{at}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if found := _nul_field(item, f"{at}.{i}"):
                return found
    return None


def _in_pairs(text: str, at: str) -> str | None:
    for name, value in parse_qsl(text, keep_blank_values=True):
        if NUL in name or NUL in value:
            return f"{at}.{name.replace(NUL, '')}"
    return None


def _refused(field: str) -> Invalid:
    return Invalid(
        f"invalid {field}: expected text without control characters, found a NUL character (U+0000), which "
        "cannot be stored; remove it and send the request again",
        detail_zh=f"请求参数有误：{field} 含有空字符（U+0000），请删除后重试",
        errors=[{"field": field, "message": "contains a NUL character (U+0000)", "type": "nul_character"}],
    )


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        field = "path" if NUL in scope["path"] else None
        query = scope.get("query_string", b"")
        if field is None and b"%00" in query:  # the quick test first: most requests have no NUL to look for
            field = _in_pairs(query.decode("latin-1"), "query")
        if field is None and scope["method"] not in READS:
            body, receive = await _buffered(receive)
            field = _in_body(Headers(scope=scope).get("content-type", ""), body)
        if field is not None:
            return await problem_response(_refused(field), scope["path"])(scope, receive, send)
        return await self.app(scope, receive, send)


def _in_body(content_type: str, body: bytes) -> str | None:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind.endswith("json") and b"\\u0000" in body:  # JSON writes U+0000 only as this escape
        try:
            return _nul_field(json.loads(body), "body")
        except (ValueError, RecursionError):
            return None  # not JSON, or nested past what Python's parser takes: the route refuses it as it would
    if kind == "application/x-www-form-urlencoded" and (b"%00" in body or b"\x00" in body):
        return _in_pairs(body.decode("utf-8", "replace"), "body")
    return None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The body (``BodyLimits`` has read and capped it already: one message) and a ``receive`` that replays it."""
    chunks, message = [], {"more_body": True}
    while message.get("more_body", False):
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
    body = b"".join(chunks)
    return body, replay(body, receive)

"""Structured logs (one JSON object a line) and the request id that ties a log line to the audit entries the
request wrote.

A client (or the proxy in front) may send ``X-Request-ID``: it is kept when it is 1 to 64 characters of letters,
digits, ``.``, ``_`` and ``-`` — anything else (too long, a newline that would forge a log line) is replaced by a
fresh id, never echoed. The id goes back in the answer's ``X-Request-ID``, into every JSON log line the request
causes, and into ``audit_log.request_id`` for each write it makes (api/service/audit.py).

The same middleware hands each answered request to the metrics (``observe``, api/service/metrics.py): one layer
around the app, one timer, one look at the route, rather than one middleware per concern — every layer is paid on
every request, and the decision list's own work is well under a millisecond.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ACCESS_LOG_ENV", "HEADER", "JsonFormatter", "RequestIds", "access_log", "current_request_id"]

HEADER = "X-Request-ID"
# Set by `huiqi serve` (json unless --no-access-log); without it (tests, an embedding app) nothing is installed.
ACCESS_LOG_ENV = "HUIQI_ACCESS_LOG"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
access_log = logging.getLogger("huiqi.access")
# (route template, method, status, seconds) of each answered request: the metrics' hook.
Observer = Callable[[str, str, int, float], None]


class _FreshIds:
    """32 hex characters unique across processes: a random per-process prefix and a counter. Unlike uuid4 this
    costs no system call per request; the ids need to be unique, not unguessable (they are shown to the client)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked worker must not repeat its parent's ids

    def reset(self) -> None:
        self._prefix, self._counter = os.urandom(8).hex(), itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_fresh_id = _FreshIds()


def current_request_id() -> str | None:
    """The id of the request being served, or None outside a request (the command line)."""
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message, the request id, and the record's extras."""

    _PLAIN = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        line |= {k: v for k, v in vars(record).items() if k not in self._PLAIN}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def install_json_logs() -> None:
    """Send huiqi's access log to stderr as JSON lines (once per process), when `huiqi serve` asked for it."""
    if os.environ.get(ACCESS_LOG_ENV) == "json" and not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


class RequestIds:
    """ASGI middleware: gives each HTTP request its id, answers with it, logs the request as JSON (when the access
    log is on) and hands it to ``observe`` (the metrics)."""

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app, self.observe = app, observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _VALID.match(given) else _fresh_id()
        token = _request_id.set(request_id)
        start, status = time.perf_counter(), 500
        header = (HEADER.lower().encode("latin-1"), request_id.encode("latin-1"))

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if self.observe is not None:
                self.observe(route, scope["method"], status, seconds)
            if access_log.isEnabledFor(logging.INFO):  # off: not even the record's fields are built
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )
            _request_id.reset(token)

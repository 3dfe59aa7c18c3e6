"""The HTTP service (FastAPI): enterprises, policy officers, runs; bearer tokens with roles.

app.py        create_app: settings → database, published catalogue, run worker, routes
auth.py       roles and tenant isolation;   tokens.py  issuing and checking tokens (hashed)
problems.py   problem details (RFC 9457);   audit.py   one audit entry per write
published.py  repository catalogue + versions published through the service
drafts.py     drafts' text, effective dates, the publish plan;   impact.py  a draft's impact
explain.py    a decision's explanation;     actions.py the enterprise's actions on a notice
runner.py     runs in a worker thread;      routes/, schemas/: per audience
limits.py     token before body, body caps, failed-authentication rate (ASGI middleware)
nul.py        a NUL character (U+0000) in a path, query or body: 422 naming the field (ASGI middleware)
headers.py    security headers on every answer;   dead_letters.py  re-queuing dead notices, audited
objections.py officers' review of objections
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.service.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """``create_app`` imported when asked for: a CLI command using one module here (tokens, payouts) does not load
    the whole app (FastAPI, the ranker, MLflow) to print its help."""
    if name == "create_app":
        from api.service.app import create_app

        return create_app
    raise AttributeError(f"module 'api.service' has no attribute {name!r}")

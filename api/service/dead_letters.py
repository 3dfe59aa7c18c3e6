"""Sending dead letters again, audited: the one place the service and ``huiqi notices requeue`` share."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from api.service.audit import audit
from api.service.tokens import Principal
from matcher.delivery import Requeued, requeue_dead

__all__ = ["requeue"]


def requeue(engine: Engine, principal: Principal, ids: Sequence[int] | None) -> Requeued:
    """Dead notices ``ids`` (every one when None) back to pending, with an audit entry naming who and which."""
    with engine.begin() as connection:
        done = requeue_dead(connection, ids)
        if done.ids:
            subject = "notices:dead" if ids is None else "notices:" + ",".join(map(str, done.ids))
            audit(connection, principal, "notices.requeue", subject, {"asked": ids or "all", "requeued": done.ids})
    return done

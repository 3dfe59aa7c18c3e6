"""Every write the service makes is audited in the same transaction: who, what, on what, when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from api.service.logs import current_request_id
from api.service.tokens import Principal
from matcher.db.models import audit_log

__all__ = ["audit"]


def audit(connection: Connection, principal: Principal, action: str, subject: str, detail: Any = None) -> None:
    from fastapi.encoders import jsonable_encoder  # here: the CLI's commands import this module to print their help

    connection.execute(
        insert(audit_log).values(
            at=datetime.now(UTC),
            actor=principal.actor,
            action=action,
            subject=subject[:200],
            detail=jsonable_encoder(detail),
            request_id=current_request_id(),  # ties the entry to the request's log lines (api/service/logs.py)
        )
    )

"""Which service worker process owns a run request or a training job, and whether it is gone.

`huiqi serve --workers N` runs N processes against one database; any of them may accept a request to
run or train, and runs it in a thread of its own. The request names its owner (``host:pid``), so a
worker starting up fails what a dead worker left behind — and only that, not what a live sibling is
running. A worker on another host is never taken for gone: only its own host can tell.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, select, update

__all__ = ["fail_abandoned", "is_gone", "worker_id"]

ACTIVE = ("queued", "running")


def worker_id() -> str:
    """This process, as ``host:pid`` (read each time: a worker is a new process with a new pid)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def is_gone(worker: str | None) -> bool:
    """Whether ``worker`` no longer runs. Rows from before owners were recorded (None) count as gone, and so
    does this very process: recovery runs at start-up, before this process owns anything, so a row naming
    its pid was left by an earlier process that had the same pid."""
    if worker is None:
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def fail_abandoned(engine: Engine, table: Table, **values: Any) -> None:
    """Mark failed, with ``values``, the queued or running rows of ``table`` (run requests, training jobs) whose
    worker is gone."""
    with engine.begin() as connection:
        left = connection.execute(select(table.c.id, table.c.worker).where(table.c.status.in_(ACTIVE))).all()
        gone = [r.id for r in left if is_gone(r.worker)]
        if gone:
            connection.execute(
                update(table)
                .where(table.c.id.in_(gone), table.c.status.in_(ACTIVE))
                .values(status="failed", finished_at=datetime.now(UTC), **values)
            )

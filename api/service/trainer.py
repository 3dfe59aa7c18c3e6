"""Ranker training started over HTTP: one job at a time, in a worker thread, followed through ``training_jobs``.

A job is stored first (queued), so its status can be read at once and
survives the worker. The worker trains as `huiqi train` does
(``matcher.ranking.train``): on the stored feedback, compared with the
baselines and the champion, registered in MLflow, promoted on improvement.
A job's ``active`` column is 1 while it is queued or running; its unique key
refuses a second one, even from another service worker. A job names the
worker that owns it; one cut short by its worker's death is marked failed
when a worker next starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import Connection, Engine, insert, select, update

from api.service.workers import fail_abandoned, worker_id
from matcher.db.models import training_jobs
from matcher.ranking.errors import RankingError
from matcher.ranking.registry import ModelStore
from matcher.ranking.train import train

__all__ = ["Trainer"]

log = logging.getLogger("huiqi.service.training")


class Trainer:
    def __init__(
        self,
        engine: Engine,
        store: ModelStore,
        *,
        on_done: Callable[[], None] = lambda: None,
        train_model: Callable[..., Any] = train,
        push_cap: int = 3,
    ) -> None:
        """``on_done``: called after each completed job (the service re-reads the champion); ``push_cap``: the
        first wave the decision metrics judge (``HUIQI_PUSH_CAP``, as the runs push)."""
        self.engine, self.store, self.on_done, self.train_model = engine, store, on_done, train_model
        self.push_cap = push_cap
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huiqi-train")

    def recover(self) -> None:
        """Jobs left queued or running by a worker that is gone: failed, to be started again."""
        fail_abandoned(
            self.engine,
            training_jobs,
            active=None,
            error="interrupted: the service stopped before training finished; start a new job",
        )

    def active(self, connection: Connection) -> int | None:
        """The id of the job queued or running, if any."""
        return connection.execute(select(training_jobs.c.id).where(training_jobs.c.active == 1)).scalar()

    def submit(self, params: dict[str, Any], actor: str, connection: Connection) -> int:
        """Store the job in the caller's transaction (an IntegrityError if one is active); ``start`` it after
        commit."""
        return connection.execute(
            insert(training_jobs)
            .values(
                status="queued",
                active=1,
                params=params,
                requested_by=actor,
                requested_at=datetime.now(UTC),
                worker=worker_id(),
            )
            .returning(training_jobs.c.id)
        ).scalar_one()

    def start(self, job_id: int, params: dict[str, Any]) -> None:
        self._pool.submit(self._train, job_id, params)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _set(self, job_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(training_jobs).where(training_jobs.c.id == job_id).values(**values))

    def _fail(self, job_id: int, error: str) -> None:
        self._set(job_id, status="failed", active=None, error=error, finished_at=datetime.now(UTC))

    def _train(self, job_id: int, params: dict[str, Any]) -> None:
        self._set(job_id, status="running", started_at=datetime.now(UTC))
        try:
            if params.get("max_queries") == 0:  # 0: every query, as `huiqi ranker train --max-queries 0`
                params = {**params, "max_queries": None}
            report = self.train_model(self.engine, self.store, **({"cap": self.push_cap} | params))
        except RankingError as exc:  # no feedback yet, an unusable store: the ranker's own message says what to do
            self._fail(job_id, str(exc))
            return
        except Exception as exc:  # the worker must record every failure: nobody else sees it
            log.exception("training job %s failed", job_id)
            self._fail(job_id, f"{type(exc).__name__}: {exc}")
            return
        self._set(
            job_id,
            status="completed",
            active=None,
            result=jsonable_encoder(report.to_dict()),
            finished_at=datetime.now(UTC),
        )
        self.on_done()

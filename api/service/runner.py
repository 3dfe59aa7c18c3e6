"""Runs started over HTTP: one at a time, in a worker thread, followed through ``run_requests``.

A request is stored first (queued, owned by this process), so its status can
be read at once and survives the worker. The worker validates the registry
directory of the settings, writes the profiles the impact analysis reads,
then runs the matcher with the published catalogue in force on the date and
the push plan of `huiqi run` (the champion, or the fallback order; the
settings' push cap and waves).

One run at a time across all service workers: a request starts only by
setting its ``running`` marker, which a unique index allows on one row; a
request behind another one waits, polling. A run is resumable (matcher.run),
so a request cut short by its worker's death is marked failed when a worker
next starts, and is simply started again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from api.ranking import push_plan
from api.service.workers import fail_abandoned, worker_id
from features.profiles import build_profiles
from features.profiles.store import ProfileInfo, write_profiles
from features.registries.validate import check_registry, write_quarantine
from matcher.db.models import run_requests
from matcher.ranking.serve import PushPlan
from matcher.run import run_matching

if TYPE_CHECKING:
    from api.service.published import PublishedCatalogue
    from api.settings import Settings

__all__ = ["Runner"]

log = logging.getLogger("huiqi.service.runs")
WAIT_SECONDS = 1.0  # how often a request behind another run asks again


class Runner:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        catalogue: PublishedCatalogue,
        push: Callable[[], PushPlan | None] | None = None,
    ) -> None:
        """``push``: the push plan of each run, read when it starts; by default ``api.ranking.push_plan``, as
        `huiqi run` uses (``None`` from it: no ranking at all)."""
        self.engine, self.settings, self.catalogue = engine, settings, catalogue
        self.push = push or (lambda: push_plan(settings))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huiqi-run")
        self._stopping = threading.Event()

    def recover(self) -> None:
        """Requests left queued or running by a worker that is gone: failed, to be started again."""
        fail_abandoned(
            self.engine,
            run_requests,
            running=None,
            error="interrupted: the service stopped before the run finished; start it again (it resumes)",
        )

    def submit(self, as_of: date, actor: str, connection) -> int:
        """Store the request in the caller's transaction; the caller starts it with ``start`` after commit."""
        return connection.execute(
            insert(run_requests)
            .values(
                as_of=as_of, status="queued", requested_by=actor, requested_at=datetime.now(UTC), worker=worker_id()
            )
            .returning(run_requests.c.id)
        ).scalar_one()

    def start(self, request_id: int, as_of: date) -> None:
        self._pool.submit(self._run, request_id, as_of)

    def shutdown(self) -> None:
        self._stopping.set()  # a request still waiting for its turn stays queued; the next start fails it
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _claim(self, request_id: int) -> bool:
        """Wait for this request's turn and mark it running; False if it stopped being queued meanwhile, or
        the service is stopping."""
        waiting = False
        while not self._stopping.is_set():
            try:
                with self.engine.begin() as connection:
                    claimed = connection.execute(
                        update(run_requests)
                        .where(run_requests.c.id == request_id, run_requests.c.status == "queued")
                        .values(status="running", running=1, stage="checking registries", started_at=datetime.now(UTC))
                    ).rowcount
                return claimed == 1
            except IntegrityError:  # another request is running, in this worker or another one
                if not waiting:
                    self._set(request_id, stage="waiting for the run in progress to finish")
                    waiting = True
                self._stopping.wait(WAIT_SECONDS)
        return False

    def _set(self, request_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(run_requests).where(run_requests.c.id == request_id).values(**values))

    def _run(self, request_id: int, as_of: date) -> None:
        if not self._claim(request_id):
            return
        try:
            checked = check_registry(self.settings.registry_dir)
            write_quarantine(checked, self.settings.quarantine_dir)
            self._set(request_id, stage="building profiles")
            profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, as_of).collect()
            target = self.settings.profiles_path
            partial = target.with_name(target.name + ".partial")
            write_profiles(profiles, partial, ProfileInfo(as_of, checked.fingerprint))
            os.replace(partial, target)  # readers see the old file or the new one, never half of one
            policies = self.catalogue.load(self.engine).in_force(as_of)
            summary = run_matching(
                self.engine,
                checked,
                as_of,
                policies,
                progress=lambda stage: self._set(request_id, stage=stage),
                push=self.push(),
            )
        except Exception as exc:  # the worker must record every failure: nobody else sees it
            log.exception("run request %s failed", request_id)
            self._set(
                request_id,
                status="failed",
                running=None,
                error=f"{type(exc).__name__}: {exc}",
                finished_at=datetime.now(UTC),
            )
            return
        self._set(
            request_id,
            status="completed",
            running=None,
            stage=None,
            run_id=summary.run_id,
            outcome=summary.outcome,
            summary={k: v for k, v in asdict(summary).items() if k not in ("run_id", "as_of", "outcome")},
            finished_at=datetime.now(UTC),
        )

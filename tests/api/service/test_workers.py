"""Several service workers on one database: one run at a time across them, and a worker starting up fails
only what a dead worker left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import insert, select

from api.service.published import PublishedCatalogue
from api.service.runner import Runner
from api.service.trainer import Trainer
from api.service.workers import is_gone
from matcher.db.models import run_requests, training_jobs
from tests.api.service.conftest import AS_OF

HOST = socket.gethostname()[:60]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _live_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_is_gone_when_asked_knows_dead_live_foreign_and_unnamed_workers():
    live = _live_process()
    try:
        assert not is_gone(f"{HOST}:{live.pid}")
        assert is_gone(f"{HOST}:{_dead_pid()}")
        assert not is_gone(f"another-host:{_dead_pid()}")  # only its own host can tell
        assert is_gone(None)  # a row from before owners were recorded
    finally:
        live.kill()
        live.wait()


def test_recover_when_one_worker_died_fails_its_requests_and_leaves_a_live_workers_running_one(
    engine, settings, repository
):
    live = _live_process()
    now = datetime.now(UTC)
    rows = {
        "live": {"status": "running", "running": 1, "worker": f"{HOST}:{live.pid}"},
        "dead": {"status": "queued", "worker": f"{HOST}:{_dead_pid()}"},
        "unnamed": {"status": "queued", "worker": None},
        "done": {"status": "completed", "worker": f"{HOST}:{_dead_pid()}"},
    }
    try:
        with engine.begin() as connection:
            ids = {
                name: connection.execute(
                    insert(run_requests)
                    .values(as_of=AS_OF, requested_by="officer:t", requested_at=now, **values)
                    .returning(run_requests.c.id)
                ).scalar_one()
                for name, values in rows.items()
            }
        Runner(engine, settings, PublishedCatalogue(repository), push=lambda: None).recover()
        with engine.connect() as connection:
            status = dict(connection.execute(select(run_requests.c.id, run_requests.c.status)).all())
        assert {name: status[i] for name, i in ids.items()} == {
            "live": "running",
            "dead": "failed",
            "unnamed": "failed",
            "done": "completed",
        }
    finally:
        live.kill()
        live.wait()


def test_recover_when_the_training_worker_lives_keeps_its_job_and_fails_it_once_the_worker_is_gone(engine):
    live = _live_process()
    with engine.begin() as connection:
        job = connection.execute(
            insert(training_jobs)
            .values(
                status="running",
                active=1,
                params={},
                requested_by="analyst:t",
                requested_at=datetime.now(UTC),
                worker=f"{HOST}:{live.pid}",
            )
            .returning(training_jobs.c.id)
        ).scalar_one()
    trainer = Trainer(engine, store=None)
    trainer.recover()
    assert _job_status(engine, job) == ("running", 1)
    live.kill()
    live.wait()
    trainer.recover()
    assert _job_status(engine, job) == ("failed", None)  # and another job may start


def test_runs_when_two_workers_each_start_one_go_one_after_the_other(engine, settings, repository):
    workers = [Runner(engine, settings, PublishedCatalogue(repository), push=lambda: None) for _ in range(2)]
    ids = []
    for runner in workers:
        with engine.begin() as connection:
            ids.append(runner.submit(AS_OF, "officer:t", connection))
    for runner, request_id in zip(workers, ids, strict=True):
        runner.start(request_id, AS_OF)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        rows = _requests(engine, ids)
        if all(r.status in ("completed", "failed") for r in rows):
            break
        assert sum(r.running == 1 for r in rows) <= 1
        time.sleep(0.05)
    for runner in workers:
        runner.shutdown()
    first, second = sorted(_requests(engine, ids), key=lambda r: r.started_at)
    assert (first.status, second.status) == ("completed", "completed"), (first.error, second.error)
    assert first.finished_at <= second.started_at  # the second waited for the first
    assert (first.outcome, second.outcome) == ("completed", "unchanged")  # and found nothing new to write
    assert first.running is None and second.running is None


def _requests(engine, ids):
    with engine.connect() as connection:
        return connection.execute(select(run_requests).where(run_requests.c.id.in_(ids))).all()


def _job_status(engine, job_id):
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                select(training_jobs.c.status, training_jobs.c.active).where(training_jobs.c.id == job_id)
            ).one()
        )


def test_worker_id_when_read_names_this_host_and_process():
    from api.service.workers import worker_id

    assert worker_id() == f"{HOST}:{os.getpid()}"

"""Prometheus metrics: GET /metrics, in the text exposition format, for a ``monitor`` token.

Two kinds of figures, kept apart so that ``huiqi serve --workers N`` answers the same whichever worker a scrape
reaches:

- **per request** (``huiqi_http_requests_total``, ``huiqi_http_request_duration_seconds``): counted in the
  worker that served the request. With several workers, prometheus-client's multiprocess mode writes each
  worker's values to files in ``PROMETHEUS_MULTIPROC_DIR`` (``huiqi serve`` sets it to a fresh folder under the
  data directory before it starts the workers), and a scrape sums every worker's files. Labels are the route's
  template (``/enterprises/{uscc}/decisions``), never the raw path, and the method and status class: a bounded
  set whatever clients send; a path no route serves is counted as ``unmatched``.
- **from the database** (open matters by card colour, notices by delivery state, dead letters, the latest run's
  stage durations): read at scrape time by a collector, so every worker reports the same state, including what
  the command line changed (a run or a delivery started with ``huiqi``).

Why a token: the figures show how the service is used and where it is slow, which is nobody else's business; a
``monitor`` token may read them and nothing else (``huiqi token create --role monitor --name prometheus``, then
``authorization: {credentials: ...}`` in the scrape config).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from api.service.auth import allow
from api.service.routes.common import problems
from api.service.tokens import Principal
from matcher.db.models import notices, runs
from matcher.supervision import CalendarUnknown, WorkingCalendar, open_cards
from matcher.supervision.limits import TimeLimits

__all__ = ["MULTIPROC_ENV", "observe_request", "prepare_multiprocess", "router"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets in seconds: the service's reads answer in milliseconds, a run request in under a second.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "huiqi_http_requests",
    "HTTP requests answered, by route template, method and status class",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "huiqi_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by route template and method",
    ["route", "method"],
    buckets=BUCKETS,
)


def prepare_multiprocess(data_dir: Path) -> Path:
    """A fresh folder for the workers' metric files, in the environment the workers inherit: call before they
    start (a worker imports prometheus-client after this, and then writes its values there)."""
    folder = data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)  # the previous server's counts are not this one's
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


# The labelled children of both metrics, per (route, method, status class): prometheus-client's ``labels()``
# validates and looks the labels up on every call, a cost paid per request for a bounded set of keys (routes x
# methods x 5 classes).
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration (``RequestIds`` calls this; api/service/logs.py)."""
    method = method if method in _METHODS else "other"  # a client's made-up method must not grow the set
    key = (route, method, status // 100)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (REQUESTS.labels(route, method, f"{key[2]}xx"), LATENCY.labels(route, method))
    children[0].inc()
    children[1].observe(seconds)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class StateCollector(Collector):
    """Figures read from the database at scrape time: the same from every worker."""

    def __init__(self, engine: Engine, limits: TimeLimits, calendar: WorkingCalendar) -> None:
        self.engine, self.limits, self.calendar = engine, limits, calendar

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self.engine.connect() as connection:
            delivery = GaugeMetricFamily("huiqi_notices", "Notices by delivery state", labels=["delivery_status"])
            counts = connection.execute(
                select(notices.c.delivery_status, func.count()).group_by(notices.c.delivery_status)
            ).all()
            for state, n in counts:
                delivery.add_metric([state], n)
            yield delivery
            dead = GaugeMetricFamily("huiqi_dead_letters", "Notices whose delivery attempts ran out, waiting")
            dead.add_metric([], next((n for s, n in counts if s == "dead"), 0))
            yield dead
            matters = GaugeMetricFamily(
                "huiqi_open_matters", "Matters waiting on officers by step and card colour", labels=["step", "colour"]
            )
            try:
                cards = open_cards(connection, calendar=self.calendar, limits=self.limits, now=datetime.now(UTC))
                for step, colour, n in cards.group_by("step", "colour").len().iter_rows():
                    matters.add_metric([step, colour or "unknown"], n)
            except CalendarUnknown:  # the year is not in the calendar: no colours rather than guessed ones
                pass
            yield matters
            latest = connection.execute(
                select(runs.c.id, runs.c.timings)
                .where(runs.c.status == "completed")
                .order_by(runs.c.finished_at.desc())
                .limit(1)
            ).first()
            stages = GaugeMetricFamily(
                "huiqi_run_stage_seconds", "Seconds each stage of the latest completed run took", labels=["stage"]
            )
            for stage, seconds in _stages(latest.timings if latest else None):
                stages.add_metric([stage], seconds)
            yield stages


def _stages(timings: object) -> list[tuple[str, float]]:
    if not isinstance(timings, dict):
        return []
    return [(str(k), float(v)) for k, v in timings.items() if isinstance(v, int | float)]


def registry(request: Request) -> CollectorRegistry:
    state = request.app.state
    if getattr(state, "metrics_registry", None) is None:
        from api.service.routes.supervision import supervision_of

        supervision = supervision_of(request)
        chosen = CollectorRegistry()
        if os.environ.get(MULTIPROC_ENV):
            MultiProcessCollector(chosen)
        else:
            from prometheus_client import REGISTRY

            chosen.register(_Forward(REGISTRY))
        chosen.register(StateCollector(state.service.engine, supervision.limits, supervision.calendar))
        state.metrics_registry = chosen
    return state.metrics_registry


class _Forward(Collector):
    """This process's own request metrics (one worker: no multiprocess files)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[object]:
        for family in self.source.collect():
            if family.name.startswith("huiqi_"):
                yield family


router = APIRouter(tags=["service"])
Monitor = Annotated[Principal, Depends(allow("monitor", "admin", why="metrics are for a monitor token"))]


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}} | problems())
def metrics(request: Request, principal: Monitor) -> Response:
    """Prometheus metrics in the text format (docs/supervision.md lists them): for a monitor or admin token."""
    return Response(generate_latest(registry(request)), media_type=CONTENT_TYPE_LATEST)

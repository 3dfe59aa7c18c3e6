"""The FastAPI application: ``create_app(settings)`` wires the database, the catalogue, the run and training
workers, the ranker and routes."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine

from api.ranking import model_store
from api.service import fast_lane
from api.service.auth import FAILED_AUTH_LIMIT, FailedAuth, failed_auth_share
from api.service.headers import SecurityHeaders
from api.service.limits import DEFAULT_BODY, BodyLimits
from api.service.logs import RequestIds, install_json_logs
from api.service.metrics import observe_request
from api.service.metrics import router as metrics_router
from api.service.nul import RefuseNul
from api.service.problems import install_problem_handlers
from api.service.published import PublishedCatalogue
from api.service.ranker import Ranker
from api.service.reads import LoopReader
from api.service.routes import (
    analysis,
    benefits,
    drafts,
    enterprises,
    models,
    notices,
    objections,
    payouts,
    policies,
    proposals,
    runs,
    statistics,
    supervision,
    supplied_facts,
)
from api.service.runner import Runner
from api.service.state import ServiceState
from api.service.trainer import Trainer
from api.settings import Settings
from matcher.db import open_database, upgrade
from policies.catalogue import Catalogue

__all__ = ["create_app"]

DESCRIPTION = f"""
Apply-free benefits (免申即享). Enterprises read their decisions and notices, why, and confirm, supply
missing facts, decline or object. Policy officers write drafts, validate them, run their examples, see
their impact and publish new versions; they start matching runs and follow them. Data scientists read the
ranker's champion and registered versions with their held-out metrics, and train new ones.

Every call needs `Authorization: Bearer <token>` (`huiqi token create`). An enterprise token is bound to
one USCC and reaches only that enterprise's records. Errors are problem details (RFC 9457,
`application/problem+json`); a validation error names the field. Money is in fen (1/100 yuan).

A body is read only with a valid token, and only up to its endpoint's limit
({DEFAULT_BODY // 1024} KiB; a policy draft {drafts.MAX_BODY // 1024} KiB): over it, 413. An address that
sends more than {FAILED_AUTH_LIMIT} unknown tokens a minute gets 429 with `Retry-After` for the next ones.
"""


class Health(BaseModel):
    status: str = "ok"


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    repository: Catalogue | None = None,
    workers: int = 1,
) -> FastAPI:
    """The service. ``engine`` (tests) replaces the settings' database; its schema is brought up to date.
    ``workers``: how many processes serve it (`huiqi serve --workers`): each counts its share of the limit on
    failed authentications."""
    settings = settings or Settings()
    if engine is None:
        engine = open_database(settings.database)
    else:
        upgrade(engine)
    catalogue = PublishedCatalogue(repository)
    runner = Runner(engine, settings, catalogue)
    runner.recover()
    # Reading the model store imports MLflow and LightGBM and builds the booster: hundreds of thousands of objects
    # made after start-up's gc.freeze() (below), which every full collection would then scan (100–150 ms pauses
    # under load, measured): frozen too, as start-up's are.
    ranker = Ranker(engine, model_store(settings), on_load=gc.freeze)
    trainer = Trainer(engine, ranker.store, on_done=ranker.forget, push_cap=settings.push_cap)
    trainer.recover()
    reads = LoopReader(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        catalogue.load(engine)  # compile the catalogue before the first request, not during it
        # What start-up built lives as long as the process: keep it out of the garbage collector's
        # scans, whose pauses otherwise show in the latency tail under load.
        gc.freeze()
        yield
        reads.close()
        runner.shutdown()
        trainer.shutdown()

    app = FastAPI(
        title="huiqi",
        version="0.1.0",
        summary="Apply-free government benefits: matches, explanations, policy authoring and impact.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api/web/docs.py from local files: FastAPI's own loads Swagger UI from a CDN
    )
    app.state.service = ServiceState(settings, engine, catalogue, runner, trainer, ranker, reads)
    app.state.failed_auth = FailedAuth(limit=failed_auth_share(workers))
    install_problem_handlers(app)
    # The last added is the outermost: the security headers go on BodyLimits' own answers too.
    drafts_body = {"/policy-drafts": drafts.MAX_BODY, "/policy-drafts/{draft_id}": drafts.MAX_BODY}
    drafts_body["/payouts/returns"] = payouts.MAX_RETURN_BODY
    drafts_body["/supplied-facts/lists"] = supplied_facts.MAX_LIST_BODY
    # Inside BodyLimits: a body is looked at for a NUL character only once it is capped and its token checked.
    app.add_middleware(RefuseNul)
    app.add_middleware(BodyLimits, caps=drafts_body, public={"/health"}, public_under=("/web/",))
    app.add_middleware(SecurityHeaders)
    # Outermost: every answer (a refusal of BodyLimits too) carries its request id, is counted and timed.
    app.add_middleware(RequestIds, observe=observe_request)
    install_json_logs()

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """Liveness: answers without a token."""
        return Health()

    for module in (
        enterprises, benefits, proposals, policies, drafts, runs, notices, objections, models, payouts, supplied_facts,
        supervision, statistics, analysis,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(metrics_router)
    fast_lane.install(app)  # in front of the routes just included
    from api.web import mount_web  # here, not at the top: the pages import the service's routes

    mount_web(app)  # the pages for people (api/web), /docs with local assets
    return app

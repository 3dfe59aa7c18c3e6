"""Data scientists: the ranker's champion and registered versions, and training jobs started and followed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.service.audit import audit
from api.service.auth import allow
from api.service.problems import Conflict, NotFound
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.models import (
    DriftOut,
    ModelCardOut,
    ModelVersionOut,
    TrainingJobIn,
    TrainingJobOut,
    UpliftOut,
)
from api.service.state import StateDep
from api.service.tokens import Principal
from matcher.db.models import training_jobs
from matcher.ranking.errors import ModelStoreError
from matcher.ranking.model_card import card_markdown

router = APIRouter(tags=["ranker"])
Reader = Annotated[Principal, Depends(allow("officer", "analyst", "admin"))]
Analyst = Annotated[
    Principal,
    Depends(allow("analyst", "admin", why="only analysts and admins train the ranker; officers may read its models")),
]
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the training job's id")]
Version = Annotated[str, Path(pattern=r"^[0-9]{1,9}$", description="a registered version, e.g. 3")]
RunId = Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$", description="one run's id (default: see the operation)")]

NO_CHAMPION = (
    "no champion is registered: runs use the fallback order. To get one, record feedback with `huiqi simulate` "
    "(or wait for enterprises to answer their notices), then train with `huiqi train` or POST /training-jobs"
)


@router.get("/models/champion", response_model=ModelVersionOut, responses=problems(404))
def read_champion(principal: Reader, state: StateDep) -> dict[str, Any]:
    """The model runs use now, with its held-out NDCG@5, NDCG@10 and MAP beside the baselines' and the champion's
    it replaced, its training time and feature set."""
    champion = state.ranker.champion_info()
    if champion is None:
        raise NotFound(NO_CHAMPION, detail_zh="尚无排序模型：请先运行 huiqi simulate 积累反馈，再运行 huiqi train 训练")
    return champion


@router.get("/models/versions", response_model=list[ModelVersionOut], responses=problems())
def list_versions(principal: Reader, state: StateDep, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """Every registered version of the ranker, newest first, with its metrics and aliases."""
    return state.ranker.versions()[offset : offset + limit]


@router.get("/models/versions/{version}/card", response_model=ModelCardOut, responses=problems(404))
def read_card(version: Version, principal: Reader, state: StateDep) -> dict[str, Any]:
    """The model card kept with a registered version: data window, queries, held-out metrics with their
    bootstrap intervals beside every baseline's, the position propensities, drift at registration, the verdict."""
    try:
        card = state.ranker.card(version)
    except ModelStoreError as exc:
        raise NotFound(str(exc)) from None
    if card is None:
        raise NotFound(f"version {version} has no model card: it was registered before cards were kept; retrain")
    return {"version": version, "card": card, "markdown": card_markdown(card, version)}


@router.get("/models/champion/drift", response_model=DriftOut, responses=problems(404))
def read_drift(principal: Reader, state: StateDep, run_id: RunId = None) -> dict[str, Any]:
    """How far the features of the latest ranked run (or ``run_id``'s) moved from the champion's training data:
    population stability index per feature, largest first, and the features past the warning threshold."""
    drift = state.ranker.drift(run_id)
    if drift is None:
        raise NotFound(NO_CHAMPION, detail_zh="尚无排序模型：请先运行 huiqi simulate 积累反馈，再运行 huiqi train 训练")
    return drift


@router.get("/models/uplift", response_model=UpliftOut, responses=problems())
def read_uplift(principal: Reader, state: StateDep, run_id: RunId = None) -> dict[str, Any]:
    """Take-up of the enterprises a model ordered against the holdout kept on the fallback order, in every run a
    model ordered (or ``run_id``), from the responses actually received, with bootstrap intervals."""
    return state.ranker.uplift(run_id)


def _job(connection, job_id: int) -> dict[str, Any]:
    row = connection.execute(select(training_jobs).where(training_jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"no training job {job_id}")
    return dict(row)


def _busy(job_id: int | None) -> Conflict:
    return Conflict(
        f"training job {job_id} is already queued or running: follow it with GET /training-jobs/{job_id} "
        "and start another once it has finished"
        if job_id
        else "a training job is already queued or running: start another once it has finished"
    )


@router.post("/training-jobs", status_code=202, response_model=TrainingJobOut, responses=problems(409, body=True))
def start_training(
    principal: Analyst,
    state: StateDep,
    body: Annotated[TrainingJobIn | None, Body(description="optional: the defaults of `huiqi train`")] = None,
) -> dict[str, Any]:
    """Train the ranker in the background as `huiqi train` does: on the stored feedback, compared with the
    baselines and the champion, registered in MLflow, promoted only when it beats the champion's held-out
    NDCG@5. One job at a time; follow it with GET /training-jobs/{id}."""
    params = (body or TrainingJobIn()).model_dump()
    try:
        with state.engine.begin() as connection:
            if (active := state.trainer.active(connection)) is not None:
                raise _busy(active)
            job_id = state.trainer.submit(params, principal.actor, connection)
            audit(connection, principal, "training.start", f"training_job:{job_id}", params)
            job = _job(connection, job_id)
    except IntegrityError:  # another request (or instance) queued one between the check and the insert
        raise _busy(None) from None
    state.trainer.start(job_id, params)
    return job


@router.get("/training-jobs", response_model=list[TrainingJobOut], responses=problems())
def list_training_jobs(
    principal: Analyst, state: StateDep, limit: Limit = 100, offset: Offset = 0
) -> list[dict[str, Any]]:
    """Training jobs, newest first."""
    query = select(training_jobs).order_by(training_jobs.c.id.desc()).limit(limit).offset(offset)
    with state.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


@router.get("/training-jobs/{job_id}", response_model=TrainingJobOut, responses=problems(404))
def read_training_job(job_id: JobId, principal: Analyst, state: StateDep) -> dict[str, Any]:
    """A job's status: queued, running, completed (metrics side by side, promoted or not and why) or failed
    (why, e.g. no feedback yet, and what to do)."""
    with state.engine.connect() as connection:
        return _job(connection, job_id)

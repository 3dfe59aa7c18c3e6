"""The analyst's page: the ranker's champion and registered versions side by side, plots of their metrics and
of the champion's feature importance (SVG drawn here: no CDN, no script), and training jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response

from api.service.routes import models as model_routes
from api.web.guard import check_csrf, signed_in
from api.web.plots import bars
from api.web.render import WebRoute, back, page
from matcher.ranking.features import FEATURES

router = APIRouter(prefix="/web/models", route_class=WebRoute, include_in_schema=False)
READERS, TRAINERS = ("officer", "analyst", "admin"), ("analyst", "admin")


def _importance(state) -> list[tuple[str, float]]:
    champion = state.ranker.champion()
    if champion is None:
        return []
    gains = champion.booster.feature_importance(importance_type="gain").tolist()
    total = sum(gains) or 1.0
    return sorted(((name, gain / total) for name, gain in zip(FEATURES, gains, strict=True)), key=lambda p: -p[1])


@router.get("")
def models(request: Request) -> Response:
    principal = signed_in(request, *READERS)
    state = request.app.state.service
    versions = model_routes.list_versions(principal, state, limit=50, offset=0)
    ndcg = [(f"v{v['version']}", v["metrics"].get("ranker", {}).get("ndcg_5")) for v in versions]
    ndcg = [(name, value) for name, value in reversed(ndcg) if value is not None]
    importance = _importance(state)[:12]
    jobs = model_routes.list_training_jobs(principal, state, limit=10, offset=0) if principal.role in TRAINERS else []
    return page(
        request,
        "models.html",
        versions=versions,
        champion=next((v for v in versions if v["champion"]), None),
        ndcg_plot=bars(ndcg, "NDCG@5"),
        importance_plot=bars(importance, "gain share"),
        importance=importance,
        jobs=jobs,
        can_train=principal.role in TRAINERS,
    )


@router.post("/train")
def train(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    principal = signed_in(request, *TRAINERS)
    check_csrf(request, csrf)
    job = model_routes.start_training(principal, request.app.state.service, None)
    return back(request, f"/web/models/jobs/{job['id']}", zh="训练任务已启动", en="Training job started")


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    principal = signed_in(request, *TRAINERS)
    job: dict[str, Any] = model_routes.read_training_job(job_id, principal, request.app.state.service)
    return page(request, "job.html", job=job)

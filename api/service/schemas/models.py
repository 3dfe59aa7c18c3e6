"""What data scientists read and send: the ranker's registered versions, its champion, and training jobs."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant

__all__ = ["Metrics", "ModelVersionOut", "TrainingJobIn", "TrainingJobOut", "TrainingResult"]

_METRICS_EXAMPLE = {
    "ranker": {"ndcg_5": 0.7412, "ndcg_10": 0.7630, "map": 0.6581},
    "amount": {"ndcg_5": 0.6120, "ndcg_10": 0.6455, "map": 0.5392},
    "rule_margin": {"ndcg_5": 0.5874, "ndcg_10": 0.6213, "map": 0.5120},
    "random": {"ndcg_5": 0.5203, "ndcg_10": 0.5690, "map": 0.4577},
    "champion": {"ndcg_5": 0.7388, "ndcg_10": 0.7611, "map": 0.6540},
}
_SCORERS = (
    "held-out metrics by scorer, side by side on the same held-out dates: 'ranker' (this model), the baselines "
    "'amount', 'rule_margin' and 'random', and 'champion' (the champion in service when it was trained, if any)"
)


class Metrics(BaseModel):
    ndcg_5: float = Field(description="NDCG@5, gain 2^grade − 1")
    ndcg_10: float = Field(description="NDCG@10")
    map: float = Field(description="mean average precision (relevant: opened or acted on)")


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "huiqi-ranker",
                    "version": "3",
                    "champion": True,
                    "aliases": ["champion"],
                    "run_id": "5b1f0c3e9a7d4c2f8e6a1b0d9c8e7f6a",
                    "registered_at": "2025-07-01T09:12:00Z",
                    "feature_set": "v1",
                    "metrics": _METRICS_EXAMPLE,
                    "training_seconds": 1.8,
                    "train_pairs": 48210,
                    "holdout_pairs": 15120,
                    "holdout_dates": ["2025-06-30"],
                    "shuffled_labels": False,
                    "promoted": True,
                    "reason": "held-out NDCG@5 0.7412 beats the champion's 0.7388",
                }
            ]
        }
    )

    name: str = Field(description="the registered model's name in MLflow")
    version: str
    champion: bool = Field(description="whether runs use this version now")
    aliases: list[str]
    run_id: str | None = Field(default=None, description="the MLflow run that trained it")
    registered_at: Instant
    feature_set: str | None = Field(default=None, description="version of the feature list it was trained on")
    metrics: dict[str, Metrics] = Field(description=_SCORERS)
    training_seconds: float | None = Field(default=None, description="time to fit the model (null: not recorded)")
    train_pairs: int | None = None
    holdout_pairs: int | None = None
    holdout_dates: list[date] = Field(default=[], description="the as-of dates the metrics were computed on")
    shuffled_labels: bool = Field(description="trained on shuffled labels (`huiqi train --shuffle-labels`)")
    promoted: bool | None = Field(default=None, description="whether training made it champion")
    reason: str | None = Field(default=None, description="why it was promoted or not")


class TrainingJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"holdout_share": 0.2, "seed": 0}]})
    holdout_share: float = Field(
        default=0.2, ge=0.05, le=0.9, description="share of enterprise-date groups held out (the latest as-of dates)"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="training and random-baseline seed")


class TrainingResult(BaseModel):
    version: str = Field(description="the version registered in MLflow")
    run_id: str
    promoted: bool
    reason: str = Field(description="why it was promoted or not")
    champion_before: str | None = Field(default=None, description="the champion it was compared with")
    metrics: dict[str, Metrics] = Field(description=_SCORERS)
    train_dates: list[date]
    holdout_dates: list[date]
    train_pairs: int
    holdout_pairs: int
    holdout_groups: int
    seconds: float


class TrainingJobOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "status": "completed",
                    "params": {"holdout_share": 0.2, "seed": 0},
                    "requested_by": "analyst:wang#3",
                    "requested_at": "2025-07-01T09:10:00Z",
                    "started_at": "2025-07-01T09:10:01Z",
                    "finished_at": "2025-07-01T09:12:00Z",
                    "result": {
                        "version": "3",
                        "run_id": "5b1f0c3e9a7d4c2f8e6a1b0d9c8e7f6a",
                        "promoted": True,
                        "reason": "held-out NDCG@5 0.7412 beats the champion's 0.7388",
                        "champion_before": "huiqi-ranker/2",
                        "metrics": _METRICS_EXAMPLE,
                        "train_dates": ["2024-06-30", "2024-12-31"],
                        "holdout_dates": ["2025-06-30"],
                        "train_pairs": 48210,
                        "holdout_pairs": 15120,
                        "holdout_groups": 5230,
                        "seconds": 9.4,
                    },
                    "error": None,
                },
                {
                    "id": 5,
                    "status": "failed",
                    "params": {"holdout_share": 0.2, "seed": 0},
                    "requested_by": "analyst:wang#3",
                    "requested_at": "2025-07-02T09:10:00Z",
                    "started_at": "2025-07-02T09:10:01Z",
                    "finished_at": "2025-07-02T09:10:01Z",
                    "result": None,
                    "error": "no feedback to train on: no ranked notice has a response yet; run `huiqi simulate` ...",
                },
            ]
        }
    )

    id: int
    status: Literal["queued", "running", "completed", "failed"]
    params: TrainingJobIn
    requested_by: str
    requested_at: Instant
    started_at: Instant | None = None
    finished_at: Instant | None = None
    result: TrainingResult | None = Field(default=None, description="once completed")
    error: str | None = Field(default=None, description="once failed: why, and how to fix it")

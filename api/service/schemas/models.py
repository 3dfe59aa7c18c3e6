"""What data scientists read and send: the ranker's registered versions, its champion, and training jobs."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant
from matcher.ranking.sampling import MAX_QUERIES

__all__ = [
    "DriftOut",
    "Estimate",
    "Metrics",
    "ModelCardOut",
    "ModelVersionOut",
    "TrainingJobIn",
    "TrainingJobOut",
    "TrainingResult",
    "UpliftOut",
]

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


class Estimate(BaseModel):
    value: float | None = Field(description="the figure (null: nothing to measure it on)")
    low: float | None = Field(description="lower end of its bootstrap interval over enterprises")
    high: float | None = Field(description="upper end")


_DECISION = (
    "decision metrics by scorer, on the held-out queries with more candidates than the push cap: "
    "take_up_first_wave (of the notices acted on, the share in the first wave), ndcg_cap, mrr — each with its "
    "bootstrap interval over enterprises"
)


class DecisionMetricsOut(BaseModel):
    cap: int = Field(description="the push cap the first wave is judged by")
    queries: int = Field(description="held-out queries (enterprise × as-of date) with more candidates than the cap")
    enterprises: int
    level: float = Field(description="the intervals' confidence level")
    metrics: dict[str, dict[str, Estimate]] = Field(description=_DECISION)
    differences: dict[str, Estimate] = Field(
        description="take-up captured by the first wave, 'ranker - <scorer>', paired over the same resamples"
    )


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
    decision_metrics: dict[str, dict[str, Estimate]] = Field(default={}, description=_DECISION)
    push_cap: int | None = Field(default=None, description="the push cap its decision metrics judged by")
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
    max_queries: int = Field(
        default=MAX_QUERIES,
        ge=0,
        le=100_000_000,
        description="train on a stratified sample of at most this many queries (an enterprise on an as-of date;"
        " 0: all), as `huiqi ranker train --max-queries`. See docs/ranking.md.",
    )


class TrainingResult(BaseModel):
    version: str = Field(description="the version registered in MLflow")
    run_id: str
    promoted: bool
    reason: str = Field(description="why it was promoted or not")
    champion_before: str | None = Field(default=None, description="the champion it was compared with")
    metrics: dict[str, Metrics] = Field(description=_SCORERS)
    decision_metrics: DecisionMetricsOut | None = Field(default=None, description=_DECISION)
    train_dates: list[date]
    holdout_dates: list[date]
    train_pairs: int
    holdout_pairs: int
    holdout_groups: int
    seconds: float
    sampled: bool = Field(default=False, description="whether training learned from a sample of the queries")
    train_queries: int = Field(default=0, description="the training queries (enterprise, as-of date) learned from")
    train_queries_available: int = Field(default=0, description="the training queries there were")


class TrainingJobOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "status": "completed",
                    "params": {"holdout_share": 0.2, "seed": 0, "max_queries": MAX_QUERIES},
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
                    "params": {"holdout_share": 0.2, "seed": 0, "max_queries": MAX_QUERIES},
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


_ESTIMATE = {"value": 0.812, "low": 0.794, "high": 0.829}


class DriftFeature(BaseModel):
    feature: str
    psi: float | None = Field(description="population stability index against the champion's training pairs")
    drifted: bool | None = Field(description="psi above the threshold")
    missing_then: float | None = Field(default=None, description="share missing in the training pairs")
    missing_now: float | None = Field(default=None, description="share missing in the run's pairs")


class DriftOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "champion": "3",
                    "run_id": "4f0c1e2d3b4a59687766554433221100",
                    "as_of": "2025-06-30",
                    "pairs": 61234,
                    "threshold": 0.25,
                    "features": [
                        {"feature": "past_notices", "psi": 0.41, "drifted": True},
                        {"feature": "log_amount", "psi": 0.03, "drifted": False},
                    ],
                    "drifted": ["past_notices"],
                }
            ]
        }
    )
    champion: str = Field(description="the champion's version")
    run_id: str | None = Field(description="the run compared (null: no run ranked its notices yet)")
    as_of: date | None
    pairs: int
    threshold: float = Field(description="a feature whose PSI is above this has drifted")
    features: list[DriftFeature] = Field(description="largest PSI first; empty when there is nothing to compare")
    drifted: list[str]


class UpliftArm(BaseModel):
    enterprises: int
    notices: int
    answered: int = Field(description="notices with at least one response so far")
    acted: int = Field(description="notices confirmed or answered with data")
    take_up: Estimate = Field(description="share of the arm's notices acted on")
    acted_per_enterprise: Estimate = Field(description="notices acted on per enterprise and run")


class UpliftOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "runs": [
                        {
                            "id": "4f0c1e2d3b4a59687766554433221100",
                            "as_of": "2025-06-30",
                            "model_version": "huiqi-ranker/3",
                        }
                    ],
                    "level": 0.95,
                    "arms": {
                        "ranked": {
                            "enterprises": 17950,
                            "notices": 52110,
                            "answered": 52110,
                            "acted": 11234,
                            "take_up": {"value": 0.2156, "low": 0.2101, "high": 0.2210},
                            "acted_per_enterprise": {"value": 0.626, "low": 0.611, "high": 0.641},
                        },
                        "holdout": {
                            "enterprises": 950,
                            "notices": 2790,
                            "answered": 2790,
                            "acted": 551,
                            "take_up": {"value": 0.1975, "low": 0.1802, "high": 0.2150},
                            "acted_per_enterprise": {"value": 0.580, "low": 0.532, "high": 0.629},
                        },
                    },
                    "uplift": {
                        "take_up": {"value": 0.0181, "low": 0.0002, "high": 0.0360},
                        "acted_per_enterprise": {"value": 0.046, "low": -0.004, "high": 0.096},
                    },
                }
            ]
        }
    )
    runs: list[dict[str, Any]] = Field(
        description="the runs a model ordered that are counted: id, as_of, model_version"
    )
    level: float
    arms: dict[str, UpliftArm] = Field(description="'ranked' and 'holdout' (kept on the fallback order)")
    uplift: dict[str, Estimate] = Field(description="ranked − holdout, per figure, with its interval")


class ModelCardOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "3",
                    "card": {
                        "data_window": {"train_dates": ["2024-09-30", "2024-12-31"], "holdout_dates": ["2025-03-31"]},
                        "queries": {"decision_queries": 6303, "push_cap": 3},
                        "metrics": {"metrics": {"ranker": {"take_up_first_wave": _ESTIMATE}}},
                        "promoted": True,
                    },
                    "markdown": "# huiqi-ranker version 3\n...",
                }
            ]
        }
    )
    version: str
    card: dict[str, Any] = Field(
        description="data window, queries, metrics with intervals, baselines, propensities, drift at registration"
    )
    markdown: str = Field(description="the same, as the registered version's description in MLflow")

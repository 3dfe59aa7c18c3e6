"""The ranker as the settings configure it: the model store, and the push plan every run uses.

One place for `huiqi run`, `huiqi simulate` and runs started over HTTP, so all of them serve the same
champion with the same push cap and waves.
"""

from __future__ import annotations

from api.settings import Settings
from matcher.ranking.registry import ModelStore
from matcher.ranking.serve import PushPlan

__all__ = ["model_store", "push_plan"]


def model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.mlflow_tracking_uri, settings.mlflow_artifacts)


def push_plan(settings: Settings) -> PushPlan:
    """The champion (or the fallback order when none is registered) with the configured push cap."""
    return PushPlan(model_store(settings).champion(), settings.push_cap, settings.push_wave_days)

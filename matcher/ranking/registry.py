"""The MLflow store: tracked training runs, registered model versions and the ``champion`` alias.

By default a local store: ``sqlite:///<data_dir>/mlflow.db`` for runs and the
model registry (the registry needs a database-backed store), artifacts under
``<data_dir>/mlartifacts``. Nothing is downloaded. The serving side asks for
the champion; when the store does not exist yet it answers "none" without
even importing MLflow.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from matcher.ranking.errors import ModelStoreError
from matcher.ranking.features import FEATURE_SET, FEATURES
from matcher.ranking.model import BoosterScorer, matrix

__all__ = ["CARD", "CHAMPION", "EXPERIMENT", "MODEL_NAME", "REFERENCE", "ModelStore"]

MODEL_NAME = "huiqi-ranker"
EXPERIMENT = "huiqi-ranker"
CHAMPION = "champion"
CARD = "model_card.json"  # artifacts of each training run
REFERENCE = "feature_reference.json"


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's informational chatter (database set-up, "registered model ...") off; warnings about the
    model environment (we pin requirements ourselves) off; errors still raise."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic", "huey", "mlflow.store.db.utils")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@dataclass(frozen=True)
class ModelStore:
    tracking_uri: str
    artifact_root: Path
    name: str = MODEL_NAME

    # -- plumbing

    def exists(self) -> bool:
        """False when the default SQLite store was never created (nothing trained yet)."""
        if self.tracking_uri.startswith("sqlite:///"):
            return Path(self.tracking_uri.removeprefix("sqlite:///")).exists()
        return True

    @contextmanager
    def _mlflow(self):
        with _quiet():
            try:
                import mlflow
            except ImportError as exc:  # pragma: no cover - a dependency of the package
                raise ModelStoreError(f"MLflow is not installed ({exc}): run `make setup`") from None
            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            yield mlflow

    def _aliases(self, mlflow) -> dict[str, str]:
        client = mlflow.MlflowClient()
        found = client.search_registered_models(filter_string=f"name = '{self.name}'")
        return dict(found[0].aliases) if found else {}

    def create(self) -> None:
        """Create the store's tables now (they are otherwise made on first use)."""
        with self._mlflow() as mlflow:
            mlflow.MlflowClient().search_experiments()

    # -- reading

    def champion_version(self) -> str | None:
        if not self.exists():
            return None
        with self._mlflow() as mlflow:
            version = self._aliases(mlflow).get(CHAMPION)
        return None if version is None else str(version)

    def load(self, version: str) -> BoosterScorer:
        with self._mlflow() as mlflow:
            import mlflow.lightgbm

            try:
                booster = mlflow.lightgbm.load_model(f"models:/{self.name}/{version}")
            except Exception as exc:  # MLflow raises many kinds: missing version, missing artifact, ...
                raise ModelStoreError(
                    f"model {self.name} version {version} cannot be loaded from {self.tracking_uri}: {exc}"
                ) from None
        if tuple(booster.feature_name()) != FEATURES:
            raise ModelStoreError(
                f"model {self.name} version {version} was trained on other features than this code computes "
                f"(feature set {FEATURE_SET}): retrain with `huiqi train`"
            )
        return BoosterScorer(booster, f"{self.name}/{version}")

    def champion(self) -> BoosterScorer | None:
        """The model serving now, or None (nothing trained or promoted yet)."""
        version = self.champion_version()
        return None if version is None else self.load(version)

    def versions(self) -> list[dict[str, Any]]:
        """Every registered version, oldest first (see ``_describe`` for what a row holds)."""
        if not self.exists():
            return []
        with self._mlflow() as mlflow:
            client = mlflow.MlflowClient()
            aliases = self._aliases(mlflow)
            rows = [_describe(client, mv, aliases) for mv in client.search_model_versions(f"name = '{self.name}'")]
        return sorted(rows, key=lambda r: int(r["version"]))

    def champion_info(self) -> dict[str, Any] | None:
        """The champion's registry row (as ``versions``), without loading the model; None when there is none."""
        if not self.exists():
            return None
        with self._mlflow() as mlflow:
            aliases = self._aliases(mlflow)
            if CHAMPION not in aliases:
                return None
            client = mlflow.MlflowClient()
            return _describe(client, client.get_model_version(self.name, aliases[CHAMPION]), aliases)

    def _artifact(self, version: str, name: str) -> dict[str, Any] | None:
        """A JSON artifact of the run that trained ``version``; None when that run did not log it."""
        with self._mlflow() as mlflow:
            client = mlflow.MlflowClient()
            try:
                run_id = client.get_model_version(self.name, version).run_id
            except Exception:  # MLflow raises its own exception kinds for an unknown version
                raise ModelStoreError(
                    f"no version {version} of model {self.name} in {self.tracking_uri}: expected one of the "
                    "versions `huiqi model show` lists"
                ) from None
            try:
                return mlflow.artifacts.load_dict(f"runs:/{run_id}/{name}")
            except Exception:  # a version trained before model cards existed
                return None

    def card(self, version: str) -> dict[str, Any] | None:
        """The model card of ``version`` (None for a version registered before model cards existed)."""
        return self._artifact(version, CARD)

    def reference(self, version: str) -> dict[str, Any] | None:
        """The feature distribution of the pairs ``version`` was trained on, for drift (None: not kept)."""
        return self._artifact(version, REFERENCE)

    # -- writing

    def log(
        self,
        booster,
        *,
        params: dict[str, Any],
        metrics: dict[str, float],
        sample: pl.DataFrame,
        tags: dict[str, str],
        card: dict[str, Any] | None = None,
        reference: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """Log a training run (parameters, metrics, feature importance plot, the model with its signature, its
        model card, the training pairs' feature distribution) and register the model, the card's Markdown as
        the version's description. Returns (MLflow run id, registered version)."""
        import lightgbm as lgb

        from matcher.ranking.model_card import card_markdown

        with self._mlflow() as mlflow:
            import mlflow.lightgbm
            from mlflow.models import infer_signature

            experiment = mlflow.get_experiment_by_name(self.name)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else mlflow.create_experiment(self.name, artifact_location=self.artifact_root.resolve().as_uri())
            )
            x = pl.DataFrame(matrix(sample), schema=list(FEATURES), orient="row").to_pandas()
            with mlflow.start_run(experiment_id=experiment_id) as run:
                mlflow.log_params({k: str(v) for k, v in params.items()})
                mlflow.log_metrics(metrics)
                mlflow.set_tags(tags)
                importance = dict(
                    zip(FEATURES, booster.feature_importance(importance_type="gain").tolist(), strict=True)
                )
                mlflow.log_dict(importance, "feature_importance.json")
                mlflow.log_figure(_importance_figure(importance), "feature_importance.png")
                if card is not None:
                    mlflow.log_dict(card, CARD)
                    mlflow.log_text(card_markdown(card), "model_card.md")
                if reference is not None:
                    mlflow.log_dict(reference, REFERENCE)
                info = mlflow.lightgbm.log_model(
                    booster,
                    name="model",
                    signature=infer_signature(x, booster.predict(x.to_numpy())),
                    pip_requirements=[f"lightgbm=={lgb.__version__}"],
                )
            # Registered through the client (the fluent `registered_model_name` prints to stderr).
            client = mlflow.MlflowClient()
            if not client.search_registered_models(filter_string=f"name = '{self.name}'"):
                client.create_registered_model(self.name, description="orders each enterprise's notices (LambdaRank)")
            registered = client.create_model_version(
                self.name,
                source=info.model_uri,
                run_id=run.info.run_id,
                tags=tags,
                model_id=info.model_id,
                description=card_markdown(card) if card is not None else None,
            )
            version = str(registered.version)
        return run.info.run_id, version

    def promote(self, version: str) -> None:
        with self._mlflow() as mlflow:
            mlflow.MlflowClient().set_registered_model_alias(self.name, CHAMPION, version)

    def demote(self) -> None:
        """Remove the champion alias: runs fall back to the documented order."""
        with self._mlflow() as mlflow:
            if CHAMPION in self._aliases(mlflow):
                mlflow.MlflowClient().delete_registered_model_alias(self.name, CHAMPION)


def _describe(client, mv, aliases: dict[str, str]) -> dict[str, Any]:
    """A model version as the registry knows it: its training run's metrics (flat, as logged), parameters and
    tags, its aliases, and when it was registered (milliseconds since the epoch, as MLflow keeps it)."""
    run = client.get_run(mv.run_id).data if mv.run_id else None
    metrics = dict(run.metrics) if run else {}
    return {
        "version": str(mv.version),
        "champion": str(aliases.get(CHAMPION)) == str(mv.version),
        "aliases": sorted(a for a, v in aliases.items() if str(v) == str(mv.version)),
        "created": mv.creation_timestamp,
        "run_id": mv.run_id,
        "ndcg_5": metrics.get("ndcg_5"),
        "shuffled_labels": (mv.tags or {}).get("shuffled_labels") == "true",
        "metrics": metrics,
        "params": dict(run.params) if run else {},
        "tags": dict(mv.tags or {}),
    }


def _importance_figure(importance: dict[str, float]):
    # A Figure without pyplot: no global backend switch, so a notebook that trains keeps drawing inline.
    from matplotlib.figure import Figure

    names = sorted(importance, key=importance.get)
    figure = Figure(figsize=(7, 7))
    axes = figure.subplots()
    axes.barh(names, [importance[n] for n in names])
    axes.set_xlabel("total gain")
    axes.set_title("ranker feature importance")
    figure.tight_layout()
    return figure

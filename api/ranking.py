"""The ranker as the settings configure it: the model store, and the push plan every run uses.

One place for `huiqi run`, `huiqi simulate` and runs started over HTTP, so all of them serve the same
champion with the same push cap and waves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:  # the store and the plan load MLflow's client and the ranking features: only when asked for
    from matcher.ranking.registry import ModelStore
    from matcher.ranking.serve import PushPlan

__all__ = ["analysis_engine", "model_store", "push_plan", "repository_root"]


def model_store(settings: Settings) -> ModelStore:
    from matcher.ranking.registry import ModelStore

    return ModelStore(settings.mlflow_tracking_uri, settings.mlflow_artifacts)


def push_plan(settings: Settings) -> PushPlan:
    """The champion (or the fallback order when none is registered) with the configured push cap and holdout."""
    from matcher.ranking.serve import PushPlan

    return PushPlan(
        model_store(settings).champion(), settings.push_cap, settings.push_wave_days, settings.ranking_holdout
    )


def analysis_engine(settings: Settings):
    """The database the CLI would use, for reading (the notebook): refuses to create an empty one.

    A relative ``HUIQI_DATA_DIR`` is relative to the working directory, as for the CLI; a SQLite file that does
    not exist there is an error naming it, not a new empty database left behind.
    """
    from sqlalchemy import make_url

    from matcher.db import open_database
    from matcher.ranking.errors import NoFeedbackError

    url = make_url(settings.database)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        file = Path(url.database)
        if not file.exists():
            raise NoFeedbackError(
                f"no database at {file.resolve()}: expected the one `huiqi demo` or `huiqi simulate` wrote there; run"
                " one of them first (from the repository root), or point HUIQI_DATA_DIR or HUIQI_DATABASE_URL at it"
            )
    return open_database(settings.database)


def repository_root(start: Path | None = None) -> Path:
    """The folder holding pyproject.toml, from ``start`` (default: the working directory) upwards; the notebook
    moves there so that it finds the data where the CLI does, whether it was started from there or notebooks/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "notebooks").is_dir():
            return folder
    raise FileNotFoundError(
        f"no huiqi repository (pyproject.toml beside notebooks/) at or above {here}: start the notebook from the "
        "repository, e.g. `jupyter execute notebooks/ranker.ipynb` from its root"
    )

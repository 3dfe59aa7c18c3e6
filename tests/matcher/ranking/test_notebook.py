"""The data scientist's notebook runs from the repository root with the documented command and from notebooks/,
finds the data where the CLI does, and leaves nothing behind in the tree."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from api.ranking import analysis_engine
from api.settings import Settings
from matcher.ranking.errors import NoFeedbackError

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK = ROOT / "notebooks" / "ranker.ipynb"


def _untracked() -> set[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.splitlines())


@pytest.mark.slow
def test_notebook_when_executed_from_the_root_and_from_notebooks_shows_the_new_metrics(simulated, store, tmp_path):
    env = {
        **os.environ,
        "HUIQI_DATA_DIR": str(tmp_path),
        "HUIQI_DATABASE_URL": simulated.url,
        "HUIQI_MLFLOW_URI": store.tracking_uri,
    }
    before = _untracked()
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run(
        [str(jupyter), "execute", "notebooks/ranker.ipynb"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert store.champion_version() == "1"  # it retrained and the model beat the fallback order

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    old = {k: os.environ.get(k) for k in ("HUIQI_DATA_DIR", "HUIQI_DATABASE_URL", "HUIQI_MLFLOW_URI")}
    os.environ.update({k: env[k] for k in old})
    try:
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
        ).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    assert "answered notices over 3 as-of dates" in text
    assert "take_up_first_wave" in text and "fallback" in text and "propensity" in text
    assert "drifted past the threshold" in text
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # propensities, take-up with intervals, drift
    assert _untracked() == before  # no stray database or output in the tree


def test_notebook_engine_when_the_database_is_missing_names_it_and_creates_nothing(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(NoFeedbackError, match=r"no database at .*huiqi\.db.*huiqi demo"):
        analysis_engine(settings)
    assert not (tmp_path / "data").exists()

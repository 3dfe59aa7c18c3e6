"""The data scientist's notebook runs from top to bottom on the suite's small feedback."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "ranker.ipynb"


def test_notebook_when_executed_inspects_feedback_retrains_and_compares(simulated, store, tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUIQI_DATABASE_URL", simulated.url)
    monkeypatch.setenv("HUIQI_MLFLOW_URI", store.tracking_uri)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = {
        i: "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    }
    text = "\n".join(outputs.values())
    assert "answered notices over 3 as-of dates" in text
    assert "promoted" in text and "ranker" in text and "amount" in text
    assert store.champion_version() == "1"

from pathlib import Path

from features.docs import facts_markdown, registries_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_when_contract_or_catalogue_changes_are_regenerated():
    # Users read docs/; a stale page would describe columns the validator no longer enforces.
    assert (DOCS / "registries.md").read_text(encoding="utf-8") == registries_markdown(), "run `huiqi docs`"
    assert (DOCS / "facts.md").read_text(encoding="utf-8") == facts_markdown(), "run `huiqi docs`"

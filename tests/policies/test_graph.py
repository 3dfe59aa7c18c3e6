"""Relation checks when a catalogue loads: each a clear error naming the policies."""

from pathlib import Path

import pytest

from policies.errors import CatalogueError
from policies.graph import conflict_pairs
from policies.load import load_catalogue
from tests.policies.test_load import GOOD


def policy(tmp_path: Path, pid: str, relations: str = "", version: int = 1, effective: str | None = None) -> None:
    text = GOOD.replace("id: test-policy", f"id: {pid}").replace("version: 1", f"version: {version}")
    text = text.replace("relations:\n  excludes: []\n", f"relations:\n{relations or '  excludes: []'}\n")
    if effective:
        text = text.replace("effective: {from: 2025-01-01, to: 2025-12-31}", f"effective: {effective}")
    (tmp_path / f"{pid}-v{version}.yaml").write_text(text, encoding="utf-8")


def errors(tmp_path: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    return [str(e) for e in info.value.errors]


def test_graph_when_requires_form_a_cycle_names_the_cycle(tmp_path):
    policy(tmp_path, "a", "  requires: [b]")
    policy(tmp_path, "b", "  requires: [c]")
    policy(tmp_path, "c", "  requires: [a]")
    (message,) = errors(tmp_path)
    assert "'requires' forms a cycle" in message and "a → b → c → a" in message


def test_graph_when_requires_form_a_cycle_points_at_the_edge_that_starts_it(tmp_path):
    policy(tmp_path, "a", "  excludes: []\n  requires: [b]")
    policy(tmp_path, "b", "  requires: [a]")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    (err,) = info.value.errors
    lines = (tmp_path / "a-v1.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "requires: [b]" in text)
    assert err.location.file.endswith("a-v1.yaml")
    assert (err.location.line, err.location.column) == (line, lines[line - 1].index("b]") + 1)


def test_graph_when_a_policy_supersedes_itself_says_so(tmp_path):
    policy(tmp_path, "a", "  supersedes: [a]")
    assert any("policy 'a' supersedes itself" in m for m in errors(tmp_path))


def test_graph_when_excludes_is_one_sided_names_both_and_the_fix(tmp_path):
    policy(tmp_path, "a", "  excludes: [b]")
    policy(tmp_path, "b")
    (message,) = errors(tmp_path)
    assert "'a' excludes 'b' but 'b' does not exclude 'a'" in message and "add 'a' to the excludes of 'b'" in message


def test_graph_when_versions_of_one_policy_overlap_names_both_versions(tmp_path):
    policy(tmp_path, "a", version=1, effective="{from: 2024-01-01, to: 2025-06-30}")
    policy(tmp_path, "a", version=2, effective="{from: 2025-01-01}")
    (message,) = errors(tmp_path)
    assert "versions 1 and 2 of 'a' are both in force from 2025-01-01 to 2025-06-30" in message


def test_graph_when_versions_follow_each_other_loads_and_picks_the_one_in_force(tmp_path):
    from datetime import date

    policy(tmp_path, "a", version=1, effective="{from: 2024-01-01, to: 2024-12-31}")
    policy(tmp_path, "a", version=2, effective="{from: 2025-01-01}")
    catalogue = load_catalogue(tmp_path)
    assert [p.version for p in catalogue.in_force(date(2024, 6, 1))] == [1]
    assert [p.version for p in catalogue.in_force(date(2025, 6, 1))] == [2]


def test_graph_when_policies_share_an_exclusive_group_every_pair_conflicts(tmp_path):
    for pid in ("a", "b", "c"):
        policy(tmp_path, pid, "  exclusive_group: awards")
    pairs = conflict_pairs(load_catalogue(tmp_path).policies)
    assert pairs == {(x, y) for x in "abc" for y in "abc" if x != y}

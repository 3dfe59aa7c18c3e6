"""Catalogue examples: several policies resolved together, as the officer who writes them expects."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from policies.examples import run_catalogue_examples
from policies.load import CATALOGUE_DIR, load_catalogue

CATALOGUE = load_catalogue()
RESULTS = run_catalogue_examples(CATALOGUE, [CATALOGUE_DIR])


@pytest.mark.parametrize("result", RESULTS, ids=[r.example for r in RESULTS])
def test_catalogue_relation_example_when_run_gives_the_expected_outcome(result):
    assert result.ok, "; ".join(result.problems)


def test_catalogue_relation_examples_when_shipped_cover_every_new_relation():
    assert len(RESULTS) >= 10
    text = (CATALOGUE_DIR / "examples" / "relations.yaml").read_text(encoding="utf-8")
    for relation in ("supersedes", "top-ups", "region exclude", "delivery by condition", "once per certificate"):
        assert relation in text, relation


def copy_catalogue(tmp_path: Path, examples: str) -> Path:
    for f in CATALOGUE_DIR.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "mine.yaml").write_text(examples, encoding="utf-8")
    return tmp_path


def test_catalogue_relation_example_when_the_outcome_differs_says_which_policy_and_what_it_got(tmp_path):
    folder = copy_catalogue(
        tmp_path,
        """examples:
  - name: an officer who forgot the top-up
    facts: {division_code: '410102', little_giant: true, specialised_innovative: true, status: operating,
            serious_dishonesty: false, abnormal_operation: false}
    granted: [{policy: zhengzhou-specialised-innovative-award, amount: 500000}]
    expect:
      zhengzhou-little-giant-award: none
""",
    )
    (result,) = run_catalogue_examples(load_catalogue(folder), [folder])
    assert not result.ok
    assert result.problems == ("'zhengzhou-little-giant-award': expected none, got granted",)


def test_catalogue_relation_example_when_a_policy_is_unknown_or_a_field_misspelt_is_reported_where(tmp_path):
    folder = copy_catalogue(
        tmp_path,
        """examples:
  - name: unknown policy
    expect: {no-such-policy: none}
  - name: misspelt
    fatcs: {}
    expect: {}
""",
    )
    (result,) = run_catalogue_examples(load_catalogue(folder), [folder])
    assert not result.ok and "mine.yaml:5:" in result.problems[0] and "fatcs" in result.problems[0]


def test_policies_check_when_a_catalogue_example_fails_exits_non_zero_and_names_it(tmp_path):
    folder = copy_catalogue(
        tmp_path,
        """examples:
  - name: the national refund is wrongly expected in Guangdong
    policies: [job-retention-refund, job-retention-refund-guangdong]
    facts: {division_code: '440305'}
    expect: {job-retention-refund: needs_data}
""",
    )
    result = CliRunner().invoke(app, ["policies", "check", str(folder)])
    assert result.exit_code == 1
    assert "1 of" in result.output and "examples failed" in result.output  # the table names it (rich may wrap)

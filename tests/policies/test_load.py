"""Every kind of bad policy file gives a clear error at its location, and loads nothing."""

from pathlib import Path

import pytest

from policies.errors import CatalogueError, PolicyFileError, TypeMismatchError, UnknownFactError
from policies.examples import run_examples
from policies.load import CATALOGUE_DIR, load_catalogue

GOOD = """\
id: test-policy
version: 1
title: {zh: 测试政策, en: Test policy}
authority: {zh: 测试局, en: Test bureau, level: district}
basis: 测〔2025〕1号
effective: {from: 2025-01-01, to: 2025-12-31}
delivery: automatic
category: employment
benefit:
  form: cash
  amount: "1000"
  period: once
eligibility:
  all:
    - "ui_paid_months >= 12"
    - "not serious_dishonesty"
relations:
  excludes: []
examples:
  - name: eligible
    facts: {ui_paid_months: 12, serious_dishonesty: false}
    expect: {eligible: true, amount: 1000}
  - name: too few months paid
    facts: {ui_paid_months: 11, serious_dishonesty: false}
    expect: {eligible: false}
  - name: seriously dishonest
    facts: {ui_paid_months: 24, serious_dishonesty: true}
    expect: {eligible: false}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str):
    write(tmp_path, "policy.yaml", text)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    assert len(info.value.errors) == 1
    return info.value.errors[0]


def test_load_when_file_is_good_compiles_it(tmp_path):
    write(tmp_path, "policy.yaml", GOOD)
    catalogue = load_catalogue(tmp_path)
    assert catalogue.ids == ["test-policy"]


def test_load_when_file_is_good_its_three_examples_decide_as_stated(tmp_path):
    # GOOD is the base of every hand-made policy in the tests: it must satisfy the examples rule itself.
    write(tmp_path, "policy.yaml", GOOD)
    results = run_examples(list(load_catalogue(tmp_path).policies))
    assert len(results) == 3 and all(r.ok for r in results), results


def test_load_when_yaml_syntax_is_broken_points_at_the_line(tmp_path):
    err = load_error(tmp_path, GOOD.replace("delivery: automatic", "delivery: [automatic"))
    assert isinstance(err, PolicyFileError)
    assert "YAML syntax error" in err.message
    assert err.location.file.endswith("policy.yaml") and err.location.line is not None


def test_load_when_a_control_character_hides_in_the_text_points_at_it(tmp_path):
    err = load_error(tmp_path, GOOD.replace("delivery: automatic", "delivery: auto\x07matic"))
    assert isinstance(err, PolicyFileError) and "not allowed" in err.message
    line = GOOD.splitlines().index("delivery: automatic") + 1
    assert (err.location.line, err.location.column) == (line, len("delivery: auto") + 1)


def test_load_when_a_fact_is_misspelt_names_the_nearest_facts_at_line_and_column(tmp_path):
    err = load_error(tmp_path, GOOD.replace('"ui_paid_months >= 12"', '"ui_paid_month >= 12"'))
    assert isinstance(err, UnknownFactError)
    assert "unknown fact 'ui_paid_month'" in err.message and "'ui_paid_months'" in err.hint
    assert (err.location.line, err.location.column) == (15, 8)  # inside the quotes on line 15


def test_load_when_types_mismatch_names_both_types(tmp_path):
    err = load_error(tmp_path, GOOD.replace('"ui_paid_months >= 12"', '"size_class >= 12"'))
    assert isinstance(err, TypeMismatchError)
    assert "str" in err.message and "int" in err.message
    assert err.location.line == 15


def test_load_when_operator_is_unknown_suggests_the_right_one(tmp_path):
    err = load_error(tmp_path, GOOD.replace('"ui_paid_months >= 12"', '"ui_paid_months => 12"'))
    assert "unknown operator '=>'" in err.message and "'>='" in err.hint
    assert (err.location.line, err.location.column) == (15, 23)


def test_load_when_a_date_is_bad_names_the_field(tmp_path):
    err = load_error(tmp_path, GOOD.replace("from: 2025-01-01", "from: 2025-13-01"))
    assert "effective.from" in err.message and "2025-13-01" in err.message
    assert err.location.line == 6


def test_load_when_a_date_inside_an_expression_is_bad_points_at_it(tmp_path):
    err = load_error(tmp_path, GOOD.replace('"not serious_dishonesty"', "\"established_on < date('2024-02-30')\""))
    assert "'2024-02-30' is not a date" in err.message
    assert err.location.line == 16


def test_load_when_two_files_share_id_and_version_names_both(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    (err,) = info.value.errors
    assert "duplicate policy id 'test-policy' version 1" in err.message and "a.yaml" in err.message
    assert err.location.file.endswith("b.yaml")


def test_load_when_a_relation_names_an_unknown_policy_suggests_the_nearest(tmp_path):
    write(tmp_path, "other.yaml", GOOD.replace("id: test-policy", "id: other-policy"))
    err_text = GOOD.replace("excludes: []", "excludes: [other-polcy]")
    write(tmp_path, "policy.yaml", err_text)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    (err,) = info.value.errors
    assert "unknown policy 'other-polcy'" in err.message and "'other-policy'" in err.hint
    assert err.location.line == 18


def test_load_when_a_field_is_unknown_suggests_the_nearest_field(tmp_path):
    err = load_error(tmp_path, GOOD.replace("delivery: automatic", "delivery: automatic\nbudjet: 100"))
    assert "unknown field 'budjet'" in err.message and "'budget'" in err.hint


def test_load_when_a_key_is_duplicated_reports_both_lines(tmp_path):
    err = load_error(tmp_path, GOOD.replace("version: 1\n", "version: 1\nversion: 2\n"))
    assert "duplicate key 'version' (first at line 2)" in err.message
    assert err.location.line == 3


def test_load_when_a_vocabulary_value_is_misspelt_suggests_the_value(tmp_path):
    err = load_error(tmp_path, GOOD.replace('"not serious_dishonesty"', "\"size_class in ['smal', 'micro']\""))
    assert "'smal'" in err.message and "'small'" in err.hint


def test_load_when_one_file_of_many_is_bad_loads_nothing_and_reports_every_error(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "bad1.yaml", GOOD.replace("test-policy", "bad-one").replace(">= 12", ">= 'x'"))
    write(tmp_path, "bad2.yaml", GOOD.replace("test-policy", "bad-two").replace("not serious", "not serius"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    assert len(info.value.errors) == 2
    assert "nothing was loaded" in str(info.value)


def test_load_when_shipped_catalogue_loads_without_error():
    catalogue = load_catalogue(CATALOGUE_DIR)
    assert "job-retention-refund" in catalogue.ids

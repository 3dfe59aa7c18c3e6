"""Each check catches a policy built to trip it; every witness is run through the tracer, never trusted."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from features.profiles import FACTS
from policies.analysis import analyse
from policies.analysis.findings import Finding
from policies.errors import CatalogueError
from policies.evaluate import evaluate_policies
from policies.load import load_catalogue
from policies.trace import trace
from tests.policies.analysis.helpers import compile_text, policy_text, write_catalogue

ALL_KNOWN = {"serious_dishonesty": False}


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def only(findings: list[Finding], code: str) -> Finding:
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message_en) for f in findings]
    return found[0]


def traced(policy, witness):
    facts = {k: v for k, v in witness.items() if k != "as_of"}
    return trace(policy, facts, witness["as_of"])


def test_never_eligible_is_an_error_at_the_eligibility_and_no_profile_is_eligible():
    p = compile_text(policy_text('  all:\n    - "insured_headcount >= 10"\n    - "insured_headcount < 5"'))
    found = analyse([p])
    f = only(found, "never-eligible")
    assert f.severity == "error" and (f.line, f.column) == (15, 3) and f.witness is None
    # The proof holds on data: no profile among many is eligible.
    rows = [{"uscc": str(i), "insured_headcount": i % 40} for i in range(200)]
    frame = pl.DataFrame(rows, schema={"uscc": pl.String, **{f.name: f.dtype for f in FACTS}}, strict=False)
    wide = evaluate_policies(frame, [p], date(2025, 6, 30)).collect()
    assert wide["test-policy:eligible"].to_list().count(True) == 0


def test_a_satisfiable_policy_is_not_called_never_eligible():
    p = compile_text(policy_text('  all:\n    - "insured_headcount >= 10"\n    - "insured_headcount < 11"'))
    assert "never-eligible" not in codes(analyse([p]))


def test_always_eligible_when_the_condition_holds_for_every_known_value():
    p = compile_text(policy_text('  all:\n    - "insured_headcount >= 0"\n    - "hires_12m >= 0"'), "a.yaml")
    found = analyse([p])
    assert "always-eligible" in codes(found)
    assert codes(found).count("condition-always-true") == 2


def test_redundant_condition_is_named_at_its_line():
    p = compile_text(policy_text('  all:\n    - "insured_headcount >= 10"\n    - "insured_headcount >= 5"'))
    f = only(analyse([p]), "condition-redundant")
    assert (f.line, f.column) == (17, 7) and "insured_headcount >= 5" in f.message_en


def test_redundant_branch_of_any_is_named():
    p = compile_text(policy_text('  any:\n    - "insured_headcount >= 10"\n    - "insured_headcount >= 50"'))
    f = only(analyse([p]), "condition-redundant")
    assert f.line == 17 and "insured_headcount >= 50" in f.message_en


def test_contradicting_condition_inside_a_branch_is_caught_and_the_branch_never_holds():
    text = policy_text(
        '  any:\n    - all:\n        - "insured_headcount >= 10"\n        - "insured_headcount < 5"\n'
        "    - \"status == 'operating'\""
    )
    found = analyse([compile_text(text)])
    assert "never-eligible" not in codes(found)
    assert "condition-contradicts" in codes(found)
    assert only(found, "condition-never-true").line == 16


def test_negative_amount_has_a_witness_the_tracer_confirms():
    p = compile_text(policy_text('  all:\n    - "ui_paid_months >= 12"', amount="ui_paid_last_year - 1000"))
    f = only(analyse([p]), "amount-negative")
    assert f.severity == "warning" and (f.line, f.column) == (12, 11)
    result = traced(p, f.witness)
    assert result.eligible is True and result.amount < 0
    assert "上年失业保险实缴" in f.witness_zh and "unemployment insurance paid last year" in f.witness_en


def test_zero_amount_has_a_witness_the_tracer_confirms():
    p = compile_text(policy_text('  all:\n    - "ui_paid_months >= 12"', amount="max(ui_paid_last_year - 1000, 0)"))
    f = only(analyse([p]), "amount-zero")
    result = traced(p, f.witness)
    assert result.eligible is True and result.amount == 0
    assert "amount-negative" not in codes(analyse([p]))


def test_division_by_zero_for_an_eligible_enterprise_is_an_error_with_a_witness():
    p = compile_text(
        policy_text('  all:\n    - "ui_paid_months >= 12"', amount="ui_paid_last_year / insured_headcount")
    )
    f = only(analyse([p]), "amount-undefined")
    assert f.severity == "error"
    result = traced(p, f.witness)
    assert result.eligible is True and result.amount is None
    assert f.witness["insured_headcount"] == 0 and f.witness["ui_paid_last_year"] is not None


def test_division_guarded_by_the_eligibility_is_not_an_error():
    p = compile_text(
        policy_text(
            '  all:\n    - "insured_headcount >= 1"\n    - "ui_paid_last_year >= 0"',
            amount="ui_paid_last_year / insured_headcount",
        )
    )
    found = codes(analyse([p]))
    assert "amount-undefined" not in found and "amount-unknown" not in found


def test_amount_reading_a_fact_the_conditions_do_not_is_unknown_for_some_eligible_enterprise():
    p = compile_text(policy_text('  all:\n    - "ui_paid_months >= 12"', amount="ui_paid_last_year * 60%"))
    f = only(analyse([p]), "amount-unknown")
    result = traced(p, f.witness)
    assert result.eligible is True and result.amount is None


def test_an_amount_per_person_counts_the_persons():
    p = compile_text(policy_text('  all:\n    - "youth_hires_12m >= 0"', amount="1500", count="youth_hires_12m"))
    f = only(analyse([p]), "amount-zero")
    assert f.witness["youth_hires_12m"] == 0 and traced(p, f.witness).amount == 0


def test_a_region_counts_in_eligibility_and_the_witness_is_in_it():
    p = compile_text(
        policy_text('  all:\n    - "ui_paid_months >= 12"', amount="ui_paid_last_year - 1", region="['4403']")
    )
    f = only(analyse([p]), "amount-negative")
    assert str(f.witness["division_code"]).startswith("4403") and traced(p, f.witness).eligible is True


def test_group_members_in_disjoint_regions_never_both_apply(tmp_path):
    group = "{exclusive_group: g}"
    policies = write_catalogue(
        tmp_path,
        a=policy_text('  all:\n    - "high_tech"', policy_id="a", region="['44']", relations=group),
        b=policy_text('  all:\n    - "high_tech"', policy_id="b", region="['11']", relations=group),
    )
    f = only(analyse(policies), "group-disjoint")
    assert f.other_policy in ("a", "b") and f.line is not None


def test_group_member_implied_by_another_is_reported_with_a_witness_eligible_for_both(tmp_path):
    group = "{exclusive_group: g}"
    policies = write_catalogue(
        tmp_path,
        a=policy_text('  all:\n    - "high_tech"\n    - "little_giant"', policy_id="a", relations=group),
        b=policy_text('  all:\n    - "high_tech"', policy_id="b", relations=group),
    )
    f = only(analyse(policies), "group-subsumed")
    assert "'a' is also eligible for 'b'" in f.message_en
    by_id = {p.id: p for p in policies}
    assert traced(by_id["a"], f.witness).eligible is True and traced(by_id["b"], f.witness).eligible is True


def test_excludes_between_policies_that_never_overlap_is_dead_weight(tmp_path):
    policies = write_catalogue(
        tmp_path,
        a=policy_text('  all:\n    - "insured_headcount > 100"', policy_id="a", relations="{excludes: [b]}"),
        b=policy_text('  all:\n    - "insured_headcount <= 100"', policy_id="b", relations="{excludes: [a]}"),
    )
    assert codes(analyse(policies)).count("excludes-disjoint") == 1


def test_requires_a_policy_that_never_holds_with_it(tmp_path):
    policies = write_catalogue(
        tmp_path,
        a=policy_text('  all:\n    - "insured_headcount > 100"', policy_id="a", relations="{requires: [b]}"),
        b=policy_text('  all:\n    - "insured_headcount <= 100"', policy_id="b"),
    )
    f = only(analyse(policies), "requires-never")
    assert f.policy_id == "a" and f.other_policy == "b"


def test_overlapping_related_policies_raise_nothing(tmp_path):
    policies = write_catalogue(
        tmp_path,
        a=policy_text('  all:\n    - "high_tech"', policy_id="a", relations="{requires: [b]}"),
        b=policy_text('  all:\n    - "insured_headcount <= 100"', policy_id="b"),
    )
    assert not [f for f in analyse(policies) if f.other_policy]


def test_acknowledged_warning_carries_its_reason_and_errors_cannot_be_acknowledged():
    ack = "analysis:\n  acknowledge:\n    - {check: amount-zero, reason: zero on purpose}\n"
    p = compile_text(policy_text('  all:\n    - "ui_paid_months >= 12"', amount="0", analysis=ack))
    f = only(analyse([p]), "amount-zero")
    assert f.acknowledged == "zero on purpose"
    assert only(analyse([p], acknowledged=False), "amount-zero").acknowledged is None


def test_acknowledging_an_unknown_or_error_check_is_refused_at_its_line(tmp_path):
    ack = "analysis:\n  acknowledge:\n    - {check: never-eligible, reason: because}\n"
    (tmp_path / "p.yaml").write_text(policy_text('  all:\n    - "high_tech"', analysis=ack), encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    err = info.value.errors[0]
    assert "analysis.acknowledge.0.check" in err.message and (err.location.line, err.location.column) == (20, 15)
    assert "errors cannot be acknowledged" in err.hint


def test_a_function_the_solver_does_not_translate_is_not_analysed_never_proved():
    p = compile_text(policy_text('  all:\n    - "years_between(established_on, as_of) >= 100"'))
    found = analyse([p])
    assert codes(found) == ["not-analysed"]


def test_shipped_catalogue_has_no_error_and_every_warning_acknowledged():
    found = analyse(list(load_catalogue().policies))
    assert not [f for f in found if f.severity == "error"]
    assert [f.where() for f in found if f.acknowledged is None] == []
    assert found, "the shipped catalogue acknowledges warnings; none found means the checks did not run"

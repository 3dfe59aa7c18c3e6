"""`huiqi policies check` runs the analysis (errors stop it, at file:line:column); `huiqi policies diff`."""

from __future__ import annotations

from tests.api.test_cli import ROOT, huiqi
from tests.policies.analysis.helpers import policy_text

WIDE = {"COLUMNS": "400"}


def test_check_when_a_policy_can_never_be_eligible_exits_non_zero_at_its_line(tmp_path):
    path = tmp_path / "never.yaml"
    path.write_text(policy_text('  all:\n    - "insured_headcount >= 10"\n    - "insured_headcount < 5"'), "utf-8")
    done = huiqi("policies", "check", str(tmp_path), env=WIDE)
    assert done.returncode == 1
    assert f"{path}:15:3: error never-eligible" in done.stderr
    assert "analysis: 1 errors" in done.stderr


def test_check_when_a_warning_is_acknowledged_hides_it_and_passes(tmp_path):
    ack = "analysis:\n  acknowledge:\n    - {check: amount-zero, reason: zero on purpose}\n"
    (tmp_path / "zero.yaml").write_text(
        policy_text('  all:\n    - "ui_paid_months >= 12"', amount="0", analysis=ack), "utf-8"
    )
    done = huiqi("policies", "check", str(tmp_path), env=WIDE)
    assert "amount-zero" not in done.stderr and "analysis: 0 errors, 0 warnings, 1 acknowledged" in done.stderr
    shown = huiqi("policies", "check", str(tmp_path), "--acknowledged", env=WIDE)
    assert "amount-zero" in shown.stderr and "acknowledged: zero on purpose" in shown.stderr


def test_check_when_a_warning_is_not_acknowledged_prints_its_witness(tmp_path):
    (tmp_path / "neg.yaml").write_text(
        policy_text('  all:\n    - "ui_paid_months >= 12"', amount="ui_paid_last_year - 1000"), "utf-8"
    )
    done = huiqi("policies", "check", str(tmp_path), env=WIDE)
    assert "warning amount-negative" in done.stderr and "e.g. an enterprise with" in done.stderr
    assert "例如一家企业" in done.stderr


def test_diff_of_the_layoff_rate_names_the_refused_band(tmp_path):
    old = ROOT / "policies/catalogue/p01-job-retention-refund.yaml"
    new = tmp_path / "p01-v2.yaml"
    new.write_text(
        old.read_text("utf-8").replace("layoff_rate_last_year <= 5.5%", "layoff_rate_last_year <= 2%"), "utf-8"
    )
    done = huiqi("policies", "diff", str(old), str(new), env=WIDE)
    assert done.returncode == 0, done.stderr
    assert "newly admitted 新增符合: 0 regions" in done.stderr
    assert "newly refused 不再符合: 1 region" in done.stderr
    assert "layoff_rate_last_year > 2%" in done.stderr


def test_diff_when_a_file_is_bad_says_where(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_text('  all:\n    - "insured_headcout >= 10"'), "utf-8")
    done = huiqi("policies", "diff", str(bad), str(bad), env=WIDE)
    assert done.returncode == 1 and f"{bad}:16:" in done.stderr and "insured_headcount" in done.stderr

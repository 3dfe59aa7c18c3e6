"""The semantic diff names the regions a new version admits and refuses, and they match the impact on data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from features.profiles import build_profiles
from features.registries.validate import check_registry
from features.synthetic import generate
from policies.analysis import diff_versions
from policies.evaluate import evaluate_policies
from policies.load import CATALOGUE_DIR, load_policy_text
from policies.trace import trace

AS_OF = date(2025, 6, 30)
P01 = (CATALOGUE_DIR / "p01-job-retention-refund.yaml").read_text(encoding="utf-8")


def _version(text: str, file: str):
    return load_policy_text(text, file)[0]


def _traced(policy, witness):
    return trace(policy, {k: v for k, v in witness.items() if k != "as_of"}, witness["as_of"]).eligible


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("diff") / "registry"
    generate(out, enterprises=1500, seed=7)
    checked = check_registry(out)
    built = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
    # As if the departments' lists of zombie firms and bankruptcies were imported, naming nobody: P1 reads them.
    return built.with_columns(zombie_firm=pl.lit(False), in_bankruptcy=pl.lit(False))


@pytest.fixture(scope="module")
def layoff_change():
    old = _version(P01, "p01.yaml")
    new = _version(
        P01.replace("layoff_rate_last_year <= 5.5%", "layoff_rate_last_year <= 2%").replace("version: 1", "version: 2"),
        "p01-v2.yaml",
    )
    return old, new


def test_layoff_rate_from_5_5_to_2_percent_refuses_the_band_between_for_firms_over_30_staff(layoff_change):
    old, new = layoff_change
    d = diff_versions(old, new)
    assert d.admitted == [] and d.complete
    assert len(d.refused) == 1
    region = d.refused[0]
    assert region.condition_en.startswith("layoff_rate_last_year <= 5.5% and layoff_rate_last_year > 2% and not (")
    # The small-firm branch fails or is unknown (staff unknown): either way the new version refuses.
    assert "not (insured_headcount_avg_last_year <= 30 and layoff_rate_last_year <= 20%) (false or unknown)" in (
        region.condition_en
    )
    assert "上年裁员率不高于5.5%" in region.condition_zh
    w = region.witness
    staff = w["insured_headcount_avg_last_year"]
    assert 0.02 < w["layoff_rate_last_year"] <= 0.055 and (staff is None or staff > 30)
    assert _traced(old, w) is True and _traced(new, w) is not True
    assert d.amount_change_en is None  # the amount is written the same


def test_layoff_diff_counts_match_the_bulk_evaluation_and_the_impact(layoff_change, profiles):
    old, new = layoff_change
    d = diff_versions(old, new, profiles.with_columns(as_of=pl.lit(AS_OF)))
    refused = sum(r.profiles or 0 for r in d.refused)
    wide = evaluate_policies(profiles, [old], AS_OF).collect()
    before, amount = wide["job-retention-refund:eligible"], wide["job-retention-refund:amount"]
    after = evaluate_policies(profiles, [new], AS_OF).collect()["job-retention-refund:eligible"]
    dropped = (before == True) & (after != True).fill_null(True)  # noqa: E712
    assert refused == int(dropped.sum()) > 0
    from api.service.impact import impact  # the matcher's own decisions, old version against new

    effect = impact(profiles, [old], new, AS_OF)
    # The matcher counts as eligible only those whose amount it can compute (the others need data: P1's
    # acknowledged amount-unknown warning), so the impact is the region less those.
    amount_unknown = int((dropped & amount.is_null()).sum())
    assert effect["no_longer_eligible"]["count"] == refused - amount_unknown
    assert effect["newly_eligible"]["count"] == sum(r.profiles or 0 for r in d.admitted) == 0


def test_a_relaxed_threshold_admits_a_region_and_the_amount_change_gives_an_example():
    old = _version(P01, "p01.yaml")
    text = P01.replace("ui_paid_months >= 12", "ui_paid_months >= 6").replace("60%), 2)", "50%), 2)")
    new = _version(text, "p01-v2.yaml")
    d = diff_versions(old, new)
    assert d.refused == [] and d.admitted
    for region in d.admitted:
        assert "ui_paid_months < 12" in region.condition_en and "ui_paid_months >= 6" in region.condition_en
        assert _traced(new, region.witness) is True and _traced(old, region.witness) is not True
    assert "50%" in d.amount_change_en and "e.g." in d.amount_change_en and d.amount_witness is not None


def test_an_unchanged_version_has_no_region():
    old = _version(P01, "p01.yaml")
    d = diff_versions(old, _version(P01.replace("version: 1", "version: 2"), "p01-v2.yaml"))
    assert d.admitted == [] and d.refused == [] and d.complete and d.amount_change_en is None


def test_a_new_region_prefix_is_named(tmp_path: Path):
    p12 = (CATALOGUE_DIR / "p12-job-retention-refund-guangdong.yaml").read_text(encoding="utf-8")
    old = _version(p12, "p12.yaml")
    new = _version(p12.replace("region: ['44']", "region: ['4403']"), "p12-v2.yaml")
    d = diff_versions(old, new)
    assert d.admitted == [] and len(d.refused) == 1
    assert "4403" in d.refused[0].condition_en and _traced(old, d.refused[0].witness) is True

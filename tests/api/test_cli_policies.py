"""`huiqi policies run | explain --policies DIR` and `huiqi supplied-facts` as an officer runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.api.test_cli import ROOT, huiqi

DECLARED_P1 = ROOT / "tests/policies/declared/p01-job-retention-refund.yaml"  # P1 with its declared exclusions
WITHOUT_EXCLUSIONS = ROOT / "tests/policies/declared/p01-without-exclusions.yaml"  # P1 as before the lists


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli-policies")
    assert huiqi("generate", "--enterprises", "400", "--seed", "5", "--out", str(tmp / "registry")).returncode == 0
    out = tmp / "profiles.parquet"
    built = huiqi("profiles", "--registry", str(tmp / "registry"), "--as-of", "2025-06-30", "--out", str(out))
    assert built.returncode == 0, built.stderr
    return out


def _row(output: str, policy: str) -> list[str]:
    line = next(line for line in output.splitlines() if f" {policy} " in line)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_policies_run_when_a_folder_is_tried_decides_with_it_over_the_published_catalogue(profiles, tmp_path):
    env = {"HUIQI_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"}
    shipped = huiqi("policies", "run", "--profiles", str(profiles), env=env)
    assert shipped.returncode == 0, shipped.stderr
    _, version, eligible, _, unknown, *_ = _row(shipped.stderr, "job-retention-refund")
    # The shipped P1 excludes zombie firms and firms in bankruptcy; no department's list was imported here, so
    # the enterprises are asked for the unattested facts instead of being paid.
    assert (version, eligible) == ("1", "0") and int(unknown.replace(",", "")) > 0

    # An officer tries P1 without the exclusions: the folder's text replaces the published one, and it pays.
    folder = tmp_path / "try"
    folder.mkdir()
    shutil.copy(WITHOUT_EXCLUSIONS, folder / "p01.yaml")
    tried = huiqi("policies", "run", "--profiles", str(profiles), "--policies", str(folder), env=env)
    assert tried.returncode == 0, tried.stderr
    _, version, eligible, _, _, _, amount = _row(tried.stderr, "job-retention-refund")
    assert version == "1" and int(eligible.replace(",", "")) > 0 and float(amount.replace(",", "")) > 0

    text = DECLARED_P1.read_text(encoding="utf-8")
    broken = folder / "p99.yaml"
    broken.write_text(text.replace("id: job-retention-refund", "id: other").replace("version: 1", "versoin: 1"))
    refused = huiqi("policies", "run", "--profiles", str(profiles), "--policies", str(folder), env=env)
    assert refused.returncode == 1 and "p99.yaml" in refused.stderr and "did you mean 'version'" in refused.stderr


def test_policies_explain_when_an_exclusion_is_unattested_names_what_to_supply_without_internal_names(
    profiles, tmp_path
):
    import polars as pl

    from policies.evaluate import evaluate_policies
    from policies.load import load_policy_text

    policy, _ = load_policy_text(DECLARED_P1.read_text(encoding="utf-8"), str(DECLARED_P1))
    wide = evaluate_policies(pl.read_parquet(profiles), [policy], policy.policy.effective.start.replace(year=2025))
    uscc = wide.collect().filter(pl.col("job-retention-refund:eligible").is_null())["uscc"][0]
    folder = tmp_path / "try"
    folder.mkdir()
    shutil.copy(DECLARED_P1, folder / "p01.yaml")
    done = huiqi(
        "policies", "explain", "--uscc", uscc, "--policy", "job-retention-refund", "--profiles", str(profiles),
        "--policies", str(folder),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "需要补充的信息: 僵尸企业、进入破产程序" in done.stderr
    assert "来源：无共享数据，须由企业或有关部门提供" in done.stderr
    assert "limited_company" not in done.stderr and "operating" not in done.stderr


def test_supplied_facts_when_an_officer_attests_and_lists_shows_it_accepted_with_its_evidence(tmp_path):
    env = {"HUIQI_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"}
    uscc = "91440300MA5G00000X"
    common = ("--uscc", uscc, "--fact", "zombie_firm", "--by", "李科长")
    wrong = huiqi("supplied-facts", "attest", *common, "--value", "maybe", "--evidence", "名单", env=env)
    assert wrong.returncode == 2 and "expected true or false" in wrong.stderr
    done = huiqi("supplied-facts", "attest", *common, "--value", "否", "--source", "department",
                 "--evidence", "发改〔2025〕3号", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = huiqi("supplied-facts", "list", "--status", "accepted", env=env)
    assert "发改〔2025〕3号" in listed.stderr and "已采纳" in listed.stderr and "cli:李科长" in listed.stderr
    again = huiqi("supplied-facts", "review", "1", "--by", "王科员", "--reject", "--reason", "重复", env=env)
    assert again.returncode == 1 and "not open" in again.stderr

"""Application link, office and payout channel in the notice an enterprise reads."""

from datetime import date

import polars as pl

from matcher.notices import notice_texts
from policies.load import load_catalogue

CATALOGUE = load_catalogue()


def texts(policy_id: str, kind: str, amount_fen: int | None = 720_000) -> dict:
    p = CATALOGUE.get(policy_id)
    rows = pl.DataFrame(
        {
            "policy_id": [p.id],
            "policy_version": [p.version],
            "kind": [kind],
            "amount_fen": [amount_fen],
            "respond_by": [date(2025, 7, 15)],
            "unknown_facts": ["zombie_firm" if kind == "needs_data" else None],
            "failing": [None],
            "failing_zh": [None],
        }
    )
    return notice_texts(rows, list(CATALOGUE.policies)).row(0, named=True)


def test_notice_when_the_enterprise_must_apply_gives_the_link_and_office_in_both_languages():
    told = texts("job-retention-refund-guangdong", "recommended")
    assert told["body_zh"].endswith("申请入口：https://hrss.gd.gov.cn/（参保地社会保险经办机构）。")
    assert told["body_en"].endswith(
        "Apply at https://hrss.gd.gov.cn/ (the social-insurance agency where the enterprise is insured)."
    )
    asked = texts("job-retention-refund-guangdong", "needs_data")
    assert "https://hrss.gd.gov.cn/" in asked["body_zh"]


def test_notice_when_paid_automatically_or_without_a_link_adds_no_application_step():
    granted = texts("job-retention-refund-guangdong", "granted")
    assert "申请入口" not in granted["body_zh"] and "Apply at" not in granted["body_en"]
    plain = texts("startup-guarantee-loan-interest-subsidy", "recommended", None)
    assert "申请入口" not in plain["body_zh"]


def test_policy_channel_when_not_written_follows_the_form():
    channels = {p.id: p.policy.benefit.payout_channel for p in CATALOGUE.policies}
    assert channels["small-low-profit-income-tax-relief"] == "tax_filing"
    assert channels["startup-guarantee-loan-interest-subsidy"] == "lender"
    assert channels["high-tech-reward-longhua"] == "bank_account"

"""A refund paid back into the enterprise's social-insurance account says so in the granted notice, in both
languages, with the amount's unit, and only there (not in a notice that asks for data)."""

from __future__ import annotations

from datetime import date

import polars as pl

from matcher.notices import notice_texts
from policies.load import CATALOGUE_DIR, load_policy_text

P1 = (CATALOGUE_DIR / "p01-job-retention-refund.yaml").read_text(encoding="utf-8")


def _texts(kind: str) -> dict:
    text = P1.replace("  period: yearly\n", "  period: yearly\n  channel: social_insurance_account\n", 1)
    policy, _ = load_policy_text(text, "p01-si.yaml")
    assert policy.policy.benefit.payout_channel == "social_insurance_account"
    rows = pl.DataFrame(
        {
            "policy_id": [policy.id], "policy_version": [policy.version], "kind": [kind], "amount_fen": [1_080_000],
            "respond_by": [date(2025, 7, 15)], "unknown_facts": ["zombie_firm" if kind == "needs_data" else None],
            "failing": [None], "failing_zh": [None],
        }
    )  # fmt: skip
    return notice_texts(rows, [policy]).row(0, named=True)


def test_granted_refund_to_the_social_insurance_account_says_where_the_money_goes():
    granted = _texts("granted")
    assert granted["body_zh"].endswith("款项退回至单位社会保险缴费账户。")
    assert granted["body_en"].endswith(" The money goes back to your social-insurance account.")
    assert "核定金额 10,800 元" in granted["body_zh"]
    asked = _texts("needs_data")
    assert "社会保险缴费账户" not in asked["body_zh"] and "social-insurance account" not in asked["body_en"]

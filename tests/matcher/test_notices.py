"""Notice text is rendered from what the notice records: amount, deadline, missing facts, missed thresholds."""

from datetime import UTC, date, datetime

import polars as pl

from matcher.notices import build_notices, idempotency_key, notice_texts
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)


def _decisions(**overrides) -> pl.DataFrame:
    policy = load_catalogue().in_force(AS_OF)[0]
    row = {
        "uscc": "91510100MA6CGUX54X",
        "policy_id": policy.id,
        "policy_version": policy.version,
        "period_key": "2025",
        "status": "granted",
        "amount_fen": 1234567,
        "unknown_facts": None,
        "failing": None,
        "failing_zh": None,
    } | overrides
    return pl.DataFrame(
        [row], schema_overrides={"unknown_facts": pl.String, "failing": pl.String, "failing_zh": pl.String}
    )


def _texts(decisions: pl.DataFrame) -> dict:
    rows = build_notices(decisions, AS_OF, "r" * 32, datetime.now(UTC))
    joined = rows.join(
        decisions.select("uscc", "policy_id", "unknown_facts", "failing", "failing_zh"), on=["uscc", "policy_id"]
    )
    return notice_texts(joined, load_catalogue().policies).with_columns(idempotency_key()).row(0, named=True)


def test_notice_when_granted_states_the_amount_in_yuan_and_the_objection_deadline_in_both_languages():
    text = _texts(_decisions())
    assert "12,345.67 元" in text["body_zh"] and "2025-07-15" in text["body_zh"]
    assert "12,345.67 yuan" in text["body_en"] and "object by 2025-07-15" in text["body_en"]
    assert text["idempotency_key"] == f"91510100MA6CGUX54X:{text['policy_id']}:2025:granted:1234567"


def test_notice_when_data_is_missing_names_each_missing_fact_in_words_not_column_names():
    missing = "insured_headcount; tax_credit_rating"
    text = _texts(_decisions(status="needs_data", amount_fen=None, unknown_facts=missing))
    assert "参保人数、纳税信用等级" in text["body_zh"]
    assert "insured staff in the last complete month, tax credit rating" in text["body_en"]


def test_notice_when_nearly_eligible_carries_the_gap_in_each_language():
    text = _texts(
        _decisions(
            status="near_miss", amount_fen=None, failing="headcount (28, needs ≥ 30)", failing_zh="人数（28，要求≥30）"
        )
    )
    assert "人数（28，要求≥30）" in text["body_zh"] and "headcount (28, needs ≥ 30)" in text["body_en"]
    assert text["respond_by"] == date(2025, 7, 15)


def _every_policy(amount_fen: int | None, kind: str) -> pl.DataFrame:
    policies = load_catalogue().policies
    rows = [
        {"uscc": "91510100MA6CGUX54X", "policy_id": p.id, "policy_version": p.version, "period_key": "2025",
         "kind": kind, "amount_fen": amount_fen, "respond_by": date(2025, 7, 15), "unknown_facts": None,
         "failing": None, "failing_zh": None}
        for p in policies
    ]  # fmt: skip
    texts = notice_texts(
        pl.DataFrame(
            rows, schema_overrides={"unknown_facts": pl.String, "failing": pl.String, "failing_zh": pl.String}
        ),
        policies,
    )
    forms = {p.id: p.policy.benefit.form for p in policies}
    return texts.with_columns(form=pl.col("policy_id").replace_strict(forms))


def test_notice_when_the_amount_is_zero_or_unknown_never_reads_as_a_payout():
    for kind in ("granted", "awaiting_confirmation"):
        for amount in (0, None):
            for row in _every_policy(amount, kind).iter_rows(named=True):
                for column in ("title_zh", "title_en", "body_zh", "body_en"):
                    text = row[column]
                    assert "0.00" not in text and "将直接拨付" not in text and "will be paid without" not in text, (
                        row["policy_id"],
                        text,
                    )


def test_notice_when_the_benefit_is_not_cash_says_how_it_is_taken_not_that_it_is_paid():
    rows = _every_policy(1_200_000, "granted")
    assert set(rows["form"]) == {"cash", "tax_relief", "interest_subsidy"}  # the catalogue's forms
    for row in rows.iter_rows(named=True):
        if row["form"] == "cash":
            assert "12,000 元" in row["body_zh"] and "将直接拨付" in row["body_zh"]
        else:
            assert "核定金额" not in row["body_zh"] and "will be paid without" not in row["body_en"]
        if row["form"] == "tax_relief":
            assert "预计减免 12,000 元" in row["body_zh"] and "纳税申报" in row["body_zh"]
            assert "an estimated 12,000 yuan" in row["body_en"]
        if row["form"] == "interest_subsidy":
            assert "贷款的银行" in row["body_zh"] and "paid to the bank that lent to you" in row["body_en"]

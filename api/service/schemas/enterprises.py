"""What an enterprise sees and sends: its decisions, notices, their explanations, and its actions."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant, Text
from api.service.schemas.supplied_facts import SuppliedFactOut
from matcher.ledger.statuses import DecisionStatus as _DecisionStatus

__all__ = [
    "ActionOut",
    "DecisionDetail",
    "DecisionOut",
    "DeclineIn",
    "Explanation",
    "NoticeDetail",
    "NoticeOut",
    "ObjectionIn",
    "SupplyIn",
]

Result = Literal["met", "not_met", "unknown"]
DecisionStatus = _DecisionStatus  # the ledger's StrEnum: one spelling of the statuses everywhere
USCC_EXAMPLE = "91440300MA5G00000X"


class RegistryRef(BaseModel):
    id: str
    zh: str
    en: str


class FactOut(BaseModel):
    name: str
    label: Text
    value: Any = Field(description="null when the registries do not hold it (unknown)")
    shown: Text = Field(description="the value as a person reads it: words for codes, units, yes / no")
    registries: list[RegistryRef]
    period: str = Field(description="which records count, relative to as_of")
    as_of: date
    lineage: Text | None = Field(
        default=None, description="when an accepted attestation gave the value: who supplied it and who accepted it"
    )


class ConditionOut(BaseModel):
    depth: int = Field(description="0 for the whole eligibility tree, 1 for its parts, ...")
    result: Result
    sentence: Text
    expression: str | None = None
    facts: list[FactOut] = []
    operator: str | None = None
    threshold: Any = None
    gap: float | None = Field(default=None, description="how much the fact must change to pass")


class MissingFact(BaseModel):
    name: str
    label: Text
    attested_by: list[Literal["enterprise", "officer", "department"]] | None = Field(
        default=None, description="a declared fact (no registry holds it): who may attest it"
    )
    evidence: Text | None = Field(default=None, description="a declared fact: the evidence asked")


class FailingCondition(BaseModel):
    condition: Text
    fact: str | None = None
    value: Any = None
    operator: str | None = None
    threshold: Any = None
    gap: float | None = None


class Lines(BaseModel):
    zh: list[str]
    en: list[str]


class RankingReason(Text):
    """One feature's push on the notice's place (LightGBM's own contribution), in plain words."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "feature": "log_amount",
                    "value": 5.08,
                    "contribution": 0.4123,
                    "zh": "补贴金额（120,000 元）使该通知排序靠前",
                    "en": "the amount (120,000 yuan) moves it up",
                }
            ]
        }
    )
    feature: str = Field(description="the ranker's feature (docs/ranking.md)")
    value: float | None = Field(default=None, description="the feature's value as the run computed it")
    contribution: float = Field(description="how far it moved the score: up if positive")


class DeliveryOut(BaseModel):
    mode: Literal["automatic", "confirm", "notify"]
    rule: int = Field(description="the delivery rule that applied, from 1 (policies/delivery_trace.py)")
    text: Text = Field(description="why, in words: the condition that held, failed or is unknown")
    unknown_facts: list[str] = Field(default=[], description="facts that left an earlier rule's condition open")


class Explanation(BaseModel):
    available: bool
    eligible: Result | None = None
    in_region: Result | None = None
    amount_yuan: float | None = None
    lines: Lines | None = None
    note: Text | None = None
    conditions: list[ConditionOut] = []
    missing_facts: list[MissingFact] = Field(default=[], description="facts to supply (needs_data)")
    failing: list[FailingCondition] = Field(default=[], description="conditions missed and by how much (near_miss)")
    delivery: DeliveryOut | None = Field(
        default=None, description="which delivery rule applied, for a policy whose delivery depends on facts"
    )
    ranking_reasons: list[RankingReason] | None = Field(
        default=None, description="why the ranking model places it where it is, strongest first; null: see the note"
    )
    ranking_note: Text | None = Field(
        default=None,
        description="why there are no ranking reasons: no model in service, the pair was not ranked, or its "
        "enterprise was in the run's holdout (the fallback order placed it)",
    )


class DecisionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "run_id": "3f0c9d2a4b1e4f5a8c7d6e5f4a3b2c1d",
                    "as_of": "2025-06-30",
                    "uscc": USCC_EXAMPLE,
                    "policy_id": "job-retention-refund",
                    "policy_version": 1,
                    "title": {"zh": "失业保险稳岗返还", "en": "Unemployment-insurance job-retention refund"},
                    "period_key": "2025",
                    "status": "granted",
                    "amount_fen": 1080000,
                    "amount_full_fen": 1080000,
                    "benefit_status": "granted",
                    "benefit_amount_fen": 1080000,
                    "benefit_paid_fen": 0,
                    "notice_id": 7,
                    "no_longer_matched": False,
                }
            ]
        }
    )

    id: int
    run_id: str
    as_of: date
    uscc: str
    policy_id: str
    policy_version: int
    title: Text | None = None
    period_key: str
    status: DecisionStatus
    amount_fen: int | None = Field(default=None, description="after budget scaling, in fen (1/100 yuan)")
    amount_full_fen: int | None = Field(default=None, description="before budget scaling")
    benefit_status: str | None = Field(
        default=None,
        description="ledger: granted | held | payable | in_batch | paid | payment_failed | cancelled; null when the"
        " ledger holds nothing for the policy and period",
    )
    benefit_amount_fen: int | None = Field(
        default=None,
        description="what the ledger owes, the sum of its journal: the decided amount unless corrected since",
    )
    benefit_paid_fen: int | None = Field(default=None, description="what the ledger has paid so far")
    notice_id: int | None = None
    no_longer_matched: bool = Field(
        default=False,
        description="the enterprise's latest decision for the policy and period, but a later run evaluated that"
        " policy and period and no longer matches the enterprise (no decision for it): not current any more;"
        " `history=true` shows every run's",
    )


class DecisionDetail(DecisionOut):
    unknown_facts: str | None = None
    failing: str | None = None
    explanation: Explanation


class NoticeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "uscc": USCC_EXAMPLE,
                    "policy_id": "rd-super-deduction",
                    "policy_version": 1,
                    "period_key": "2025",
                    "kind": "awaiting_confirmation",
                    "amount_fen": 25000000,
                    "title": {"zh": "【一键确认】研发费用加计扣除：250000.00 元待确认", "en": "[Confirm] ..."},
                    "body": {"zh": "您单位符合……", "en": "Your enterprise qualifies ..."},
                    "respond_by": "2025-07-15",
                    "delivery_status": "pending",
                    "created_at": "2025-06-30T08:00:00Z",
                    "benefit_status": None,
                    "responses": ["opened"],
                }
            ]
        }
    )

    id: int
    uscc: str
    policy_id: str
    policy_version: int
    period_key: str
    kind: DecisionStatus
    amount_fen: int | None = None
    title: Text
    body: Text
    respond_by: date | None = None
    delivery_status: str
    created_at: Instant
    benefit_status: str | None = None
    responses: list[str] = Field(default=[], description="what the enterprise did so far: opened, confirmed, ...")


class NoticeDetail(NoticeOut):
    decision_id: int | None = None
    no_longer_matched: bool = Field(
        default=False,
        description="a later completed run no longer matches the enterprise for this policy and period: the notice"
        " can no longer be confirmed or completed (declining and objecting stay open)",
    )
    explanation: Explanation
    supplied_facts: list[SuppliedFactOut] = Field(
        default=[], description="what the enterprise supplied for this notice and the officer's outcome of each"
    )


class ObjectionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "我单位2024年参保人数为35人，共享数据有误。"}]},
    )
    reason: str = Field(min_length=5, max_length=2000, description="why the enterprise disagrees")


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "不需要该补贴"}]})
    reason: str | None = Field(default=None, max_length=2000)


class SupplyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"facts": {"ui_paid_months": 18}, "note": "以社保缴费凭证为准"}]},
    )
    facts: dict[str, bool | int | float | str] = Field(
        min_length=1, description="the facts the notice asks for, by name (huiqi facts), with their values"
    )
    note: str | None = Field(default=None, max_length=2000)


class Preview(BaseModel):
    eligible: Result
    amount_yuan: float | None = None


class ActionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notice_id": 7,
                    "action": "confirmed",
                    "benefit_status": "granted",
                    "message": {"zh": "已确认，款项将按程序拨付。", "en": "Confirmed: the amount will be paid."},
                    "at": "2025-07-01T09:30:00Z",
                }
            ]
        }
    )

    notice_id: int
    action: Literal["confirmed", "supplied_data", "declined", "objected"]
    benefit_status: str | None = None
    message: Text
    preview: Preview | None = Field(default=None, description="supply: the decision with the supplied facts")
    at: Instant

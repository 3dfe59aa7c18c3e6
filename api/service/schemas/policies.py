"""What policy officers read and send: policies and versions, drafts, validation, examples, impact, publishing."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant, PolicyProblem, Text

__all__ = [
    "DraftOut",
    "ExampleResultOut",
    "ImpactOut",
    "PolicyOut",
    "PolicySummary",
    "PolicyVersionOut",
    "PublishIn",
    "PublishOut",
    "ValidationOut",
]


class VersionBrief(BaseModel):
    version: int
    effective_from: date
    effective_to: date | None = None
    source: str = Field(description="'repository' (policies/catalogue/) or 'published' (through the service)")


class PolicySummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "job-retention-refund",
                    "title": {"zh": "失业保险稳岗返还", "en": "Unemployment-insurance job-retention refund"},
                    "category": "employment",
                    "delivery": "automatic",
                    "in_force_version": 1,
                    "versions": [
                        {
                            "version": 1,
                            "effective_from": "2024-01-01",
                            "effective_to": "2025-12-31",
                            "source": "repository",
                        }
                    ],
                }
            ]
        }
    )

    id: str
    title: Text
    category: str
    delivery: str
    in_force_version: int | None = Field(description="the version in force today, if any")
    versions: list[VersionBrief]


class PolicyOut(PolicySummary):
    summary: Text | None = None
    authority: Text
    basis: str
    region: list[str]
    budget_yuan: float | None = None


class PolicyVersionOut(BaseModel):
    id: str
    version: int
    source: str = Field(description="'repository' or 'published'")
    effective_from: date
    effective_to: date | None = None
    published_by: str | None = None
    published_at: Instant | None = None
    policy: dict[str, Any] = Field(description="the parsed policy file (docs/policies.md)")
    text: str = Field(description="the policy file's text")


class DraftOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "policy_id": "job-retention-refund",
                    "version": 2,
                    "format": "yaml",
                    "text": "id: job-retention-refund\nversion: 2\n...",
                    "valid": False,
                    "problems": [
                        {
                            "message": "unknown fact 'ui_paid_month'",
                            "hint": "did you mean 'ui_paid_months'?",
                            "file": "draft-3.yaml",
                            "line": 27,
                            "column": 13,
                        }
                    ],
                    "created_by": "officer:alice#2",
                    "created_at": "2025-06-01T09:00:00Z",
                    "updated_by": "officer:alice#2",
                    "updated_at": "2025-06-01T09:05:00Z",
                    "published_at": None,
                }
            ]
        }
    )

    id: int
    policy_id: str | None = None
    version: int | None = None
    format: str
    text: str
    valid: bool
    problems: list[PolicyProblem]
    created_by: str
    created_at: Instant
    updated_by: str
    updated_at: Instant
    published_at: Instant | None = None
    kind: str = Field("version", description="'version' (a new version) or 'withdrawal' (a version out of force)")
    review_state: str = Field(
        "draft", description="draft | submitted | approved | returned | published (maker-checker, docs/service.md)"
    )
    revision: int = Field(1, description="+1 on every change of the text; an approval covers one revision")
    effective_from: date | None = Field(None, description="the date under review (withdrawal: out of force from)")
    review_set: list[int] = Field(default_factory=list, description="drafts reviewed and published with this one")
    submitted_by: str | None = None
    submitted_at: Instant | None = None
    reviewed_by: str | None = Field(None, description="the officer who approved or returned it")
    reviewed_at: Instant | None = None
    review_comment: str | None = None
    published_by: str | None = None


class ValidationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"valid": True, "policy_id": "job-retention-refund", "version": 2, "problems": []}]
        }
    )
    valid: bool
    policy_id: str | None = None
    version: int | None = None
    problems: list[PolicyProblem]


class ExampleResultOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"example": "SME with low layoffs gets 60 % back", "ok": True, "problems": []}]}
    )
    example: str
    ok: bool
    problems: list[str]


class Side(BaseModel):
    eligible: int
    statuses: dict[str, int]
    amount_fen: int = Field(description="payable after budget scaling, in fen")
    amount_full_fen: int


class Listing(BaseModel):
    count: int
    uscc: list[str] = Field(description="the first ones (see the limit parameter), sorted")


class Budget(BaseModel):
    budget_fen: int
    demanded_fen: int
    share_of_budget: float
    scale: float = Field(description="1 when the budget covers every amount; else the pro-rata factor")


class GroupRow(BaseModel):
    key: str | None
    label: str | None = None
    eligible_before: int
    eligible_after: int
    newly_eligible: int
    no_longer_eligible: int
    amount_before_fen: int
    amount_after_fen: int


class OtherPolicy(BaseModel):
    policy_id: str
    newly_eligible: int
    no_longer_eligible: int


class AmountErrorExample(BaseModel):
    uscc: str
    amount_yuan: float | None = Field(description="the computed amount; null when unknown or not finite")


class AmountErrors(BaseModel):
    enterprises: int
    reasons: list[str]
    examples: list[AmountErrorExample]


class ImpactOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_id": "job-retention-refund",
                    "draft_version": 2,
                    "baseline_version": 1,
                    "as_of": "2025-06-30",
                    "enterprises": 20000,
                    "baseline": {
                        "eligible": 8120,
                        "statuses": {"granted": 8120},
                        "amount_fen": 91200000000,
                        "amount_full_fen": 91200000000,
                    },
                    "draft": {
                        "eligible": 8790,
                        "statuses": {"granted": 8790},
                        "amount_fen": 98100000000,
                        "amount_full_fen": 98100000000,
                    },
                    "newly_eligible": {"count": 670, "uscc": ["91440300MA5G00000X"]},
                    "no_longer_eligible": {"count": 0, "uscc": []},
                    "budget": {
                        "budget_fen": 200000000000,
                        "demanded_fen": 98100000000,
                        "share_of_budget": 0.4905,
                        "scale": 1.0,
                    },
                    "breakdown": {"region": [], "size_class": [], "industry": []},
                    "other_policies": [],
                }
            ]
        }
    )

    policy_id: str
    draft_version: int
    baseline_version: int | None = Field(description="the published version in force on as_of; null for a new policy")
    as_of: date
    enterprises: int
    baseline: Side
    draft: Side
    newly_eligible: Listing
    no_longer_eligible: Listing
    budget: Budget | None = Field(description="null for an uncapped policy")
    breakdown: dict[str, list[GroupRow]] = Field(description="by region (province), size_class and industry (section)")
    other_policies: list[OtherPolicy] = Field(description="knock-on changes through the policy graph (excludes, ...)")
    amount_errors: AmountErrors | None = Field(
        default=None,
        description="enterprises whose amount under the draft cannot be paid (negative, not finite, over the"
        " ceiling, a division by zero): they would get no decision; fix the amount before publishing",
    )


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"effective_from": "2025-07-01"}]})
    effective_from: date | None = Field(
        None,
        description="the first day the new version is in force (older versions end the day before): the date it"
        " was approved for; another date is refused",
    )


class PublishOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_id": "job-retention-refund",
                    "version": 2,
                    "effective_from": "2025-07-01",
                    "effective_to": None,
                    "closed": [{"version": 1, "effective_to": "2025-06-30"}],
                }
            ]
        }
    )
    policy_id: str
    version: int
    effective_from: date
    effective_to: date | None = None
    closed: list[dict[str, Any]] = Field(description="older versions whose effective.to was set")

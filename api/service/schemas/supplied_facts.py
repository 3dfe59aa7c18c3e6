"""Supplied and attested facts, as officers review them and enterprises see their outcome."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant, Text

__all__ = ["SuppliedFactOut", "SuppliedFactReviewIn"]


class SuppliedFactOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "uscc": "91440300MA5G00000X",
                    "fact": "in_bankruptcy",
                    "label": {"zh": "进入破产程序", "en": "in bankruptcy proceedings"},
                    "value": False,
                    "source": "enterprise",
                    "supplied_by": "enterprise:91440300MA5G00000X#12",
                    "supplied_at": "2025-07-02T08:00:00Z",
                    "evidence": "未进入破产程序承诺书（2025-07-01）",
                    "notice_id": 41,
                    "policy_id": "job-retention-refund",
                    "status": "open",
                    "status_words": {"zh": "待核实", "en": "awaiting an officer's check"},
                    "reviewed_by": None,
                    "reviewed_at": None,
                    "reason": None,
                    "overrides_registry": False,
                }
            ]
        }
    )
    id: int
    uscc: str
    fact: str
    label: Text
    value: Any = Field(description="true/false, a number, a word or a date YYYY-MM-DD")
    source: Literal["enterprise", "officer", "department"]
    supplied_by: str
    supplied_at: Instant
    evidence: str | None
    notice_id: int | None
    policy_id: str | None
    status: Literal["open", "accepted", "rejected", "superseded"]
    status_words: Text
    reviewed_by: str | None
    reviewed_at: Instant | None
    reason: str | None = Field(description="the officer's reason (always given for a rejection)")
    overrides_registry: bool


class _Accept(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"outcome": "accepted"}]})
    outcome: Literal["accepted"]
    reason: str | None = Field(default=None, max_length=2000, description="a note, if any")
    overrides_registry: bool = Field(
        default=False,
        description="keep this value even when a registry later reports another (otherwise the registry's wins)",
    )


class _Reject(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "rejected", "reason": "法院已受理破产申请（(2025)粤03破12号）"}]},
    )
    outcome: Literal["rejected"]
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="why: the enterprise reads it")


SuppliedFactReviewIn = Annotated[_Accept | _Reject, Field(discriminator="outcome")]

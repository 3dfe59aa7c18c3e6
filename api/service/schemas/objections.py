"""Objections as officers review them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant

__all__ = ["ObjectionOut", "ReviewIn"]

_OBJECTION = {
    "id": 31,
    "notice_id": 7,
    "uscc": "91440300MA5G00000X",
    "policy_id": "job-retention-refund",
    "period_key": "2025",
    "reason": "参保人数统计有误，应为 52 人",
    "objected_by": "enterprise:91440300MA5G00000X#12",
    "objected_at": "2025-07-02T03:15:00Z",
    "benefit_status": "held",
    "review": None,
}


class ReviewIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"outcome": "dismissed", "note": "社保登记核实无误，按原决定拨付 / verified: paid as decided"}]
        },
    )
    outcome: Literal["dismissed", "upheld"] = Field(
        description="dismissed: the decision stands, the payout is released; upheld: the decision was wrong, "
        "the payout is cancelled (correct the data or rule and run again)"
    )
    note: str = Field(min_length=1, max_length=2000, description="the reasons, shown to the enterprise")


class Review(BaseModel):
    outcome: Literal["dismissed", "upheld"]
    note: str
    by: str
    at: Instant


class ObjectionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_OBJECTION]})

    id: int
    notice_id: int
    uscc: str
    policy_id: str
    period_key: str
    reason: str
    objected_by: str
    objected_at: Instant
    benefit_status: str | None = Field(default=None, description="the ledger: held while the objection is open")
    review: Review | None = Field(default=None, description="null while open")

"""What later runs found about benefits in the ledger, for officers to decide."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant

__all__ = ["ProposalDecisionIn", "ProposalOut"]


class ProposalOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "uscc": "91440300MA5G00000X",
                    "policy_id": "job-retention-refund",
                    "period_key": "2025",
                    "action": "recover",
                    "amount_fen": None,
                    "run_id": "3f0c9d2a4b1e4f5a8c7d6e5f4a3b2c1d",
                    "reason": "paid 12000.00 yuan, but the registry data as of 2025-09-30 no longer meet the "
                    "policy's conditions",
                    "reason_zh": "已拨付 12000.00 元，但按 2025-09-30 的共享数据已不符合政策条件",
                    "status": "open",
                    "decided_by": None,
                    "decided_at": None,
                    "note": None,
                    "created_at": "2025-10-01T02:00:00Z",
                }
            ]
        }
    )
    id: int
    uscc: str
    policy_id: str
    period_key: str
    action: str = Field(description="recover (a paid benefit), cancel (an unpaid one), top_up (paid, owed more)")
    amount_fen: int | None = Field(description="top_up: the increase, in fen; null otherwise")
    run_id: str = Field(description="the run whose data found it")
    reason: str
    reason_zh: str
    status: str = Field(description="open | accepted | dismissed")
    decided_by: str | None = None
    decided_at: Instant | None = None
    note: str | None = None
    created_at: Instant


class ProposalDecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "经核实，授予前已列入失信名单"}]}
    )
    note: str = Field(min_length=5, max_length=2000, description="the officer's reasons: kept in the journal")

"""A benefit in the ledger with its journal, and an officer's correction of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.service.schemas.common import Instant
from matcher.amounts import MAX_AMOUNT_YUAN

__all__ = ["BenefitOut", "CorrectionIn", "JournalEntryOut"]


class JournalEntryOut(BaseModel):
    entry: str = Field(description="what happened: granted, confirmed, held, released, cancelled, adjusted, …")
    status_before: str | None
    status_after: str
    amount_before_fen: int
    amount_after_fen: int
    paid_fen: int = Field(description="money moved by this entry: + paid, − recovered")
    actor: str = Field(description="who: run:<id>, enterprise:<uscc>#n, officer:<name>#n")
    reason: str
    at: Instant


class BenefitOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "uscc": "91440300MA5G00000X",
                    "policy_id": "job-retention-refund",
                    "period_key": "2025",
                    "policy_version": 1,
                    "status": "granted",
                    "amount_fen": 1200000,
                    "paid_fen": 0,
                    "journal": [
                        {
                            "entry": "granted",
                            "status_before": None,
                            "status_after": "granted",
                            "amount_before_fen": 0,
                            "amount_after_fen": 1200000,
                            "paid_fen": 0,
                            "actor": "run:3f0c9d2a4b1e4f5a8c7d6e5f4a3b2c1d",
                            "reason": "decided by the published rules as of 2025-06-30",
                            "at": "2025-07-01T02:00:00Z",
                        }
                    ],
                }
            ]
        }
    )
    uscc: str
    policy_id: str
    period_key: str
    policy_version: int
    status: str = Field(description="granted, held, payable, in_batch, paid, payment_failed, cancelled")
    amount_fen: int = Field(description="owed: the sum of the journal's amount changes")
    paid_fen: int = Field(description="paid so far: the sum of the journal's payments")
    journal: list[JournalEntryOut] = Field(description="every change, oldest first")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "recover", "reason": "审计发现：授予前已列入严重失信名单 / listed as dishonest before"}
            ]
        },
    )
    action: Literal["regrant", "adjust", "cancel", "top_up", "recover"] = Field(
        description="regrant a cancelled benefit; adjust the amount owed before payment; cancel before payment;"
        " top_up a paid one by an increase; recover a paid one found improper"
    )
    amount_yuan: Decimal | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT_YUAN,
        decimal_places=2,
        description="regrant, adjust: the amount owed; top_up: the increase; none for cancel and recover",
    )
    reason: str = Field(min_length=5, max_length=2000, description="why: shown in the journal to auditors")

    @model_validator(mode="after")
    def _amount_when_needed(self) -> CorrectionIn:
        needs = self.action in ("regrant", "adjust", "top_up")
        if needs and self.amount_yuan is None:
            raise ValueError(f"'{self.action}' needs amount_yuan")
        if not needs and self.amount_yuan is not None:
            raise ValueError(f"'{self.action}' takes no amount_yuan: it sets the amount itself")
        if self.action in ("regrant", "top_up") and self.amount_yuan == 0:
            raise ValueError(f"'{self.action}' needs an amount_yuan above 0")
        return self

    @property
    def amount_fen(self) -> int | None:
        return None if self.amount_yuan is None else int(self.amount_yuan * 100)

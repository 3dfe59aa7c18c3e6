"""Payment batches, the bank's answers, enterprises' accounts and the publicity list, as the service shows them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant

__all__ = ["AccountIn", "AccountOut", "BatchOut", "PrepareIn", "PrepareOut", "PublicityOut", "ReconcileOut"]
__all__ += ["WithdrawIn"]


class PrepareIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"as_of": "2025-07-20"}]})
    as_of: date = Field(description="judge payability on this day (objection windows, publicity)")


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="why, for the audit log")


class BatchOut(BaseModel):
    id: int
    status: str = Field(description="preparing | prepared | approved | exported | reconciled | withdrawn")
    as_of: date
    item_count: int
    total_fen: int
    prepared_by: str
    prepared_at: Instant
    approved_by: str | None = None
    approved_at: Instant | None = None
    exported_by: str | None = None
    exported_at: Instant | None = None
    file_sha256: str | None = None
    reconciled_by: str | None = None
    reconciled_at: Instant | None = None
    paid_count: int | None = None
    paid_fen: int | None = None
    failed_count: int | None = None
    failed_fen: int | None = None
    withdrawn_by: str | None = None
    withdrawn_reason: str | None = None


class PrepareOut(BaseModel):
    batch_id: int
    as_of: date
    status: str = Field(description="prepared, or withdrawn when there was nothing to pay")
    made_payable: int
    items: int
    total_fen: int
    without_account: int = Field(description="payable benefits waiting for an account: not batched")
    without_account_shown: list[dict[str, str]]
    resumed: bool


class ReconcileOut(BaseModel):
    batch_id: int
    paid: int
    paid_fen: int
    failed: int
    failed_fen: int
    already: bool = Field(description="the same file was reconciled before: nothing changed")


class AccountIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bank_code": "102584000012",
                    "account_no": "6222020200112233445",
                    "account_name": "深圳市示例科技有限公司",
                }
            ]
        },
    )
    bank_code: str = Field(max_length=40, description="CNAPS bank code (支付系统行号) of the branch: 12 digits")
    account_no: str = Field(max_length=60)
    account_name: str = Field(max_length=200, description="must equal the enterprise's registered name")


class AccountOut(BaseModel):
    id: int
    uscc: str
    bank_code: str
    account_no: str
    account_name: str
    given_at: Instant
    payable_again: list[dict[str, str]] = Field(description="benefits whose failed payment is payable again")


class PublicityOut(BaseModel):
    name: str = Field(description="registered name")
    uscc: str
    policy_id: str
    period_key: str
    amount_fen: int
    status: str = Field(description="granted, or held by an objection")
    publicity_ends: date = Field(description="first day after publicity")

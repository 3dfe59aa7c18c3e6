"""Supplied and attested facts, as officers review them and enterprises see their outcome."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.service.schemas.common import Instant, Text

__all__ = ["AttestedListOut", "SuppliedFactOut", "SuppliedFactReviewIn"]


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


class AttestedListOut(BaseModel):
    """A department's complete list of a declared fact, as imported (api/service/attested_lists.py)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "fact": "in_bankruptcy",
                    "department": "market_regulation",
                    "as_of": "2025-06-20",
                    "reference": "深市监〔2025〕破产名单第6期",
                    "entries": 412,
                    "unknown": 2,
                    "unknown_file": "data/quarantine/list-3-in_bankruptcy-unknown.csv",
                    "imported_by": "officer:li-wei#2",
                    "imported_at": "2025-06-21T02:00:00Z",
                    "file_sha256": "9f2c…",
                    "current": True,
                }
            ]
        }
    )
    id: int
    fact: str
    department: str
    as_of: date
    reference: str
    entries: int = Field(description="rows on the list: the firms it names")
    unknown: int = Field(description="rows naming no enterprise in the latest profiles: kept, applied once known")
    unknown_file: str | None = Field(default=None, description="where those rows were written (at import only)")
    imported_by: str
    imported_at: Instant
    file_sha256: str
    current: bool | None = Field(default=None, description="the newest list of its fact: the next run uses it")
    checked_against: str | None = Field(
        default=None, description="at import: the profiles the USCCs were checked against; null when none were built"
    )
    unchanged: bool | None = Field(
        default=None, description="at import: the same file was already the newest list of its fact; nothing changed"
    )

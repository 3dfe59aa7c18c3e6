"""What the static analysis of a draft returns: findings with their witnesses, and the semantic diff."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["AnalysisOut", "DiffOut", "FindingOut", "RegionOut"]

# One enterprise's facts in the catalogue's units (null: unknown), and the evaluation date ``as_of``.
WitnessOut = dict[str, str | int | float | bool | date | None]


class FindingOut(BaseModel):
    code: str = Field(description="the check, e.g. never-eligible, amount-negative, group-disjoint")
    severity: Literal["error", "warning"] = Field(description="an error stops publishing; a warning informs")
    policy_id: str
    version: int | None
    file: str | None
    line: int | None
    column: int | None
    message_zh: str
    message_en: str
    witness: WitnessOut | None = Field(description="an enterprise that shows it, checked by the tracer")
    witness_zh: str | None
    witness_en: str | None
    other_policy: str | None = Field(description="the second policy of a relation check")
    acknowledged: str | None = Field(description="the policy file's reason, when it acknowledges the warning")


class AnalysisOut(BaseModel):
    policy_id: str
    version: int
    errors: int
    warnings: int = Field(description="warnings not acknowledged by the policy file")
    findings: list[FindingOut]


class RegionOut(BaseModel):
    condition_zh: str
    condition_en: str
    witness: WitnessOut
    profiles: int | None = Field(description="how many of the latest profiles fall in it (none without profiles)")


class DiffOut(BaseModel):
    policy_id: str
    version: int = Field(description="the draft's version")
    against_version: int = Field(description="the published version in force it is compared with")
    as_of: date | None = Field(description="the profiles' date, when the regions were counted on them")
    admitted: list[RegionOut] = Field(description="enterprises eligible under the draft, not under the published")
    refused: list[RegionOut] = Field(description="enterprises eligible under the published version, not the draft")
    amount_change_zh: str | None
    amount_change_en: str | None
    complete: bool = Field(description="false when more regions exist than listed, or the solver gave up")

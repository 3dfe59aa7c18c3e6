"""The policy file format, validated with pydantic.

One YAML file per policy version. The eligibility tree is kept raw here and
built by ``policies.conditions`` (which knows how to point at a bad leaf).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.limits import MAX_NUMBER

__all__ = ["Authority", "Benefit", "Effective", "Example", "Policy", "Relations", "Text"]

Level = Literal["national", "provincial", "municipal", "district"]
Delivery = Literal["automatic", "confirm", "notify"]
Category = Literal["employment", "tax", "innovation", "growth", "finance"]
# Only cash is paid by transfer (payment batches); the others are taken elsewhere, their amount an estimate.
Form = Literal["cash", "tax_relief", "fee_reduction", "interest_subsidy"]


class _Strict(BaseModel):
    # No inf or NaN: pydantic would read the text "1e400" as infinity, and every run would fail on it.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Text(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Authority(Text):
    level: Level


class Effective(_Strict):
    start: date = Field(alias="from")
    end: date | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'to' ({self.end}) is before 'from' ({self.start})")
        return self

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class Benefit(_Strict):
    form: Form = Field(
        description="what the enterprise receives: cash (a transfer to its account), tax_relief (taken when it"
        " files; the amount is an estimate, never paid out), fee_reduction (a fee not charged), interest_subsidy"
        " (paid to the lender of its loan)"
    )
    amount: str | float = Field(description="expression giving the amount in yuan (per person when per: person)")
    per: Literal["enterprise", "person"] = "enterprise"
    count: str | None = Field(default=None, description="expression counting the persons, when per: person")
    period: Literal["once", "yearly", "monthly"]
    currency: Literal["CNY"] = "CNY"
    note: Text | None = None

    @model_validator(mode="after")
    def _count_for_persons(self) -> Benefit:
        if (self.per == "person") != (self.count is not None):
            raise ValueError("'count' is required when per: person, and only then")
        return self


class Relations(_Strict):
    excludes: list[str] = []
    requires: list[str] = []
    supersedes: list[str] = []
    exclusive_group: str | None = None


class Expect(_Strict):
    eligible: bool | Literal["unknown"]
    amount: float | None = Field(default=None, ge=-MAX_NUMBER, le=MAX_NUMBER)


class Example(_Strict):
    name: str
    as_of: date | None = None
    facts: dict[str, Any] = {}
    expect: Expect


class Policy(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="stable kebab-case id")
    version: int = Field(ge=1)
    title: Text
    summary: Text | None = None
    authority: Authority
    basis: str = Field(min_length=1, description="legal basis: the document number")
    region: list[str] = Field(default=[], description="GB/T 2260 division prefixes; empty means nationwide")
    effective: Effective
    delivery: Delivery
    category: Category
    budget: float | None = Field(default=None, gt=0, le=MAX_NUMBER, description="yuan per period; none means uncapped")
    benefit: Benefit
    publicity_days: int = Field(
        default=0,
        ge=0,
        le=60,
        description="公示: calendar days the list of granted cash benefits is published before any is paid"
        " (objections during it hold the benefit); 0: no publicity",
    )
    eligibility: Any
    relations: Relations = Relations()
    examples: list[Example] = []
    notes: str | None = None

    @field_validator("region")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not (prefix.isdigit() and len(prefix) in (2, 4, 6)):
                raise ValueError(
                    f"expected division prefixes of 2, 4 or 6 digits (e.g. '44', '4403'), found {prefix!r}"
                )
        return value

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

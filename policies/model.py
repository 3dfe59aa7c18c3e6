"""The policy file format, validated with pydantic.

One YAML file per policy version. The eligibility tree is kept raw here and
built by ``policies.conditions`` (which knows how to point at a bad leaf).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.limits import MAX_NUMBER

__all__ = [
    "Acknowledgement",
    "Analysis",
    "Application",
    "Authority",
    "Benefit",
    "DeliveryRule",
    "Effective",
    "Example",
    "Policy",
    "Relations",
    "Text",
]

Level = Literal["national", "provincial", "municipal", "district"]
Delivery = Literal["automatic", "confirm", "notify"]
Category = Literal["employment", "tax", "innovation", "growth", "finance"]
# Only cash is paid by transfer (payment batches); the others are taken elsewhere, their amount an estimate.
Form = Literal["cash", "tax_relief", "fee_reduction", "interest_subsidy"]
# Where the money goes: the enterprise's bank account, its social-insurance account (a refund of contributions),
# its tax filing (set against the tax due) or its lender (an interest subsidy).
Channel = Literal["bank_account", "social_insurance_account", "tax_filing", "lender"]
_CHANNEL_BY_FORM: dict[str, str] = {
    "cash": "bank_account",
    "tax_relief": "tax_filing",
    "fee_reduction": "tax_filing",
    "interest_subsidy": "lender",
}
# Entitlement periods per enterprise; ``certificate`` (once per certificate) is set by ``benefit.certificate``.
Period = Literal["once", "yearly", "quarterly", "monthly"]


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
    period: Period
    certificate: str | None = Field(
        default=None,
        description="once per certificate: the fact holding the certificate's number (e.g."
        " high_tech_certificate_no); a renewed certificate (a new number) is a new entitlement",
    )
    persons: str | None = Field(
        default=None,
        description="each person once: the family of policies within which an insured person is counted at"
        " most once, across enterprises and years (per: person only)",
    )
    channel: Channel | None = Field(
        default=None,
        description="where the benefit goes: bank_account, social_insurance_account, tax_filing or lender;"
        " default from the form",
    )
    currency: Literal["CNY"] = "CNY"
    note: Text | None = None

    @model_validator(mode="after")
    def _count_for_persons(self) -> Benefit:
        if (self.per == "person") != (self.count is not None):
            raise ValueError("'count' is required when per: person, and only then")
        if self.persons is not None and self.per != "person":
            raise ValueError("'persons' (each person once) needs per: person and a count")
        if self.certificate is not None and self.period != "once":
            raise ValueError(
                f"a benefit per certificate is paid once per certificate: write period: once, not {self.period!r}"
            )
        return self

    @property
    def payout_channel(self) -> str:
        return self.channel or _CHANNEL_BY_FORM[self.form]


class Application(_Strict):
    """Where and how to apply (notify) or ask (confirm): shown in the notice."""

    url: str = Field(pattern=r"^https://\S+$", description="the application page (https)")
    office: Text


class DeliveryRule(_Strict):
    """One branch of a delivery that depends on facts: ``when`` (a condition, like eligibility) gives ``mode``;
    the last rule has no ``when`` and applies otherwise."""

    when: Any = None
    mode: Delivery


class Relations(_Strict):
    excludes: list[str] = []
    requires: list[str] = []
    supersedes: list[str] = []
    exclusive_group: str | None = None
    # In an exclusive group: a later, higher award pays the difference (补差) instead of keeping the first one.
    # Every member of the group says the same.
    top_up: bool = False

    @model_validator(mode="after")
    def _top_up_in_group(self) -> Relations:
        if self.top_up and self.exclusive_group is None:
            raise ValueError("'top_up' applies within an exclusive_group: name the group, or remove top_up")
        return self


# Warnings of the static analysis (policies.analysis) that a policy file may acknowledge with a reason; the errors
# (never eligible, an amount undefined for an eligible enterprise) cannot be acknowledged, only fixed.
AcknowledgedCheck = Literal[
    "always-eligible",
    "condition-redundant",
    "condition-contradicts",
    "condition-never-true",
    "condition-always-true",
    "amount-negative",
    "amount-zero",
    "amount-unknown",
    "group-disjoint",
    "group-subsumed",
    "excludes-disjoint",
    "requires-never",
    "not-analysed",
]


class Acknowledgement(_Strict):
    check: AcknowledgedCheck
    reason: str = Field(min_length=1, description="why the finding is intended (shown beside it)")


class Analysis(_Strict):
    acknowledge: list[Acknowledgement] = []


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
    region_exclude: list[str] = Field(
        default=[], description="division prefixes left out (e.g. a province that runs its own variant)"
    )
    effective: Effective
    delivery: Delivery | list[DeliveryRule]
    apply: Application | None = Field(default=None, description="where to apply or ask: link and office")
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
    analysis: Analysis = Field(
        default=Analysis(),
        description="warnings of `huiqi policies check` this policy acknowledges, each with a reason",
    )
    examples: list[Example] = []
    notes: str | None = None

    @field_validator("delivery")
    @classmethod
    def _rules(cls, value: Delivery | list[DeliveryRule]) -> Delivery | list[DeliveryRule]:
        if isinstance(value, list):
            if not value or value[-1].when is not None:
                raise ValueError("the last delivery rule has no 'when': it says the mode otherwise")
            if any(rule.when is None for rule in value[:-1]):
                raise ValueError("only the last delivery rule may leave out 'when'")
        return value

    @field_validator("region", "region_exclude")
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

    @property
    def delivery_default(self) -> str:
        """The mode when no condition of the delivery rules holds (the one mode of a fixed delivery)."""
        return self.delivery if isinstance(self.delivery, str) else self.delivery[-1].mode

    @property
    def modes(self) -> tuple[str, ...]:
        """Every delivery mode the policy can give."""
        if isinstance(self.delivery, str):
            return (self.delivery,)
        return tuple(dict.fromkeys(rule.mode for rule in self.delivery))

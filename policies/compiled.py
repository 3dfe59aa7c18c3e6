"""A policy after loading: its conditions parsed, type-checked and ready to run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from policies.conditions import Condition, Expression, condition_facts, condition_to_polars, condition_value
from policies.errors import Location
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate, kleene_and
from policies.model import Policy
from policies.source import Positions

__all__ = ["CompiledPolicy"]


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    file: str
    eligibility: Condition
    amount: Expression
    count: Expression | None
    kinds: dict[str, str]  # kinds of the catalogue facts, for the compiler
    positions: Positions | None = field(default=None, compare=False, repr=False)  # where each value was written

    def location(self, *path: str | int) -> Location:
        """Where the value at ``path`` (e.g. "relations", "requires", 0) was written; the file when unknown."""
        return self.positions.location(self.file, path) if self.positions is not None else Location(self.file)

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def version(self) -> int:
        return self.policy.version

    @property
    def facts(self) -> frozenset[str]:
        """Every fact the policy reads (for explanations and for asking about missing data)."""
        used = condition_facts(self.eligibility) | self.amount.facts
        return (
            used
            | (self.count.facts if self.count else frozenset())
            | ({"division_code"} if self.policy.region else set())
        )

    # Bulk: polars expressions over every profile.

    def in_region_expr(self) -> pl.Expr:
        if not self.policy.region:
            return pl.lit(True)
        return pl.any_horizontal([pl.col("division_code").str.starts_with(p) for p in self.policy.region])

    def eligible_expr(self, as_of: date, relax: float = 0.0) -> pl.Expr:
        """Eligibility (true / false / null); with ``relax`` > 0, numeric thresholds are eased by that share."""
        return self.in_region_expr() & condition_to_polars(self.eligibility, self.kinds, as_of, relax)

    def amount_expr(self, as_of: date) -> pl.Expr:
        amount = to_polars(self.amount.node, self.kinds, as_of)
        if self.count is not None:
            amount = amount * to_polars(self.count.node, self.kinds, as_of)
        return amount

    # One enterprise: plain Python, the same semantics.

    def in_region(self, facts: dict[str, Any]) -> bool | None:
        code = facts.get("division_code")
        if not self.policy.region:
            return True
        return None if code is None else any(code.startswith(p) for p in self.policy.region)

    def eligible(self, facts: dict[str, Any], as_of: date) -> bool | None:
        return kleene_and([self.in_region(facts), condition_value(self.eligibility, facts, as_of)])

    def amount_for(self, facts: dict[str, Any], as_of: date) -> float | None:
        amount = evaluate(self.amount.node, facts, as_of)
        if self.count is not None:
            count = evaluate(self.count.node, facts, as_of)
            amount = None if amount is None or count is None else amount * count
        return amount

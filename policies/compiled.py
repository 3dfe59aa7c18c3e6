"""A policy after loading: its conditions parsed, type-checked and ready to run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from features.profiles.lists import CERTIFICATES
from policies.conditions import (
    Condition,
    Expression,
    build_condition,
    condition_facts,
    condition_to_polars,
    condition_value,
)
from policies.errors import Location, PolicyFileError
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate, kleene_and
from policies.model import Policy
from policies.source import Positions

__all__ = ["SAFETY", "CompiledPolicy"]

# Delivery modes from the most to the least automatic; when a delivery rule's condition is unknown the
# safest mode that could apply is taken: notify rather than confirm rather than automatic.
SAFETY = ("automatic", "confirm", "notify")


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    file: str
    eligibility: Condition
    amount: Expression
    count: Expression | None
    kinds: dict[str, str]  # kinds of the catalogue facts, for the compiler
    positions: Positions | None = field(default=None, compare=False, repr=False)  # where each value was written
    # Built from the policy when the object is made: (condition or None for "otherwise", mode) per rule.
    delivery_rules: tuple[tuple[Condition | None, str], ...] = field(default=(), init=False, compare=False)

    def __post_init__(self) -> None:
        from policies.load import FACT_TYPES  # the loader knows every fact a policy may name; it imports this module

        file, positions = self.file, self.positions or Positions()
        delivery = self.policy.delivery
        rules: list[tuple[Condition | None, str]] = []
        if isinstance(delivery, str):
            rules.append((None, delivery))
        else:
            for i, rule in enumerate(delivery):
                when = None
                if rule.when is not None:
                    when = build_condition(
                        rule.when, FACT_TYPES, file=file, positions=positions, path=("delivery", i, "when")
                    )
                rules.append((when, rule.mode))
        object.__setattr__(self, "delivery_rules", tuple(rules))
        if self.policy.benefit.persons is not None:
            from features.profiles.social_insurance import hire_conditions

            counted = sorted(hire_conditions(date.min))
            node = self.count.node if self.count is not None else None
            if not (isinstance(node, ast.FactRef) and node.name in counted):
                raise PolicyFileError(
                    "'benefit.persons' counts each person once, so 'count' must be a hire count whose persons the"
                    f" registry lists; found {self.count.text if self.count else None!r}",
                    hint=f"write count as one of {', '.join(counted)}",
                    location=self.location("benefit", "count"),
                )
        certificate = self.policy.benefit.certificate
        if certificate is not None and certificate not in CERTIFICATES:
            raise PolicyFileError(
                f"'benefit.certificate' must name the fact holding the certificate's number; found {certificate!r}",
                hint=f"write certificate as one of {', '.join(sorted(CERTIFICATES))}"
                + (
                    f" (the number of the certificate whose validity starts at {certificate})"
                    if certificate in CERTIFICATES.values()
                    else ""
                ),
                location=self.location("benefit", "certificate"),
            )

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
        for when, _ in self.delivery_rules:
            used |= condition_facts(when) if when is not None else frozenset()
        return (
            used
            | (self.count.facts if self.count else frozenset())
            | ({"division_code"} if self.policy.region or self.policy.region_exclude else set())
            | self.certificate_facts
        )

    @property
    def certificate_facts(self) -> frozenset[str]:
        """Per certificate: the facts naming it, its number and the start of its validity (none otherwise)."""
        number = self.policy.benefit.certificate
        return frozenset((number, CERTIFICATES[number])) if number else frozenset()

    # Bulk: polars expressions over every profile.

    def in_region_expr(self) -> pl.Expr:
        region, exclude = self.policy.region, self.policy.region_exclude
        code = pl.col("division_code")
        inside = pl.any_horizontal([code.str.starts_with(p) for p in region]) if region else pl.lit(True)
        if exclude:  # an unknown division is unknown, never "outside the excluded province"
            inside = inside & ~pl.any_horizontal([code.str.starts_with(p) for p in exclude])
        return inside

    def delivery_expr(self, as_of: date) -> pl.Expr:
        """The delivery mode per profile: the first rule whose condition holds; while an earlier condition is
        unknown, the safest of the modes that could still apply (``SAFETY``)."""
        (_, mode), *earlier = reversed(self.delivery_rules)
        chosen = pl.lit(SAFETY.index(mode), dtype=pl.Int8)
        for when, mode in earlier:
            assert when is not None  # only the last rule leaves out its condition
            held = condition_to_polars(when, self.kinds, as_of)
            here = pl.lit(SAFETY.index(mode), dtype=pl.Int8)
            chosen = (
                pl.when(held).then(here).when(held.is_null()).then(pl.max_horizontal(here, chosen)).otherwise(chosen)
            )
        return chosen.replace_strict(dict(enumerate(SAFETY)), return_dtype=pl.String)

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
        region, exclude = self.policy.region, self.policy.region_exclude
        if not region and not exclude:
            return True
        if code is None:
            return None
        return (not region or any(code.startswith(p) for p in region)) and not any(code.startswith(p) for p in exclude)

    def delivery_for(self, facts: dict[str, Any], as_of: date) -> str:
        """``delivery_expr`` for one enterprise."""
        (_, mode), *earlier = reversed(self.delivery_rules)
        chosen = SAFETY.index(mode)
        for when, mode in earlier:
            assert when is not None  # only the last rule leaves out its condition
            held = condition_value(when, facts, as_of)
            here = SAFETY.index(mode)
            chosen = here if held else max(here, chosen) if held is None else chosen
        return SAFETY[chosen]

    def eligible(self, facts: dict[str, Any], as_of: date) -> bool | None:
        return kleene_and([self.in_region(facts), condition_value(self.eligibility, facts, as_of)])

    def amount_for(self, facts: dict[str, Any], as_of: date) -> float | None:
        amount: float | None = evaluate(self.amount.node, facts, as_of)
        if self.count is not None:
            count = evaluate(self.count.node, facts, as_of)
            amount = None if amount is None or count is None else amount * count
        return amount

"""What the analysis reports: findings, regions of fact space, and witnesses in the catalogue's units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Literal

import z3

from features.profiles.catalogue import fact as catalogue_fact
from policies.analysis.smt import Encoder
from policies.render import Lang, format_value

__all__ = ["ERRORS", "Finding", "Region", "SemanticDiff", "Witness", "witness_from_model", "witness_sentence"]

# The findings that stop `huiqi policies check`; every other code is a warning.
ERRORS = frozenset({"never-eligible", "amount-undefined"})

Witness = dict[str, object]


@dataclass(frozen=True)
class Finding:
    code: str  # e.g. "never-eligible", "amount-negative", "group-disjoint"
    severity: Literal["error", "warning"]
    policy_id: str
    line: int | None
    column: int | None
    message_zh: str
    message_en: str
    witness: Witness | None  # one enterprise's facts (catalogue units) and the evaluation date ``as_of``
    acknowledged: str | None = None  # the reason, when the policy file acknowledges the finding
    file: str | None = None
    version: int | None = None
    other_policy: str | None = None  # the second policy of a relation check
    witness_zh: str | None = None
    witness_en: str | None = None

    def where(self) -> str:
        parts = [self.file or self.policy_id]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Region:
    """A part of fact space, as a readable condition and one enterprise inside it."""

    condition_zh: str
    condition_en: str
    witness: Witness
    profiles: int | None = None  # how many of the given profiles fall in it (semantic diff with profiles)


@dataclass(frozen=True)
class SemanticDiff:
    admitted: list[Region]  # eligible under the new version, not under the old
    refused: list[Region]  # eligible under the old version, not under the new
    amount_change_zh: str | None
    amount_change_en: str | None
    complete: bool = True  # False: more regions exist than listed, or a solver gave up
    amount_witness: Witness | None = None  # an enterprise eligible under both whose amount differs
    impact: dict[str, object] | None = None  # counts and sums on profiles (api.service.impact), when given


def _python(value: z3.ExprRef, kind: str) -> object:
    if kind == "bool":
        return z3.is_true(value)
    if kind == "str":
        return value.as_string() if isinstance(value, z3.SeqRef) else str(value)
    if kind == "date":
        return date.fromordinal(value.as_long())
    if isinstance(value, z3.AlgebraicNumRef):
        value = value.approx(12)
    if isinstance(value, z3.RatNumRef):
        exact: Fraction = value.as_fraction()
        if kind == "int" or exact.denominator == 1:
            return int(exact)
        return float(exact)
    if isinstance(value, z3.IntNumRef):
        return value.as_long()
    raise ValueError(f"no value for {value}")


def witness_from_model(model: z3.ModelRef, enc: Encoder) -> Witness:
    """The enterprise a model describes: each fact read, None where the model leaves it unknown."""
    facts: Witness = {}
    for name in sorted(enc.values):
        known = z3.is_true(model.eval(enc.known[name], model_completion=True))
        value = model.eval(enc.values[name], model_completion=True)
        codes = enc.codes(name)
        if codes is not None:
            facts[name] = codes.text(value.as_long()) if known else None
        else:
            facts[name] = _python(value, enc.kinds[name]) if known else None
    facts["as_of"] = date.fromordinal(model.eval(enc.as_of, model_completion=True).as_long())
    return facts


def witness_sentence(witness: Witness, lang: Lang) -> str:
    """ "An enterprise with …, evaluated on …" in Chinese or English."""
    parts = []
    for name, value in witness.items():
        if name == "as_of":
            continue
        f = catalogue_fact(name)
        label = f.zh if lang == "zh" else f.en
        parts.append(
            f"{label}为{format_value(value, f, 'zh')}" if lang == "zh" else f"{label} {format_value(value, f, 'en')}"
        )
    day = witness.get("as_of")
    if lang == "zh":
        return "例如一家企业：" + "，".join(parts) + (f"（评估日{day}）" if day else "")
    return "e.g. an enterprise with " + ", ".join(parts) + (f" (as of {day})" if day else "")

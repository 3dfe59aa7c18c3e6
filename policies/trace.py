"""The tracer: one enterprise through one policy, condition by condition.

It records, for every condition, the facts read (value, registry, period),
the operator and threshold of a simple comparison, and the three-valued
result, and renders each as a sentence in Chinese and English. It evaluates
with ``policies.language.evaluate``, which agrees with the bulk compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from features.profiles.catalogue import Fact
from features.profiles.catalogue import fact as catalogue_fact
from features.registries.schema import REGISTRIES
from policies.compiled import CompiledPolicy
from policies.conditions import Condition, Leaf, combine, fact_comparison
from policies.language import ast
from policies.language.evaluate import evaluate, kleene_and
from policies.model import Text
from policies.render import OPERATOR_WORDS, RESULT_WORDS, Lang, format_value

__all__ = ["ConditionTrace", "FactUse", "PolicyTrace", "trace"]

_GROUP_WORDS = {
    "all": {"zh": "同时满足以下全部条件", "en": "all of the following"},
    "any": {"zh": "满足以下任一条件", "en": "any of the following"},
    "not": {"zh": "不满足以下条件", "en": "none of the following"},
}


_ATTESTERS = {
    "enterprise": {"zh": "企业", "en": "the enterprise"},
    "officer": {"zh": "工作人员", "en": "an officer"},
    "department": {"zh": "有关部门", "en": "a department"},
}


# FactUse and ConditionTrace are built anew for every condition of every explanation the service writes: named
# tuples, immutable as frozen dataclasses are, cost a third of their construction.
class FactUse(NamedTuple):
    name: str
    value: Any
    zh: str
    en: str
    registries: tuple[str, ...]
    period: str
    lineage: Text | None = None  # an accepted attestation gave the value: who supplied it, who accepted it
    attested_by: tuple[str, ...] = ()  # a declared fact: who may attest it

    def source(self, lang: Lang, as_of: date) -> str:
        if self.lineage is not None:
            return f"来源：{self.lineage.zh}" if lang == "zh" else f"source: {self.lineage.en}"
        return _source(self.registries, self.attested_by, self.period, lang, as_of)


# The same few words for every enterprise (per fact and as-of date), asked twice per fact in each explanation.
@lru_cache(maxsize=4096)
def _source(registries: tuple[str, ...], attested_by: tuple[str, ...], period: str, lang: Lang, as_of: date) -> str:
    if not registries:  # a declared fact nobody has attested yet
        who = [_ATTESTERS[a][lang] for a in attested_by]
        return (
            f"来源：无共享数据，须由{'或'.join(who)}提供"
            if lang == "zh"
            else f"source: no registry holds it; {' or '.join(who)} must attest it"
        )
    names = [getattr(REGISTRIES[r], lang) for r in registries]
    period = period.replace("as_of", str(as_of))  # "as of as_of" would name a variable, not a date
    return (
        f"来源：{'、'.join(names)}，截至{as_of}"
        if lang == "zh"
        else f"source: {', '.join(names)}, as of {as_of} ({period})"
    )


@dataclass(frozen=True)
class Comparison:
    """A leaf of the form ``fact OP constant``: enough to say how far off it is."""

    fact: str
    op: str
    threshold: Any

    @cached_property  # one comparison per leaf of a compiled policy: its threshold put in words once
    def threshold_words(self) -> dict[str, str]:
        f = catalogue_fact(self.fact)
        return {lang: format_value(self.threshold, f, lang) for lang in ("zh", "en")}

    def gap(self, value: Any) -> float | None:
        """How much the fact must change to pass (positive: increase, negative: decrease)."""
        if not isinstance(value, int | float) or not isinstance(self.threshold, int | float) or isinstance(value, bool):
            return None
        if self.op in (">=", ">"):
            return max(self.threshold - value, 0.0)
        if self.op in ("<=", "<"):
            return min(self.threshold - value, 0.0)
        return None


class ConditionTrace(NamedTuple):
    result: bool | None
    label: Text | None
    text: str | None = None  # the leaf's expression
    facts: tuple[FactUse, ...] = ()
    comparison: Comparison | None = None
    op: str | None = None  # all / any / not for a group
    children: tuple[ConditionTrace, ...] = ()

    def leaves(self) -> list[ConditionTrace]:
        return [self] if self.op is None else [leaf for c in self.children for leaf in c.leaves()]

    def sentence(self, lang: Lang, as_of: date) -> str:
        verdict = RESULT_WORDS[self.result][lang]
        if self.op is not None:
            head = self.label.zh if self.label and lang == "zh" else self.label.en if self.label else None
            return (
                f"{head or _GROUP_WORDS[self.op][lang]}: {verdict}"
                if lang == "en"
                else f"{head or _GROUP_WORDS[self.op][lang]}：{verdict}"
            )
        label = (self.label.zh if lang == "zh" else self.label.en) if self.label else self.text
        if self.comparison is not None and self.facts:
            use = self.facts[0]
            f = catalogue_fact(use.name)
            value = format_value(use.value, f, lang)
            op, threshold = OPERATOR_WORDS[self.comparison.op], self.comparison.threshold_words[lang]
            detail = (
                f"{use.zh}为{value}，要求{op}{threshold}"
                if lang == "zh"
                else f"{use.en} is {value}, needs {op} {threshold}"
            )
        else:
            detail = ("；" if lang == "zh" else "; ").join(
                f"{u.zh}为{format_value(u.value, catalogue_fact(u.name), lang)}"
                if lang == "zh"
                else f"{u.en} = {format_value(u.value, catalogue_fact(u.name), lang)}"
                for u in self.facts
            )
        sources = "; ".join(dict.fromkeys(u.source(lang, as_of) for u in self.facts))
        if lang == "zh":
            return f"{label}：{verdict}（{detail}；{sources}）" if detail else f"{label}：{verdict}"
        return f"{label}: {verdict} ({detail}; {sources})" if detail else f"{label}: {verdict}"


@dataclass(frozen=True)
class PolicyTrace:
    policy_id: str
    version: int
    title: Text
    as_of: date
    in_region: bool | None
    eligible: bool | None
    amount: float | None
    conditions: ConditionTrace
    amount_facts: tuple[FactUse, ...] = field(default=())
    # Paid once per certificate: the certificate's number and the start of its validity (the benefit's key).
    certificate: tuple[FactUse, ...] = field(default=())

    def lines(self, lang: Lang) -> list[str]:
        out: list[str] = []

        def walk(node: ConditionTrace, depth: int) -> None:
            out.append("  " * depth + node.sentence(lang, self.as_of))
            for child in node.children:
                walk(child, depth + 1)

        walk(self.conditions, 0)
        if self.certificate:
            out.append(self.certificate_line(lang))
        return out

    def certificate_line(self, lang: Lang) -> str:
        """Which certificate the benefit is paid for: 证书 GR202344001234（2023-12-01 起有效）."""
        number, start = self.certificate
        since = f"（{start.value} 起有效）" if lang == "zh" else f" (valid from {start.value})"
        if number.value is None:
            return (
                f"证书编号：未知，须补充后方可发放（{number.source(lang, self.as_of)}）"
                if lang == "zh"
                else f"certificate number: unknown; needed before it can be paid ({number.source(lang, self.as_of)})"
            )
        named = f"证书 {number.value}" if lang == "zh" else f"certificate {number.value}"
        return named + (since if start.value else "")

    def unknown_facts(self) -> list[str]:
        """Facts whose absence leaves a condition or, for an enterprise not excluded, the amount unknown: what to
        ask the enterprise for."""
        names = [
            u.name for leaf in self.conditions.leaves() if leaf.result is None for u in leaf.facts if u.value is None
        ]
        if self.amount is None and self.eligible is not False:
            names += [u.name for u in self.amount_facts if u.value is None]
        if self.certificate and self.certificate[0].value is None and self.eligible is not False:
            names.append(self.certificate[0].name)  # the key of a per-certificate benefit: never paid without it
        return list(dict.fromkeys(names))

    def failing(self) -> list[ConditionTrace]:
        return [leaf for leaf in self.conditions.leaves() if leaf.result is False]


def _fact_uses(
    names: frozenset[str] | set[str], facts: dict[str, Any], lineage: Mapping[str, Text] | None = None
) -> tuple[FactUse, ...]:
    return _uses(tuple(catalogue_fact(name) for name in sorted(names)), facts, lineage)


def _uses(known: tuple[Fact, ...], facts: dict[str, Any], lineage: Mapping[str, Text] | None) -> tuple[FactUse, ...]:
    given = lineage or {}
    return tuple(
        FactUse(f.name, facts.get(f.name), f.zh, f.en, f.registries, f.period, given.get(f.name), f.attested_by)
        for f in known
    )


def _comparison(node: ast.Node) -> Comparison | None:
    found = fact_comparison(node)
    return None if found is None else Comparison(found[0], found[1], evaluate(found[2], {}, date.min))


@dataclass(frozen=True)
class _LeafPlan:
    """What a leaf's trace needs that no enterprise changes: its comparison and its facts in the catalogue."""

    comparison: Comparison | None
    facts: tuple[Fact, ...]  # by name


# Leaf plans by the leaf's id; the leaf is kept beside its plan, so that no other object can take its id while
# the entry lives. Compiled policies live as long as their catalogue: cleared wholesale should reloads pile up.
_PLANS: dict[int, tuple[Leaf, _LeafPlan]] = {}
_MAX_PLANS = 8192


def _plan(leaf: Leaf) -> _LeafPlan:
    found = _PLANS.get(id(leaf))
    if found is not None and found[0] is leaf:
        return found[1]
    comparison = _comparison(leaf.expr.node)
    if comparison is not None and comparison.fact == "as_of":
        comparison = None
    plan = _LeafPlan(comparison, tuple(catalogue_fact(name) for name in sorted(leaf.expr.facts)))
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(leaf)] = (leaf, plan)
    return plan


def _trace(
    cond: Condition, facts: dict[str, Any], as_of: date, lineage: Mapping[str, Text] | None = None
) -> ConditionTrace:
    if isinstance(cond, Leaf):
        plan = _plan(cond)
        result = evaluate(cond.expr.node, facts, as_of)
        return ConditionTrace(result, cond.label, cond.expr.text, _uses(plan.facts, facts, lineage), plan.comparison)
    children = tuple(_trace(c, facts, as_of, lineage) for c in cond.children)
    return ConditionTrace(combine(cond.op, [c.result for c in children]), cond.label, op=cond.op, children=children)


def trace(
    policy: CompiledPolicy, facts: dict[str, Any], as_of: date, lineage: Mapping[str, Text] | None = None
) -> PolicyTrace:
    """Explain ``policy`` for one enterprise's ``facts`` (a profile row as a dict); ``lineage``: for the facts an
    accepted attestation gave, who supplied and who accepted them (api/service/supplied_facts.py)."""
    conditions = _trace(policy.eligibility, facts, as_of, lineage)
    in_region = policy.in_region(facts)
    eligible = kleene_and([in_region, conditions.result])
    amount_names = policy.amount.facts | (policy.count.facts if policy.count else frozenset())
    certificate: tuple[FactUse, ...] = ()
    if number := policy.policy.benefit.certificate:  # number first, then the start of its validity
        certificate = tuple(
            sorted(_fact_uses(policy.certificate_facts, facts, lineage), key=lambda u: u.name != number)
        )
        if eligible and certificate[0].value is None:
            eligible = None  # as matcher.decide: eligible, but the benefit cannot be keyed, so it needs data
    return PolicyTrace(
        policy.id,
        policy.version,
        policy.policy.title,
        as_of,
        in_region,
        eligible,
        policy.amount_for(facts, as_of),
        conditions,
        _fact_uses(amount_names, facts, lineage),
        certificate,
    )

"""The checks: what a policy, or a pair of related policies, can never or always do.

Every query is asked under the same assumptions: the facts' domains
(``domains``), and an evaluation date inside the policy's effective period.
A finding that claims an enterprise exists carries one (a witness), run
through the tracer before it is shown; a finding that claims "never" or
"always" is a proof (the solver found no counterexample). When the solver
gives up (a timeout on non-linear arithmetic) or an expression is not
translated, the check says "not analysed" instead of claiming either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import combinations
from typing import Literal

import z3

from policies.analysis.domains import DATE_WINDOW
from policies.analysis.findings import ERRORS, Finding, Witness, witness_from_model, witness_sentence
from policies.analysis.smt import Encoder, Truth, Unsupported, Val, kleene_all, kleene_any
from policies.compiled import CompiledPolicy
from policies.conditions import Condition, Group, Leaf, leaves, walk
from policies.errors import Location
from policies.trace import trace

__all__ = ["PolicyFormula", "analyse", "analyse_draft", "solve"]

_RETRIES = 3  # models tried when the evaluator disagrees with one (a value on a float rounding boundary)

Outcome = Literal["sat", "unsat", "unknown"]


def solve(enc: Encoder, *formulas: z3.BoolRef) -> tuple[Outcome, z3.ModelRef | None]:
    """Whether ``formulas`` can hold together under the encoder's domains, and a model when they can.

    One incremental solver per encoder: the domains are asserted once and each query is pushed and popped.
    A model found earlier that already satisfies the query answers it without solving (most "can this
    happen" queries of one policy share their answers)."""
    for model, asserted in reversed(enc.models):
        checks = [*formulas, *enc.constraints[asserted:]]
        if all(z3.is_true(model.eval(f, model_completion=True)) for f in checks):
            return "sat", model
    solver = enc.solver
    solver.push()
    try:
        solver.add(*formulas)
        result = solver.check()
        if result == z3.sat:
            model = solver.model()
            enc.models.append((model, len(enc.constraints)))
            del enc.models[:-_CACHED_MODELS]
            return "sat", model
        return ("unsat", None) if result == z3.unsat else ("unknown", None)
    finally:
        solver.pop()


_CACHED_MODELS = 4


@dataclass
class PolicyFormula:
    """One policy version's eligibility and amount over an encoder's facts."""

    policy: CompiledPolicy
    enc: Encoder
    in_force: z3.BoolRef  # as_of inside the effective period
    region: Truth
    conditions: Truth | None  # None when not translated
    amount: Val | None
    problem: str | None = None  # why something was not translated

    @classmethod
    def build(cls, policy: CompiledPolicy, enc: Encoder | None = None) -> PolicyFormula:
        enc = enc or Encoder(policy.kinds)
        eff = policy.policy.effective
        end = min(eff.end or DATE_WINDOW[1], DATE_WINDOW[1])
        in_force = z3.And(enc.as_of >= max(eff.start, DATE_WINDOW[0]).toordinal(), enc.as_of <= end.toordinal())
        region = enc.in_region(policy.policy.region, policy.policy.region_exclude)
        problem = None
        try:
            conditions: Truth | None = enc.condition(policy.eligibility)
        except Unsupported as exc:
            conditions, problem = None, str(exc)
        try:
            amount: Val | None = enc.value(policy.amount.node)
            if policy.count is not None and amount is not None:
                count = enc.value(policy.count.node)
                amount = Val(z3.And(amount.defined, count.defined), amount.value * count.value, "number")
        except Unsupported as exc:
            amount, problem = None, problem or str(exc)
        return cls(policy, enc, in_force, region, conditions, amount, problem)

    @property
    def eligible(self) -> Truth:
        assert self.conditions is not None
        return kleene_all([self.region, self.conditions])


# Witnesses: found by the solver, confirmed by the tracer.


def _confirmed(
    enc: Encoder, formulas: Sequence[z3.BoolRef], holds: Callable[[Witness], bool]
) -> tuple[Outcome, Witness | None]:
    """A model of ``formulas`` whose witness the evaluator confirms (``holds``); "sat" with None when the
    solver finds models the evaluator never confirms (float rounding)."""
    extra: list[z3.BoolRef] = []
    for _ in range(_RETRIES):
        outcome, model = solve(enc, *formulas, *extra)
        if model is None:
            return (outcome, None) if not extra else ("sat", None)
        witness = witness_from_model(model, enc)
        if holds(witness):
            return "sat", witness
        extra.append(z3.Or([v != model.eval(v, model_completion=True) for v in enc.values.values()]))
    return "sat", None


def _facts(witness: Witness) -> tuple[dict[str, object], date]:
    facts = {k: v for k, v in witness.items() if k != "as_of"}
    as_of = witness["as_of"]
    assert isinstance(as_of, date)
    return facts, as_of


def traced(policy: CompiledPolicy, witness: Witness) -> tuple[bool | None, float | None]:
    """Eligibility and amount of ``policy`` for the witness, by the tracer."""
    facts, as_of = _facts(witness)
    result = trace(policy, facts, as_of)
    return result.eligible, result.amount


# Wording.

_WORDS: dict[str, tuple[str, str]] = {
    "never-eligible": (
        "在生效期内任何企业都不可能符合资格条件",
        "no enterprise can ever be eligible while it is in force",
    ),
    "always-eligible": (
        "适用地区内数据齐全的企业一律符合资格条件：条件没有筛选作用",
        "every enterprise in its region with known facts is eligible: the conditions select nobody out",
    ),
    "condition-redundant": ("此条件被同组其他条件蕴含，可删除", "this condition is implied by the others of its group"),
    "condition-contradicts": (
        "此条件与同组其他条件矛盾，该组永远不成立",
        "this condition contradicts the others of its group: the group never holds",
    ),
    "condition-never-true": ("此条件永远不成立", "this condition can never hold"),
    "condition-always-true": ("数据齐全时此条件永远成立", "this condition always holds when its facts are known"),
    "amount-negative": ("符合资格的企业金额可能为负数", "the amount can be negative for an eligible enterprise"),
    "amount-zero": ("符合资格的企业金额可能为零", "the amount can be zero for an eligible enterprise"),
    "amount-undefined": (
        "数据齐全且符合资格的企业金额仍无法计算（如除以零）",
        "the amount is undefined for an eligible enterprise whose facts are all known (e.g. division by zero)",
    ),
    "amount-unknown": (
        "企业符合资格时金额可能因缺少数据而未知",
        "the amount can be unknown (data missing) for an eligible enterprise",
    ),
    "not-analysed": ("未能分析", "not analysed"),
}


def _finding(
    code: str,
    p: CompiledPolicy,
    where: Location,
    witness: Witness | None,
    *,
    zh: str | None = None,
    en: str | None = None,
    other: str | None = None,
) -> Finding:
    base_zh, base_en = _WORDS.get(code, ("", ""))
    return Finding(
        code=code,
        severity="error" if code in ERRORS else "warning",
        policy_id=p.id,
        line=where.line,
        column=where.column,
        message_zh=zh or base_zh,
        message_en=en or base_en,
        witness=witness,
        file=where.file or p.file,
        version=p.version,
        other_policy=other,
        witness_zh=witness_sentence(witness, "zh") if witness else None,
        witness_en=witness_sentence(witness, "en") if witness else None,
    )


def _not_analysed(p: CompiledPolicy, what: str, why: str) -> Finding:
    return _finding(
        "not-analysed",
        p,
        p.location("eligibility"),
        None,
        zh=f"未能分析{what}：{why}",
        en=f"{what} not analysed: {why}",
    )


# Single-policy checks.


def check_policy(p: CompiledPolicy) -> list[Finding]:
    f = PolicyFormula.build(p)
    if f.conditions is None:
        return [_not_analysed(p, "eligibility", f.problem or "")]
    enc, base = f.enc, [f.in_force]
    found: list[Finding] = []
    where = p.location("eligibility")

    outcome, _ = solve(enc, *base, f.eligible.true)
    if outcome == "unsat":
        return [_finding("never-eligible", p, where, None)]
    if outcome == "unknown":
        return [_not_analysed(p, "eligibility", "the solver gave up (time limit)")]

    all_known = z3.And([enc.known[n] for n in enc.values])
    if solve(enc, *base, all_known, f.region.true, z3.Not(f.eligible.true))[0] == "unsat":
        found.append(_finding("always-eligible", p, where, None))

    found += _condition_checks(p, f)
    found += _amount_checks(p, f)
    return found


def _condition_checks(p: CompiledPolicy, f: PolicyFormula) -> list[Finding]:
    enc, base = f.enc, [f.in_force]
    found: list[Finding] = []
    places = dict((id(node), path) for node, path in walk(p.eligibility))
    for group, _ in walk(p.eligibility):
        if not isinstance(group, Group) or group.op == "not" or len(group.children) < 2:
            continue
        truths = [enc.condition(c) for c in group.children]
        # When the whole group can hold, none of its conditions is never true or contradicts the others.
        holds = group.op == "all" and solve(enc, *base, kleene_all(truths).true)[0] == "sat"
        for i, child in enumerate(group.children):
            own = truths[i]
            others = [t for j, t in enumerate(truths) if j != i]
            where = p.location(*places[id(child)])
            label = _describe(child)
            if not holds and solve(enc, *base, own.true)[0] == "unsat":
                found.append(_finding("condition-never-true", p, where, None, **_about("condition-never-true", label)))
                continue
            if group.op == "all":
                rest = kleene_all(others)
                if solve(enc, *base, rest.true, z3.Not(own.true))[0] == "unsat":
                    found.append(
                        _finding("condition-redundant", p, where, None, **_about("condition-redundant", label))
                    )
                elif (
                    not holds
                    and solve(enc, *base, rest.true)[0] == "sat"
                    and solve(enc, *base, rest.true, own.true)[0] == "unsat"
                ):
                    found.append(
                        _finding("condition-contradicts", p, where, None, **_about("condition-contradicts", label))
                    )
            else:
                rest = kleene_any(others)
                if solve(enc, *base, own.true, z3.Not(rest.true))[0] == "unsat":
                    found.append(
                        _finding("condition-redundant", p, where, None, **_about("condition-redundant", label))
                    )
    for leaf, path in walk(p.eligibility):
        if not isinstance(leaf, Leaf):
            continue
        truth = enc.condition(leaf)
        known = z3.And([enc.known[n] for n in leaf.expr.facts])
        if solve(enc, *base, known, z3.Not(truth.true))[0] == "unsat":
            where = p.location(*path)
            found.append(_finding("condition-always-true", p, where, None, **_about("condition-always-true", leaf)))
    return found


def _describe(cond: Condition) -> tuple[str, str]:
    if cond.label is not None:
        return cond.label.zh, cond.label.en
    if isinstance(cond, Leaf):
        return cond.expr.text, cond.expr.text
    first = leaves(cond)[0]
    return f"含“{_describe(first)[0]}”的条件组", f"the group holding '{_describe(first)[1]}'"


def _about(code: str, label: tuple[str, str] | Condition) -> dict[str, str]:
    zh, en = _describe(label) if isinstance(label, Leaf | Group) else label
    base_zh, base_en = _WORDS[code]
    return {"zh": f"“{zh}”：{base_zh}", "en": f"'{en}': {base_en}"}


def _amount_checks(p: CompiledPolicy, f: PolicyFormula) -> list[Finding]:
    if f.amount is None:
        return [_not_analysed(p, "amount", f.problem or "")]
    enc, amount = f.enc, f.amount
    where = p.amount.location
    base = [f.in_force, f.eligible.true]
    found: list[Finding] = []
    reads = p.amount.facts | (p.count.facts if p.count else frozenset())
    all_known = z3.And([enc.known[n] for n in reads if n in enc.known])

    def eligible(check: Callable[[float | None], bool]) -> Callable[[Witness], bool]:
        def holds(w: Witness) -> bool:
            verdict, value = traced(p, w)
            return verdict is True and check(value)

        return holds

    queries: list[tuple[str, list[z3.BoolRef], Callable[[Witness], bool]]] = [
        ("amount-undefined", [all_known, z3.Not(amount.defined)], eligible(lambda v: v is None)),
        ("amount-negative", [amount.defined, amount.value < 0], eligible(lambda v: v is not None and v < 0)),
        ("amount-zero", [amount.defined, amount.value == 0], eligible(lambda v: v == 0)),
        ("amount-unknown", [z3.Not(amount.defined)], eligible(lambda v: v is None)),
    ]
    for code, formulas, holds in queries:
        if code == "amount-unknown" and any(x.code == "amount-undefined" for x in found):
            continue
        outcome, witness = _confirmed(enc, [*base, *formulas], holds)
        if outcome == "sat":
            extra = "" if witness else "（未得到求值器确认的实例）"
            extra_en = "" if witness else " (no witness the evaluator confirms)"
            zh, en = _WORDS[code]
            found.append(_finding(code, p, where, witness, zh=zh + extra, en=en + extra_en))
        elif outcome == "unknown":
            found.append(_not_analysed(p, f"the {code} check", "the solver gave up (time limit)"))
    return found


# Pairs of related policies.


Pair = tuple[str, CompiledPolicy, CompiledPolicy, Location, str]


def _pairs(policies: Sequence[CompiledPolicy]) -> Iterator[Pair]:
    """(kind, a, b, where, cluster) for every pair of versions related by a group, excludes or requires; the
    pairs of one cluster (an exclusive group) share one encoder."""
    by_id: dict[str, list[CompiledPolicy]] = {}
    for p in policies:
        by_id.setdefault(p.id, []).append(p)
    groups: dict[str, list[CompiledPolicy]] = {}
    for p in policies:
        if p.policy.relations.exclusive_group:
            groups.setdefault(p.policy.relations.exclusive_group, []).append(p)
    for members in groups.values():
        for a, b in combinations(members, 2):
            if a.id != b.id:
                yield (
                    "group",
                    a,
                    b,
                    a.location("relations", "exclusive_group"),
                    f"group:{a.policy.relations.exclusive_group}",
                )
    seen: set[tuple[str, str]] = set()
    for p in policies:
        for kind in ("excludes", "requires"):
            for i, target in enumerate(getattr(p.policy.relations, kind)):
                if kind == "excludes" and (target, p.id) in seen:
                    continue
                seen.add((p.id, target))
                for q in by_id.get(target, []):
                    yield kind, p, q, p.location("relations", kind, i), f"{kind}:{p.id}:{q.id}"


class _Clusters:
    """One encoder per cluster of related policies, and each policy's formula built once in it."""

    def __init__(self) -> None:
        self.encoders: dict[str, Encoder] = {}
        self.formulas: dict[tuple[str, int], PolicyFormula] = {}

    def formula(self, cluster: str, p: CompiledPolicy) -> PolicyFormula:
        enc = self.encoders.setdefault(cluster, Encoder(p.kinds))
        key = (cluster, id(p))
        if key not in self.formulas:
            self.formulas[key] = PolicyFormula.build(p, enc)
        return self.formulas[key]


def check_pair(
    kind: str,
    a: CompiledPolicy,
    b: CompiledPolicy,
    where: Location,
    cluster: str = "",
    clusters: _Clusters | None = None,
) -> list[Finding]:
    clusters = clusters or _Clusters()
    fa, fb = clusters.formula(cluster, a), clusters.formula(cluster, b)
    enc = fa.enc
    if fa.conditions is None or fb.conditions is None:
        return []  # each policy's own check says it was not analysed
    both = [fa.in_force, fb.in_force]
    if solve(enc, *both)[0] == "unsat":
        return []  # never in force on the same day: nothing to resolve between them
    ea, eb = fa.eligible, fb.eligible
    together, _ = solve(enc, *both, ea.true, eb.true)
    names = f"“{a.policy.title.zh}”与“{b.policy.title.zh}”", f"'{a.id}' and '{b.id}'"
    if together == "unsat":
        if kind == "requires":
            return [
                _finding(
                    "requires-never",
                    a,
                    where,
                    None,
                    zh=f"{names[0]}永远不会同时符合资格：所依赖的政策无法满足，本政策永远不会发放",
                    en=f"{names[1]} can never both be eligible: the required policy never holds with this one,"
                    " so it is never paid",
                    other=b.id,
                )
            ]
        code = "group-disjoint" if kind == "group" else "excludes-disjoint"
        return [
            _finding(
                code,
                a,
                where,
                None,
                zh=f"{names[0]}永远不会同时符合资格：互斥关系从不起作用",
                en=f"{names[1]} can never both be eligible: the exclusion never applies",
                other=b.id,
            )
        ]
    if kind == "requires":
        return []
    found: list[Finding] = []
    for x, y, ex, ey in ((a, b, ea, eb), (b, a, eb, ea)):
        if solve(enc, *both, ex.true, z3.Not(ey.true))[0] == "unsat":

            def holds(w: Witness, x: CompiledPolicy = x, y: CompiledPolicy = y) -> bool:
                return traced(x, w)[0] is True and traced(y, w)[0] is True

            _, witness = _confirmed(enc, [*both, ex.true, ey.true], holds)
            found.append(
                _finding(
                    "group-subsumed",
                    a,
                    where,
                    witness,
                    zh=f"凡符合“{x.policy.title.zh}”的企业也都符合“{y.policy.title.zh}”：二者总是同时适用",
                    en=f"every enterprise eligible for '{x.id}' is also eligible for '{y.id}': both always apply",
                    other=b.id,
                )
            )
    return found


def acknowledge(findings: Sequence[Finding], policies: Sequence[CompiledPolicy]) -> list[Finding]:
    """Each warning a policy file acknowledges (``analysis.acknowledge``), with its reason."""
    reasons: dict[tuple[str, str], str] = {}
    for p in policies:
        for ack in p.policy.analysis.acknowledge:
            reasons.setdefault((p.id, ack.check), ack.reason)
    out = []
    for f in findings:
        reason = reasons.get((f.policy_id, f.code)) or (
            reasons.get((f.other_policy, f.code)) if f.other_policy else None
        )
        out.append(replace(f, acknowledged=reason) if reason and f.severity == "warning" else f)
    return out


def analyse(policies: Sequence[CompiledPolicy], *, acknowledged: bool = True) -> list[Finding]:
    """Every finding on ``policies`` (each version alone, then each related pair in force together). With
    ``acknowledged`` (the default) a warning the policy file acknowledges carries its reason in
    ``Finding.acknowledged``; without, the acknowledgements are ignored. Nothing is dropped either way."""
    found: list[Finding] = []
    for p in policies:
        found += check_policy(p)
    clusters = _Clusters()
    for pair in _pairs(policies):
        found += check_pair(*pair, clusters=clusters)
    return acknowledge(found, policies) if acknowledged else found


def analyse_draft(draft: CompiledPolicy, catalogue: Sequence[CompiledPolicy]) -> list[Finding]:
    """The findings about one draft: its own checks, and its relations with the catalogue's policies (the draft
    replacing the catalogue's version of the same id and number)."""
    others = [p for p in catalogue if (p.id, p.version) != (draft.id, draft.version)]
    policies = [*others, draft]
    found = check_policy(draft)
    clusters = _Clusters()
    for pair in _pairs(policies):
        if pair[1] is draft or pair[2] is draft:
            found += check_pair(*pair, clusters=clusters)
    return acknowledge(found, policies)

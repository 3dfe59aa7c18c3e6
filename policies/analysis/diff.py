"""Semantic diff of two versions of a policy: which enterprises a new version admits or refuses, as conditions.

The regions are found over enterprises whose facts are all known (who moves
between eligible and "needs data" is the impact's to count): the solver finds
an enterprise eligible under one version and not the other, the description
is the truth value of every condition of both versions for it, and each
condition whose value does not matter is dropped (the rest still proves the
change), so what remains reads as "layoff rate > 2 % and ≤ 5.5 % and …".
Each region is then excluded and the next one sought, up to ``MAX_REGIONS``.
Every region's witness is run through the tracer. With profiles, each region
counts the profiles inside it (polars, one pass per region).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl
import z3

from policies.analysis.checks import PolicyFormula, solve, traced
from policies.analysis.findings import Region, SemanticDiff, Witness, witness_from_model
from policies.analysis.smt import Encoder, Truth
from policies.compiled import CompiledPolicy
from policies.conditions import Condition, Group, Leaf, condition_to_polars, walk
from policies.language import ast

__all__ = ["MAX_REGIONS", "diff_versions"]

MAX_REGIONS = 6  # per direction; a diff listing more is reported incomplete

_FLIP = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!=", "!=": "=="}


State = Literal["true", "false", "unknown", "not-true"]  # "not-true": false or unknown


@dataclass(frozen=True)
class _Atom:
    """A condition of either version (a leaf, a group both versions share, or a region), three-valued."""

    key: str
    truth: Truth
    cond: Condition | None  # None: a region
    policy: CompiledPolicy  # where it is written (the region of which version)
    shared: bool  # written the same in both versions
    inside_shared: bool = False  # a part of a group both versions share: that group speaks for it

    def formula(self, state: State) -> z3.BoolRef:
        return {
            "true": self.truth.true,
            "false": self.truth.false,
            "unknown": self.truth.unknown,
            "not-true": z3.Not(self.truth.true),
        }[state]

    def state(self, model: z3.ModelRef) -> State:
        if z3.is_true(model.eval(self.truth.true, model_completion=True)):
            return "true"
        return "false" if z3.is_true(model.eval(self.truth.false, model_completion=True)) else "unknown"

    def words(self, state: State) -> tuple[str, str]:
        if self.cond is None:  # a region
            region = ", ".join(self.policy.policy.region)
            excluded = ", ".join(self.policy.policy.region_exclude)
            zh = f"登记区划以 {region or '任意代码'} 开头" + (f"且不以 {excluded} 开头" if excluded else "")
            en = f"registered in {region or 'any division'}" + (f" outside {excluded}" if excluded else "")
        elif isinstance(self.cond, Leaf):
            node, text = self.cond.expr.node, self.cond.expr.text
            if (
                state == "false"
                and isinstance(node, ast.Compare)
                and isinstance(node.left, ast.FactRef)
                and node.op in text
            ):
                flipped = f"{node.left.name} {_FLIP[node.op]} {text[text.index(node.op) + len(node.op) :].strip()}"
                return flipped, flipped
            zh, en = (self.cond.label.zh if self.cond.label else text), text
        else:
            zh, en = (self.cond.label.zh if self.cond.label else self.key), self.key
        if state == "true":
            return zh, en
        if state == "false":
            return f"不满足“{zh}”", f"not ({en})"
        if state == "unknown":
            return f"“{zh}”未知（缺少数据）", f"({en}) unknown"
        return f"并非（{zh}）（不满足或未知）", f"not ({en}) (false or unknown)"


def _key(cond: Condition) -> str:
    if isinstance(cond, Leaf):
        return cond.expr.text
    joined = {"all": " and ", "any": " or ", "not": ""}[cond.op]
    inner = joined.join(_key(c) if isinstance(c, Leaf) else f"({_key(c)})" for c in cond.children)
    return f"not ({inner})" if cond.op == "not" else inner


def _nodes(cond: Condition) -> list[Condition]:
    return [node for node, _ in walk(cond)]


def _atoms(enc: Encoder, old: PolicyFormula, new: PolicyFormula) -> list[_Atom]:
    old_keys = {_key(n) for n in _nodes(old.policy.eligibility)}
    new_keys = {_key(n) for n in _nodes(new.policy.eligibility)}
    shared_keys = old_keys & new_keys
    atoms: dict[str, _Atom] = {}
    for f in (old, new):
        rel = f.policy.policy
        key = f"region:{rel.region}:{rel.region_exclude}"
        if (rel.region or rel.region_exclude) and key not in atoms:
            same = (old.policy.policy.region, old.policy.policy.region_exclude) == (
                new.policy.policy.region,
                new.policy.policy.region_exclude,
            )
            atoms[key] = _Atom(key, f.region, None, f.policy, same)
        for node in _nodes(f.policy.eligibility):
            key = _key(node)
            if key in atoms or (isinstance(node, Group) and key not in shared_keys):
                continue  # a group only one version has is described by its parts
            atoms[key] = _Atom(key, enc.condition(node), node, f.policy, key in shared_keys)
    for node in _nodes(old.policy.eligibility):  # the parts of a shared group
        if isinstance(node, Group) and _key(node) in shared_keys:
            for part in _nodes(node)[1:]:
                atom = atoms.get(_key(part))
                if atom is not None:
                    atoms[atom.key] = _Atom(atom.key, atom.truth, atom.cond, atom.policy, atom.shared, True)
    return list(atoms.values())


Cube = list[tuple[_Atom, State]]


def _generalise(enc: Encoder, base: list[z3.BoolRef], target: z3.BoolRef, cube: Cube) -> Cube:
    """Drop each literal whose value does not matter, or weaken "false" or "unknown" to "not true" when that is
    enough: the rest still implies ``target``."""

    def enough(trial: Cube) -> bool:
        return solve(enc, *base, *(a.formula(st) for a, st in trial), z3.Not(target))[0] == "unsat"

    kept = list(cube)
    # Parts of shared groups first (the group speaks for them), then what both versions share: the change is
    # what should remain.
    for lit in sorted(cube, key=lambda lit: (not lit[0].inside_shared, not lit[0].shared)):
        i = kept.index(lit)
        if enough(kept[:i] + kept[i + 1 :]):
            kept = kept[:i] + kept[i + 1 :]
        elif lit[1] in ("false", "unknown") and enough([*kept[:i], (lit[0], "not-true"), *kept[i + 1 :]]):
            kept[i] = (lit[0], "not-true")
    # "Not true" reads best as "false" where the rest of the region already makes its facts known.
    for i, (atom, state) in enumerate(kept):
        if state == "not-true":
            rest = [a.formula(st) for a, st in kept]
            if solve(enc, *base, *rest, atom.truth.unknown)[0] == "unsat":
                kept[i] = (atom, "false")
    return kept


def _describe(cube: Cube) -> tuple[str, str]:
    changed = [lit for lit in cube if not lit[0].shared] + [lit for lit in cube if lit[0].shared and lit[1] != "true"]
    met = [lit for lit in cube if lit[0].shared and lit[1] == "true"]
    zh = [a.words(st)[0] for a, st in changed]
    en = [a.words(st)[1] for a, st in changed]
    if met:
        zh.append(f"且满足两版共有的其他{len(met)}项条件")
        en.append(f"the {len(met)} other conditions of both versions met")
    return "；".join(zh) or "全部情形", " and ".join(en) or "always"


def _regions(
    enc: Encoder, base: list[z3.BoolRef], goal: z3.BoolRef, atoms: list[_Atom], confirm: Callable[[Witness], bool]
) -> tuple[list[tuple[Region, Cube]], bool]:
    found: list[tuple[Region, Cube]] = []
    blocked: list[z3.BoolRef] = []
    for _ in range(MAX_REGIONS):
        outcome, model = solve(enc, *base, goal, *blocked)
        if outcome == "unsat":
            return found, True
        if model is None:
            return found, False
        cube = _generalise(enc, base, goal, [(a, a.state(model)) for a in atoms])
        literals = [a.formula(st) for a, st in cube]
        witness = _witness(enc, [*base, goal, *literals], model, confirm)
        zh, en = _describe(cube)
        found.append((Region(zh, en, witness or {}), cube))
        blocked.append(z3.Not(z3.And(literals)) if literals else z3.BoolVal(False))
    return found, solve(enc, *base, goal, *blocked)[0] == "unsat"


def _witness(
    enc: Encoder, formulas: list[z3.BoolRef], model: z3.ModelRef, confirm: Callable[[Witness], bool]
) -> Witness | None:
    first = witness_from_model(model, enc)
    if confirm(first):
        return first
    _, again = solve(enc, *formulas)
    if again is not None:
        second = witness_from_model(again, enc)
        if confirm(second):
            return second
    return None


def diff_versions(old: CompiledPolicy, new: CompiledPolicy, profiles: pl.DataFrame | None = None) -> SemanticDiff:
    """What ``new`` changes against ``old`` (two versions of one policy, or a draft against the published one).

    ``profiles`` (optional): count the profiles inside each region, evaluated as of the profiles' date
    (``as_of`` column absent: the new version's start)."""
    enc = Encoder({**old.kinds, **new.kinds})
    fo, fn = PolicyFormula.build(old, enc), PolicyFormula.build(new, enc)
    if fo.conditions is None or fn.conditions is None:
        reason = fo.problem or fn.problem or ""
        return SemanticDiff([], [], f"未能分析：{reason}", f"not analysed: {reason}", complete=False)
    atoms = _atoms(enc, fo, fn)
    base = [fn.in_force]
    eo, en = fo.eligible, fn.eligible

    def admitted_ok(w: Witness) -> bool:
        return traced(new, w)[0] is True and traced(old, w)[0] is not True

    def refused_ok(w: Witness) -> bool:
        return traced(old, w)[0] is True and traced(new, w)[0] is not True

    admitted, done_a = _regions(enc, base, z3.And(en.true, z3.Not(eo.true)), atoms, admitted_ok)
    refused, done_r = _regions(enc, base, z3.And(eo.true, z3.Not(en.true)), atoms, refused_ok)
    change_zh, change_en, amount_witness = _amount_change(enc, fo, fn)
    if profiles is not None:
        as_of = new.policy.effective.start
        if "as_of" in profiles.columns and profiles.height:
            as_of = profiles["as_of"][0]
        admitted = [(_counted(r, cube, profiles, as_of), cube) for r, cube in admitted]
        refused = [(_counted(r, cube, profiles, as_of), cube) for r, cube in refused]
    return SemanticDiff(
        [r for r, _ in admitted],
        [r for r, _ in refused],
        change_zh,
        change_en,
        complete=done_a and done_r,
        amount_witness=amount_witness,
    )


def _amount_change(enc: Encoder, fo: PolicyFormula, fn: PolicyFormula) -> tuple[str | None, str | None, Witness | None]:
    def text(p: CompiledPolicy) -> str:
        return p.amount.text + (f" × {p.count.text}" if p.count else "")

    old_text, new_text = text(fo.policy), text(fn.policy)
    if old_text == new_text:
        return None, None, None
    zh = f"金额由 {old_text} 改为 {new_text}"
    en = f"amount {old_text} → {new_text}"
    if fo.amount is None or fn.amount is None:
        return zh + "（未能分析）", en + " (not analysed)", None
    both = [fn.in_force, fo.eligible.true, fn.eligible.true, fo.amount.defined, fn.amount.defined]
    gap = fn.amount.value - fo.amount.value
    outcome, model = solve(enc, *both, z3.Or(gap >= 1, gap <= -1))  # a difference of a yuan or more reads best
    if model is None:
        outcome, model = solve(enc, *both, gap != 0)
    if outcome == "unsat":
        return zh + "：两版均符合资格的企业金额不变", en + ": the same for every enterprise eligible under both", None
    if model is None:
        return zh, en, None
    w = witness_from_model(model, enc)
    before, after = traced(fo.policy, w)[1], traced(fn.policy, w)[1]
    if before is None or after is None or before == after:
        return zh, en, None
    return (
        zh + f"（例：{before:,.2f} 元 → {after:,.2f} 元，差额 {after - before:+,.2f} 元）",
        en + f" (e.g. {before:,.2f} → {after:,.2f} yuan, {after - before:+,.2f})",
        w,
    )


def _counted(region: Region, cube: Cube, profiles: pl.DataFrame, as_of: date) -> Region:
    """``region`` with the number of profiles inside it: each literal evaluated by the bulk compiler."""
    kinds = cube[0][0].policy.kinds if cube else {}
    parts: list[pl.Expr] = []
    for atom, state in cube:
        expr = atom.policy.in_region_expr() if atom.cond is None else condition_to_polars(atom.cond, kinds, as_of)
        parts.append(
            {
                "true": expr.fill_null(False),
                "false": (~expr).fill_null(False),
                "unknown": expr.is_null(),
                "not-true": ~expr.fill_null(False),
            }[state]
        )
    count = int(profiles.select(pl.all_horizontal(parts).sum()).item()) if parts else profiles.height
    return Region(region.condition_zh, region.condition_en, region.witness, count)

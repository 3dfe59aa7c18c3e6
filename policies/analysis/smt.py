"""Translation of conditions and amounts into z3 formulas over one enterprise's facts.

Each fact is a pair (known, value): ``known`` false is the registry's null.
A condition becomes two formulas, *true* and *false*; neither holding is
*unknown*, so Kleene's logic is exact (and: true when all are true, false when
one is false) and "can this be unknown" is a query like any other. A number,
date or text becomes (defined, value): x / 0, a null fact or if() on an
unknown condition leave it undefined, as the evaluator does.

Numbers are exact rationals here while the evaluator computes in float64: a
witness is always run through the evaluator before it is shown, and a
disagreement (a value on a rounding boundary) is reported, never trusted.
Dates are day numbers (``date.toordinal``); ``as_of`` is a variable bounded
by the policy's effective period. ``years_between`` is not translated: a
formula reading it is "not analysed" (``Unsupported``), never claimed proved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import reduce
from typing import Any

import z3

from policies.analysis.domains import DATE_WINDOW, DOMAINS, Domain
from policies.conditions import Condition, Leaf
from policies.language import ast
from policies.language.types import AS_OF

__all__ = ["Encoder", "Truth", "Unsupported", "Val"]


class Unsupported(Exception):
    """An expression the translation cannot express exactly: checks that need it are skipped."""


@dataclass(frozen=True)
class Truth:
    """A three-valued condition: ``true`` and ``false`` never both hold; neither is unknown."""

    true: z3.BoolRef
    false: z3.BoolRef

    @property
    def known(self) -> z3.BoolRef:
        return z3.Or(self.true, self.false)

    @property
    def unknown(self) -> z3.BoolRef:
        return z3.Not(self.known)


@dataclass(frozen=True)
class Val:
    """A number (Real), date (Int day number) or text (String) that may be undefined (null)."""

    defined: z3.BoolRef
    value: z3.ExprRef
    kind: str  # number | date | str | code (a text fact coded as a whole number: ``codes``)
    codes: Codes | None = None


@dataclass(frozen=True)
class Codes:
    """A text fact held as a whole number, which the solver decides far faster than strings: a closed
    vocabulary as the index of its value; a code of digits (a division, 440305) as its number; a code of a
    letter and digits (an industry, C3911) as the letter's place (A = 0) times 10^digits plus the digits."""

    values: tuple[str, ...] | None = None  # the vocabulary; None: a code of ``digits`` digits
    digits: int = 6
    letter: bool = False

    @property
    def size(self) -> int:
        return len(self.values) if self.values is not None else (26 if self.letter else 1) * 10**self.digits

    def code(self, text: str) -> int:
        """The number standing for ``text``; -1 (no fact takes it) for a text outside the vocabulary or shape."""
        if self.values is not None:
            return int(self.values.index(text)) if text in self.values else -1
        head, rest = (text[:1], text[1:]) if self.letter else ("", text)
        if self.letter and not ("A" <= head <= "Z"):
            return -1
        if len(rest) != self.digits or not rest.isdigit():
            return -1
        return int((ord(head) - 65 if head else 0) * 10**self.digits + int(rest))

    def text(self, code: int) -> str:
        if self.values is not None:
            return self.values[code]
        head = chr(65 + code // 10**self.digits) if self.letter else ""
        return f"{head}{code % 10**self.digits:0{self.digits}d}"

    def prefixed(self, var: z3.ArithRef, prefix: str) -> z3.BoolRef:
        """The coded text starts with ``prefix``."""
        if self.values is not None:
            return z3.Or([var == i for i, v in enumerate(self.values) if v.startswith(prefix)] or [FALSE])
        if not prefix:
            return TRUE
        head, rest = (prefix[:1], prefix[1:]) if self.letter else ("", prefix)
        if (self.letter and not ("A" <= head <= "Z")) or (rest and not rest.isdigit()) or len(rest) > self.digits:
            return FALSE
        scale = 10 ** (self.digits - len(rest))
        low = (ord(head) - 65 if head else 0) * 10**self.digits + (int(rest) if rest else 0) * scale
        return z3.And(var >= low, var < low + scale)


_PREFIX_DOMAINS: dict[str, z3.BoolRef] = {}  # built once: variables of the same name are the same term
_CODED = {
    "division_code": Codes(None, 6, False),
    "industry_code": Codes(None, 4, True),
    "industry_division": Codes(None, 2, True),
}


TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)
TIMEOUT_MS = 3000  # per query; non-linear arithmetic may need it, linear queries take milliseconds
_YEARS = range(1900, 2101)


def kleene_all(items: Iterable[Truth]) -> Truth:
    parts = list(items)
    return Truth(z3.And([p.true for p in parts]), z3.Or([p.false for p in parts]))


def kleene_any(items: Iterable[Truth]) -> Truth:
    parts = list(items)
    return Truth(z3.Or([p.true for p in parts]), z3.And([p.false for p in parts]))


def kleene_not(item: Truth) -> Truth:
    return Truth(item.false, item.true)


def _real(value: float | int) -> z3.ArithRef:
    return z3.RealVal(Fraction(repr(float(value))) if isinstance(value, float) else value)


def _as_real(x: z3.ExprRef) -> z3.ArithRef:
    return z3.ToReal(x) if z3.is_int(x) else x


class Encoder:
    """Builds formulas over one enterprise; every fact read gets its variables and domain once."""

    def __init__(self, kinds: Mapping[str, str], *, window: tuple[date, date] = DATE_WINDOW) -> None:
        self.kinds = kinds
        self.known: dict[str, z3.BoolRef] = {}
        self.values: dict[str, z3.ExprRef] = {}
        self.constraints: list[z3.BoolRef] = []
        self.as_of = z3.Int(AS_OF)
        self.constraints += [self.as_of >= window[0].toordinal(), self.as_of <= window[1].toordinal()]
        self._solver: z3.Solver | None = None
        self._conditions: dict[int, tuple[Condition, Truth]] = {}
        self.models: list[tuple[z3.ModelRef, int]] = []  # recent models, with the constraints they were made under
        self._asserted = 0

    @property
    def solver(self) -> z3.Solver:
        """An incremental solver holding every domain constraint made so far."""
        if self._solver is None:
            self._solver = z3.Solver()
            self._solver.set("timeout", TIMEOUT_MS)
        if self._asserted < len(self.constraints):
            self._solver.add(*self.constraints[self._asserted :])
            self._asserted = len(self.constraints)
        return self._solver

    # Facts and their domains.

    def fact(self, name: str) -> tuple[z3.BoolRef, z3.ExprRef]:
        if name not in self.values:
            kind = self.kinds[name]
            known = z3.Bool(f"known:{name}")
            var: z3.ExprRef
            if kind == "bool":
                var = z3.Bool(name)
            elif kind in ("int", "date"):
                var = z3.Int(name)
            elif kind == "number":
                var = z3.Real(name)
            elif self.codes(name) is not None:
                var = z3.Int(name)
            else:
                var = z3.String(name)
            self.known[name], self.values[name] = known, var
            default = Domain(kind, *DATE_WINDOW) if kind == "date" else Domain(kind)  # year() needs bounds
            self.constraints += self._domain(name, known, var, DOMAINS.get(name, default))
            self._relate(name)
        return self.known[name], self.values[name]

    def _domain(self, name: str, known: z3.BoolRef, var: z3.ExprRef, d: Domain) -> list[z3.BoolRef]:
        found: list[z3.BoolRef] = [known] if d.always_known else []
        if isinstance(d.low, float) and isinstance(d.high, float):
            found += [_as_real(var) >= _real(d.low), _as_real(var) <= _real(d.high)]
        if isinstance(d.low, date) and isinstance(d.high, date):
            found += [var >= d.low.toordinal(), var <= d.high.toordinal()]
        codes = self.codes(name)
        if codes is not None:
            found += [var >= 0, var < codes.size]
            if d.prefixes:  # e.g. a division code under a province; the same formula for every encoder
                if name not in _PREFIX_DOMAINS:
                    _PREFIX_DOMAINS[name] = z3.Or([codes.prefixed(var, p) for p in d.prefixes])
                found.append(_PREFIX_DOMAINS[name])
        elif d.values:
            found.append(z3.Or([var == z3.StringVal(v) for v in d.values]))
        if name in ("established_on",):  # a past event: a date after as_of is quarantined, never in a profile
            found.append(var <= self.as_of)
        return found

    def codes(self, name: str) -> Codes | None:
        """How a text fact is coded as a number, or None when it stays a string (free text, class codes)."""
        if self.kinds.get(name) != "str":
            return None
        if name in _CODED:
            return _CODED[name]
        values = DOMAINS[name].values if name in DOMAINS else None
        return Codes(values) if values else None

    def _relate(self, name: str) -> None:
        """Facts computed from the same record agree, once a formula reads both: the section and division are
        prefixes of the class code, and the age is the time since establishment."""
        industry = {"industry_code": 4, "industry_division": 2, "industry_section": 0}
        if name in industry:
            for other in industry:
                if other == name or other not in self.values:
                    continue
                (fine, short) = (name, other) if industry[name] > industry[other] else (other, name)
                self.constraints.append(self.known[fine] == self.known[short])
                scale = 10 ** (industry[fine] - industry[short])
                if short == "industry_section":
                    letters = DOMAINS["industry_section"].values or ()
                    self.constraints += [
                        z3.Implies(self.values[short] == i, self.values[fine] / 10 ** industry[fine] == ord(v) - 65)
                        for i, v in enumerate(letters)
                    ]
                else:
                    self.constraints.append(self.values[short] == self.values[fine] / scale)
        if name in ("age_years", "established_on") and {"age_years", "established_on"} <= set(self.values):
            self.constraints += [
                self.known["age_years"] == self.known["established_on"],
                self.values["age_years"] * 365.25 == z3.ToReal(self.as_of - self.values["established_on"]),
            ]

    # Conditions.

    def condition(self, cond: Condition) -> Truth:
        """The condition tree's truth (each tree node translated once per encoder)."""
        found = self._conditions.get(id(cond))
        if found is not None and found[0] is cond:
            return found[1]
        if isinstance(cond, Leaf):
            truth = self.truth(cond.expr.node)
        else:
            parts = [self.condition(c) for c in cond.children]
            if cond.op == "not":
                truth = kleene_not(parts[0])
            else:
                truth = kleene_all(parts) if cond.op == "all" else kleene_any(parts)
        self._conditions[id(cond)] = (cond, truth)
        return truth

    def truth(self, node: ast.Node) -> Truth:
        result = self.encode(node)
        if not isinstance(result, Truth):
            raise TypeError(f"not a condition: {node!r}")
        return result

    def value(self, node: ast.Node) -> Val:
        result = self.encode(node)
        if isinstance(result, Truth):
            return Val(result.known, result.true, "bool")
        return result

    def encode(self, node: ast.Node) -> Truth | Val:
        match node:
            case ast.Literal(value=value):
                return _literal(value)
            case ast.FactRef(name=name):
                if name == AS_OF:
                    return Val(TRUE, self.as_of, "date")
                known, var = self.fact(name)
                kind = self.kinds[name]
                if kind == "bool":
                    return Truth(z3.And(known, var), z3.And(known, z3.Not(var)))
                codes = self.codes(name)
                if codes is not None:
                    return Val(known, var, "code", codes)
                shown = {"int": "number", "number": "number", "date": "date", "str": "str"}[kind]
                return Val(known, z3.ToReal(var) if kind == "int" else var, shown)
            case ast.Not(operand=operand):
                return kleene_not(self.truth(operand))
            case ast.Logical(op=op, items=items):
                parts = [self.truth(i) for i in items]
                return kleene_all(parts) if op == "and" else kleene_any(parts)
            case ast.Compare(op=op, left=left, right=right):
                return self.compare(op, self.value(left), self.value(right))
            case ast.In(operand=operand, options=options, negated=negated):
                x = self.value(operand)
                found = z3.Or([_eq(x, _coded(self.value(o), x)) for o in options.items])
                held = z3.Not(found) if negated else found
                return Truth(z3.And(x.defined, held), z3.And(x.defined, z3.Not(held)))
            case ast.Between(operand=operand, low=low, high=high):
                x = self.value(operand)
                return kleene_all([self.compare(">=", x, self.value(low)), self.compare("<=", x, self.value(high))])
            case ast.IsNull(operand=operand, negated=negated):
                defined = self.value(operand).defined
                return Truth(defined, z3.Not(defined)) if negated else Truth(z3.Not(defined), defined)
            case ast.Neg(operand=operand):
                x = self.value(operand)
                return Val(x.defined, -_as_real(x.value), "number")
            case ast.Arith():
                return self.arith(node)
            case ast.Call():
                return self.call(node)
        raise Unsupported(f"cannot translate {type(node).__name__}")

    def compare(self, op: str, a: Val, b: Val) -> Truth:
        a, b = _coded(a, b), _coded(b, a)
        both = z3.And(a.defined, b.defined)
        x, y = a.value, b.value
        if a.kind == "number" or b.kind == "number":
            x, y = _as_real(x), _as_real(y)
        held = _COMPARE[op](x, y)
        return Truth(z3.And(both, held), z3.And(both, z3.Not(held)))

    def arith(self, node: ast.Arith) -> Val:
        a, b = self.value(node.left), self.value(node.right)
        both = z3.And(a.defined, b.defined)
        if a.kind == "date" and b.kind == "date":
            return Val(both, z3.ToReal(a.value - b.value), "number")
        if a.kind == "date":
            days = _truncate(_as_real(b.value))
            return Val(both, a.value + days if node.op == "+" else a.value - days, "date")
        x, y = _as_real(a.value), _as_real(b.value)
        if node.op == "/":
            return Val(z3.And(both, y != 0), x / y, "number")
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda p, q: p + q,
            "-": lambda p, q: p - q,
            "*": lambda p, q: p * q,
        }
        return Val(both, ops[node.op](x, y), "number")

    def call(self, node: ast.Call) -> Truth | Val:
        name, args = node.name, node.args
        if name == "date":
            return Val(TRUE, z3.IntVal(date.fromisoformat(ast.text_of(args[0])).toordinal()), "date")
        if name == "starts_with":
            text = self.value(args[0])
            prefixes = ast.prefixes(args[1])
            if text.codes is not None:
                found = z3.Or([text.codes.prefixed(text.value, p) for p in prefixes])
            else:
                found = z3.Or([z3.PrefixOf(z3.StringVal(p), text.value) for p in prefixes])
            return Truth(z3.And(text.defined, found), z3.And(text.defined, z3.Not(found)))
        if name == "if":
            cond = self.truth(args[0])
            then, other = self.encode(args[1]), self.encode(args[2])
            if isinstance(then, Truth) and isinstance(other, Truth):
                return Truth(
                    z3.Or(z3.And(cond.true, then.true), z3.And(cond.false, other.true)),
                    z3.Or(z3.And(cond.true, then.false), z3.And(cond.false, other.false)),
                )
            t, o = self.value(args[1]), self.value(args[2])
            t, o = _coded(t, o), _coded(o, t)
            if (t.codes is None) != (o.codes is None) or t.codes != o.codes:
                raise Unsupported("if() mixing coded text with other text is not translated")
            tv, ov = (_as_real(t.value), _as_real(o.value)) if "number" in (t.kind, o.kind) else (t.value, o.value)
            defined = z3.Or(z3.And(cond.true, t.defined), z3.And(cond.false, o.defined))
            return Val(defined, z3.If(cond.true, tv, ov), t.kind, t.codes)
        if name == "years_between":
            raise Unsupported("years_between() is not translated")
        vals = [self.value(a) for a in args]
        defined = z3.And([v.defined for v in vals])
        if name in ("min", "max"):
            xs = [_as_real(v.value) for v in vals]
            pick = (lambda p, q: z3.If(p <= q, p, q)) if name == "min" else (lambda p, q: z3.If(p >= q, p, q))
            return Val(defined, reduce(pick, xs), "number")
        if name == "abs":
            x = _as_real(vals[0].value)
            return Val(defined, z3.If(x >= 0, x, -x), "number")
        if name == "round":
            scale = z3.RealVal(10 ** ast.round_digits(args))
            x = _as_real(vals[0].value)
            magnitude = z3.ToReal(z3.ToInt(z3.If(x >= 0, x, -x) * scale + z3.RealVal(Fraction(1, 2)))) / scale
            return Val(defined, z3.If(x >= 0, magnitude, -magnitude), "number")
        if name == "year":
            return Val(defined, z3.ToReal(_year(vals[0].value)), "number")
        if name == "days_between":
            return Val(defined, z3.ToReal(vals[1].value - vals[0].value), "number")
        raise Unsupported(f"function {name}() is not translated")

    # Region of a policy (division prefixes), three-valued like ``CompiledPolicy.in_region``.

    def in_region(self, region: list[str], exclude: list[str]) -> Truth:
        if not region and not exclude:
            return Truth(TRUE, FALSE)
        known, code = self.fact("division_code")
        codes = _CODED["division_code"]
        inside = z3.Or([codes.prefixed(code, p) for p in region]) if region else TRUE
        if exclude:
            inside = z3.And(inside, z3.Not(z3.Or([codes.prefixed(code, p) for p in exclude])))
        return Truth(z3.And(known, inside), z3.And(known, z3.Not(inside)))


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _literal(value: object) -> Truth | Val:
    if isinstance(value, bool):
        return Truth(z3.BoolVal(value), z3.BoolVal(not value))
    if isinstance(value, int | float):
        return Val(TRUE, _real(value), "number")
    if isinstance(value, date):
        return Val(TRUE, z3.IntVal(value.toordinal()), "date")
    return Val(TRUE, z3.StringVal(str(value)), "str")


def _coded(a: Val, like: Val) -> Val:
    """``a`` (a text) coded like ``like`` when that is a coded fact: a written text becomes its number."""
    if like.codes is None or a.codes is not None or a.kind != "str":
        if a.codes is not None and like.codes is not None and a.codes != like.codes:
            raise Unsupported("comparing two differently coded texts is not translated")
        return a
    if not z3.is_string_value(a.value):
        raise Unsupported("comparing a coded text with a computed text is not translated")
    return Val(a.defined, z3.IntVal(like.codes.code(a.value.as_string())), "code", like.codes)


def _eq(a: Val, b: Val) -> z3.BoolRef:
    if a.kind == "number" or b.kind == "number":
        return _as_real(a.value) == _as_real(b.value)
    return a.value == b.value


def _truncate(x: z3.ArithRef) -> z3.ArithRef:
    """int(x) in Python: toward zero (z3's ToInt is floor)."""
    return z3.If(x >= 0, z3.ToInt(x), -z3.ToInt(-x))


def _year(day: z3.ArithRef) -> z3.ArithRef:
    """The calendar year of a day number, over the years dates may take."""
    result: z3.ArithRef = z3.IntVal(_YEARS[-1])
    for y in reversed(_YEARS[:-1]):
        result = z3.If(day < date(y + 1, 1, 1).toordinal(), y, result)
    return result

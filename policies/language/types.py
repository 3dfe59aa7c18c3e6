"""Type checking of expressions against the fact catalogue, when a policy loads.

Kinds are the catalogue's: bool, int, number, str, date. ``int`` is a
``number``. Lists appear only as the literal options of ``in``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from policies.errors import ExpressionError, Location, TypeMismatchError, UnknownFactError, UnknownFunctionError
from policies.language import ast
from policies.limits import MAX_DATE_DAYS, MAX_ROUND_DIGITS

__all__ = ["AS_OF", "FUNCTIONS", "Checked", "FactType", "check"]

AS_OF = "as_of"  # the evaluation date, usable like a date fact
NUMERIC = ("int", "number")


@dataclass(frozen=True)
class Function:
    signature: str
    zh: str
    en: str


FUNCTIONS: dict[str, Function] = {
    "min": Function("min(number, number, ...) -> number", "取最小值", "smallest of the values"),
    "max": Function("max(number, number, ...) -> number", "取最大值", "largest of the values"),
    "round": Function("round(number[, digits]) -> number", "四舍五入", "rounded half away from zero"),
    "abs": Function("abs(number) -> number", "绝对值", "absolute value"),
    "if": Function("if(bool, a, b) -> a", "条件取值", "a when the condition holds, else b"),
    "starts_with": Function("starts_with(str, 'prefix' | ['p1', 'p2']) -> bool", "以…开头", "starts with"),
    "date": Function("date('YYYY-MM-DD') -> date", "日期", "a date"),
    "year": Function("year(date) -> int", "年份", "year of a date"),
    "days_between": Function("days_between(date, date) -> int", "相隔天数", "days from the first date to the second"),
    "years_between": Function(
        "years_between(date, date) -> int", "相隔整年数", "whole years from the first date to the second"
    ),
}


@dataclass(frozen=True)
class FactType:
    kind: str
    values: tuple[str, ...] | None = None  # closed vocabulary of a str fact


@dataclass(frozen=True)
class Checked:
    kind: str
    facts: frozenset[str]  # facts the expression reads


def _loc(node: ast.Node) -> Location:
    return Location(None, node.pos.line, node.pos.column)


def _literal_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, date):
        return "date"
    return "str"


def _describe(node: ast.Node) -> str:
    if isinstance(node, ast.FactRef):
        return f"'{node.name}'"
    if isinstance(node, ast.Literal):
        return repr(node.value)
    return "the expression"


class _Checker:
    def __init__(self, facts: Mapping[str, FactType]) -> None:
        self.facts = facts
        self.kinds = {name: f.kind for name, f in facts.items()}
        self.used: set[str] = set()

    def vocabulary(self, fact: ast.Node, value: ast.Node) -> None:
        """A text fact with a closed vocabulary compared to a value outside it is a typo, not a rule."""
        if not (isinstance(fact, ast.FactRef) and isinstance(value, ast.Literal) and isinstance(value.value, str)):
            return
        values = self.facts[fact.name].values if fact.name in self.facts else None
        if values and value.value not in values:
            near = difflib.get_close_matches(value.value, values, n=1, cutoff=0.4)
            raise ExpressionError(
                f"'{fact.name}' is never {value.value!r}: its values are {', '.join(values)}",
                hint=f"did you mean {near[0]!r}?" if near else f"use one of {', '.join(values)}",
                location=_loc(value),
            )

    def mismatch(self, node: ast.Node, message: str, hint: str) -> TypeMismatchError:
        return TypeMismatchError(message, hint=hint, location=_loc(node))

    def expect(self, node: ast.Node, wanted: tuple[str, ...], role: str) -> str:
        kind = self.kind(node)
        if kind not in wanted:
            raise self.mismatch(
                node,
                f"{role} must be {' or '.join(wanted)}, but {_describe(node)} is {kind}",
                "compare like with like: numbers with numbers, dates with date('2024-01-01'), text with 'quoted text'",
            )
        return kind

    def kind(self, node: ast.Node) -> str:
        if isinstance(node, ast.Literal):
            return _literal_kind(node.value)
        if isinstance(node, ast.FactRef):
            if node.name == AS_OF:
                return "date"
            if node.name not in self.kinds:
                near = difflib.get_close_matches(node.name, [*self.kinds, AS_OF], n=3, cutoff=0.5)
                raise UnknownFactError(
                    f"unknown fact '{node.name}'",
                    hint=(f"did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                    + "`huiqi facts` lists every fact",
                    location=_loc(node),
                )
            self.used.add(node.name)
            return self.kinds[node.name]
        if isinstance(node, ast.Not):
            self.expect(node.operand, ("bool",), "the operand of 'not'")
            return "bool"
        if isinstance(node, ast.Logical):
            for item in node.items:
                self.expect(item, ("bool",), f"each side of '{node.op}'")
            return "bool"
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.In):
            kind = self.kind(node.operand)
            if not node.options.items:
                raise ExpressionError(
                    "the list after 'in' is empty", hint="list at least one value", location=_loc(node.options)
                )
            for item in node.options.items:
                if not isinstance(item, ast.Literal):
                    raise ExpressionError(
                        "the values after 'in' must be written out (literals)",
                        hint="e.g. industry_section in ['C', 'I']",
                        location=_loc(item),
                    )
                if not _compatible(kind, _literal_kind(item.value)):
                    raise self.mismatch(
                        item,
                        f"{_describe(node.operand)} is {kind}, but the list holds "
                        f"{_literal_kind(item.value)} {item.value!r}",
                        f"list values of type {kind}",
                    )
                self.vocabulary(node.operand, item)
            return "bool"
        if isinstance(node, ast.Between):
            kind = self.expect(node.operand, (*NUMERIC, "date"), "the value before 'between'")
            wanted = NUMERIC if kind in NUMERIC else ("date",)
            self.expect(node.low, wanted, "the lower bound of 'between'")
            self.expect(node.high, wanted, "the upper bound of 'between'")
            return "bool"
        if isinstance(node, ast.IsNull):
            self.kind(node.operand)
            return "bool"
        if isinstance(node, ast.Neg):
            return self.expect(node.operand, NUMERIC, "the operand of unary '-'")
        if isinstance(node, ast.Arith):
            return self.arith(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise ExpressionError(
            f"a list cannot stand alone here: {_describe(node)}",
            hint="lists go after 'in', e.g. x in [1, 2]",
            location=_loc(node),
        )

    def compare(self, node: ast.Compare) -> str:
        left, right = self.kind(node.left), self.kind(node.right)
        if not _compatible(left, right):
            raise self.mismatch(
                node,
                f"cannot compare {left} {_describe(node.left)} with {right} {_describe(node.right)} using '{node.op}'",
                "both sides of a comparison must have the same type",
            )
        self.vocabulary(node.left, node.right)
        self.vocabulary(node.right, node.left)
        if node.op not in ("==", "!=") and left in ("str", "bool"):
            raise self.mismatch(
                node,
                f"'{node.op}' does not order {left} values",
                "use == or != for text and yes/no facts, or 'in [...]' for several values",
            )
        return "bool"

    def arith(self, node: ast.Arith) -> str:
        left, right = self.kind(node.left), self.kind(node.right)
        if node.op == "-" and left == right == "date":
            return "int"
        if node.op in "+-" and left == "date" and right == "int":
            if ast.is_constant(node.right):  # a date past year 9999 cannot be computed: refuse it here
                from policies.language.evaluate import evaluate  # evaluate needs this module

                days = evaluate(node.right, {}, date(2000, 1, 1))
                if days is not None and abs(days) > MAX_DATE_DAYS:
                    raise self.mismatch(
                        node.right,
                        f"{days:,.0f} days is more than a date can move: at most {MAX_DATE_DAYS:,} (about a century)",
                        "add days, e.g. as_of - 365; for years compare years_between(date, as_of) instead",
                    )
            return "date"
        if left not in NUMERIC or right not in NUMERIC:
            raise self.mismatch(
                node,
                f"'{node.op}' needs numbers, found {left} {_describe(node.left)} and {right} {_describe(node.right)}",
                "dates allow date - date (days) and date + days; other arithmetic is on numbers",
            )
        return "int" if left == right == "int" and node.op != "/" else "number"

    def call(self, node: ast.Call) -> str:
        name, args = node.name, node.args
        if name not in FUNCTIONS:
            near = difflib.get_close_matches(name, list(FUNCTIONS), n=3, cutoff=0.5)
            raise UnknownFunctionError(
                f"unknown function '{name}'",
                hint=(f"did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                + "functions are: "
                + ", ".join(f.signature for f in FUNCTIONS.values()),
                location=_loc(node),
            )

        def arity(lo: int, hi: int | None) -> None:
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi else f"at least {lo}"
                raise self.mismatch(
                    node, f"{name}() takes {want} arguments, found {len(args)}", FUNCTIONS[name].signature
                )

        if name in ("min", "max"):
            arity(2, None)
            kinds = [self.expect(a, NUMERIC, f"each argument of {name}()") for a in args]
            return "int" if all(k == "int" for k in kinds) else "number"
        if name == "round":
            arity(1, 2)
            self.expect(args[0], NUMERIC, "the value to round")
            if len(args) == 2 and not (isinstance(args[1], ast.Literal) and _literal_kind(args[1].value) == "int"):
                raise self.mismatch(
                    args[1], "the digits of round() must be a whole number written out", "e.g. round(amount, 2)"
                )
            digits = args[1] if len(args) == 2 else None
            if isinstance(digits, ast.Literal) and isinstance(digits.value, int) and digits.value > MAX_ROUND_DIGITS:
                raise ExpressionError(  # a float holds about 15 digits; polars takes no more than u32
                    f"round() keeps at most {MAX_ROUND_DIGITS} digits, found {digits.value}",
                    hint="amounts are rounded to fen: round(amount, 2)",
                    location=_loc(digits),
                )
            return "number"
        if name == "abs":
            arity(1, 1)
            return self.expect(args[0], NUMERIC, "the argument of abs()")
        if name == "if":
            arity(3, 3)
            self.expect(args[0], ("bool",), "the condition of if()")
            a, b = self.kind(args[1]), self.kind(args[2])
            if not _compatible(a, b):
                raise self.mismatch(node, f"if() branches differ: {a} and {b}", "both branches need the same type")
            return "number" if {a, b} == {"int", "number"} else a
        if name == "starts_with":
            arity(2, 2)
            self.expect(args[0], ("str",), "the first argument of starts_with()")
            prefixes = args[1].items if isinstance(args[1], ast.ListLit) else (args[1],)
            for p in prefixes:
                if not (isinstance(p, ast.Literal) and isinstance(p.value, str)):
                    raise self.mismatch(
                        p,
                        "starts_with() prefixes must be quoted text",
                        "e.g. starts_with(industry_code, ['C39', 'I65'])",
                    )
            return "bool"
        if name == "date":
            arity(1, 1)
            arg = args[0]
            if not (isinstance(arg, ast.Literal) and isinstance(arg.value, str)):
                raise self.mismatch(arg, "date() takes a quoted date", "e.g. date('2025-12-31')")
            try:
                date.fromisoformat(arg.value)
            except ValueError:
                raise ExpressionError(
                    f"'{arg.value}' is not a date",
                    hint="write dates as 'YYYY-MM-DD', e.g. date('2025-12-31')",
                    location=_loc(arg),
                ) from None
            return "date"
        if name == "year":
            arity(1, 1)
            self.expect(args[0], ("date",), "the argument of year()")
            return "int"
        arity(2, 2)  # days_between, years_between
        for arg in args:
            self.expect(arg, ("date",), f"each argument of {name}()")
        return "int"


def _compatible(a: str, b: str) -> bool:
    return a == b or (a in NUMERIC and b in NUMERIC)


def check(node: ast.Node, facts: Mapping[str, FactType]) -> Checked:
    """The kind of ``node`` and the facts it reads; raises with the node's position."""
    checker = _Checker(facts)
    kind = checker.kind(node)
    return Checked(kind, frozenset(checker.used))

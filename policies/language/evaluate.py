"""AST evaluated for one enterprise, in plain Python.

The same semantics as ``policies.language.compile`` (see there), value for
value; the tracer builds its explanations on this, and the property test
checks both agree.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from policies.language import ast
from policies.language.types import AS_OF

__all__ = ["evaluate"]


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def kleene_and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def kleene_or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _md(d: date) -> int:
    return d.month * 100 + d.day


class _Evaluator:
    def __init__(self, facts: Mapping[str, Any], as_of: date) -> None:
        self.facts = facts
        self.as_of = as_of

    def __call__(self, node: ast.Node) -> Any:
        match node:
            case ast.Literal(value=value):
                return _num(value)
            case ast.FactRef(name=name):
                return self.as_of if name == AS_OF else _num(self.facts.get(name))
            case ast.Not(operand=operand):
                v = self(operand)
                return None if v is None else not v
            case ast.Logical(op=op, items=items):
                values = [self(i) for i in items]
                return kleene_and(values) if op == "and" else kleene_or(values)
            case ast.Compare(op=op, left=left, right=right):
                a, b = self(left), self(right)
                return None if a is None or b is None else ast.COMPARISONS[op](a, b)
            case ast.In(operand=operand, options=options, negated=negated):
                v = self(operand)
                if v is None:
                    return None
                found = v in [_num(ast.literal(o)) for o in options.items]
                return not found if negated else found
            case ast.Between(operand=operand, low=low, high=high):
                x, lo, hi = self(operand), self(low), self(high)
                return kleene_and(
                    [None if x is None or lo is None else x >= lo, None if x is None or hi is None else x <= hi]
                )
            case ast.IsNull(operand=operand, negated=negated):
                return (self(operand) is not None) if negated else (self(operand) is None)
            case ast.Neg(operand=operand):
                v = self(operand)
                return None if v is None else -v
            case ast.Arith():
                return self.arith(node)
            case ast.Call():
                return self.call(node)
        raise TypeError(f"cannot evaluate {node!r}")

    def arith(self, node: ast.Arith) -> Any:
        a, b = self(node.left), self(node.right)
        if a is None or b is None:
            return None
        if isinstance(a, date) and isinstance(b, date):
            return float((a - b).days)
        if isinstance(a, date):
            return a + timedelta(days=int(b)) if node.op == "+" else a - timedelta(days=int(b))
        if node.op == "/":
            if b == 0:
                return None
            return a * (1.0 / b) if ast.is_constant(node.right) else a / b
        return {"+": operator.add, "-": operator.sub, "*": operator.mul}[node.op](a, b)

    def call(self, node: ast.Call) -> Any:
        name = node.name
        if name == "date":
            return date.fromisoformat(ast.text_of(node.args[0]))
        if name == "starts_with":
            text = self(node.args[0])
            return None if text is None else any(text.startswith(p) for p in ast.prefixes(node.args[1]))
        if name == "if":
            cond = self(node.args[0])
            return None if cond is None else self(node.args[1] if cond else node.args[2])
        args = [self(a) for a in node.args]
        if any(a is None for a in args):
            return None
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        if name == "round":
            scale = 10.0 ** ast.round_digits(node.args)
            x = args[0]
            return math.copysign(1.0, x) * math.floor(abs(x) * scale + 0.5) * (1.0 / scale) if x != 0 else 0.0
        if name == "abs":
            return abs(args[0])
        if name == "year":
            return float(args[0].year)
        if name == "days_between":
            return float((args[1] - args[0]).days)
        if name == "years_between":
            a, b = args
            return float(b.year - a.year - (_md(b) < _md(a)))
        raise TypeError(f"cannot evaluate function {name}")


def evaluate(node: ast.Node, facts: Mapping[str, Any], as_of: date) -> Any:
    """Value of ``node`` for one enterprise's facts; None means unknown."""
    return _Evaluator(facts, as_of)(node)

"""AST → polars expression, evaluated over every profile at once.

Semantics shared with ``policies.language.evaluate`` (the one-enterprise
evaluator the tracer uses); the property test holds the two together:
- null (unknown) propagates through comparisons and arithmetic;
- and / or / not follow Kleene's three-valued logic (polars' own);
- numbers compute as float64; x / 0 is unknown, never infinity;
- x / c with a constant c multiplies by 1 / c (what polars does for a scalar
  divisor; the evaluator does the same, so both agree to the last bit);
- round() rounds half away from zero: sign(x) * floor(|x| * 10^d + 0.5) * (1 / 10^d);
- a subexpression that reads no fact is folded to a literal by the evaluator
  itself, so constants are computed once and broadcast like any literal.
"""

from __future__ import annotations

import operator
from datetime import date
from functools import reduce

import polars as pl

from policies.language import ast
from policies.language.evaluate import evaluate
from policies.language.types import AS_OF, FactType, check

__all__ = ["to_polars"]


def _lit(value: object) -> pl.Expr:
    if value is None:
        return pl.lit(None)
    if isinstance(value, bool):
        return pl.lit(value, dtype=pl.Boolean)
    if isinstance(value, int | float):
        return pl.lit(float(value), dtype=pl.Float64)
    if isinstance(value, date):
        return pl.lit(value, dtype=pl.Date)
    return pl.lit(value, dtype=pl.String)


# polars 2.1 returns a length-1 result from when/then/otherwise when every row takes a
# branch holding a literal, which then fails to broadcast beside another literal. So the
# compiler never puts a literal in a branch: nulls come from arithmetic, and if() branches
# are given the shape of their condition (`_shaped`).


# The dtype of each kind's unknown value, as the bulk evaluation types its columns.
_NULL_TYPES: dict[str, type[pl.DataType]] = {
    "bool": pl.Boolean,
    "int": pl.Float64,
    "number": pl.Float64,
    "date": pl.Date,
    "str": pl.String,
}


def _null_if_any_null(args: list[pl.Expr], expr: pl.Expr) -> pl.Expr:
    """``expr``, or null where any argument is null (x - x is 0, or null when x is)."""
    return reduce(operator.add, (a - a for a in args), expr)


def _shaped(value: pl.Expr, kind: str, cond: pl.Expr) -> pl.Expr:
    """``value`` where ``cond`` is true or false, null where it is null; shaped like the ``cond`` column."""
    if kind in ("int", "number"):
        return value + cond.cast(pl.Float64) * 0.0
    if kind == "date":
        return value + pl.duration(days=cond.cast(pl.Int64) * 0)
    if kind == "str":
        return value + cond.cast(pl.String).str.slice(0, 0)
    return (value.cast(pl.Int8) + cond.cast(pl.Int8) * 0).cast(pl.Boolean)


class _Compiler:
    def __init__(self, kinds: dict[str, str], as_of: date) -> None:
        self.kinds = kinds
        self.fact_types = {name: FactType(kind) for name, kind in kinds.items()}
        self.as_of = as_of

    def __call__(self, node: ast.Node) -> pl.Expr:
        if not isinstance(node, ast.Literal | ast.ListLit) and ast.is_constant(node):
            value = evaluate(node, {}, self.as_of)
            return self._null(node) if value is None else _lit(value)
        match node:
            case ast.Literal(value=value):
                return _lit(value)
            case ast.FactRef(name=name):
                if name == AS_OF:
                    return pl.lit(self.as_of, dtype=pl.Date)
                col = pl.col(name)
                return col.cast(pl.Float64) if self.kinds.get(name) in ("int", "number") else col
            case ast.Not(operand=operand):
                return ~self(operand)
            case ast.Logical(op=op, items=items):
                return reduce(operator.and_ if op == "and" else operator.or_, (self(i) for i in items))
            case ast.Compare(op=op, left=left, right=right):
                compared: pl.Expr = ast.COMPARISONS[op](self(left), self(right))
                return compared
            case ast.In(operand=operand, options=options, negated=negated):
                literals = [ast.literal(v) for v in options.items]
                values = [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in literals]
                expr = self(operand)
                found = expr.is_in(pl.lit(pl.Series(values)).implode()) if values else pl.lit(False)
                return ~found if negated else found
            case ast.Between(operand=operand, low=low, high=high):
                x = self(operand)
                return (x >= self(low)) & (x <= self(high))
            case ast.IsNull(operand=operand, negated=negated):
                return self(operand).is_not_null() if negated else self(operand).is_null()
            case ast.Neg(operand=operand):
                return -self(operand)
            case ast.Arith():
                return self.arith(node)
            case ast.Call():
                return self.call(node)
        raise TypeError(f"cannot compile {node!r}")  # the type checker rejects these first

    def arith(self, node: ast.Arith) -> pl.Expr:
        left, right = self(node.left), self(node.right)
        lk, rk = self.kind(node.left), self.kind(node.right)
        if lk == "date" and rk == "date":
            return (left - right).dt.total_days().cast(pl.Float64)
        if lk == "date":
            days = pl.duration(days=right.cast(pl.Int64))
            return left + days if node.op == "+" else left - days
        if node.op == "/":
            if ast.is_constant(node.right):
                divisor = evaluate(node.right, {}, self.as_of)
                return left * pl.lit(None, dtype=pl.Float64) if divisor == 0 else left * (1.0 / divisor)
            return left / right.replace(0.0, None)  # x / 0 is unknown
        combined: pl.Expr = {"+": operator.add, "-": operator.sub, "*": operator.mul}[node.op](left, right)
        return combined

    def _null(self, node: ast.Node) -> pl.Expr:
        """Unknown, typed as ``node`` is: an untyped null cannot meet a column in 'and', 'or' or 'not'."""
        return pl.lit(None, dtype=_NULL_TYPES.get(self.kind(node), pl.Null))

    def kind(self, node: ast.Node) -> str:
        return check(node, self.fact_types).kind

    def call(self, node: ast.Call) -> pl.Expr:
        name = node.name
        if name == "date":
            return pl.lit(date.fromisoformat(ast.text_of(node.args[0])), dtype=pl.Date)
        if name == "starts_with":
            text = self(node.args[0])
            return reduce(operator.or_, (text.str.starts_with(p) for p in ast.prefixes(node.args[1])))
        args = [self(a) for a in node.args]
        if name in ("min", "max"):
            combined = pl.min_horizontal(args) if name == "min" else pl.max_horizontal(args)
            return _null_if_any_null(args, combined)  # unknown in, unknown out
        if name == "round":
            scale = 10.0 ** ast.round_digits(node.args)
            x = args[0]
            return x.sign() * (x.abs() * scale + 0.5).floor() * (1.0 / scale)
        if name == "abs":
            return args[0].abs()
        if name == "if":
            cond, then, other = args
            if ast.is_constant(node.args[0]):  # the branch is known now
                chosen = evaluate(node.args[0], {}, self.as_of)
                return self._null(node) if chosen is None else (then if chosen else other)
            kind = self.kind(node)
            return pl.when(cond).then(_shaped(then, kind, cond)).otherwise(_shaped(other, kind, cond))
        if name == "year":
            return args[0].dt.year().cast(pl.Float64)
        if name == "days_between":
            return (args[1] - args[0]).dt.total_days().cast(pl.Float64)
        if name == "years_between":
            a, b = args

            def md(d: pl.Expr) -> pl.Expr:
                return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

            years = b.dt.year().cast(pl.Int32) - a.dt.year().cast(pl.Int32) - (md(b) < md(a)).cast(pl.Int32)
            return years.cast(pl.Float64)
        raise TypeError(f"cannot compile function {name}")


def to_polars(node: ast.Node, kinds: dict[str, str], as_of: date) -> pl.Expr:
    """The polars expression computing ``node`` for every profile; ``kinds`` maps fact names to kinds."""
    return _Compiler(kinds, as_of)(node)

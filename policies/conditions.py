"""The eligibility tree: ``all`` / ``any`` / ``not`` groups over expression leaves.

A leaf is a short expression (a string), or ``{expr: ..., label: {zh, en}}``.
The tree is built once when a policy loads; each leaf is parsed and
type-checked there, so a bad leaf is reported at its line and column.

The toolkit every reader of a tree uses (the matcher, the ranker's features,
the tracer, the analyser): ``walk`` (every node with its place in the file),
``leaves``, ``combine`` (Kleene's three-valued all / any / not) and
``fact_comparison`` (a leaf of the form fact OP constant).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce
from typing import Any

import polars as pl

from policies.errors import Location, PolicyError, PolicyFileError
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate, kleene_and, kleene_or
from policies.language.parse import parse
from policies.language.types import FactType, check
from policies.model import Text
from policies.source import Positions

__all__ = [
    "Condition",
    "Expression",
    "Group",
    "Leaf",
    "build_condition",
    "combine",
    "compile_expression",
    "fact_comparison",
    "leaves",
    "walk",
]


@dataclass(frozen=True)
class Expression:
    text: str
    node: ast.Node
    kind: str
    facts: frozenset[str]
    location: Location


@dataclass(frozen=True)
class Leaf:
    expr: Expression
    label: Text | None = None


@dataclass(frozen=True)
class Group:
    op: str  # "all" | "any" | "not"
    children: tuple[Condition, ...]
    label: Text | None = None


Condition = Leaf | Group


def compile_expression(
    text: Any,
    facts: Mapping[str, FactType],
    *,
    file: str,
    positions: Positions,
    path: tuple[str | int, ...],
    want: tuple[str, ...],
) -> Expression:
    """Parse and type-check one expression found at ``path`` of ``file``."""
    loc = positions.location(file, path)
    pos = positions.get(path)
    text = str(text) if isinstance(text, int | float) and not isinstance(text, bool) else text
    if not isinstance(text, str):
        raise PolicyFileError(
            f"expected an expression (text), found {type(text).__name__} {text!r}",
            hint="write the condition as text, e.g. 'ui_paid_months >= 12'",
            location=loc,
        )
    try:
        node = parse(text)
        checked = check(node, facts)
    except PolicyError as err:
        line, column = pos.text_start() if pos else (loc.line or 1, loc.column or 1)
        raise err.shifted(file, line, column) from None
    if checked.kind not in want:
        raise PolicyFileError(
            f"expected a {' or '.join(want)} expression here, but {text!r} is {checked.kind}",
            hint="a condition must be true or false, e.g. 'insured_headcount >= 10'"
            if "bool" in want
            else "an amount must be a number, e.g. 'ui_paid_last_year * 60%'",
            location=loc,
        )
    return Expression(text, node, checked.kind, checked.facts, loc)


_GROUPS = ("all", "any", "not")


def build_condition(
    raw: Any, facts: Mapping[str, FactType], *, file: str, positions: Positions, path: tuple[str | int, ...]
) -> Condition:
    loc = positions.location(file, path)

    def sub(value: Any, *more: str | int) -> Condition:
        return build_condition(value, facts, file=file, positions=positions, path=(*path, *more))

    def label_of(value: Any) -> Text | None:
        if value is None:
            return None
        if not (isinstance(value, dict) and set(value) == {"zh", "en"}):
            raise PolicyFileError(
                "a label needs exactly 'zh' and 'en' texts",
                hint="label: {zh: 连续缴费满12个月, en: 12 months paid}",
                location=positions.location(file, (*path, "label")),
            )
        return Text(**value)

    if isinstance(raw, str):
        return Leaf(compile_expression(raw, facts, file=file, positions=positions, path=path, want=("bool",)))
    if isinstance(raw, dict):
        keys = set(raw) - {"label"}
        if keys == {"expr"}:
            expr = compile_expression(
                raw["expr"], facts, file=file, positions=positions, path=(*path, "expr"), want=("bool",)
            )
            return Leaf(expr, label_of(raw.get("label")))
        if len(keys) == 1 and (op := next(iter(keys))) in _GROUPS:
            body = raw[op]
            if op == "not":
                return Group("not", (sub(body, "not"),), label_of(raw.get("label")))
            if not isinstance(body, list) or not body:
                raise PolicyFileError(
                    f"'{op}' takes a non-empty list of conditions",
                    hint=f"{op}:\n  - condition 1\n  - condition 2",
                    location=positions.location(file, (*path, op)),
                )
            return Group(op, tuple(sub(item, op, i) for i, item in enumerate(body)), label_of(raw.get("label")))
        found = ", ".join(sorted(keys)) or "nothing"
        raise PolicyFileError(
            f"expected one of all / any / not / expr in a condition, found {found}",
            hint="a condition is a text expression, {expr: ..., label: ...}, or all/any/not of conditions",
            location=loc,
        )
    raise PolicyFileError(
        f"expected a condition, found {type(raw).__name__} {raw!r}",
        hint="write it as text, e.g. 'ui_paid_months >= 12'",
        location=loc,
    )


Path = tuple[str | int, ...]


def walk(cond: Condition, path: Path = ("eligibility",)) -> Iterator[tuple[Condition, Path]]:
    """Every node of the tree, depth first, with its path in the policy file as ``build_condition`` recorded it
    (a labelled leaf's expression sits under "expr"), for ``Positions.location``."""
    if isinstance(cond, Leaf):
        yield cond, (*path, "expr") if cond.label is not None else path
        return
    yield cond, path
    for i, child in enumerate(cond.children):
        yield from walk(child, (*path, "not") if cond.op == "not" else (*path, cond.op, i))


def leaves(cond: Condition) -> list[Leaf]:
    """The leaves of the tree, in the order they are written."""
    return [node for node, _ in walk(cond) if isinstance(node, Leaf)]


def combine(op: str, values: Sequence[bool | None]) -> bool | None:
    """A group's value from its children's, in Kleene's logic: unknown (None) only when it could go either way."""
    if op == "not":
        return None if values[0] is None else not values[0]
    return kleene_and(list(values)) if op == "all" else kleene_or(list(values))


_FLIPPED = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}


def fact_comparison(node: ast.Node) -> tuple[str, str, ast.Node] | None:
    """``fact OP constant`` as (fact, OP, constant); ``constant OP fact`` is turned round; else None."""
    if isinstance(node, ast.Compare):
        left, right = node.left, node.right
        if isinstance(left, ast.FactRef) and ast.is_constant(right):
            return left.name, node.op, right
        if isinstance(right, ast.FactRef) and ast.is_constant(left):
            return right.name, _FLIPPED[node.op], left
    return None


def condition_facts(cond: Condition) -> frozenset[str]:
    if isinstance(cond, Leaf):
        return cond.expr.facts
    return frozenset().union(*(condition_facts(c) for c in cond.children))


def relaxed(node: ast.Node, margin: float) -> ast.Node:
    """A numeric threshold ``fact OP number`` moved by ``margin`` (a share) in the enterprise's favour.

    Evaluating a tree with its thresholds relaxed finds the near misses: enterprises
    that fail only by a little on thresholds, and pass everything else.
    """
    if not (
        isinstance(node, ast.Compare) and isinstance(node.left, ast.FactRef) and isinstance(node.right, ast.Literal)
    ):
        return node
    value = node.right.value
    if isinstance(value, bool) or not isinstance(value, int | float) or node.op not in (">=", ">", "<=", "<"):
        return node
    towards = -1 if node.op in (">=", ">") else 1
    moved = value + towards * abs(value) * margin
    return ast.Compare(node.pos, node.op, node.left, ast.Literal(node.right.pos, moved))


def condition_to_polars(cond: Condition, kinds: dict[str, str], as_of: date, relax: float = 0.0) -> pl.Expr:
    if isinstance(cond, Leaf):
        return to_polars(relaxed(cond.expr.node, relax) if relax else cond.expr.node, kinds, as_of)
    parts = [condition_to_polars(c, kinds, as_of, relax) for c in cond.children]
    if cond.op == "not":
        return ~parts[0]
    return reduce(operator.and_ if cond.op == "all" else operator.or_, parts)


def condition_value(cond: Condition, facts: Mapping[str, Any], as_of: date) -> bool | None:
    if isinstance(cond, Leaf):
        held: bool | None = evaluate(cond.expr.node, facts, as_of)
        return held
    return combine(cond.op, [condition_value(c, facts, as_of) for c in cond.children])

"""Nodes of a parsed rule expression.

Every node keeps its position (line and column, 1-based, inside the
expression's own text) so errors can point into the policy file.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

__all__ = [
    "COMPARISONS",
    "Arith",
    "Between",
    "Call",
    "Compare",
    "FactRef",
    "In",
    "IsNull",
    "ListLit",
    "Literal",
    "Logical",
    "Neg",
    "Node",
    "Not",
    "Pos",
    "children",
    "is_constant",
    "literal",
    "prefixes",
    "round_digits",
    "text_of",
    "walk",
]


# The closed set of comparison operators, shared by both back-ends.
COMPARISONS = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


@dataclass(frozen=True)
class Node:
    pos: Pos


@dataclass(frozen=True)
class Literal(Node):
    value: bool | int | float | str | date


@dataclass(frozen=True)
class FactRef(Node):
    name: str


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Logical(Node):
    op: str  # "and" | "or"
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str  # >= <= == != > <
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    operand: Node
    options: ListLit
    negated: bool


@dataclass(frozen=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


def children(node: Node) -> list[Node]:
    """The nodes directly under ``node``, in order."""
    found: list[Node] = []
    for value in vars(node).values():
        if isinstance(value, Node):
            found.append(value)
        elif isinstance(value, tuple):
            found += [c for c in value if isinstance(c, Node)]
    return found


def walk(node: Node) -> Iterator[tuple[Node, int]]:
    """Every node under ``node`` (itself included) with its depth (1 for ``node``), without recursion."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        yield current, depth
        stack += [(c, depth + 1) for c in reversed(children(current))]


def is_constant(node: Node) -> bool:
    """True when ``node`` reads no fact (``as_of`` is fixed for a whole evaluation)."""
    if isinstance(node, FactRef):
        return node.name == "as_of"
    return all(is_constant(c) for c in children(node))


# Typed access to the literals the type checker requires (policies.language.types): every back-end reads them so.


def literal(node: Node) -> bool | int | float | str | date:
    """The value of a node written as a literal."""
    if not isinstance(node, Literal):
        raise TypeError(f"expected a literal, found {type(node).__name__}")
    return node.value


def text_of(node: Node) -> str:
    """A written text: the argument of date(), a prefix of starts_with()."""
    value = literal(node)
    if not isinstance(value, str):
        raise TypeError(f"expected a text, found {value!r}")
    return value


def prefixes(node: Node) -> tuple[str, ...]:
    """The prefixes of starts_with(): one text or a list of texts."""
    return tuple(text_of(p) for p in node.items) if isinstance(node, ListLit) else (text_of(node),)


def round_digits(args: tuple[Node, ...]) -> int:
    """The digits round() keeps: its second argument, a whole number written out, or 0."""
    if len(args) < 2:
        return 0
    value = literal(args[1])
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number of digits, found {value!r}")
    return value

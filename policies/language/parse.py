"""Text → AST. Parsed with a grammar (lark), never evaluated as Python."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from policies.errors import ExpressionError, Location
from policies.language import ast
from policies.limits import MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH, out_of_range

__all__ = ["parse"]

_OPERATOR_FIXES = {
    "=": "==",
    "===": "==",
    "=>": ">=",
    "=<": "<=",
    "<>": "!=",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "&&": "and",
    "&": "and",
    "||": "or",
    "|": "or",
    "!": "not",
}
_WORD_FIXES = {"contains": "in [...]", "like": "starts_with(fact, 'prefix')", "is_in": "in [...]", "xor": "or"}
OPERATORS = ("or", "and", "not", ">=", "<=", "==", "!=", ">", "<", "in", "not in", "between ... and", "is null",
             "is not null", "+", "-", "*", "/")  # fmt: skip


Children = list[Any]  # a rule's transformed children (a name: the transformer has a method called list)


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _pos(meta_or_token: Any) -> ast.Pos:
    return ast.Pos(getattr(meta_or_token, "line", 1) or 1, getattr(meta_or_token, "column", 1) or 1)


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive[Token, ast.Node]):  # a loop, not recursion: a long chain cannot exhaust the stack
    def number(self, meta: Any, children: Children) -> ast.Node:
        text: str = children[0]
        if text.endswith("%"):
            return ast.Literal(_pos(meta), float(text[:-1]) / 100)
        return ast.Literal(_pos(meta), float(text) if "." in text else int(text))

    def string(self, meta: Any, children: Children) -> ast.Node:
        return ast.Literal(_pos(meta), str(children[0])[1:-1])

    def true(self, meta: Any, _: Children) -> ast.Node:
        return ast.Literal(_pos(meta), True)

    def false(self, meta: Any, _: Children) -> ast.Node:
        return ast.Literal(_pos(meta), False)

    def name(self, meta: Any, children: Children) -> ast.Node:
        return ast.FactRef(_pos(meta), str(children[0]))

    def call(self, meta: Any, children: Children) -> ast.Node:
        return ast.Call(_pos(meta), str(children[0]), tuple(c for c in children[1:] if c is not None))

    def list(self, meta: Any, children: Children) -> ast.Node:
        return ast.ListLit(_pos(meta), tuple(c for c in children if c is not None))

    def neg(self, meta: Any, children: Children) -> ast.Node:
        return ast.Neg(_pos(meta), children[0])

    def arith(self, meta: Any, children: Children) -> ast.Node:
        return ast.Arith(_pos(meta), str(children[1]), children[0], children[2])

    def compare(self, meta: Any, children: Children) -> ast.Node:
        return ast.Compare(_pos(meta), str(children[1]), children[0], children[2])

    def in_(self, meta: Any, children: Children) -> ast.Node:
        return ast.In(_pos(meta), children[0], children[1], negated=False)

    def not_in(self, meta: Any, children: Children) -> ast.Node:
        return ast.In(_pos(meta), children[0], children[1], negated=True)

    def between(self, meta: Any, children: Children) -> ast.Node:
        return ast.Between(_pos(meta), *children)

    def is_null(self, meta: Any, children: Children) -> ast.Node:
        return ast.IsNull(_pos(meta), children[0], negated=False)

    def is_not_null(self, meta: Any, children: Children) -> ast.Node:
        return ast.IsNull(_pos(meta), children[0], negated=True)

    def not_(self, meta: Any, children: Children) -> ast.Node:
        return ast.Not(_pos(meta), children[0])

    def _logical(self, op: str, meta: Any, children: Children) -> ast.Node:
        items: list[ast.Node] = []
        for c in children:  # flatten a and b and c into one node
            items.extend(c.items if isinstance(c, ast.Logical) and c.op == op else [c])
        return ast.Logical(_pos(meta), op, tuple(items))

    def and_(self, meta: Any, children: Children) -> ast.Node:
        return self._logical("and", meta, children)

    def or_(self, meta: Any, children: Children) -> ast.Node:
        return self._logical("or", meta, children)


def _explain(text: str, err: UnexpectedInput) -> ExpressionError:
    line, column = err.line if err.line > 0 else 1, err.column if err.column > 0 else len(text) + 1
    where = Location(None, line, column)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return ExpressionError(
            f"the expression ends too early: {text!r}",
            hint="complete the expression, e.g. 'insured_headcount >= 10'",
            location=Location(None, 1, len(text.splitlines()[-1]) + 1 if text else 1),
        )
    offset = err.pos_in_stream if err.pos_in_stream is not None else 0
    rest = text[offset:]
    symbol = re.match(r"[=<>!&|≥≤≠~^]+", rest)
    if symbol:
        found = symbol.group(0)
        fix = _OPERATOR_FIXES.get(found)
        return ExpressionError(
            f"unknown operator '{found}'",
            hint=(f"did you mean '{fix}'? " if fix else "") + "operators are: " + ", ".join(OPERATORS),
            location=where,
        )
    word = re.match(r"[A-Za-z_]\w*", rest)
    if isinstance(err, UnexpectedToken) and word:
        found = word.group(0)
        fix = _WORD_FIXES.get(found)
        return ExpressionError(
            f"unexpected word '{found}': expected an operator or the end of the expression",
            hint=(f"write it as {fix}; " if fix else "") + "operators are: " + ", ".join(OPERATORS),
            location=where,
        )
    found = rest[:1] or "end of text"
    if isinstance(err, UnexpectedCharacters):
        return ExpressionError(
            f"unexpected character '{found}'",
            hint="strings take quotes ('C39'), percentages a % sign (5.5%); operators are: " + ", ".join(OPERATORS),
            location=where,
        )
    return ExpressionError(
        f"unexpected '{found}'", hint="check for a missing operator, comma or parenthesis", location=where
    )


def _too_long(text: str) -> ExpressionError:
    before = text[:MAX_EXPRESSION_CHARS]
    line, column = before.count("\n") + 1, MAX_EXPRESSION_CHARS - (before.rfind("\n") + 1) + 1
    return ExpressionError(
        f"the expression is {len(text):,} characters long; an expression holds at most"
        f" {MAX_EXPRESSION_CHARS:,} characters",
        hint="split it into several conditions under 'all:' or 'any:', each a short expression",
        location=Location(None, line, column),
    )


def _check_bounds(node: ast.Node) -> None:
    """Refuse nesting the checker and compilers could not recurse through, and numbers too large to pay."""
    for current, depth in ast.walk(node):
        where = Location(None, current.pos.line, current.pos.column)
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(
                f"the expression nests more than {MAX_EXPRESSION_DEPTH} levels deep (operators inside operators)",
                hint="split it into several conditions under 'all:' or 'any:', or remove repeated 'not' and '-'",
                location=where,
            )
        if isinstance(current, ast.Literal) and out_of_range(current.value):
            digits = str(current.value)
            shown = digits if len(digits) <= 20 else f"{digits[:12]}… ({len(digits)} digits)"
            raise ExpressionError(
                f"the number {shown} is out of range: numbers must be finite and at most 1e15 in size",
                hint="write amounts in yuan, e.g. 500000; no benefit or threshold comes near 1e15",
                location=where,
            )


def parse(text: str) -> ast.Node:
    """Parse one expression; raises ExpressionError with line and column inside ``text``."""
    if not text.strip():
        raise ExpressionError("the expression is empty", hint="write a condition such as 'age_years >= 1'")
    if len(text) > MAX_EXPRESSION_CHARS:  # before lark: a 1 MB chain would take seconds to parse
        raise _too_long(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise _explain(text, err) from None
    node: ast.Node = _ToAst().transform(tree)
    _check_bounds(node)
    return node

"""Stage 5 of ``matcher.decide``: the evidence of each decision, as stored with it.

For each decision: the facts its policy read (JSON), the facts to ask for (when it needs data) and the
conditions missed with their gap, in Chinese and English (when it is a near miss). The decisions come grouped
by policy; each policy's slice gathers only its own facts for only its own rows, in profile order (text read at
random is many times slower to gather), and its JSON is put back in the decisions' order; the facts to ask for
and the thresholds missed are written only for the rows that show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from features.profiles.catalogue import fact as catalogue_fact
from matcher.ledger.statuses import DecisionStatus
from policies.compiled import CompiledPolicy
from policies.conditions import leaves
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate
from policies.render import OPERATOR_WORDS, format_value

__all__ = ["EVIDENCE", "evidence"]

EVIDENCE = {"facts": pl.String, "unknown_facts": pl.String, "failing_zh": pl.String, "failing": pl.String}


def _value_text(value: pl.Expr, unit: str | None) -> pl.Expr:
    if unit == "ratio":
        return pl.format("{}%", (value * 100).round(2))
    return value.round(2).cast(pl.String) if unit in ("yuan", "10k yuan", "years") else value.cast(pl.String)


def _listing(parts: list[pl.Expr]) -> pl.Expr:
    return pl.concat_str(parts, separator="; ", ignore_nulls=True) if parts else pl.lit(None, pl.String)


def _missed(policy: CompiledPolicy, as_of: date) -> dict[str, list[pl.Expr]]:
    """Per language, one text per simple threshold (fact OP constant) of the policy: null unless missed."""
    missed: dict[str, list[pl.Expr]] = {"zh": [], "en": []}
    for leaf in leaves(policy.eligibility):
        node = leaf.expr.node
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.FactRef) and ast.is_constant(node.right)):
            continue
        f = catalogue_fact(node.left.name)
        fails = ~to_polars(node, policy.kinds, as_of)
        value = _value_text(pl.col(f.name), f.unit)
        threshold = evaluate(node.right, {}, as_of)
        need = {lang: f"{OPERATOR_WORDS[node.op]} {format_value(threshold, f, lang)}" for lang in ("zh", "en")}
        label = leaf.label
        missed["zh"].append(
            pl.when(fails).then(
                pl.format(f"{label.zh if label else leaf.expr.text}（{f.zh}为{{}}，要求{need['zh']}）", value)
            )
        )
        missed["en"].append(
            pl.when(fails).then(
                pl.format(f"{label.en if label else leaf.expr.text} ({f.en} is {{}}, needs {need['en']})", value)
            )
        )
    return missed


def _of_policy(rows: pl.DataFrame, profiles: pl.DataFrame, policy: CompiledPolicy, as_of: date) -> pl.DataFrame:
    """The evidence of ``rows`` (one policy's decisions: _row, status), in their order."""
    names = sorted(policy.facts)
    # Gathered in profile order (reading text columns at random is many times slower), then put back.
    by_row = rows["_row"].arg_sort()
    facts = profiles.select(pl.col(names).gather(rows["_row"].gather(by_row)))
    # The decision's own status is set aside: a policy may read the profile fact called `status`.
    status = rows["status"].gather(by_row)
    found = facts.select(pl.struct(names).struct.json_encode().gather(by_row.arg_sort()).alias("facts"))
    # Facts to ask for only where the decision needs data; thresholds missed only for near misses.
    missing = _listing([pl.when(pl.col(n).is_null()).then(pl.lit(n)) for n in names])
    missed = _missed(policy, as_of)
    texts = {
        "unknown_facts": (DecisionStatus.NEEDS_DATA, missing),
        "failing_zh": (DecisionStatus.NEAR_MISS, _listing(missed["zh"])),
        "failing": (DecisionStatus.NEAR_MISS, _listing(missed["en"])),
    }
    for name, (decision, text) in texts.items():
        where = status == str(decision)
        column = pl.Series(name, [], pl.String).extend_constant(None, rows.height)
        if (chosen := where.arg_true()).len():  # rows in profile order; their places in the decisions' order
            values = facts.filter(where).with_columns(text.alias("_text"))["_text"]
            column = column.scatter(by_row.gather(chosen), values)
        found = found.with_columns(column)
    return found


def evidence(
    decided: pl.DataFrame, profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], as_of: date
) -> pl.DataFrame:
    """``decided`` (with _policy: the index of its policy among ``policies`` sorted by id, _row, status) with
    the evidence columns added, policy by policy in that order."""
    ordered = sorted(policies, key=lambda p: p.id)
    decided = decided.sort("_policy", maintain_order=True)
    sizes = decided.group_by("_policy").len()
    length = dict(zip(sizes["_policy"].to_list(), sizes["len"].to_list(), strict=True))
    parts, offset = [], 0
    for i, p in enumerate(ordered):
        if n := length.get(i, 0):
            parts.append(_of_policy(decided.slice(offset, n), profiles, p, as_of))
            offset += n
    found = pl.concat(parts) if parts else pl.DataFrame(schema=EVIDENCE)
    return pl.concat([decided, found], how="horizontal")

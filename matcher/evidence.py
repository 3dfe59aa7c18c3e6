"""Stage 5 of ``matcher.decide``: the evidence of each decision, as stored with it.

For each decision: the facts its policy read (JSON), the facts to ask for (when it needs data) and the
conditions missed with their gap, in Chinese and English (when it is a near miss).

Encoding the facts is the costliest step of ``decide``, so it is done for the candidates (``evidence_columns``,
in ``matcher.decide_candidates``), in the background while the later stages run: each policy's rows are read,
encoded and left in profile order (facts read at random are many times slower to gather, and sorted text is
copied byte by byte), and each decision takes its candidate's row by ``_cand``. The facts to ask for travel as a
key (the policy, and which of its facts are unknown): the few distinct keys are written out once each, here. The
thresholds missed are written only for the near misses, the rare status, from their facts gathered here.
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

__all__ = ["EVIDENCE", "evidence", "evidence_columns"]

EVIDENCE = {"facts": pl.String, "unknown_facts": pl.String, "failing_zh": pl.String, "failing": pl.String}
# The key of the unknown facts: the policy's index above, one bit per fact below (policies reading more facts
# than that have none, and their facts to ask for are gathered instead).
_FACT_BITS = 48


def _value_text(value: pl.Expr, unit: str | None) -> pl.Expr:
    if unit == "ratio":
        return pl.format("{}%", (value * 100).round(2))
    return value.round(2).cast(pl.String) if unit in ("yuan", "10k yuan", "years") else value.cast(pl.String)


def _listing(parts: list[pl.Expr]) -> pl.Expr:
    return pl.concat_str(parts, separator="; ", ignore_nulls=True) if parts else pl.lit(None, pl.String)


def _missing(names: list[str]) -> pl.Expr:
    return _listing([pl.when(pl.col(n).is_null()).then(pl.lit(n)) for n in names])


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


def evidence_columns(policy: CompiledPolicy, index: int) -> list[pl.Expr]:
    """Over a policy's rows of the profiles: ``facts`` (the JSON of the facts it read) and ``_unknown`` (the key
    of its facts that are unknown; ``index`` is the policy's place in the order of ids)."""
    names = sorted(policy.facts)
    if len(names) > _FACT_BITS:
        unknown = pl.lit(None, pl.UInt64)
    else:
        bits = [pl.col(n).is_null().cast(pl.UInt64) * (1 << bit) for bit, n in enumerate(names)]
        unknown = pl.sum_horizontal(pl.lit(index << _FACT_BITS, pl.UInt64), *bits)
    return [pl.struct(names).struct.json_encode().alias("facts"), unknown.alias("_unknown")]


def _unknown_text(key: int, ordered: Sequence[CompiledPolicy]) -> str | None:
    """The facts to ask for that ``key`` stands for, written as for a row of the profiles with them unknown."""
    names = sorted(ordered[key >> _FACT_BITS].facts)
    if not names:
        return None
    row = {n: [None if key >> bit & 1 else 0] for bit, n in enumerate(names)}
    return pl.DataFrame(row, schema=dict.fromkeys(names, pl.Int8)).select(_missing(names)).item()


def evidence(
    decided: pl.DataFrame, profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], as_of: date
) -> pl.DataFrame:
    """``decided`` (with _policy: the index of its policy among ``policies`` sorted by id, _row, status, and
    the ``evidence_columns``) with the evidence columns, in its order."""
    ordered = sorted(policies, key=lambda p: p.id)
    needs = pl.col("status") == str(DecisionStatus.NEEDS_DATA)
    keys = decided.select(pl.col("_unknown").filter(needs).unique().drop_nulls()).to_series().to_list()
    texts = {key: _unknown_text(key, ordered) for key in keys}
    written = decided.select(
        unknown_facts=pl.when(needs).then(
            pl.col("_unknown").replace_strict(texts, default=None, return_dtype=pl.String)
        ),
        failing_zh=pl.lit(None, pl.String),
        failing=pl.lit(None, pl.String),
        _rare=(pl.col("status") == str(DecisionStatus.NEAR_MISS)) | (needs & pl.col("_unknown").is_null()),
    )
    # The rare rows still to write: near misses, and the facts to ask for of a policy reading very many facts.
    at = written["_rare"].arg_true()
    columns = {name: written[name] for name in ("unknown_facts", "failing_zh", "failing")}
    del written  # the columns are this function's alone: written into in place
    for (i,), part in decided.gather(at).with_columns(_at=at).group_by("_policy", maintain_order=True):
        names, missed = sorted(ordered[i].facts), _missed(ordered[i], as_of)
        # The decision's own status is set aside: a policy may read the profile fact called `status`.
        near = part["status"] == str(DecisionStatus.NEAR_MISS)
        shown = (
            profiles.select(pl.col(names).gather(part["_row"]))
            .select(unknown_facts=_missing(names), failing_zh=_listing(missed["zh"]), failing=_listing(missed["en"]))
            .with_columns(_near=near)
            .select(
                pl.when(~pl.col("_near")).then("unknown_facts").alias("unknown_facts"),
                pl.when("_near").then("failing_zh").alias("failing_zh"),
                pl.when("_near").then("failing").alias("failing"),
            )
        )
        for name in columns:
            columns[name] = columns[name].scatter(part["_at"], shown[name])
    return decided.with_columns(*columns.values())

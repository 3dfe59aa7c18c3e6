"""From profiles to one decision per enterprise and policy: pure frames in, frames out.

Stages, each vectorised over the whole population (loops run over policies
or ranks, never over enterprises):
1. eligibility and amount of every in-force policy (the rules' bulk back-end),
   and eligibility with thresholds eased by ``near_miss_margin`` (near misses);
2. what other runs already granted in the same entitlement period is not due again;
3. the policy graph: ``supersedes`` drops the replaced policy, mutually exclusive
   benefits keep the highest amount (ties: the lower policy id), ``requires``
   is met only by an eligible or already granted required policy;
4. budgets: when the amounts due exceed what is left of a policy's budget for
   the period, every amount is scaled pro rata (rounded down to the fen);
5. the evidence of each decision: the facts the policy read, the facts to ask
   for, the conditions missed with their gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from features.profiles.catalogue import fact as catalogue_fact
from matcher.amounts import MAX_AMOUNT_YUAN
from matcher.ledger.statuses import DELIVERY_BY_MODE, PAYABLE_DECISIONS, DecisionStatus
from matcher.periods import period_key
from policies.compiled import CompiledPolicy
from policies.conditions import Leaf
from policies.evaluate import evaluate_policies
from policies.graph import conflict_pairs
from policies.language import ast
from policies.language.compile import to_polars
from policies.language.evaluate import evaluate
from policies.render import OPERATOR_WORDS, format_value

__all__ = ["DECIDED", "STANDING", "Decided", "decide"]

# Statuses of a decision that reaches the enterprise; anything else is "not matched" and is only counted.
DECIDED = tuple(DecisionStatus)
_PAYABLE = [str(s) for s in PAYABLE_DECISIONS]
_SCHEMA = {
    "uscc": pl.String,
    "policy_id": pl.String,
    "policy_version": pl.Int32,
    "period_key": pl.String,
    "status": pl.String,
    "amount_fen": pl.Int64,
    "amount_full_fen": pl.Int64,
    "facts": pl.String,
    "unknown_facts": pl.String,
    "failing": pl.String,
    "failing_zh": pl.String,
}


@dataclass
class Decided:
    decisions: pl.DataFrame  # one row per (uscc, policy_id) that reaches the enterprise
    counts: dict[str, int] = field(default_factory=dict)  # also the ones that do not
    budgets: dict[str, dict] = field(default_factory=dict)
    # Per policy: enterprises whose amount cannot be paid (negative, not finite, absurd, x / 0). The rule's
    # mistake, shown to officers (run summary, impact); those enterprises get no decision until it is fixed.
    amount_errors: dict[str, dict] = field(default_factory=dict)
    # Per benefit other runs put in the ledger for this run's periods: what the rules say of it now
    # (eligible_now true / false / null = unknown, amount_now_fen before budget scaling) — matcher/ledger/review.
    standing: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STANDING))


def _candidates(profiles: pl.DataFrame, policies: Sequence[CompiledPolicy], as_of: date, margin: float) -> pl.DataFrame:
    """One row per (enterprise, policy) that is eligible, unknown or nearly eligible.

    ``_row`` is the enterprise's row in ``profiles``: evidence is gathered by it, not
    joined. Rows come policy by policy, by USCC within a policy: the order decisions
    are written in, which keeps inserts into the (uscc, …) unique index local.
    """

    def all_known(p: CompiledPolicy) -> pl.Expr:
        read = sorted(_amount_facts(p) & set(profiles.columns))
        return pl.all_horizontal([pl.col(f).is_not_null() for f in read]) if read else pl.repeat(True, pl.len())

    known = profiles.lazy().select(all_known(p).alias(f"{p.id}:amount_known") for p in policies)
    wide = pl.concat(
        [evaluate_policies(profiles, policies, as_of, near_miss_margin=margin), known], how="horizontal"
    ).with_columns(
        _row=pl.int_range(pl.len(), dtype=pl.UInt32),
        _order=pl.col("uscc").rank("ordinal").cast(pl.UInt32),
    )
    parts = []
    for p in sorted(policies, key=lambda p: p.id):
        amount, eligible = pl.col(f"{p.id}:amount"), pl.col(f"{p.id}:eligible")
        # An amount that is not a sane number of yuan, or that is unknown although every fact it reads is
        # known (x / 0), is the rule's mistake: reported to the officer, never turned into a decision.
        insane = ~amount.is_finite() | (amount < 0) | (amount > MAX_AMOUNT_YUAN)
        error = (amount.is_not_null() & insane).fill_null(False) | (
            eligible.fill_null(False) & amount.is_null() & pl.col(f"{p.id}:amount_known")
        )
        parts.append(
            wide.select(
                "uscc",
                "_row",
                "_order",
                pl.lit(p.id).alias("policy_id"),
                eligible.alias("eligible"),
                pl.col(f"{p.id}:near").alias("near"),
                pl.when(error).then(None).otherwise(amount * 100).round(0).cast(pl.Int64).alias("amount_full_fen"),
                amount.alias("amount_yuan"),
                error.alias("amount_error"),
            )
            .filter(pl.col("eligible").is_null() | pl.col("eligible") | pl.col("near").fill_null(False))
            .sort("_order")
            .drop("_order")
        )
    return pl.concat(parts).collect()


STANDING = {
    "uscc": pl.String,
    "policy_id": pl.String,
    "period_key": pl.String,
    "eligible_now": pl.Boolean,
    "amount_now_fen": pl.Int64,
}


def _standing(prior: pl.DataFrame, cand: pl.DataFrame) -> pl.DataFrame:
    """The rules' view today of each benefit already in the ledger: a benefit that is no candidate any more
    (not eligible, not unknown, not nearly eligible) is not eligible; one whose amount cannot be computed is
    unknown."""
    seen = cand.select("uscc", "policy_id", "eligible", "amount_full_fen", "amount_error", _seen=pl.lit(True))
    joined = prior.select("uscc", "policy_id", "period_key").join(seen, on=["uscc", "policy_id"], how="left")
    eligible = (
        pl.when(pl.col("_seen").is_null())
        .then(pl.lit(False))
        .when(pl.col("amount_error"))
        .then(pl.lit(None, dtype=pl.Boolean))
        .otherwise(pl.col("eligible"))
    )
    return joined.select(
        "uscc",
        "policy_id",
        "period_key",
        eligible.alias("eligible_now"),
        pl.when(eligible).then(pl.col("amount_full_fen")).alias("amount_now_fen"),
    ).cast(STANDING)


def _amount_facts(policy: CompiledPolicy) -> frozenset[str]:
    return policy.amount.facts | (policy.count.facts if policy.count else frozenset())


def _amount_errors(errors: pl.DataFrame, examples: int = 5) -> dict[str, dict]:
    """Per policy: how many enterprises got an amount that cannot be paid, why, and a few of them."""
    out: dict[str, dict] = {}
    for (policy_id,), rows in errors.sort("policy_id", "uscc").group_by("policy_id", maintain_order=True):
        amounts = rows["amount_yuan"]
        reasons = []
        if amounts.is_null().any():
            reasons.append("unknown although every fact it reads is known (a division by zero?)")
        if (amounts.is_not_null() & ~amounts.is_finite()).any():
            reasons.append("not a finite number")
        if (amounts < 0).any():
            reasons.append("negative")
        if (amounts > MAX_AMOUNT_YUAN).any():
            reasons.append(f"over the ceiling of {MAX_AMOUNT_YUAN:,} yuan")
        out[str(policy_id)] = {
            "enterprises": rows.height,
            "reasons": reasons,
            "examples": [
                {"uscc": u, "amount_yuan": None if a is None or a != a or abs(a) == float("inf") else a}
                for u, a in rows.select("uscc", "amount_yuan").head(examples).iter_rows()
            ],
        }
    return out


def _resolve_conflicts(eligible: pl.DataFrame, prior: pl.DataFrame, pairs: set[tuple[str, str]]) -> pl.DataFrame:
    """Among mutually exclusive eligible benefits keep the highest amount; ties go to the lower policy id.

    Greedy by rank within each enterprise: the candidate ranked r is kept unless a
    conflicting benefit is already kept (ranked higher, or granted by an earlier run).
    Returns the (uscc, policy_id) pairs that lose.
    """
    if not pairs or eligible.height == 0:
        return eligible.select("uscc", "policy_id").head(0)
    conflicts = pl.DataFrame(list(pairs), schema={"policy_id": pl.String, "other": pl.String}, orient="row")
    involved = eligible.join(conflicts.select("policy_id").unique(), on="policy_id", how="semi")
    ranked = involved.with_columns(
        rank=pl.struct(-pl.col("amount_full_fen"), "policy_id").rank("ordinal").over("uscc").cast(pl.Int32)
    )
    kept = prior.select("uscc", "policy_id")
    losers = []
    for r in range(1, (ranked["rank"].max() or 0) + 1):
        at = ranked.filter(pl.col("rank") == r).select("uscc", "policy_id")
        blocked = at.join(conflicts, on="policy_id").join(
            kept.rename({"policy_id": "other"}), on=["uscc", "other"], how="semi"
        )
        blocked = blocked.select("uscc", "policy_id").unique()
        losers.append(blocked)
        kept = pl.concat([kept, at.join(blocked, on=["uscc", "policy_id"], how="anti")])
    # No exclusive benefit eligible at all (an early as-of date): nobody loses.
    return pl.concat(losers) if losers else eligible.select("uscc", "policy_id").head(0)


def _value_text(value: pl.Expr, unit: str | None) -> pl.Expr:
    if unit == "ratio":
        return pl.format("{}%", (value * 100).round(2))
    return value.round(2).cast(pl.String) if unit in ("yuan", "10k yuan", "years") else value.cast(pl.String)


def _leaves(cond) -> list[Leaf]:
    return [cond] if isinstance(cond, Leaf) else [leaf for c in cond.children for leaf in _leaves(c)]


def _evidence(decisions: pl.DataFrame, profiles: pl.DataFrame, policy: CompiledPolicy, as_of: date) -> pl.DataFrame:
    """Facts read (JSON), facts missing (names) and thresholds missed (zh, en) for one policy's rows."""
    names = sorted(policy.facts)
    mine = decisions.filter(pl.col("policy_id") == policy.id)
    # The decision's own status is set aside: a policy may read the profile fact called `status`.
    rows = profiles.select(pl.col(names).gather(mine["_row"])).with_columns(_decision=mine["status"])

    def listing(parts: list[pl.Expr]) -> pl.Expr:
        return pl.concat_str(parts, separator="; ", ignore_nulls=True) if parts else pl.lit(None, pl.String)

    missing = listing([pl.when(pl.col(n).is_null()).then(pl.lit(n)) for n in names])
    missed: dict[str, list[pl.Expr]] = {"zh": [], "en": []}
    for leaf in _leaves(policy.eligibility):
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
    near = pl.col("_decision") == str(DecisionStatus.NEAR_MISS)
    unknown = pl.col("_decision") == str(DecisionStatus.NEEDS_DATA)
    evidence = rows.select(
        pl.struct(names).struct.json_encode().alias("facts"),
        pl.when(unknown).then(missing).alias("unknown_facts"),
        pl.when(near).then(listing(missed["zh"])).alias("failing_zh"),
        pl.when(near).then(listing(missed["en"])).alias("failing"),
    )
    return pl.concat([mine, evidence], how="horizontal")


def decide(
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    *,
    prior: pl.DataFrame | None = None,
    near_miss_margin: float = 0.1,
) -> Decided:
    """Decisions for ``profiles`` as of ``as_of``.

    ``prior`` holds benefits other runs granted (uscc, policy_id, period_key, amount_fen):
    they are not due again, block conflicting benefits, satisfy ``requires`` and use budget.
    """
    if not policies:  # nothing in force: no decision, but the frame keeps its columns for the writers
        counts = dict.fromkeys(map(str, DECIDED), 0) | {"enterprises": profiles.height, "amount_error": 0}
        return Decided(pl.DataFrame(schema=_SCHEMA), counts, {})  # nothing in force: nothing to judge either
    by_id = {p.id: p for p in policies}
    keys = {p.id: period_key(p.policy.benefit.period, as_of) for p in policies}
    key_frame = pl.DataFrame({"policy_id": list(keys), "period_key": list(keys.values())})
    prior = (
        prior
        if prior is not None
        else pl.DataFrame(
            schema={"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "amount_fen": pl.Int64}
        )
    ).join(key_frame, on=["policy_id", "period_key"], how="semi")
    counts: dict[str, int] = {}

    cand = _candidates(profiles, policies, as_of, near_miss_margin).with_columns(
        period_key=pl.col("policy_id").replace_strict(keys, return_dtype=pl.String)
    )
    standing = _standing(prior, cand)
    errors = cand.filter(pl.col("amount_error"))
    amount_errors = _amount_errors(errors)
    counts["amount_error"] = errors.height
    cand = cand.filter(~pl.col("amount_error")).drop("amount_error", "amount_yuan")
    due = cand.join(prior, on=["uscc", "policy_id"], how="anti") if prior.height else cand
    counts["already_granted"] = cand.height - due.height
    # Eligible with an unknown amount cannot be paid: the missing fact is asked for instead.
    due = due.with_columns(
        eligible=pl.when(pl.col("eligible") & pl.col("amount_full_fen").is_null())
        .then(None)
        .otherwise(pl.col("eligible"))
    )
    is_eligible = pl.col("eligible").fill_null(False)

    # supersedes: while the newer policy is eligible, the one it replaces is not paid
    for p in policies:
        for old in p.policy.relations.supersedes:
            newer = due.filter((pl.col("policy_id") == p.id) & is_eligible).select("uscc")
            before = due.height
            due = due.filter(~((pl.col("policy_id") == old) & pl.col("uscc").is_in(newer["uscc"].implode())))
            counts["superseded"] = counts.get("superseded", 0) + before - due.height

    pairs = {(a, b) for a, b in conflict_pairs(policies) if a in by_id and b in by_id}
    losers = _resolve_conflicts(due.filter(is_eligible), prior, pairs)
    due = due.join(losers, on=["uscc", "policy_id"], how="anti")
    counts["excluded"] = losers.height
    if pairs:  # no point asking for data, or raising a near miss, for a benefit excluded by one already kept
        kept = pl.concat([due.filter(is_eligible).select("uscc", "policy_id"), prior.select("uscc", "policy_id")])
        conflicts = pl.DataFrame(list(pairs), schema={"policy_id": pl.String, "other": pl.String}, orient="row")
        blocked = (
            due.filter(~is_eligible)
            .join(conflicts, on="policy_id")
            .join(kept.rename({"policy_id": "other"}), on=["uscc", "other"], how="semi")
            .select("uscc", "policy_id")
            .unique()
        )
        due = due.join(blocked, on=["uscc", "policy_id"], how="anti")
        counts["excluded"] += blocked.height

    # requires: met only when the required policy is eligible (after the graph) or already granted
    for p in policies:
        for needed in p.policy.relations.requires:
            have = pl.concat(
                [
                    due.filter((pl.col("policy_id") == needed) & is_eligible).select("uscc"),
                    prior.filter(pl.col("policy_id") == needed).select("uscc"),
                ]
            )
            maybe = due.filter((pl.col("policy_id") == needed) & pl.col("eligible").is_null()).select("uscc")
            mine = pl.col("policy_id") == p.id
            has, unsure = pl.col("uscc").is_in(have["uscc"].implode()), pl.col("uscc").is_in(maybe["uscc"].implode())
            before = due.height
            due = due.with_columns(
                eligible=pl.when(mine & is_eligible & ~has & unsure).then(None).otherwise(pl.col("eligible"))
            ).filter(~(mine & is_eligible & ~has & ~unsure))
            counts["unmet_requirement"] = counts.get("unmet_requirement", 0) + before - due.height

    policy_id = pl.col("policy_id")
    decided = due.with_columns(
        policy_version=policy_id.replace_strict({p.id: p.version for p in policies}, return_dtype=pl.Int32),
        status=pl.when(pl.col("eligible"))
        .then(policy_id.replace_strict({p.id: str(DELIVERY_BY_MODE[p.policy.delivery]) for p in policies}))
        .when(pl.col("eligible").is_null())
        .then(pl.lit(str(DecisionStatus.NEEDS_DATA)))
        .otherwise(pl.lit(str(DecisionStatus.NEAR_MISS))),
    )

    budgets: dict[str, dict] = {}
    scale: dict[str, float] = {}
    for p in policies:
        if p.policy.budget is None:
            continue
        budget = round(p.policy.budget * 100)
        spent = int(prior.filter(pl.col("policy_id") == p.id)["amount_fen"].sum() or 0)
        demanded = int(
            decided.filter((pl.col("policy_id") == p.id) & pl.col("status").is_in(_PAYABLE))["amount_full_fen"].sum()
            or 0
        )
        remaining = max(budget - spent, 0)
        factor = 1.0 if demanded <= remaining else remaining / demanded
        scale[p.id] = factor
        budgets[p.id] = {
            "budget_fen": budget,
            "spent_before_fen": spent,
            "demanded_fen": demanded,
            "remaining_fen": remaining,
            "scale": factor,
        }
    factor = pl.col("policy_id").replace_strict(scale, default=1.0, return_dtype=pl.Float64)
    decided = decided.with_columns(
        amount_fen=pl.when(pl.col("status").is_in(_PAYABLE) & (factor < 1.0))
        .then((pl.col("amount_full_fen").cast(pl.Float64) * factor).floor().cast(pl.Int64))
        .otherwise(pl.col("amount_full_fen"))
    )

    parts = [_evidence(decided, profiles, p, as_of) for p in sorted(policies, key=lambda p: p.id)]
    decisions = pl.concat(parts).select(*_SCHEMA)
    for status in DECIDED:
        counts[str(status)] = int((decisions["status"] == status).sum())
    counts["enterprises"] = profiles.height
    return Decided(decisions, counts, budgets, amount_errors, standing)
